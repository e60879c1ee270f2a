/*
 * png_filter.c - PNG row filters: undoing them for the decoder (by rows,
 * spread over threads as a wavefront) and applying them for the encoder.
 *
 * A filtered row stores each byte minus a prediction from its left (a),
 * upper (b) and upper-left (c) neighbours at the same channel.  Undoing
 * Sub, Avg and Paeth is sequential along a row, since a is the byte just
 * reconstructed, so the vector code works one pixel at a time with all its
 * channels in one register (16-bit lanes, so differences need no care):
 * its speed is the latency of that chain.  Up depends on the row above
 * only and goes 16 bytes a step.
 *
 * Across rows the dependency is only on the row above, so T threads take
 * rows in turn and each follows the row above it by one block of columns:
 * a thread starts block k of row y once the thread on row y - 1 has
 * finished block k there (Paeth's c reaches one pixel left, which is
 * inside block k or an earlier one).
 */
#include "internal.h"

#include <omp.h>
#include <sched.h>
#ifdef PJ_X86_SIMD
#include <immintrin.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- Prediction, one byte ---------------------------------------------------- */

static inline int paeth(int a, int b, int c) {
  int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Bytes [from, n) of a row for filter type f: out from in, with prev the
 * reconstructed row above (a zero row above the first).  out may be in. */
static void unfilter_scalar(int f, uint8_t *out, const uint8_t *in, const uint8_t *prev,
                            size_t from, size_t n, int bpp) {
  size_t i = from;
  switch (f) {
  case PJ_PNG_NONE:
    if (out != in) memcpy(out + i, in + i, n - i);
    break;
  case PJ_PNG_SUB:
    for (; i < n && i < (size_t)bpp; i++) out[i] = in[i];
    for (; i < n; i++) out[i] = (uint8_t)(in[i] + out[i - bpp]);
    break;
  case PJ_PNG_UP:
    for (; i < n; i++) out[i] = (uint8_t)(in[i] + prev[i]);
    break;
  case PJ_PNG_AVG:
    for (; i < n && i < (size_t)bpp; i++) out[i] = (uint8_t)(in[i] + (prev[i] >> 1));
    for (; i < n; i++) out[i] = (uint8_t)(in[i] + ((out[i - bpp] + prev[i]) >> 1));
    break;
  default:
    for (; i < n && i < (size_t)bpp; i++) out[i] = (uint8_t)(in[i] + prev[i]);
    for (; i < n; i++) out[i] = (uint8_t)(in[i] + paeth(out[i - bpp], prev[i], prev[i - bpp]));
    break;
  }
}

/* ---- Row groups -----------------------------------------------------------------
 * Consecutive rows of one filter type (Sub, Avg or Paeth) are undone
 * together, one pixel of each row in one register: row r of the group lags
 * r pixels behind row 0, so the pixel above it is the one row r - 1 made
 * in the step before, and all rows share each vector operation.  Lanes are
 * 16 bits; a group holds 8 / bpp rows (2 for RGB and RGBA, 4 for gray+
 * alpha, 8 for gray and palette indices). */

#define GROUP_MAX 8

typedef struct group {
  int type, nr;                 /* filter type; rows in the group */
  uint8_t *out[GROUP_MAX];
  const uint8_t *in[GROUP_MAX];
  const uint8_t *prev;          /* the row above the group's first */
} group;

/* The state carried from one step to the next. */
typedef struct gstate {
  size_t s;                     /* next step */
#ifdef PJ_X86_SIMD
  __m128i a, c;
#endif
} gstate;

static void group_start(gstate *st) {
  memset(st, 0, sizeof *st);
}

/* Steps [s0, s1) of a group without vector code: each row's pixels
 * j = s - r of those steps, one row after the other (row r's pixel j
 * needs row r - 1 only up to pixel j, done in an earlier step). */
static void group_steps_scalar(const group *g, size_t s0, size_t s1, size_t npx, int bpp) {
  for (int r = 0; r < g->nr; r++) {
    size_t j0 = s0 > (size_t)r ? s0 - r : 0, j1 = s1 > (size_t)r ? s1 - r : 0;
    if (j1 > npx) j1 = npx;
    if (j0 >= j1) continue;
    const uint8_t *prev = r ? g->out[r - 1] : g->prev;
    unfilter_scalar(g->type, g->out[r], g->in[r], prev, j0 * bpp, j1 * bpp, bpp);
  }
}

#ifdef PJ_X86_SIMD
/* bpp bytes at p as the low bytes of an integer (exact: no byte past). */
static inline uint64_t load_n(const uint8_t *p, const int bpp) {
  uint32_t v = 0;
  if (bpp == 1) v = p[0];
  else if (bpp == 2) { uint16_t h; memcpy(&h, p, 2); v = h; }
  else if (bpp == 3) { uint16_t h; memcpy(&h, p, 2); v = h | (uint32_t)p[2] << 16; }
  else memcpy(&v, p, 4);
  return v;
}

static inline void store_n(uint8_t *p, uint64_t v, const int bpp) {
  if (bpp == 1) p[0] = (uint8_t)v;
  else if (bpp == 2) { uint16_t h = (uint16_t)v; memcpy(p, &h, 2); }
  else if (bpp == 3) { uint16_t h = (uint16_t)v; memcpy(p, &h, 2); p[2] = (uint8_t)(v >> 16); }
  else { uint32_t w = (uint32_t)v; memcpy(p, &w, 4); }
}

/* a moved up by one pixel of bpp lanes (literal shifts, as compilers want). */
__attribute__((target("ssse3"), always_inline)) static inline __m128i shift_px(__m128i a,
                                                                               const int bpp) {
  switch (bpp) {
  case 1: return _mm_slli_si128(a, 2);
  case 2: return _mm_slli_si128(a, 4);
  case 3: return _mm_slli_si128(a, 6);
  default: return _mm_slli_si128(a, 8);
  }
}

/* Where step s of a group reads and writes: row r's input at in[r] + s *
 * bpp (pointers offset by -r pixels, so one index serves every row), its
 * output likewise; rows past nr repeat row 0 (read, never stored). */
typedef struct gptrs {
  const uint8_t *in[GROUP_MAX];
  uint8_t *out[GROUP_MAX];
} gptrs;

/* One step of a group: row r's pixel j = s - r.  `edge` steps are the
 * first nr - 1 (rows still starting: a row's lanes stay zero until its
 * first pixel, as nothing is left of it or above-left) and those past
 * npx (rows finishing); other steps have a pixel in every row and no
 * test.  f, bpp, R and edge are constants where this is inlined. */
__attribute__((target("ssse3"), always_inline)) static inline void
group_step(const group *g, const gptrs *p, __m128i *pa_, __m128i *pc_, size_t s, size_t npx,
           const int f, const int bpp, const int R, const bool edge) {
  const __m128i zero = _mm_setzero_si128();
  const int nr = g->nr;
  __m128i a = *pa_, c = *pc_;
  uint64_t xv = 0;
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    const uint8_t *q = p->in[r] + s * bpp;
    if (edge) { /* clamp to a pixel that exists */
      size_t j = s >= (size_t)r ? s - r : 0;
      if (j >= npx) j = npx - 1;
      q = (r < nr ? g->in[r] : g->in[0]) + j * bpp;
    }
    xv |= load_n(q, bpp) << (8 * bpp * r);
  }
  const __m128i x = _mm_unpacklo_epi8(_mm_cvtsi64_si128((long long)xv), zero);
  const size_t j0 = !edge || s < npx ? s : npx - 1;
  const __m128i up0 = _mm_unpacklo_epi8(_mm_cvtsi64_si128((long long)load_n(g->prev + j0 * bpp, bpp)), zero);
  /* Row r's upper neighbour is row r - 1's pixel of the last step. */
  const __m128i b = _mm_or_si128(shift_px(a, bpp), up0);
  __m128i pred;
  if (f == PJ_PNG_SUB) {
    pred = a;
  } else if (f == PJ_PNG_AVG) {
    pred = _mm_srli_epi16(_mm_add_epi16(a, b), 1);
  } else {
    /* pa = |b - c|, pb = |a - c|, pc = |a + b - 2c|; a where pa is the
     * smallest, else b where pb <= pc, else c. */
    const __m128i bc = _mm_sub_epi16(b, c), ac = _mm_sub_epi16(a, c);
    const __m128i pa = _mm_abs_epi16(bc), pb = _mm_abs_epi16(ac);
    const __m128i pc = _mm_abs_epi16(_mm_add_epi16(bc, ac));
    const __m128i use_c = _mm_cmpgt_epi16(pb, pc);
    const __m128i not_a = _mm_cmpgt_epi16(pa, _mm_min_epi16(pb, pc));
    const __m128i bsel = _mm_or_si128(_mm_and_si128(use_c, c), _mm_andnot_si128(use_c, b));
    pred = _mm_or_si128(_mm_and_si128(not_a, bsel), _mm_andnot_si128(not_a, a));
  }
  /* Both have zero high bytes, so a byte-wise add is the sum mod 256. */
  a = _mm_add_epi8(x, pred);
  if (edge && s + 1 < (size_t)nr) {
    const __m128i keep = _mm_cmpgt_epi16(_mm_set1_epi16((short)((s + 1) * bpp)),
                                         _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7));
    a = _mm_and_si128(a, keep);
  }
  const uint64_t w = (uint64_t)_mm_cvtsi128_si64(_mm_packus_epi16(a, a));
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    if (r >= nr || (edge && (s < (size_t)r || s - r >= npx))) continue;
    store_n(p->out[r] + s * bpp, w >> (8 * bpp * r), bpp);
  }
  *pa_ = a, *pc_ = b;
}

