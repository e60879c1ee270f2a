/*
 * resize.c - resizing 8-bit images exactly as OpenCV 4.x's cv2.resize does.
 *
 * What cv2.resize computes, checked against it on random sizes and
 * channel counts:
 *  - INTER_LINEAR: source positions (d + 0.5) * scale - 0.5 in float,
 *    11-bit weights (2048 = 1.0) rounded from float, a horizontal pass in
 *    int and a vertical pass ((s0 >> 4) * b0 >> 16) + ((s1 >> 4) * b1 >>
 *    16) + 2 >> 2 on every byte.  An exact 2x shrink is the 2x2 average of
 *    INTER_AREA.
 *  - INTER_AREA shrinking both ways: integer factors average k x k blocks
 *    (2x2 of 1, 3 or 4 channels rounding half up, every other block as the
 *    float sum * (1 / area) rounded half to even); other factors weigh
 *    source pixels by their overlap in float32, summed in OpenCV's order.
 *  - INTER_AREA enlarging either way: the bilinear code with weights from
 *    the pixel areas, (d + 1) - (s + 1) / scale.
 *  - INTER_NEAREST: floor(d * scale).
 * Rows of the output are independent, so large outputs are split into
 * bands (pj_rows), each with its own horizontal-pass cache.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef PJ_X86_SIMD
#include <immintrin.h>
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define COEF_SCALE 2048

static inline int16_t sat_s16f(float v) {
  long r = lrintf(v);
  return (int16_t)(r < -32768 ? -32768 : r > 32767 ? 32767 : r);
}

static inline uint8_t sat_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static uint8_t *row_of(const pj_image *img, int32_t y) {
  return img->data + (size_t)y * img->stride;
}

/* ---- Bilinear tables ----------------------------------------------------------- */

typedef struct lin_tabs {
  int32_t *xofs;   /* byte offset of the left tap per output pixel (clamped) */
  int16_t *alpha;  /* 2 weights per output pixel; 0 right weight at the edge */
  int32_t *yofs;   /* source row per output row (clamped when read) */
  int16_t *beta;   /* 2 weights per output row */
  int32_t *alpha4; /* 3-4 channels with AVX2: each pixel's weight pair 4 times */
  uint8_t *blk;    /* 1 or 3 channels with AVX2: per 8 output pixels, the
                    * shuffles (and for 3, weights) of blk1_make/blk3_make */
  int32_t nblk;    /* leading blocks of 8 output pixels that blk covers */
} lin_tabs;

/* Rows of up to this many output pixels get alpha4 (16 bytes a pixel);
 * wider ones take the SSSE3 pass instead of a table larger than the row. */
#define ALPHA4_MAX ((int32_t)1 << 20)

/* A block of blk: for 1 channel one 32-byte pshufb mask; for 3, three
 * masks, then three weight vectors, each 32 bytes (low lane: pixels
 * 8b .. 8b + 3, high lane: 8b + 4 .. 8b + 7). */
#define BLK1_BYTES 32
#define BLK3_BYTES 192

static size_t lin_tabs_bytes(int32_t dw, int32_t dh, int c) {
  const size_t alpha4 = c >= 3 && dw <= ALPHA4_MAX ? 16 * (size_t)dw + 32 : 0;
  const size_t blk = (c == 1 || c == 3) && dw <= ALPHA4_MAX
                         ? (size_t)(dw / 8) * (c == 1 ? BLK1_BYTES : BLK3_BYTES) + 32 : 0;
  return 8 * ((size_t)dw + (size_t)dh) + 64 + alpha4 + blk;
}

/* Source position and fraction of output index d, as OpenCV's bilinear
 * code has them (area: the weights of cv2's INTER_AREA when enlarging). */
static int32_t lin_pos(int32_t d, double scale, double inv, bool area, float *f) {
  int32_t s;
  if (area) {
    s = (int32_t)floor(d * scale);
    float fx = (float)((d + 1) - (s + 1) * inv);
    *f = fx <= 0 ? 0.f : fx - floorf(fx);
  } else {
    float fx = (float)((d + 0.5) * scale - 0.5);
    s = (int32_t)floorf(fx);
    *f = fx - (float)s;
  }
  return s;
}

#ifdef PJ_X86_SIMD
/* Entries [0, n) of one axis's bilinear table, 8 a step, for CPUs with
 * AVX2: the same double and float steps as lin_pos and lin_tabs_make, in
 * the same order, so every entry is the scalar one.  With last >= 0 the
 * positions are clamped to [0, last] (taking weight 0 outside) and
 * offsets are scaled by c (the x axis); with last < 0 they are kept (y).
 * Returns the entries done. */
__attribute__((target("avx2"))) static int32_t lin_axis_avx2(int32_t n, double scale, int32_t last,
                                                            int c, int32_t *ofs, int16_t *w) {
  const __m256d half = _mm256_set1_pd(0.5), vs = _mm256_set1_pd(scale);
  const __m256 one = _mm256_set1_ps(1.f), coef = _mm256_set1_ps((float)COEF_SCALE);
  const __m256i zero = _mm256_setzero_si256(), vlast = _mm256_set1_epi32(last);
  const __m256i vc = _mm256_set1_epi32(c), lo16 = _mm256_set1_epi32(0xffff);
  int32_t d = 0;
  for (; d + 8 <= n; d += 8) {
    const __m256d x0 = _mm256_sub_pd(
        _mm256_mul_pd(_mm256_add_pd(_mm256_cvtepi32_pd(_mm_setr_epi32(d, d + 1, d + 2, d + 3)), half), vs),
        half);
    const __m256d x1 = _mm256_sub_pd(
        _mm256_mul_pd(_mm256_add_pd(_mm256_cvtepi32_pd(_mm_setr_epi32(d + 4, d + 5, d + 6, d + 7)), half), vs),
        half);
    const __m256 fx = _mm256_set_m128(_mm256_cvtpd_ps(x1), _mm256_cvtpd_ps(x0));
    const __m256 fl = _mm256_floor_ps(fx);
    __m256i si = _mm256_cvttps_epi32(fl);
    __m256 f = _mm256_sub_ps(fx, fl);
    if (last >= 0) {
      const __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(zero, si),
                                          _mm256_cmpgt_epi32(si, _mm256_sub_epi32(vlast, _mm256_set1_epi32(1))));
      f = _mm256_andnot_ps(_mm256_castsi256_ps(out), f);
      si = _mm256_mullo_epi32(_mm256_min_epi32(_mm256_max_epi32(si, zero), vlast), vc);
    }
    const __m256i a0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_sub_ps(one, f), coef));
    const __m256i a1 = _mm256_cvtps_epi32(_mm256_mul_ps(f, coef));
    _mm256_storeu_si256((__m256i *)(ofs + d), si);
    _mm256_storeu_si256((__m256i *)(w + 2 * d),
                        _mm256_or_si256(_mm256_and_si256(a0, lo16), _mm256_slli_epi32(a1, 16)));
  }
  return d;
}
#endif

