/*
 * morph.c - dilate and erode with a kw x kh rectangle: the maximum (or
 * minimum) over kh rows, then over kw pixels of that row, with the outside
 * of the image neutral (0 for the maximum, 255 for the minimum), which is
 * what cv2.dilate / cv2.erode do with np.ones((kh, kw)) and their default
 * border.  The anchor is the centre (kw / 2, kh / 2), as OpenCV's.
 *
 * Wide rows use doubling: windows of 2, 4, 8... pixels, each from two of
 * the one before, then the kw window from two overlapping powers of two,
 * so a 51-wide erode costs 6 passes, not 50.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef PJ_X86_SIMD
#include <immintrin.h>
#endif

typedef struct morph_job {
  const pj_image *src;
  pj_image *dst;
  int32_t kw, kh;
  bool failed;
} morph_job;

static uint8_t *row_of(const pj_image *img, int32_t y) {
  return img->data + (size_t)y * img->stride;
}

static inline __attribute__((always_inline)) uint8_t pick(uint8_t a, uint8_t b, bool max) {
  return max ? (a > b ? a : b) : (a < b ? a : b);
}

#ifdef PJ_X86_SIMD
/* The AVX2 helpers are bodies inlined into a maximum and a minimum
 * variant each, so the choice is made once per row, not per vector. */
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2")))

AVX2_INLINE __m256i pick256(__m256i a, __m256i b, bool max) {
  return max ? _mm256_max_epu8(a, b) : _mm256_min_epu8(a, b);
}

/* out[i] over rows[0 .. nr) for 32 bytes a step, ending with a block
 * placed to finish at n. */
AVX2_INLINE void vertical_rows_avx2(uint8_t *out, const uint8_t *const *rows, int32_t nr,
                                    int32_t n, bool max) {
  /* The row pointers copied where no store through out can reach them,
   * so that they stay in registers. */
  const uint8_t *rp[8];
  const int32_t nk = nr < 8 ? nr : 8;
  for (int32_t r = 0; r < nk; r++) rp[r] = rows[r];
  for (int32_t i = 0; i < n; i += 32) {
    if (i + 32 > n) i = n - 32;
    __m256i a = _mm256_loadu_si256((const __m256i *)(rp[0] + i)), b = a;
    int32_t r = 1;
    for (; r + 1 < nk; r += 2) {
      a = pick256(a, _mm256_loadu_si256((const __m256i *)(rp[r] + i)), max);
      b = pick256(b, _mm256_loadu_si256((const __m256i *)(rp[r + 1] + i)), max);
    }
    if (r < nk) a = pick256(a, _mm256_loadu_si256((const __m256i *)(rp[r] + i)), max);
    for (r = nk; r < nr; r++) a = pick256(a, _mm256_loadu_si256((const __m256i *)(rows[r] + i)), max);
    _mm256_storeu_si256((__m256i *)(out + i), pick256(a, b, max));
  }
}

/* The common heights get a body each with the row count a constant, so
 * that the loop over rows unrolls and no branch runs per vector.  Returns
 * the outputs written. */
AVX2_INLINE int32_t vertical_avx2(uint8_t *out, const uint8_t *const *rows, int32_t nr,
                                  int32_t n, bool max) {
  if (n < 32) return 0;
  switch (nr) {
  case 1: vertical_rows_avx2(out, rows, 1, n, max); break;
  case 2: vertical_rows_avx2(out, rows, 2, n, max); break;
  case 3: vertical_rows_avx2(out, rows, 3, n, max); break;
  case 4: vertical_rows_avx2(out, rows, 4, n, max); break;
  case 5: vertical_rows_avx2(out, rows, 5, n, max); break;
  case 6: vertical_rows_avx2(out, rows, 6, n, max); break;
  case 7: vertical_rows_avx2(out, rows, 7, n, max); break;
  default: vertical_rows_avx2(out, rows, nr, n, max); break;
  }
  return n;
}

/* out[i] = pick of ext[i + t * step] for t < taps.  In place (out ==
 * ext) a block must not be redone over outputs already written, so the
 * last partial block is left to the caller. */
