/*
 * warp.c - homographies, perspective warps and the batch crop of quads.
 *
 * The arithmetic reproduces OpenCV 4.x (getPerspectiveTransform, invert,
 * warpPerspective with INTER_LINEAR) bit for bit, as REFERENCE.md section 2
 * lays out: float32 products in the 8x8 system, LU with partial pivoting,
 * the 3x3 cofactor inverse, source coordinates in double rounded to 1/32
 * pixel with round-half-even, and 15-bit fixed-point bilinear weights.
 * That needs IEEE double without fused multiply-add (the Makefile passes
 * -ffp-contract=off) and lrint in the default rounding mode.
 */
#include "internal.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define TAB_BITS 5
#define TAB_SIZE (1 << TAB_BITS)  /* 32 sub-pixel steps */

void pj_warp_opts_default(pj_warp_opts *opts) {
  memset(opts, 0, sizeof *opts);
  opts->interpolation = PJ_INTER_LINEAR;
  opts->border = PJ_BORDER_CONSTANT;
}

void pj_crop_opts_default(pj_crop_opts *opts) {
  memset(opts, 0, sizeof *opts);
  pj_warp_opts_default(&opts->warp);
  opts->rotate_ratio = 1.5;
  opts->max_crop_pixels = 1 << 24;
  opts->max_total_pixels = PJ_DEFAULT_MAX_PIXELS;
  opts->max_quads = 1000000;
}

/* ---- Homography --------------------------------------------------------- */

/* Solves a x = b (8x8) in place as OpenCV's LU does; false if singular. */
static bool lu_solve8(double a[8][8], double b[8]) {
  for (int i = 0; i < 8; i++) {
    int k = i;
    for (int j = i + 1; j < 8; j++)
      if (fabs(a[j][i]) > fabs(a[k][i])) k = j;
    if (fabs(a[k][i]) < DBL_EPSILON * 100) return false;
    if (k != i) {
      for (int j = i; j < 8; j++) {
        double t = a[i][j];
        a[i][j] = a[k][j];
        a[k][j] = t;
      }
      double t = b[i];
      b[i] = b[k];
      b[k] = t;
    }
    double d = -1 / a[i][i];
    for (int j = i + 1; j < 8; j++) {
      double alpha = a[j][i] * d;
      for (int c = i + 1; c < 8; c++) a[j][c] += alpha * a[i][c];
      b[j] += alpha * b[i];
    }
  }
  for (int i = 7; i >= 0; i--) {
    double s = b[i];
    for (int c = i + 1; c < 8; c++) s -= a[i][c] * b[c];
    b[i] = s / a[i][i];
  }
  return true;
}

int pj_perspective(const float *src, const float *dst, double *m) {
  if (!src || !dst || !m) return pj_fail(PJ_EARG, "perspective: NULL argument");
  for (int i = 0; i < 8; i++)
    if (!isfinite(src[i]) || !isfinite(dst[i]))
      return pj_fail(PJ_EARG, "perspective: point coordinates must be finite");
  double a[8][8], b[8];
  for (int i = 0; i < 4; i++) {
    float x = src[2 * i], y = src[2 * i + 1], u = dst[2 * i], v = dst[2 * i + 1];
    /* Rows i: the u equations; rows i + 4: the v equations.  The products
     * are float32, as OpenCV computes them from Point2f. */
    double ru[8] = {x, y, 1, 0, 0, 0, (double)(-x * u), (double)(-y * u)};
    double rv[8] = {0, 0, 0, x, y, 1, (double)(-x * v), (double)(-y * v)};
    memcpy(a[i], ru, sizeof ru);
    memcpy(a[i + 4], rv, sizeof rv);
    b[i] = u;
    b[i + 4] = v;
  }
  if (!lu_solve8(a, b))
    return pj_fail(PJ_ESINGULAR, "perspective: the points are degenerate "
                                 "(collinear or repeated corners)");
  memcpy(m, b, 8 * sizeof *m);
  m[8] = 1;
  return PJ_OK;
}

