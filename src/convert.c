/*
 * convert.c - channel-count conversions between gray, gray+alpha, RGB and
 * RGBA.
 *
 * Gray is OpenCV 4's RGB2GRAY for 8-bit data: BT.601 weights in 15-bit
 * fixed point, rounded half up (pj_gray_of).  The vector code computes exactly
 * that: each pixel's (r, g) and (b, 0) byte pairs widened to 16 bits and
 * multiplied-and-added with pmaddwd into 32-bit sums, 8 pixels a register.
 * The other conversions are byte shuffles.  Rows are independent, so
 * large images are split into bands (pj_rows).
 */
#include "internal.h"

#include <string.h>
#ifdef PJ_X86_SIMD
#include <immintrin.h>
#endif

typedef void (*row_fn)(const uint8_t *s, uint8_t *d, int32_t w);

/* ---- Portable rows ----------------------------------------------------------- */

/* Pixels [x0, w) of a row from ci to co channels; a constant pair where
 * it is inlined lets each case compile to its own loop. */
static inline __attribute__((always_inline)) void
row_generic(const uint8_t *s, uint8_t *d, int32_t x0, int32_t w, const int ci, const int co) {
  s += (size_t)x0 * ci, d += (size_t)x0 * co;
  for (int32_t x = x0; x < w; x++, s += ci, d += co) {
    const unsigned v = ci <= 2 ? s[0] : pj_gray_of(s[0], s[1], s[2]);
    const unsigned a = ci == 2 ? s[1] : ci == 4 ? s[3] : 255;
    if (co == 1) {
      d[0] = (uint8_t)v;
    } else if (co == 2) {
      d[0] = (uint8_t)v, d[1] = (uint8_t)a;
    } else {
      d[0] = s[0];
      d[1] = ci <= 2 ? s[0] : s[1];
      d[2] = ci <= 2 ? s[0] : s[2];
      if (co == 4) d[3] = (uint8_t)a;
    }
  }
}

#define GENERIC(ci, co)                                                               \
  static void row_##ci##_##co(const uint8_t *s, uint8_t *d, int32_t w) {              \
    row_generic(s, d, 0, w, ci, co);                                                  \
  }
GENERIC(1, 2) GENERIC(1, 3) GENERIC(1, 4) GENERIC(2, 1) GENERIC(2, 3) GENERIC(2, 4)
GENERIC(3, 1) GENERIC(3, 2) GENERIC(3, 4) GENERIC(4, 1) GENERIC(4, 2) GENERIC(4, 3)
#undef GENERIC

/* ---- Vector rows ----------------------------------------------------------------- */

#ifdef PJ_X86_SIMD
/* Gray of 8 pixels held as bytes in v (lane 0 pixels 0-3, lane 1 pixels
 * 4-7): rg and b pick each pixel's (r, g) and (b, 0) into 16-bit pairs. */
__attribute__((target("avx2"), always_inline)) static inline __m256i
gray8(__m256i v, __m256i rg, __m256i b) {
  const __m256i wrg = _mm256_set1_epi32(9798 | 19235 << 16), wb = _mm256_set1_epi32(3735);
  const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(_mm256_shuffle_epi8(v, rg), wrg),
                                     _mm256_madd_epi16(_mm256_shuffle_epi8(v, b), wb));
  return _mm256_srli_epi32(_mm256_add_epi32(s, _mm256_set1_epi32(1 << 14)), 15);
}

/* Four groups of 8 gray values (32-bit lanes, as gray8 leaves them) into
 * 32 bytes in pixel order. */
__attribute__((target("avx2"), always_inline)) static inline __m256i pack32(const __m256i *g) {
  const __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(g[0], g[1]), _mm256_packs_epi32(g[2], g[3]));
  return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

#define Z -1
__attribute__((target("avx2"))) static void row_3_1_avx2(const uint8_t *s, uint8_t *d, int32_t w) {
  const __m256i rg = _mm256_setr_epi8(0, Z, 1, Z, 3, Z, 4, Z, 6, Z, 7, Z, 9, Z, 10, Z,
                                      0, Z, 1, Z, 3, Z, 4, Z, 6, Z, 7, Z, 9, Z, 10, Z);
  const __m256i b = _mm256_setr_epi8(2, Z, Z, Z, 5, Z, Z, Z, 8, Z, Z, Z, 11, Z, Z, Z,
                                     2, Z, Z, Z, 5, Z, Z, Z, 8, Z, Z, Z, 11, Z, Z, Z);
  int32_t x = 0;
  /* The loads of 16 bytes per 4 pixels read 4 bytes past the 32nd pixel,
   * inside the buffer's tail when at the end of the last row.  The last
   * block ends at w, overlapping the one before. */
  for (; x < w && w >= 32; x += 32) {
    if (x + 32 > w) x = w - 32;
    __m256i g[4];
    for (int k = 0; k < 4; k++) {
      const uint8_t *q = s + (size_t)(x + 8 * k) * 3;
      g[k] = gray8(_mm256_loadu2_m128i((const __m128i *)(q + 12), (const __m128i *)q), rg, b);
    }
    _mm256_storeu_si256((__m256i *)(d + x), pack32(g));
  }
  row_generic(s, d, x, w, 3, 1);
}