#ifdef PJ_X86_SIMD
/* blk for the leading blocks of 8 output pixels (3 channels) in which
 * every 4 pixels take their 24 taps from one 16-byte load at the first
 * one's left tap, as they do when enlarging or shrinking by less than
 * about 4/3: each pair of taps is then picked by one pshufb, which fills
 * every 16-bit lane, where a load and a shuffle per pixel leave a quarter
 * of them idle.  Pair p of 4 pixels is channel p % 3 of pixel p / 3; it
 * goes to 32-bit lane p % 4 of mask p / 4. */
__attribute__((target("avx2"))) static void blk3_make(lin_tabs *t, uint8_t *mem, int32_t dw) {
  /* Mask m takes pixels (0 0 0 1), (1 1 2 2), (2 3 3 3) and channels
   * (0 1 2 0), (1 2 0 1), (2 0 1 2): each tap pair is the pixel's offset
   * spread by sel, plus the channel (and 3 for the right tap) from add. */
  static const int8_t sel[3][16] = {
      {0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 1, -1, 1, -1},
      {1, -1, 1, -1, 1, -1, 1, -1, 2, -1, 2, -1, 2, -1, 2, -1},
      {2, -1, 2, -1, 3, -1, 3, -1, 3, -1, 3, -1, 3, -1, 3, -1}};
  static const int8_t add[3][16] = {
      {0, -128, 3, -128, 1, -128, 4, -128, 2, -128, 5, -128, 0, -128, 3, -128},
      {1, -128, 4, -128, 2, -128, 5, -128, 0, -128, 3, -128, 1, -128, 4, -128},
      {2, -128, 5, -128, 0, -128, 3, -128, 1, -128, 4, -128, 2, -128, 5, -128}};
  __m128i vsel[3], vadd[3];
  for (int m = 0; m < 3; m++) {
    vsel[m] = _mm_loadu_si128((const __m128i *)sel[m]);
    vadd[m] = _mm_loadu_si128((const __m128i *)add[m]);
  }
  t->blk = (uint8_t *)(((uintptr_t)mem + 31) & ~(uintptr_t)31);
  int32_t b = 0;
  for (; b < dw / 8; b++) {
    uint8_t *k = t->blk + (size_t)b * BLK3_BYTES;
    for (int g = 0; g < 2; g++) {
      const int32_t d0 = 8 * b + 4 * g;
      const __m128i x = _mm_loadu_si128((const __m128i *)(t->xofs + d0));
      const __m128i rel = _mm_sub_epi32(x, _mm_shuffle_epi32(x, 0));
      /* Offsets rise along the row, so rel[3] is the span. */
      if (_mm_extract_epi32(rel, 3) > 16 - 6) goto done;
      const __m128i r8 = _mm_packus_epi16(_mm_packs_epi32(rel, rel), _mm_setzero_si128());
      const __m128i w = _mm_loadu_si128((const __m128i *)(t->alpha + 2 * d0));
      const __m128i wm[3] = {_mm_shuffle_epi32(w, 0x40), _mm_shuffle_epi32(w, 0xa5),
                             _mm_shuffle_epi32(w, 0xfe)};
      for (int m = 0; m < 3; m++) {
        _mm_store_si128((__m128i *)(k + 32 * m + 16 * g),
                        _mm_add_epi8(_mm_shuffle_epi8(r8, vsel[m]), vadd[m]));
        _mm_store_si128((__m128i *)(k + 96 + 32 * m + 16 * g), wm[m]);
      }
    }
  }
done:
  t->nblk = b;
}
#endif

#ifdef PJ_X86_SIMD
/* blk for the leading blocks of 8 output pixels (1 channel) whose taps
 * lie within 16 bytes of the first one's left tap, as they do from
 * enlarging to shrinking by nearly 2: one load and one pshufb then give
 * all 8 pixels' tap pairs, where each took a load of its own.  Pixel q of
 * a block is 32-bit lane q of its mask: bytes rel, zero, rel + 1, zero.
 * The weights are the alpha table as it is. */
__attribute__((target("avx2"))) static void blk1_make(lin_tabs *t, uint8_t *mem, int32_t dw) {
  t->blk = (uint8_t *)(((uintptr_t)mem + 31) & ~(uintptr_t)31);
  const __m256i spread = _mm256_set1_epi32(0x00010001), zero_hi = _mm256_set1_epi32((int)0x80018000u);
  int32_t b = 0;
  for (; b < dw / 8; b++) {
    /* Offsets rise along the row, so the last pixel's is the span. */
    if (t->xofs[8 * b + 7] - t->xofs[8 * b] > 16 - 2) break;
    const __m256i x = _mm256_loadu_si256((const __m256i *)(t->xofs + 8 * b));
    const __m256i rel = _mm256_sub_epi32(x, _mm256_set1_epi32(t->xofs[8 * b]));
    _mm256_store_si256((__m256i *)(t->blk + BLK1_BYTES * (size_t)b),
                       _mm256_add_epi32(_mm256_mullo_epi32(rel, spread), zero_hi));
  }
  t->nblk = b;
}
#endif

static void lin_tabs_make(lin_tabs *t, void *mem, int32_t sw, int32_t sh, int32_t dw, int32_t dh,
                          int c, bool area) {
  t->xofs = mem;
  t->yofs = t->xofs + dw;
  t->alpha = (int16_t *)(t->yofs + dh);
  t->beta = t->alpha + 2 * (size_t)dw;
  /* OpenCV takes scale = 1 / (dst / src), not src / dst: the last bit
   * matters for positions that land on a pixel boundary. */
  const double sx = 1. / ((double)dw / sw), sy = 1. / ((double)dh / sh);
  int32_t x0 = 0, y0 = 0;
#ifdef PJ_X86_SIMD
  if (!area && pj_cpu_avx2()) {
    x0 = lin_axis_avx2(dw, sx, sw - 1, c, t->xofs, t->alpha);
    y0 = lin_axis_avx2(dh, sy, -1, 1, t->yofs, t->beta);
  }
#endif
  for (int32_t d = x0; d < dw; d++) {
    float f;
    int32_t s = lin_pos(d, sx, (double)dw / sw, area, &f);
    if (s < 0) f = 0, s = 0;
    if (s >= sw - 1) f = 0, s = sw - 1;
    t->xofs[d] = s * c;
    t->alpha[2 * d] = sat_s16f((1.f - f) * COEF_SCALE);
    t->alpha[2 * d + 1] = sat_s16f(f * COEF_SCALE);
  }
  for (int32_t d = y0; d < dh; d++) {
    float f;
    int32_t s = lin_pos(d, sy, (double)dh / sh, area, &f);
    t->yofs[d] = s;
    t->beta[2 * d] = sat_s16f((1.f - f) * COEF_SCALE);
    t->beta[2 * d + 1] = sat_s16f(f * COEF_SCALE);
  }
  t->alpha4 = NULL;
  t->blk = NULL;
  t->nblk = 0;
#ifdef PJ_X86_SIMD
  if (c == 1 && dw <= ALPHA4_MAX && pj_cpu_avx2())
    blk1_make(t, (uint8_t *)(t->beta + 2 * (size_t)dh), dw);
  if (c >= 3 && dw <= ALPHA4_MAX && pj_cpu_avx2()) {
    /* One 32-byte load then gives two pixels' weights, one per lane. */
    t->alpha4 = (int32_t *)(((uintptr_t)(t->beta + 2 * (size_t)dh) + 31) & ~(uintptr_t)31);
    for (int32_t d = 0; d < dw; d++) {
      int32_t pair;
      memcpy(&pair, t->alpha + 2 * d, 4);
      for (int k = 0; k < 4; k++) t->alpha4[4 * d + k] = pair;
    }
    if (c == 3) blk3_make(t, (uint8_t *)(t->alpha4 + 4 * (size_t)dw), dw);
  }
#endif
}

