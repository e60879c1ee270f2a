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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define TAB_BITS 5
#define TAB_SIZE (1 << TAB_BITS)  /* 32 sub-pixel steps */

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

/* pj_perspective for finite points, writing no message (it runs inside
 * the crop's parallel region); false when the system is singular. */
static bool solve_perspective(const float *src, const float *dst, double *m) {
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
  if (!lu_solve8(a, b)) return false;
  memcpy(m, b, 8 * sizeof *m);
  m[8] = 1;
  return true;
}

int pj_perspective(const float *src, const float *dst, double *m) {
  if (!src || !dst || !m) return pj_fail(PJ_EARG, "NULL argument");
  for (int i = 0; i < 8; i++)
    if (!isfinite(src[i]) || !isfinite(dst[i]))
      return pj_fail(PJ_EARG, "point coordinates must be finite");
  if (!solve_perspective(src, dst, m))
    return pj_fail(PJ_ESINGULAR, "the points are degenerate (collinear or repeated corners)");
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

/* Vector code a warp uses, decided once per job: the kernels run per row. */
enum { SIMD_NONE, SIMD_AVX2, SIMD_AVX512 };

typedef struct warp_job {
  const pj_image *src;
  double inv[9];           /* output -> source */
  int interp, border;
  int simd;                /* SIMD_* */
  uint8_t bval[4];
} warp_job;

#define BLOCK 256

/* Per block of output pixels, for the common case of a 2x2 neighbourhood
 * inside the image: its byte offset and weight-table index.  Other pixels
 * have offset -1 and are worked out again one at a time (see pixel_at);
 * xs and ys are scratch for the portable coordinate code. */
typedef struct block {
  int32_t off[BLOCK], widx[BLOCK];
  int32_t xs[BLOCK], ys[BLOCK];
} block;

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

/* OpenCV evaluates the source position of output pixel x in blocks of
 * `bw` columns: X0 = M0*xb + M1*y + M2 at the block origin xb, then
 * X = X0 + M0*(x - xb) (likewise Y and W).  The association changes the
 * last bit of X, which decides exact half-way roundings (frequent for
 * axis-aligned boxes), so pixjit uses the same blocks.  bw follows
 * warpPerspective: rows in blocks of min(16, h), columns in blocks of
 * min(1024 / that, w). */
static int32_t opencv_block_width(int32_t w, int32_t h) {
  int32_t bh = h < 16 ? h : 16;
  int32_t bw = 1024 / bh;
  return bw < w ? bw : w;
}

/* Source coordinates of output pixels xb + x1 .. xb + x1 + n - 1 of row y
 * (all in the block starting at column xb), in units of 1/scale pixel:
 * xs[i] = round(X * scale / W), clamped to int, NaN -> INT_MIN. */
static void coords(const double *m, double scale, int32_t y, int32_t xb, int32_t x1,
                   int n, int32_t *xs, int32_t *ys) {
  const double X0 = m[0] * xb + m[1] * y + m[2];
  const double Y0 = m[3] * xb + m[4] * y + m[5];
  const double W0 = m[6] * xb + m[7] * y + m[8];
  int i = 0;
#ifdef __SSE2__
  const __m128d m0 = _mm_set1_pd(m[0]), m3 = _mm_set1_pd(m[3]), m6 = _mm_set1_pd(m[6]);
  const __m128d x0v = _mm_set1_pd(X0), y0v = _mm_set1_pd(Y0), w0v = _mm_set1_pd(W0);
  const __m128d tab = _mm_set1_pd(scale), zero = _mm_setzero_pd(), two = _mm_set1_pd(2);
  const __m128d hi = _mm_set1_pd(INT_MAX), lo = _mm_set1_pd(INT_MIN);
  __m128d xv = _mm_set_pd(x1 + 1, x1);
  for (; i + 2 <= n; i += 2, xv = _mm_add_pd(xv, two)) {
    __m128d X = _mm_add_pd(x0v, _mm_mul_pd(m0, xv));
    __m128d Y = _mm_add_pd(y0v, _mm_mul_pd(m3, xv));
    __m128d W = _mm_add_pd(w0v, _mm_mul_pd(m6, xv));
    /* W != 0 ? scale / W : 0 (the masked-off lane's division is discarded). */
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
    double xx = x1 + i;
    double X = X0 + m[0] * xx, Y = Y0 + m[3] * xx, W = W0 + m[6] * xx;
    W = W != 0 ? scale / W : 0;
    xs[i] = round_sat(X * W);
    ys[i] = round_sat(Y * W);
  }
}

#ifdef PJ_X86_SIMD
#include <immintrin.h>
/* The same computation four lanes at a time, for CPUs with AVX2, over
 * rows y .. y + rows - 1, row r's entries from r * L (L >= n rounded up
 * to 4).  The last group of a row is computed whole, writing up to 3
 * entries past n: rows are short, and a scalar tail on every row cost
 * more than the spare lanes.  With bk, only the block's fields are
 * written (xs and ys are not). */
__attribute__((target("avx2"))) static void
coords_avx2(const double *m, double scale, int32_t y, int rows, int L, int32_t xb, int32_t x1,
            int n, int32_t *xs, int32_t *ys, const int32_t *geo, block *bk) {
  const __m256d m0 = _mm256_set1_pd(m[0]), m3 = _mm256_set1_pd(m[3]), m6 = _mm256_set1_pd(m[6]);
  const __m256d tab = _mm256_set1_pd(scale), zero = _mm256_setzero_pd(), four = _mm256_set1_pd(4);
  const __m256d hi = _mm256_set1_pd(INT_MAX), lo = _mm256_set1_pd(INT_MIN);
  const __m256d xstart = _mm256_set_pd(x1 + 3, x1 + 2, x1 + 1, x1);
  /* geo = {W1, H1, stride, channels}, broadcast once (as W1 - 1 and
   * H1 - 1): the stores below could alias it as far as the compiler knows. */
  const __m128i gw = _mm_set1_epi32(bk ? geo[0] - 1 : 0), gh = _mm_set1_epi32(bk ? geo[1] - 1 : 0);
  const __m128i gs = _mm_set1_epi32(bk ? geo[2] : 0), gc = _mm_set1_epi32(bk ? geo[3] : 0);
  const __m128i m31 = _mm_set1_epi32(TAB_SIZE - 1), zi = _mm_setzero_si128();
  for (int r = 0; r < rows; r++) {
    const int32_t yr = y + r;
    const __m256d x0v = _mm256_set1_pd(m[0] * xb + m[1] * yr + m[2]);
    const __m256d y0v = _mm256_set1_pd(m[3] * xb + m[4] * yr + m[5]);
    const __m256d w0v = _mm256_set1_pd(m[6] * xb + m[7] * yr + m[8]);
    __m256d xv = xstart;
    for (int i = r * L, end = r * L + n; i < end; i += 4, xv = _mm256_add_pd(xv, four)) {
      __m256d X = _mm256_add_pd(x0v, _mm256_mul_pd(m0, xv));
      __m256d Y = _mm256_add_pd(y0v, _mm256_mul_pd(m3, xv));
      __m256d W = _mm256_add_pd(w0v, _mm256_mul_pd(m6, xv));
      W = _mm256_and_pd(_mm256_div_pd(tab, W), _mm256_cmp_pd(W, zero, _CMP_NEQ_UQ));
      X = _mm256_max_pd(lo, _mm256_min_pd(hi, _mm256_mul_pd(X, W)));
      Y = _mm256_max_pd(lo, _mm256_min_pd(hi, _mm256_mul_pd(Y, W)));
      __m128i xi = _mm256_cvtpd_epi32(X), yi = _mm256_cvtpd_epi32(Y);
      if (!bk) {
        _mm_storeu_si128((__m128i *)(xs + i), xi);
        _mm_storeu_si128((__m128i *)(ys + i), yi);
        continue;
      }
      /* Outside unless 0 <= sx < W1 and 0 <= sy < H1 (W1, H1 already capped
       * where int16 saturation or an int32 offset would otherwise differ). */
      __m128i sx = _mm_srai_epi32(xi, TAB_BITS), sy = _mm_srai_epi32(yi, TAB_BITS);
      __m128i out =
          _mm_or_si128(_mm_or_si128(_mm_cmpgt_epi32(zi, sx), _mm_cmpgt_epi32(sx, gw)),
                       _mm_or_si128(_mm_cmpgt_epi32(zi, sy), _mm_cmpgt_epi32(sy, gh)));
      __m128i off =
          _mm_or_si128(_mm_add_epi32(_mm_mullo_epi32(sy, gs), _mm_mullo_epi32(sx, gc)), out);
      __m128i widx =
          _mm_add_epi32(_mm_slli_epi32(_mm_and_si128(yi, m31), TAB_BITS), _mm_and_si128(xi, m31));
      _mm_storeu_si128((__m128i *)(bk->off + i), off);
      _mm_storeu_si128((__m128i *)(bk->widx + i), widx);
    }
  }
}

/* The same computation eight lanes at a time, on AVX-512 CPUs: the
 * division costs as much per lane as with four, everything else half.
 * Rows are as above with L a multiple of 8; up to 7 entries past n are
 * written. */
__attribute__((target("avx2,avx512f,avx512vl"))) static void
coords_avx512(const double *m, double scale, int32_t y, int rows, int L, int32_t xb,
              int32_t x1, int n, int32_t *xs, int32_t *ys, const int32_t *geo, block *bk) {
  const __m512d m0 = _mm512_set1_pd(m[0]), m3 = _mm512_set1_pd(m[3]), m6 = _mm512_set1_pd(m[6]);
  const __m512d tab = _mm512_set1_pd(scale), zero = _mm512_setzero_pd(), eight = _mm512_set1_pd(8);
  const __m512d hi = _mm512_set1_pd(INT_MAX), lo = _mm512_set1_pd(INT_MIN);
  const __m512d xstart = _mm512_add_pd(_mm512_set1_pd(x1), _mm512_set_pd(7, 6, 5, 4, 3, 2, 1, 0));
  const __m256i gw = _mm256_set1_epi32(bk ? geo[0] - 1 : 0), gh = _mm256_set1_epi32(bk ? geo[1] - 1 : 0);
  const __m256i gs = _mm256_set1_epi32(bk ? geo[2] : 0), gc = _mm256_set1_epi32(bk ? geo[3] : 0);
  const __m256i m31 = _mm256_set1_epi32(TAB_SIZE - 1), zi = _mm256_setzero_si256();
  for (int r = 0; r < rows; r++) {
    const int32_t yr = y + r;
    const __m512d x0v = _mm512_set1_pd(m[0] * xb + m[1] * yr + m[2]);
    const __m512d y0v = _mm512_set1_pd(m[3] * xb + m[4] * yr + m[5]);
    const __m512d w0v = _mm512_set1_pd(m[6] * xb + m[7] * yr + m[8]);
    __m512d xv = xstart;
    for (int i = r * L, end = r * L + n; i < end; i += 8, xv = _mm512_add_pd(xv, eight)) {
      __m512d X = _mm512_add_pd(x0v, _mm512_mul_pd(m0, xv));
      __m512d Y = _mm512_add_pd(y0v, _mm512_mul_pd(m3, xv));
      __m512d W = _mm512_add_pd(w0v, _mm512_mul_pd(m6, xv));
      W = _mm512_maskz_div_pd(_mm512_cmp_pd_mask(W, zero, _CMP_NEQ_UQ), tab, W);
      X = _mm512_max_pd(lo, _mm512_min_pd(hi, _mm512_mul_pd(X, W)));
      Y = _mm512_max_pd(lo, _mm512_min_pd(hi, _mm512_mul_pd(Y, W)));
      __m256i xi = _mm512_cvtpd_epi32(X), yi = _mm512_cvtpd_epi32(Y);
      if (!bk) {
        _mm256_storeu_si256((__m256i *)(xs + i), xi);
        _mm256_storeu_si256((__m256i *)(ys + i), yi);
        continue;
      }
      __m256i sx = _mm256_srai_epi32(xi, TAB_BITS), sy = _mm256_srai_epi32(yi, TAB_BITS);
      __m256i out = _mm256_or_si256(
          _mm256_or_si256(_mm256_cmpgt_epi32(zi, sx), _mm256_cmpgt_epi32(sx, gw)),
          _mm256_or_si256(_mm256_cmpgt_epi32(zi, sy), _mm256_cmpgt_epi32(sy, gh)));
      __m256i off = _mm256_or_si256(
          _mm256_add_epi32(_mm256_mullo_epi32(sy, gs), _mm256_mullo_epi32(sx, gc)), out);
      __m256i widx = _mm256_add_epi32(_mm256_slli_epi32(_mm256_and_si256(yi, m31), TAB_BITS),
                                      _mm256_and_si256(xi, m31));
      _mm256_storeu_si256((__m256i *)(bk->off + i), off);
      _mm256_storeu_si256((__m256i *)(bk->widx + i), widx);
    }
  }
}
#endif

/* coords() on the vector unit simd names (SIMD_*), for rows y .. y + rows
 * - 1 with row r's entries from r * L; with bk, the block's fields (see
 * struct block) instead, xs and ys then being at most scratch. */
static inline void coords_best(int simd, const double *m, double scale, int32_t y, int rows,
                               int L, int32_t xb, int32_t x1, int n, int32_t *xs, int32_t *ys,
                               const int32_t *geo, block *bk) {
#ifdef PJ_X86_SIMD
  if (simd == SIMD_AVX512) {
    coords_avx512(m, scale, y, rows, L, xb, x1, n, xs, ys, geo, bk);
    return;
  }
  if (simd == SIMD_AVX2) {
    coords_avx2(m, scale, y, rows, L, xb, x1, n, xs, ys, geo, bk);
    return;
  }
#endif
  (void)simd;
  for (int r = 0; r < rows; r++) {
    const int o = r * L;
    coords(m, scale, y + r, xb, x1, n, xs + o, ys + o);
    if (bk)
      for (int i = o; i < o + n; i++) {
        int32_t sx = xs[i] >> TAB_BITS, sy = ys[i] >> TAB_BITS;
        bool in = sx >= 0 && sx < geo[0] && sy >= 0 && sy < geo[1];
        bk->off[i] = in ? sy * geo[2] + sx * geo[3] : -1;
        bk->widx[i] = (ys[i] & (TAB_SIZE - 1)) * TAB_SIZE + (xs[i] & (TAB_SIZE - 1));
      }
  }
}

/* Bilinear weights by sub-pixel position (fy * 32 + fx), as int16 pairs
 * (w00 | w01 << 16) and (w10 | w11 << 16) ready for pmaddwd. */
static uint32_t wtab[TAB_SIZE * TAB_SIZE][2];

static void wtab_init(void) {
  for (int fy = 0; fy < TAB_SIZE; fy++)
    for (int fx = 0; fx < TAB_SIZE; fx++) {
      uint32_t w00 = (uint32_t)((TAB_SIZE - fy) * (TAB_SIZE - fx)), w01 = (uint32_t)((TAB_SIZE - fy) * fx);
      uint32_t w10 = (uint32_t)(fy * (TAB_SIZE - fx)), w11 = (uint32_t)(fy * fx);
      wtab[fy * TAB_SIZE + fx][0] = w00 | w01 << 16;
      wtab[fy * TAB_SIZE + fx][1] = w10 | w11 << 16;
    }
}


/* Rounded bilinear sum with the reduced weights (see rows_linear). */
#define BILERP(t00, t01, t10, t11, k)                                          \
  (uint8_t)(((t00)[k] * w00 + (t01)[k] * w01 + (t10)[k] * w10 + (t11)[k] * w11 + 512) >> 10)

/* One pixel whose 2x2 neighbourhood is not entirely inside the fast path's
 * range: borders, and images beyond int16 coordinates or int32 offsets. */
static void pixel_general(const warp_job *j, int32_t xi, int32_t yi, uint8_t *d) {
  const pj_image *s = j->src;
  const int C = s->channels, W = s->width, H = s->height;
  const uint8_t *base = s->data;
  const size_t st = (size_t)s->stride;
  const uint32_t *wt = wtab[(yi & (TAB_SIZE - 1)) * TAB_SIZE + (xi & (TAB_SIZE - 1))];
  int w00 = (int)(wt[0] & 0xffff), w01 = (int)(wt[0] >> 16);
  int w10 = (int)(wt[1] & 0xffff), w11 = (int)(wt[1] >> 16);
  int sx = sat16(xi >> TAB_BITS), sy = sat16(yi >> TAB_BITS);
  const uint8_t *t00, *t01, *t10, *t11;
  if ((unsigned)sx < (unsigned)(W - 1) && (unsigned)sy < (unsigned)(H - 1)) {
    t00 = base + (size_t)sy * st + (size_t)sx * C;
    t01 = t00 + C, t10 = t00 + st, t11 = t10 + C;
  } else if (j->border == PJ_BORDER_CONSTANT) {
    if (sx >= W || sx < -1 || sy >= H || sy < -1) {
      memcpy(d, j->bval, (size_t)C);
      return;
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
  for (int k = 0; k < C; k++) d[k] = BILERP(t00, t01, t10, t11, k);
}

/* Where one chunk of output sits: rows y .. y + rows - 1, columns x0 ..
 * x0 + n - 1, never straddling one of OpenCV's column blocks (here the one
 * starting at column xb); row r's entries in the block start at r * L.
 * Several rows make one chunk when they are whole and fit: word crops are
 * some 55 pixels wide, and the per-chunk work would otherwise come once
 * per 55 pixels. */
typedef struct chunk_pos {
  int32_t y, x0, xb;
  int n, rows, L;
} chunk_pos;

/* Entry i (in row r) of chunk c, outside the fast path: its coordinates
 * once more, by the same arithmetic as the block's and so to the same
 * values, then pixel_general. */
static void pixel_at(const warp_job *j, const chunk_pos *c, int r, int i, uint8_t *d) {
  int32_t xi, yi;
  coords(j->inv, TAB_SIZE, c->y + r, c->xb, c->x0 + i - r * c->L - c->xb, 1, &xi, &yi);
  pixel_general(j, xi, yi, d);
}

/* The pixels of chunk c from block bk, portable: 4-tap sums per channel.
 * Output row r at d + r * dstride. */
static inline __attribute__((always_inline)) void
block_linear(const warp_job *j, const block *bk, const chunk_pos *c, uint8_t *d0,
             size_t dstride, const int C) {
  const uint8_t *base = j->src->data;
  const size_t st = (size_t)j->src->stride;
  for (int r = 0; r < c->rows; r++) {
    uint8_t *d = d0 + r * dstride;
    for (int i = r * c->L, end = r * c->L + c->n; i < end; i++, d += C) {
      if (bk->off[i] < 0) {
        pixel_at(j, c, r, i, d);
        continue;
      }
      const uint32_t *wt = wtab[bk->widx[i]];
      int w00 = (int)(wt[0] & 0xffff), w01 = (int)(wt[0] >> 16);
      int w10 = (int)(wt[1] & 0xffff), w11 = (int)(wt[1] >> 16);
      const uint8_t *p = base + bk->off[i];
      for (int k = 0; k < C; k++) d[k] = BILERP(p, p + C, p + st, p + st + C, k);
    }
  }
}

#ifdef PJ_X86_SIMD
typedef float f32_alias __attribute__((may_alias));

/* One fast-path pixel of block_linear_avx2 (see there), as 4 bytes. */
__attribute__((target("avx2"), always_inline)) static inline uint32_t
pixel_avx2(const uint8_t *p, size_t st, const uint32_t *wt, __m128i shuf) {
  __m128i top = _mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)p), shuf);
  __m128i bot = _mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)(p + st)), shuf);
  /* Broadcast loads: one load each, no shuffle. */
  __m128i w0 = _mm_castps_si128(_mm_broadcast_ss((const f32_alias *)&wt[0]));
  __m128i w1 = _mm_castps_si128(_mm_broadcast_ss((const f32_alias *)&wt[1]));
  __m128i sum = _mm_add_epi32(_mm_madd_epi16(top, w0), _mm_madd_epi16(bot, w1));
  sum = _mm_srai_epi32(_mm_add_epi32(sum, _mm_set1_epi32(512)), 10);
  sum = _mm_packus_epi16(_mm_packs_epi32(sum, sum), sum);
  return (uint32_t)_mm_cvtsi128_si32(sum);
}