/* Steps [st->s, s1) of group g, R rows of bpp bytes in one register. */
__attribute__((target("ssse3"), always_inline)) static inline void
group_steps(const group *g, gstate *st, size_t s1, size_t npx, const int f, const int bpp,
            const int R) {
  gptrs p;
  for (int r = 0; r < R; r++) {
    /* Offset by -r pixels; rows past nr follow row 0 (never stored). */
    p.in[r] = r < g->nr ? g->in[r] - (ptrdiff_t)r * bpp : g->in[0];
    p.out[r] = r < g->nr ? g->out[r] - (ptrdiff_t)r * bpp : NULL;
  }
  __m128i a = st->a, c = st->c;
  size_t s = st->s;
  const size_t main0 = (size_t)g->nr - 1, main1 = npx;
  for (; s < s1 && s < main0; s++) group_step(g, &p, &a, &c, s, npx, f, bpp, R, true);
  /* Rows past nr reuse row 0's input at s - r: in range here. */
  for (; s < s1 && s < main1; s++) group_step(g, &p, &a, &c, s, npx, f, bpp, R, false);
  for (; s < s1; s++) group_step(g, &p, &a, &c, s, npx, f, bpp, R, true);
  st->a = a, st->c = c, st->s = s1;
}

#define GROUP_TYPES(bpp, R)                                                      \
  do {                                                                           \
    if (g->type == PJ_PNG_SUB) group_steps(g, st, s1, npx, PJ_PNG_SUB, bpp, R);  \
    else if (g->type == PJ_PNG_AVG) group_steps(g, st, s1, npx, PJ_PNG_AVG, bpp, R); \
    else group_steps(g, st, s1, npx, PJ_PNG_PAETH, bpp, R);                      \
  } while (0)

