/*
 * threshold.c - global thresholds (cv2.threshold, with Otsu's choice of
 * level) and adaptive ones (cv2.adaptiveThreshold: each pixel against the
 * mean, or the Gaussian-weighted mean, of the block around it, less c).
 *
 * The global threshold works on every channel, as OpenCV's does; the
 * level is floored and the maximum rounded to a byte first, and levels
 * outside 0..254 fill or copy as OpenCV does.  Otsu's level comes from a
 * histogram counted in parallel and OpenCV's own double-precision scan.
 *
 * The adaptive mean is the box filter of filter.c with replicated
 * borders; the Gaussian one is OpenCV's float path (the image in float,
 * the float kernel, rounded back to a byte), whose sums may round a unit
 * apart from OpenCV's in the last place now and then.  Each row is
 * compared as soon as its mean is made.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef PJ_X86_SIMD
#include <immintrin.h>
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static uint8_t *row_of(const pj_image *img, int32_t y) {
  return img->data + (size_t)y * img->stride;
}

static uint8_t byte_of(double v) {
  const double r = nearbyint(v);
  return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

/* ---- Otsu ------------------------------------------------------------------------ */

typedef struct hist_job {
  const pj_image *img;
  uint64_t h[256];
} hist_job;

static void hist_rows(void *arg, int32_t y0, int32_t y1) {
  hist_job *j = arg;
  /* Four tables, so neighbouring equal bytes do not wait on each other. */
  uint32_t h[4][256];
  memset(h, 0, sizeof h);
  const int32_t n = j->img->width;
  for (int32_t y = y0; y < y1; y++) {
    const uint8_t *s = row_of(j->img, y);
    int32_t x = 0;
#ifdef __SSE2__
    /* A rendered page is mostly runs of one grey (paper, ink), where 16
     * equal bytes count at once.  A scan's paper is noise, so after a
     * block that is not one grey the next 8 go uncompared. */
    int32_t skip = 0;
    for (; x + 16 <= n; x += 16) {
      if (skip == 0) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(s + x));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)s[x]))) == 0xFFFF) {
          h[0][s[x]] += 16;
          continue;
        }
        skip = 8;
      } else {
        skip--;
      }
      for (int32_t k = x; k < x + 16; k += 4)
        h[0][s[k]]++, h[1][s[k + 1]]++, h[2][s[k + 2]]++, h[3][s[k + 3]]++;
    }
#endif
    for (; x + 4 <= n; x += 4) h[0][s[x]]++, h[1][s[x + 1]]++, h[2][s[x + 2]]++, h[3][s[x + 3]]++;
    for (; x < n; x++) h[0][s[x]]++;
  }
  /* One merge a band. */
#pragma omp critical
  for (int v = 0; v < 256; v++) j->h[v] += h[0][v] + h[1][v] + h[2][v] + h[3][v];
}

/* The level maximising the between-class variance, scanned exactly as
 * OpenCV scans it (the running mean is scaled before the empty-class
 * test, so the order of operations matters). */
static double otsu_level(const pj_image *img) {
  hist_job j = {.img = img};
  pj_rows(img->height, (size_t)img->width * img->height, hist_rows, &j);
  const uint64_t *h = j.h;
  const double scale = 1. / ((double)img->width * img->height);
  /* Only the levels from the first grey present to the last: before it
   * q1 is 0 and mu1 stays 0, from it on q2 is below FLT_EPSILON (q1 sums
   * to 1 within 256 roundings), so both skip every level as cv2 does;
   * adding a bin's 0 changes no sum.  Each level costs two dependent
   * divisions, the most of a small image's time. */
  int lo = 0, hi = 255;
  while (lo < 255 && !h[lo]) lo++;
  while (hi > lo && !h[hi]) hi--;
  double mu = 0;
  for (int i = lo; i <= hi; i++) mu += i * (double)h[i];
  mu *= scale;
  double mu1 = 0, q1 = 0, max_sigma = 0, max_val = 0;
  for (int i = lo; i <= hi; i++) {
    const double p = (double)h[i] * scale;
    mu1 *= q1;
    q1 += p;
    const double q2 = 1. - q1;
    /* fmin(q1, q2) < eps || fmax(q1, q2) > 1 - eps, for the numbers (never
     * NaN) that they are, without two calls into libm per level. */
    if (q1 < FLT_EPSILON || q2 < FLT_EPSILON || q1 > 1. - FLT_EPSILON || q2 > 1. - FLT_EPSILON) continue;
    mu1 = (mu1 + i * p) / q1;
    const double mu2 = (mu - q1 * mu1) / q2;
    const double sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
    if (sigma > max_sigma) max_sigma = sigma, max_val = i;
  }
  return max_val;
}

