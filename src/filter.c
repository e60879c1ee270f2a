/*
 * filter.c - the smoothing kernels: the normalised box filter (cv2.blur,
 * and the local mean of cv2.adaptiveThreshold) and the 8-bit Gaussian
 * (cv2.GaussianBlur).  Both are separable integer sums that end in
 * OpenCV's own rounding, so they match it byte for byte.
 *
 * Box: column sums slide down a band of rows (one row in, one out), a row
 * of them is extended by the border and summed kw wide, and the sum s of
 * the n = kw * kh pixels becomes a byte as OpenCV's 8-bit box filter does
 * it: for n <= 256, (s + dd) * ds >> 23 with its fixed-point reciprocal;
 * above, s / n rounded half to even, in float32 for the elements its AVX2
 * column loop covers (whole 16s of the row, then one 8) and in double for
 * the rest of the row.
 *
 * Gaussian: the kernel is OpenCV's (its binomial tables for k <= 9 with
 * sigma 0, else the sampled Gaussian), quantised to 8 fraction bits with
 * error diffusion.  Each output is sum(ky * sum(kx * s)) rounded at bit 16
 * with nothing rounded in between, so the passes may run in any order:
 * vertical first here, in 16 bits, then horizontal.  When every weight
 * shares a factor 2^z large enough that the whole sum fits 16 bits (the
 * 3x3 and 5x5 binomials), the horizontal pass stays in 16 bits too.
 *
 * The row loops are written once and compiled twice, for baseline x86-64
 * and for AVX2, so both produce the same bytes.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef PJ_X86_SIMD
#include <immintrin.h>
#endif

int32_t pj_border_index(int32_t p, int32_t n, int border) {
  if (p >= 0 && p < n) return p;
  if (border == PJ_BORDER_REPLICATE) return p < 0 ? 0 : n - 1;
  if (n == 1) return 0;
  /* Reflect about the first and the last pixel until inside. */
  while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
  return p;
}

int pj_check_kernel(const char *name, int32_t v) {
  if (v < 1 || v > PJ_MAX_KERNEL)
    return pj_fail(PJ_EARG, "%s must be 1 to %d, got %d", name, PJ_MAX_KERNEL, v);
  return PJ_OK;
}

static uint8_t *row_of(const pj_image *img, int32_t y) {
  return img->data + (size_t)y * img->stride;
}

/* The source pixels of the margins of a row extended left by `left` and
 * right by `right` pixels: map[0 .. left) then map[left .. left + right). */
static int32_t *margin_map(int32_t w, int32_t left, int32_t right, int border) {
  int32_t *map = malloc(sizeof *map * ((size_t)left + right + 1));
  if (!map) return NULL;
  for (int32_t i = 0; i < left; i++) map[i] = pj_border_index(i - left, w, border);
  for (int32_t i = 0; i < right; i++) map[left + i] = pj_border_index(w + i, w, border);
  return map;
}

/* ---- Box filter ------------------------------------------------------------------ */

typedef struct box_job {
  const pj_image *src;
  pj_image *dst;
  int32_t kw, kh;
  int border;
  const int32_t *map; /* margins: kw / 2 left, kw - 1 - kw / 2 right */
  uint32_t dd, ds;    /* n <= 256: the fixed-point reciprocal */
  float fscale;       /* n > 256: 1 / n in float and in double */
  double dscale;
  int32_t fsplit;     /* n > 256: elements before it round in float */
  pj_row_hook hook;
  void *hook_arg;
  bool failed;
} box_job;

/* The sums run in 16 bits when n <= 256 (at most 255 * 256) and in 32
 * otherwise; each step below has both. */
static inline __attribute__((always_inline)) void
box_add_rows16(uint16_t *col, const uint8_t *in, const uint8_t *out, int32_t n) {
  for (int32_t i = 0; i < n; i++) col[i] = (uint16_t)(col[i] + in[i] - out[i]);
}

static inline __attribute__((always_inline)) void
box_add_rows32(uint32_t *col, const uint8_t *in, const uint8_t *out, int32_t n) {
  for (int32_t i = 0; i < n; i++) col[i] = col[i] + in[i] - out[i];
}