__attribute__((target("ssse3"))) static void group_steps_ssse3(const group *g, gstate *st,
                                                              size_t s1, size_t npx, int bpp) {
  switch (bpp) {
  case 1: GROUP_TYPES(1, 8); break;
  case 2: GROUP_TYPES(2, 4); break;
  case 3: GROUP_TYPES(3, 2); break;
  default: GROUP_TYPES(4, 2); break;
  }
}

/* Up, 16 bytes a step. */
__attribute__((target("ssse3"))) static void up_ssse3(uint8_t *out, const uint8_t *in,
                                                     const uint8_t *prev, size_t from, size_t to) {
  size_t i = from;
  for (; i + 16 <= to; i += 16)
    _mm_storeu_si128((__m128i *)(out + i), _mm_add_epi8(_mm_loadu_si128((const __m128i *)(in + i)),
                                                        _mm_loadu_si128((const __m128i *)(prev + i))));
  for (; i < to; i++) out[i] = (uint8_t)(in[i] + prev[i]);
}
#endif

/* Rows in one group for pixels of bpp bytes with the vector code. */
static int group_rows(int bpp) {
#ifdef PJ_X86_SIMD
  if (pj_cpu_ssse3()) return 8 / bpp;
#endif
  (void)bpp;
  return 1;
}