/* ---- Global threshold ---------------------------------------------------------------- */

typedef struct thresh_job {
  const pj_image *src;
  pj_image *dst;
  int type;
  uint8_t t, maxval;
} thresh_job;

/* Bytes [i, n) one at a time (t is 0..254 here). */
static void thresh_tail(uint8_t *d, const uint8_t *s, size_t i, size_t n, uint8_t t, uint8_t m,
                        int type) {
  for (; i < n; i++) {
    const bool above = s[i] > t;
    switch (type) {
    case PJ_THRESH_BINARY: d[i] = above ? m : 0; break;
    case PJ_THRESH_BINARY_INV: d[i] = above ? 0 : m; break;
    case PJ_THRESH_TRUNC: d[i] = above ? t : s[i]; break;
    case PJ_THRESH_TOZERO: d[i] = above ? s[i] : 0; break;
    default: d[i] = above ? 0 : s[i]; break;
    }
  }
}

/* s > t as a byte mask, from max(s, t + 1) == s (unsigned bytes have no
 * greater-than compare); then each type is one and, andnot or min.  One
 * loop per type, so the loop body has no branch. */
#define THRESH_LOOP(V, load, store, W, expr)                                                  \
  for (; i + W <= n; i += W) {                                                                \
    const V v = load((const V *)(s + i));                                                     \
    const V above = CMPEQ(MAX(v, t1), v);                                                     \
    (void)above;                                                                              \
    store((V *)(d + i), expr);                                                                \
  }
#define THRESH_STEP(V, load, store, set1, W)                                                  \
  do {                                                                                        \
    const V t1 = set1((char)(t + 1)), vt = set1((char)t), vm = set1((char)m);                \
    switch (type) {                                                                           \
    case PJ_THRESH_BINARY: THRESH_LOOP(V, load, store, W, AND(above, vm)) break;              \
    case PJ_THRESH_BINARY_INV: THRESH_LOOP(V, load, store, W, ANDNOT(above, vm)) break;       \
    case PJ_THRESH_TRUNC: THRESH_LOOP(V, load, store, W, MIN(v, vt)) break;                   \
    case PJ_THRESH_TOZERO: THRESH_LOOP(V, load, store, W, AND(above, v)) break;               \
    default: THRESH_LOOP(V, load, store, W, ANDNOT(above, v)) break;                          \
    }                                                                                         \
  } while (0)

static void thresh_run(uint8_t *d, const uint8_t *s, size_t n, uint8_t t, uint8_t m, int type) {
  size_t i = 0;
#ifdef __SSE2__
#define CMPEQ _mm_cmpeq_epi8
#define MAX _mm_max_epu8
#define MIN _mm_min_epu8
#define AND _mm_and_si128
#define ANDNOT _mm_andnot_si128
  THRESH_STEP(__m128i, _mm_loadu_si128, _mm_storeu_si128, _mm_set1_epi8, 16);
#undef CMPEQ
#undef MAX
#undef MIN
#undef AND
#undef ANDNOT
#endif
  thresh_tail(d, s, i, n, t, m, type);
}

