/*
 * png_read.c - pixjit's own PNG decoder for the files users mostly have:
 * 8-bit gray, gray+alpha, RGB, RGBA and palette (with tRNS), not
 * interlaced.  libdeflate inflates the whole image stream into the exact
 * size IHDR implies; the rows are unfiltered by png_filter.c.
 *
 * It only ever returns pixels where libpng would return the same ones.
 * Anything unusual -- another depth or colour type, interlacing, a CRC
 * error, a chunk out of place, a zlib stream that is short, long, has a
 * preset dictionary or a window under 32K, a bad filter byte, a palette
 * index out of range -- makes it decline, and libpng (png.c), which is
 * locked down for hostile files, decodes the file and has the last word on
 * what is wrong with it.  What it checks itself before allocating, as
 * libpng's path does, is the pixel limit.
 */
#include "internal.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define TYPE(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define IHDR TYPE('I', 'H', 'D', 'R')
#define PLTE TYPE('P', 'L', 'T', 'E')
#define IDAT TYPE('I', 'D', 'A', 'T')
#define IEND TYPE('I', 'E', 'N', 'D')
#define tRNS TYPE('t', 'R', 'N', 'S')
#define eXIf TYPE('e', 'X', 'I', 'f')

/* ---- Reading ------------------------------------------------------------------ */

/* n bytes from the source into dst; false at its end or on an error. */
static bool src_read(pj_source *s, void *dst, size_t n) {
  if (s->fp) return fread(dst, 1, n, s->fp) == n;
  if (s->size - s->pos < n) return false;
  memcpy(dst, s->data + s->pos, n);
  s->pos += n;
  return true;
}

/* What the chunk walk found. */
typedef struct png_info {
  uint32_t w, h;
  int color;                /* 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA */
  uint8_t pal[256][4];      /* RGBA; alpha 255 beyond the tRNS entries */
  int npal, ntrns;
  uint8_t *idat;            /* the image stream, all IDATs joined */
  size_t nidat, cap;
  int orientation;          /* from the first eXIf chunk; 0 if none */
} png_info;

/* Appends n bytes of the source to the image stream; false when the stream
 * outgrows what a valid one can be (then libpng streams it instead). */
static bool idat_append(pj_source *s, png_info *pi, size_t n, size_t limit) {
  if (n == 0) return true;
  if (pi->nidat + n > limit) return false;
  if (pi->nidat + n > pi->cap) {
    size_t cap = pi->cap ? pi->cap : 1 << 16;
    while (cap < pi->nidat + n) cap *= 2;
    if (cap > limit) cap = limit;
    uint8_t *p = realloc(pi->idat, cap);
    if (!p) return false;
    pi->idat = p;
    pi->cap = cap;
  }
  if (!src_read(s, pi->idat + pi->nidat, n)) return false;
  pi->nidat += n;
  return true;
}

/* Reads and CRC-checks the body of a chunk that is skipped. */
static bool skip_body(pj_source *s, uint32_t len, uint32_t *crc) {
  uint8_t buf[4096];
  while (len > 0) {
    size_t n = len < sizeof buf ? len : sizeof buf;
    if (!src_read(s, buf, n)) return false;
    *crc = (uint32_t)libdeflate_crc32(*crc, buf, n);
    len -= (uint32_t)n;
  }
  return true;
}

/* IHDR's 13 bytes: only the layouts this decoder handles pass. */
static bool take_ihdr(png_info *pi, const uint8_t *b) {
  pi->w = be32(b), pi->h = be32(b + 4), pi->color = b[9];
  const int depth = b[8], comp = b[10], filter = b[11], interlace = b[12];
  /* Widths past 2^24 stay with libpng, whose row arithmetic has its own
   * limits there. */
  return pi->w >= 1 && pi->w <= (1u << 24) && pi->h >= 1 && pi->h <= 0x7FFFFFFFu && depth == 8 &&
         (pi->color == 0 || pi->color == 2 || pi->color == 3 || pi->color == 4 || pi->color == 6) &&
         comp == 0 && filter == 0 && interlace == 0;
}

/* Where a chunk may appear, as libpng enforces it (no other order is
 * taken here). */
enum { BEFORE_IDAT, IN_IDAT, AFTER_IDAT };