/* ---- Horizontal pass: one source row into sums (weights sum to 2048) ------------ */

/* The vertical pass only ever uses a horizontal sum shifted right by 4
 * (OpenCV's vector code does that first), and the shifted sums of 8-bit
 * pixels with non-negative weights fit int16: rows of sums are kept that
 * way, half the bytes for the vertical pass to read. */
typedef int16_t hsum;

/* Output pixels [d0, dw).  At the right edge the second tap has weight 0,
 * so it may read any byte of the row: it reads the first tap again. */
static inline __attribute__((always_inline)) void
hpass_scalar_c(const uint8_t *s, int32_t sw, const lin_tabs *t, int32_t d0, int32_t dw,
               hsum *out, const int c) {
  for (int32_t d = d0; d < dw; d++) {
    const int32_t x = t->xofs[d], x1 = x + c < sw * c ? x + c : x;
    const int a0 = t->alpha[2 * d], a1 = t->alpha[2 * d + 1];
    for (int k = 0; k < c; k++) out[d * c + k] = (hsum)((s[x + k] * a0 + s[x1 + k] * a1) >> 4);
  }
}

static void hpass_scalar(const uint8_t *s, int32_t sw, int c, const lin_tabs *t, int32_t d0,
                         int32_t dw, hsum *out) {
  switch (c) {
  case 1: hpass_scalar_c(s, sw, t, d0, dw, out, 1); break;
  case 2: hpass_scalar_c(s, sw, t, d0, dw, out, 2); break;
  case 3: hpass_scalar_c(s, sw, t, d0, dw, out, 3); break;
  default: hpass_scalar_c(s, sw, t, d0, dw, out, 4); break;
  }
}

#ifdef PJ_X86_SIMD
/* The last output pixel whose taps a load of `bytes` at its left tap
 * keeps inside the row and the buffer's tail (PJ_TAIL bytes after the
 * last row): the vector loops stop there. */
static int32_t vec_limit(const lin_tabs *t, int32_t sw, int c, int32_t dw, int bytes) {
  const int64_t room = (int64_t)sw * c + PJ_TAIL - bytes;
  int32_t d = dw;
  while (d > 0 && t->xofs[d - 1] > room) d--;
  return d;
}

static inline int load32(const uint8_t *p) {
  int v;
  memcpy(&v, p, 4);
  return v;
}

/* Gray: 8 outputs a step, the byte pairs fetched as 32-bit words (their
 * low two bytes are the taps).  Eight plain loads beat vpgatherdd, which
 * is microcoded and slow on the CPUs that patch it against Downfall. */
__attribute__((target("avx2"))) static int32_t hpass1_avx2(const uint8_t *s, int32_t sw,
                                                          const lin_tabs *t, int32_t dw,
                                                          hsum *out, int32_t d) {
  const __m256i pair = _mm256_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1,
                                        0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1);
  const int32_t end = vec_limit(t, sw, 1, dw, 4);
  const int32_t *xofs = t->xofs;
  const int16_t *alpha = t->alpha;
  for (; d + 8 <= end; d += 8) {
    const __m256i px = _mm256_setr_epi32(load32(s + xofs[d]), load32(s + xofs[d + 1]),
                                         load32(s + xofs[d + 2]), load32(s + xofs[d + 3]),
                                         load32(s + xofs[d + 4]), load32(s + xofs[d + 5]),
                                         load32(s + xofs[d + 6]), load32(s + xofs[d + 7]));
    const __m256i a = _mm256_loadu_si256((const __m256i *)(alpha + 2 * d));
    const __m256i r = _mm256_srai_epi32(_mm256_madd_epi16(_mm256_shuffle_epi8(px, pair), a), 4);
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(r, r), 0x08);
    _mm_storeu_si128((__m128i *)(out + d), _mm256_castsi256_si128(p));
  }
  return d;
}

/* Blocks of t->blk whose 16-byte loads, at the left taps of pixels 8b
 * (and 8b + 4), stay inside the row and the buffer's tail. */
static int32_t blk_limit(const lin_tabs *t, int32_t sw, int c, int32_t dw) {
  const int32_t nb = vec_limit(t, sw, c, dw, 16) / 8;
  return nb < t->nblk ? nb : t->nblk;
}

/* Gray, 8 outputs a step from blk (see blk1_make): one 16-byte load in
 * both lanes, one pshufb for the 8 tap pairs.  Returns the pixels done. */
__attribute__((target("avx2"))) static int32_t hpass1_blk_avx2(const uint8_t *s, int32_t sw,
                                                              const lin_tabs *t, int32_t dw,
                                                              hsum *out) {
  const int32_t nb = blk_limit(t, sw, 1, dw);
  const int32_t *xofs = t->xofs;
  for (int32_t b = 0; b < nb; b++) {
    const __m256i px = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(s + xofs[8 * b])));
    const __m256i taps = _mm256_shuffle_epi8(px, _mm256_load_si256((const __m256i *)(t->blk + BLK1_BYTES * (size_t)b)));
    const __m256i a = _mm256_loadu_si256((const __m256i *)(t->alpha + 16 * (size_t)b));
    const __m256i r = _mm256_srai_epi32(_mm256_madd_epi16(taps, a), 4);
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(r, r), 0x08);
    _mm_storeu_si128((__m128i *)(out + 8 * (size_t)b), _mm256_castsi256_si128(p));
  }
  return nb * 8;
}

/* The sums of output pixels d and d + 1 (3-4 channels), one per lane. */
static inline __attribute__((always_inline, target("avx2"))) __m256i
two_sums(const uint8_t *s, const int32_t *xofs, const int32_t *w4, int32_t d, __m256i pick) {
  const __m128i lo = _mm_loadu_si128((const __m128i *)(s + xofs[d]));
  const __m128i hi = _mm_loadu_si128((const __m128i *)(s + xofs[d + 1]));
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  const __m256i taps = _mm256_shuffle_epi8(both, pick);
  const __m256i w = _mm256_load_si256((const __m256i *)(w4 + 4 * (size_t)d));
  return _mm256_srai_epi32(_mm256_madd_epi16(taps, w), 4);
}

