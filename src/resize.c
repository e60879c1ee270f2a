/*
 * resize.c - resizing (OpenCV's INTER_LINEAR fixed point, area averaging,
 * nearest), RGB/BGR swap and padding.
 *
 * Bilinear follows cv2.resize for 8-bit images: source positions
 * (d + 0.5) * scale - 0.5 in float, 11-bit weights (2048 = 1.0) rounded to
 * int16, a horizontal pass in int, and the vertical pass as OpenCV's SIMD
 * code does it (((s0 >> 4) * b0 >> 16) + ((s1 >> 4) * b1 >> 16) + 2) >> 2,
 * which is what most of its pixels get; its scalar tail rounds once
 * instead, so a few pixels per row may differ by 1.  An exact 2x
 * downscale is a 2x2 average there, and here.
 */
#include "internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define COEF_SCALE 2048

static inline int16_t sat_s16f(float v) {
  long r = lrintf(v);
  return (int16_t)(r < -32768 ? -32768 : r > 32767 ? 32767 : r);
}

static inline uint8_t sat_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* ---- Bilinear ------------------------------------------------------------ */

typedef struct lin_tabs {
  int32_t *xofs;   /* source column per output column (clamped) */
  int16_t *alpha;  /* 2 weights per output column */
  int32_t *yofs;   /* source row (unclamped: rows are clamped when read) */
  int16_t *beta;   /* 2 weights per output row */
} lin_tabs;

/* Bytes lin_tabs_make needs for a dw x dh output. */
static size_t lin_tabs_bytes(int32_t dw, int32_t dh) {
  return 8 * ((size_t)dw + (size_t)dh) + 64;
}

/* Fills the tables inside mem (lin_tabs_bytes(dw, dh) bytes). */
static void lin_tabs_make(lin_tabs *t, void *mem, int32_t sw, int32_t sh, int32_t dw, int32_t dh) {
  t->xofs = mem;
  t->yofs = t->xofs + dw;
  t->alpha = (int16_t *)(t->yofs + dh);
  t->beta = t->alpha + 2 * (size_t)dw;
  /* OpenCV takes scale = 1 / (dst / src), not src / dst: the last bit
   * matters for positions that land on a pixel boundary. */
  double scale_x = 1. / ((double)dw / sw), scale_y = 1. / ((double)dh / sh);
  for (int32_t d = 0; d < dw; d++) {
    float f = (float)((d + 0.5) * scale_x - 0.5);
    int32_t s = (int32_t)floorf(f);
    f -= (float)s;
    if (s < 0) f = 0, s = 0;
    if (s >= sw - 1) f = 0, s = sw - 1;
    t->xofs[d] = s;
    t->alpha[2 * d] = sat_s16f((1.f - f) * COEF_SCALE);
    t->alpha[2 * d + 1] = sat_s16f(f * COEF_SCALE);
  }
  for (int32_t d = 0; d < dh; d++) {
    float f = (float)((d + 0.5) * scale_y - 0.5);
    int32_t s = (int32_t)floorf(f);
    f -= (float)s;
    t->yofs[d] = s;
    t->beta[2 * d] = sat_s16f((1.f - f) * COEF_SCALE);
    t->beta[2 * d + 1] = sat_s16f(f * COEF_SCALE);
  }
}

/* Horizontal pass of one source row into int sums (weights sum to 2048),
 * output columns [d0, dw). */
static void hpass_scalar(const uint8_t *s, int32_t sw, int c, const lin_tabs *t, int32_t d0,
                         int32_t dw, int32_t *out) {
  for (int32_t d = d0; d < dw; d++) {
    int32_t sx = t->xofs[d], sx1 = sx + 1 < sw ? sx + 1 : sx;
    int a0 = t->alpha[2 * d], a1 = t->alpha[2 * d + 1];
    const uint8_t *p0 = s + (size_t)sx * c, *p1 = s + (size_t)sx1 * c;
    for (int k = 0; k < c; k++) out[d * c + k] = p0[k] * a0 + p1[k] * a1;
  }
}

#ifdef PJ_X86_SIMD
#include <immintrin.h>
/* The same sums for 3 and 4 channels, one output pixel per step: the two
 * neighbours' bytes are paired per channel with pshufb and weighted with
 * one pmaddwd.  An 8-byte load covers both neighbours, so the last columns,
 * whose load would pass the row's end, go to the scalar loop. */
