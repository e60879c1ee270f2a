/*
 * test_resize.c - resize, swap, pad, tensors and pj_pack from C (also run
 * under valgrind).
 */
#include "check.h"
#include "pixjit.h"

#include <math.h>
#include <stdint.h>

static void test_resize_values(void) {
  pj_image *img = pj_image_new(2, 1, 1, 0);
  img->data[1] = 100;
  pj_image *up = pj_image_resize(img, 4, 1, PJ_INTER_LINEAR);
  CHECK(up && up->data[0] == 0 && up->data[1] == 25 && up->data[2] == 75 && up->data[3] == 100);
  pj_image *wide = pj_image_new(4, 2, 1, 0);
  uint8_t v[8] = {10, 20, 30, 50, 10, 20, 30, 50};
  memcpy(wide->data, v, 8);
  pj_image *area = pj_image_resize(wide, 3, 1, PJ_INTER_AREA);
  CHECK(area && area->data[0] == 12 && area->data[1] == 25 && area->data[2] == 45);
  pj_image *half = pj_image_resize(wide, 2, 1, PJ_INTER_LINEAR); /* exact 2x: 2x2 mean */
  CHECK(half && half->data[0] == 15 && half->data[1] == 40);
  CHECK(pj_image_resize(wide, 0, 1, PJ_INTER_LINEAR) == NULL);
  CHECK(pj_image_resize(wide, 2, 1, 9) == NULL);
  pj_image *imgs[] = {img, up, wide, area, half};
  for (int i = 0; i < 5; i++) pj_image_release(imgs[i]);
}

/* Views that end at the parent's last byte, where the vector loads of a
 * row come closest to the end of the buffer: nearest against the formula
 * itself (source pixel floor(x * sw / dw), clamped), and every
 * interpolation against the same resize of a packed copy. */
static void test_resize_edges(void) {
  static const int32_t widths[][2] = {{40, 20}, {41, 20}, {40, 13}, {40, 9}, {17, 40}, {16, 33}, {6, 5}};
  for (int c = 1; c <= 4; c++) {
    for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++) {
      const int32_t sw = widths[k][0], dw = widths[k][1], sh = 9, dh = 5;
      pj_image *parent = pj_image_new(sw + 3, sh + 2, c, 0);
      for (int32_t i = 0; i < parent->stride * parent->height; i++) parent->data[i] = (uint8_t)(i * 37 + 11);
      pj_image *src = pj_image_view(parent, 3, 2, sw, sh);
      pj_image *out = pj_image_resize(src, dw, dh, PJ_INTER_NEAREST);
      CHECK(out != NULL);
      int bad = 0;
      const double fx = 1. / ((double)dw / sw), fy = 1. / ((double)dh / sh);
      for (int32_t y = 0; out && y < dh; y++) {
        int32_t sy = (int32_t)floor(y * fy);
        sy = sy < sh ? sy : sh - 1;
        for (int32_t x = 0; x < dw; x++) {
          int32_t sx = (int32_t)floor(x * fx);
          sx = sx < sw ? sx : sw - 1;
          for (int i = 0; i < c; i++)
            bad += out->data[y * out->stride + x * c + i] != src->data[sy * src->stride + sx * c + i];
        }
      }
      CHECK_EQ(bad, 0);
      /* Every interpolation gives the view's bytes what it gives a packed
       * copy of them: what the vector loads read past a row never counts. */
      pj_image *copy = pj_image_clone(src);
      const int interps[] = {PJ_INTER_NEAREST, PJ_INTER_LINEAR, PJ_INTER_AREA};
      for (int m = 0; m < 3; m++) {
        for (int grow = 0; grow < 2; grow++) {
          const int32_t w = grow ? 2 * dw + 1 : dw, h = grow ? 2 * dh + 1 : dh;
          pj_image *a = pj_image_resize(src, w, h, interps[m]);
          pj_image *b = pj_image_resize(copy, w, h, interps[m]);
          CHECK(a && b);
          int diff = 0;
          for (int32_t y = 0; a && b && y < h; y++)
            diff += memcmp(a->data + y * a->stride, b->data + y * b->stride, (size_t)w * c) != 0;
          CHECK_EQ(diff, 0);
          pj_image_release(a);
          pj_image_release(b);
        }
      }
      pj_image_release(copy);
      pj_image_release(out);
      pj_image_release(src);
      pj_image_release(parent);
    }
  }
}

