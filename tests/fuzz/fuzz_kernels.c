/*
 * fuzz_kernels.c - one image kernel on a fuzzed view, with fuzzed sizes
 * and arguments.  The view ends at its buffer's last byte, so a vector
 * load that reads further than the buffer's tail is a sanitizer finding.
 * Every result must be the same through each level of SIMD (AVX-512VL,
 * AVX2, SSSE3) and the portable code, and for the view and a packed copy
 * of it; the kernels that only move bytes are also checked against a
 * plain loop.
 */
#include "internal.h"
#include "pixjit.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
  OP_LINEAR, OP_NEAREST, OP_AREA, OP_CONVERT, OP_SWAP_RB, OP_PAD, OP_FLIP, OP_ROT90, OP_INVERT,
  OP_BLUR, OP_GAUSSIAN, OP_DILATE, OP_ERODE, OP_THRESHOLD, OP_ADAPTIVE, OP_FILL, N_OPS
};

typedef struct {
  int op;
  uint8_t p[4];
} call;

static const uint8_t *at(const pj_image *img, int32_t x, int32_t y) {
  return img->data + (size_t)y * img->stride + (size_t)x * img->channels;
}

/* Both NULL, or the same size, channels and pixel bytes. */
static int same(const pj_image *a, const pj_image *b) {
  if (!a || !b) return !a && !b;
  if (a->width != b->width || a->height != b->height || a->channels != b->channels) return 0;
  for (int32_t y = 0; y < a->height; y++)
    if (memcmp(at(a, 0, y), at(b, 0, y), (size_t)a->width * a->channels)) return 0;
  return 1;
}

/* New reference, or NULL where the kernel refuses its arguments. */
static pj_image *apply(const call *k, const pj_image *img, double *used) {
  const uint8_t *p = k->p;
  switch (k->op) {
  case OP_LINEAR:
  case OP_NEAREST:
  case OP_AREA: {
    static const int interp[] = {PJ_INTER_LINEAR, PJ_INTER_NEAREST, PJ_INTER_AREA};
    return pj_image_resize(img, 1 + p[0] % 96, 1 + p[1] % 64, interp[k->op - OP_LINEAR]);
  }
  case OP_CONVERT: return pj_image_convert(img, 1 + p[0] % 4);
  case OP_SWAP_RB: return pj_image_swap_rb(img);
  case OP_PAD: return pj_image_pad(img, p[0] % 5, p[1] % 5, p[2] % 5, p[3] % 5, p);
  case OP_FLIP: return pj_image_flip(img, 1 + p[0] % 3);
  case OP_ROT90: return pj_image_rot90(img, p[0] % 9 - 4);
  case OP_INVERT: return pj_image_invert(img);
  case OP_BLUR: return pj_image_blur(img, 1 + p[0] % 9, 1 + p[1] % 9);
  case OP_GAUSSIAN: {
    /* k 0 (from sigma), or odd up to 9; sigma 0 (from k) to 2.4. */
    const int32_t ksize = p[0] % 6 ? 2 * (p[0] % 6) - 1 : 0;
    return pj_image_gaussian_blur(img, ksize, (p[1] % 5) * 0.6);
  }
  case OP_DILATE: return pj_image_dilate(img, 1 + p[0] % 9, 1 + p[1] % 9);
  case OP_ERODE: return pj_image_erode(img, 1 + p[0] % 9, 1 + p[1] % 9);
  case OP_THRESHOLD:
    return pj_image_threshold(img, p[0], p[1], p[2] % 5 | (p[2] & 8 ? PJ_THRESH_OTSU : 0), used);
  case OP_ADAPTIVE:
    return pj_image_adaptive_threshold(img, p[3], p[0] & 1, p[0] >> 1 & 1, 3 + 2 * (p[1] % 8),
                                       (int8_t)p[2] / 4.0);
  }
  return NULL;
}

/* A plain loop's result for the kernels that only move or compare bytes;
 * NULL for the others.  New reference. */
