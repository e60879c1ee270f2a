/*
 * fuzz_exif.c - the EXIF orientation parser on arbitrary bytes, and the
 * upright turn it selects applied to a small image.  Any orientation is
 * fine but one outside 0-8, a crash or a read outside the input.
 */
#include "internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const int o = pj_exif_orientation(data, size);
  if (o < 0 || o > 8) abort();
  pj_image *img = pj_image_new(5, 3, 1 + (int)(size % 4), 0);
  img = pj_orient(img, o);
  if (!img) abort();
  if (o >= 5 && (img->width != 3 || img->height != 5)) abort();
  pj_image_release(img);
  return 0;
}