__attribute__((target("ssse3"))) static void hpass_ssse3(const uint8_t *s, int32_t sw, int c,
                                                         const lin_tabs *t, int32_t dw,
                                                         int32_t *out) {
  const __m128i pair = c == 3 ? _mm_setr_epi8(0, 3, 1, 4, 2, 5, 2, 5, -1, -1, -1, -1, -1, -1, -1, -1)
                              : _mm_setr_epi8(0, 4, 1, 5, 2, 6, 3, 7, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i zero = _mm_setzero_si128();
  const int64_t room = (int64_t)sw * c - 8;
  const int32_t limit = room < 0 ? -1 : (int32_t)(room / c); /* last sx whose load fits */
  int32_t d = 0;
  for (; d < dw && t->xofs[d] <= limit; d++) {
    const int32_t sx = t->xofs[d];
    /* sx + 1 < sw here, so the second neighbour is the next pixel. */
    __m128i px = _mm_loadl_epi64((const __m128i *)(s + (size_t)sx * c));
    __m128i w = _mm_unpacklo_epi8(_mm_shuffle_epi8(px, pair), zero);
    __m128i a = _mm_set1_epi32((int32_t)(uint16_t)t->alpha[2 * d] |
                               (int32_t)((uint32_t)(uint16_t)t->alpha[2 * d + 1] << 16));
    _mm_storeu_si128((__m128i *)(out + (size_t)d * c), _mm_madd_epi16(w, a));
  }
  hpass_scalar(s, sw, c, t, d, dw, out);
}
#endif

/* Rows of int sums are allocated with 4 spare ints: the SSSE3 pass stores
 * 4 lanes for a 3-channel pixel. */
static void hpass(const uint8_t *s, int32_t sw, int c, const lin_tabs *t, int32_t dw, int32_t *out) {
#ifdef PJ_X86_SIMD
  if (c >= 3 && pj_cpu_ssse3()) {
    hpass_ssse3(s, sw, c, t, dw, out);
    return;
  }
#endif
  hpass_scalar(s, sw, c, t, 0, dw, out);
}

#ifdef PJ_X86_SIMD
/* vpass (below) 32 bytes a step, for CPUs with AVX2 (packs work per
 * 128-bit lane, so the lanes are put back in order before the store). */
__attribute__((target("avx2"))) static int32_t vpass_avx2(const int32_t *h0, const int32_t *h1,
                                                          int b0, int b1, uint8_t *d, int32_t n) {
  const __m256i vb0 = _mm256_set1_epi16((int16_t)b0), vb1 = _mm256_set1_epi16((int16_t)b1);
  const __m256i two = _mm256_set1_epi16(2);
  int32_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i r[2];
    for (int j = 0; j < 2; j++) {
      const __m256i *p0 = (const __m256i *)(h0 + i + 16 * j), *p1 = (const __m256i *)(h1 + i + 16 * j);
      __m256i x0 = _mm256_packs_epi32(_mm256_srai_epi32(_mm256_loadu_si256(p0), 4),
                                      _mm256_srai_epi32(_mm256_loadu_si256(p0 + 1), 4));
      __m256i x1 = _mm256_packs_epi32(_mm256_srai_epi32(_mm256_loadu_si256(p1), 4),
                                      _mm256_srai_epi32(_mm256_loadu_si256(p1 + 1), 4));
      __m256i v = _mm256_adds_epi16(_mm256_mulhi_epi16(x0, vb0), _mm256_mulhi_epi16(x1, vb1));
      r[j] = _mm256_srai_epi16(_mm256_adds_epi16(v, two), 2);
    }
    /* Lanes hold ints 0-3, 8-11 | 4-7, 12-15 per 16 after packs_epi32 and
     * bytes in the same interleave after packus: one dword permute fixes
     * both. */
    __m256i b = _mm256_packus_epi16(r[0], r[1]);
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)(d + i), b);
  }
  return i;
}
#endif

/* Vertical pass: n bytes from two rows of horizontal sums, as OpenCV's
 * SIMD code rounds (the values fit int16 after >> 4, and mulhi is the
 * (a * b) >> 16 of the formula). */