/* Steps up to s1 of group g; a group of None or Up rows has one row and
 * its steps are its pixels. */
static void group_run(const group *g, gstate *st, size_t s1, size_t npx, int bpp) {
  if (g->type == PJ_PNG_NONE || g->type == PJ_PNG_UP) {
    const size_t from = st->s * bpp, to = (s1 < npx ? s1 : npx) * bpp;
#ifdef PJ_X86_SIMD
    if (g->type == PJ_PNG_UP && pj_cpu_ssse3()) up_ssse3(g->out[0], g->in[0], g->prev, from, to);
    else
#endif
      unfilter_scalar(g->type, g->out[0], g->in[0], g->prev, from, to, bpp);
    st->s = s1;
    return;
  }
#ifdef PJ_X86_SIMD
  if (pj_cpu_ssse3()) {
    group_steps_ssse3(g, st, s1, npx, bpp);
    return;
  }
#endif
  group_steps_scalar(g, st->s, s1, npx, bpp);
  st->s = s1;
}

void pj_png_unfilter_row(int f, uint8_t *out, const uint8_t *in, const uint8_t *prev, size_t n,
                         int bpp) {
  group g = {.type = f, .nr = 1, .out = {out}, .in = {in}, .prev = prev};
  gstate st;
  group_start(&st);
  group_run(&g, &st, n / bpp, n / bpp, bpp);
}

/* ---- Whole images -------------------------------------------------------------- */

/* Pixels per wavefront block: small enough that the thread below starts
 * soon, large enough that the handshake is noise. */
#define WAVE_PIXELS 256

typedef struct wave {
  const uint8_t *raw;   /* filtered rows, 1 + n bytes each (type byte first) */
  size_t n, npx;        /* bytes and pixels of a row */
  uint8_t *out;         /* reconstructed rows, `stride` apart */
  size_t stride;
  int bpp;
  const uint8_t *zero;  /* n zero bytes: the row above the first */
  atomic_int *done;     /* blocks finished per row */
  int nblocks;
  int32_t *first;       /* each group's first row, and one past the last */
} wave;

/* Group u's rows and their type. */
static void wave_group(const wave *w, int32_t u, group *g) {
  const int32_t y0 = w->first[u], y1 = w->first[u + 1];
  g->type = w->raw[(size_t)y0 * (w->n + 1)];
  g->nr = y1 - y0;
  for (int r = 0; r < g->nr; r++) {
    g->in[r] = w->raw + (size_t)(y0 + r) * (w->n + 1) + 1;
    g->out[r] = w->out + (size_t)(y0 + r) * w->stride;
  }
  g->prev = y0 ? w->out + (size_t)(y0 - 1) * w->stride : w->zero;
}

/* Group u, block by block, each block once the row above has it (Paeth's
 * c reaches one pixel left, which is in this block or an earlier one). */
static void wave_run(const wave *w, int32_t u) {
  group g;
  wave_group(w, u, &g);
  const int32_t y0 = w->first[u];
  const size_t steps = w->npx + g.nr - 1;
  gstate st;
  group_start(&st);
  for (int k = 0; k < w->nblocks; k++) {
    if (y0 > 0 && g.type != PJ_PNG_NONE && g.type != PJ_PNG_SUB) {
      /* Spin briefly (the row above is usually a block ahead), then
       * yield, so an oversubscribed machine still makes progress. */
      for (int spins = 0; atomic_load_explicit(&w->done[y0 - 1], memory_order_acquire) <= k; spins++) {
        if (spins > 2000) sched_yield();
#ifdef PJ_X86_SIMD
        else _mm_pause();
#endif
      }
    }
    const size_t end = k + 1 == w->nblocks ? steps : (size_t)(k + 1) * WAVE_PIXELS;
    group_run(&g, &st, end, w->npx, w->bpp);
    for (int r = 0; r < g.nr; r++) {
      /* Row r has its pixels below end - r. */
      const size_t px = end > (size_t)r ? end - r : 0;
      const int blocks = px >= w->npx ? w->nblocks : (int)(px / WAVE_PIXELS);
      atomic_store_explicit(&w->done[y0 + r], blocks, memory_order_release);
    }
  }
}

