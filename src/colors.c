/*
 * colors.c - exact main-colour counting and palette images.
 *
 * Counting every distinct RGB exactly, fast, for any image: a 2^24-entry
 * table is quick for flat images but thrashes the cache on noisy ones, and
 * hash tables degrade with many colours.  Instead (REFERENCE.md section 1):
 *   1. histogram the red byte of the counted pixels (per thread, by rows);
 *   2. scatter each pixel's 16-bit (G,B) into 256 red buckets, each thread
 *      writing its own precomputed slice, so the order is deterministic;
 *   3. count each bucket with a 65,536-entry table that stays in L2, and
 *      read the counts back from a list of first sightings, which also
 *      resets the table without a memset.
 * Steps 1 and 2 work on runs of identical consecutive pixels rather than
 * on pixels: stickers, renders and documents are mostly flat colour, so
 * this cuts the scattered data several times over, while a noisy photo
 * costs two more bytes per pixel.  On AVX2 machines rows are cut into
 * runs eight pixels at a time.  An image whose rows, sampled first, hold
 * almost one run per pixel (a photo) is counted pixel by pixel instead,
 * with 16-bit (G,B) entries.
 * With the 8-pixel keys, an RGB(A) image of up to ONEPASS_MAX pixels is
 * read once: steps 1 and 2 become one scatter into blocks per red taken
 * as they fill.  Otherwise the passes are as listed: step 1 keeps the runs
 * it finds, up to KEEP_MAX, so step 2 reads them instead of the image,
 * and scratch memory is capped (SCRATCH_MAX entries): an image with more
 * counted pixels is processed in groups of red values, one extra read of
 * the image per group, so memory does not grow with the image.  A single
 * red value with more runs than the cap is counted straight into
 * per-thread tables.
 * Results are identical for any thread count: counts are exact and the
 * order (count descending, 0xRRGGBB ascending) is total.
 *
 * The counting rule, which every walk below follows (it is coded once, in
 * pixel_key and the run rule of row_runs):
 *   - a pixel counts unless the mask is 0 there or its alpha is below
 *     min_alpha (images with 2 or 4 channels);
 *   - a run is a maximal stretch of consecutive pixels of one key,
 *     continuing from each row into the next within a row chunk; pixels
 *     that do not count have the key RUN_NONE, so they end runs, and their
 *     own stretches are no runs.
 */
#include "internal.h"

#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LIST_LEN 65537 /* distinct (G,B) of a red, and one write past them */
#define SCRATCH_MAX ((size_t)1 << 22) /* 16 MiB of bucketed runs */
#define KEEP_MAX ((int64_t)1 << 21)    /* 16 MiB of runs kept from pass 1 */

/* ---- Top-N selection ------------------------------------------------------ */

/* a ranks before b: more pixels, then the smaller packed colour. */
static inline bool before(const pj_color_count *a, const pj_color_count *b) {
  return a->count > b->count || (a->count == b->count && a->rgb < b->rgb);
}

static int cmp_rank(const void *pa, const void *pb) {
  const pj_color_count *a = pa, *b = pb;
  return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

/* Bounded heap keeping the best `cap` entries; its root is the worst kept.
 * `distinct` counts every colour offered (callers add to it). */
typedef struct topn {
  pj_color_count *e;
  int32_t n, cap;
  int64_t distinct;
} topn;

static void sift_down(topn *h, int32_t i) {
  for (;;) {
    int32_t l = 2 * i + 1, r = l + 1, w = i;
    if (l < h->n && before(&h->e[w], &h->e[l])) w = l;
    if (r < h->n && before(&h->e[w], &h->e[r])) w = r;
    if (w == i) return;
    pj_color_count t = h->e[i];
    h->e[i] = h->e[w];
    h->e[w] = t;
    i = w;
  }
}

static inline void topn_offer(topn *h, int64_t count, uint32_t rgb) {
  pj_color_count c = {.count = count, .rgb = rgb};
  if (h->n < h->cap) {
    int32_t i = h->n++;
    h->e[i] = c;
    while (i > 0) { /* sift up: worse entries rise to the root */
      int32_t p = (i - 1) / 2;
      if (!before(&h->e[p], &h->e[i])) break;
      pj_color_count t = h->e[p];
      h->e[p] = h->e[i];
      h->e[i] = t;
      i = p;
    }
  } else if (h->cap > 0 && before(&c, &h->e[0])) {
    h->e[0] = c;
    sift_down(h, 0);
  }
}

/* A quantised key and where its entry sits in the output. */
typedef struct key_pos {
  uint32_t key;
  int32_t pos;
} key_pos;

static int cmp_key(const void *pa, const void *pb) {
  const key_pos *a = pa, *b = pb;
  return a->key < b->key ? -1 : a->key > b->key;
}

/* ---- Pixel access and runs ---------------------------------------------- */

typedef struct job {
  const pj_image *img;
  const pj_image *mask;
  int min_alpha;     /* 0 counts every pixel */
  uint8_t q;         /* per-channel quantisation mask, e.g. 0xF0 for 4 bits */
  int nchunks;       /* row chunks, fixed independently of threads granted */
  bool fast;         /* rows go through simd_row_runs */
  uint32_t own_lo, own_n; /* row_entries_c keeps reds own_lo .. own_lo + own_n - 1 */
} job;

#define RUN_NONE UINT32_MAX /* the key of a pixel that does not count */

/* Key (r << 16 | g << 8 | b, quantised; gray as r = g = b) of pixel x of
 * row p, or RUN_NONE when the mask or the alpha threshold leaves it out.
 * The one definition of which pixels count, for every path; always
 * inlined so each caller's constant channel count folds in. */
static inline __attribute__((always_inline)) uint32_t
pixel_key(const job *j, const uint8_t *p, const uint8_t *mrow, int32_t x, const int C) {
  const uint8_t *q = p + (size_t)x * C;
  if (mrow && !mrow[x]) return RUN_NONE;
  if ((C == 2 || C == 4) && q[C - 1] < j->min_alpha) return RUN_NONE;
  if (C < 3) return (uint32_t)(q[0] & j->q) * 0x010101u;
  return (uint32_t)(q[0] & j->q) << 16 | (uint32_t)(q[1] & j->q) << 8 | (q[2] & j->q);
}

static inline int32_t chunk_y0(const job *j, int k) {
  return (int32_t)((int64_t)j->img->height * k / j->nchunks);
}

/* A run of `len` consecutive counted pixels with one colour, in its red
 * bucket (the red is implied by the bucket). */
typedef struct run16 {
  uint16_t gb, len;
} run16;

/* A run as found along rows: its colour key (r << 16 | g << 8 | b,
 * quantised) and length; between rows, the run still open. */
typedef struct run32 {
  uint32_t key, len;
} run32;

/* A thread's row memory: a row's runs when they are not kept, and
 * simd_row_runs's run starts (width + 8 entries each, for 8-lane stores);
 * counting pixel by pixel, keys holds a row's entries (row_bins). */
typedef struct rowmem {
  run32 *runs;
  uint32_t *keys, *starts;
} rowmem;

/* The runs of row y by the counting rule, one pixel at a time: appends to
 * out the runs that end in the row, continuing *open and leaving the row's
 * last run in it; returns how many (at most width + 1).  A run about to
 * outgrow uint32 is cut, keeping one pixel open. */
static inline __attribute__((always_inline)) int
row_runs_generic_c(const job *j, int32_t y, run32 *open, run32 *out, const int C) {
  const uint8_t *p = j->img->data + (size_t)y * j->img->stride;
  const uint8_t *mrow = j->mask ? j->mask->data + (size_t)y * j->mask->stride : NULL;
  const int32_t w = j->img->width;
  int n = 0;
  uint32_t key = open->key, len = open->len;
  if (key != RUN_NONE && len > UINT32_MAX - (uint32_t)w) {
    out[n++] = (run32){key, len - 1};
    len = 1;
  }
  for (int32_t x = 0; x < w; x++) {
    const uint32_t k = pixel_key(j, p, mrow, x, C);
    if (k == key) {
      len++;
      continue;
    }
    if (key != RUN_NONE) out[n++] = (run32){key, len};
    key = k, len = 1;
  }
  open->key = key;
  open->len = key == RUN_NONE ? 0 : len;
  return n;
}

static int row_runs_generic(const job *j, int32_t y, run32 *open, run32 *out) {
  switch (j->img->channels) {
  case 1: return row_runs_generic_c(j, y, open, out, 1);
  case 2: return row_runs_generic_c(j, y, open, out, 2);
  case 3: return row_runs_generic_c(j, y, open, out, 3);
  default: return row_runs_generic_c(j, y, open, out, 4);
  }
}

/* Pixel by pixel (the dense path), a pixel is an entry bin << 16 | gb:
 * bin its red when it counts and the red is in the group [lo, lo + n),
 * else OUT; each x in its lane x % LANES, with its own histogram and
 * write positions, so that neighbours sharing a red (common in photos)
 * do not wait on one counter. */
#define LANES 2
#define OUT 256u
#define BINS 257

/* The entries of row y into buf (width entries). */
static inline __attribute__((always_inline)) void
row_bins_generic_c(const job *j, int32_t y, unsigned lo, unsigned n, uint32_t *buf, const int C) {
  const uint8_t *p = j->img->data + (size_t)y * j->img->stride;
  const uint8_t *mrow = j->mask ? j->mask->data + (size_t)y * j->mask->stride : NULL;
  for (int32_t x = 0; x < j->img->width; x++) {
    const uint32_t k = pixel_key(j, p, mrow, x, C);
    buf[x] = (k >> 16) - lo < n ? k : OUT << 16;
  }
}

static void row_bins_generic(const job *j, int32_t y, unsigned lo, unsigned n, uint32_t *buf) {
  switch (j->img->channels) {
  case 1: row_bins_generic_c(j, y, lo, n, buf, 1); break;
  case 2: row_bins_generic_c(j, y, lo, n, buf, 2); break;
  case 3: row_bins_generic_c(j, y, lo, n, buf, 3); break;
  default: row_bins_generic_c(j, y, lo, n, buf, 4); break;
  }
}

#ifdef PJ_X86_SIMD
#include <immintrin.h>

/* For each 8-bit mask, the lanes of its set bits in ascending order, one
 * per nibble: permutevar8x32 indices that pack those lanes to the front. */
static uint32_t pack_lanes[256];
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;

static void pack_lanes_init(void) {
  for (unsigned m = 0; m < 256; m++) {
    uint32_t v = 0;
    for (unsigned lane = 0, i = 0; lane < 8; lane++)
      if (m >> lane & 1) v |= lane << (4 * i++);
    pack_lanes[m] = v;
  }
}

/* Keys of pixels x .. x + 7, as pixel_key gives them.  No load reaches
 * past pixel x + 7. */
__attribute__((target("avx2"), always_inline)) static inline __m256i
keys8(const uint8_t *p, const uint8_t *mrow, int32_t x, const int C, __m256i qv, __m256i amin) {
  const __m256i none = _mm256_set1_epi32(-1);
  __m256i k, vis;
  if (C == 4) {
    /* Bytes r, g, b, a to b, g, r, 0. */
    const __m256i order = _mm256_setr_epi8(2, 1, 0, -1, 6, 5, 4, -1, 10, 9, 8, -1, 14, 13, 12, -1,
                                           2, 1, 0, -1, 6, 5, 4, -1, 10, 9, 8, -1, 14, 13, 12, -1);
    __m256i v = _mm256_loadu_si256((const __m256i *)(p + 4 * (size_t)x));
    vis = _mm256_cmpgt_epi32(_mm256_srli_epi32(v, 24), amin);
    k = _mm256_shuffle_epi8(v, order);
  } else if (C == 3) {
    /* 24 bytes: pixels 0-3 stay in the low half, 4-7 move to the high
     * half (dwords 3-5, from byte 12), then each to b, g, r, 0. */
    const __m256i order = _mm256_setr_epi8(2, 1, 0, -1, 5, 4, 3, -1, 8, 7, 6, -1, 11, 10, 9, -1,
                                           2, 1, 0, -1, 5, 4, 3, -1, 8, 7, 6, -1, 11, 10, 9, -1);
    const uint8_t *q = p + 3 * (size_t)x;
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)q)),
                                        _mm_loadl_epi64((const __m128i *)(q + 16)), 1);
    /* v: bytes 0-15 | 16-23 in the high half; dwords wanted high: 3, 4, 5. */
    v = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6));
    k = _mm256_shuffle_epi8(v, order);
    vis = none;
  } else if (C == 2) {
    /* Each dword gray | alpha << 8, to gray, gray, gray, 0. */
    const __m256i order = _mm256_setr_epi8(0, 0, 0, -1, 4, 4, 4, -1, 8, 8, 8, -1, 12, 12, 12, -1,
                                           0, 0, 0, -1, 4, 4, 4, -1, 8, 8, 8, -1, 12, 12, 12, -1);
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 2 * (size_t)x)));
    vis = _mm256_cmpgt_epi32(_mm256_srli_epi32(v, 8), amin);
    k = _mm256_shuffle_epi8(v, order);
  } else {
    const __m256i order = _mm256_setr_epi8(0, 0, 0, -1, 4, 4, 4, -1, 8, 8, 8, -1, 12, 12, 12, -1,
                                           0, 0, 0, -1, 4, 4, 4, -1, 8, 8, 8, -1, 12, 12, 12, -1);
    k = _mm256_shuffle_epi8(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + x))), order);
    vis = none;
  }
  if (mrow) {
    __m256i m = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(mrow + x)));
    vis = _mm256_andnot_si256(_mm256_cmpeq_epi32(m, _mm256_setzero_si256()), vis);
  }
  return _mm256_blendv_epi8(none, _mm256_and_si256(k, qv), vis);
}

