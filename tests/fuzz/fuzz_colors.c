/*
 * fuzz_colors.c - main colours of a fuzzed image with fuzzed options, a
 * view and a mask; results are checked for internal consistency.
 */
#include "pixjit.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 6) return 0;
  int32_t w = 1 + data[0] % 96, h = 1 + data[1] % 96, c = 1 + data[2] % 4;
  int32_t n = data[3] % 40;
  pj_colors_opts o;
  pj_colors_opts_default(&o);
  o.bits = 1 + data[4] % 8;
  o.min_alpha = data[5];
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
    /* Counts descend, sum to at most `counted`, and distinct >= n. */
    int64_t sum = 0;
    for (int32_t i = 0; i < s.n; i++) {
      if (i && (out[i].count > out[i - 1].count ||
                (out[i].count == out[i - 1].count && out[i].rgb <= out[i - 1].rgb) ))
        if (o.bits == 8) abort();
      sum += out[i].count;
    }
    if (sum > s.counted || s.distinct < s.n) abort();
  }
  pj_image_release(mask);
  pj_image_release(view);
  pj_image_release(img);
  return 0;
}