/* acc[i] = sum of ext[i + t * c] for t < kw: tap by tap for narrow
 * windows (whole vectors a step), sliding one element in and one out per
 * channel for wide ones (one add a step, kept in a register). */
#ifdef PJ_X86_SIMD
/* The direct sums of box_hsum with the taps of 16 (or 8) outputs summed in
 * a register; returns how many leading outputs it wrote.  These helpers
 * end a row with one more block placed to end exactly at n, overlapping
 * the one before (their outputs do not feed their inputs), so only rows
 * shorter than a block take the scalar path. */
__attribute__((target("avx2"))) static int32_t hsum16_avx2(uint16_t *acc, const uint16_t *ext,
                                                           int32_t n, int32_t kw, int c) {
  int32_t i = 0;
  for (; i < n && n >= 16; i += 16) {
    if (i + 16 > n) i = n - 16;
    const uint16_t *e = ext + i;
    /* Two sums, so the adds do not wait on each other. */
    __m256i s = _mm256_loadu_si256((const __m256i *)e), u = _mm256_setzero_si256();
    int32_t t = 1;
    for (; t + 1 < kw; t += 2) {
      s = _mm256_add_epi16(s, _mm256_loadu_si256((const __m256i *)(e + (size_t)t * c)));
      u = _mm256_add_epi16(u, _mm256_loadu_si256((const __m256i *)(e + (size_t)(t + 1) * c)));
    }
    if (t < kw) s = _mm256_add_epi16(s, _mm256_loadu_si256((const __m256i *)(e + (size_t)t * c)));
    _mm256_storeu_si256((__m256i *)(acc + i), _mm256_add_epi16(s, u));
  }
  return i;
}

__attribute__((target("avx2"))) static int32_t hsum32_avx2(uint32_t *acc, const uint32_t *ext,
                                                           int32_t n, int32_t kw, int c) {
  int32_t i = 0;
  for (; i < n && n >= 8; i += 8) {
    if (i + 8 > n) i = n - 8;
    const uint32_t *e = ext + i;
    /* Two sums, so the adds do not wait on each other. */
    __m256i s = _mm256_loadu_si256((const __m256i *)e), u = _mm256_setzero_si256();
    int32_t t = 1;
    for (; t + 1 < kw; t += 2) {
      s = _mm256_add_epi32(s, _mm256_loadu_si256((const __m256i *)(e + (size_t)t * c)));
      u = _mm256_add_epi32(u, _mm256_loadu_si256((const __m256i *)(e + (size_t)(t + 1) * c)));
    }
    if (t < kw) s = _mm256_add_epi32(s, _mm256_loadu_si256((const __m256i *)(e + (size_t)t * c)));
    _mm256_storeu_si256((__m256i *)(acc + i), _mm256_add_epi32(s, u));
  }
  return i;
}
#endif

static inline __attribute__((always_inline)) void
box_hsum16(uint16_t *acc, const uint16_t *ext, int32_t n, int32_t kw, int c, bool avx2) {
  if (kw <= 32) {
    int32_t i0 = 0;
#ifdef PJ_X86_SIMD
    if (avx2) i0 = hsum16_avx2(acc, ext, n, kw, c);
#else
    (void)avx2;
#endif
    for (int32_t i = i0; i < n; i++) acc[i] = ext[i];
    for (int32_t t = 1; t < kw; t++) {
      const uint16_t *e = ext + (size_t)t * c;
      for (int32_t i = i0; i < n; i++) acc[i] = (uint16_t)(acc[i] + e[i]);
    }
    return;
  }
  const uint16_t *in = ext + (size_t)(kw - 1) * c;
  for (int k = 0; k < c && k < n; k++) {
    uint16_t s = 0;
    for (int32_t t = 0; t < kw; t++) s = (uint16_t)(s + ext[k + (size_t)t * c]);
    acc[k] = s;
    for (int32_t i = k + c; i < n; i += c) acc[i] = s = (uint16_t)(s + in[i] - ext[i - c]);
  }
}