/* row_runs_generic on AVX2 machines, eight pixels at a time.  A pixel
 * starts a run when its key differs from its left neighbour's.  The starts
 * of each group of eight are packed (key and position) into rm's arrays
 * without a branch per start, since on photos their number is random;
 * flat areas cost one compare per eight pixels.  A second loop turns
 * starts into runs.  Lengths are differences of uint32 positions: modulo
 * 2^32 they are exact, as no run gets that long (see the first test). */
__attribute__((target("avx2,popcnt"), always_inline)) static inline int
row_runs_c(const job *j, int32_t y, run32 *open, run32 *out, const rowmem *rm, const int C) {
  const uint8_t *p = j->img->data + (size_t)y * j->img->stride;
  const uint8_t *mrow = j->mask ? j->mask->data + (size_t)y * j->mask->stride : NULL;
  const int32_t w = j->img->width;
  uint32_t *ks = rm->keys, *ps = rm->starts;
  int n = 0;
  uint32_t key = open->key, len = open->len;
  if (key != RUN_NONE && len > UINT32_MAX - (uint32_t)w) {
    /* Keep one pixel open, so no run below comes out empty. */
    out[n++] = (run32){key, len - 1};
    len = 1;
  }
  const __m256i qv = _mm256_set1_epi32((int)((uint32_t)j->q * 0x010101u));
  const __m256i amin = _mm256_set1_epi32(j->min_alpha - 1);
  const __m256i rot = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i nib = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28), low4 = _mm256_set1_epi32(15);
  __m256i last = _mm256_set1_epi32((int)key); /* its lane 7: the pixel before */
  int cnt = 0;
  int32_t x = 0;
  /* Flat stretches are skipped on the raw bytes: when every pixel of the
   * group is the one before it, no run starts there, and its keys are
   * those of `last` already.  (RGBA without a mask: the sticker case.) */
  const bool flat_check = C == 4 && !mrow;
  uint32_t before = 0;
  if (flat_check && w > 0) memcpy(&before, p, 4);
  bool have_before = false;
  for (; x + 8 <= w; x += 8) {
    if (flat_check && have_before) {
      const __m256i raw = _mm256_loadu_si256((const __m256i *)(p + 4 * (size_t)x));
      const __m256i same = _mm256_cmpeq_epi32(raw, _mm256_set1_epi32((int)before));
      if (_mm256_movemask_epi8(same) == -1) continue;
    }
    __m256i k = keys8(p, mrow, x, C, qv, amin);
    if (flat_check) {
      memcpy(&before, p + 4 * (size_t)(x + 7), 4);
      have_before = true;
    }
    __m256i left = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(k, rot),
                                      _mm256_permutevar8x32_epi32(last, rot), 1);
    unsigned m = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(k, left))) & 0xFFu;
    last = k;
    if (!m) continue;
    __m256i idx = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)pack_lanes[m]), nib), low4);
    _mm256_storeu_si256((__m256i *)(ks + cnt), _mm256_permutevar8x32_epi32(k, idx));
    _mm256_storeu_si256((__m256i *)(ps + cnt),
                        _mm256_permutevar8x32_epi32(_mm256_add_epi32(_mm256_set1_epi32(x), iota), idx));
    cnt += __builtin_popcount(m);
  }
  uint32_t prev = (uint32_t)_mm256_extract_epi32(last, 7);
  for (; x < w; x++) {
    const uint32_t k = pixel_key(j, p, mrow, x, C);
    if (k == prev) continue;
    ks[cnt] = k, ps[cnt++] = (uint32_t)x;
    prev = k;
  }
  if (!cnt) { /* the open run spans the row */
    open->len = key == RUN_NONE ? 0 : len + (uint32_t)w;
    return n;
  }
  if (key != RUN_NONE) out[n++] = (run32){key, len + ps[0]};
  /* Written whether or not it counts; n only moves past counted runs. */
  for (int i = 0; i + 1 < cnt; i++) {
    out[n] = (run32){ks[i], ps[i + 1] - ps[i]};
    n += ks[i] != RUN_NONE;
  }
  open->key = ks[cnt - 1];
  open->len = ks[cnt - 1] == RUN_NONE ? 0 : (uint32_t)w - ps[cnt - 1];
  return n;
}

__attribute__((target("avx2,popcnt"))) static int simd_row_runs(const job *j, int32_t y,
                                                                run32 *open, run32 *out,
                                                                const rowmem *rm) {
  switch (j->img->channels) {
  case 1: return row_runs_c(j, y, open, out, rm, 1);
  case 2: return row_runs_c(j, y, open, out, rm, 2);
  case 3: return row_runs_c(j, y, open, out, rm, 3);
  default: return row_runs_c(j, y, open, out, rm, 4);
  }
}

/* row_bins_generic eight pixels at a time (buf holds width + 8). */
__attribute__((target("avx2"), always_inline)) static inline void
row_bins_c(const job *j, int32_t y, unsigned lo, unsigned n, uint32_t *buf, const int C) {
  const uint8_t *p = j->img->data + (size_t)y * j->img->stride;
  const uint8_t *mrow = j->mask ? j->mask->data + (size_t)y * j->mask->stride : NULL;
  const int32_t w = j->img->width;
  const __m256i qv = _mm256_set1_epi32((int)((uint32_t)j->q * 0x010101u));
  const __m256i amin = _mm256_set1_epi32(j->min_alpha - 1);
  const __m256i lov = _mm256_set1_epi32((int)lo), last = _mm256_set1_epi32((int)n - 1);
  const __m256i out = _mm256_set1_epi32((int)(OUT << 16));
  int32_t x = 0;
  for (; x + 8 <= w; x += 8) {
    const __m256i k = keys8(p, mrow, x, C, qv, amin);
    const __m256i d = _mm256_sub_epi32(_mm256_srli_epi32(k, 16), lov);
    const __m256i in = _mm256_cmpeq_epi32(_mm256_min_epu32(d, last), d);
    _mm256_storeu_si256((__m256i *)(buf + x), _mm256_blendv_epi8(out, k, in));
  }
  for (; x < w; x++) {
    const uint32_t k = pixel_key(j, p, mrow, x, C);
    buf[x] = (k >> 16) - lo < n ? k : OUT << 16;
  }
}