/* 3 and 4 channels: two output pixels a vector (one per 128-bit lane),
 * each channel's two taps zero-extended into a 16-bit pair by one pshufb
 * and weighted with one pmaddwd.  Four pixels a step: their sums packed
 * into one vector and stored by halves, which keeps shuffles (one port on
 * Intel cores) to four a step.  A 16-byte load at a left tap may read past
 * the row, into the next row or the buffer's tail; past the right edge
 * the second tap's weight is 0. */
__attribute__((target("avx2"))) static int32_t hpass34_avx2(const uint8_t *s, int32_t sw, int c,
                                                           const lin_tabs *t, int32_t dw,
                                                           hsum *out, int32_t d) {
  const __m256i pick3 = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, 2, -1, 5, -1,
                                         0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, 2, -1, 5, -1);
  const __m256i pick4 = _mm256_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1,
                                         0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1);
  const __m256i pick = c == 3 ? pick3 : pick4;
  const int32_t end = vec_limit(t, sw, c, dw, 16);
  const int32_t *xofs = t->xofs;
  const int32_t *w4 = t->alpha4;
  /* Each pixel stores 4 sums; for 3 channels the 4th is overwritten by the
   * next pixel, and rows of sums have 4 spare ones.  So the stores go in
   * pixel order. */
  for (; d + 4 <= end; d += 4) {
    const __m256i p =
        _mm256_packs_epi32(two_sums(s, xofs, w4, d, pick), two_sums(s, xofs, w4, d + 2, pick));
    const __m128i lo = _mm256_castsi256_si128(p), hi = _mm256_extracti128_si256(p, 1);
    _mm_storel_epi64((__m128i *)(out + (size_t)d * c), lo);
    _mm_storel_epi64((__m128i *)(out + (size_t)(d + 1) * c), hi);
    _mm_storeh_pi((__m64 *)(void *)(out + (size_t)(d + 2) * c), _mm_castsi128_ps(lo));
    _mm_storeh_pi((__m64 *)(void *)(out + (size_t)(d + 3) * c), _mm_castsi128_ps(hi));
  }
  for (; d + 2 <= end; d += 2) {
    const __m256i p = _mm256_packs_epi32(two_sums(s, xofs, w4, d, pick), _mm256_setzero_si256());
    _mm_storel_epi64((__m128i *)(out + (size_t)d * c), _mm256_castsi256_si128(p));
    _mm_storel_epi64((__m128i *)(out + (size_t)(d + 1) * c), _mm256_extracti128_si256(p, 1));
  }
  return d;
}

/* 3 channels, 8 output pixels a step from blk (see blk3_make): two
 * 16-byte loads, three shuffles and three pmaddwd for 24 sums, stored as
 * 12 in each lane.  Returns the pixels done. */
__attribute__((target("avx2"))) static int32_t hpass3_blk_avx2(const uint8_t *s, int32_t sw,
                                                              const lin_tabs *t, int32_t dw,
                                                              hsum *out) {
  const int32_t nb = blk_limit(t, sw, 3, dw);
  const int32_t *xofs = t->xofs;
  for (int32_t b = 0; b < nb; b++) {
    const uint8_t *k = t->blk + (size_t)b * BLK3_BYTES;
    const __m128i lo = _mm_loadu_si128((const __m128i *)(s + xofs[8 * b]));
    const __m128i hi = _mm_loadu_si128((const __m128i *)(s + xofs[8 * b + 4]));
    const __m256i px = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    __m256i r[3];
    for (int m = 0; m < 3; m++) {
      const __m256i taps = _mm256_shuffle_epi8(px, _mm256_load_si256((const __m256i *)(k + 32 * m)));
      const __m256i w = _mm256_load_si256((const __m256i *)(k + 96 + 32 * m));
      r[m] = _mm256_srai_epi32(_mm256_madd_epi16(taps, w), 4);
    }
    const __m256i p01 = _mm256_packs_epi32(r[0], r[1]), p2 = _mm256_packs_epi32(r[2], r[2]);
    hsum *o = out + (size_t)b * 24;
    _mm_storeu_si128((__m128i *)o, _mm256_castsi256_si128(p01));
    _mm_storel_epi64((__m128i *)(o + 8), _mm256_castsi256_si128(p2));
    _mm_storeu_si128((__m128i *)(o + 12), _mm256_extracti128_si256(p01, 1));
    _mm_storel_epi64((__m128i *)(o + 20), _mm256_extracti128_si256(p2, 1));
  }
  return nb * 8;
}

/* The same for CPUs with SSSE3 only: one output pixel a step. */
__attribute__((target("ssse3"))) static int32_t hpass34_ssse3(const uint8_t *s, int32_t sw, int c,
                                                             const lin_tabs *t, int32_t dw,
                                                             hsum *out) {
  const __m128i pick = c == 3 ? _mm_setr_epi8(0, 3, 1, 4, 2, 5, 2, 5, -1, -1, -1, -1, -1, -1, -1, -1)
                              : _mm_setr_epi8(0, 4, 1, 5, 2, 6, 3, 7, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i zero = _mm_setzero_si128();
  const int32_t end = vec_limit(t, sw, c, dw, 8);
  int32_t d = 0;
  for (; d < end; d++) {
    __m128i px = _mm_loadl_epi64((const __m128i *)(s + t->xofs[d]));
    __m128i v = _mm_unpacklo_epi8(_mm_shuffle_epi8(px, pick), zero);
    uint32_t a;
    memcpy(&a, t->alpha + 2 * d, 4);
    const __m128i r = _mm_srai_epi32(_mm_madd_epi16(v, _mm_set1_epi32((int)a)), 4);
    _mm_storel_epi64((__m128i *)(out + (size_t)d * c), _mm_packs_epi32(r, r));
  }
  return d;
}
#endif

/* Rows of sums are allocated with 4 spare entries (see hpass34_avx2). */
static void hpass(const uint8_t *s, int32_t sw, int c, const lin_tabs *t, int32_t dw, hsum *out) {
  int32_t d = 0;
#ifdef PJ_X86_SIMD
  if (c == 1 && pj_cpu_avx2()) {
    if (t->nblk > 0) d = hpass1_blk_avx2(s, sw, t, dw, out);
    d = hpass1_avx2(s, sw, t, dw, out, d);
  } else if (c >= 3 && t->alpha4) {
    if (t->nblk > 0) d = hpass3_blk_avx2(s, sw, t, dw, out);
    d = hpass34_avx2(s, sw, c, t, dw, out, d);
  } else if (c >= 3 && pj_cpu_ssse3()) d = hpass34_ssse3(s, sw, c, t, dw, out);
#endif
  hpass_scalar(s, sw, c, t, d, dw, out);
}

/* ---- Vertical pass ----------------------------------------------------------------- */

#ifdef PJ_X86_SIMD
/* vpass (below) 32 bytes a step, for CPUs with AVX2 (packus works per
 * 128-bit lane, so the quarters are put back in order before the store). */
__attribute__((target("avx2"))) static int32_t vpass_avx2(const hsum *h0, const hsum *h1,
                                                          int b0, int b1, uint8_t *d, int32_t n) {
  const __m256i vb0 = _mm256_set1_epi16((int16_t)b0), vb1 = _mm256_set1_epi16((int16_t)b1);
  const __m256i two = _mm256_set1_epi16(2);
  int32_t i = 0;
  /* The last block ends at n, overlapping the one before. */
  for (; i < n; i += 32) {
    if (i + 32 > n) i = n - 32;
    __m256i r[2];
    for (int j = 0; j < 2; j++) {
      const __m256i x0 = _mm256_loadu_si256((const __m256i *)(h0 + i + 16 * j));
      const __m256i x1 = _mm256_loadu_si256((const __m256i *)(h1 + i + 16 * j));
      __m256i v = _mm256_adds_epi16(_mm256_mulhi_epi16(x0, vb0), _mm256_mulhi_epi16(x1, vb1));
      r[j] = _mm256_srai_epi16(_mm256_adds_epi16(v, two), 2);
    }
    const __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(r[0], r[1]), 0xd8);
    _mm256_storeu_si256((__m256i *)(d + i), b);
  }
  return i;
}
#endif