static inline __attribute__((always_inline)) void
box_hsum32(uint32_t *acc, const uint32_t *ext, int32_t n, int32_t kw, int c, bool avx2) {
  if (kw <= 16) {
    int32_t i0 = 0;
#ifdef PJ_X86_SIMD
    if (avx2) i0 = hsum32_avx2(acc, ext, n, kw, c);
#else
    (void)avx2;
#endif
    for (int32_t i = i0; i < n; i++) acc[i] = ext[i];
    for (int32_t t = 1; t < kw; t++) {
      const uint32_t *e = ext + (size_t)t * c;
      for (int32_t i = i0; i < n; i++) acc[i] += e[i];
    }
    return;
  }
  const uint32_t *in = ext + (size_t)(kw - 1) * c;
  for (int k = 0; k < c && k < n; k++) {
    uint32_t s = 0;
    for (int32_t t = 0; t < kw; t++) s += ext[k + (size_t)t * c];
    acc[k] = s;
    for (int32_t i = k + c; i < n; i += c) acc[i] = s = s + in[i] - ext[i - c];
  }
}

static inline __attribute__((always_inline)) void
box_round16(uint8_t *d, const uint16_t *acc, int32_t n, const box_job *j, bool avx2) {
  (void)avx2; /* the vectoriser does this one */
  for (int32_t i = 0; i < n; i++) {
    const uint32_t v = ((acc[i] + j->dd) * j->ds) >> 23;
    d[i] = (uint8_t)(v > 255 ? 255 : v);
  }
}

#ifdef PJ_X86_SIMD
/* The float part of box_round32, 16 at a time (cvtps rounds half to
 * even, as lrintf does). */
__attribute__((target("avx2"))) static int32_t round32_avx2(uint8_t *d, const uint32_t *acc,
                                                            int32_t f, float scale) {
  const __m256 k = _mm256_set1_ps(scale);
  int32_t i = 0;
  for (; i + 16 <= f; i += 16) {
    const __m256i a = _mm256_cvtps_epi32(
        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc + i))), k));
    const __m256i b = _mm256_cvtps_epi32(
        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc + i + 8))), k));
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0x08);
    _mm_storeu_si128((__m128i *)(d + i), _mm256_castsi256_si128(p));
  }
  return i;
}
#endif

static inline __attribute__((always_inline)) void
box_round32(uint8_t *d, const uint32_t *acc, int32_t n, const box_job *j, bool avx2) {
  const int32_t f = j->fsplit < n ? j->fsplit : n;
  int32_t i0 = 0;
#ifdef PJ_X86_SIMD
  if (avx2) i0 = round32_avx2(d, acc, f, j->fscale);
#else
  (void)avx2;
#endif
  for (int32_t i = i0; i < f; i++) {
    const long v = lrintf((float)acc[i] * j->fscale);
    d[i] = (uint8_t)(v > 255 ? 255 : v);
  }
  for (int32_t i = f; i < n; i++) {
    const long v = lrint((double)acc[i] * j->dscale);
    d[i] = (uint8_t)(v > 255 ? 255 : v);
  }
}

/* Rows [y0, y1) of the box filter, with T-sized sums: the column sums,
 * the row of them extended by the border, the horizontal sums. */
