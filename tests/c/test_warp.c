/*
 * test_warp.c - homography, warp and batch crop: hand-computed pixels,
 * borders, per-quad failures, options and thread invariance.
 */
#include "check.h"
#include "pixjit.h"

#include <math.h>
#include <stdint.h>

static pj_image *gradient(int w, int h, int c) {
  pj_image *img = pj_image_new(w, h, c, 0);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++)
        img->data[(size_t)y * img->stride + (size_t)x * c + k] = (uint8_t)(10 * x + k);
  return img;
}

static int px(const pj_image *img, int x, int y, int k) {
  return img->data[(size_t)y * img->stride + (size_t)x * img->channels + k];
}

static void test_perspective_known(void) {
  /* Unit square to a 2x scaled, shifted square: M = [[2,0,3],[0,2,5],[0,0,1]]. */
  float s[8] = {0, 0, 1, 0, 1, 1, 0, 1}, d[8] = {3, 5, 5, 5, 5, 7, 3, 7};
  double m[9];
  CHECK_EQ(pj_perspective(s, d, m), PJ_OK);
  double want[9] = {2, 0, 3, 0, 2, 5, 0, 0, 1};
  for (int i = 0; i < 9; i++) CHECK(fabs(m[i] - want[i]) < 1e-12);
  /* Collinear and repeated corners are singular. */
  float line[8] = {0, 0, 1, 1, 2, 2, 3, 3};
  CHECK_EQ(pj_perspective(line, d, m), PJ_ESINGULAR);
  float rep[8] = {1, 1, 1, 1, 5, 5, 0, 9};
  CHECK_EQ(pj_perspective(rep, d, m), PJ_ESINGULAR);
  float nan[8] = {0, 0, NAN, 0, 1, 1, 0, 1};
  CHECK_EQ(pj_perspective(nan, d, m), PJ_EARG);
}

static void test_identity_and_half_pixel_shift(void) {
  pj_image *img = gradient(20, 6, 3);
  double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  pj_image *same = pj_warp_perspective(img, id, 20, 6, NULL);
  int diff = 0;
  for (int y = 0; y < 6; y++)
    for (int x = 0; x < 20; x++)
      for (int k = 0; k < 3; k++) diff += px(same, x, y, k) != px(img, x, y, k);
  CHECK_EQ(diff, 0);
  /* Shift right by half a pixel: out(x) = (src(x-1) + src(x)) / 2 = 10x - 5
   * inside; column 0 blends with the constant border 0: (0 + 0) / 2 = 0
   * for channel 0, and (0 + 1) / 2 rounds half up to 1 for channel 1. */
  double half[9] = {1, 0, 0.5, 0, 1, 0, 0, 0, 1};
  pj_image *sh = pj_warp_perspective(img, half, 20, 6, NULL);
  CHECK_EQ(px(sh, 5, 2, 0), 45);
  CHECK_EQ(px(sh, 19, 5, 2), 187);
  CHECK_EQ(px(sh, 0, 0, 0), 0);
  CHECK_EQ(px(sh, 0, 0, 1), 1);
  /* Replicate border: column 0 blends src(0) with itself. */
  pj_warp_opts o = {0};
  o.border = PJ_BORDER_REPLICATE;
  pj_image *rep = pj_warp_perspective(img, half, 20, 6, &o);
  CHECK_EQ(px(rep, 0, 0, 1), 1);
  CHECK_EQ(px(rep, 0, 0, 2), 2);
  /* Far outside: the border value; nearest copies the source pixel. */
  double away[9] = {1, 0, 1000, 0, 1, 0, 0, 0, 1};
  o.border = PJ_BORDER_CONSTANT;
  o.border_value[0] = 7, o.border_value[1] = 8, o.border_value[2] = 9;
  pj_image *out = pj_warp_perspective(img, away, 4, 4, &o);
  CHECK_EQ(px(out, 3, 3, 0), 7);
  CHECK_EQ(px(out, 3, 3, 2), 9);
  double dbl[9] = {2, 0, 0, 0, 2, 0, 0, 0, 1}; /* out(x) = src(x / 2) */
  o = (pj_warp_opts){0};
  o.interpolation = PJ_INTER_NEAREST;
  pj_image *nn = pj_warp_perspective(img, dbl, 30, 10, &o);
  CHECK_EQ(px(nn, 6, 0, 0), 30);  /* src x = 3 */
  CHECK_EQ(px(nn, 7, 0, 0), 40);  /* x / 2 = 3.5 rounds half to even: 4 */
  CHECK_EQ(px(nn, 5, 0, 0), 20);  /* 2.5 rounds to 2 */
  pj_image *bl = pj_warp_perspective(img, dbl, 30, 10, NULL);
  CHECK_EQ(px(bl, 7, 0, 0), 35);  /* bilinear: halfway between 30 and 40 */
  double sing[9] = {1, 2, 3, 2, 4, 6, 0, 0, 1};
  CHECK(pj_warp_perspective(img, sing, 4, 4, NULL) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ESINGULAR);
  double inf[9] = {1, 0, INFINITY, 0, 1, 0, 0, 0, 1};
  CHECK(pj_warp_perspective(img, inf, 4, 4, NULL) == NULL);
  CHECK_EQ(pj_errcode(), PJ_EARG);
  CHECK(pj_warp_perspective(img, id, 100000, 100000, NULL) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ELIMIT);
  pj_image *imgs[] = {img, same, sh, rep, out, nn, bl};
  for (int i = 0; i < 7; i++) pj_image_release(imgs[i]);
}

