/*
 * fuzz_crop.c - perspective warps and batch crops with fuzzed quads and
 * matrices (NaN, infinities, huge and degenerate values included) on a
 * small fuzzed image.
 */
#include "pixjit.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 8) return 0;
  int32_t w = 1 + data[0] % 64, h = 1 + data[1] % 64, c = 1 + data[2] % 4;
  int border = data[3] & 1, interp = (data[3] >> 1) & 1, rotate = (data[3] >> 2) & 1;
  int32_t height = (data[3] >> 3) & 1 ? 1 + data[4] % 48 : 0;
  data += 5, size -= 5;
  pj_image *img = pj_image_new(w, h, c, 0);
  if (!img) return 0;
  for (int32_t y = 0; y < h; y++)
    for (int32_t x = 0; x < w * c; x++)
      img->data[(size_t)y * img->stride + x] = size ? data[(y * 31 + x) % size] : 0;
  /* Quads: raw float bits from the input, any value at all. */
  int32_t n = (int32_t)(size / 32);
  if (n > 64) n = 64;
  float q[64 * 8];
  memcpy(q, data, (size_t)n * 32);
  pj_crop_opts o = {0};
  o.warp.border = border ? PJ_BORDER_REPLICATE : PJ_BORDER_CONSTANT;
  o.warp.interpolation = interp ? PJ_INTER_NEAREST : PJ_INTER_LINEAR;
  o.rotate_tall = rotate;
  o.height = height;
  o.max_crop_pixels = 1 << 14;
  o.max_total_pixels = 1 << 18;
  pj_image *out[64];
  int32_t status[64];
  if (pj_crop_quads(img, q, n, &o, out, status) == PJ_OK)
    for (int32_t i = 0; i < n; i++) pj_image_release(out[i]);
  /* A matrix from the same bytes. */
  if (size >= 72) {
    double m[9];
    memcpy(m, data, sizeof m);
    pj_warp_opts wo = {0};
    wo.max_pixels = 1 << 14;
    wo.border = o.warp.border;
    wo.interpolation = o.warp.interpolation;
    pj_image *warped = pj_warp_perspective(img, m, 1 + data[0] % 100, 1 + data[1] % 100, &wo);
    pj_image_release(warped);
  }
  pj_image_release(img);
  return 0;
}
