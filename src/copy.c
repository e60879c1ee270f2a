/*
 * copy.c - the kernels that move bytes without arithmetic: swap_rb, pad,
 * flip, rot90, invert.  Each makes its output in one pass over it (no
 * clear-then-copy), rows in bands over threads when the image is large
 * (pj_rows), with byte shuffles for the per-pixel rearrangements.
 */
#include "internal.h"

#include <string.h>
#ifdef PJ_X86_SIMD
#include <immintrin.h>
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static bool live(const pj_image *img) { return img && img->data; }

static size_t work_of(const pj_image *img) {
  return (size_t)img->width * img->height * img->channels * 2;
}

static uint8_t *row_of(const pj_image *img, int32_t y) {
  return img->data + (size_t)y * img->stride;
}

/* ---- swap_rb ---------------------------------------------------------------------- */

/* Pixels [x0, w) of a row with bytes 0 and 2 of each pixel exchanged. */
static void swap_scalar(const uint8_t *s, uint8_t *d, int32_t x0, int32_t w, int c) {
  for (int32_t x = x0; x < w; x++) {
    const uint8_t *p = s + (size_t)x * c;
    uint8_t *q = d + (size_t)x * c;
    const uint8_t r = p[0], g = p[1], b = p[2];
    q[0] = b, q[1] = g, q[2] = r;
    if (c == 4) q[3] = p[3];
  }
}

#ifdef PJ_X86_SIMD
/* 5 RGB or 4 RGBA pixels a step.  For RGB the 16th stored byte is the
 * next step's first, rewritten right after, so the loop stops a pixel
 * early and the scalar tail ends the row exactly. */
__attribute__((target("ssse3"))) static int32_t swap_ssse3(const uint8_t *s, uint8_t *d, int32_t w,
                                                          int c) {
  const __m128i p3 = _mm_setr_epi8(2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9, 14, 13, 12, 15);
  const __m128i p4 = _mm_setr_epi8(2, 1, 0, 3, 6, 5, 4, 7, 10, 9, 8, 11, 14, 13, 12, 15);
  const int px = c == 3 ? 5 : 4;
  int32_t x = 0;
  for (; x + px + 1 <= w; x += px) {
    __m128i v = _mm_loadu_si128((const __m128i *)(s + (size_t)x * c));
    _mm_storeu_si128((__m128i *)(d + (size_t)x * c), _mm_shuffle_epi8(v, c == 3 ? p3 : p4));
  }
  return x;
}
#endif

typedef struct two {
  const pj_image *src;
  pj_image *dst;
  int32_t arg;
} two;

/* A new w x h image of img's channels whose rows fn makes from img (a
 * `two` job carrying arg), timed as kernel k.  New reference, or NULL. */
static pj_image *make_rows(const pj_image *img, int32_t w, int32_t h, int32_t arg, pj_rows_fn fn,
                           int k) {
  int64_t t0 = pj_clock_ns();
  pj_image *out = pj_image_alloc(w, h, img->channels);
  if (!out) return NULL;
  two j = {img, out, arg};
  pj_rows(h, work_of(img), fn, &j);
  pj_stats_add(k, t0, pj_pixels_of(out));
  return out;
}

#ifdef PJ_X86_SIMD
/* 10 RGB pixels (two lanes of 5, stored 15 bytes apart, the second store
 * rewriting the first's 16th byte) or 8 RGBA pixels a step. */
