/*
 * convert.c - channel-count conversions (gray, gray+alpha, RGB, RGBA).
 */
#include "internal.h"

static pj_image *convert(const pj_image *img, int32_t channels);

pj_image *pj_image_convert(const pj_image *img, int32_t channels) {
  int64_t t0 = pj_clock_ns();
  pj_image *out = convert(img, channels);
  pj_stats_add(PJ_KERNEL_CONVERT, t0, pj_pixels_of(out));
  return out;
}

static pj_image *convert(const pj_image *img, int32_t channels) {
  if (!img || !img->data) return pj_fail_null(PJ_EARG, "image is freed or NULL");
  if (channels < 1 || channels > 4)
    return pj_fail_null(PJ_EARG, "channels must be 1 to 4, got %d", channels);
  if (channels == img->channels) return pj_image_clone(img);
  pj_image *out = pj_image_alloc(img->width, img->height, channels);
  if (!out) return NULL;
  const int ci = img->channels, co = channels;
  const int32_t w = img->width, h = img->height;
#pragma omp parallel for schedule(static) num_threads(pj_threads_get()) if ((int64_t)w * h > 65536)
  for (int32_t y = 0; y < h; y++) {
    const uint8_t *s = img->data + (size_t)y * img->stride;
    uint8_t *d = out->data + (size_t)y * out->stride;
    for (int32_t x = 0; x < w; x++, s += ci, d += co) {
      unsigned r, g, b, a = 255;
      if (ci <= 2) {
        r = g = b = s[0];
        if (ci == 2) a = s[1];
      } else {
        r = s[0], g = s[1], b = s[2];
        if (ci == 4) a = s[3];
      }
      switch (co) {
      case 1: d[0] = ci <= 2 ? (uint8_t)r : pj_gray_of(r, g, b); break;
      case 2: d[0] = ci <= 2 ? (uint8_t)r : pj_gray_of(r, g, b); d[1] = (uint8_t)a; break;
      case 3: d[0] = (uint8_t)r; d[1] = (uint8_t)g; d[2] = (uint8_t)b; break;
      default: d[0] = (uint8_t)r; d[1] = (uint8_t)g; d[2] = (uint8_t)b; d[3] = (uint8_t)a; break;
      }
    }
  }
  return out;
}