__attribute__((target("avx2"))) static void simd_row_bins(const job *j, int32_t y, unsigned lo,
                                                          unsigned n, uint32_t *buf) {
  switch (j->img->channels) {
  case 1: row_bins_c(j, y, lo, n, buf, 1); break;
  case 2: row_bins_c(j, y, lo, n, buf, 2); break;
  case 3: row_bins_c(j, y, lo, n, buf, 3); break;
  default: row_bins_c(j, y, lo, n, buf, 4); break;
  }
}

/* The keys of row y's counted pixels whose reds the job keeps, in order,
 * into buf (width + 8 entries); returns how many.  Eight keys at a time,
 * packed to the front as row_runs_c packs run starts, so the pixels that
 * do not count cost no write in the scatter that follows. */
__attribute__((target("avx2,popcnt"), always_inline)) static inline int32_t
row_entries_c(const job *j, int32_t y, uint32_t *buf, const int C) {
  const uint8_t *p = j->img->data + (size_t)y * j->img->stride;
  const uint8_t *mrow = j->mask ? j->mask->data + (size_t)y * j->mask->stride : NULL;
  const int32_t w = j->img->width;
  const __m256i qv = _mm256_set1_epi32((int)((uint32_t)j->q * 0x010101u));
  const __m256i amin = _mm256_set1_epi32(j->min_alpha - 1);
  const __m256i none = _mm256_set1_epi32(-1);
  const __m256i nib = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28), low4 = _mm256_set1_epi32(15);
  int32_t n = 0, x = 0;
  const __m256i olo = _mm256_set1_epi32((int)j->own_lo);
  const __m256i olast = _mm256_set1_epi32((int)j->own_n - 1);
  for (; x + 8 <= w; x += 8) {
    const __m256i k = keys8(p, mrow, x, C, qv, amin);
    const __m256i d = _mm256_sub_epi32(_mm256_srli_epi32(k, 16), olo);
    const __m256i own = _mm256_cmpeq_epi32(_mm256_min_epu32(d, olast), d);
    const unsigned m =
        ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(k, none))) &
        (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(own));
    const __m256i idx =
        _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)pack_lanes[m]), nib), low4);
    _mm256_storeu_si256((__m256i *)(buf + n), _mm256_permutevar8x32_epi32(k, idx));
    n += __builtin_popcount(m);
  }
  for (; x < w; x++) {
    const uint32_t k = pixel_key(j, p, mrow, x, C);
    buf[n] = k;
    n += k != RUN_NONE && (k >> 16) - j->own_lo < j->own_n;
  }
  return n;
}

__attribute__((target("avx2,popcnt"))) static int32_t simd_row_entries(const job *j, int32_t y,
                                                                      uint32_t *buf) {
  switch (j->img->channels) {
  case 1: return row_entries_c(j, y, buf, 1);
  case 2: return row_entries_c(j, y, buf, 2);
  case 3: return row_entries_c(j, y, buf, 3);
  default: return row_entries_c(j, y, buf, 4);
  }
}

/* Whether rows go through simd_row_runs; its lane table is ready when
 * they do. */
static bool simd_fast(void) {
  if (!pj_cpu_avx2()) return false;
  pthread_once(&pack_once, pack_lanes_init);
  return true;
}
#else
static bool simd_fast(void) { return false; }
static int simd_row_runs(const job *j, int32_t y, run32 *open, run32 *out,
                         const rowmem *rm) {
  (void)j, (void)y, (void)open, (void)out, (void)rm;
  return 0;
}
static void simd_row_bins(const job *j, int32_t y, unsigned lo, unsigned n, uint32_t *buf) {
  (void)j, (void)y, (void)lo, (void)n, (void)buf;
}
static int32_t simd_row_entries(const job *j, int32_t y, uint32_t *buf) {
  (void)j, (void)y, (void)buf;
  return 0;
}
#endif

static inline void row_bins(const job *j, int32_t y, unsigned lo, unsigned n, uint32_t *buf) {
  if (j->fast)
    simd_row_bins(j, y, lo, n, buf);
  else
    row_bins_generic(j, y, lo, n, buf);
}

static inline int row_runs(const job *j, int32_t y, run32 *open, run32 *out,
                           const rowmem *rm) {
  return j->fast ? simd_row_runs(j, y, open, out, rm) : row_runs_generic(j, y, open, out);
}

/* Walks the runs of row chunk k: each call of chunk_next puts the runs of
 * the next row (or, at the end, the chunk's last open run) into out,
 * which holds width + 1 entries, and returns how many; -1 when done.
 * Every pass reads runs through it, so they all segment alike. */
typedef struct chunk_iter {
  const job *j;
  int32_t y, y1;
  run32 open;
  int64_t first;   /* index in the chunk of the first run just returned */
  int64_t next;
} chunk_iter;

static inline void chunk_start(chunk_iter *it, const job *j, int k) {
  *it = (chunk_iter){j, chunk_y0(j, k), chunk_y0(j, k + 1), {RUN_NONE, 0}, 0, 0};
}

static inline int chunk_next(chunk_iter *it, const rowmem *rm, run32 *out) {
  int n;
  if (it->y < it->y1) {
    n = row_runs(it->j, it->y++, &it->open, out, rm);
  } else if (it->open.key != RUN_NONE && it->open.len) {
    out[0] = it->open;
    it->open = (run32){RUN_NONE, 0};
    n = 1;
  } else {
    return -1;
  }
  it->first = it->next;
  it->next += n;
  return n;
}

/* Bucket entries (run16) a run takes: lengths stop at 65535. */
static inline int64_t pieces(uint32_t len) {
  return len <= 65535 ? 1 : len / 65535 + (len % 65535 != 0);
}

/* The runs of a chunk are split by the parity of their index in it, each
 * half with its own histogram and slices: consecutive runs often share a
 * red value, and alternating between two counters (and in pass 2 two
 * write positions) lets those updates overlap instead of waiting on each
 * other.  Both passes number runs the same way. */
static inline void count_runs(const run32 *r, int n, int64_t g, int64_t *hk, int64_t *px) {
  int64_t *ha = hk + 256 * (g & 1), *hb = hk + 256 * (~g & 1), pixels = 0;
  int i = 0;
  for (; i + 1 < n; i += 2) {
    ha[r[i].key >> 16] += pieces(r[i].len);
    hb[r[i + 1].key >> 16] += pieces(r[i + 1].len);
    pixels += (int64_t)r[i].len + r[i + 1].len;
  }
  if (i < n) ha[r[i].key >> 16] += pieces(r[i].len), pixels += r[i].len;
  *px += pixels;
}

/* Pass 1 for row chunk k: counts its runs per parity and red value into
 * hk[2][256] (in bucket entries) and its pixels into *px.  The runs are
 * also kept in store, which holds cap entries, when they fit: then pass 2
 * reads them instead of the image.  Returns how many were kept, or -1
 * when they did not fit (rowbuf, width + 1 entries, took the rows). */
static int64_t chunk_pass1(const job *j, int k, run32 *store, int64_t cap, const rowmem *rm,
                           int64_t *hk, int64_t *px) {
  const int64_t w1 = (int64_t)j->img->width + 1;
  int64_t kept = 0;
  chunk_iter it;
  chunk_start(&it, j, k);
  *px = 0;
  for (;;) {
    run32 *dst = kept >= 0 && kept + w1 <= cap ? store + kept : rm->runs;
    if (dst == rm->runs) kept = -1;
    int n = chunk_next(&it, rm, dst);
    if (n < 0) break;
    count_runs(dst, n, it.first, hk, px);
    if (kept >= 0) kept += n;
  }
  return kept;
}

/* Writes run r to its red's slice if that red is in [lo, hi). */
static inline void put_run(run32 r, unsigned lo, unsigned hi, size_t *pos, run16 *scratch) {
  const unsigned red = r.key >> 16;
  if (red < lo || red >= hi) return;
  size_t p = pos[red];
  for (; r.len > 65535; r.len -= 65535) scratch[p++] = (run16){(uint16_t)r.key, 65535};
  /* Built in a register and copied whole: one 32-bit store, where a
   * compound literal assignment is stored as two 16-bit halves. */
  const run16 e = {(uint16_t)r.key, (uint16_t)r.len};
  memcpy(&scratch[p++], &e, sizeof e);
  pos[red] = p;
}

/* put_run for n runs numbered from g, with pos[2][256] by parity. */
static inline void put_runs(const run32 *r, int64_t n, int64_t g, unsigned lo, unsigned hi,
                            size_t *pos, run16 *scratch) {
  size_t *pa = pos + 256 * (g & 1), *pb = pos + 256 * (~g & 1);
  int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    put_run(r[i], lo, hi, pa, scratch);
    put_run(r[i + 1], lo, hi, pb, scratch);
  }
  if (i < n) put_run(r[i], lo, hi, pa, scratch);
}

/* Pass 2 for row chunk k: scatters its runs with a red in [lo, hi), from
 * the kept runs when pass 1 kept them, else walking the rows again. */