/* 3x3 inverse by cofactors times 1/det, as OpenCV's invert does for 3x3;
 * false when det is exactly 0. */
static bool invert3(const double *m, double *t) {
#define M(r, c) m[(r) * 3 + (c)]
  double d = M(0, 0) * (M(1, 1) * M(2, 2) - M(1, 2) * M(2, 1)) -
             M(0, 1) * (M(1, 0) * M(2, 2) - M(1, 2) * M(2, 0)) +
             M(0, 2) * (M(1, 0) * M(2, 1) - M(1, 1) * M(2, 0));
  if (d == 0) return false;
  d = 1. / d;
  t[0] = (M(1, 1) * M(2, 2) - M(1, 2) * M(2, 1)) * d;
  t[1] = (M(0, 2) * M(2, 1) - M(0, 1) * M(2, 2)) * d;
  t[2] = (M(0, 1) * M(1, 2) - M(0, 2) * M(1, 1)) * d;
  t[3] = (M(1, 2) * M(2, 0) - M(1, 0) * M(2, 2)) * d;
  t[4] = (M(0, 0) * M(2, 2) - M(0, 2) * M(2, 0)) * d;
  t[5] = (M(0, 2) * M(1, 0) - M(0, 0) * M(1, 2)) * d;
  t[6] = (M(1, 0) * M(2, 1) - M(1, 1) * M(2, 0)) * d;
  t[7] = (M(0, 1) * M(2, 0) - M(0, 0) * M(2, 1)) * d;
  t[8] = (M(0, 0) * M(1, 1) - M(0, 1) * M(1, 0)) * d;
#undef M
  return true;
}

/* ---- Sampling ----------------------------------------------------------- */

typedef struct warp_job {
  const pj_image *src;
  double inv[9];           /* output -> source */
  int interp, border;
  uint8_t bval[4];
} warp_job;

/* OpenCV's saturate_cast<int>(clamped double): round half to even; NaN
 * becomes INT_MIN as the SIMD conversion gives. */
static inline int round_sat(double v) {
  if (v != v) return INT_MIN;
  if (v < INT_MIN) v = INT_MIN;
  if (v > INT_MAX) v = INT_MAX;
  return (int)lrint(v);
}

static inline int sat16(int v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : v; }