/* One chunk after IHDR.  Returns 1 to go on, 0 to decline, 2 at IEND. */
static int take_chunk(pj_source *s, png_info *pi, uint32_t len, uint32_t type, int *stage,
                      size_t limit) {
  uint8_t head[4] = {(uint8_t)(type >> 24), (uint8_t)(type >> 16), (uint8_t)(type >> 8), (uint8_t)type};
  uint32_t crc = (uint32_t)libdeflate_crc32(0, head, 4);
  uint8_t body[768];
  if (type == IDAT) {
    if (*stage == AFTER_IDAT || (pi->color == 3 && !pi->npal)) return 0;
    *stage = IN_IDAT;
    size_t at = pi->nidat;
    if (!idat_append(s, pi, len, limit)) return 0;
    if (len) crc = (uint32_t)libdeflate_crc32(crc, pi->idat + at, len);
  } else if (type == PLTE || type == tRNS) {
    if (*stage != BEFORE_IDAT || pi->color != 3 || len > sizeof body || !src_read(s, body, len)) return 0;
    crc = (uint32_t)libdeflate_crc32(crc, body, len);
    if (type == PLTE) {
      if (pi->npal || len == 0 || len % 3) return 0;
      pi->npal = (int)(len / 3);
      for (int i = 0; i < pi->npal; i++)
        memcpy(pi->pal[i], body + 3 * i, 3), pi->pal[i][3] = 255;
    } else {
      if (!pi->npal || pi->ntrns || len == 0 || (int)len > pi->npal) return 0;
      pi->ntrns = (int)len;
      for (int i = 0; i < pi->ntrns; i++) pi->pal[i][3] = body[i];
    }
  } else if (type == eXIf && !pi->orientation && len <= 65536) {
    /* EXIF: only its orientation is used. */
    uint8_t *ex = malloc(len ? len : 1);
    if (!ex || !src_read(s, ex, len)) {
      free(ex);
      return 0;
    }
    crc = (uint32_t)libdeflate_crc32(crc, ex, len);
    pi->orientation = pj_exif_orientation(ex, len);
    free(ex);
    if (*stage == IN_IDAT) *stage = AFTER_IDAT;
  } else {
    /* Critical chunks other than these are errors for libpng; ancillary
     * ones are skipped, their CRC checked. */
    if (!(head[0] & 0x20) && type != IEND) return 0;
    if (type == IEND && (len != 0 || *stage == BEFORE_IDAT)) return 0;
    if (*stage == IN_IDAT) *stage = AFTER_IDAT;
    if (!skip_body(s, len, &crc)) return 0;
  }
  uint8_t c[4];
  if (!src_read(s, c, 4) || be32(c) != crc) return 0;
  return type == IEND ? 2 : 1;
}

static bool letters(uint32_t type) {
  for (int i = 0; i < 4; i++) {
    unsigned ch = (type >> (8 * i)) & 0xFF;
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))) return false;
  }
  return true;
}

/* The chunks from after the signature to IEND; false to decline. */
static bool walk_chunks(pj_source *s, png_info *pi) {
  uint8_t b[25];
  if (!src_read(s, b, 25)) return false; /* IHDR: length, type, 13 bytes, CRC */
  if (be32(b) != 13 || be32(b + 4) != IHDR || !take_ihdr(pi, b + 8)) return false;
  if ((uint32_t)libdeflate_crc32(0, b + 4, 17) != be32(b + 21)) return false;
  /* No valid stream is much larger than the rows it holds (stored blocks
   * add 5 bytes in 65,535); past that, libpng streams whatever it is. */
  const int c = pi->color == 3 ? 1 : pi->color == 0 ? 1 : pi->color == 4 ? 2 : pi->color == 2 ? 3 : 4;
  const uint64_t raw = (uint64_t)pi->h * ((uint64_t)pi->w * c + 1);
  const size_t limit = (size_t)(raw + raw / 64 + (1 << 20) < SIZE_MAX ? raw + raw / 64 + (1 << 20) : SIZE_MAX);
  int stage = BEFORE_IDAT;
  for (;;) {
    if (!src_read(s, b, 8)) return false;
    uint32_t len = be32(b), type = be32(b + 4);
    if (len > 0x7FFFFFFFu || !letters(type) || type == IHDR) return false;
    int r = take_chunk(s, pi, len, type, &stage, limit);
    if (r == 0) return false;
    if (r == 2) return stage != BEFORE_IDAT;
  }
}

/* ---- Decoding ------------------------------------------------------------------ */

/* The zlib stream's rows, inflated into raw (rows of 1 + n bytes); false
 * unless the stream holds exactly those bytes and then its 4-byte check
 * value, nothing less or more.  The check value is not compared: libpng's
 * path ignores it too, as every chunk's CRC already covers the data. */