/* Fast-path pixels of a block with 3 or 4 channels, on AVX2 machines: one
 * 8-byte load per source row holds both horizontal taps; a byte shuffle
 * turns them into int16 pairs (left, right) per channel, and pmaddwd forms
 * every channel's weighted sum.  Loads may reach 2 bytes past the
 * right tap, which the buffers' tail pad keeps readable.  Stores write 4
 * bytes for 3 channels, spilling into the next pixel of the row (written
 * next); the row's last pixel is stored exactly, as the next row may
 * belong to another thread. */
__attribute__((target("avx2"))) static void
block_linear_avx2(const warp_job *j, const block *bk, const chunk_pos *c, uint8_t *d0,
                  size_t dstride, int C, bool row_end) {
  const uint8_t *base = j->src->data;
  const size_t st = (size_t)j->src->stride;
  const __m128i shuf3 = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m128i shuf4 = _mm_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1);
  const __m128i shuf = C == 3 ? shuf3 : shuf4;
  for (int r = 0; r < c->rows; r++) {
    uint8_t *d = d0 + r * dstride;
    const int last = r * c->L + c->n - 1;
    for (int i = r * c->L; i < last; i++, d += C) {
      if (bk->off[i] < 0) {
        pixel_at(j, c, r, i, d);
        continue;
      }
      uint32_t px = pixel_avx2(base + bk->off[i], st, wtab[bk->widx[i]], shuf);
      memcpy(d, &px, 4);
    }
    if (bk->off[last] < 0) {
      pixel_at(j, c, r, last, d);
      continue;
    }
    uint32_t px = pixel_avx2(base + bk->off[last], st, wtab[bk->widx[last]], shuf);
    if (C == 4 || !row_end) {
      memcpy(d, &px, 4);
    } else {
      d[0] = (uint8_t)px, d[1] = (uint8_t)(px >> 8), d[2] = (uint8_t)(px >> 16);
    }
  }
}
#endif