AVX2_INLINE int32_t taps_k_avx2(uint8_t *out, const uint8_t *ext, int32_t taps, int32_t step,
                                int32_t n, bool max) {
  const bool overlap = out != ext;
  int32_t i = 0;
  for (; i < n && (overlap || i + 32 <= n); i += 32) {
    if (i + 32 > n) i = n - 32;
    const uint8_t *e = ext + i;
    __m256i a = _mm256_loadu_si256((const __m256i *)e);
    for (int32_t t = 1; t < taps; t++)
      a = pick256(a, _mm256_loadu_si256((const __m256i *)(e + (size_t)t * step)), max);
    _mm256_storeu_si256((__m256i *)(out + i), a);
  }
  return i < n ? i : n;
}

AVX2_INLINE int32_t taps_avx2(uint8_t *out, const uint8_t *ext, int32_t taps, int32_t step,
                              int32_t n, bool max) {
  if (n < 32) return 0;
  switch (taps) {
  case 2: return taps_k_avx2(out, ext, 2, step, n, max);
  case 3: return taps_k_avx2(out, ext, 3, step, n, max);
  case 4: return taps_k_avx2(out, ext, 4, step, n, max);
  case 5: return taps_k_avx2(out, ext, 5, step, n, max);
  case 6: return taps_k_avx2(out, ext, 6, step, n, max);
  case 7: return taps_k_avx2(out, ext, 7, step, n, max);
  default: return taps_k_avx2(out, ext, taps, step, n, max);
  }
}

__attribute__((target("avx2"))) static int32_t vertical_max_avx2(uint8_t *out,
                                                                 const uint8_t *const *rows,
                                                                 int32_t nr, int32_t n) {
  return vertical_avx2(out, rows, nr, n, true);
}
__attribute__((target("avx2"))) static int32_t vertical_min_avx2(uint8_t *out,
                                                                 const uint8_t *const *rows,
                                                                 int32_t nr, int32_t n) {
  return vertical_avx2(out, rows, nr, n, false);
}
__attribute__((target("avx2"))) static int32_t taps_max_avx2(uint8_t *out, const uint8_t *ext,
                                                             int32_t k, int32_t step, int32_t n) {
  return taps_avx2(out, ext, k, step, n, true);
}
__attribute__((target("avx2"))) static int32_t taps_min_avx2(uint8_t *out, const uint8_t *ext,
                                                             int32_t k, int32_t step, int32_t n) {
  return taps_avx2(out, ext, k, step, n, false);
}
#endif

static inline __attribute__((always_inline)) void
vertical(uint8_t *out, const uint8_t *const *rows, int32_t nr, int32_t n, bool max, bool avx2) {
  int32_t i0 = 0;
#ifdef PJ_X86_SIMD
  if (avx2) i0 = max ? vertical_max_avx2(out, rows, nr, n) : vertical_min_avx2(out, rows, nr, n);
#else
  (void)avx2;
#endif
  if (i0 >= n) return;
  memcpy(out + i0, rows[0] + i0, (size_t)(n - i0));
  for (int32_t r = 1; r < nr; r++)
    for (int32_t i = i0; i < n; i++) out[i] = pick(out[i], rows[r][i], max);
}

static inline __attribute__((always_inline)) void
taps(uint8_t *out, const uint8_t *ext, int32_t k, int32_t step, int32_t n, bool max, bool avx2) {
  int32_t i0 = 0;
#ifdef PJ_X86_SIMD
  if (avx2) i0 = max ? taps_max_avx2(out, ext, k, step, n) : taps_min_avx2(out, ext, k, step, n);
#else
  (void)avx2;
#endif
  if (i0 >= n) return;
  if (k == 2) { /* also in place */
    for (int32_t i = i0; i < n; i++) out[i] = pick(ext[i], ext[i + step], max);
    return;
  }
  memcpy(out + i0, ext + i0, (size_t)(n - i0));
  for (int32_t t = 1; t < k; t++)
    for (int32_t i = i0; i < n; i++) out[i] = pick(out[i], ext[i + (size_t)t * step], max);
}

/* d[i] = pick over ext[i + t * c], t < kw, for i < n; tmp holds a copy
 * of ext's length for the doubling. */