__attribute__((target("avx2"))) static int32_t swap_avx2(const uint8_t *s, uint8_t *d, int32_t w, int c) {
  const __m256i p3 = _mm256_setr_epi8(2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9, 14, 13, 12, 15,
                                      2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9, 14, 13, 12, 15);
  const __m256i p4 = _mm256_setr_epi8(2, 1, 0, 3, 6, 5, 4, 7, 10, 9, 8, 11, 14, 13, 12, 15,
                                      2, 1, 0, 3, 6, 5, 4, 7, 10, 9, 8, 11, 14, 13, 12, 15);
  int32_t x = 0;
  if (c == 3)
    for (; x + 11 <= w; x += 10) {
      const uint8_t *p = s + (size_t)x * 3;
      uint8_t *q = d + (size_t)x * 3;
      const __m256i v = _mm256_loadu2_m128i((const __m128i *)(p + 15), (const __m128i *)p);
      _mm256_storeu2_m128i((__m128i *)(q + 15), (__m128i *)q, _mm256_shuffle_epi8(v, p3));
    }
  else
    for (; x + 8 <= w; x += 8) {
      const __m256i v = _mm256_loadu_si256((const __m256i *)(s + (size_t)x * 4));
      _mm256_storeu_si256((__m256i *)(d + (size_t)x * 4), _mm256_shuffle_epi8(v, p4));
    }
  return x;
}
#endif

/* Pixels [0, w) of a row (or of packed rows taken as one). */
static void swap_run(const uint8_t *s, uint8_t *d, int32_t w, int c) {
  int32_t x = 0;
#ifdef PJ_X86_SIMD
  if (pj_cpu_avx2()) x = swap_avx2(s, d, w, c);
  if (pj_cpu_ssse3()) x += swap_ssse3(s + (size_t)x * c, d + (size_t)x * c, w - x, c);
#endif
  swap_scalar(s, d, x, w, c);
}

static void swap_rows(void *arg, int32_t y0, int32_t y1) {
  const two *j = arg;
  const int c = j->src->channels;
  const int32_t w = j->src->width;
  if (pj_packed(j->src) && pj_packed(j->dst) && (int64_t)w * (y1 - y0) <= INT32_MAX) {
    swap_run(row_of(j->src, y0), row_of(j->dst, y0), w * (y1 - y0), c);
    return;
  }
  for (int32_t y = y0; y < y1; y++) swap_run(row_of(j->src, y), row_of(j->dst, y), w, c);
}

pj_image *pj_image_swap_rb(const pj_image *img) {
  if (!live(img)) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (img->channels < 3)
    return pj_fail_null(PJ_EARG, "the image must have 3 or 4 channels, got %d", img->channels);
  return make_rows(img, img->width, img->height, 0, swap_rows, PJ_KERNEL_SWAP_RB);
}

/* ---- pad -------------------------------------------------------------------------- */

typedef struct pad_job {
  const pj_image *src;
  pj_image *dst;
  int32_t top, left;
  const uint8_t *fill;  /* one output row of the border value */
} pad_job;

/* Borders are a few pixels wide, where a call to memcpy costs more than
 * the bytes. */
static inline void copy_short(uint8_t *d, const uint8_t *s, size_t n) {
  if (n > 64) {
    memcpy(d, s, n);
    return;
  }
  size_t i = 0;
  for (; i + 8 <= n; i += 8) memcpy(d + i, s + i, 8);
  for (; i < n; i++) d[i] = s[i];
}

static void pad_rows(void *arg, int32_t y0, int32_t y1) {
  const pad_job *j = arg;
  const int c = j->src->channels;
  const size_t row = (size_t)j->dst->width * c, inner = (size_t)j->src->width * c;
  const size_t left = (size_t)j->left * c;
  for (int32_t y = y0; y < y1; y++) {
    uint8_t *d = row_of(j->dst, y);
    const int32_t sy = y - j->top;
    if (sy < 0 || sy >= j->src->height) {
      memcpy(d, j->fill, row);
      continue;
    }
    copy_short(d, j->fill, left);
    memcpy(d + left, row_of(j->src, sy), inner);
    copy_short(d + left + inner, j->fill, row - left - inner);
  }
}