static inline int clampi(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

/* Source coordinates of output pixels x0 .. x0+n-1 of row y, in 1/32
 * pixel steps: xs[i] = round(X * 32 / W), clamped to int, NaN -> INT_MIN.
 * Each value is computed exactly as the scalar form
 * ((m0*x + m1*y) + m2) * (32 / ((m6*x + m7*y) + m8)), two lanes at a time. */
static void coords(const double *m, double scale, int32_t y, int32_t x0, int n,
                   int32_t *xs, int32_t *ys) {
  int i = 0;
#ifdef __SSE2__
  const __m128d m0 = _mm_set1_pd(m[0]), m3 = _mm_set1_pd(m[3]), m6 = _mm_set1_pd(m[6]);
  const __m128d a = _mm_set1_pd(m[1] * y), b = _mm_set1_pd(m[4] * y), c = _mm_set1_pd(m[7] * y);
  const __m128d m2 = _mm_set1_pd(m[2]), m5 = _mm_set1_pd(m[5]), m8 = _mm_set1_pd(m[8]);
  const __m128d tab = _mm_set1_pd(scale), zero = _mm_setzero_pd(), two = _mm_set1_pd(2);
  const __m128d hi = _mm_set1_pd(INT_MAX), lo = _mm_set1_pd(INT_MIN);
  __m128d xv = _mm_set_pd(x0 + 1, x0);
  for (; i + 2 <= n; i += 2, xv = _mm_add_pd(xv, two)) {
    __m128d X = _mm_add_pd(_mm_add_pd(_mm_mul_pd(m0, xv), a), m2);
    __m128d Y = _mm_add_pd(_mm_add_pd(_mm_mul_pd(m3, xv), b), m5);
    __m128d W = _mm_add_pd(_mm_add_pd(_mm_mul_pd(m6, xv), c), m8);
    /* W != 0 ? 32 / W : 0 (the masked-off lane's division is discarded). */
    W = _mm_and_pd(_mm_div_pd(tab, W), _mm_cmpneq_pd(W, zero));
    /* min/max with the constant first return the NaN operand, and the
     * conversion turns NaN into INT_MIN. */
    X = _mm_max_pd(lo, _mm_min_pd(hi, _mm_mul_pd(X, W)));
    Y = _mm_max_pd(lo, _mm_min_pd(hi, _mm_mul_pd(Y, W)));
    _mm_storel_epi64((__m128i *)(xs + i), _mm_cvtpd_epi32(X));
    _mm_storel_epi64((__m128i *)(ys + i), _mm_cvtpd_epi32(Y));
  }
#endif
  for (; i < n; i++) {
    int32_t x = x0 + i;
    double X = m[0] * x + m[1] * y + m[2];
    double Y = m[3] * x + m[4] * y + m[5];
    double W = m[6] * x + m[7] * y + m[8];
    W = W != 0 ? scale / W : 0;
    xs[i] = round_sat(X * W);
    ys[i] = round_sat(Y * W);
  }
}

#define BLOCK 256

/* One output row of the bilinear warp, for C channels (a constant after
 * inlining, so the per-channel loops unroll).  The 15-bit weights
 * 32 (32 - fy) (32 - fx) ... all share the factor 32, so the sum is formed
 * with (32 - fy) (32 - fx) ... and rounded with (S + 512) >> 10, which is
 * the same value in narrower integers. */
static inline __attribute__((always_inline)) void
row_linear(const warp_job *j, uint8_t *d, int32_t y, int32_t w, const int C) {
  const pj_image *s = j->src;
  const int W = s->width, H = s->height;
  const unsigned W1 = (unsigned)(W - 1), H1 = (unsigned)(H - 1);
  const uint8_t *base = s->data;
  const size_t st = (size_t)s->stride;
  int32_t xs[BLOCK], ys[BLOCK];
  for (int32_t x0 = 0; x0 < w; x0 += BLOCK) {
    int n = w - x0 < BLOCK ? w - x0 : BLOCK;
    coords(j->inv, TAB_SIZE, y, x0, n, xs, ys);
    for (int i = 0; i < n; i++, d += C) {
      int sx = sat16(xs[i] >> TAB_BITS), sy = sat16(ys[i] >> TAB_BITS);
      int fx = xs[i] & (TAB_SIZE - 1), fy = ys[i] & (TAB_SIZE - 1);
      int w00 = (TAB_SIZE - fy) * (TAB_SIZE - fx), w01 = (TAB_SIZE - fy) * fx;
      int w10 = fy * (TAB_SIZE - fx), w11 = fy * fx;
      if ((unsigned)sx < W1 && (unsigned)sy < H1) {
        const uint8_t *p = base + (size_t)sy * st + (size_t)sx * C;
#ifdef __SSE2__
        if (C >= 3) {
          /* Interleave the bytes of the left and right pixel, widen to
           * int16, and let pmaddwd form p00*w00 + p01*w01 per channel;
           * likewise for the lower row.  Loads are 4 bytes (buffers keep a
           * tail pad, so the byte past a 3-channel pixel is readable). */
          uint32_t a0, a1, b0, b1;
          memcpy(&a0, p, 4), memcpy(&a1, p + C, 4);
          memcpy(&b0, p + st, 4), memcpy(&b1, p + st + C, 4);
          const __m128i z = _mm_setzero_si128();
          __m128i top = _mm_unpacklo_epi8(
              _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)a0), _mm_cvtsi32_si128((int)a1)), z);
          __m128i bot = _mm_unpacklo_epi8(
              _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)b0), _mm_cvtsi32_si128((int)b1)), z);
          __m128i sum = _mm_add_epi32(_mm_madd_epi16(top, _mm_set1_epi32(w00 | w01 << 16)),
                                      _mm_madd_epi16(bot, _mm_set1_epi32(w10 | w11 << 16)));
          sum = _mm_srai_epi32(_mm_add_epi32(sum, _mm_set1_epi32(512)), 10);
          sum = _mm_packus_epi16(_mm_packs_epi32(sum, z), z);
          uint32_t px = (uint32_t)_mm_cvtsi128_si32(sum);
          memcpy(d, &px, (size_t)C); /* C is 3 or 4 here */
          continue;
        }
