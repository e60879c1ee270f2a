/*
 * exif.c - the EXIF Orientation tag, and turning an image upright by it.
 *
 * EXIF data is a small TIFF structure (byte order mark, 42, offset of the
 * first IFD); Orientation is tag 0x0112 of that first IFD, a SHORT 1-8.
 * JPEG carries the structure in an APP1 segment after "Exif\0\0", PNG in
 * its eXIf chunk, WebP in its EXIF chunk (with or without that prefix).
 * Anything malformed (short data, offsets outside it, another type, a
 * value outside 1-8) reads as "no orientation": metadata never makes a
 * decode fail.
 *
 * The transforms are cv2.imread's: 2 mirrors left-right, 3 turns 180
 * degrees, 4 mirrors top-bottom, 5 transposes, 6 turns 90 degrees
 * clockwise, 7 transposes across the other diagonal, 8 turns 90 degrees
 * counter-clockwise.
 */
#include "internal.h"

#include <string.h>

static uint32_t get16(const uint8_t *p, bool le) {
  return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p, bool le) {
  return le ? get16(p, true) | get16(p + 2, true) << 16 : get16(p, false) << 16 | get16(p + 2, false);
}

int pj_exif_orientation(const uint8_t *d, size_t n) {
  if (!d) return 0;
  if (n >= 6 && memcmp(d, "Exif\0\0", 6) == 0) d += 6, n -= 6;
  if (n < 8) return 0;
  bool le;
  if (d[0] == 'I' && d[1] == 'I') le = true;
  else if (d[0] == 'M' && d[1] == 'M') le = false;
  else return 0;
  if (get16(d + 2, le) != 42) return 0;
  const uint32_t ifd = get32(d + 4, le);
  if (ifd < 8 || ifd > n - 2) return 0;
  const uint32_t count = get16(d + ifd, le);
  /* An IFD that does not fit is damaged as a whole. */
  if ((size_t)ifd + 2 + (size_t)12 * count > n) return 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *e = d + ifd + 2 + (size_t)12 * i;
    if (get16(e, le) != 0x0112) continue;
    const uint32_t type = get16(e + 2, le), num = get32(e + 4, le);
    if (num != 1) return 0;
    /* The value sits in the entry itself, left-aligned. */
    const uint32_t v = type == 3 ? get16(e + 8, le) : type == 4 ? get32(e + 8, le) : 0;
    return v >= 1 && v <= 8 ? (int)v : 0;
  }
  return 0;
}

pj_image *pj_orient(pj_image *img, int orientation) {
  if (!img || orientation <= 1 || orientation > 8) return img;
  pj_image *a = NULL, *b = NULL;
  switch (orientation) {
  case 2: a = pj_image_flip(img, PJ_FLIP_HORIZONTAL); break;
  case 3: a = pj_image_flip(img, PJ_FLIP_BOTH); break;
  case 4: a = pj_image_flip(img, PJ_FLIP_VERTICAL); break;
  case 6: a = pj_image_rot90(img, 3); break;
  case 8: a = pj_image_rot90(img, 1); break;
  default:
    /* 5 and 7: a quarter turn counter-clockwise, then a mirror. */
    b = pj_image_rot90(img, 1);
    if (b) a = pj_image_flip(b, orientation == 5 ? PJ_FLIP_VERTICAL : PJ_FLIP_HORIZONTAL);
    pj_image_release(b);
    break;
  }
  pj_image_release(img);
  return a;
}
