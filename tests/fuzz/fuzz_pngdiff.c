/*
 * fuzz_pngdiff.c - pixjit's own PNG decoder against libpng on arbitrary
 * bytes.  Whenever the fast path returns an image, libpng must return the
 * same pixels; whenever it fails outright (the pixel limit), libpng must
 * fail too; declining is always allowed.  Any difference aborts.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 8 || memcmp(data, sig, 8)) return 0;
  /* Fuzzed headers may not ask for gigabytes; both paths get the limit. */
  pj_decode_opts o = {.max_pixels = 1 << 22, .max_scans = 256, .max_chunk_bytes = 1 << 23};
  pj_source a = {.data = data, .size = size, .name = "fuzz"}, b = a;
  bool declined;
  int oa = 0, ob = 0;
  pj_image *fast = pj_png_read_fast(&a, &o, &declined, &oa);
  if (declined) return 0;
  pj_image *ref = pj_png_read(&b, &o, &ob);
  if (fast && oa != ob) abort(); /* both read the same eXIf */
  if (!fast != !ref) abort(); /* one decoded, the other did not */
  if (fast) {
    if (fast->width != ref->width || fast->height != ref->height || fast->channels != ref->channels)
      abort();
    for (int32_t y = 0; y < fast->height; y++)
      if (memcmp(fast->data + (size_t)y * fast->stride, ref->data + (size_t)y * ref->stride,
                 (size_t)fast->width * fast->channels))
        abort();
  }
  pj_image_release(fast);
  pj_image_release(ref);
  return 0;
}