#ifdef PJ_X86_SIMD
__attribute__((target("avx2"))) static void thresh_run_avx2(uint8_t *d, const uint8_t *s, size_t n,
                                                           uint8_t t, uint8_t m, int type) {
  size_t i = 0;
#define CMPEQ _mm256_cmpeq_epi8
#define MAX _mm256_max_epu8
#define MIN _mm256_min_epu8
#define AND _mm256_and_si256
#define ANDNOT _mm256_andnot_si256
  THRESH_STEP(__m256i, _mm256_loadu_si256, _mm256_storeu_si256, _mm256_set1_epi8, 32);
#undef CMPEQ
#undef MAX
#undef MIN
#undef AND
#undef ANDNOT
  thresh_tail(d, s, i, n, t, m, type);
}
#endif
#undef THRESH_STEP
#undef THRESH_LOOP

static void thresh_rows(void *arg, int32_t y0, int32_t y1) {
  const thresh_job *j = arg;
  void (*run)(uint8_t *, const uint8_t *, size_t, uint8_t, uint8_t, int) = thresh_run;
#ifdef PJ_X86_SIMD
  if (pj_cpu_avx2()) run = thresh_run_avx2;
#endif
  const size_t n = (size_t)j->src->width * j->src->channels;
  /* Both images packed: one run over all the rows. */
  if (pj_packed(j->src) && pj_packed(j->dst)) {
    run(row_of(j->dst, y0), row_of(j->src, y0), n * (size_t)(y1 - y0), j->t, j->maxval, j->type);
    return;
  }
  for (int32_t y = y0; y < y1; y++) run(row_of(j->dst, y), row_of(j->src, y), n, j->t, j->maxval, j->type);
}

static void fill_rows(void *arg, int32_t y0, int32_t y1) {
  const thresh_job *j = arg;
  const size_t n = (size_t)j->dst->width * j->dst->channels;
  for (int32_t y = y0; y < y1; y++) memset(row_of(j->dst, y), j->maxval, n);
}

pj_image *pj_image_threshold(const pj_image *img, double thresh, double maxval, int type,
                             double *used) {
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  const int base = type & ~PJ_THRESH_OTSU;
  if (base < PJ_THRESH_BINARY || base > PJ_THRESH_TOZERO_INV)
    return pj_fail_null(PJ_EARG, "unknown threshold type %d", type);
  if ((type & PJ_THRESH_OTSU) && img->channels != 1)
    return pj_fail_null(PJ_EARG, "otsu needs a 1-channel image, got %d channels", img->channels);
  if (!isfinite(maxval)) return pj_fail_null(PJ_EARG, "maxval must be a finite number");
  if (!(type & PJ_THRESH_OTSU) && isnan(thresh))
    return pj_fail_null(PJ_EARG, "thresh must be a number, got nan");
  int64_t t0 = pj_clock_ns();
  pj_image *out = pj_image_alloc(img->width, img->height, img->channels);
  if (!out) return NULL;
  if (type & PJ_THRESH_OTSU) thresh = otsu_level(img);
  const double level = floor(thresh);
  if (used) *used = level;
  /* The maximum rounds half to even; a truncation's maximum is the level. */
  const uint8_t m = byte_of(base == PJ_THRESH_TRUNC ? level : maxval);
  thresh_job j = {.src = img, .dst = out, .type = base, .maxval = m};
  const size_t work = (size_t)img->width * img->height * img->channels * 2;
  if (level < 0 || level >= 255) {
    /* Every byte is on one side: a constant or the image itself. */
    const bool high = level >= 255;
    const bool fills = base == PJ_THRESH_BINARY || base == PJ_THRESH_BINARY_INV ||
                       ((base == PJ_THRESH_TRUNC || base == PJ_THRESH_TOZERO_INV) && !high) ||
                       (base == PJ_THRESH_TOZERO && high);
    if (fills) {
      j.maxval = base == PJ_THRESH_BINARY ? (high ? 0 : m) : base == PJ_THRESH_BINARY_INV ? (high ? m : 0) : 0;
      pj_rows(out->height, work, fill_rows, &j);
    } else {
      pj_copy_pixels(img, out);
    }
  } else {
    j.t = (uint8_t)level;
    pj_rows(out->height, work, thresh_rows, &j);
  }
  pj_stats_add(PJ_KERNEL_THRESHOLD, t0, pj_pixels_of(out));
  return out;
}

