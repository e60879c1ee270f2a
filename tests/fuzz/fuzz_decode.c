/*
 * fuzz_decode.c - decoding of arbitrary bytes, and their header probe
 * (the png, jpeg, tiff and webp targets differ only in their seed
 * corpora).  Any result is fine but a crash, a hang, a leak or memory far
 * beyond the image's size.
 */
#include "pixjit.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pj_decode_opts o = {.max_pixels = 1 << 22}; /* fuzzed headers may not ask for gigabytes */
  pj_image_info info;
  const int probed = pj_info_bytes(data, size, "fuzz", &o, &info);
  pj_image *img = pj_decode(data, size, "fuzz", &o);
  /* What decodes has a header that probes, and the same size. */
  if (img && (probed || info.width != img->width || info.height != img->height ||
              info.channels != img->channels))
    __builtin_trap();
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