static void test_crop_identity_and_failures(void) {
  pj_image *img = gradient(40, 30, 3);
  const float nan = NAN, inf = INFINITY;
  float q[] = {
      0, 0, 40, 0, 40, 30, 0, 30,        /* the whole image: 40x30 */
      nan, 0, 5, 0, 5, 5, 0, 5,          /* not finite */
      0, 0, 10, 10, 20, 20, 30, 30,      /* collinear: zero height? no: singular */
      3, 3, 3, 3, 3, 3, 3, 3,            /* a point: zero size */
      0, 0, 4e9f, 0, 4e9f, 10, 0, 10,    /* huge: limit */
      0, 0, inf, 0, 5, 5, 0, 5,          /* infinite */
      -10, -10, 50, -10, 50, 40, -10, 40, /* partly outside: border zeros */
      100, 100, 120, 100, 120, 110, 100, 110, /* fully outside */
  };
  int n = sizeof q / sizeof q[0] / 8;
  pj_image *out[8];
  int32_t st[8];
  CHECK_EQ(pj_crop_quads(img, q, n, NULL, out, st), PJ_OK);
  CHECK_EQ(st[0], PJ_OK);
  /* Corners map to (0, 0) .. (39, 29), so output x samples source
   * x * 40 / 39: values 10 x * 40 / 39 + 1 (channel 1), within rounding,
   * left of where the 8-bit gradient wraps (source x 25) and above the last
   * row (which maps to source y 30, half into the zero border). */
  CHECK(out[0] && out[0]->width == 40 && out[0]->height == 30);
  int off = 0;
  for (int y = 0; out[0] && y < 29; y++)
    for (int x = 0; x < 24; x++) {
      double want = 10.0 * x * 40 / 39 + 1;
      off += fabs(px(out[0], x, y, 1) - want) > 0.6;
    }
  CHECK_EQ(off, 0);
  if (out[0]) CHECK_EQ(px(out[0], 0, 0, 1), 1);
  CHECK_EQ(st[1], PJ_EARG);
  CHECK_EQ(st[2], PJ_ESINGULAR);
  CHECK_EQ(st[3], PJ_EEMPTY);
  CHECK_EQ(st[4], PJ_ELIMIT);
  CHECK_EQ(st[5], PJ_EARG);
  for (int i = 1; i <= 5; i++) CHECK(out[i] == NULL);
  CHECK_EQ(st[6], PJ_OK);
  CHECK(out[6] && out[6]->width == 60 && out[6]->height == 50);
  if (out[6]) {
    CHECK_EQ(px(out[6], 0, 0, 0), 0);        /* maps to (-10, -10): outside */
    /* x = 15 maps to -10 + 15 * 60 / 59 = 5.254, in 1/32 steps 5 + 8/32:
     * (50 * 24 + 60 * 8) / 32 = 52.5, rounded half up. */
    CHECK_EQ(px(out[6], 15, 12, 0), 53);
  }
  CHECK_EQ(st[7], PJ_OK);
  if (out[7]) CHECK_EQ(px(out[7], 5, 5, 0), 0);
  /* Crops are views of one shared buffer, independent to their users. */
  CHECK(pj_image_refs(out[0]) == 3);
  pj_image_release(out[0]);
  CHECK_EQ(pj_image_refs(out[6]), 2);
  for (int i = 1; i < n; i++) pj_image_release(out[i]);
  pj_image_release(img);
}