/* n bytes from two rows of horizontal sums, with the rounding of OpenCV's
 * vector code (mulhi is the (a * b) >> 16 of the formula), which is what
 * cv2.resize gives every byte. */
static void vpass(const hsum *h0, const hsum *h1, int b0, int b1, uint8_t *d, int32_t n) {
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
      const __m128i x0 = _mm_loadu_si128((const __m128i *)(h0 + i + 8 * j));
      const __m128i x1 = _mm_loadu_si128((const __m128i *)(h1 + i + 8 * j));
      __m128i v = _mm_adds_epi16(_mm_mulhi_epi16(x0, vb0), _mm_mulhi_epi16(x1, vb1));
      r[j] = _mm_srai_epi16(_mm_adds_epi16(v, two), 2);
    }
    _mm_storeu_si128((__m128i *)(d + i), _mm_packus_epi16(r[0], r[1]));
  }
#endif
  for (; i < n; i++) d[i] = sat_u8(((h0[i] * b0 >> 16) + (h1[i] * b1 >> 16) + 2) >> 2);
}

/* ---- Bilinear driver ----------------------------------------------------------------- */

/* Horizontal rows for source rows y0 and y0 + 1 (clamped), computed once
 * per source row: consecutive output rows mostly share them (an upscale
 * reuses each several times), so a two-slot cache keyed by row number
 * avoids recomputing them. */
typedef struct hcache {
  hsum *row[2];
  int32_t key[2];
} hcache;

static const hsum *hrow(hcache *hc, const pj_image *src, const lin_tabs *t, int32_t dw, int32_t y,
                        const hsum *other) {
  for (int i = 0; i < 2; i++)
    if (hc->key[i] == y) return hc->row[i];
  /* Replace the slot the caller is not holding. */
  int slot = hc->row[0] == other ? 1 : 0;
  hpass(row_of(src, y), src->width, src->channels, t, dw, hc->row[slot]);
  hc->key[slot] = y;
  return hc->row[slot];
}

/* Entries in one cached row of horizontal sums. */
static size_t hrow_len(int32_t dw, int c) { return (size_t)dw * c + 4; }

/* Output rows [y0, y1) of a bilinear resize; hbuf holds two rows of sums. */
static void linear_rows(const pj_image *src, pj_image *dst, const lin_tabs *t, hsum *hbuf,
                        int32_t y0, int32_t y1) {
  const int32_t dw = dst->width, H = src->height;
  hcache hc = {{hbuf, hbuf + hrow_len(dw, src->channels)}, {-1, -1}};
  for (int32_t dy = y0; dy < y1; dy++) {
    int32_t a = t->yofs[dy], b = a + 1;
    a = a < 0 ? 0 : a >= H ? H - 1 : a;
    b = b < 0 ? 0 : b >= H ? H - 1 : b;
    const hsum *h0 = hrow(&hc, src, t, dw, a, NULL);
    const hsum *h1 = hrow(&hc, src, t, dw, b, h0);
    vpass(h0, h1, t->beta[2 * dy], t->beta[2 * dy + 1], row_of(dst, dy), dw * src->channels);
  }
}

/* ---- Area, integer factors ----------------------------------------------------------- */

/* 2x2 blocks rounded half up, what OpenCV's vector code gives 1, 3 and 4
 * channels.  The SSE2 paths take 16 source bytes per row and step, the
 * SSSE3 one for 3 channels 24 bytes split into even and odd pixels. */
#ifdef PJ_X86_SIMD
static inline __m128i avg4_epi16(__m128i a, __m128i b, __m128i c, __m128i d) {
  const __m128i two = _mm_set1_epi16(2);
  return _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(a, b), _mm_add_epi16(_mm_add_epi16(c, d), two)), 2);
}

static int32_t area2x2_c1(const uint8_t *s0, const uint8_t *s1, uint8_t *d, int32_t n) {
  const __m128i lo = _mm_set1_epi16(0xFF);
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i a = _mm_loadu_si128((const __m128i *)(s0 + 2 * i));
    __m128i b = _mm_loadu_si128((const __m128i *)(s1 + 2 * i));
    __m128i s = avg4_epi16(_mm_and_si128(a, lo), _mm_srli_epi16(a, 8), _mm_and_si128(b, lo),
                           _mm_srli_epi16(b, 8));
    _mm_storel_epi64((__m128i *)(d + i), _mm_packus_epi16(s, s));
  }
  return i;
}

static int32_t area2x2_c4(const uint8_t *s0, const uint8_t *s1, uint8_t *d, int32_t n) {
  const __m128i z = _mm_setzero_si128();
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i a = _mm_loadu_si128((const __m128i *)(s0 + 2 * i));
    __m128i b = _mm_loadu_si128((const __m128i *)(s1 + 2 * i));
    __m128i al = _mm_unpacklo_epi8(a, z), ah = _mm_unpackhi_epi8(a, z);
    __m128i bl = _mm_unpacklo_epi8(b, z), bh = _mm_unpackhi_epi8(b, z);
    /* Lanes 0-3 of each hold pixels 0 and 2 (even), the odd ones beside. */
    __m128i s = avg4_epi16(_mm_unpacklo_epi64(al, ah), _mm_unpackhi_epi64(al, ah),
                           _mm_unpacklo_epi64(bl, bh), _mm_unpackhi_epi64(bl, bh));
    _mm_storel_epi64((__m128i *)(d + i), _mm_packus_epi16(s, s));
  }
  return i;
}

/* Even pixels (0, 2, 4, 6) and odd ones of the 24 RGB bytes at s. */
__attribute__((target("ssse3"))) static inline void rgb_split(const uint8_t *s, __m128i *e,
                                                              __m128i *o) {
  const __m128i x = _mm_loadu_si128((const __m128i *)s), y = _mm_loadu_si128((const __m128i *)(s + 8));
  const __m128i ex = _mm_setr_epi8(0, 1, 2, 6, 7, 8, 12, 13, 14, -1, -1, -1, -1, -1, -1, -1);
  const __m128i ey = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, 10, 11, 12, -1, -1, -1, -1);
  const __m128i ox = _mm_setr_epi8(3, 4, 5, 9, 10, 11, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i oy = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, 8, 9, 13, 14, 15, -1, -1, -1, -1);
  *e = _mm_or_si128(_mm_shuffle_epi8(x, ex), _mm_shuffle_epi8(y, ey));
  *o = _mm_or_si128(_mm_shuffle_epi8(x, ox), _mm_shuffle_epi8(y, oy));
}