#define BOX_BAND(T, bits)                                                                       \
  static inline __attribute__((always_inline)) void box_band##bits(box_job *j, int32_t y0,     \
                                                                     int32_t y1, bool avx2) {   \
    const pj_image *s = j->src;                                                                 \
    const int c = s->channels;                                                                  \
    const int32_t W = s->width, H = s->height, n = W * c, kw = j->kw, kh = j->kh;               \
    const int32_t left = kw / 2, margins = kw - 1, ay = kh / 2;                                 \
    T *mem = malloc(sizeof *mem * ((size_t)3 * n + (size_t)margins * c + 8));                   \
    if (!mem) {                                                                                 \
      j->failed = true;                                                                         \
      return;                                                                                   \
    }                                                                                           \
    T *col = mem, *acc = col + n, *ext = acc + n, *mid = ext + (size_t)left * c;                \
    memset(col, 0, sizeof *col * (size_t)n);                                                    \
    for (int32_t t = 0; t < kh; t++) {                                                          \
      const uint8_t *r = row_of(s, pj_border_index(y0 - ay + t, H, j->border));                 \
      for (int32_t i = 0; i < n; i++) col[i] = (T)(col[i] + r[i]);                              \
    }                                                                                           \
    for (int32_t y = y0; y < y1; y++) {                                                         \
      memcpy(mid, col, sizeof *col * (size_t)n);                                                \
      for (int32_t m = 0; m < margins; m++) {                                                   \
        T *q = m < left ? ext + (size_t)m * c : mid + (size_t)(W + m - left) * c;               \
        const T *p = col + (size_t)j->map[m] * c;                                               \
        for (int k = 0; k < c; k++) q[k] = p[k];                                                \
      }                                                                                         \
      box_hsum##bits(acc, ext, n, kw, c, avx2);                                                 \
      uint8_t *d = row_of(j->dst, y);                                                           \
      box_round##bits(d, acc, n, j, avx2);                                                      \
      if (j->hook) j->hook(j->hook_arg, y, d);                                                  \
      if (y + 1 < y1)                                                                           \
        box_add_rows##bits(col, row_of(s, pj_border_index(y + kh - ay, H, j->border)),          \
                           row_of(s, pj_border_index(y - ay, H, j->border)), n);                \
    }                                                                                           \
    free(mem);                                                                                  \
  }
BOX_BAND(uint16_t, 16)
BOX_BAND(uint32_t, 32)

static inline __attribute__((always_inline)) void box_band_body(box_job *j, int32_t y0,
                                                                int32_t y1, bool avx2) {
  if ((int64_t)j->kw * j->kh <= 256) box_band16(j, y0, y1, avx2);
  else box_band32(j, y0, y1, avx2);
}

static void box_band(void *arg, int32_t y0, int32_t y1) { box_band_body(arg, y0, y1, false); }

#ifdef PJ_X86_SIMD
__attribute__((target("avx2"))) static void box_band_avx2(void *arg, int32_t y0, int32_t y1) {
  box_band_body(arg, y0, y1, true);
}
#endif

int pj_box_filter(const pj_image *src, pj_image *dst, int32_t kw, int32_t kh, int border,
                  pj_row_hook hook, void *hook_arg) {
  box_job j = {.src = src, .dst = dst, .kw = kw, .kh = kh, .border = border,
               .hook = hook, .hook_arg = hook_arg};
  const int64_t n = (int64_t)kw * kh;
  if (n == 1) { /* OpenCV does not scale a sum of one */
    j.ds = 1u << 23;
  } else if (n <= 256) {
    /* OpenCV's reciprocal: floor or ceil of 2^23 / n, whichever is
     * nearer, with the rounding offset nudged to match. */
    double f = (double)(1 << 23) / (double)n;
    j.ds = (uint32_t)floor(f);
    f -= j.ds;
    j.dd = (uint32_t)(n / 2);
    if (f < 0.5) j.dd++;
    else j.ds++;
  } else {
    j.dscale = 1.0 / (double)n;
    j.fscale = (float)j.dscale;
    const int32_t row = src->width * src->channels;
    j.fsplit = row / 16 * 16 + (row % 16 >= 8 ? 8 : 0);
  }
  int32_t *map = margin_map(src->width, kw / 2, kw - 1 - kw / 2, border);
  if (!map) return pj_fail(PJ_ENOMEM, "out of memory");
  j.map = map;
  pj_rows_fn fn = box_band;
#ifdef PJ_X86_SIMD
  if (pj_cpu_avx2()) fn = box_band_avx2;
#endif
  const size_t work = (size_t)src->width * src->height * src->channels * 8;
  pj_rows(dst->height, work, fn, &j);
  free(map);
  return j.failed ? pj_fail(PJ_ENOMEM, "out of memory") : PJ_OK;
}

static bool live(const pj_image *img) { return img && img->data; }

pj_image *pj_image_blur(const pj_image *img, int32_t kw, int32_t kh) {
  if (!live(img)) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (pj_check_kernel("kw", kw) || pj_check_kernel("kh", kh)) return NULL;
  int64_t t0 = pj_clock_ns();
  pj_image *out = pj_image_alloc(img->width, img->height, img->channels);
  if (!out) return NULL;
  int rc = kw == 1 && kh == 1 ? pj_copy_pixels(img, out)
                              : pj_box_filter(img, out, kw, kh, PJ_BORDER_REFLECT_101, NULL, NULL);
  if (rc) {
    pj_image_release(out);
    return NULL;
  }
  pj_stats_add(PJ_KERNEL_BLUR, t0, pj_pixels_of(out));
  return out;
}