static void test_crop_options(void) {
  pj_image *img = gradient(60, 60, 1);
  /* A tall quad: 10 wide, 30 high. */
  float q[8] = {5, 5, 15, 5, 15, 35, 5, 35};
  pj_image *out;
  int32_t st;
  pj_crop_opts o = {0};
  CHECK_EQ(pj_crop_quads(img, q, 1, &o, &out, &st), PJ_OK);
  CHECK(out->width == 10 && out->height == 30);
  pj_image *plain = out;
  o.rotate_tall = 1;
  CHECK_EQ(pj_crop_quads(img, q, 1, &o, &out, &st), PJ_OK);
  CHECK(out->width == 30 && out->height == 10);
  /* rot90 (counter-clockwise): rotated(x, y) = plain(w - 1 - y, x). */
  int diff = 0;
  for (int y = 0; y < 10; y++)
    for (int x = 0; x < 30; x++) diff += px(out, x, y, 0) != px(plain, 9 - y, x, 0);
  CHECK_EQ(diff, 0);
  pj_image_release(out);
  o.rotate_tall = 0;
  o.height = 15;
  CHECK_EQ(pj_crop_quads(img, q, 1, &o, &out, &st), PJ_OK);
  CHECK(out->height == 15 && out->width == 5);
  pj_image_release(out);
  o = (pj_crop_opts){0};
  o.max_crop_pixels = 299;
  CHECK_EQ(pj_crop_quads(img, q, 1, &o, &out, &st), PJ_OK);
  CHECK_EQ(st, PJ_ELIMIT);
  CHECK(out == NULL);
  o = (pj_crop_opts){0};
  o.max_total_pixels = 100;
  CHECK_EQ(pj_crop_quads(img, q, 1, &o, &out, &st), PJ_ELIMIT);
  CHECK_STR_HAS(pj_errmsg(), "max_total_pixels");
  o = (pj_crop_opts){0};
  o.max_quads = 1;
  float q2[16];
  pj_image *out2[2];
  int32_t st2[2];
  memcpy(q2, q, sizeof q), memcpy(q2 + 8, q, sizeof q);
  CHECK_EQ(pj_crop_quads(img, q2, 2, &o, out2, st2), PJ_ELIMIT);
  CHECK_STR_HAS(pj_errmsg(), "2 quads exceed max_quads (1)");
  pj_image_release(plain);
  pj_image_release(img);
}

static void test_threads_identical(void) {
  pj_image *img = pj_image_new(300, 200, 3, 0);
  for (size_t i = 0; i < (size_t)300 * 200 * 3; i++) img->data[i] = (uint8_t)rnd();
  enum { N = 400 };
  static float q[N * 8];
  for (int i = 0; i < N; i++) {
    float cx = (float)(rnd() % 320) - 10, cy = (float)(rnd() % 220) - 10;
    float w = 3 + (float)(rnd() % 80), h = 3 + (float)(rnd() % 30);
    float jit[8];
    for (int k = 0; k < 8; k++) jit[k] = (float)(rnd() % 1000) / 250.f - 2;
    float c[8] = {cx, cy, cx + w, cy, cx + w, cy + h, cx, cy + h};
    for (int k = 0; k < 8; k++) q[i * 8 + k] = c[k] + jit[k];
  }
  static pj_image *a[N], *b[N];
  static int32_t sa[N], sb[N];
  pj_threads_set(1);
  CHECK_EQ(pj_crop_quads(img, q, N, NULL, a, sa), PJ_OK);
  pj_threads_set(4);
  CHECK_EQ(pj_crop_quads(img, q, N, NULL, b, sb), PJ_OK);
  pj_threads_set(0);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    if (sa[i] != sb[i] || !a[i] != !b[i]) { bad++; continue; }
    if (!a[i]) continue;
    if (a[i]->width != b[i]->width || a[i]->height != b[i]->height ||
        memcmp(a[i]->data, b[i]->data, (size_t)a[i]->width * a[i]->height * 3))
      bad++;
    pj_image_release(a[i]);
    pj_image_release(b[i]);
  }
  CHECK_EQ(bad, 0);
  pj_image_release(img);
}

/* ---- An independent per-pixel reference (REFERENCE.md section 2) ------- */

/* Inverse of m by cofactors times 1/det (step 2). */
static void ref_invert(const double *m, double *t) {
  double d = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
             m[2] * (m[3] * m[7] - m[4] * m[6]);
  d = 1. / d;
  t[0] = (m[4] * m[8] - m[5] * m[7]) * d;
  t[1] = (m[2] * m[7] - m[1] * m[8]) * d;
  t[2] = (m[1] * m[5] - m[2] * m[4]) * d;
  t[3] = (m[5] * m[6] - m[3] * m[8]) * d;
  t[4] = (m[0] * m[8] - m[2] * m[6]) * d;
  t[5] = (m[2] * m[3] - m[0] * m[5]) * d;
  t[6] = (m[3] * m[7] - m[4] * m[6]) * d;
  t[7] = (m[1] * m[6] - m[0] * m[7]) * d;
  t[8] = (m[0] * m[4] - m[1] * m[3]) * d;
}