/* Computes the coordinates of the chunk starting at (*y, *x0) into bk,
 * advances (*y, *x0) past it, and prefetches the source lines its pixels
 * will read: the chunk is sampled only after the one before it, so the
 * loads, mostly misses for short word crops whose source rows lie a page
 * stride apart, overlap that work. */
static void plan_chunk(const warp_job *j, const int32_t *geo, int32_t *y, int32_t *x0,
                       int32_t w, int32_t bw, int32_t y1, chunk_pos *pos, block *bk) {
  int32_t xb = *x0 / bw * bw;
  int n = w - *x0 < BLOCK ? w - *x0 : BLOCK;
  if (*x0 + n > xb + bw) n = xb + bw - *x0;
  const int lanes = j->simd == SIMD_AVX512 ? 8 : 4;
  int rows = 1, L = (n + lanes - 1) & -lanes;
  if (n == w) { /* whole rows: as many as the block holds */
    rows = BLOCK / L;
    if (rows > y1 - *y) rows = y1 - *y;
  }
  *pos = (chunk_pos){*y, *x0, xb, n, rows, L};
  coords_best(j->simd, j->inv, TAB_SIZE, *y, rows, L, xb, *x0 - xb, n, bk->xs, bk->ys, geo, bk);
  const uint8_t *base = j->src->data;
  const size_t st = (size_t)j->src->stride;
  for (int r = 0; r < rows; r++) {
    const int o = r * L;
    for (int i = o; i < o + n; i += 8) {
      __builtin_prefetch(base + bk->off[i]);
      __builtin_prefetch(base + bk->off[i] + st);
    }
    __builtin_prefetch(base + bk->off[o + n - 1] + 8);
    __builtin_prefetch(base + bk->off[o + n - 1] + st + 8);
  }
  *x0 += n;
  if (*x0 == w) *x0 = 0, *y += rows;
}