/* ---- Gaussian kernel --------------------------------------------------------------- */

int pj_gaussian_size(int32_t k, double sigma, int32_t *size) {
  if (isnan(sigma)) return pj_fail(PJ_EARG, "sigma must be a number >= 0, got nan");
  if (!(sigma >= 0) || sigma > 1e6)
    return pj_fail(PJ_EARG, "sigma must be a number >= 0 and <= 1e6, got %g", sigma);
  if (k == 0) {
    if (sigma <= 0) return pj_fail(PJ_EARG, "k must be odd and >= 1 (0 needs a sigma > 0), got 0");
    const double v = nearbyint(sigma * 3 * 2 + 1);
    if (v > PJ_MAX_KERNEL)
      return pj_fail(PJ_EARG, "sigma %g needs a kernel over %d wide", sigma, PJ_MAX_KERNEL);
    k = (int32_t)v | 1;
  }
  if (k < 1 || k > PJ_MAX_KERNEL || k % 2 == 0)
    return pj_fail(PJ_EARG, "k must be odd and 1 to %d, got %d", PJ_MAX_KERNEL, k);
  *size = k;
  return PJ_OK;
}

void pj_gaussian_kernel(int32_t k, double sigma, double *w) {
  static const double binomial[5][9] = {
      {1},
      {0.25, 0.5, 0.25},
      {0.0625, 0.25, 0.375, 0.25, 0.0625},
      {0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125},
      {4 / 256., 13 / 256., 30 / 256., 51 / 256., 60 / 256., 51 / 256., 30 / 256., 13 / 256.,
       4 / 256.}};
  if (sigma <= 0 && k <= 9) {
    memcpy(w, binomial[k / 2], sizeof *w * (size_t)k);
    return;
  }
  const double sx = sigma > 0 ? sigma : fma((double)k, 0.15, 0.35);
  const double scale2 = -0.125 / (sx * sx);
  const int32_t half = (k - 1) / 2;
  double sum = 0;
  for (int32_t i = 0, x = 1 - k; i < half; i++, x += 2) {
    w[i] = exp((double)x * x * scale2);
    sum += w[i];
  }
  sum = sum * 2 + 1;
  const double mul = 1 / sum;
  for (int32_t i = 0; i < half; i++) w[k - 1 - i] = w[i] = w[i] * mul;
  w[half] = mul;
}

/* The kernel in 8 fraction bits, rounding with the error carried from
 * the outside in and the centre taking what makes the sum exactly 256. */
static void gaussian_fixed(int32_t k, double sigma, uint16_t *q) {
  double *w = malloc(sizeof *w * (size_t)k);
  if (!w) { /* a kernel of PJ_MAX_KERNEL doubles; degrade to the centre */
    for (int32_t i = 0; i < k; i++) q[i] = i == k / 2 ? 256 : 0;
    return;
  }
  pj_gaussian_kernel(k, sigma, w);
  double err = 0;
  int32_t sum = 0;
  for (int32_t i = 0; i < k / 2; i++) {
    const double adj = w[i] * 256 + err;
    const double v = nearbyint(adj);
    err = adj - v;
    q[i] = q[k - 1 - i] = (uint16_t)v;
    sum += (int32_t)v;
  }
  q[k / 2] = (uint16_t)(256 - 2 * sum);
  free(w);
}

/* ---- Gaussian blur ------------------------------------------------------------------- */

typedef struct gauss_job {
  const pj_image *src;
  pj_image *dst;
  int32_t k;
  const uint16_t *q;  /* weights, 8 fraction bits (or reduced by 2^z) */
  int shift;          /* output = (sum + (1 << (shift - 1))) >> shift */
  bool narrow;        /* the whole sum fits 16 bits */
  const int32_t *map; /* margins: k / 2 pixels each side */
  bool failed;
} gauss_job;