__attribute__((target("avx2"))) static void row_4_1_avx2(const uint8_t *s, uint8_t *d, int32_t w) {
  const __m256i rg = _mm256_setr_epi8(0, Z, 1, Z, 4, Z, 5, Z, 8, Z, 9, Z, 12, Z, 13, Z,
                                      0, Z, 1, Z, 4, Z, 5, Z, 8, Z, 9, Z, 12, Z, 13, Z);
  const __m256i b = _mm256_setr_epi8(2, Z, Z, Z, 6, Z, Z, Z, 10, Z, Z, Z, 14, Z, Z, Z,
                                     2, Z, Z, Z, 6, Z, Z, Z, 10, Z, Z, Z, 14, Z, Z, Z);
  int32_t x = 0;
  for (; x < w && w >= 32; x += 32) {
    if (x + 32 > w) x = w - 32;
    __m256i g[4];
    for (int k = 0; k < 4; k++)
      g[k] = gray8(_mm256_loadu_si256((const __m256i *)(s + (size_t)(x + 8 * k) * 4)), rg, b);
    _mm256_storeu_si256((__m256i *)(d + x), pack32(g));
  }
  row_generic(s, d, x, w, 4, 1);
}

/* Gray to RGB, 32 pixels (96 bytes) a step: each 16-byte half of the
 * output takes its bytes from one 16-byte half of the input, so each
 * 32-byte store is one pshufb of the input's halves placed in its lanes. */
__attribute__((target("avx2"))) static void row_1_3_avx2(const uint8_t *s, uint8_t *d, int32_t w) {
  const __m256i m0 = _mm256_setr_epi8(0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5,
                                      5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10);
  const __m256i m1 = _mm256_setr_epi8(10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15,
                                      0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5);
  const __m256i m2 = _mm256_setr_epi8(5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10,
                                      10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15);
  int32_t x = 0;
  for (; x + 32 <= w; x += 32) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)(s + x));
    uint8_t *q = d + (size_t)x * 3;
    _mm256_storeu_si256((__m256i *)q, _mm256_shuffle_epi8(_mm256_permute2x128_si256(v, v, 0x00), m0));
    _mm256_storeu_si256((__m256i *)(q + 32), _mm256_shuffle_epi8(v, m1));
    _mm256_storeu_si256((__m256i *)(q + 64), _mm256_shuffle_epi8(_mm256_permute2x128_si256(v, v, 0x11), m2));
  }
  row_generic(s, d, x, w, 1, 3);
}

/* RGB to RGBA, 8 pixels a step: 4 pixels in each lane from loads 12
 * bytes apart (each reads 16 bytes for 12). */
__attribute__((target("avx2"))) static void row_3_4_avx2(const uint8_t *s, uint8_t *d, int32_t w) {
  const __m256i pick = _mm256_setr_epi8(0, 1, 2, Z, 3, 4, 5, Z, 6, 7, 8, Z, 9, 10, 11, Z,
                                        0, 1, 2, Z, 3, 4, 5, Z, 6, 7, 8, Z, 9, 10, 11, Z);
  const __m256i alpha = _mm256_set1_epi32((int)0xFF000000u);
  int32_t x = 0;
  for (; x + 10 <= w; x += 8) {
    const uint8_t *p = s + (size_t)x * 3;
    const __m256i v = _mm256_loadu2_m128i((const __m128i *)(p + 12), (const __m128i *)p);
    _mm256_storeu_si256((__m256i *)(d + (size_t)x * 4), _mm256_or_si256(_mm256_shuffle_epi8(v, pick), alpha));
  }
  row_generic(s, d, x, w, 3, 4);
}

__attribute__((target("ssse3"))) static void row_3_4_ssse3(const uint8_t *s, uint8_t *d, int32_t w) {
  const __m128i pick = _mm_setr_epi8(0, 1, 2, Z, 3, 4, 5, Z, 6, 7, 8, Z, 9, 10, 11, Z);
  const __m128i fill = _mm_setr_epi8(0, 0, 0, Z, 0, 0, 0, Z, 0, 0, 0, Z, 0, 0, 0, Z);
  int32_t x = 0;
  for (; x + 6 <= w; x += 4) { /* reads 16 bytes for 12 */
    __m128i v = _mm_loadu_si128((const __m128i *)(s + (size_t)x * 3));
    _mm_storeu_si128((__m128i *)(d + (size_t)x * 4), _mm_or_si128(_mm_shuffle_epi8(v, pick), fill));
  }
  row_generic(s, d, x, w, 3, 4);
}

__attribute__((target("ssse3"))) static void row_4_3_ssse3(const uint8_t *s, uint8_t *d, int32_t w) {
  const __m128i pick = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, Z, Z, Z, Z);
  int32_t x = 0;
  for (; x + 6 <= w; x += 4) { /* stores 16 bytes for 12 */
    __m128i v = _mm_loadu_si128((const __m128i *)(s + (size_t)x * 4));
    _mm_storeu_si128((__m128i *)(d + (size_t)x * 3), _mm_shuffle_epi8(v, pick));
  }
  row_generic(s, d, x, w, 4, 3);
}

