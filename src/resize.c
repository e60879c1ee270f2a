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

static bool lin_tabs_make(lin_tabs *t, int32_t sw, int32_t sh, int32_t dw, int32_t dh) {
  t->xofs = malloc(sizeof *t->xofs * (size_t)dw);
  t->alpha = malloc(sizeof *t->alpha * 2 * (size_t)dw);
  t->yofs = malloc(sizeof *t->yofs * (size_t)dh);
  t->beta = malloc(sizeof *t->beta * 2 * (size_t)dh);
  if (!t->xofs || !t->alpha || !t->yofs || !t->beta) return false;
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
  return true;
}

static void lin_tabs_free(lin_tabs *t) {
  free(t->xofs), free(t->alpha), free(t->yofs), free(t->beta);
}

/* Horizontal pass of one source row into int sums (weights sum to 2048). */
static void hpass(const uint8_t *s, int32_t sw, int c, const lin_tabs *t, int32_t dw, int32_t *out) {
  for (int32_t d = 0; d < dw; d++) {
    int32_t sx = t->xofs[d], sx1 = sx + 1 < sw ? sx + 1 : sx;
    int a0 = t->alpha[2 * d], a1 = t->alpha[2 * d + 1];
    const uint8_t *p0 = s + (size_t)sx * c, *p1 = s + (size_t)sx1 * c;
    for (int k = 0; k < c; k++) out[d * c + k] = p0[k] * a0 + p1[k] * a1;
  }
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
  const int c = src->channels;
  int32_t y0 = t->yofs[dy], y1 = y0 + 1, H = src->height;
  y0 = y0 < 0 ? 0 : y0 >= H ? H - 1 : y0;
  y1 = y1 < 0 ? 0 : y1 >= H ? H - 1 : y1;
  const int32_t *h0 = hrow(hc, src, t, dw, y0, NULL);
  const int32_t *h1 = hrow(hc, src, t, dw, y1, (int32_t *)h0);
  const int b0 = t->beta[2 * dy], b1 = t->beta[2 * dy + 1];
  for (int32_t i = 0; i < dw * c; i++)
    d[i] = sat_u8((((h0[i] >> 4) * b0 >> 16) + ((h1[i] >> 4) * b1 >> 16) + 2) >> 2);
}

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

/* Resizes src into dst (its size is the target; dst may be a view or a
 * scratch image), running rows [0, dst->height) on up to `threads`
 * threads. */
int pj_resize_into(const pj_image *src, pj_image *dst, int interp, int threads) {
  const int32_t sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
  const int c = src->channels;
  if (interp == PJ_INTER_AREA && (dw > sw || dh > sh)) interp = PJ_INTER_LINEAR;
  /* cv2.resize turns an exact 2x linear downscale into a 2x2 average. */
  bool half = interp == PJ_INTER_LINEAR && sw == 2 * dw && sh == 2 * dh;
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
      rc = pj_fail(PJ_ENOMEM, "resize: out of memory");
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
      if (rc) pj_fail(rc, "resize: out of memory");
    }
    area_tab_free(&tx), area_tab_free(&ty);
    return rc;
  }
  lin_tabs t = {0};
  if (!lin_tabs_make(&t, sw, sh, dw, dh)) {
    rc = pj_fail(PJ_ENOMEM, "resize: out of memory");
  } else {
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      int32_t *h = malloc(sizeof *h * 2 * (size_t)dw * c);
      hcache hc = {{h, h ? h + (size_t)dw * c : NULL}, {-1, -1}};
#pragma omp for schedule(static)
      for (int32_t y = 0; y < dh; y++)
        if (h) linear_row(src, &t, dw, y, dst->data + (size_t)y * dst->stride, &hc);
      if (!h) rc = PJ_ENOMEM;
      free(h);
    }
    if (rc) pj_fail(rc, "resize: out of memory");
  }
  lin_tabs_free(&t);
  return rc;
}

pj_image *pj_image_resize(const pj_image *img, int32_t w, int32_t h, int interpolation) {
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "resize of a freed or NULL image");
  if (interpolation != PJ_INTER_LINEAR && interpolation != PJ_INTER_NEAREST &&
      interpolation != PJ_INTER_AREA)
    return pj_fail_null(PJ_EARG, "resize: unknown interpolation %d", interpolation);
  if (pj_check_dims(w, h, img->channels, 0, NULL)) {
    pj_fail_prefix("resize");
    return NULL;
  }
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
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "swap_rb of a freed or NULL image");
  if (img->channels < 3)
    return pj_fail_null(PJ_EARG, "swap_rb needs 3 or 4 channels, got %d", img->channels);
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
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "pad of a freed or NULL image");
  if (top < 0 || bottom < 0 || left < 0 || right < 0)
    return pj_fail_null(PJ_EARG, "pad: borders must be >= 0");
  int64_t w = (int64_t)img->width + left + right, h = (int64_t)img->height + top + bottom;
  if (pj_check_dims(w, h, img->channels, 0, NULL)) {
    pj_fail_prefix("pad");
    return NULL;
  }
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