static void chunk_pass2(const job *j, int k, const run32 *store, int64_t kept,
                        const rowmem *rm, unsigned lo, unsigned hi, size_t *pos,
                        run16 *scratch) {
  if (kept >= 0) {
    put_runs(store, kept, 0, lo, hi, pos, scratch);
    return;
  }
  chunk_iter it;
  chunk_start(&it, j, k);
  for (int n; (n = chunk_next(&it, rm, rm->runs)) >= 0;)
    put_runs(rm->runs, n, it.first, lo, hi, pos, scratch);
}

/* The dense pass 1 for row chunk k: its pixels per lane and bin into
 * h[LANES][BINS]. */
static void chunk_hist(const job *j, int k, const rowmem *rm, int64_t *h) {
  const int32_t w = j->img->width;
  const uint32_t *b = rm->keys;
  for (int32_t y = chunk_y0(j, k), y1 = chunk_y0(j, k + 1); y < y1; y++) {
    row_bins(j, y, 0, 256, rm->keys);
    int32_t x = 0;
    for (; x + LANES <= w; x += LANES)
      for (int l = 0; l < LANES; l++) h[l * BINS + (b[x + l] >> 16)]++;
    for (; x < w; x++) h[(x % LANES) * BINS + (b[x] >> 16)]++;
  }
}

static inline void put_pixel(uint32_t e, size_t *pos, uint16_t *scratch) {
  const size_t p = pos[e >> 16];
  scratch[p] = (uint16_t)e;
  pos[e >> 16] = p + 1;
}

/* The dense pass 2 for row chunk k: writes the (G,B) of its pixels with a
 * red in [lo, hi) at pos[LANES][BINS].  The others go to the bin OUT,
 * whose positions restart at dump (lane l at dump + l * (width / LANES + 1))
 * every row, so the loop has no branch for them. */
static void chunk_scatter(const job *j, int k, const rowmem *rm, unsigned lo, unsigned hi,
                          size_t *pos, size_t dump, uint16_t *scratch) {
  const int32_t w = j->img->width;
  const uint32_t *b = rm->keys;
  for (int32_t y = chunk_y0(j, k), y1 = chunk_y0(j, k + 1); y < y1; y++) {
    row_bins(j, y, lo, hi - lo, rm->keys);
    for (int l = 0; l < LANES; l++) pos[l * BINS + OUT] = dump + (size_t)l * (size_t)(w / LANES + 1);
    int32_t x = 0;
    for (; x + LANES <= w; x += LANES)
      for (int l = 0; l < LANES; l++) put_pixel(b[x + l], pos + l * BINS, scratch);
    for (; x < w; x++) put_pixel(b[x], pos + (x % LANES) * BINS, scratch);
  }
}

/* Counting a bucket for red r: a tally adds its entries (runs, or single
 * (G,B) entries of a photo counted pixel by pixel) into a table of 65,536
 * counts and lists each (G,B) the first time its count leaves 0; report
 * then reads the listed counts back, reports each distinct colour once
 * and zeroes the table behind it, so it walks the distinct colours only,
 * not the bucket again.  With `narrow` (fewer than 65,536 entries) pixel
 * counts are 16-bit, which halves the table the random updates land in
 * (8-10% of a photo's count).  Neither walk has a data-dependent branch
 * in its common case: whether an entry is a colour's first sighting is as
 * random as the image, so it is summed rather than tested, and only
 * counts that can enter the heap (at least its worst entry's) take the
 * branch.  The lists hold LIST_LEN entries, after their tables
 * (run_list, pixel_list). */
static inline uint16_t *run_list(uint32_t *tab) { return (uint16_t *)(tab + 65536); }
static inline uint16_t *pixel_list(uint16_t *tab16) { return tab16 + 65536; }

/* The runs v[0 .. n) into tab, appending first sightings to list, which
 * holds nd; returns the new nd. */
static inline uint32_t tally_runs(const run16 *v, size_t n, uint32_t *tab, uint16_t *list,
                                  uint32_t nd) {
  for (size_t i = 0; i < n; i++) {
    const unsigned g = v[i].gb;
    const uint32_t old = tab[g];
    tab[g] = old + v[i].len;
    list[nd] = (uint16_t)g;
    nd += old == 0;
  }
  return nd;
}

/* The (G,B) entries u[0 .. n) into table, appending first sightings to
 * list, which holds nd; returns the new nd.  Called span by span for a
 * bucket that comes in blocks. */
static inline __attribute__((always_inline)) uint32_t
tally_pixels(const uint16_t *u, size_t n, void *table, uint16_t *list, uint32_t nd,
             const bool narrow) {
  uint32_t *tab = table;
  uint16_t *tab16 = table;
  for (size_t i = 0; i < n; i++) {
    const unsigned g = u[i];
    const uint32_t old = narrow ? tab16[g]++ : tab[g]++;
    list[nd] = (uint16_t)g;
    nd += old == 0;
  }
  return nd;
}

static inline int64_t heap_floor(const topn *h) {
  return !h->cap ? INT64_MAX : h->n < h->cap ? 1 : h->e[0].count;
}

/* The counts of the (G,B) list[0 .. n) of red r: each is listed once
 * (entries hold at least one pixel), so each is a distinct colour. */
static inline __attribute__((always_inline)) void
report(const uint16_t *list, size_t n, unsigned r, void *table, topn *h, const bool narrow) {
  uint32_t *tab = table;
  uint16_t *tab16 = table;
  int64_t floor = heap_floor(h);
  for (size_t i = 0; i < n; i++) {
    const unsigned g = list[i];
    const uint32_t c = narrow ? tab16[g] : tab[g];
    if (narrow)
      tab16[g] = 0;
    else
      tab[g] = 0;
    if (c < floor) continue;
    topn_offer(h, c, (r << 16) | g);
    floor = heap_floor(h);
  }
  h->distinct += (int64_t)n;
}

static void count_bucket(const run16 *v, size_t n, unsigned r, uint32_t *tab, topn *h) {
  uint16_t *list = run_list(tab);
  report(list, tally_runs(v, n, tab, list, 0), r, tab, h, false);
}

/* A bucket of single pixels: tab16 when its counts fit 16 bits; list as
 * tally_pixels's. */
static void count_pixels(const uint16_t *v, size_t n, unsigned r, uint32_t *tab, uint16_t *tab16,
                         uint16_t *list, topn *h) {
  if (n <= UINT16_MAX)
    report(list, tally_pixels(v, n, tab16, list, 0, true), r, tab16, h, true);
  else
    report(list, tally_pixels(v, n, tab, list, 0, false), r, tab, h, false);
}

/* count_bucket for gray images, whose keys are r = g = b: the bucket
 * holds one colour, so its count is the sum of its lengths.  Adding them
 * into one table entry would make each add wait on the one before. */
static void gray_bucket(const run16 *v, size_t n, unsigned r, topn *h) {
  int64_t c = 0;
  for (size_t i = 0; i < n; i++) c += v[i].len;
  if (!c) return;
  h->distinct++;
  topn_offer(h, c, r * 0x010101u);
}

/* ---- The count, pass by pass ---------------------------------------------- */

/* What one pj_main_colors call holds between its passes. */
typedef struct count {
  job j;
  int T, K;                 /* threads, row chunks */
  bool dense;               /* pixel by pixel, not in runs */
  int hs;                   /* hist entries per chunk */
  int64_t *hist;            /* entries [chunk][parity][red], dense [chunk][lane][bin] */
  int64_t total[256];       /* bucket entries per red value */
  int64_t sample[256];      /* counted pixels per red in choose_dense's rows */
  int64_t counted, nruns;
  int64_t keep_cap, *kept;  /* runs kept per chunk by pass 1 (-1: none) */
  run32 *store;
  uint8_t *rowbufs;
  rowmem *rms;              /* per thread */
  uint32_t **tabs;          /* per thread, 65,536 counts, then a list (run_list) */
  uint16_t **tabs16;        /* dense: per thread, 65,536 16-bit counts, then a list (pixel_list) */
  topn *heaps;              /* per thread */
  run16 *scratch;           /* runs */
  uint16_t *px_scratch;     /* dense: scratch_len entries, then each thread's dump */
  size_t scratch_len, dump_len;
  bool onepass;             /* scattered into blocks while the image is read */
  void *pool;               /* onepass: blk_cap blocks of BLK entries (run16, dense uint16) */
  uint8_t *blk_red;         /* onepass: per block: its red ... */
  uint16_t *blk_len;        /* ... and its entries */
  uint32_t *blk_order;      /* onepass: the blocks taken, by red */
  size_t blk_cap, blk_stride, blk_first[257];
  atomic_size_t blk_next;   /* onepass: blocks taken */
} count;

/* ---- Count tables kept between calls ------------------------------------- */

/* A count leaves its tables zeroed (report clears each entry it read, and
 * every entry it counted was listed), so the next call takes them as they
 * are instead of zeroing 400-650 KB a thread, which was most of a small
 * sticker's time.  Kind 0: 32-bit counts and a run list; kind 1: 16-bit
 * counts and a pixel list.  None are kept while pj_cache_limit is 0. */
#define TABLES_KEPT 64
static const size_t table_bytes[2] = {(65536 + (LIST_LEN + 1) / 2) * sizeof(uint32_t),
                                      (65536 + LIST_LEN) * sizeof(uint16_t)};
static struct {
  atomic_flag lock;
  int n[2];
  void *t[2][TABLES_KEPT];
} kept_tables = {.lock = ATOMIC_FLAG_INIT};

/* A zeroed table of the kind, or NULL when out of memory.  The caller
 * owns it and hands it to table_give (zeroed again) or to free. */