#endif
        for (int k = 0; k < C; k++)
          d[k] = (uint8_t)((p[k] * w00 + p[k + C] * w01 + p[k + st] * w10 +
                            p[k + st + C] * w11 + 512) >> 10);
        continue;
      }
      const uint8_t *t00, *t01, *t10, *t11;
      if (j->border == PJ_BORDER_CONSTANT) {
        if (sx >= W || sx < -1 || sy >= H || sy < -1) {
          for (int k = 0; k < C; k++) d[k] = j->bval[k];
          continue;
        }
        bool x0in = sx >= 0, x1in = sx + 1 < W, y0in = sy >= 0, y1in = sy + 1 < H;
        const uint8_t *r0 = base + (size_t)(y0in ? sy : 0) * st;
        const uint8_t *r1 = base + (size_t)(y1in ? sy + 1 : 0) * st;
        t00 = x0in && y0in ? r0 + (size_t)sx * C : j->bval;
        t01 = x1in && y0in ? r0 + (size_t)(sx + 1) * C : j->bval;
        t10 = x0in && y1in ? r1 + (size_t)sx * C : j->bval;
        t11 = x1in && y1in ? r1 + (size_t)(sx + 1) * C : j->bval;
      } else {
        int xa = clampi(sx, W - 1), xb = clampi(sx + 1, W - 1);
        int ya = clampi(sy, H - 1), yb = clampi(sy + 1, H - 1);
        t00 = base + (size_t)ya * st + (size_t)xa * C;
        t01 = base + (size_t)ya * st + (size_t)xb * C;
        t10 = base + (size_t)yb * st + (size_t)xa * C;
        t11 = base + (size_t)yb * st + (size_t)xb * C;
      }
      for (int k = 0; k < C; k++)
        d[k] = (uint8_t)((t00[k] * w00 + t01[k] * w01 + t10[k] * w10 + t11[k] * w11 + 512) >> 10);
    }
  }
}

static void row_nearest(const warp_job *j, uint8_t *d, int32_t y, int32_t w) {
  const pj_image *s = j->src;
  const int C = s->channels, W = s->width, H = s->height;
  int32_t xs[BLOCK], ys[BLOCK];
  for (int32_t x0 = 0; x0 < w; x0 += BLOCK) {
    int n = w - x0 < BLOCK ? w - x0 : BLOCK;
    coords(j->inv, 1, y, x0, n, xs, ys);
    for (int i = 0; i < n; i++, d += C) {
      int sx = sat16(xs[i]), sy = sat16(ys[i]);
      const uint8_t *p;
      if ((unsigned)sx < (unsigned)W && (unsigned)sy < (unsigned)H)
        p = s->data + (size_t)sy * s->stride + (size_t)sx * C;
      else if (j->border == PJ_BORDER_CONSTANT)
        p = j->bval;
      else
        p = s->data + (size_t)clampi(sy, H - 1) * s->stride + (size_t)clampi(sx, W - 1) * C;
      memcpy(d, p, (size_t)C);
    }
  }
}