__attribute__((target("ssse3"))) static int32_t area2x2_c3(const uint8_t *s0, const uint8_t *s1,
                                                           uint8_t *d, int32_t n) {
  const __m128i z = _mm_setzero_si128();
  int32_t i = 0;
  for (; i + 12 <= n; i += 12) {
    __m128i e0, o0, e1, o1;
    rgb_split(s0 + 2 * i, &e0, &o0);
    rgb_split(s1 + 2 * i, &e1, &o1);
    __m128i lo = avg4_epi16(_mm_unpacklo_epi8(e0, z), _mm_unpacklo_epi8(o0, z),
                            _mm_unpacklo_epi8(e1, z), _mm_unpacklo_epi8(o1, z));
    __m128i hi = avg4_epi16(_mm_unpackhi_epi8(e0, z), _mm_unpackhi_epi8(o0, z),
                            _mm_unpackhi_epi8(e1, z), _mm_unpackhi_epi8(o1, z));
    __m128i p = _mm_packus_epi16(lo, hi);
    _mm_storel_epi64((__m128i *)(d + i), p);
    const int32_t tail = _mm_cvtsi128_si32(_mm_srli_si128(p, 8));
    memcpy(d + i + 8, &tail, 4);
  }
  return i;
}
#endif

static void area2x2_rows(const pj_image *src, pj_image *dst, int32_t y0, int32_t y1) {
  const int c = src->channels;
  const int32_t n = dst->width * c;
#ifdef PJ_X86_SIMD
  const bool ssse3 = pj_cpu_ssse3();
#endif
  for (int32_t y = y0; y < y1; y++) {
    const uint8_t *s0 = row_of(src, 2 * y), *s1 = s0 + src->stride;
    uint8_t *d = row_of(dst, y);
    int32_t i = 0;
#ifdef PJ_X86_SIMD
    i = c == 1 ? area2x2_c1(s0, s1, d, n)
        : c == 4 ? area2x2_c4(s0, s1, d, n)
        : c == 3 && ssse3 ? area2x2_c3(s0, s1, d, n) : 0;
#endif
    for (int32_t x = i / c; x < dst->width; x++)
      for (int k = 0; k < c; k++) {
        const size_t o = (size_t)(2 * x) * c + k;
        d[x * c + k] = (uint8_t)((s0[o] + s0[o + c] + s1[o] + s1[o + c] + 2) >> 2);
      }
  }
}

/* kx x ky blocks, the sum times 1 / area in float rounded half to even
 * (cv2's saturate_cast of sum * scale): rows [y0, y1) of dst.  Column sums
 * of the ky source rows are formed first, in 32 bits. */
static void area_fast_rows(const pj_image *src, pj_image *dst, int kx, int ky, uint32_t *col,
                           int32_t y0, int32_t y1) {
  const int c = src->channels;
  const int32_t n = dst->width * kx * c;
  const float scale = 1.f / (float)(kx * ky);
  for (int32_t y = y0; y < y1; y++) {
    memset(col, 0, sizeof *col * (size_t)n);
    for (int j = 0; j < ky; j++) {
      const uint8_t *s = row_of(src, y * ky + j);
      for (int32_t i = 0; i < n; i++) col[i] += s[i];
    }
    uint8_t *d = row_of(dst, y);
    for (int32_t x = 0; x < dst->width; x++)
      for (int k = 0; k < c; k++) {
        uint32_t sum = 0;
        for (int i = 0; i < kx; i++) sum += col[(size_t)(x * kx + i) * c + k];
        d[x * c + k] = sat_u8((int)lrintf((float)sum * scale));
      }
  }
}

/* ---- Area, other factors ---------------------------------------------------------------- */

typedef struct area_tab {
  int32_t *start;   /* per output index: first entry in idx/w */
  int32_t *idx;     /* source index */
  float *w;         /* its share of the output pixel */
} area_tab;

/* Source spans of each output index when shrinking s to d, in OpenCV's
 * order and float weights: a partial first pixel, the whole ones, a
 * partial last one. */
static bool area_tab_make(area_tab *t, int32_t s, int32_t d) {
  const double scale = 1. / ((double)d / s);
  const size_t cap = (size_t)s + 2 * (size_t)d + 2;
  t->start = malloc(sizeof *t->start * ((size_t)d + 1));
  t->idx = malloc(sizeof *t->idx * cap);
  t->w = malloc(sizeof *t->w * cap);
  if (!t->start || !t->idx || !t->w) return false;
  size_t k = 0;
  for (int32_t o = 0; o < d; o++) {
    t->start[o] = (int32_t)k;
    const double f1 = o * scale, f2 = f1 + scale, cell = fmin(scale, s - f1);
    int32_t s1 = (int32_t)ceil(f1), s2 = (int32_t)floor(f2);
    if (s2 > s - 1) s2 = s - 1;
    if (s1 > s2) s1 = s2;
    if (s1 - f1 > 1e-3) t->idx[k] = s1 - 1, t->w[k++] = (float)((s1 - f1) / cell);
    for (int32_t i = s1; i < s2; i++) t->idx[k] = i, t->w[k++] = (float)(1.0 / cell);
    if (f2 - s2 > 1e-3) t->idx[k] = s2, t->w[k++] = (float)(fmin(fmin(f2 - s2, 1.), cell) / cell);
  }
  t->start[d] = (int32_t)k;
  return true;
}

static void area_tab_free(area_tab *t) { free(t->start), free(t->idx), free(t->w); }

/* One source row weighed into buf (dw x c floats), in table order. */
static inline __attribute__((always_inline)) void
area_hrow(const uint8_t *s, const area_tab *tx, int32_t dw, float *buf, const int c) {
  for (int32_t o = 0; o < dw; o++) {
    float v[4] = {0, 0, 0, 0};
    for (int32_t f = tx->start[o]; f < tx->start[o + 1]; f++) {
      const uint8_t *p = s + (size_t)tx->idx[f] * c;
      const float a = tx->w[f];
      for (int k = 0; k < c; k++) v[k] += p[k] * a;
    }
    for (int k = 0; k < c; k++) buf[o * c + k] = v[k];
  }
}