pj_image *pj_image_pad(const pj_image *img, int32_t top, int32_t bottom, int32_t left,
                       int32_t right, const uint8_t *value) {
  if (!live(img)) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  const int32_t side[4] = {top, bottom, left, right};
  static const char *const names[4] = {"top", "bottom", "left", "right"};
  for (int i = 0; i < 4; i++)
    if (side[i] < 0) return pj_fail_null(PJ_EARG, "%s must be >= 0, got %d", names[i], side[i]);
  const int64_t w = (int64_t)img->width + left + right, h = (int64_t)img->height + top + bottom;
  if (pj_check_dims(w, h, img->channels, 0, NULL)) return NULL;
  int64_t t0 = pj_clock_ns();
  pj_image *out = pj_image_alloc((int32_t)w, (int32_t)h, img->channels);
  const int c = img->channels;
  const size_t row = (size_t)w * c;
  uint8_t stack[4096];
  uint8_t *fill = !out ? NULL : row <= sizeof stack ? stack : malloc(row);
  if (!fill) {
    pj_image_release(out);
    return pj_fail_null(PJ_ENOMEM, "out of memory");
  }
  /* One pixel, then the row by doubling what is there. */
  for (int k = 0; k < c; k++) fill[k] = value ? value[k] : 0;
  for (size_t have = (size_t)c; have < row; have *= 2)
    memcpy(fill + have, fill, have < row - have ? have : row - have);
  pad_job j = {img, out, top, left, fill};
  pj_rows(out->height, row * (size_t)h * 2, pad_rows, &j);
  if (fill != stack) free(fill);
  pj_stats_add(PJ_KERNEL_PAD, t0, pj_pixels_of(out));
  return out;
}

/* ---- flip ------------------------------------------------------------------------- */

#ifdef PJ_X86_SIMD
/* Gray, RGB and RGBA rows reversed 16 bytes (RGB: 48) a step; returns the
 * pixels done. */
__attribute__((target("ssse3"))) static int32_t reverse_ssse3(const uint8_t *s, uint8_t *d, int32_t w,
                                                             int c) {
  const __m128i rev = _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  int32_t x = 0;
  if (c == 1)
    for (; x + 16 <= w; x += 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(s + w - x - 16));
      _mm_storeu_si128((__m128i *)(d + x), _mm_shuffle_epi8(v, rev));
    }
  else if (c == 4)
    for (; x + 4 <= w; x += 4) {
      __m128i v = _mm_loadu_si128((const __m128i *)(s + (size_t)(w - x - 4) * 4));
      _mm_storeu_si128((__m128i *)(d + (size_t)x * 4), _mm_shuffle_epi32(v, 0x1B));
    }
  else if (c == 3) {
    /* 16 pixels (three vectors) a step: output vector o takes its bytes
     * from the source vectors with one pshufb each, or-ed together
     * (index -1 gives 0). */
    const __m128i o0s1 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 14);
    const __m128i o0s2 = _mm_setr_epi8(13, 14, 15, 10, 11, 12, 7, 8, 9, 4, 5, 6, 1, 2, 3, -1);
    const __m128i o1s0 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 15, -1);
    const __m128i o1s1 = _mm_setr_epi8(15, -1, 11, 12, 13, 8, 9, 10, 5, 6, 7, 2, 3, 4, -1, 0);
    const __m128i o1s2 = _mm_setr_epi8(-1, 0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i o2s0 = _mm_setr_epi8(-1, 12, 13, 14, 9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2);
    const __m128i o2s1 = _mm_setr_epi8(1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    for (; x + 16 <= w; x += 16) {
      const __m128i *p = (const __m128i *)(s + (size_t)(w - x - 16) * 3);
      const __m128i s0 = _mm_loadu_si128(p), s1 = _mm_loadu_si128(p + 1), s2 = _mm_loadu_si128(p + 2);
      __m128i *q = (__m128i *)(d + (size_t)x * 3);
      _mm_storeu_si128(q, _mm_or_si128(_mm_shuffle_epi8(s1, o0s1), _mm_shuffle_epi8(s2, o0s2)));
      _mm_storeu_si128(q + 1, _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(s0, o1s0), _mm_shuffle_epi8(s1, o1s1)),
                                           _mm_shuffle_epi8(s2, o1s2)));
      _mm_storeu_si128(q + 2, _mm_or_si128(_mm_shuffle_epi8(s0, o2s0), _mm_shuffle_epi8(s1, o2s1)));
    }
  }
  return x;
}
#endif