/* Fills rows [y0, y1) of dst by sampling j->src. */
static void warp_rows(const warp_job *j, pj_image *dst, int32_t y0, int32_t y1) {
  for (int32_t y = y0; y < y1; y++) {
    uint8_t *d = dst->data + (size_t)y * dst->stride;
    if (j->interp == PJ_INTER_NEAREST) {
      row_nearest(j, d, y, dst->width);
      continue;
    }
    switch (j->src->channels) {
    case 1: row_linear(j, d, y, dst->width, 1); break;
    case 2: row_linear(j, d, y, dst->width, 2); break;
    case 3: row_linear(j, d, y, dst->width, 3); break;
    default: row_linear(j, d, y, dst->width, 4); break;
    }
  }
}

static int check_warp_opts(const pj_warp_opts *o) {
  if (o->interpolation != PJ_INTER_LINEAR && o->interpolation != PJ_INTER_NEAREST)
    return pj_fail(PJ_EARG, "unknown interpolation %d", o->interpolation);
  if (o->border != PJ_BORDER_CONSTANT && o->border != PJ_BORDER_REPLICATE)
    return pj_fail(PJ_EARG, "unknown border %d", o->border);
  return PJ_OK;
}

static void job_init(warp_job *j, const pj_image *src, const pj_warp_opts *o) {
  j->src = src;
  j->interp = o->interpolation;
  j->border = o->border;
  memcpy(j->bval, o->border_value, 4);
}

pj_image *pj_warp_perspective(const pj_image *src, const double *m, int32_t w,
                              int32_t h, const pj_warp_opts *opts) {
  pj_warp_opts o;
  pj_warp_opts_default(&o);
  if (opts) o = *opts;
  if (!src || !src->data) return pj_fail_null(PJ_EARG, "warp_perspective: freed or NULL image");
  if (!m) return pj_fail_null(PJ_EARG, "warp_perspective: NULL matrix");
  for (int i = 0; i < 9; i++)
    if (!isfinite(m[i]))
      return pj_fail_null(PJ_EARG, "warp_perspective: matrix entry %d is not finite", i);
  if (check_warp_opts(&o)) return NULL;
  if (pj_check_dims(w, h, src->channels, o.max_pixels, NULL)) {
    pj_fail_prefix("warp_perspective");
    return NULL;
  }
  warp_job j;
  job_init(&j, src, &o);
  if (!invert3(m, j.inv))
    return pj_fail_null(PJ_ESINGULAR, "warp_perspective: the matrix is singular");
  pj_image *dst = pj_image_alloc(w, h, src->channels);
  if (!dst) return NULL;
  /* Rows are independent; small outputs stay on the calling thread. */
  int T = (int64_t)w * h >= 65536 ? pj_threads_get() : 1;
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    warp_rows(&j, dst, (int32_t)((int64_t)h * t / nt), (int32_t)((int64_t)h * (t + 1) / nt));
  }
  return dst;
}

/* ---- Batch crop ------------------------------------------------------- */

static inline float edge(float x0, float y0, float x1, float y1) {
  float dx = x1 - x0, dy = y1 - y0;
  return sqrtf(dx * dx + dy * dy);
}

int pj_quad_size(const float *q, int32_t *w, int32_t *h) {
  if (!q || !w || !h) return pj_fail(PJ_EARG, "quad_size: NULL argument");
  for (int i = 0; i < 8; i++)
    if (!isfinite(q[i])) return pj_fail(PJ_EARG, "quad coordinate %d is not finite", i);
  /* TL = q[0..1], TR = q[2..3], BR = q[4..5], BL = q[6..7]; lengths in
   * float32, truncated, as the reference's int(norm) of float32 points. */
  float wb = edge(q[6], q[7], q[4], q[5]), wt = edge(q[0], q[1], q[2], q[3]);
  float hr = edge(q[2], q[3], q[4], q[5]), hl = edge(q[0], q[1], q[6], q[7]);
  const float big = 1 << 30;
  if (!(wb < big && wt < big && hr < big && hl < big))
    return pj_fail(PJ_ELIMIT, "quad is too large (an edge of %g pixels)",
                   (double)fmaxf(fmaxf(wb, wt), fmaxf(hr, hl)));
  int32_t ww = (int32_t)wb > (int32_t)wt ? (int32_t)wb : (int32_t)wt;
  int32_t hh = (int32_t)hr > (int32_t)hl ? (int32_t)hr : (int32_t)hl;
  *w = ww;
  *h = hh;
  if (ww == 0 || hh == 0)
    return pj_fail(PJ_EEMPTY, "quad gives a %dx%d crop", ww, hh);
  return PJ_OK;
}