#ifdef PJ_X86_SIMD
/* The passes below for 16 outputs a step, every tap summed in registers;
 * each returns how many leading outputs it wrote. */
__attribute__((target("avx2"))) static int32_t gauss_vertical_avx2(uint16_t *v,
                                                                   const uint8_t *const *rows,
                                                                   const uint16_t *q, int32_t k,
                                                                   int32_t n) {
  const int32_t h = k / 2;
  int32_t i = 0;
  for (; i < n && n >= 16; i += 16) {
    if (i + 16 > n) i = n - 16;
    __m256i s = _mm256_mullo_epi16(
        _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(rows[h] + i))),
        _mm256_set1_epi16((int16_t)q[h]));
    for (int32_t t = 0; t < h; t++) {
      const __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(rows[t] + i)));
      const __m256i b =
          _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(rows[k - 1 - t] + i)));
      s = _mm256_add_epi16(s, _mm256_mullo_epi16(_mm256_add_epi16(a, b),
                                                 _mm256_set1_epi16((int16_t)q[t])));
    }
    _mm256_storeu_si256((__m256i *)(v + i), s);
  }
  return i;
}

/* 16 words to 16 bytes, in order. */
__attribute__((target("avx2"))) static inline void store16_u8(uint8_t *d, __m256i w) {
  const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0x08);
  _mm_storeu_si128((__m128i *)d, _mm256_castsi256_si128(p));
}

__attribute__((target("avx2"))) static int32_t gauss_h16_avx2(uint8_t *d, const uint16_t *ext,
                                                              const uint16_t *q, int32_t k,
                                                              int sh, int32_t n, int c) {
  const int32_t h = k / 2;
  const __m256i half = _mm256_set1_epi16((int16_t)(sh ? 1 << (sh - 1) : 0));
  const __m128i count = _mm_cvtsi32_si128(sh);
  int32_t i = 0;
  for (; i < n && n >= 16; i += 16) {
    if (i + 16 > n) i = n - 16;
    const uint16_t *e = ext + i;
    __m256i s = _mm256_mullo_epi16(_mm256_loadu_si256((const __m256i *)(e + (size_t)h * c)),
                                   _mm256_set1_epi16((int16_t)q[h]));
    for (int32_t t = 0; t < h; t++) {
      const __m256i a = _mm256_loadu_si256((const __m256i *)(e + (size_t)t * c));
      const __m256i b = _mm256_loadu_si256((const __m256i *)(e + (size_t)(k - 1 - t) * c));
      s = _mm256_add_epi16(s, _mm256_mullo_epi16(_mm256_add_epi16(a, b),
                                                 _mm256_set1_epi16((int16_t)q[t])));
    }
    store16_u8(d + i, _mm256_srl_epi16(_mm256_add_epi16(s, half), count));
  }
  return i;
}

/* 32-bit sums through pmaddwd, which multiplies signed words: the
 * 16-bit values go in less 32768, and as the weights sum to 256 the sum
 * comes out 32768 * 256 short, added back before rounding. */
__attribute__((target("avx2"))) static int32_t gauss_h32_avx2(uint8_t *d, uint16_t *ext,
                                                              const uint16_t *q, int32_t k,
                                                              int32_t n, int c) {
  const int32_t h = k / 2;
  if (n < 16) return 0;
  /* Flipped once in place (the row is used up here). */
  const size_t ext_n = (size_t)n + (size_t)(k - 1) * c;
  const __m256i flip = _mm256_set1_epi16((int16_t)0x8000);
  size_t e0 = 0;
  for (; e0 + 16 <= ext_n; e0 += 16) {
    __m256i *p = (__m256i *)(ext + e0);
    _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), flip));
  }
  for (; e0 < ext_n; e0++) ext[e0] ^= 0x8000;
  const __m256i bias = _mm256_set1_epi32(32768 * 256 + 32768);
  int32_t i = 0;
  for (; i < n; i += 16) {
    if (i + 16 > n) i = n - 16;
    const uint16_t *e = ext + i;
    const __m256i m = _mm256_loadu_si256((const __m256i *)(e + (size_t)h * c));
    const __m256i wm = _mm256_set1_epi32(q[h]);
    __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(m, m), wm);
    __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(m, m), wm);
    for (int32_t t = 0; t < h; t++) {
      if (!q[t]) continue;
      const __m256i a = _mm256_loadu_si256((const __m256i *)(e + (size_t)t * c));
      const __m256i b = _mm256_loadu_si256((const __m256i *)(e + (size_t)(k - 1 - t) * c));
      const __m256i w = _mm256_set1_epi32(q[t] * 0x10001);
      lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w));
      hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w));
    }
    lo = _mm256_srai_epi32(_mm256_add_epi32(lo, bias), 16);
    hi = _mm256_srai_epi32(_mm256_add_epi32(hi, bias), 16);
    store16_u8(d + i, _mm256_packs_epi32(lo, hi));
  }
  return n;
}
#endif