/* Rows [y0, y1) of dst; scratch holds 2 x dw x c floats. */
static void area_rows(const pj_image *src, pj_image *dst, const area_tab *tx, const area_tab *ty,
                      float *scratch, int32_t y0, int32_t y1) {
  const int c = src->channels;
  const int32_t dw = dst->width, n = dw * c;
  float *sum = scratch, *buf = scratch + n;
  for (int32_t dy = y0; dy < y1; dy++) {
    for (int32_t e = ty->start[dy]; e < ty->start[dy + 1]; e++) {
      const uint8_t *s = row_of(src, ty->idx[e]);
      switch (c) {
      case 1: area_hrow(s, tx, dw, buf, 1); break;
      case 2: area_hrow(s, tx, dw, buf, 2); break;
      case 3: area_hrow(s, tx, dw, buf, 3); break;
      default: area_hrow(s, tx, dw, buf, 4); break;
      }
      const float beta = ty->w[e];
      if (e == ty->start[dy])
        for (int32_t i = 0; i < n; i++) sum[i] = beta * buf[i];
      else
        for (int32_t i = 0; i < n; i++) sum[i] += beta * buf[i];
    }
    uint8_t *d = row_of(dst, dy);
    for (int32_t i = 0; i < n; i++) d[i] = sat_u8((int)lrintf(sum[i]));
  }
}

/* ---- Nearest ---------------------------------------------------------------------------- */

/* Every output row of a nearest resize copies the same source bytes of
 * its source row, so the byte map is worked out once: output blocks of
 * 16 (or 8) bytes, each filled by two shuffles of two 16-byte loads that
 * lie inside the row.  That holds while the source bytes of a block span
 * at most 32: downscales to a half (blocks of 16) or, for 1- and 2-byte
 * pixels, a quarter (blocks of 8).  Larger factors, rows under 16 bytes
 * and CPUs without SSSE3 copy pixel by pixel. */
typedef struct nn_block {
  int32_t base0, base1; /* byte offsets of the two loads in the source row */
  uint8_t m0[16], m1[16]; /* shuffle of each load; 0x80 takes nothing */
} nn_block;

typedef struct nn_tab {
  const int32_t *xofs; /* source byte offset of each output pixel */
  nn_block *blocks;    /* NULL: pixel by pixel */
  int32_t nblocks, bsize;
} nn_tab;

/* Whether a nearest resize to d gets the byte map.  It costs about what a
 * few rows of copying do, and 5 bytes per output byte of a row: rows past
 * 4 MiB copy pixel by pixel instead. */
static bool nn_mapped(const pj_image *d) {
  const size_t n = (size_t)d->width * d->channels;
  return n >= 16 && n <= ((size_t)4 << 20) && d->height >= 4;
}

static size_t nn_tab_bytes(const pj_image *d) {
  const size_t map = nn_mapped(d) ? sizeof(nn_block) * ((size_t)d->width * d->channels / 8 + 1) : 0;
  return sizeof(int32_t) * (size_t)d->width + map + 64;
}

/* Fills t's blocks of bsize bytes; false when one of them cannot be. */
static bool nn_blocks(nn_tab *t, int32_t rowbytes, int32_t n, int c, int32_t bsize) {
  t->bsize = bsize;
  t->nblocks = n / bsize;
  for (int32_t b = 0; b < t->nblocks; b++) {
    nn_block *k = &t->blocks[b];
    int32_t src[16] = {0}, lo = INT32_MAX, hi = -1;
    for (int32_t i = 0; i < bsize; i++) {
      const int32_t o = b * bsize + i;
      src[i] = t->xofs[o / c] + o % c;
      lo = src[i] < lo ? src[i] : lo;
      hi = src[i] > hi ? src[i] : hi;
    }
    k->base0 = lo < rowbytes - 16 ? lo : rowbytes - 16;
    k->base1 = hi - 15 > k->base0 ? hi - 15 : k->base0;
    for (int32_t i = 0; i < 16; i++) {
      const int32_t v = src[i];
      if (i >= bsize) {
        k->m0[i] = k->m1[i] = 0x80;
      } else if (v - k->base0 < 16) {
        k->m0[i] = (uint8_t)(v - k->base0), k->m1[i] = 0x80;
      } else if (v >= k->base1 && v - k->base1 < 16) {
        k->m0[i] = 0x80, k->m1[i] = (uint8_t)(v - k->base1);
      } else {
        return false;
      }
    }
  }
  return true;
}

static void nn_tab_make(nn_tab *t, void *mem, const pj_image *s, const pj_image *d) {
  int32_t *xofs = mem;
  const int c = s->channels;
  const double fx = 1. / ((double)d->width / s->width);
  for (int32_t x = 0; x < d->width; x++) {
    int32_t sx = (int32_t)floor(x * fx);
    xofs[x] = (sx < s->width ? sx : s->width - 1) * c;
  }
  t->xofs = xofs;
  t->blocks = NULL;
#ifdef PJ_X86_SIMD
  const int32_t rowbytes = s->width * c, n = d->width * c;
  if (!pj_cpu_ssse3() || rowbytes < 16 || !nn_mapped(d)) return;
  t->blocks = (nn_block *)(((uintptr_t)(xofs + d->width) + 63) & ~(uintptr_t)63);
  /* Blocks of 8 lose to 4-byte moves for pixels of 3 and 4 bytes. */
  if (!nn_blocks(t, rowbytes, n, c, 16) && (c > 2 || !nn_blocks(t, rowbytes, n, c, 8)))
    t->blocks = NULL;
#endif
}

#ifdef PJ_X86_SIMD
/* The output bytes of block k, from its two loads of source row s. */
static inline __attribute__((always_inline, target("ssse3"))) __m128i
nn_block_bytes(const uint8_t *s, const nn_block *k) {
  const __m128i a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + k->base0)),
                                     _mm_loadu_si128((const __m128i *)k->m0));
  const __m128i e = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + k->base1)),
                                     _mm_loadu_si128((const __m128i *)k->m1));
  return _mm_or_si128(a, e);
}

__attribute__((target("ssse3"))) static void nn_row_ssse3(const uint8_t *s, uint8_t *d,
                                                          const nn_tab *t, int32_t n, int c) {
  const nn_block *k = t->blocks;
  int32_t o = 0;
  if (t->bsize == 16) {
    for (int32_t b = 0; b < t->nblocks; b++, o += 16)
      _mm_storeu_si128((__m128i *)(d + o), nn_block_bytes(s, &k[b]));
  } else {
    for (int32_t b = 0; b < t->nblocks; b++, o += 8)
      _mm_storel_epi64((__m128i *)(d + o), nn_block_bytes(s, &k[b]));
  }
  for (; o < n; o++) d[o] = s[t->xofs[o / c] + o % c];
}
#endif

/* A 3-byte pixel moves as a 4-byte word, whose extra byte the next pixel
 * overwrites; the row's last pixel moves as 3 bytes, so that no byte past
 * the row is written (another thread may own the next row).  The 4-byte
 * load stays inside the buffer: every buffer has a tail. */
static inline __attribute__((always_inline)) void nn_row_c(const uint8_t *s, uint8_t *d,
                                                           const int32_t *xofs, int32_t w,
                                                           const int c) {
  if (c == 3) {
    int32_t x = 0;
    for (; x + 1 < w; x++) memcpy(d + (size_t)x * 3, s + xofs[x], 4);
    memcpy(d + (size_t)x * 3, s + xofs[x], 3);
  } else {
    for (int32_t x = 0; x < w; x++) memcpy(d + (size_t)x * c, s + xofs[x], (size_t)c);
  }
}