typedef struct crop_plan {
  warp_job job;
  int32_t ww, wh;   /* warp output size */
  bool rotate;      /* output is the warp turned 90 degrees counter-clockwise */
  size_t off;       /* byte offset in the shared buffer */
} crop_plan;

/* Works out size, rotation and matrix of quad q; PJ_OK or its reason. */
static int plan_quad(const pj_image *src, const float *q, const pj_crop_opts *o,
                     crop_plan *p) {
  int32_t w, h;
  int rc = pj_quad_size(q, &w, &h);
  if (rc) return rc;
  p->rotate = o->rotate_tall && (double)h / w >= o->rotate_ratio;
  /* Final (after rotation) size, then scaled to the fixed height. */
  int64_t fw = p->rotate ? h : w, fh = p->rotate ? w : h;
  if (o->height > 0) {
    double sw = nearbyint((double)fw * o->height / fh);
    fw = sw < 1 ? 1 : sw > INT32_MAX ? INT32_MAX : (int64_t)sw;
    fh = o->height;
  }
  if (fw * fh > o->max_crop_pixels)
    return pj_fail(PJ_ELIMIT, "crop of %lldx%lld exceeds max_crop_pixels (%lld)",
                   (long long)fw, (long long)fh, (long long)o->max_crop_pixels);
  p->ww = (int32_t)(p->rotate ? fh : fw);
  p->wh = (int32_t)(p->rotate ? fw : fh);
  float dst[8] = {0, 0, (float)(p->ww - 1), 0, (float)(p->ww - 1), (float)(p->wh - 1),
                  0, (float)(p->wh - 1)};
  double m[9];
  if (pj_perspective(q, dst, m) || !invert3(m, p->job.inv))
    return pj_fail(PJ_ESINGULAR, "quad is degenerate (collinear or repeated corners)");
  job_init(&p->job, src, &o->warp);
  return PJ_OK;
}

/* dst (h x w) = src (w x h) turned 90 degrees counter-clockwise, as
 * numpy's rot90: dst(x, y) = src(w - 1 - y, x). */
static void rotate_ccw(const pj_image *s, pj_image *d) {
  const int C = s->channels;
  for (int32_t y = 0; y < d->height; y++) {
    uint8_t *row = d->data + (size_t)y * d->stride;
    int32_t sx = s->width - 1 - y;
    for (int32_t x = 0; x < d->width; x++)
      memcpy(row + (size_t)x * C, s->data + (size_t)x * s->stride + (size_t)sx * C, (size_t)C);
  }
}