/* A row with its pixels in reverse order. */
static inline __attribute__((always_inline)) void reverse_c(const uint8_t *s, uint8_t *d, int32_t x,
                                                            int32_t w, const int c) {
  for (; x < w; x++) memcpy(d + (size_t)x * c, s + (size_t)(w - 1 - x) * c, (size_t)c);
}

static void reverse_row(const uint8_t *s, uint8_t *d, int32_t w, int c) {
  int32_t x = 0;
#ifdef PJ_X86_SIMD
  if (pj_cpu_ssse3()) x = reverse_ssse3(s, d, w, c);
#endif
  switch (c) {
  case 1: reverse_c(s, d, x, w, 1); break;
  case 2: reverse_c(s, d, x, w, 2); break;
  case 3: reverse_c(s, d, x, w, 3); break;
  default: reverse_c(s, d, x, w, 4); break;
  }
}

/* Upside down, the output rows go last to first, so that the source is
 * read first to last: the prefetchers follow a stream read upwards a row
 * at a time poorly, and a page then copied at half memory speed. */
static void flip_rows(void *arg, int32_t y0, int32_t y1) {
  const two *j = arg;
  const pj_image *s = j->src;
  const size_t row = (size_t)s->width * s->channels;
  const bool up = j->arg & PJ_FLIP_VERTICAL;
  for (int32_t i = y0; i < y1; i++) {
    const int32_t y = up ? y0 + y1 - 1 - i : i;
    const uint8_t *src = row_of(s, up ? s->height - 1 - y : y);
    if (j->arg & PJ_FLIP_HORIZONTAL) reverse_row(src, row_of(j->dst, y), s->width, s->channels);
    else memcpy(row_of(j->dst, y), src, row);
  }
}

pj_image *pj_image_flip(const pj_image *img, int mode) {
  if (!live(img)) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (mode < PJ_FLIP_HORIZONTAL || mode > PJ_FLIP_BOTH) return pj_fail_null(PJ_EARG, "unknown flip %d", mode);
  return make_rows(img, img->width, img->height, mode, flip_rows, PJ_KERNEL_FLIP);
}

/* ---- rot90 ------------------------------------------------------------------------ */

/* Output rows [y0, y1) of a quarter turn counter-clockwise (k = 1) or
 * clockwise (k = 3): out(x, y) = in(W - 1 - y, x) for k = 1 and
 * in(y, H - 1 - x) for k = 3, one pixel at a time (edges, 3 channels). */
static inline __attribute__((always_inline)) void turn_pixels(const pj_image *s, pj_image *d,
                                                              int32_t y0, int32_t y1, int32_t x0,
                                                              int32_t x1, int k, const int c) {
  const int32_t W = s->width, H = s->height;
  for (int32_t y = y0; y < y1; y++) {
    uint8_t *q = row_of(d, y) + (size_t)x0 * c;
    for (int32_t x = x0; x < x1; x++, q += c) {
      const int32_t sx = k == 1 ? W - 1 - y : y, sy = k == 1 ? x : H - 1 - x;
      const uint8_t *p = row_of(s, sy) + (size_t)sx * c;
      for (int i = 0; i < c; i++) q[i] = p[i];
    }
  }
}

#ifdef __SSE2__
/* An n x n block of e-byte elements (n * e = 16) turned through SSE2
 * transposes: unpacking neighbouring rows at e, 2e, ... 8 bytes leaves
 * column bitrev(j) in register j.  The block's input rows are read so
 * that each transposed column is one output row (see turn_rows). */
#define UNPACK(g, lohi, a, b) _mm_unpack##lohi##_epi##g(a, b)
static inline __attribute__((always_inline)) void transpose_block(__m128i *a, int e) {
  __m128i t[16];
  const int n = 16 / e;
  for (int g = e; g <= 8; g *= 2) {
    for (int i = 0; i < n / 2; i++) {
      const __m128i x = a[2 * i], y = a[2 * i + 1];
      switch (g) {
      case 1: t[i] = UNPACK(8, lo, x, y), t[i + n / 2] = UNPACK(8, hi, x, y); break;
      case 2: t[i] = UNPACK(16, lo, x, y), t[i + n / 2] = UNPACK(16, hi, x, y); break;
      case 4: t[i] = UNPACK(32, lo, x, y), t[i + n / 2] = UNPACK(32, hi, x, y); break;
      default: t[i] = UNPACK(64, lo, x, y), t[i + n / 2] = UNPACK(64, hi, x, y); break;
      }
    }
    for (int i = 0; i < n; i++) a[i] = t[i];
  }
}
#undef UNPACK

