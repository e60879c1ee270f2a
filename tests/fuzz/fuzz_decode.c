/*
 * fuzz_decode.c - PNG and JPEG decoding of arbitrary bytes (the png and
 * jpeg targets differ only in their seed corpora).  Any result is fine
 * but a crash, a hang, a leak or memory far beyond the image's size.
 */
#include "pixjit.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pj_decode_opts o = {.max_pixels = 1 << 22}; /* fuzzed headers may not ask for gigabytes */
  pj_image *img = pj_decode(data, size, "fuzz", &o);
  if (img) {
    /* Touch every row through the public accessors. */
    uint8_t px[4];
    for (int32_t y = 0; y < img->height; y += 7) pj_image_get(img, img->width - 1, y, px);
    pj_image *gray = pj_image_convert(img, 1);
    pj_image_release(gray);
  }
  pj_image_release(img);
  return 0;
}