int pj_crop_quads(const pj_image *src, const float *quads, int32_t n,
                  const pj_crop_opts *opts, pj_image **out, int32_t *status) {
  pj_crop_opts o;
  pj_crop_opts_default(&o);
  if (opts) o = *opts;
  if (!src || !src->data) return pj_fail(PJ_EARG, "crop_quads: freed or NULL image");
  if (n < 0) return pj_fail(PJ_EARG, "crop_quads: negative quad count %d", n);
  if (n > o.max_quads)
    return pj_fail(PJ_ELIMIT, "crop_quads: %d quads exceed max_quads (%d)", n, o.max_quads);
  if (n > 0 && (!quads || !out || !status))
    return pj_fail(PJ_EARG, "crop_quads: NULL quads, output or status array");
  if (check_warp_opts(&o.warp)) return pj_fail_prefix("crop_quads");
  if (o.height < 0) return pj_fail(PJ_EARG, "crop_quads: height must be >= 0, got %d", o.height);
  if (!(o.rotate_ratio > 0)) return pj_fail(PJ_EARG, "crop_quads: rotate_ratio must be positive");
  if (o.max_crop_pixels <= 0) o.max_crop_pixels = 1 << 24;
  if (o.max_total_pixels <= 0) o.max_total_pixels = PJ_DEFAULT_MAX_PIXELS;
  if (n == 0) return PJ_OK;

  crop_plan *plan = malloc(sizeof *plan * (size_t)n);
  if (!plan) return pj_fail(PJ_ENOMEM, "crop_quads: out of memory for %d quads", n);
  const int T = pj_threads_get();

  /* 1. Plan every quad (independent, so in parallel too). */
#pragma omp parallel for schedule(static) num_threads(T) if (n > 256)
  for (int32_t i = 0; i < n; i++) {
    out[i] = NULL;
    status[i] = plan_quad(src, quads + (size_t)8 * i, &o, &plan[i]);
  }

  /* 2. One buffer for all crops, each a tight slice of it. */
  const int C = src->channels;
  int64_t total = 0;
  size_t scratch = 0;
  for (int32_t i = 0; i < n; i++) {
    if (status[i]) continue;
    int64_t px = (int64_t)plan[i].ww * plan[i].wh;
    plan[i].off = (size_t)total * C;
    total += px;
    if (plan[i].rotate && (size_t)px * C > scratch) scratch = (size_t)px * C;
  }
  if (total > o.max_total_pixels) {
    free(plan);
    return pj_fail(PJ_ELIMIT,
                   "crop_quads: %lld output pixels exceed max_total_pixels (%lld)",
                   (long long)total, (long long)o.max_total_pixels);
  }
  int rc = PJ_OK;
  pj_image *base = NULL;
  uint8_t *scratch_all = NULL;
  if (total > 0) {
    base = pj_image_alloc_bytes((size_t)total * C);
    scratch_all = scratch ? malloc(scratch * T) : NULL;
    if (!base || (scratch && !scratch_all)) {
      rc = pj_fail(PJ_ENOMEM, "crop_quads: out of memory for %lld output pixels",
                   (long long)total);
      goto done;
    }
    for (int32_t i = 0; i < n; i++) {
      if (status[i]) continue;
      int32_t ow = plan[i].rotate ? plan[i].wh : plan[i].ww;
      int32_t oh = plan[i].rotate ? plan[i].ww : plan[i].wh;
      out[i] = pj_image_carve(base, plan[i].off, ow, oh, C);
      if (!out[i]) {
        for (int32_t k = 0; k < i; k++) pj_image_release(out[k]), out[k] = NULL;
        rc = pj_fail(PJ_ENOMEM, "crop_quads: out of memory");
        goto done;
      }
    }
  }

  /* 3. Warp: one crop per task, dynamically scheduled since crop sizes
   * vary by two orders of magnitude; each crop runs on one thread. */
#pragma omp parallel num_threads(T)
  {
    uint8_t *mine = scratch_all ? scratch_all + scratch * (size_t)omp_get_thread_num() : NULL;
#pragma omp for schedule(dynamic, 4)
    for (int32_t i = 0; i < n; i++) {
      if (status[i]) continue;
      if (!plan[i].rotate) {
        warp_rows(&plan[i].job, out[i], 0, plan[i].wh);
      } else {
        pj_image tmp = {.data = mine, .width = plan[i].ww, .height = plan[i].wh,
                        .channels = C, .stride = plan[i].ww * C};
        warp_rows(&plan[i].job, &tmp, 0, plan[i].wh);
        rotate_ccw(&tmp, out[i]);
      }
    }
  }
done:
  pj_image_release(base);
  free(scratch_all);
  free(plan);
  return rc;
}