static void vpass(const int32_t *h0, const int32_t *h1, int b0, int b1, uint8_t *d, int32_t n) {
  int32_t i = 0;
#ifdef PJ_X86_SIMD
  if (n >= 32 && pj_cpu_avx2()) i = vpass_avx2(h0, h1, b0, b1, d, n);
#endif
#ifdef __SSE2__
  const __m128i vb0 = _mm_set1_epi16((int16_t)b0), vb1 = _mm_set1_epi16((int16_t)b1);
  const __m128i two = _mm_set1_epi16(2);
  for (; i + 16 <= n; i += 16) {
    __m128i r[2];
    for (int j = 0; j < 2; j++) {
      const __m128i *p0 = (const __m128i *)(h0 + i + 8 * j), *p1 = (const __m128i *)(h1 + i + 8 * j);
      __m128i x0 = _mm_packs_epi32(_mm_srai_epi32(_mm_loadu_si128(p0), 4),
                                   _mm_srai_epi32(_mm_loadu_si128(p0 + 1), 4));
      __m128i x1 = _mm_packs_epi32(_mm_srai_epi32(_mm_loadu_si128(p1), 4),
                                   _mm_srai_epi32(_mm_loadu_si128(p1 + 1), 4));
      __m128i v = _mm_adds_epi16(_mm_mulhi_epi16(x0, vb0), _mm_mulhi_epi16(x1, vb1));
      r[j] = _mm_srai_epi16(_mm_adds_epi16(v, two), 2);
    }
    _mm_storeu_si128((__m128i *)(d + i), _mm_packus_epi16(r[0], r[1]));
  }
#endif
  for (; i < n; i++) d[i] = sat_u8((((h0[i] >> 4) * b0 >> 16) + ((h1[i] >> 4) * b1 >> 16) + 2) >> 2);
}

/* Horizontal rows for source rows y0 and y0 + 1 (clamped), computed once
 * per source row: consecutive output rows mostly share them (an upscale
 * reuses each several times), so a two-slot cache keyed by row number
 * avoids recomputing them. */
typedef struct hcache {
  int32_t *row[2];
  int32_t key[2];
} hcache;

static const int32_t *hrow(hcache *hc, const pj_image *src, const lin_tabs *t, int32_t dw,
                           int32_t y, int32_t *other) {
  for (int i = 0; i < 2; i++)
    if (hc->key[i] == y) return hc->row[i];
  /* Replace the slot the caller is not holding. */
  int slot = hc->row[0] == other ? 1 : 0;
  hpass(src->data + (size_t)y * src->stride, src->width, src->channels, t, dw, hc->row[slot]);
  hc->key[slot] = y;
  return hc->row[slot];
}

/* Output row dy of a bilinear resize. */
static void linear_row(const pj_image *src, const lin_tabs *t, int32_t dw, int32_t dy,
                       uint8_t *d, hcache *hc) {
  int32_t y0 = t->yofs[dy], y1 = y0 + 1, H = src->height;
  y0 = y0 < 0 ? 0 : y0 >= H ? H - 1 : y0;
  y1 = y1 < 0 ? 0 : y1 >= H ? H - 1 : y1;
  const int32_t *h0 = hrow(hc, src, t, dw, y0, NULL);
  const int32_t *h1 = hrow(hc, src, t, dw, y1, (int32_t *)h0);
  vpass(h0, h1, t->beta[2 * dy], t->beta[2 * dy + 1], d, dw * src->channels);
}

/* Ints in one cached row of horizontal sums. */
static size_t hrow_ints(int32_t dw, int c) { return (size_t)dw * c + 4; }

/* ---- Area ------------------------------------------------------------------ */

typedef struct area_tab {
  int32_t *start;   /* per output index: first entry in idx/w */
  int32_t *idx;     /* source index */
  double *w;        /* its share of the output pixel */
} area_tab;

/* Source spans of each output index when shrinking s to d (d <= s). */
static bool area_tab_make(area_tab *t, int32_t s, int32_t d) {
  double scale = (double)s / d;
  size_t cap = (size_t)s + 2 * (size_t)d + 2;
  t->start = malloc(sizeof *t->start * ((size_t)d + 1));
  t->idx = malloc(sizeof *t->idx * cap);
  t->w = malloc(sizeof *t->w * cap);
  if (!t->start || !t->idx || !t->w) return false;
  size_t k = 0;
  for (int32_t o = 0; o < d; o++) {
    t->start[o] = (int32_t)k;
    double f1 = o * scale, f2 = f1 + scale;
    double cell = fmin(scale, s - f1);
    int32_t s1 = (int32_t)ceil(f1), s2 = (int32_t)floor(f2);
    if (s2 > s) s2 = s;
    if (s1 - f1 > 1e-3 && s1 - 1 >= 0) t->idx[k] = s1 - 1, t->w[k++] = (s1 - f1) / cell;
    for (int32_t i = s1; i < s2; i++) t->idx[k] = i, t->w[k++] = 1 / cell;
    if (f2 - s2 > 1e-3 && s2 < s) t->idx[k] = s2, t->w[k++] = fmin(fmin(f2 - s2, 1.), cell) / cell;
  }
  t->start[d] = (int32_t)k;
  return true;
}