static void nearest_rows(const pj_image *src, pj_image *dst, const nn_tab *t, int32_t y0,
                         int32_t y1) {
  const double fy = 1. / ((double)dst->height / src->height);
  const int c = src->channels;
  const int32_t w = dst->width;
  for (int32_t y = y0; y < y1; y++) {
    int32_t sy = (int32_t)floor(y * fy);
    const uint8_t *s = row_of(src, sy < src->height ? sy : src->height - 1);
    uint8_t *d = row_of(dst, y);
#ifdef PJ_X86_SIMD
    if (t->blocks) {
      nn_row_ssse3(s, d, t, w * c, c);
      continue;
    }
#endif
    switch (c) {
    case 1: nn_row_c(s, d, t->xofs, w, 1); break;
    case 2: nn_row_c(s, d, t->xofs, w, 2); break;
    case 3: nn_row_c(s, d, t->xofs, w, 3); break;
    default: nn_row_c(s, d, t->xofs, w, 4); break;
    }
  }
}

/* ---- Driver ------------------------------------------------------------------------------ */

enum { RZ_COPY, RZ_NEAREST, RZ_LINEAR, RZ_AREA_UP, RZ_AREA2, RZ_AREA_FAST, RZ_AREA };

/* Which of cv2.resize's code paths a resize takes (*kx, *ky: the
 * integer factors of the fast area path). */
static int plan(int interp, const pj_image *s, const pj_image *d, int *kx, int *ky) {
  const int32_t sw = s->width, sh = s->height, dw = d->width, dh = d->height;
  if (sw == dw && sh == dh) return RZ_COPY;
  if (interp == PJ_INTER_NEAREST) return RZ_NEAREST;
  const double fx = 1. / ((double)dw / sw), fy = 1. / ((double)dh / sh);
  const int ix = (int)lrint(fx), iy = (int)lrint(fy);
  const bool whole = fabs(fx - ix) < 2.220446049250313e-16 && fabs(fy - iy) < 2.220446049250313e-16;
  *kx = ix, *ky = iy;
  const bool half = whole && ix == 2 && iy == 2;
  if (interp == PJ_INTER_LINEAR && !half) return RZ_LINEAR;
  if (half) return s->channels != 2 ? RZ_AREA2 : RZ_AREA_FAST;
  if (fx < 1 || fy < 1) return RZ_AREA_UP;
  return whole ? RZ_AREA_FAST : RZ_AREA;
}

typedef struct rz_job {
  const pj_image *src;
  pj_image *dst;
  int path, kx, ky;
  const lin_tabs *lt;
  const area_tab *tx, *ty;
  const nn_tab *nn;
  bool failed;
} rz_job;

static void rz_rows(void *arg, int32_t y0, int32_t y1) {
  rz_job *j = arg;
  const pj_image *s = j->src;
  pj_image *d = j->dst;
  const int c = s->channels;
  const size_t n = (size_t)d->width * c;
  if (j->path == RZ_COPY) {
    for (int32_t y = y0; y < y1; y++) memcpy(row_of(d, y), row_of(s, y), n);
  } else if (j->path == RZ_AREA2) {
    area2x2_rows(s, d, y0, y1);
  } else if (j->path == RZ_NEAREST) {
    nearest_rows(s, d, j->nn, y0, y1);
  } else {
    /* Per band scratch: rows of sums, column sums or float rows. */
    const size_t bytes = j->path == RZ_AREA_FAST ? sizeof(uint32_t) * n * j->kx
                         : j->path == RZ_AREA ? 2 * sizeof(float) * n
                                              : 2 * sizeof(hsum) * hrow_len(d->width, c);
    /* Small outputs (word crops) keep it on the stack. */
    uint8_t stack[16384] __attribute__((aligned(64)));
    void *mem = bytes + 64 <= sizeof stack ? stack : malloc(bytes + 64);
    if (!mem) {
      j->failed = true;
      return;
    }
    if (j->path == RZ_AREA_FAST) area_fast_rows(s, d, j->kx, j->ky, mem, y0, y1);
    else if (j->path == RZ_AREA) area_rows(s, d, j->tx, j->ty, mem, y0, y1);
    else linear_rows(s, d, j->lt, mem, y0, y1);
    if (mem != stack) free(mem);
  }
}

/* Tables for job j, in mem (lin_tabs_bytes) or allocated (area). */
static bool rz_tables(rz_job *j, lin_tabs *lt, nn_tab *nt, area_tab *tx, area_tab *ty,
                      void *mem) {
  const pj_image *s = j->src, *d = j->dst;
  if (j->path == RZ_LINEAR || j->path == RZ_AREA_UP) {
    lin_tabs_make(lt, mem, s->width, s->height, d->width, d->height, s->channels,
                  j->path == RZ_AREA_UP);
    j->lt = lt;
  } else if (j->path == RZ_NEAREST) {
    nn_tab_make(nt, mem, s, d);
    j->nn = nt;
  } else if (j->path == RZ_AREA) {
    if (!area_tab_make(tx, s->width, d->width) || !area_tab_make(ty, s->height, d->height))
      return false;
    j->tx = tx, j->ty = ty;
  }
  return true;
}

/* src resized into dst (its size is the target).  threads > 1 lets large
 * outputs run in bands; pack resizes many small images with threads = 1. */
static int resize_into(const pj_image *src, pj_image *dst, int interp, bool threads) {
  rz_job j = {.src = src, .dst = dst};
  pj_prefetch_view(src); /* its misses overlap the tables made below */
  j.path = plan(interp, src, dst, &j.kx, &j.ky);
  lin_tabs lt;
  nn_tab nt;
  area_tab tx = {0}, ty = {0};
  uint8_t stack[8192] __attribute__((aligned(64)));
  const size_t tab = j.path == RZ_NEAREST ? nn_tab_bytes(dst)
                                          : lin_tabs_bytes(dst->width, dst->height, dst->channels);
  void *mem = tab <= sizeof stack ? stack : malloc(tab);
  bool ok = mem && rz_tables(&j, &lt, &nt, &tx, &ty, mem);
  if (ok) {
    const size_t work = (size_t)src->width * src->height * src->channels +
                        (size_t)dst->width * dst->height * dst->channels * 4;
    if (threads) pj_rows(dst->height, work, rz_rows, &j);
    else rz_rows(&j, 0, dst->height);
    ok = !j.failed;
  }
  if (mem != stack) free(mem);
  area_tab_free(&tx), area_tab_free(&ty);
  return ok ? PJ_OK : pj_fail(PJ_ENOMEM, "out of memory");
}

int pj_resize_serial(const pj_image *src, pj_image *dst, int interp) {
  return resize_into(src, dst, interp, false);
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
  if (resize_into(img, out, interpolation, true)) {
    pj_image_release(out);
    return NULL;
  }
  pj_stats_add(PJ_KERNEL_RESIZE, t0, pj_pixels_of(out));
  return out;
}