/* ---- Adaptive threshold -------------------------------------------------------------- */

typedef struct adapt_job {
  const pj_image *src;
  pj_image *dst;
  int32_t block;
  int delta;        /* src - mean > -delta passes (binary) */
  uint8_t on, off;  /* bytes for passing and failing */
  float *kernel;    /* Gaussian weights (float) */
  bool failed;
} adapt_job;

/* d[x] = on where s[x] + delta > mean[x], else off; d may be mean. */
static inline __attribute__((always_inline)) void
adapt_compare(const adapt_job *j, const uint8_t *s, const uint8_t *mean, uint8_t *d, int32_t x0) {
  for (int32_t x = x0; x < j->src->width; x++) d[x] = s[x] + j->delta > mean[x] ? j->on : j->off;
}

#ifdef PJ_X86_SIMD
/* 16 pixels a step in 16-bit lanes, where s + delta cannot overflow. */
__attribute__((target("avx2"))) static int32_t adapt_compare_avx2(const adapt_job *j,
                                                                  const uint8_t *s,
                                                                  const uint8_t *mean, uint8_t *d) {
  const int32_t n = j->src->width;
  const __m256i delta = _mm256_set1_epi16((int16_t)j->delta);
  const __m256i on = _mm256_set1_epi16(j->on), off = _mm256_set1_epi16(j->off);
  int32_t x = 0;
  for (; x + 16 <= n; x += 16) {
    const __m256i a = _mm256_add_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(s + x))), delta);
    const __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(mean + x)));
    const __m256i r = _mm256_blendv_epi8(off, on, _mm256_cmpgt_epi16(a, m));
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(r, r), 0x08);
    _mm_storeu_si128((__m128i *)(d + x), _mm256_castsi256_si128(p));
  }
  return x;
}
#endif

static void compare_row(const adapt_job *j, const uint8_t *s, const uint8_t *mean, uint8_t *d) {
  int32_t x = 0;
#ifdef PJ_X86_SIMD
  if (pj_cpu_avx2()) x = adapt_compare_avx2(j, s, mean, d);
#endif
  adapt_compare(j, s, mean, d, x);
}

/* Turns a row holding the mean into the thresholded row. */
static void adapt_hook(void *arg, int32_t y, uint8_t *row) {
  const adapt_job *j = arg;
  compare_row(j, row_of(j->src, y), row, row);
}

/* The float Gaussian in OpenCV's order, which its AVX2 code fixes: the
 * row pass sums every tap left to right with fused multiply-adds for
 * whole groups of 8 outputs and with separate multiplies and adds for the
 * rest; the column pass starts from the centre row and adds the pairs of
 * rows from the centre outwards, fused for whole groups of 16. */
#ifdef PJ_X86_SIMD
__attribute__((target("avx2,fma"))) static void row_fma_avx2(const float *ext, const float *kx,
                                                            int32_t k, int32_t vec, float *out) {
  for (int32_t x = 0; x < vec; x += 8) {
    __m256 s = _mm256_setzero_ps();
    for (int32_t t = 0; t < k; t++)
      s = _mm256_fmadd_ps(_mm256_loadu_ps(ext + x + t), _mm256_set1_ps(kx[t]), s);
    _mm256_storeu_ps(out + x, s);
  }
}

/* Floats rounded half to even and saturated to bytes, 16 at a time. */
__attribute__((target("avx2"))) static int32_t round_f_avx2(uint8_t *d, const float *v, int32_t n) {
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = _mm256_cvtps_epi32(_mm256_loadu_ps(v + i));
    const __m256i b = _mm256_cvtps_epi32(_mm256_loadu_ps(v + i + 8));
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0x08);
    _mm_storeu_si128((__m128i *)(d + i), _mm256_castsi256_si128(p));
  }
  return i;
}