static void area_tab_free(area_tab *t) { free(t->start), free(t->idx), free(t->w); }

/* Output row dy of an area resize; acc and row are scratch of dw*c doubles. */
static void area_row(const pj_image *src, const area_tab *tx, const area_tab *ty, int32_t dw,
                     int32_t dy, uint8_t *d, double *acc, double *row) {
  const int c = src->channels;
  for (int32_t i = 0; i < dw * c; i++) acc[i] = 0;
  for (int32_t e = ty->start[dy]; e < ty->start[dy + 1]; e++) {
    const uint8_t *s = src->data + (size_t)ty->idx[e] * src->stride;
    for (int32_t o = 0; o < dw; o++) {
      double v[4] = {0, 0, 0, 0};
      for (int32_t f = tx->start[o]; f < tx->start[o + 1]; f++) {
        const uint8_t *p = s + (size_t)tx->idx[f] * c;
        for (int k = 0; k < c; k++) v[k] += p[k] * tx->w[f];
      }
      for (int k = 0; k < c; k++) row[o * c + k] = v[k];
    }
    for (int32_t i = 0; i < dw * c; i++) acc[i] += row[i] * ty->w[e];
  }
  for (int32_t i = 0; i < dw * c; i++) d[i] = sat_u8((int)lrint(acc[i]));
}

/* ---- Shared driver ------------------------------------------------------- */

/* The interpolation that runs: cv2.resize enlarges with bilinear when
 * asked for area averaging. */
static int run_interp(int interp, int32_t sw, int32_t sh, int32_t dw, int32_t dh) {
  return interp == PJ_INTER_AREA && (dw > sw || dh > sh) ? PJ_INTER_LINEAR : interp;
}

/* cv2.resize turns an exact 2x bilinear shrink into a 2x2 average. */
static bool half_shrink(int interp, int32_t sw, int32_t sh, int32_t dw, int32_t dh) {
  return interp == PJ_INTER_LINEAR && sw == 2 * dw && sh == 2 * dh;
}

/* dst may be a view or a scratch image. */
int pj_resize_into(const pj_image *src, pj_image *dst, int interp, int threads) {
  const int32_t sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
  const int c = src->channels;
  interp = run_interp(interp, sw, sh, dw, dh);
  bool half = half_shrink(interp, sw, sh, dw, dh);
  if (interp == PJ_INTER_NEAREST || half) {
    double fx = 1. / ((double)dw / sw), fy = 1. / ((double)dh / sh);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int32_t y = 0; y < dh; y++) {
      uint8_t *d = dst->data + (size_t)y * dst->stride;
      if (half) {
        const uint8_t *s0 = src->data + (size_t)(2 * y) * src->stride, *s1 = s0 + src->stride;
        for (int32_t x = 0; x < dw; x++)
          for (int k = 0; k < c; k++) {
            size_t o = (size_t)(2 * x) * c + k;
            d[x * c + k] = (uint8_t)((s0[o] + s0[o + c] + s1[o] + s1[o + c] + 2) >> 2);
          }
        continue;
      }
      int32_t sy = (int32_t)floor(y * fy);
      const uint8_t *s = src->data + (size_t)(sy < sh ? sy : sh - 1) * src->stride;
      for (int32_t x = 0; x < dw; x++) {
        int32_t sx = (int32_t)floor(x * fx);
        memcpy(d + (size_t)x * c, s + (size_t)(sx < sw ? sx : sw - 1) * c, (size_t)c);
      }
    }
    return PJ_OK;
  }
  int rc = PJ_OK;
  if (interp == PJ_INTER_AREA) {
    area_tab tx = {0}, ty = {0};
    if (!area_tab_make(&tx, sw, dw) || !area_tab_make(&ty, sh, dh)) {
      rc = pj_fail(PJ_ENOMEM, "out of memory");
    } else {
#pragma omp parallel num_threads(threads) if (threads > 1)
      {
        double *acc = malloc(sizeof *acc * 2 * (size_t)dw * c);
#pragma omp for schedule(static)
        for (int32_t y = 0; y < dh; y++)
          if (acc) area_row(src, &tx, &ty, dw, y, dst->data + (size_t)y * dst->stride, acc, acc + (size_t)dw * c);
        if (!acc) rc = PJ_ENOMEM;
        free(acc);
      }
      if (rc) pj_fail(rc, "out of memory");
    }
    area_tab_free(&tx), area_tab_free(&ty);
    return rc;
  }
  lin_tabs t;
  void *mem = malloc(lin_tabs_bytes(dw, dh));
  if (!mem) return pj_fail(PJ_ENOMEM, "out of memory");
  lin_tabs_make(&t, mem, sw, sh, dw, dh);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int32_t *h = malloc(sizeof *h * 2 * hrow_ints(dw, c));
    hcache hc = {{h, h ? h + hrow_ints(dw, c) : NULL}, {-1, -1}};