static inline __attribute__((always_inline)) void
horizontal(uint8_t *d, const uint8_t *ext, uint8_t *tmp, int32_t kw, int32_t n, int c, bool max,
           bool avx2) {
  if (kw <= 8) {
    taps(d, ext, kw, c, n, max, avx2);
    return;
  }
  const int32_t len = n + (kw - 1) * c;
  int32_t p = 2;
  taps(tmp, ext, 2, c, len - c, max, avx2);
  for (; 2 * p <= kw; p *= 2) taps(tmp, tmp, 2, p * c, len - (2 * p - 1) * c, max, avx2);
  taps(d, tmp, 2, (kw - p) * c, n, max, avx2);
}

static inline __attribute__((always_inline)) void
morph_band_body(morph_job *j, int32_t y0, int32_t y1, bool max, bool avx2) {
  const pj_image *s = j->src;
  const int c = s->channels;
  const int32_t W = s->width, H = s->height, n = W * c, kw = j->kw, kh = j->kh;
  const int32_t left = kw / 2, ay = kh / 2;
  const size_t len = (size_t)n + (size_t)(kw - 1) * c;
  uint8_t *mem = malloc(2 * len + sizeof(void *) * kh + 64);
  if (!mem) {
    j->failed = true;
    return;
  }
  uint8_t *ext = mem, *tmp = mem + len, *mid = ext + (size_t)left * c;
  const uint8_t **rows = (const uint8_t **)(((uintptr_t)(tmp + len) + 15) & ~(uintptr_t)15);
  /* The margins never change: the value that never wins. */
  memset(ext, max ? 0 : 255, len);
  for (int32_t y = y0; y < y1; y++) {
    const int32_t r0 = y - ay < 0 ? 0 : y - ay;
    const int32_t r1 = y - ay + kh - 1 >= H ? H - 1 : y - ay + kh - 1;
    for (int32_t r = r0; r <= r1; r++) rows[r - r0] = row_of(s, r);
    uint8_t *d = row_of(j->dst, y);
    if (kw == 1) {
      vertical(d, rows, r1 - r0 + 1, n, max, avx2);
      continue;
    }
    vertical(mid, rows, r1 - r0 + 1, n, max, avx2);
    horizontal(d, ext, tmp, kw, n, c, max, avx2);
  }
  free(mem);
}

static void dilate_band(void *arg, int32_t y0, int32_t y1) {
  morph_band_body(arg, y0, y1, true, false);
}
static void erode_band(void *arg, int32_t y0, int32_t y1) {
  morph_band_body(arg, y0, y1, false, false);
}

#ifdef PJ_X86_SIMD
__attribute__((target("avx2"))) static void dilate_band_avx2(void *arg, int32_t y0, int32_t y1) {
  morph_band_body(arg, y0, y1, true, true);
}
__attribute__((target("avx2"))) static void erode_band_avx2(void *arg, int32_t y0, int32_t y1) {
  morph_band_body(arg, y0, y1, false, true);
}
#endif

static pj_image *morph(const pj_image *img, int32_t kw, int32_t kh, bool max) {
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (pj_check_kernel("kw", kw) || pj_check_kernel("kh", kh)) return NULL;
  int64_t t0 = pj_clock_ns();
  pj_image *out = pj_image_alloc(img->width, img->height, img->channels);
  if (!out) return NULL;
  morph_job j = {.src = img, .dst = out, .kw = kw, .kh = kh};
  pj_rows_fn fn = max ? dilate_band : erode_band;
#ifdef PJ_X86_SIMD
  if (pj_cpu_avx2()) fn = max ? dilate_band_avx2 : erode_band_avx2;
#endif
  const size_t work = (size_t)img->width * img->height * img->channels * 2;
  pj_rows(out->height, work, fn, &j);
  if (j.failed) {
    pj_image_release(out);
    return pj_fail_null(PJ_ENOMEM, "out of memory");
  }
  pj_stats_add(max ? PJ_KERNEL_DILATE : PJ_KERNEL_ERODE, t0, pj_pixels_of(out));
  return out;
}

pj_image *pj_image_dilate(const pj_image *img, int32_t kw, int32_t kh) {
  return morph(img, kw, kh, true);
}

pj_image *pj_image_erode(const pj_image *img, int32_t kw, int32_t kh) {
  return morph(img, kw, kh, false);
}