static void test_swap_pad(void) {
  pj_image *img = pj_image_new(2, 2, 3, 0);
  uint8_t px[3] = {1, 2, 3};
  pj_image_fill(img, px);
  pj_image *s = pj_image_swap_rb(img);
  CHECK(s && s->data[0] == 3 && s->data[2] == 1);
  uint8_t border[3] = {9, 9, 9};
  pj_image *p = pj_image_pad(img, 1, 0, 0, 2, border);
  CHECK(p && p->width == 4 && p->height == 3);
  CHECK(p && p->data[0] == 9 && p->data[p->stride] == 1 && p->data[p->stride + 2 * 3] == 9);
  CHECK(pj_image_pad(img, -1, 0, 0, 0, border) == NULL);
  pj_image_release(s), pj_image_release(p), pj_image_release(img);
}

static void test_pack(void) {
  pj_image *a = pj_image_new(8, 4, 3, 0), *b = pj_image_new(2, 4, 1, 0);
  uint8_t ra[3] = {255, 0, 51}, rb[1] = {255};
  pj_image_fill(a, ra);
  pj_image_fill(b, rb);
  const pj_image *imgs[2] = {a, b};
  pj_pack_opts o = {0};
  o.height = 2;
  for (int k = 0; k < 3; k++) o.mean[k] = 0.5f, o.std[k] = 0.5f;
  o.pad_value = -9;
  pj_tensor *t = NULL;
  int32_t widths[2];
  CHECK_EQ(pj_pack(imgs, 2, &o, &t, widths), PJ_OK);
  CHECK(t && t->ndim == 4 && t->dims[0] == 2 && t->dims[1] == 3 && t->dims[2] == 2 && t->dims[3] == 4);
  CHECK_EQ(widths[0], 4);
  CHECK_EQ(widths[1], 1);
  if (t) {
    const size_t plane = 2 * 4;
    CHECK(t->data[0] == 1.0f);                       /* image 0, R */
    CHECK(t->data[plane] == -1.0f);                  /* image 0, G */
    CHECK(fabsf(t->data[2 * plane] - (51 / 255.f - 0.5f) / 0.5f) < 1e-6f);
    CHECK(t->data[3 * plane] == 1.0f);               /* image 1 gray replicated */
    CHECK(t->data[3 * plane + 1] == -9.0f);          /* padding */
  }
  pj_tensor_release(t);
  o.channels = 2;
  CHECK_EQ(pj_pack(imgs, 2, &o, &t, widths), PJ_EARG);
  o = (pj_pack_opts){0};
  o.std[0] = o.std[2] = 1; /* one zero among set std values is an error */
  CHECK_EQ(pj_pack(imgs, 2, &o, &t, widths), PJ_EARG);
  CHECK_STR_HAS(pj_errmsg(), "std[2] must be finite and nonzero");
  /* A zeroed struct is every default: height 32, 3 channels, std 1. */
  o = (pj_pack_opts){0};
  CHECK_EQ(pj_pack(imgs, 2, &o, &t, widths), PJ_OK);
  CHECK(t && t->dims[1] == 3 && t->dims[2] == 32 && t->data[0] == 1.0f);
  pj_tensor_release(t);
  int64_t bad[2] = {3, -1};
  CHECK(pj_tensor_new(2, bad) == NULL);
  int64_t huge[4] = {INT64_MAX / 2, 4, 4, 4};
  CHECK(pj_tensor_new(4, huge) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ELIMIT);
  pj_image_release(a), pj_image_release(b);
}

int main(void) {
  RUN(test_resize_values);
  RUN(test_resize_edges);
  RUN(test_swap_pad);
  RUN(test_pack);
  return finish("resize");
}