#pragma omp for schedule(static)
    for (int32_t y = 0; y < dh; y++)
      if (h) linear_row(src, &t, dw, y, dst->data + (size_t)y * dst->stride, &hc);
    if (!h) rc = PJ_ENOMEM;
    free(h);
  }
  if (rc) pj_fail(rc, "out of memory");
  free(mem);
  return rc;
}

int pj_resize_serial(const pj_image *src, pj_image *dst, int interp, pj_scratch *ws) {
  const int32_t sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
  const int c = src->channels;
  interp = run_interp(interp, sw, sh, dw, dh);
  if (interp != PJ_INTER_LINEAR || half_shrink(interp, sw, sh, dw, dh))
    return pj_resize_into(src, dst, interp, 1);
  size_t tab = (lin_tabs_bytes(dw, dh) + 63) & ~(size_t)63;
  uint8_t *mem = pj_scratch_get(ws, tab + 2 * sizeof(int32_t) * hrow_ints(dw, c));
  if (!mem) return pj_fail(PJ_ENOMEM, "out of memory");
  lin_tabs t;
  lin_tabs_make(&t, mem, sw, sh, dw, dh);
  int32_t *h = (int32_t *)(mem + tab);
  hcache hc = {{h, h + hrow_ints(dw, c)}, {-1, -1}};
  for (int32_t y = 0; y < dh; y++) linear_row(src, &t, dw, y, dst->data + (size_t)y * dst->stride, &hc);
  return PJ_OK;
}

pj_image *pj_image_resize(const pj_image *img, int32_t w, int32_t h, int interpolation) {
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (interpolation != PJ_INTER_LINEAR && interpolation != PJ_INTER_NEAREST &&
      interpolation != PJ_INTER_AREA)
    return pj_fail_null(PJ_EARG, "unknown interpolation %d", interpolation);
  if (w < 1) return pj_fail_null(PJ_EARG, "w must be >= 1, got %d", w);
  if (h < 1) return pj_fail_null(PJ_EARG, "h must be >= 1, got %d", h);
  if (pj_check_dims(w, h, img->channels, 0, NULL)) return NULL;
  int64_t t0 = pj_clock_ns();
  pj_image *out = pj_image_alloc(w, h, img->channels);
  if (!out) return NULL;
  int threads = (int64_t)w * h >= 65536 ? pj_threads_get() : 1;
  if (pj_resize_into(img, out, interpolation, threads)) {
    pj_image_release(out);
    return NULL;
  }
  pj_stats_add(PJ_KERNEL_RESIZE, t0, pj_pixels_of(out));
  return out;
}

/* ---- Channels and borders --------------------------------------------- */

pj_image *pj_image_swap_rb(const pj_image *img) {
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (img->channels < 3)
    return pj_fail_null(PJ_EARG, "the image must have 3 or 4 channels, got %d", img->channels);
  pj_image *out = pj_image_clone(img);
  if (!out) return NULL;
  const int c = out->channels;
  for (int32_t y = 0; y < out->height; y++) {
    uint8_t *p = out->data + (size_t)y * out->stride;
    for (int32_t x = 0; x < out->width; x++, p += c) {
      uint8_t t = p[0];
      p[0] = p[2];
      p[2] = t;
    }
  }
  return out;
}

pj_image *pj_image_pad(const pj_image *img, int32_t top, int32_t bottom, int32_t left,
                       int32_t right, const uint8_t *value) {
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  const int32_t side[4] = {top, bottom, left, right};
  static const char *const names[4] = {"top", "bottom", "left", "right"};
  for (int i = 0; i < 4; i++)
    if (side[i] < 0) return pj_fail_null(PJ_EARG, "%s must be >= 0, got %d", names[i], side[i]);
  int64_t w = (int64_t)img->width + left + right, h = (int64_t)img->height + top + bottom;
  if (pj_check_dims(w, h, img->channels, 0, NULL)) return NULL;
  pj_image *out = pj_image_new((int32_t)w, (int32_t)h, img->channels, 0);
  if (!out) return NULL;
  if (value) pj_image_fill(out, value);
  pj_image *inner = pj_image_view(out, left, top, img->width, img->height);
  if (!inner) {
    pj_image_release(out);
    return NULL;
  }
  pj_image_copy(inner, img);
  pj_image_release(inner);
  return out;
}