/* v = sum of q[t] * rows[t][i]: 16 bits hold it (q sums to 256 at most). */
static inline __attribute__((always_inline)) void
gauss_vertical(uint16_t *v, const uint8_t *const *rows, const uint16_t *q, int32_t k, int32_t n,
               bool avx2) {
  const int32_t h = k / 2;
  const uint8_t *mid = rows[h];
  int32_t i0 = 0;
#ifdef PJ_X86_SIMD
  if (avx2) i0 = gauss_vertical_avx2(v, rows, q, k, n);
#else
  (void)avx2;
#endif
  for (int32_t i = i0; i < n; i++) v[i] = (uint16_t)(q[h] * mid[i]);
  for (int32_t t = 0; t < h; t++) {
    const uint8_t *a = rows[t], *b = rows[k - 1 - t];
    const uint16_t w = q[t];
    if (!w) continue;
    for (int32_t i = i0; i < n; i++) v[i] = (uint16_t)(v[i] + w * (a[i] + b[i]));
  }
}

static inline __attribute__((always_inline)) void
gauss_horizontal16(uint8_t *d, uint16_t *acc, const uint16_t *ext, const gauss_job *j, int32_t n,
                   int c, bool avx2) {
  const int32_t k = j->k, h = k / 2;
  const int sh = j->shift;
  int32_t i0 = 0;
#ifdef PJ_X86_SIMD
  if (avx2) i0 = gauss_h16_avx2(d, ext, j->q, k, sh, n, c);
#else
  (void)avx2;
#endif
  const uint16_t *mid = ext + (size_t)h * c;
  for (int32_t i = i0; i < n; i++) acc[i] = (uint16_t)(j->q[h] * mid[i]);
  for (int32_t t = 0; t < h; t++) {
    const uint16_t *a = ext + (size_t)t * c, *b = ext + (size_t)(k - 1 - t) * c, w = j->q[t];
    for (int32_t i = i0; i < n; i++) acc[i] = (uint16_t)(acc[i] + w * (a[i] + b[i]));
  }
  const uint16_t half = (uint16_t)(sh ? 1u << (sh - 1) : 0);
  for (int32_t i = i0; i < n; i++) d[i] = (uint8_t)((acc[i] + half) >> sh);
}

static inline __attribute__((always_inline)) void
gauss_horizontal32(uint8_t *d, uint32_t *acc, uint16_t *ext, const gauss_job *j, int32_t n,
                   int c, bool avx2) {
  const int32_t k = j->k, h = k / 2;
  int32_t i0 = 0;
#ifdef PJ_X86_SIMD
  if (avx2) i0 = gauss_h32_avx2(d, ext, j->q, k, n, c);
#else
  (void)avx2;
#endif
  const uint16_t *mid = ext + (size_t)h * c;
  for (int32_t i = i0; i < n; i++) acc[i] = (uint32_t)j->q[h] * mid[i];
  for (int32_t t = 0; t < h; t++) {
    const uint16_t *a = ext + (size_t)t * c, *b = ext + (size_t)(k - 1 - t) * c;
    const uint32_t w = j->q[t];
    if (!w) continue;
    for (int32_t i = i0; i < n; i++) acc[i] += w * ((uint32_t)a[i] + b[i]);
  }
  for (int32_t i = i0; i < n; i++) d[i] = (uint8_t)((acc[i] + 32768u) >> 16);
}