static int ref_round(double v) {
  if (v != v) return INT32_MIN;
  return (int)lrint(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
}

/* Tap (x, y) of img, or the border: constant bv, or the nearest pixel. */
static int ref_tap(const pj_image *img, int x, int y, int k, int replicate, int bv) {
  if (replicate) {
    x = x < 0 ? 0 : x >= img->width ? img->width - 1 : x;
    y = y < 0 ? 0 : y >= img->height ? img->height - 1 : y;
  } else if (x < 0 || y < 0 || x >= img->width || y >= img->height) {
    return bv;
  }
  return px(img, x, y, k);
}

/* Bilinear output pixel (x, y), channel k, of the w x h warp by inverse
 * map t, with OpenCV's column blocks (x as block origin plus offset). */
static int ref_pixel(const pj_image *img, const double *t, int w, int h, int x, int y, int k,
                     int replicate, int bv) {
  int bh = h < 16 ? h : 16, bw = 1024 / bh < w ? 1024 / bh : w, xb = x / bw * bw;
  double X = t[0] * xb + t[1] * y + t[2], Y = t[3] * xb + t[4] * y + t[5];
  double W = t[6] * xb + t[7] * y + t[8];
  X = X + t[0] * (x - xb), Y = Y + t[3] * (x - xb), W = W + t[6] * (x - xb);
  W = W != 0 ? 32 / W : 0;
  int xi = ref_round(X * W), yi = ref_round(Y * W);
  int sx = xi >> 5, sy = yi >> 5, fx = xi & 31, fy = yi & 31;
  sx = sx < -32768 ? -32768 : sx > 32767 ? 32767 : sx;
  sy = sy < -32768 ? -32768 : sy > 32767 ? 32767 : sy;
  if (!replicate && (sx >= img->width || sx < -1 || sy >= img->height || sy < -1)) return bv;
  long sum = 32L * (32 - fy) * (32 - fx) * ref_tap(img, sx, sy, k, replicate, bv) +
             32L * (32 - fy) * fx * ref_tap(img, sx + 1, sy, k, replicate, bv) +
             32L * fy * (32 - fx) * ref_tap(img, sx, sy + 1, k, replicate, bv) +
             32L * fy * fx * ref_tap(img, sx + 1, sy + 1, k, replicate, bv);
  return (int)((sum + 16384) >> 15);
}

/* Random quads, many of them narrow (several output rows per work unit)
 * and reaching past the edges, on every channel count and border mode:
 * every pixel as the reference computes it. */
static void test_crop_matches_reference(void) {
  enum { N = 60 };
  for (int c = 1; c <= 4; c++)
    for (int replicate = 0; replicate <= 1; replicate++) {
      pj_image *img = pj_image_new(70, 50, c, 0);
      for (size_t i = 0; i < (size_t)70 * 50 * c; i++) img->data[i] = (uint8_t)rnd();
      float q[N * 8];
      for (int i = 0; i < N; i++) {
        float cx = (float)(rnd() % 90) - 20, cy = (float)(rnd() % 70) - 20;
        float w = 2 + (float)(rnd() % (i % 3 ? 12 : 60)), h = 2 + (float)(rnd() % 25);
        float box[8] = {cx, cy, cx + w, cy, cx + w, cy + h, cx, cy + h};
        for (int k = 0; k < 8; k++) q[i * 8 + k] = box[k] + (float)(rnd() % 1000) / 300.f - 1.5f;
      }
      pj_crop_opts o = {0};
      o.warp.border = replicate ? PJ_BORDER_REPLICATE : PJ_BORDER_CONSTANT;
      const int bv = (int)(rnd() % 256);
      for (int k = 0; k < 4; k++) o.warp.border_value[k] = (uint8_t)bv;
      pj_image *out[N];
      int32_t st[N];
      CHECK_EQ(pj_crop_quads(img, q, N, &o, out, st), PJ_OK);
      int bad = 0, done = 0;
      for (int i = 0; i < N; i++) {
        if (!out[i]) continue;
        int w = out[i]->width, h = out[i]->height;
        float rect[8] = {0, 0, (float)(w - 1), 0, (float)(w - 1), (float)(h - 1), 0, (float)(h - 1)};
        double m[9], t[9];
        CHECK_EQ(pj_perspective(q + 8 * i, rect, m), PJ_OK);
        ref_invert(m, t);
        for (int y = 0; y < h; y++)
          for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
              bad += px(out[i], x, y, k) != ref_pixel(img, t, w, h, x, y, k, replicate, bv);
        done++;
        pj_image_release(out[i]);
      }
      CHECK(done > N / 2);
      CHECK_EQ(bad, 0);
      pj_image_release(img);
    }
}

int main(void) {
  RUN(test_perspective_known);
  RUN(test_identity_and_half_pixel_shift);
  RUN(test_crop_identity_and_failures);
  RUN(test_crop_options);
  RUN(test_threads_identical);
  RUN(test_crop_matches_reference);
  return finish("warp");
}