static inline __attribute__((always_inline)) int bitrev(int j, int n) {
  int r = 0;
  for (int b = 1; b < n; b *= 2, j >>= 1) r = r * 2 + (j & 1);
  return r;
}

/* Rows [y0, y1) of the output in n x n blocks of e-byte pixels, the
 * ragged right and bottom edges pixel by pixel. */
static inline __attribute__((always_inline)) void turn_blocks(const pj_image *s, pj_image *d,
                                                              int32_t y0, int32_t y1, int k,
                                                              const int e) {
  const int n = 16 / e;
  const int32_t W = s->width, H = s->height, dw = d->width;
  int32_t y = y0;
  for (; y + n <= y1; y += n) {
    int32_t x = 0;
    for (; x + n <= dw; x += n) {
      __m128i a[16];
      for (int i = 0; i < n; i++) {
        /* k = 1: input row x + i from column W - y - n; k = 3: input row
         * H - 1 - x - i from column y. */
        const int32_t sy = k == 1 ? x + i : H - 1 - x - i, sx = k == 1 ? W - y - n : y;
        a[i] = _mm_loadu_si128((const __m128i *)(row_of(s, sy) + (size_t)sx * e));
      }
      transpose_block(a, e);
      for (int j = 0; j < n; j++) {
        const int col = bitrev(j, n); /* block column held in a[j] */
        const int32_t oy = k == 1 ? y + n - 1 - col : y + col;
        _mm_storeu_si128((__m128i *)(row_of(d, oy) + (size_t)x * e), a[j]);
      }
    }
    switch (e) {
    case 1: turn_pixels(s, d, y, y + n, x, dw, k, 1); break;
    case 2: turn_pixels(s, d, y, y + n, x, dw, k, 2); break;
    default: turn_pixels(s, d, y, y + n, x, dw, k, 4); break;
    }
  }
  switch (e) {
  case 1: turn_pixels(s, d, y, y1, 0, dw, k, 1); break;
  case 2: turn_pixels(s, d, y, y1, 0, dw, k, 2); break;
  default: turn_pixels(s, d, y, y1, 0, dw, k, 4); break;
  }
}
#endif

/* 3-channel pixels (and every pixel without SSE2) in 32 x 32 tiles, so
 * the reads down a source column stay within a few cache lines. */
static void turn_tiles(const pj_image *s, pj_image *d, int32_t y0, int32_t y1, int k) {
  enum { T = 32 };
  for (int32_t ty = y0; ty < y1; ty += T)
    for (int32_t tx = 0; tx < d->width; tx += T) {
      const int32_t ye = ty + T < y1 ? ty + T : y1, xe = tx + T < d->width ? tx + T : d->width;
      switch (s->channels) {
      case 1: turn_pixels(s, d, ty, ye, tx, xe, k, 1); break;
      case 2: turn_pixels(s, d, ty, ye, tx, xe, k, 2); break;
      case 3: turn_pixels(s, d, ty, ye, tx, xe, k, 3); break;
      default: turn_pixels(s, d, ty, ye, tx, xe, k, 4); break;
      }
    }
}

static void turn_rows(void *arg, int32_t y0, int32_t y1) {
  const two *j = arg;
#ifdef __SSE2__
  switch (j->src->channels) {
  case 1: turn_blocks(j->src, j->dst, y0, y1, j->arg, 1); return;
  case 2: turn_blocks(j->src, j->dst, y0, y1, j->arg, 2); return;
  case 4: turn_blocks(j->src, j->dst, y0, y1, j->arg, 4); return;
  }
#endif
  turn_tiles(j->src, j->dst, y0, y1, j->arg);
}