/* Rows [y0, y1) of the bilinear warp into dst, whose width is w.  The
 * 15-bit weights 32 (32 - fy) (32 - fx) ... all share the factor 32, so
 * sums are formed with (32 - fy) (32 - fx) ... and rounded with
 * (S + 512) >> 10: the same value as OpenCV's (S' + 16384) >> 15, in
 * int16-sized weights.  Chunks are planned one ahead of sampling (see
 * plan_chunk). */
static void rows_linear(const warp_job *j, pj_image *dst, int32_t y0, int32_t y1, int32_t bw) {
  const pj_image *s = j->src;
  const int C = s->channels;
  const int32_t w = dst->width, W1 = s->width - 1, H1 = s->height - 1;
  /* Fast-path bounds: within int16 (OpenCV saturates coordinates there) and
   * byte offsets within int32; anything else takes the general path. */
  const bool small = (int64_t)s->height * s->stride < INT32_MAX;
  const int32_t geo[4] = {small ? (W1 < 32767 ? W1 : 32767) : 0,
                          small ? (H1 < 32767 ? H1 : 32767) : 0, s->stride, C};
  const bool avx2 = j->simd >= SIMD_AVX2 && C >= 3;
  if (y0 >= y1 || w <= 0) return;
  block bk[2];
  chunk_pos pos[2];
  int32_t y = y0, x0 = 0;
  int cur = 0;
  plan_chunk(j, geo, &y, &x0, w, bw, y1, &pos[0], &bk[0]);
  for (;;) {
    const bool more = y < y1;
    if (more) plan_chunk(j, geo, &y, &x0, w, bw, y1, &pos[cur ^ 1], &bk[cur ^ 1]);
    const block *b = &bk[cur];
    const chunk_pos *c = &pos[cur];
    const size_t ds = (size_t)dst->stride;
    uint8_t *d = dst->data + (size_t)c->y * ds + (size_t)c->x0 * C;
#ifdef PJ_X86_SIMD
    if (avx2)
      block_linear_avx2(j, b, c, d, ds, C, c->x0 + c->n == w);
    else
#endif
      switch (C) {
      case 1: block_linear(j, b, c, d, ds, 1); break;
      case 2: block_linear(j, b, c, d, ds, 2); break;
      case 3: block_linear(j, b, c, d, ds, 3); break;
      default: block_linear(j, b, c, d, ds, 4); break;
      }
    (void)avx2;
    if (!more) return;
    cur ^= 1;
  }
}

