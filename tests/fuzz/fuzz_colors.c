/*
 * fuzz_colors.c - main colours of a fuzzed image with fuzzed options, a
 * view and a mask, counted in runs or pixel by pixel, checked against
 * counts from sorting the pixels' keys.
 */
#include "internal.h"
#include "pixjit.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* More pixels first, then the smaller packed colour: pixjit's order. */
static int cmp_rank(const void *pa, const void *pb) {
  const pj_color_count *a = pa, *b = pb;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  return a->rgb < b->rgb ? -1 : a->rgb > b->rgb;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 6) return 0;
  int32_t w = 1 + data[0] % 96, h = 1 + data[1] % 96, c = 1 + data[2] % 4;
  int32_t n = data[3] % 40;
  pj_colors_opts o = {0};
  o.bits = 1 + data[4] % 8;
  o.min_alpha = data[5];
  o.all_pixels = data[4] >> 7;
  pj_colors_force(data[2] / 4 % 6);
  data += 6, size -= 6;
  pj_image *img = pj_image_new(w + 2, h + 1, c, 0);
  if (!img || !size) {
    pj_image_release(img);
    return 0;
  }
  for (int32_t y = 0; y < h + 1; y++)
    for (int32_t x = 0; x < (w + 2) * c; x++)
      img->data[(size_t)y * img->stride + x] = data[((size_t)y * 97 + x) % size];
  pj_image *view = pj_image_view(img, 1, 1, w, h);
  pj_image *mask = NULL;
  if (size > 1 && data[0] & 1) {
    mask = pj_image_new(w, h, 1, 0);
    for (int32_t i = 0; i < w * h; i++) mask->data[i] = data[i % size] & 2;
    o.mask = mask;
  }
  pj_color_count out[40];
  pj_colors_summary s;
  if (pj_main_colors(view, n, &o, out, &s) == PJ_OK) {
    /* Reference: the counted pixels' quantised keys, sorted and grouped. */
    uint32_t *keys = malloc(sizeof *keys * (size_t)w * h + 1);
    size_t nk = 0;
    const uint8_t q = (uint8_t)(0xFF << (8 - o.bits));
    /* 0 asks for the default, 1: fully transparent pixels are left out. */
    const int min_alpha = o.all_pixels ? 0 : o.min_alpha ? o.min_alpha : 1;
    for (int32_t y = 0; y < h; y++)
      for (int32_t x = 0; x < w; x++) {
        const uint8_t *p = view->data + (size_t)y * view->stride + (size_t)x * c;
        if (mask && !mask->data[(size_t)y * mask->stride + x]) continue;
        if ((c == 2 || c == 4) && p[c - 1] < min_alpha) continue;
        keys[nk++] = c >= 3 ? (uint32_t)(p[0] & q) << 16 | (uint32_t)(p[1] & q) << 8 | (p[2] & q)
                            : (p[0] & q) * 0x010101u;
      }
    qsort(keys, nk, sizeof *keys, cmp_u32);
    pj_color_count *ref = malloc(sizeof *ref * (nk + 1));
    size_t nr = 0;
    for (size_t i = 0; i < nk;) {
      size_t e = i;
      while (e < nk && keys[e] == keys[i]) e++;
      ref[nr++] = (pj_color_count){.count = (int64_t)(e - i), .rgb = keys[i]};
      i = e;
    }
    qsort(ref, nr, sizeof *ref, cmp_rank);
    if (s.counted != (int64_t)nk || s.distinct != (int64_t)nr) abort();
    if (s.n != (int32_t)(nr < (size_t)n ? nr : (size_t)n)) abort();
    for (int32_t i = 0; i < s.n; i++) {
      if (out[i].count != ref[i].count) abort();
      /* Quantised entries report their members' mean colour instead. */
      if (o.bits == 8 && out[i].rgb != ref[i].rgb) abort();
    }
    free(ref);
    free(keys);
  }
  pj_image_release(mask);
  pj_image_release(view);
  pj_image_release(img);
  return 0;
}