static pj_image *plain(const call *k, const pj_image *img) {
  const int32_t w = img->width, h = img->height, c = img->channels;
  const uint8_t *p = k->p;
  pj_image *out = NULL;
  switch (k->op) {
  case OP_SWAP_RB:
    if (c < 3) return NULL;
    out = pj_image_new(w, h, c, 0);
    for (int32_t y = 0; y < h; y++)
      for (int32_t x = 0; x < w; x++) {
        uint8_t *o = (uint8_t *)at(out, x, y);
        memcpy(o, at(img, x, y), (size_t)c);
        o[0] = at(img, x, y)[2], o[2] = at(img, x, y)[0];
      }
    return out;
  case OP_PAD: {
    const int32_t t = p[0] % 5, l = p[2] % 5;
    out = pj_image_new(w + l + p[3] % 5, h + t + p[1] % 5, c, 0);
    for (int32_t y = 0; y < out->height; y++)
      for (int32_t x = 0; x < out->width; x++) {
        const int inside = y >= t && y < t + h && x >= l && x < l + w;
        memcpy((uint8_t *)at(out, x, y), inside ? at(img, x - l, y - t) : p, (size_t)c);
      }
    return out;
  }
  case OP_FLIP: {
    const int m = 1 + p[0] % 3;
    out = pj_image_new(w, h, c, 0);
    for (int32_t y = 0; y < h; y++)
      for (int32_t x = 0; x < w; x++)
        memcpy((uint8_t *)at(out, x, y),
               at(img, m & PJ_FLIP_HORIZONTAL ? w - 1 - x : x, m & PJ_FLIP_VERTICAL ? h - 1 - y : y),
               (size_t)c);
    return out;
  }
  case OP_ROT90: {
    const int q = ((p[0] % 9 - 4) % 4 + 4) % 4; /* counter-clockwise turns */
    out = q % 2 ? pj_image_new(h, w, c, 0) : pj_image_new(w, h, c, 0);
    for (int32_t y = 0; y < out->height; y++)
      for (int32_t x = 0; x < out->width; x++) {
        /* numpy.rot90: out[y][x] of one turn is in[x][w - 1 - y]. */
        const int32_t sx = q == 0 ? x : q == 1 ? w - 1 - y : q == 2 ? w - 1 - x : y;
        const int32_t sy = q == 0 ? y : q == 1 ? x : q == 2 ? h - 1 - y : h - 1 - x;
        memcpy((uint8_t *)at(out, x, y), at(img, sx, sy), (size_t)c);
      }
    return out;
  }
  case OP_INVERT:
    out = pj_image_new(w, h, c, 0);
    for (int32_t y = 0; y < h; y++)
      for (int32_t x = 0; x < w; x++)
        for (int32_t i = 0; i < c; i++) {
          const uint8_t v = at(img, x, y)[i];
          ((uint8_t *)at(out, x, y))[i] = (c == 2 || c == 4) && i == c - 1 ? v : (uint8_t)(255 - v);
        }
    return out;
  case OP_THRESHOLD: {
    if (p[2] & 8) return NULL; /* Otsu: compared across paths only */
    const uint8_t t = p[0], mx = p[1];
    const int ty = p[2] % 5;
    out = pj_image_new(w, h, c, 0);
    for (int32_t y = 0; y < h; y++)
      for (int32_t x = 0; x < w * c; x++) {
        const uint8_t v = at(img, 0, y)[x];
        const int above = v > t;
        ((uint8_t *)at(out, 0, y))[x] = ty == PJ_THRESH_BINARY       ? (above ? mx : 0)
                                        : ty == PJ_THRESH_BINARY_INV ? (above ? 0 : mx)
                                        : ty == PJ_THRESH_TRUNC      ? (above ? t : v)
                                        : ty == PJ_THRESH_TOZERO     ? (above ? v : 0)
                                                                     : (above ? 0 : v);
      }
    return out;
  }
  }
  return NULL;
}

/* The result with the extensions in `off` turned off, as
 * PIXJIT_CPU_DISABLE names them.  New reference. */
static pj_image *apply_without(const char *off, const call *k, const pj_image *img, double *used) {
  setenv("PIXJIT_CPU_DISABLE", off, 1);
  pj_cpu_redetect();
  pj_image *r = apply(k, img, used);
  unsetenv("PIXJIT_CPU_DISABLE");
  pj_cpu_redetect();
  return r;
}

/* pj_image_fill on a view of a copy of base: the view's pixels take the
 * value, every other byte of the copy stays. */
static void check_fill(const pj_image *base, const pj_image *view, int32_t dx, int32_t dy,
                       const uint8_t *value) {
  pj_image *copy = pj_image_clone(base);
  pj_image *v = copy ? pj_image_view(copy, dx, dy, view->width, view->height) : NULL;
  if (v && pj_image_fill(v, value) != PJ_OK) abort();
  for (int32_t y = 0; v && y < copy->height; y++)
    for (int32_t x = 0; x < copy->width; x++) {
      const int inside = x >= dx && y >= dy;
      if (memcmp(at(copy, x, y), inside ? value : at(base, x, y), (size_t)copy->channels)) abort();
    }
  pj_image_release(v);
  pj_image_release(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 10) return 0;
  const int32_t w = 1 + data[0] % 64, h = 1 + data[1] % 48, c = 1 + data[2] % 4;
  const call k = {data[3] % N_OPS, {data[4], data[5], data[6], data[7]}};
  const int32_t dx = data[8] % 3, dy = data[8] / 3 % 2;
  data += 10, size -= 10;
  pj_threads_set(1);
  /* The view is the bottom right of its buffer, its last row the
   * buffer's last bytes. */
  pj_image *base = pj_image_new(w + dx, h + dy, c, 0);
  if (!base || !size) {
    pj_image_release(base);
    return 0;
  }
  for (int32_t y = 0; y < base->height; y++)
    for (int32_t x = 0; x < base->width * c; x++)
      base->data[(size_t)y * base->stride + x] = data[((size_t)y * 211 + x) % size];
  pj_image *view = pj_image_view(base, dx, dy, w, h);
  if (k.op == OP_FILL) {
    check_fill(base, view, dx, dy, k.p);
  } else {
    pj_image *packed = pj_image_clone(view);
    double t1 = -1, t2 = -1;
    pj_image *r1 = apply(&k, view, &t1);
    pj_image *r2 = apply(&k, packed, &t2);
    if (!same(r1, r2) || t1 != t2) abort();
    /* Each narrower level of SIMD (AVX2, SSSE3), then none. */
    static const char *const off[] = {"avx512vl", "avx2", "all"};
    for (int i = 0; i < 3; i++) {
      double t3 = -1;
      pj_image *r3 = apply_without(off[i], &k, view, &t3);
      if (!same(r1, r3) || t1 != t3) abort();
      pj_image_release(r3);
    }
    pj_image *ref = r1 ? plain(&k, view) : NULL;
    if (ref && !same(r1, ref)) abort();
    /* Kernels that take any image refuse none of these. */
    if (!r1 && k.op != OP_SWAP_RB && k.op != OP_THRESHOLD && k.op != OP_ADAPTIVE &&
        k.op != OP_GAUSSIAN)
      abort();
    pj_image_release(ref);
    pj_image_release(r2);
    pj_image_release(r1);
    pj_image_release(packed);
  }
  pj_image_release(view);
  pj_image_release(base);
  return 0;
}