static inline __attribute__((always_inline)) void
gauss_band_body(gauss_job *j, int32_t y0, int32_t y1, bool avx2) {
  const pj_image *s = j->src;
  const int c = s->channels;
  const int32_t W = s->width, H = s->height, n = W * c, k = j->k, h = k / 2;
  const size_t ext_n = (size_t)(W + k - 1) * c;
  /* One block: row pointers, then the extended row, then the sums. */
  const size_t ptrs = (sizeof(void *) * k + 63) / 64 * 64, exts = (2 * ext_n + 63) / 64 * 64;
  uint8_t *mem = malloc(ptrs + exts + sizeof(uint32_t) * n);
  if (!mem) {
    j->failed = true;
    return;
  }
  const uint8_t **rows = (const uint8_t **)mem;
  uint16_t *ext = (uint16_t *)(mem + ptrs), *mid = ext + (size_t)h * c;
  void *acc = mem + ptrs + exts;
  for (int32_t y = y0; y < y1; y++) {
    for (int32_t t = 0; t < k; t++)
      rows[t] = row_of(s, pj_border_index(y - h + t, H, PJ_BORDER_REFLECT_101));
    gauss_vertical(mid, rows, j->q, k, n, avx2);
    for (int32_t m = 0; m < 2 * h; m++) {
      uint16_t *q = m < h ? ext + (size_t)m * c : mid + (size_t)(W + m - h) * c;
      const uint16_t *p = mid + (size_t)j->map[m] * c;
      for (int e = 0; e < c; e++) q[e] = p[e];
    }
    uint8_t *d = row_of(j->dst, y);
    if (j->narrow) gauss_horizontal16(d, acc, ext, j, n, c, avx2);
    else gauss_horizontal32(d, acc, ext, j, n, c, avx2);
  }
  free(mem);
}

static void gauss_band(void *arg, int32_t y0, int32_t y1) { gauss_band_body(arg, y0, y1, false); }

#ifdef PJ_X86_SIMD
__attribute__((target("avx2"))) static void gauss_band_avx2(void *arg, int32_t y0, int32_t y1) {
  gauss_band_body(arg, y0, y1, true);
}
#endif

pj_image *pj_image_gaussian_blur(const pj_image *img, int32_t k, double sigma) {
  if (!live(img)) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (pj_gaussian_size(k, sigma, &k)) return NULL;
  int64_t t0 = pj_clock_ns();
  pj_image *out = pj_image_alloc(img->width, img->height, img->channels);
  if (!out) return NULL;
  uint16_t *q = malloc(sizeof *q * (size_t)k);
  int32_t *map = margin_map(img->width, k / 2, k / 2, PJ_BORDER_REFLECT_101);
  gauss_job j = {.src = img, .dst = out, .k = k, .q = q, .shift = 16, .map = map};
  int rc = PJ_OK;
  if (!q || !map) {
    rc = pj_fail(PJ_ENOMEM, "out of memory");
  } else if (k == 1) {
    rc = pj_copy_pixels(img, out);
  } else {
    gaussian_fixed(k, sigma, q);
    /* Common factor 2^z of the weights: with a = 256 >> z, the whole sum
     * is at most 255 * a * a. */
    int z = 8;
    for (int32_t i = 0; i < k; i++)
      while (z > 0 && q[i] % (1 << z)) z--;
    if (255 * (256 >> z) * (256 >> z) <= 65535) {
      for (int32_t i = 0; i < k; i++) q[i] >>= z;
      j.narrow = true;
      j.shift = 16 - 2 * z;
    }
    pj_rows_fn fn = gauss_band;
#ifdef PJ_X86_SIMD
    if (pj_cpu_avx2()) fn = gauss_band_avx2;
#endif
    pj_rows(out->height, (size_t)img->width * img->height * img->channels * 4, fn, &j);
    if (j.failed) rc = pj_fail(PJ_ENOMEM, "out of memory");
  }
  free(q);
  free(map);
  if (rc) {
    pj_image_release(out);
    return NULL;
  }
  pj_stats_add(PJ_KERNEL_GAUSSIAN_BLUR, t0, pj_pixels_of(out));
  return out;
}