/* Splits the rows into groups: runs of one of the sequential types, up to
 * `most` rows each, and every other row alone.  Returns the count. */
static int32_t make_groups(const uint8_t *raw, size_t n, int32_t h, int most, int32_t *first) {
  int32_t u = 0;
  for (int32_t y = 0; y < h;) {
    const int f = raw[(size_t)y * (n + 1)];
    int32_t len = 1;
    if (f == PJ_PNG_SUB || f == PJ_PNG_AVG || f == PJ_PNG_PAETH)
      while (len < most && y + len < h && raw[(size_t)(y + len) * (n + 1)] == f) len++;
    first[u++] = y;
    y += len;
  }
  first[u] = h;
  return u;
}

bool pj_png_unfilter(const uint8_t *raw, size_t n, int32_t h, uint8_t *out, size_t stride,
                     int bpp, int threads) {
  for (int32_t y = 0; y < h; y++)
    if (raw[(size_t)y * (n + 1)] > PJ_PNG_PAETH) return false;
  uint8_t *zero = calloc(n + 16, 1);
  int32_t *first = malloc(sizeof *first * ((size_t)h + 1));
  atomic_int *done = malloc(sizeof *done * (size_t)h);
  if (!zero || !first || !done) {
    free(zero), free(first), free(done);
    return false;
  }
  const size_t npx = n / bpp;
  const int32_t groups = make_groups(raw, n, h, group_rows(bpp), first);
  for (int32_t y = 0; y < h; y++) atomic_init(&done[y], 0);
  wave w = {raw, n, npx, out, stride, bpp, zero, done,
            (int)((npx + WAVE_PIXELS - 1) / WAVE_PIXELS), first};
  /* Below a few blocks a row, threads would only wait on each other. */
  if (w.nblocks < 2) threads = 1;
  if (threads > groups) threads = groups;
  /* Groups go round-robin to threads: each waits only on the group above,
   * which another thread is already working on. */
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    for (int32_t u = t; u < groups; u += nt) wave_run(&w, u);
  }
  free(done), free(first), free(zero);
  return true;
}

/* ---- Filtering, for the encoder --------------------------------------------------- */

/* Bytes [from, n) of a filtered row, one at a time. */
static void filter_scalar(int f, uint8_t *out, const uint8_t *row, const uint8_t *prev, size_t from,
                          size_t n, int bpp) {
  for (size_t i = from; i < n; i++) {
    const int a = i >= (size_t)bpp ? row[i - bpp] : 0, b = prev[i];
    const int c = i >= (size_t)bpp ? prev[i - bpp] : 0;
    int p = 0;
    if (f == PJ_PNG_SUB) p = a;
    else if (f == PJ_PNG_UP) p = b;
    else if (f == PJ_PNG_AVG) p = (a + b) >> 1;
    else if (f == PJ_PNG_PAETH) p = paeth(a, b, c);
    out[i] = (uint8_t)(row[i] - p);
  }
}

#ifdef PJ_X86_SIMD
/* Filtering has no chain along the row (predictions use the original
 * pixels), so it goes 16 bytes a step; Paeth in 16-bit lanes, 8 at a time
 * twice. */
__attribute__((target("ssse3"))) static __m128i paeth16(__m128i a, __m128i b, __m128i c) {
  const __m128i bc = _mm_sub_epi16(b, c), ac = _mm_sub_epi16(a, c);
  const __m128i pa = _mm_abs_epi16(bc), pb = _mm_abs_epi16(ac), pc = _mm_abs_epi16(_mm_add_epi16(bc, ac));
  const __m128i use_c = _mm_cmpgt_epi16(pb, pc);
  const __m128i not_a = _mm_cmpgt_epi16(pa, _mm_min_epi16(pb, pc));
  const __m128i bsel = _mm_or_si128(_mm_and_si128(use_c, c), _mm_andnot_si128(use_c, b));
  return _mm_or_si128(_mm_and_si128(not_a, bsel), _mm_andnot_si128(not_a, a));
}