__attribute__((target("avx2,fma"))) static void col_fma_avx2(float *sum, const float *a,
                                                            const float *b, float w,
                                                            int32_t vec) {
  const __m256 vw = _mm256_set1_ps(w);
  for (int32_t x = 0; x < vec; x += 8) {
    const __m256 p = _mm256_add_ps(_mm256_loadu_ps(a + x), _mm256_loadu_ps(b + x));
    _mm256_storeu_ps(sum + x, _mm256_fmadd_ps(p, vw, _mm256_loadu_ps(sum + x)));
  }
}
#endif

/* One source row filtered horizontally into out (w floats), borders
 * replicated; ext holds w + k - 1 floats. */
static void gauss_row_f(const uint8_t *s, int32_t w, const float *kx, int32_t k, float *ext,
                        float *out, bool avx2) {
  const int32_t h = k / 2, vec = w / 8 * 8;
  for (int32_t i = 0; i < h; i++) ext[i] = s[0], ext[h + w + i] = s[w - 1];
  for (int32_t x = 0; x < w; x++) ext[h + x] = s[x];
  int32_t x = 0;
#ifdef PJ_X86_SIMD
  if (avx2) row_fma_avx2(ext, kx, k, vec, out), x = vec;
#else
  (void)avx2;
#endif
  for (; x < w; x++) {
    const float *e = ext + x;
    float v;
    if (x < vec) {
      v = 0;
      for (int32_t t = 0; t < k; t++) v = fmaf(e[t], kx[t], v);
    } else {
      v = kx[0] * e[0];
      for (int32_t t = 1; t < k; t++) v += kx[t] * e[t];
    }
    out[x] = v;
  }
}

static void gauss_col_f(float *sum, const float *a, const float *b, float w, int32_t n,
                        bool avx2) {
  const int32_t vec = n / 16 * 16;
  int32_t x = 0;
#ifdef PJ_X86_SIMD
  if (avx2) col_fma_avx2(sum, a, b, w, vec), x = vec;
#else
  (void)avx2;
#endif
  for (; x < vec; x++) sum[x] = fmaf(a[x] + b[x], w, sum[x]);
  for (; x < n; x++) sum[x] = sum[x] + w * (a[x] + b[x]);
}

static const float *ring_row(const float *ring, int32_t r, int32_t k, int32_t w) {
  return ring + (size_t)(((r % k) + k) % k) * w;
}

/* Rows [y0, y1) of the Gaussian adaptive threshold: a ring of k rows
 * filtered horizontally, summed vertically, rounded, compared. */
static void adapt_gauss_rows(void *arg, int32_t y0, int32_t y1) {
  adapt_job *j = arg;
  const pj_image *s = j->src;
  const int32_t W = s->width, H = s->height;
  /* A 1-row or 1-column image is filtered along the other axis only,
   * as OpenCV does for isolated replicated borders. */
  const int32_t kx = W == 1 ? 1 : j->block, ky = H == 1 ? 1 : j->block, hy = ky / 2;
  const float one = 1.f, *wx = W == 1 ? &one : j->kernel, *wy = H == 1 ? &one : j->kernel;
  bool avx2 = false;
#ifdef PJ_X86_SIMD
  avx2 = pj_cpu_avx2();
#endif
  float *mem = malloc(sizeof(float) * ((size_t)W * (ky + 1) + W + kx) + (size_t)W);
  if (!mem) {
    j->failed = true;
    return;
  }
  float *ring = mem, *ext = ring + (size_t)W * ky, *sum = ext + W + kx;
  uint8_t *mean = (uint8_t *)(sum + W);
  int32_t have = y0 - hy - 1; /* the last source row filtered into the ring */
  for (int32_t y = y0; y < y1; y++) {
    for (; have < y + hy; have++)
      gauss_row_f(row_of(s, pj_border_index(have + 1, H, PJ_BORDER_REPLICATE)), W, wx, kx, ext,
                  (float *)ring_row(ring, have + 1, ky, W), avx2);
    const float *mid = ring_row(ring, y, ky, W);
    for (int32_t x = 0; x < W; x++) sum[x] = wy[hy] * mid[x];
    for (int32_t t = hy - 1; t >= 0; t--)
      gauss_col_f(sum, ring_row(ring, y - hy + t, ky, W), ring_row(ring, y + hy - t, ky, W), wy[t],
                  W, avx2);
    int32_t x0 = 0;
#ifdef PJ_X86_SIMD
    if (avx2) x0 = round_f_avx2(mean, sum, W);
#endif
    for (int32_t x = x0; x < W; x++) {
      const long m = lrintf(sum[x]);
      mean[x] = (uint8_t)(m < 0 ? 0 : m > 255 ? 255 : m);
    }
    compare_row(j, row_of(s, y), mean, row_of(j->dst, y));
  }
  free(mem);
}