static void *table_take(int kind) {
  void *p = NULL;
  pj_spin_lock(&kept_tables.lock);
  if (kept_tables.n[kind]) p = kept_tables.t[kind][--kept_tables.n[kind]];
  pj_spin_unlock(&kept_tables.lock);
  return p ? p : calloc(table_bytes[kind], 1);
}

/* Keeps zeroed table p for a later call, or frees it. */
static void table_give(int kind, void *p) {
  if (!p) return;
  if (pj_cache_limit(-1) > 0) {
    pj_spin_lock(&kept_tables.lock);
    if (kept_tables.n[kind] < TABLES_KEPT) kept_tables.t[kind][kept_tables.n[kind]++] = p, p = NULL;
    pj_spin_unlock(&kept_tables.lock);
  }
  free(p);
}

void pj_colors_drop_tables(void) {
  void *drop[2 * TABLES_KEPT];
  int nd = 0;
  pj_spin_lock(&kept_tables.lock);
  for (int k = 0; k < 2; k++) {
    while (kept_tables.n[k]) drop[nd++] = kept_tables.t[k][--kept_tables.n[k]];
  }
  pj_spin_unlock(&kept_tables.lock);
  for (int i = 0; i < nd; i++) free(drop[i]);
}

static void count_free(count *c) {
  /* Tables are zero unless a count began and stopped short (none does:
   * the passes have no exit of their own).  Given back last thread first,
   * so that the next call hands each thread the table it used, still in
   * its core's cache. */
  if (c->tabs)
    for (int t = c->T - 1; t >= 0; t--) table_give(0, c->tabs[t]);
  if (c->tabs16)
    for (int t = c->T - 1; t >= 0; t--) table_give(1, c->tabs16[t]);
  if (c->heaps)
    for (int t = 0; t < c->T; t++) free(c->heaps[t].e);
  free(c->tabs), free(c->tabs16), free(c->heaps), free(c->hist), free(c->scratch), free(c->px_scratch);
  free(c->rowbufs), free(c->rms), free(c->store), free(c->kept);
  free(c->pool), free(c->blk_red), free(c->blk_len), free(c->blk_order);
}

/* Per-thread row buffers.  False when out of memory. */
static bool count_rows(count *c) {
  const int64_t w1 = (int64_t)c->j.img->width + 1;
  c->tabs = calloc((size_t)c->T, sizeof *c->tabs);
  c->heaps = calloc((size_t)c->T, sizeof *c->heaps);
  /* Per thread: w1 runs, then 2 (w1 + 7) run starts. */
  const size_t bytes = sizeof(run32) * (size_t)w1 + 2 * sizeof(uint32_t) * (size_t)(w1 + 7);
  c->rowbufs = malloc(bytes * (size_t)c->T);
  c->rms = malloc(sizeof *c->rms * (size_t)c->T);
  if (!c->tabs || !c->heaps || !c->rowbufs || !c->rms) return false;
  for (int t = 0; t < c->T; t++) {
    uint8_t *base = c->rowbufs + bytes * (size_t)t;
    c->rms[t].runs = (run32 *)base;
    c->rms[t].keys = (uint32_t *)(base + sizeof(run32) * (size_t)w1);
    c->rms[t].starts = c->rms[t].keys + w1 + 7;
  }
  return true;
}

static int colors_forced; /* pj_colors_force */
#define FORCE_OWNED 5

void pj_colors_force(int method) { colors_forced = method; }

/* Whether the forced method counts pixel by pixel (2, 4 and 5). */
static bool forced_dense(void) { return colors_forced == 2 || colors_forced >= 4; }

/* Whether to count pixel by pixel: when 16 rows spread over the image
 * average fewer than DENSE_RUN / 16 (1.69) pixels a run, keeping runs
 * costs more than it saves (measured on photos and on images of random
 * runs: the two break even at 1.65-1.8 pixels a run, at 1 and 2
 * threads).  Not without the 8-pixel keys: one pixel at a time, finding
 * the keys twice costs what storing the runs saves. */
#define DENSE_RUN 27
static bool choose_dense(count *c) {
  const job *j = &c->j;
  if (!j->fast) return forced_dense();
  const rowmem *rm = &c->rms[0];
  const int32_t h = j->img->height, S = h < 16 ? h : 16;
  int64_t runs = 0, pixels = 0;
  for (int32_t s = 0; s < S; s++) {
    run32 open = {RUN_NONE, 0};
    const int n = row_runs(j, (int32_t)((2 * (int64_t)s + 1) * h / (2 * S)), &open, rm->runs, rm);
    runs += n + (open.len != 0);
    if (open.len) c->sample[open.key >> 16 & 0xFF] += open.len;
    for (int i = 0; i < n; i++) c->sample[rm->runs[i].key >> 16 & 0xFF] += rm->runs[i].len;
  }
  for (int r = 0; r < 256; r++) pixels += c->sample[r];
  if (colors_forced) return forced_dense();
  return 16 * pixels < DENSE_RUN * runs;
}

/* Memory for pass 1: histograms and, for runs, the kept runs (each chunk
 * its share of KEEP_MAX; a chunk has at most one run per pixel plus one
 * per row).  False when out of memory. */
static bool count_init(count *c) {
  const pj_image *img = c->j.img;
  const int K = c->K;
  c->hs = c->dense ? LANES * BINS : 512;
  c->hist = calloc((size_t)K * (size_t)c->hs, sizeof *c->hist);
  const int64_t w1 = (int64_t)img->width + 1;
  c->keep_cap = ((int64_t)img->height / K + 1) * w1 + 1;
  if (c->keep_cap > KEEP_MAX / K) c->keep_cap = KEEP_MAX / K;
  if (c->keep_cap < w1 + 1 || c->dense) c->keep_cap = 0; /* too small to keep a row, or no runs */
  c->kept = malloc(sizeof *c->kept * (size_t)K);
  c->store = c->keep_cap ? malloc(sizeof *c->store * (size_t)(c->keep_cap * K)) : NULL;
  return c->hist && c->kept && (!c->keep_cap || c->store);
}

static run32 *kept_runs(const count *c, int k) {
  return c->store ? c->store + c->keep_cap * k : NULL;
}

/* Bucket entries of chunk k with red r. */
static int64_t hist_red(const count *c, int k, int r) {
  const int64_t *h = c->hist + (size_t)k * (size_t)c->hs;
  if (!c->dense) return h[r] + h[256 + r];
  int64_t n = 0;
  for (int l = 0; l < LANES; l++) n += h[l * BINS + r];
  return n;
}

/* 1. Runs (or pixels) per red value and row chunk; totals.  False when
 * out of memory. */