__attribute__((target("ssse3"))) static size_t filter_ssse3(int f, uint8_t *out, const uint8_t *row,
                                                           const uint8_t *prev, size_t from, size_t n,
                                                           int bpp) {
  const __m128i zero = _mm_setzero_si128(), one = _mm_set1_epi8(1);
  size_t i = from;
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_loadu_si128((const __m128i *)(row + i));
    const __m128i a = _mm_loadu_si128((const __m128i *)(row + i - bpp));
    const __m128i b = _mm_loadu_si128((const __m128i *)(prev + i));
    __m128i p;
    if (f == PJ_PNG_SUB) {
      p = a;
    } else if (f == PJ_PNG_UP) {
      p = b;
    } else if (f == PJ_PNG_AVG) {
      /* pavgb rounds up; the floor is one less where a + b is odd. */
      p = _mm_sub_epi8(_mm_avg_epu8(a, b), _mm_and_si128(_mm_xor_si128(a, b), one));
    } else {
      const __m128i c = _mm_loadu_si128((const __m128i *)(prev + i - bpp));
      const __m128i lo = paeth16(_mm_unpacklo_epi8(a, zero), _mm_unpacklo_epi8(b, zero),
                                 _mm_unpacklo_epi8(c, zero));
      const __m128i hi = paeth16(_mm_unpackhi_epi8(a, zero), _mm_unpackhi_epi8(b, zero),
                                 _mm_unpackhi_epi8(c, zero));
      p = _mm_packus_epi16(lo, hi);
    }
    _mm_storeu_si128((__m128i *)(out + i), _mm_sub_epi8(x, p));
  }
  return i;
}

/* Sum of the bytes of v as signed magnitudes (min(x, 256 - x)). */
__attribute__((target("ssse3"))) static uint64_t cost_ssse3(const uint8_t *v, size_t n, size_t *done) {
  __m128i acc = _mm_setzero_si128();
  const __m128i zero = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_loadu_si128((const __m128i *)(v + i));
    acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_min_epu8(x, _mm_sub_epi8(zero, x)), zero));
  }
  *done = i;
  return (uint64_t)_mm_cvtsi128_si64(acc) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
}
#endif

void pj_png_filter_row(int f, uint8_t *out, const uint8_t *row, const uint8_t *prev, size_t n,
                       int bpp) {
  if (f == PJ_PNG_NONE) {
    memcpy(out, row, n);
    return;
  }
  size_t i = n < (size_t)bpp ? n : (size_t)bpp;
  filter_scalar(f, out, row, prev, 0, i, bpp);
#ifdef PJ_X86_SIMD
  if (pj_cpu_ssse3()) i = filter_ssse3(f, out, row, prev, i, n, bpp);
#endif
  filter_scalar(f, out, row, prev, i, n, bpp);
}

/* Sum of the filtered bytes as signed magnitudes, libpng's and most
 * encoders' measure of how well a filter predicts a row. */
static uint64_t row_cost(const uint8_t *f, size_t n) {
  uint64_t s = 0;
  size_t i = 0;
#ifdef PJ_X86_SIMD
  if (pj_cpu_ssse3()) s = cost_ssse3(f, n, &i);
#endif
  for (; i < n; i++) s += f[i] < 128 ? f[i] : 256 - f[i];
  return s;
}

int pj_png_filter_best(uint8_t *out, uint8_t *scratch, const uint8_t *row, const uint8_t *prev,
                       size_t n, int bpp, unsigned types) {
  int best = -1;
  uint64_t best_cost = UINT64_MAX;
  for (int f = PJ_PNG_NONE; f <= PJ_PNG_PAETH; f++) {
    if (!(types & (1u << f))) continue;
    uint8_t *dst = best < 0 ? out : scratch;
    pj_png_filter_row(f, dst, row, prev, n, bpp);
    uint64_t cost = row_cost(dst, n);
    if (cost < best_cost) {
      best_cost = cost;
      if (dst == scratch) memcpy(out, scratch, n);
      best = f;
    }
  }
  return best;
}