pj_image *pj_image_adaptive_threshold(const pj_image *img, double maxval, int method, int type,
                                      int32_t block, double c) {
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (img->channels != 1)
    return pj_fail_null(PJ_EARG, "needs a 1-channel image, got %d channels", img->channels);
  if (method != PJ_ADAPTIVE_MEAN && method != PJ_ADAPTIVE_GAUSSIAN)
    return pj_fail_null(PJ_EARG, "unknown method %d", method);
  if (type != PJ_THRESH_BINARY && type != PJ_THRESH_BINARY_INV)
    return pj_fail_null(PJ_EARG, "type must be binary or binary_inv, got %d", type);
  if (block < 3 || block % 2 == 0 || block > PJ_MAX_KERNEL)
    return pj_fail_null(PJ_EARG, "block must be odd and 3 to %d, got %d", PJ_MAX_KERNEL, block);
  if (!isfinite(maxval)) return pj_fail_null(PJ_EARG, "maxval must be a finite number");
  if (!isfinite(c)) return pj_fail_null(PJ_EARG, "c must be a finite number");
  int64_t t0 = pj_clock_ns();
  pj_image *out = pj_image_alloc(img->width, img->height, 1);
  if (!out) return NULL;
  adapt_job *j = calloc(1, sizeof *j);
  if (!j) {
    pj_image_release(out);
    return pj_fail_null(PJ_ENOMEM, "out of memory");
  }
  *j = (adapt_job){.src = img, .dst = out, .block = block};
  /* Passing is src - mean > -delta, with c rounded up for binary and
   * down for binary_inv (whose result is the opposite); beyond +-768
   * every pixel is on one side. */
  const double cd = type == PJ_THRESH_BINARY ? ceil(c) : floor(c);
  j->delta = cd > 768 ? 768 : cd < -768 ? -768 : (int)cd;
  const uint8_t m = byte_of(maxval);
  j->on = type == PJ_THRESH_BINARY ? m : 0;
  j->off = type == PJ_THRESH_BINARY ? 0 : m;
  int rc = PJ_OK;
  if (method == PJ_ADAPTIVE_MEAN) {
    const int32_t kw = img->width == 1 ? 1 : block, kh = img->height == 1 ? 1 : block;
    rc = pj_box_filter(img, out, kw, kh, PJ_BORDER_REPLICATE, adapt_hook, j);
  } else {
    double *w = malloc(sizeof *w * (size_t)block);
    j->kernel = malloc(sizeof *j->kernel * (size_t)block);
    if (w && j->kernel) {
      pj_gaussian_kernel(block, 0, w);
      for (int32_t i = 0; i < block; i++) j->kernel[i] = (float)w[i];
      pj_rows(out->height, (size_t)img->width * img->height * (size_t)block * 4, adapt_gauss_rows, j);
    }
    if (!w || !j->kernel || j->failed) rc = pj_fail(PJ_ENOMEM, "out of memory");
    free(w);
    free(j->kernel);
  }
  free(j);
  if (rc) {
    pj_image_release(out);
    return NULL;
  }
  pj_stats_add(PJ_KERNEL_ADAPTIVE_THRESHOLD, t0, pj_pixels_of(out));
  return out;
}