static bool pass_runs(count *c) {
  int64_t *pixels = calloc((size_t)c->K, sizeof *pixels);
  if (!pixels) return false;
  /* Four chunks a thread, taken as threads come free: the halves of an
   * image rarely hold the same number of runs. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
  for (int k = 0; k < c->K; k++) {
    const rowmem *rm = &c->rms[omp_get_thread_num()];
    int64_t *h = c->hist + (size_t)k * (size_t)c->hs;
    if (c->dense)
      chunk_hist(&c->j, k, rm, h);
    else
      c->kept[k] = chunk_pass1(&c->j, k, kept_runs(c, k), c->keep_cap, rm, h, &pixels[k]);
  }
  for (int k = 0; k < c->K; k++)
    for (int r = 0; r < 256; r++) c->total[r] += hist_red(c, k, r);
  for (int r = 0; r < 256; r++) c->nruns += c->total[r];
  if (c->dense) c->counted = c->nruns;
  for (int k = 0; k < c->K && !c->dense; k++) c->counted += pixels[k];
  free(pixels);
  return true;
}

/* Per-thread count tables and top-`cap` heaps, and the bucket scratch
 * (none for gray pixels: pass 1 counted them). */
static bool count_tables(count *c, int32_t cap) {
  const bool gray = c->j.img->channels < 3;
  for (int t = 0; t < c->T; t++) {
    c->tabs[t] = table_take(0);
    c->heaps[t].cap = cap;
    c->heaps[t].e = malloc(sizeof(pj_color_count) * (size_t)(cap ? cap : 1));
    if (!c->tabs[t] || !c->heaps[t].e) return false;
  }
  c->scratch_len = (size_t)c->nruns < SCRATCH_MAX ? (size_t)c->nruns : SCRATCH_MAX;
  if (!c->dense) {
    if (c->onepass) return true;
    c->scratch = malloc(sizeof *c->scratch * (c->scratch_len ? c->scratch_len : 1));
    return c->scratch != NULL;
  }
  if (gray) return true;
  c->tabs16 = calloc((size_t)c->T, sizeof *c->tabs16);
  if (!c->tabs16) return false;
  for (int t = 0; t < c->T; t++)
    if (!(c->tabs16[t] = table_take(1))) return false;
  if (c->onepass) return true;
  c->dump_len = (size_t)LANES * (size_t)(c->j.img->width / LANES + 1);
  c->px_scratch = malloc(sizeof *c->px_scratch * (c->scratch_len + c->dump_len * (size_t)c->T));
  return c->px_scratch != NULL;
}

/* 3'. One red value with more runs than the scratch holds: its runs are
 * counted straight into per-thread tables, then merged into the first. */
static void count_one_red(count *c, unsigned rr) {
#pragma omp parallel num_threads(c->T)
  {
    const int t = omp_get_thread_num();
    uint32_t *tab = c->tabs[t];
    const rowmem *rm = &c->rms[t];
    for (int k = t; k < c->K; k += omp_get_num_threads()) {
      chunk_iter it;
      chunk_start(&it, &c->j, k);
      for (int n; (n = chunk_next(&it, rm, rm->runs)) >= 0;)
        for (int i = 0; i < n; i++)
          if (rm->runs[i].key >> 16 == rr) tab[rm->runs[i].key & 0xFFFF] += rm->runs[i].len;
    }
  }
  uint32_t *tab0 = c->tabs[0];
  for (int t = 1; t < c->T; t++)
    for (int v = 0; v < 65536; v++) tab0[v] += c->tabs[t][v], c->tabs[t][v] = 0;
  for (int v = 0; v < 65536; v++)
    if (tab0[v]) {
      c->heaps[0].distinct++;
      topn_offer(&c->heaps[0], tab0[v], (rr << 16) | (unsigned)v);
      tab0[v] = 0;
    }
}

/* 2. Scatter of the reds [r0, r1): the slice for (red r, chunk k, part p)
 * starts after every earlier red of the group, every earlier chunk's
 * entries of red r and the chunk's earlier parts of red r (parts: the
 * parities of runs, or the lanes of pixels). */
static void scatter_group(count *c, int r0, int r1, const size_t *start) {
  const int parts = c->dense ? LANES : 2, stride = c->dense ? BINS : 256;
#pragma omp parallel num_threads(c->T)
  {
    size_t pos[LANES * BINS > 512 ? LANES * BINS : 512];
    const int t = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (int k = 0; k < c->K; k++) {
      const int64_t *h = c->hist + (size_t)k * (size_t)c->hs;
      for (int r = r0; r < r1; r++) {
        size_t p = start[r];
        for (int kk = 0; kk < k; kk++) p += (size_t)hist_red(c, kk, r);
        for (int l = 0; l < parts; l++) {
          pos[l * stride + r] = p;
          p += (size_t)h[l * stride + r];
        }
      }
      if (c->dense)
        chunk_scatter(&c->j, k, &c->rms[t], (unsigned)r0, (unsigned)r1, pos,
                      c->scratch_len + c->dump_len * (size_t)t, c->px_scratch);
      else
        chunk_pass2(&c->j, k, kept_runs(c, k), c->kept[k], &c->rms[t], (unsigned)r0, (unsigned)r1,
                    pos, c->scratch);
    }
  }
}

/* 2 and 3 for every red value, in groups whose entries fit the scratch. */
static void pass_count(count *c) {
  const bool gray = c->j.img->channels < 3;
  if (gray && c->dense) { /* pass 1 counted each gray level */
    for (int r = 0; r < 256; r++)
      if (c->total[r]) {
        c->heaps[0].distinct++;
        topn_offer(&c->heaps[0], c->total[r], (unsigned)r * 0x010101u);
      }
    return;
  }
  for (int r0 = 0; r0 < 256;) {
    if ((size_t)c->total[r0] > c->scratch_len) {
      count_one_red(c, (unsigned)r0++);
      continue;
    }
    int r1 = r0;
    size_t used = 0, start[257];
    while (r1 < 256 && used + (size_t)c->total[r1] <= c->scratch_len) used += (size_t)c->total[r1++];
    start[r0] = 0;
    for (int r = r0; r < r1; r++) start[r + 1] = start[r] + (size_t)c->total[r];
    scatter_group(c, r0, r1, start);
    /* 3. Each red bucket counted in an L2-resident table. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
    for (int r = r0; r < r1; r++) {
      const int t = omp_get_thread_num();
      if (c->dense)
        count_pixels(c->px_scratch + start[r], (size_t)c->total[r], (unsigned)r, c->tabs[t],
                     c->tabs16[t], pixel_list(c->tabs16[t]), &c->heaps[t]);
      else if (gray)
        gray_bucket(c->scratch + start[r], (size_t)c->total[r], (unsigned)r, &c->heaps[t]);
      else
        count_bucket(c->scratch + start[r], (size_t)c->total[r], (unsigned)r, c->tabs[t],
                     &c->heaps[t]);
    }
    r0 = r1;
  }
}

/* ---- Counting in one read ----------------------------------------------- */

/* An image of at most ONEPASS_MAX pixels is scattered as it is read,
 * without the histogram pass that sizes the buckets: each thread writes
 * the entries of a (part, red) into blocks of BLK entries, taking a new
 * block from a shared pool when one fills (its write position reaches
 * the block's end).  Counting pixel by pixel, the entries are (G,B) and
 * the parts are lanes, as neighbouring pixels often share a red.  Runs
 * have one part: neighbouring runs rarely share a red, and with half the
 * blocks open a cache simulation of a 32 KB L1 misses a quarter less
 * (two parts were no faster on a 48 KB L1 either).  Every block but the
 * last of each (thread, part, red) is full, and a chunk has no more
 * entries than counted pixels, so the pool needs one block per BLK
 * pixels plus one per (thread, part, red) and a thread's unused batch.
 * Pixel rows come as the keys of their counted pixels only
 * (simd_row_entries, so this path needs the 8-pixel keys, as the dense
 * choice does).  The entries of a red then sit in its blocks, which step
 * 3 counts in turn.  Gray images keep the passes: their pixel histogram
 * is the count, and their run buckets are one colour each. */
#define BLK 512
#define ONEPASS_MAX ((int64_t)1 << 23)
#define ONEPASS_THREADS 64 /* each reserves LANES * 256 + BATCH blocks */

static bool onepass_fits(const count *c) {
  const pj_image *img = c->j.img;
  return c->j.fast && (colors_forced <= 2 || colors_forced == FORCE_OWNED) &&
         img->channels >= 3 && c->T <= ONEPASS_THREADS &&
         (int64_t)img->width * img->height <= ONEPASS_MAX;
}

/* A thread's write positions, per (part, red), and the blocks it has
 * taken from the pool but not yet used, [next, end).  Threads take
 * BATCH blocks at a time, so that they rarely meet on the pool's counter
 * or on the same lines of blk_red and blk_len. */
#define BATCH 64
typedef struct blk_writer {
  uint32_t pe[LANES * 256][2]; /* next write position and block end (0, 0: none yet) */
  size_t next, end;
} blk_writer;

/* The first position of a new block for red r, for the writer's q. */
static __attribute__((noinline)) uint32_t take_block(count *c, blk_writer *w, unsigned r,
                                                     uint32_t *q) {
  if (w->next == w->end) {
    w->next = atomic_fetch_add_explicit(&c->blk_next, BATCH, memory_order_relaxed);
    w->end = w->next + BATCH;
  }
  const size_t b = w->next++;
  c->blk_red[b] = (uint8_t)r;
  c->blk_len[b] = BLK;
  q[1] = (uint32_t)(b * c->blk_stride + BLK);
  return (uint32_t)(b * c->blk_stride);
}

static inline __attribute__((always_inline)) void
put_block(count *c, blk_writer *w, uint16_t *pool, uint32_t key, uint32_t (*pe)[2]) {
  const unsigned r = key >> 16;
  uint32_t *q = pe[r], p = q[0];
  if (__builtin_expect(p == q[1], 0)) p = take_block(c, w, r, q);
  pool[p] = (uint16_t)key;
  q[0] = p + 1;
}

/* put_block for a run, in pieces of at most 65535 pixels. */
static inline __attribute__((always_inline)) void
put_run_block(count *c, blk_writer *w, run16 *pool, run32 r, uint32_t (*pe)[2]) {
  const unsigned red = r.key >> 16;
  uint32_t *q = pe[red], p = q[0];
  for (; r.len > 65535; r.len -= 65535) {
    if (p == q[1]) p = take_block(c, w, red, q);
    pool[p++] = (run16){(uint16_t)r.key, 65535};
  }
  if (__builtin_expect(p == q[1], 0)) p = take_block(c, w, red, q);
  /* One 32-bit store, as in put_run. */
  const run16 e = {(uint16_t)r.key, (uint16_t)r.len};
  memcpy(&pool[p], &e, sizeof e);
  q[0] = p + 1;
}

/* Scatters the runs of row chunk k with the thread's writer; returns the
 * chunk's pixels. */
static int64_t chunk_run_blocks(count *c, int k, const rowmem *rm, blk_writer *wr) {
  run16 *const pool = c->pool;
  int64_t px = 0;
  chunk_iter it;
  chunk_start(&it, &c->j, k);
  for (int n; (n = chunk_next(&it, rm, rm->runs)) >= 0;) {
    const run32 *r = rm->runs;
    for (int i = 0; i < n; i++) put_run_block(c, wr, pool, r[i], wr->pe), px += r[i].len;
  }
  return px;
}

/* Scatters the pixels of row chunk k with the thread's writer. */
static void chunk_blocks(count *c, const job *j, int k, const rowmem *rm, blk_writer *wr) {
  const uint32_t *b = rm->keys;
  uint16_t *const pool = c->pool; /* not reloaded after each write */
  for (int32_t y = chunk_y0(j, k), y1 = chunk_y0(j, k + 1); y < y1; y++) {
    const int32_t n = simd_row_entries(j, y, rm->keys);
    int32_t x = 0;
    for (; x + LANES <= n; x += LANES)
#pragma GCC unroll 4
      for (int l = 0; l < LANES; l++) put_block(c, wr, pool, b[x + l], wr->pe + l * 256);
    for (; x < n; x++) put_block(c, wr, pool, b[x], wr->pe + (x % LANES) * 256);
  }
}

/* Whether pass_owned suits: pixels one by one, up to 2 MiB of image on
 * 2-4 threads.  Up to there it beats pass_blocks at 2 threads (512x443
 * RGBA photo: 258 -> 208 us); from about 2.5 MB on, reading every row
 * on every thread costs more than the blocks crossing cores. */
#define OWNED_MAX ((int64_t)2 << 20)
static bool owned_fits(const count *c) {
  if (!c->dense) return false;
  if (colors_forced) return colors_forced == FORCE_OWNED;
  const pj_image *img = c->j.img;
  return c->T >= 2 && c->T <= 4 && (int64_t)img->width * img->height * img->channels <= OWNED_MAX;
}

/* Memory for cap blocks of `entry`-byte entries.  Blocks lie a cache
 * line more than BLK entries apart: BLK apart, every block would start in
 * the same few L1 sets, and when the reds fill at one pace (a noisy
 * image) the 512 write positions evict each other.  False when out of
 * memory. */
static bool blocks_alloc(count *c, size_t cap, size_t entry) {
  c->blk_cap = cap;
  c->blk_stride = BLK + 64 / entry;
  c->pool = malloc(entry * cap * c->blk_stride);
  c->blk_red = malloc(cap);
  c->blk_len = malloc(sizeof *c->blk_len * cap);
  c->blk_order = malloc(sizeof *c->blk_order * cap);
  return c->pool && c->blk_red && c->blk_len && c->blk_order;
}

/* The last block of each (lane, red) the writer filled ends at its write
 * position. */
static void blocks_close(count *c, const blk_writer *wr) {
  for (int i = 0; i < LANES * 256; i++) {
    const uint32_t p = wr->pe[i][0];
    if (!p) continue;
    const size_t b = (p - 1) / c->blk_stride;
    c->blk_len[b] = (uint16_t)(p - b * c->blk_stride);
  }
}

/* Blocks b0 .. b1 - 1 listed by red: order[first[r] .. first[r + 1]) are
 * red r's block numbers, in the order taken, and total[r] their
 * entries. */
static void blocks_list(const count *c, size_t b0, size_t b1, size_t first[257],
                        int64_t total[256], uint32_t *order) {
  memset(first, 0, 257 * sizeof *first);
  memset(total, 0, 256 * sizeof *total);
  for (size_t b = b0; b < b1; b++) first[c->blk_red[b] + 1]++, total[c->blk_red[b]] += c->blk_len[b];
  for (int r = 0; r < 256; r++) first[r + 1] += first[r];
  size_t at[256];
  memcpy(at, first, sizeof at);
  for (size_t b = b0; b < b1; b++) order[at[c->blk_red[b]]++] = (uint32_t)b;
}

/* 1 and 2 at once: every run or counted pixel into its red's blocks,
 * then the blocks listed by red, and the totals.  False when out of
 * memory. */
static bool pass_blocks(count *c) {
  const int64_t px = (int64_t)c->j.img->width * c->j.img->height;
  if (!blocks_alloc(c, (size_t)(px / BLK) + (size_t)c->T * (LANES * 256 + BATCH),
                    c->dense ? sizeof(uint16_t) : sizeof(run16)))
    return false;
  atomic_init(&c->blk_next, 0);
#pragma omp parallel num_threads(c->T)
  {
    blk_writer wr = {.pe = {{0}}, .next = 0, .end = 0};
    const int t = omp_get_thread_num();
    int64_t px_t = 0;
#pragma omp for schedule(dynamic, 1) nowait
    for (int k = 0; k < c->K; k++) {
      if (c->dense)
        chunk_blocks(c, &c->j, k, &c->rms[t], &wr);
      else
        px_t += chunk_run_blocks(c, k, &c->rms[t], &wr);
    }
#pragma omp atomic
    c->counted += px_t;
    blocks_close(c, &wr);
    /* The blocks taken but not used hold nothing. */
    for (; wr.next < wr.end; wr.next++) c->blk_red[wr.next] = 0, c->blk_len[wr.next] = 0;
  }
  blocks_list(c, 0, atomic_load(&c->blk_next), c->blk_first, c->total, c->blk_order);
  for (int r = 0; r < 256; r++) c->nruns += c->total[r];
  if (c->dense) c->counted = c->nruns;
  return true;
}

/* The blocks of red r (*nb of them). */
static const uint32_t *red_blocks(const count *c, unsigned r, size_t *nb) {
  *nb = c->blk_first[r + 1] - c->blk_first[r];
  return c->blk_order + c->blk_first[r];
}

/* 3 for red r's pixel blocks blks[0 .. nb). */
static inline __attribute__((always_inline)) void
count_red_blocks(const count *c, const uint32_t *blks, size_t nb, unsigned r, void *table,
                 uint16_t *list, topn *h, const bool narrow) {
  const uint16_t *pool = c->pool;
  uint32_t nd = 0;
  for (size_t i = 0; i < nb; i++)
    nd = tally_pixels(pool + (size_t)blks[i] * c->blk_stride, c->blk_len[blks[i]], table, list, nd,
                      narrow);
  report(list, nd, r, table, h, narrow);
}

/* 3 for the run blocks of red r. */
static void count_red_run_blocks(const count *c, unsigned r, uint32_t *tab, topn *h) {
  size_t nb;
  const uint32_t *blks = red_blocks(c, r, &nb);
  const run16 *pool = c->pool;
  uint16_t *list = run_list(tab);
  uint32_t nd = 0;
  for (size_t i = 0; i < nb; i++)
    nd = tally_runs(pool + (size_t)blks[i] * c->blk_stride, c->blk_len[blks[i]], tab, list, nd);
  report(list, nd, r, tab, h, false);
}

/* count_red_blocks on thread t's tables, 16-bit when the red's
 * `entries` fit. */
static void count_pixel_blocks(const count *c, const uint32_t *blks, size_t nb, int64_t entries,
                               unsigned r, int t) {
  if (entries <= UINT16_MAX)
    count_red_blocks(c, blks, nb, r, c->tabs16[t], pixel_list(c->tabs16[t]), &c->heaps[t], true);
  else
    count_red_blocks(c, blks, nb, r, c->tabs[t], pixel_list(c->tabs16[t]), &c->heaps[t], false);
}

static void count_red(count *c, int r, int t) {
  if (!c->dense) {
    count_red_run_blocks(c, (unsigned)r, c->tabs[t], &c->heaps[t]);
    return;
  }
  size_t nb;
  const uint32_t *blks = red_blocks(c, (unsigned)r, &nb);
  count_pixel_blocks(c, blks, nb, c->total[r], (unsigned)r, t);
}

/* The reds go to threads in runs of about equal entries, 4 a thread,
 * taken as threads come free: one red at a time, a small image spent
 * more on passing the loop counter between cores than on its reds. */
static void pass_count_blocks(count *c) {
  if (c->T == 1) {
    for (int r = 0; r < 256; r++) count_red(c, r, 0);
    return;
  }
  const int parts = 4 * c->T;
  int edge[4 * ONEPASS_THREADS + 1];
  edge[0] = 0;
  int64_t sum = 0;
  for (int r = 0, p = 1; r < 256; r++) {
    sum += c->total[r];
    while (p < parts && sum * parts >= c->nruns * p) edge[p++] = r + 1;
  }
  edge[parts] = 256;
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
  for (int p = 0; p < parts; p++) {
    const int t = omp_get_thread_num();
    for (int r = edge[p]; r < edge[p + 1]; r++) count_red(c, r, t);
  }
}

/* The one-read count of single pixels for small images: every thread
 * reads every row but keeps only its own range of reds, scatters them into
 * blocks of its own and counts them.  Nothing crosses cores but the image
 * and the selections.  In pass_blocks each thread reads half its blocks
 * from the other core; on a small image those reads, and the pool's lines
 * moving between cores from call to call, cost more than the second
 * thread saves, while reading the rows twice costs little.  The ranges
 * split choose_dense's sample of rows evenly.  False when out of memory. */
static bool pass_owned(count *c) {
  const int T = c->T;
  uint32_t edge[ONEPASS_THREADS + 1];
  int64_t sampled = 0, sum = 0;
  for (int r = 0; r < 256; r++) sampled += c->sample[r];
  edge[0] = 0;
  for (int t = 1, r = 0; t < T; t++) {
    if (!sampled) {
      edge[t] = (uint32_t)(256 * t / T);
      continue;
    }
    while (r < 256 && sum * T < sampled * t) sum += c->sample[r++];
    edge[t] = (uint32_t)r;
  }
  edge[T] = 256;
  const int64_t px = (int64_t)c->j.img->width * c->j.img->height;
  const size_t per = (size_t)(px / BLK) + LANES * 256 + 1;
  if (!blocks_alloc(c, per * (size_t)T, sizeof(uint16_t))) return false;
  int64_t counted = 0;
#pragma omp parallel num_threads(T) reduction(+ : counted)
  {
    const int t = omp_get_thread_num();
    job jt = c->j;
    jt.own_lo = edge[t], jt.own_n = edge[t + 1] - edge[t];
    const size_t b0 = per * (size_t)t;
    blk_writer wr = {.pe = {{0}}, .next = b0, .end = b0 + per};
    for (int k = 0; k < c->K && jt.own_n; k++) chunk_blocks(c, &jt, k, &c->rms[t], &wr);
    blocks_close(c, &wr);
    size_t first[257];
    int64_t total[256];
    uint32_t *order = c->blk_order + b0;
    blocks_list(c, b0, wr.next, first, total, order);
    for (int r = (int)edge[t]; r < (int)edge[t + 1]; r++) {
      counted += total[r];
      count_pixel_blocks(c, order + first[r], first[r + 1] - first[r], total[r], (unsigned)r, t);
    }
  }
  c->counted = c->nruns = counted;
  return true;
}

/* Merges the per-thread selections into out (n entries at most); returns
 * how many were written, or -1 when out of memory. */
static int32_t merge_top(count *c, int32_t n, pj_color_count *out, int64_t *distinct) {
  int64_t all = 0;
  *distinct = 0;
  for (int t = 0; t < c->T; t++) *distinct += c->heaps[t].distinct, all += c->heaps[t].n;
  pj_color_count *merged = malloc(sizeof *merged * (size_t)(all ? all : 1));
  if (!merged) return -1;
  all = 0;
  for (int t = 0; t < c->T; t++) {
    memcpy(merged + all, c->heaps[t].e, sizeof *merged * (size_t)c->heaps[t].n);
    all += c->heaps[t].n;
  }
  qsort(merged, (size_t)all, sizeof *merged, cmp_rank);
  int32_t got = (int32_t)(all < n ? all : n);
  if (got) memcpy(out, merged, sizeof *out * (size_t)got);
  free(merged);
  return got;
}

/* Quantised entries report the mean colour of their members, which is
 * what a user would paint with (the bucket's corner would be biased).
 * The members are the runs of the same pixels at full precision, looked up
 * by their quantised key among the sorted output keys.  False when out of
 * memory. */
static bool pass_means(count *c, int32_t got, pj_color_count *out) {
  const int T = c->T;
  int64_t (*sums)[3] = calloc((size_t)got * T, sizeof *sums);
  key_pos *kp = malloc(sizeof *kp * (size_t)got);
  if (!sums || !kp) {
    free(sums), free(kp);
    return false;
  }
  for (int32_t i = 0; i < got; i++) kp[i] = (key_pos){out[i].rgb, i};
  qsort(kp, (size_t)got, sizeof *kp, cmp_key);
  job exact = c->j;
  exact.q = 0xFF;
  const uint32_t qmask = (uint32_t)c->j.q * 0x010101u;
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    int64_t (*s)[3] = sums + (size_t)t * got;
    const rowmem *rm = &c->rms[t];
    for (int k = t; k < c->K; k += omp_get_num_threads()) {
      chunk_iter it;
      chunk_start(&it, &exact, k);
      for (int n; (n = chunk_next(&it, rm, rm->runs)) >= 0;)
        for (int i = 0; i < n; i++) {
          const run32 r = rm->runs[i];
          const uint32_t key = r.key & qmask;
          int32_t lo = 0, hi = got;
          while (lo < hi) {
            int32_t mid = (lo + hi) / 2;
            if (kp[mid].key < key) lo = mid + 1; else hi = mid;
          }
          if (lo == got || kp[lo].key != key) continue;
          s[lo][0] += (int64_t)(r.key >> 16) * r.len;
          s[lo][1] += (int64_t)(r.key >> 8 & 0xFF) * r.len;
          s[lo][2] += (int64_t)(r.key & 0xFF) * r.len;
        }
    }
  }
  for (int32_t i = 0; i < got; i++) {
    int64_t sr = 0, sg = 0, sb = 0;
    for (int t = 0; t < T; t++)
      sr += sums[(size_t)t * got + i][0], sg += sums[(size_t)t * got + i][1],
          sb += sums[(size_t)t * got + i][2];
    pj_color_count *e = &out[kp[i].pos];
    int64_t n = e->count, h2 = n / 2;
    e->rgb = (uint32_t)(((sr + h2) / n) << 16 | ((sg + h2) / n) << 8 | ((sb + h2) / n));
  }
  free(sums), free(kp);
  return true;
}

/* The options with defaults filled in, checked; PJ_OK or a failure. */
static int colors_opts(const pj_image *img, int32_t n, const pj_colors_opts *opts,
                       const pj_color_count *out, const pj_colors_summary *summary,
                       pj_colors_opts *o) {
  *o = opts ? *opts : (pj_colors_opts){0};
  if (!img || !img->data) return pj_fail(PJ_EARG, "image is freed or NULL");
  if (n < 0 || n > PJ_MAX_COLORS)
    return pj_fail(PJ_EARG, "n must be 0 to %d, got %d", PJ_MAX_COLORS, n);
  if (n > 0 && !out) return pj_fail(PJ_EARG, "NULL output array");
  if (!summary) return pj_fail(PJ_EARG, "NULL summary");
  if (o->bits == 0) o->bits = 8;
  if (o->min_alpha == 0) o->min_alpha = 1;
  if (o->bits < 1 || o->bits > 8) return pj_fail(PJ_EARG, "bits must be 1 to 8, got %d", o->bits);
  if (o->min_alpha < 1 || o->min_alpha > 255)
    return pj_fail(PJ_EARG, "min_alpha must be 0 to 255, got %d", o->min_alpha);
  if (o->all_pixels) o->min_alpha = 0;
  const pj_image *m = o->mask;
  if (m && !m->data) return pj_fail(PJ_EARG, "mask has been freed");
  if (m && (m->channels != 1 || m->width != img->width || m->height != img->height))
    return pj_fail(PJ_EARG, "mask must be a 1-channel %dx%d image, got %dx%d with %d channels",
                   img->width, img->height, m->width, m->height, m->channels);
  return PJ_OK;
}

/* Image bytes a thread needs (two threads from 256 KB): a second thread
 * reads half its blocks back from the other core's cache and adds two
 * parallel regions (a 100x86 RGBA photo took 26 us on one thread and
 * 43 us on two; a 256x222 one, 227 KB, breaks even; a 320x245 sticker is
 * 18% faster on two).  A forced method (pj_colors_force) takes every
 * thread on any image, so tests reach the parallel paths with small ones. */
#define COLORS_MIN_WORK ((size_t)128 << 10)
static int colors_threads(const pj_image *img) {
  if (colors_forced) return pj_threads_get();
  return pj_threads_for((size_t)img->width * (size_t)img->height * (size_t)img->channels,
                        COLORS_MIN_WORK);
}

static int main_colors(const pj_image *img, int32_t n, const pj_colors_opts *opts,
                       pj_color_count *out, pj_colors_summary *summary) {
  pj_colors_opts o;
  int rc = colors_opts(img, n, opts, out, summary, &o);
  if (rc) return rc;
  count c = {.T = colors_threads(img)};
  c.j = (job){.img = img, .mask = o.mask, .min_alpha = o.min_alpha,
              .q = (uint8_t)(0xFF << (8 - o.bits)), .fast = simd_fast(), .own_n = 256};
  c.K = c.j.nchunks = c.T > 1 ? (4 * c.T < img->height ? 4 * c.T : img->height) : 1;
  int32_t got = -1;
  int64_t distinct = 0;
  bool ok = count_rows(&c);
  if (ok) c.dense = choose_dense(&c);
  c.onepass = ok && onepass_fits(&c);
  /* The owned pass counts as it reads; the others count once read. */
  bool tallied = false;
  if (ok && c.onepass && owned_fits(&c)) {
    tallied = count_tables(&c, n) && pass_owned(&c);
  } else if (ok && (c.onepass ? pass_blocks(&c) : count_init(&c) && pass_runs(&c))) {
    if (c.counted > UINT32_MAX) {
      rc = pj_fail(PJ_ELIMIT, "more than 2^32 pixels to count");
      goto done;
    }
    tallied = count_tables(&c, (int32_t)(n < c.counted ? n : c.counted));
    if (tallied) {
      if (c.onepass)
        pass_count_blocks(&c);
      else
        pass_count(&c);
    }
  }
  if (tallied) got = merge_top(&c, n, out, &distinct);
  if (got > 0 && o.bits < 8 && !pass_means(&c, got, out)) got = -1;
  if (got < 0) {
    rc = pj_fail(PJ_ENOMEM, "out of memory");
  } else {
    *summary = (pj_colors_summary){.counted = c.counted, .distinct = distinct, .n = got};
  }
done:
  count_free(&c);
  return rc;
}

int pj_main_colors(const pj_image *img, int32_t n, const pj_colors_opts *opts,
                   pj_color_count *out, pj_colors_summary *summary) {
  int64_t t0 = pj_clock_ns();
  int rc = main_colors(img, n, opts, out, summary);
  pj_stats_add(PJ_KERNEL_MAIN_COLORS, t0, rc ? 0 : pj_pixels_of(img));
  return rc;
}

/* ---- Palette ------------------------------------------------------------ */

pj_image *pj_palette(const uint32_t *rgb, int32_t n, int32_t stripe_height,
                     int32_t width) {
  if (n < 1 || !rgb) return pj_fail_null(PJ_EARG, "colors is empty");
  if (stripe_height < 1 || stripe_height > 65536)
    return pj_fail_null(PJ_EARG, "height must be 1 to 65536, got %d", stripe_height);
  if (width < 1 || width > 65536)
    return pj_fail_null(PJ_EARG, "width must be 1 to 65536, got %d", width);
  for (int32_t i = 0; i < n; i++)
    if (rgb[i] > 0xFFFFFF)
      return pj_fail_null(PJ_EARG, "colors[%d] must be 0 to 16777215, got %u", i + 1, rgb[i]);
  if ((int64_t)stripe_height * n > INT32_MAX)
    return pj_fail_null(PJ_ELIMIT, "%d stripes of %d rows is too tall", n, stripe_height);
  int64_t t0 = pj_clock_ns();
  pj_image *img = pj_image_new(width, stripe_height * n, 3, 0);
  if (!img) return NULL;
  for (int32_t i = 0; i < n; i++) {
    uint8_t px[3] = {(uint8_t)(rgb[i] >> 16), (uint8_t)(rgb[i] >> 8), (uint8_t)rgb[i]};
    pj_image *stripe = pj_image_view(img, 0, i * stripe_height, width, stripe_height);
    if (!stripe) {
      pj_image_release(img);
      return NULL;
    }
    pj_image_fill(stripe, px);
    pj_image_release(stripe);
  }
  pj_stats_add(PJ_KERNEL_PALETTE, t0, pj_pixels_of(img));
  return img;
}