static void row_nearest(const warp_job *j, uint8_t *d, int32_t y, int32_t w, int32_t bw) {
  const pj_image *s = j->src;
  const int C = s->channels, W = s->width, H = s->height;
  int32_t xs[BLOCK], ys[BLOCK];
  for (int32_t x0 = 0; x0 < w;) {
    int32_t xb = x0 / bw * bw;
    int n = w - x0 < BLOCK ? w - x0 : BLOCK;
    if (x0 + n > xb + bw) n = xb + bw - x0;
    coords_best(j->simd, j->inv, 1, y, 1, 0, xb, x0 - xb, n, xs, ys, NULL, NULL);
    x0 += n;
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

static pthread_once_t wtab_once = PTHREAD_ONCE_INIT;

/* Fills rows [y0, y1) of dst by sampling j->src; dst is the whole warp
 * output (its size decides OpenCV's blocks).  Callers have run
 * pthread_once(&wtab_once, wtab_init). */
static void warp_rows(const warp_job *j, pj_image *dst, int32_t y0, int32_t y1) {
  const int32_t bw = opencv_block_width(dst->width, dst->height);
  if (j->interp == PJ_INTER_NEAREST) {
    for (int32_t y = y0; y < y1; y++)
      row_nearest(j, dst->data + (size_t)y * dst->stride, y, dst->width, bw);
    return;
  }
  rows_linear(j, dst, y0, y1, bw);
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
  j->simd = SIMD_NONE;
#ifdef PJ_X86_SIMD
  j->simd = pj_cpu_avx512vl() ? SIMD_AVX512 : pj_cpu_avx2() ? SIMD_AVX2 : SIMD_NONE;
#endif
  j->interp = o->interpolation;
  j->border = o->border;
  memcpy(j->bval, o->border_value, 4);
}

pj_image *pj_warp_perspective(const pj_image *src, const double *m, int32_t w,
                              int32_t h, const pj_warp_opts *opts) {
  pj_warp_opts o = opts ? *opts : (pj_warp_opts){0};
  if (!src || !src->data) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (!m) return pj_fail_null(PJ_EARG, "NULL matrix");
  for (int i = 0; i < 9; i++)
    if (!isfinite(m[i]))
      return pj_fail_null(PJ_EARG, "M[%d][%d] must be a finite number, got %g", i / 3 + 1,
                          i % 3 + 1, pj_shown(m[i]));
  if (check_warp_opts(&o)) return NULL;
  if (w < 1) return pj_fail_null(PJ_EARG, "w must be >= 1, got %d", w);
  if (h < 1) return pj_fail_null(PJ_EARG, "h must be >= 1, got %d", h);
  if (pj_check_dims(w, h, src->channels, o.max_pixels, NULL)) return NULL;
  pthread_once(&wtab_once, wtab_init);
  warp_job j;
  job_init(&j, src, &o);
  if (!invert3(m, j.inv)) return pj_fail_null(PJ_ESINGULAR, "the matrix is singular");
  int64_t t0 = pj_clock_ns();
  pj_image *dst = pj_image_alloc(w, h, src->channels);
  if (!dst) return NULL;
  /* Rows are independent; small outputs stay on the calling thread. */
  int T = (int64_t)w * h >= 65536 ? pj_threads_get() : 1;
#pragma omp parallel num_threads(T)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    warp_rows(&j, dst, (int32_t)((int64_t)h * t / nt), (int32_t)((int64_t)h * (t + 1) / nt));
  }
  pj_stats_add(PJ_KERNEL_WARP, t0, pj_pixels_of(dst));
  return dst;
}

/* ---- Batch crop ------------------------------------------------------- */

static inline float edge(float x0, float y0, float x1, float y1) {
  float dx = x1 - x0, dy = y1 - y0;
  return sqrtf(dx * dx + dy * dy);
}

/* Size of quad q by the crop rule, or why it has none.  With item >= 0
 * a failure also records its message for pj_item_errmsg(item); inside a
 * parallel region item is -1, so nothing is written there. */
static int quad_size(const float *q, int32_t *w, int32_t *h, int32_t item) {
  for (int i = 0; i < 8; i++)
    if (!isfinite(q[i])) {
      if (item >= 0)
        pj_item_fail(item, "corner %d %c is not finite (%g)", i / 2 + 1, i % 2 ? 'y' : 'x',
                     pj_shown(q[i]));
      return PJ_EARG;
    }
  /* TL = q[0..1], TR = q[2..3], BR = q[4..5], BL = q[6..7]; lengths in
   * float32, truncated, as the reference's int(norm) of float32 points. */
  float wb = edge(q[6], q[7], q[4], q[5]), wt = edge(q[0], q[1], q[2], q[3]);
  float hr = edge(q[2], q[3], q[4], q[5]), hl = edge(q[0], q[1], q[6], q[7]);
  const float big = 1 << 30;
  if (!(wb < big && wt < big && hr < big && hl < big)) {
    if (item >= 0)
      pj_item_fail(item, "the quad is too large (an edge of %g pixels)",
                   (double)fmaxf(fmaxf(wb, wt), fmaxf(hr, hl)));
    return PJ_ELIMIT;
  }
  *w = (int32_t)wb > (int32_t)wt ? (int32_t)wb : (int32_t)wt;
  *h = (int32_t)hr > (int32_t)hl ? (int32_t)hr : (int32_t)hl;
  if (*w == 0 || *h == 0) {
    if (item >= 0)
      pj_item_fail(item, "the crop would be %dx%d (zero width or height)", *w, *h);
    return PJ_EEMPTY;
  }
  return PJ_OK;
}

int pj_quad_size(const float *q, int32_t *w, int32_t *h) {
  if (!q || !w || !h) return pj_fail(PJ_EARG, "NULL argument");
  pj_items_reset();
  int rc = quad_size(q, w, h, 0);
  if (rc) pj_fail(rc, "%s", pj_item_errmsg(0));
  pj_items_reset();
  return rc;
}

typedef struct crop_plan {
  warp_job job;
  int32_t ww, wh;   /* warp output size */
  bool rotate;      /* output is the warp turned 90 degrees counter-clockwise */
  size_t off;       /* byte offset in the shared buffer */
} crop_plan;

/* Works out size, rotation and matrix of quad q; PJ_OK or its reason,
 * recorded as quad_size does for item >= 0. */
static int plan_quad(const pj_image *src, const float *q, const pj_crop_opts *o,
                     crop_plan *p, int32_t item) {
  int32_t w = 0, h = 0;
  int rc = quad_size(q, &w, &h, item);
  if (rc) return rc;
  p->rotate = o->rotate_tall && (double)h / w >= o->rotate_ratio;
  /* Final (after rotation) size, then scaled to the fixed height. */
  int64_t fw = p->rotate ? h : w, fh = p->rotate ? w : h;
  if (o->height > 0) {
    double sw = nearbyint((double)fw * o->height / fh);
    fw = sw < 1 ? 1 : sw > INT32_MAX ? INT32_MAX : (int64_t)sw;
    fh = o->height;
  }
  if (fw * fh > o->max_crop_pixels) {
    if (item >= 0)
      pj_item_fail(item, "the crop of %lldx%lld exceeds max_crop_pixels (%lld)", (long long)fw,
                   (long long)fh, (long long)o->max_crop_pixels);
    return PJ_ELIMIT;
  }
  p->ww = (int32_t)(p->rotate ? fh : fw);
  p->wh = (int32_t)(p->rotate ? fw : fh);
  float dst[8] = {0, 0, (float)(p->ww - 1), 0, (float)(p->ww - 1), (float)(p->wh - 1),
                  0, (float)(p->wh - 1)};
  double m[9] = {0};
  if (!solve_perspective(q, dst, m) || !invert3(m, p->job.inv)) {
    /* A crop 1 pixel across maps two corners to one point: the quad may be
     * fine, its homography is singular all the same. */
    if (item >= 0 && (w == 1 || h == 1))
      pj_item_fail(item, "the crop would be %dx%d; one pixel across maps two corners to one "
                   "point, so the homography is singular", w, h);
    else if (item >= 0)
      pj_item_fail(item, "the quad is degenerate (collinear or repeated corners)");
    return PJ_ESINGULAR;
  }
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

/* The crop options with defaults filled in, checked. */
static int crop_opts(const pj_crop_opts *opts, int32_t n, pj_crop_opts *o) {
  *o = opts ? *opts : (pj_crop_opts){0};
  if (o->rotate_ratio == 0) o->rotate_ratio = 1.5;
  if (o->max_crop_pixels == 0) o->max_crop_pixels = PJ_DEFAULT_MAX_CROP_PIXELS;
  if (o->max_total_pixels == 0) o->max_total_pixels = PJ_DEFAULT_MAX_PIXELS;
  if (o->max_quads == 0) o->max_quads = PJ_DEFAULT_MAX_QUADS;
  if (n < 0) return pj_fail(PJ_EARG, "negative quad count %d", n);
  if (check_warp_opts(&o->warp)) return pj_errcode();
  if (o->height < 0 || o->height > 65535)
    return pj_fail(PJ_EARG, "height must be 0 to 65535, got %d", o->height);
  if (!(o->rotate_ratio > 0) || !isfinite(o->rotate_ratio))
    return pj_fail(PJ_EARG, "rotate_ratio must be > 0, got %g", o->rotate_ratio);
  if (o->max_crop_pixels < 0)
    return pj_fail(PJ_EARG, "max_crop_pixels must be >= 1, got %lld", (long long)o->max_crop_pixels);
  if (o->max_total_pixels < 0)
    return pj_fail(PJ_EARG, "max_total_pixels must be >= 1, got %lld",
                   (long long)o->max_total_pixels);
  if (o->max_quads < 0) return pj_fail(PJ_EARG, "max_quads must be >= 1, got %d", o->max_quads);
  if (n > o->max_quads)
    return pj_fail(PJ_ELIMIT, "%d quads exceed max_quads (%d)", n, o->max_quads);
  return PJ_OK;
}

/* 1. Plans every quad (independent, so in parallel too); then, on the
 * caller's thread, writes each failure's message. */
static void plan_all(const pj_image *src, const float *quads, int32_t n, const pj_crop_opts *o,
                     crop_plan *plan, pj_image **out, int32_t *status, int T) {
#pragma omp parallel for schedule(static) num_threads(T) if (n > 256)
  for (int32_t i = 0; i < n; i++) {
    out[i] = NULL;
    status[i] = plan_quad(src, quads + (size_t)8 * i, o, &plan[i], -1);
  }
  pj_items_reset();
  for (int32_t i = 0; i < n; i++)
    if (status[i]) plan_quad(src, quads + (size_t)8 * i, o, &plan[i], i);
}

/* 2. Places each crop in one shared buffer; returns the total pixels and
 * the largest rotation scratch a thread needs in *scratch. */
static int64_t layout(crop_plan *plan, const int32_t *status, int32_t n, int C, size_t *scratch) {
  int64_t total = 0;
  *scratch = 0;
  for (int32_t i = 0; i < n; i++) {
    if (status[i]) continue;
    int64_t px = (int64_t)plan[i].ww * plan[i].wh;
    plan[i].off = (size_t)total * C;
    total += px;
    if (plan[i].rotate && (size_t)px * C > *scratch) *scratch = (size_t)px * C;
  }
  return total;
}

/* 3. Warps every planned crop into its slice of base: one crop per task,
 * dynamically scheduled since crop sizes vary by two orders of magnitude;
 * each crop runs on one thread, which also carves its output image.
 * Returns how many outputs could not be carved (out of memory). */
static int warp_all(const crop_plan *plan, const int32_t *status, int32_t n, pj_image *base,
                    uint8_t *scratch_all, size_t scratch, int C, int T, pj_image **out) {
  int carved = 0, lost = 0;
#pragma omp parallel num_threads(T) reduction(+ : carved, lost)
  {
    uint8_t *mine = scratch_all ? scratch_all + scratch * (size_t)omp_get_thread_num() : NULL;
#pragma omp for schedule(dynamic, 4)
    for (int32_t i = 0; i < n; i++) {
      if (status[i]) continue;
      const crop_plan *p = &plan[i];
      out[i] = pj_image_carve(base, p->off, p->rotate ? p->wh : p->ww, p->rotate ? p->ww : p->wh, C);
      if (!out[i]) {
        lost++;
        continue;
      }
      carved++;
      if (!p->rotate) {
        warp_rows(&p->job, out[i], 0, p->wh);
      } else {
        pj_image tmp = {.data = mine, .width = p->ww, .height = p->wh, .channels = C,
                        .stride = p->ww * C};
        warp_rows(&p->job, &tmp, 0, p->wh);
        rotate_ccw(&tmp, out[i]);
      }
    }
  }
  if (carved) pj_buffer_retain(base->buf, carved);
  return lost;
}

int pj_crop_quads(const pj_image *src, const float *quads, int32_t n,
                  const pj_crop_opts *opts, pj_image **out, int32_t *status) {
  pj_crop_opts o;
  if (!src || !src->data) return pj_fail(PJ_EARG, "image is freed or NULL");
  int rc = crop_opts(opts, n, &o);
  if (rc) return rc;
  if (n > 0 && (!quads || !out || !status))
    return pj_fail(PJ_EARG, "NULL quads, output or status array");
  pj_items_reset();
  if (n == 0) return PJ_OK;

  int64_t t0 = pj_clock_ns();
  pthread_once(&wtab_once, wtab_init);
  crop_plan *plan = malloc(sizeof *plan * (size_t)n);
  if (!plan) return pj_fail(PJ_ENOMEM, "out of memory for %d quads", n);
  const int T = pj_threads_get(), C = src->channels;
  plan_all(src, quads, n, &o, plan, out, status, T);
  size_t scratch;
  int64_t total = layout(plan, status, n, C, &scratch);
  pj_image *base = NULL;
  uint8_t *scratch_all = NULL;
  if (total > o.max_total_pixels) {
    rc = pj_fail(PJ_ELIMIT, "%lld output pixels exceed max_total_pixels (%lld)", (long long)total,
                 (long long)o.max_total_pixels);
  } else if (total > 0) {
    base = pj_image_alloc_bytes((size_t)total * C);
    scratch_all = scratch ? malloc(scratch * T) : NULL;
    if (!base || (scratch && !scratch_all))
      rc = pj_fail(PJ_ENOMEM, "out of memory for %lld output pixels", (long long)total);
    else if (warp_all(plan, status, n, base, scratch_all, scratch, C, T, out)) {
      for (int32_t i = 0; i < n; i++) pj_image_release(out[i]), out[i] = NULL;
      rc = pj_fail(PJ_ENOMEM, "out of memory");
    }
  }
  pj_image_release(base);
  free(scratch_all);
  free(plan);
  pj_stats_add(PJ_KERNEL_CROP, t0, rc ? 0 : total);
  return rc;
}