pj_image *pj_image_rot90(const pj_image *img, int32_t k) {
  if (!live(img)) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  k = ((k % 4) + 4) % 4;
  if (k == 0) return pj_image_clone(img);
  if (k == 2) return pj_image_flip(img, PJ_FLIP_BOTH);
  return make_rows(img, img->height, img->width, k, turn_rows, PJ_KERNEL_ROT90);
}

/* ---- invert ----------------------------------------------------------------------- */

#ifdef PJ_X86_SIMD
/* The bulk of invert_bytes on AVX2: 128 bytes a step, four loads in
 * flight, which keeps up with an L2-resident copy where 16-byte steps do
 * not; returns the bytes done (a multiple of 32). */
__attribute__((target("avx2"))) static size_t invert_avx2(const uint8_t *s, uint8_t *d, size_t n,
                                                          uint32_t m) {
  const __m256i vm = _mm256_set1_epi32((int)m);
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    const __m256i a = _mm256_loadu_si256((const __m256i *)(s + i));
    const __m256i b = _mm256_loadu_si256((const __m256i *)(s + i + 32));
    const __m256i e = _mm256_loadu_si256((const __m256i *)(s + i + 64));
    const __m256i f = _mm256_loadu_si256((const __m256i *)(s + i + 96));
    _mm256_storeu_si256((__m256i *)(d + i), _mm256_xor_si256(a, vm));
    _mm256_storeu_si256((__m256i *)(d + i + 32), _mm256_xor_si256(b, vm));
    _mm256_storeu_si256((__m256i *)(d + i + 64), _mm256_xor_si256(e, vm));
    _mm256_storeu_si256((__m256i *)(d + i + 96), _mm256_xor_si256(f, vm));
  }
  for (; i + 32 <= n; i += 32)
    _mm256_storeu_si256((__m256i *)(d + i), _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(s + i)), vm));
  return i;
}
#endif

/* n bytes of a row xor-ed with the byte pattern of one pixel's mask (all
 * ones on colour bytes, zero on alpha), 32 or 16 bytes a step: each is a
 * whole number of pixels for 1, 2 and 4 channels, and 3 channels have no
 * alpha. */
static void invert_bytes(const uint8_t *s, uint8_t *d, size_t n, int c) {
  static const uint8_t pattern[4][4] = {
      {0xFF, 0xFF, 0xFF, 0xFF}, {0xFF, 0, 0xFF, 0}, {0xFF, 0xFF, 0xFF, 0xFF}, {0xFF, 0xFF, 0xFF, 0}};
  uint32_t m;
  memcpy(&m, pattern[c - 1], 4);
  size_t i = 0;
#ifdef PJ_X86_SIMD
  if (n >= 32 && pj_cpu_avx2()) i = invert_avx2(s, d, n, m);
#endif
#ifdef __SSE2__
  const __m128i vm = _mm_set1_epi32((int)m);
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128((__m128i *)(d + i), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(s + i)), vm));
#endif
  /* The tail starts on a pixel boundary of the 4-byte pattern (i is a
   * multiple of 16), so byte i % 4 of the pattern is byte i's. */
  for (; i < n; i++) d[i] = (uint8_t)(s[i] ^ pattern[c - 1][i % 4]);
}

static void invert_rows(void *arg, int32_t y0, int32_t y1) {
  const two *j = arg;
  const int c = j->src->channels;
  const size_t n = (size_t)j->src->width * c;
  /* Both images packed: one run over all the rows. */
  if (pj_packed(j->src) && pj_packed(j->dst)) {
    invert_bytes(row_of(j->src, y0), row_of(j->dst, y0), n * (size_t)(y1 - y0), c);
    return;
  }
  for (int32_t y = y0; y < y1; y++) invert_bytes(row_of(j->src, y), row_of(j->dst, y), n, c);
}

pj_image *pj_image_invert(const pj_image *img) {
  if (!live(img)) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  return make_rows(img, img->width, img->height, 0, invert_rows, PJ_KERNEL_INVERT);
}