static bool inflate_rows(const png_info *pi, uint8_t *raw, size_t size) {
  const uint8_t *z = pi->idat;
  if (pi->nidat < 2 + 4) return false;
  const unsigned cmf = z[0], flg = z[1];
  /* Deflate with a 32K window, no preset dictionary: anything else is for
   * zlib (through libpng) to accept or refuse. */
  if ((cmf & 15) != 8 || (cmf >> 4) != 7 || (flg & 0x20) || (cmf * 256 + flg) % 31) return false;
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  if (!d) return false;
  size_t in = 0, out = 0;
  enum libdeflate_result r = libdeflate_deflate_decompress_ex(d, z + 2, pi->nidat - 2, raw, size, &in, &out);
  libdeflate_free_decompressor(d);
  return r == LIBDEFLATE_SUCCESS && out == size && 2 + in + 4 == pi->nidat;
}

/* One row of palette indices s into RGB or RGBA d; returns nonzero when
 * an index is past the palette.  RGB stores 4 bytes a pixel (the spare
 * one is overwritten by the next pixel), the last one exactly. */
static inline unsigned expand_row(const png_info *pi, const uint32_t *pal, const uint8_t *s,
                                  uint8_t *d, uint32_t w, const int C) {
  unsigned bad = 0;
  for (uint32_t x = 0; x < w; x++) {
    const unsigned i = s[x];
    bad |= i >= (unsigned)pi->npal;
    if (C == 4 || x + 1 < w) memcpy(d + (size_t)x * C, &pal[i], 4);
    else memcpy(d + (size_t)x * C, &pal[i], 3);
  }
  return bad;
}

/* Palette rows (unfiltered in place in raw) into RGB or RGBA; false when
 * an index is past the palette. */
static bool expand_palette(const png_info *pi, const uint8_t *raw, pj_image *img) {
  uint32_t pal[256];
  for (int i = 0; i < 256; i++) memcpy(&pal[i], pi->pal[i], 4);
  const int C = img->channels;
  unsigned bad = 0;
#pragma omp parallel for schedule(static) num_threads(pj_threads_get()) reduction(| : bad) \
    if ((int64_t)pi->w * pi->h > 262144)
  for (int32_t y = 0; y < (int32_t)pi->h; y++) {
    const uint8_t *s = raw + (size_t)y * (pi->w + 1) + 1;
    uint8_t *d = img->data + (size_t)y * img->stride;
    bad |= C == 4 ? expand_row(pi, pal, s, d, pi->w, 4) : expand_row(pi, pal, s, d, pi->w, 3);
  }
  return !bad;
}

/* The image, or NULL with *declined set (libpng decodes) or a message
 * recorded (the pixel limit, out of memory). */
static pj_image *decode(png_info *pi, const char *name, const pj_decode_opts *o, bool *declined) {
  const int c = pi->color == 3 ? (pi->ntrns ? 4 : 3) : pi->color == 0 ? 1 : pi->color == 4 ? 2
                : pi->color == 2 ? 3 : 4;
  const int bpp = pi->color == 3 ? 1 : c;
  int32_t stride;
  if (pj_check_dims(pi->w, pi->h, c, o->max_pixels, &stride)) {
    pj_fail_prefix(name);
    return NULL;
  }
  const size_t n = (size_t)pi->w * bpp, size = (size_t)pi->h * (n + 1);
  /* Deflate cannot expand more than about 1032:1: a stream too small for
   * the rows is broken, and libpng fails it without this allocation. */
  if (size / 1032 > pi->nidat + 1024) return *declined = true, NULL;
  uint8_t *raw = malloc(size + 16);
  pj_image *img = raw ? pj_image_alloc((int32_t)pi->w, (int32_t)pi->h, c) : NULL;
  if (!img) {
    free(raw);
    return pj_fail_null(PJ_ENOMEM, "%s: out of memory for a %ux%u image", name, pi->w, pi->h);
  }
  bool ok = inflate_rows(pi, raw, size);
  if (ok && pi->color == 3)
    ok = pj_png_unfilter(raw, n, (int32_t)pi->h, raw + 1, n + 1, 1, pj_threads_get()) &&
         expand_palette(pi, raw, img);
  else if (ok)
    ok = pj_png_unfilter(raw, n, (int32_t)pi->h, img->data, (size_t)stride, bpp, pj_threads_get());
  free(raw);
  if (!ok) {
    pj_image_release(img);
    *declined = true;
    return NULL;
  }
  return img;
}

pj_image *pj_png_read_fast(pj_source *src, const pj_decode_opts *o, bool *declined,
                           int *orientation) {
  *declined = false;
  uint8_t sig[8];
  png_info *pi = calloc(1, sizeof *pi);
  if (!pi) return pj_fail_null(PJ_ENOMEM, "%s: out of memory", src->name);
  pj_image *img = NULL;
  if (!src_read(src, sig, 8) || !walk_chunks(src, pi))
    *declined = true;
  else
    img = decode(pi, src->name, o, declined);
  *orientation = pi->orientation;
  free(pi->idat);
  free(pi);
  return img;
}