__attribute__((target("ssse3"))) static void row_1_3_ssse3(const uint8_t *s, uint8_t *d, int32_t w) {
  const __m128i p0 = _mm_setr_epi8(0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5);
  const __m128i p1 = _mm_setr_epi8(5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10);
  const __m128i p2 = _mm_setr_epi8(10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15);
  int32_t x = 0;
  for (; x + 16 <= w; x += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(s + x));
    uint8_t *q = d + (size_t)x * 3;
    _mm_storeu_si128((__m128i *)q, _mm_shuffle_epi8(v, p0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm_shuffle_epi8(v, p1));
    _mm_storeu_si128((__m128i *)(q + 32), _mm_shuffle_epi8(v, p2));
  }
  row_generic(s, d, x, w, 1, 3);
}

__attribute__((target("ssse3"))) static void row_1_4_ssse3(const uint8_t *s, uint8_t *d, int32_t w) {
  const __m128i alpha = _mm_set1_epi32((int)0xFF000000u);
  int32_t x = 0;
  for (; x + 16 <= w; x += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(s + x));
    for (int k = 0; k < 4; k++) {
      const __m128i p = _mm_setr_epi8((char)(4 * k), (char)(4 * k), (char)(4 * k), Z,
                                      (char)(4 * k + 1), (char)(4 * k + 1), (char)(4 * k + 1), Z,
                                      (char)(4 * k + 2), (char)(4 * k + 2), (char)(4 * k + 2), Z,
                                      (char)(4 * k + 3), (char)(4 * k + 3), (char)(4 * k + 3), Z);
      _mm_storeu_si128((__m128i *)(d + (size_t)(x + 4 * k) * 4), _mm_or_si128(_mm_shuffle_epi8(v, p), alpha));
    }
  }
  row_generic(s, d, x, w, 1, 4);
}
#undef Z
#endif

/* The fastest row function for ci -> co on this CPU. */
static row_fn pick_row(int ci, int co) {
#ifdef PJ_X86_SIMD
  if (pj_cpu_avx2() && ci == 3 && co == 1) return row_3_1_avx2;
  if (pj_cpu_avx2() && ci == 4 && co == 1) return row_4_1_avx2;
  if (pj_cpu_avx2() && ci == 1 && co == 3) return row_1_3_avx2;
  if (pj_cpu_avx2() && ci == 3 && co == 4) return row_3_4_avx2;
  if (pj_cpu_ssse3()) {
    if (ci == 3 && co == 4) return row_3_4_ssse3;
    if (ci == 4 && co == 3) return row_4_3_ssse3;
    if (ci == 1 && co == 3) return row_1_3_ssse3;
    if (ci == 1 && co == 4) return row_1_4_ssse3;
  }
#endif
  static const row_fn table[5][5] = {
      {0}, {0, 0, row_1_2, row_1_3, row_1_4}, {0, row_2_1, 0, row_2_3, row_2_4},
      {0, row_3_1, row_3_2, 0, row_3_4}, {0, row_4_1, row_4_2, row_4_3, 0}};
  return table[ci][co];
}

typedef struct conv_job {
  const pj_image *src;
  pj_image *dst;
  row_fn fn;
} conv_job;

static void conv_rows(void *arg, int32_t y0, int32_t y1) {
  const conv_job *j = arg;
  const int32_t w = j->src->width;
  /* Both images packed: the rows are one run of pixels (a word crop's
   * rows are too short for the vector loops to cover them well). */
  if (pj_packed(j->src) && pj_packed(j->dst) && (int64_t)w * (y1 - y0) <= INT32_MAX) {
    j->fn(j->src->data + (size_t)y0 * j->src->stride, j->dst->data + (size_t)y0 * j->dst->stride,
          w * (y1 - y0));
    return;
  }
  for (int32_t y = y0; y < y1; y++)
    j->fn(j->src->data + (size_t)y * j->src->stride, j->dst->data + (size_t)y * j->dst->stride,
          j->src->width);
}

static pj_image *convert(const pj_image *img, int32_t channels) {
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (channels < 1 || channels > 4)
    return pj_fail_null(PJ_EARG, "channels must be 1 to 4, got %d", channels);
  if (channels == img->channels) return pj_image_clone(img);
  pj_image *out = pj_image_alloc(img->width, img->height, channels);
  if (!out) return NULL;
  conv_job j = {img, out, pick_row(img->channels, channels)};
  pj_rows(img->height, (size_t)img->width * img->height * (img->channels + channels), conv_rows, &j);
  return out;
}

pj_image *pj_image_convert(const pj_image *img, int32_t channels) {
  int64_t t0 = pj_clock_ns();
  pj_image *out = convert(img, channels);
  pj_stats_add(PJ_KERNEL_CONVERT, t0, pj_pixels_of(out));
  return out;
}
