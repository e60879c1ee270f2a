/*
 * png.c - PNG decoding through libpng, for every file pixjit's own decoder
 * (png_read.c) declines: other depths and colour types, interlacing, and
 * anything broken, whose error libpng words.
 *
 * libpng reports errors by longjmp; the jump never leaves this file.  For
 * untrusted files the reader is locked down: every ancillary chunk the
 * decode does not need is skipped as it streams past (so a 52-byte file
 * declaring a 2 GiB iCCP costs nothing), CRC errors in any chunk are fatal,
 * dimensions are checked against the pixel limit before any row memory is
 * allocated, and a missing IEND (truncation) is an error.
 */
#include "internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* libpng allocates an eXIf chunk's declared length before reading it
 * (a 57-byte file can ask for a gigabyte), so it is told to skip eXIf
 * like the other ancillary chunks, and the reader keeps the first eXIf's
 * bytes itself as the stream goes past: the chunk layout is followed byte
 * by byte through the reads libpng makes. */
#define EXIF_MAX 65536 /* as png_read.c: the longest eXIf whose orientation is read */

typedef struct png_ctx {
  pj_source *src;
  char msg[256];
  uint64_t skip;      /* signature bytes, then chunk data + CRC, still to pass */
  uint8_t head[8];    /* a chunk's length and type, as they arrive */
  int nhead;
  uint8_t *exif;      /* the first eXIf's data while it arrives */
  uint32_t exif_len, exif_got;
  int exif_done;      /* the first eXIf has been seen (whatever its size) */
  int orientation;
} png_ctx;

static void track(png_ctx *c, const uint8_t *p, size_t n) {
  while (n) {
    if (c->skip) {
      size_t k = c->skip < n ? (size_t)c->skip : n;
      if (c->exif && c->exif_got < c->exif_len) {
        size_t take = c->exif_len - c->exif_got < k ? c->exif_len - c->exif_got : k;
        memcpy(c->exif + c->exif_got, p, take);
        c->exif_got += (uint32_t)take;
        if (c->exif_got == c->exif_len) {
          c->orientation = pj_exif_orientation(c->exif, c->exif_len);
          free(c->exif);
          c->exif = NULL;
        }
      }
      c->skip -= k, p += k, n -= k;
      continue;
    }
    size_t k = 8 - (size_t)c->nhead < n ? 8 - (size_t)c->nhead : n;
    memcpy(c->head + c->nhead, p, k);
    c->nhead += (int)k, p += k, n -= k;
    if (c->nhead < 8) continue;
    c->nhead = 0;
    const uint32_t len = (uint32_t)c->head[0] << 24 | (uint32_t)c->head[1] << 16 |
                         (uint32_t)c->head[2] << 8 | c->head[3];
    c->skip = (uint64_t)len + 4;
    if (!c->exif_done && memcmp(c->head + 4, "eXIf", 4) == 0) {
      c->exif_done = 1;
      if (len <= EXIF_MAX && (c->exif = malloc(len ? len : 1))) {
        c->exif_len = len, c->exif_got = 0;
        if (len == 0) {
          free(c->exif);
          c->exif = NULL;
        }
      }
    }
  }
}

static void ctx_init(png_ctx *c, pj_source *src) {
  *c = (png_ctx){.src = src, .skip = 8}; /* the signature first */
}

static void on_error(png_structp png, png_const_charp msg) {
  png_ctx *ctx = png_get_error_ptr(png);
  snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
  png_longjmp(png, 1);
}

/* Warnings describe recoverable oddities (e.g. a bad ancillary value);
 * the library never prints, so they are dropped. */
static void on_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

static void read_mem(png_structp png, png_bytep out, size_t n) {
  png_ctx *ctx = png_get_io_ptr(png);
  pj_source *s = ctx->src;
  if (s->size - s->pos < n) png_error(png, "truncated file");
  memcpy(out, s->data + s->pos, n);
  s->pos += n;
  track(ctx, out, n);
}

static void read_file(png_structp png, png_bytep out, size_t n) {
  png_ctx *ctx = png_get_io_ptr(png);
  if (fread(out, 1, n, ctx->src->fp) != n)
    png_error(png, ferror(ctx->src->fp) ? "read error" : "truncated file");
  track(ctx, out, n);
}

/* Ancillary chunks libpng knows but lets pass unread.  tRNS is kept: it
 * becomes the alpha channel.  eXIf is read by track().  Gamma, colour
 * profiles and text are not applied (the decode is libpng's plain 8-bit
 * expansion). */
static const png_byte ignored_chunks[] =
    "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0pHYs\0sBIT\0"
    "sCAL\0sPLT\0sRGB\0sTER\0tEXt\0tIME\0zTXt\0";

/* The reader's settings for both the decode and the header probe: reads
 * through ctx, CRC errors fatal, ancillary chunks skipped, chunk sizes
 * and dimensions bounded by opts and pixjit's own checks. */
static void configure(png_structp png, png_ctx *ctx, const pj_decode_opts *opts) {
  png_set_read_fn(png, ctx, ctx->src->fp ? read_file : read_mem);
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
#ifdef PNG_IGNORE_ADLER32
  /* Every IDAT chunk's CRC-32 already covers the compressed bytes the
   * zlib Adler-32 would check again (about 6% of a decode). */
  png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, ignored_chunks,
                              (int)(sizeof ignored_chunks / 5));
  png_set_chunk_malloc_max(png, (png_alloc_size_t)opts->max_chunk_bytes);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
}

pj_image *pj_png_read(pj_source *src, const pj_decode_opts *opts, int *orientation) {
  png_ctx ctx;
  ctx_init(&ctx, src);
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx,
                                           on_error, on_warning);
  if (!png) return pj_fail_null(PJ_ENOMEM, "%s: out of memory", src->name);
  png_infop info = png_create_info_struct(png);
  /* volatile: modified after setjmp and read after a longjmp. */
  pj_image *volatile img = NULL;
  png_bytep *volatile rows = NULL;
  int volatile code = PJ_ECORRUPT;
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return pj_fail_null(PJ_ENOMEM, "%s: out of memory", src->name);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    free(ctx.exif);
    pj_image_release(img);
    if (code == PJ_ECORRUPT)
      pj_fail(code, "%s: invalid PNG: %s", src->name, ctx.msg);
    return NULL; /* message already recorded */
  }

  configure(png, &ctx, opts);

  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info);
  png_uint_32 h = png_get_image_height(png, info);
  int depth = png_get_bit_depth(png, info);
  int32_t stride;
  if (pj_check_dims(w, h, 1, opts->max_pixels, NULL)) {
    code = pj_fail_prefix(src->name);
    png_longjmp(png, 1);
  }
  /* Palette to RGB, low-bit gray to 8 bits, tRNS to alpha; 16-bit samples
   * to their high byte, as cv2.imread gives them; Adam7 passes merged. */
  png_set_expand(png);
  if (depth == 16) png_set_strip_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  int c = png_get_channels(png, info);
  if (pj_check_dims(w, h, c, opts->max_pixels, &stride)) {
    code = pj_fail_prefix(src->name);
    png_longjmp(png, 1);
  }
  if (png_get_rowbytes(png, info) != (size_t)stride)
    png_error(png, "unexpected row size");
  img = pj_image_alloc((int32_t)w, (int32_t)h, c);
  rows = img ? malloc(sizeof(png_bytep) * h) : NULL;
  if (!rows) {
    code = PJ_ENOMEM;
    pj_fail(code, "%s: out of memory for a %ux%u image", src->name, w, h);
    png_longjmp(png, 1);
  }
  for (png_uint_32 y = 0; y < h; y++) rows[y] = img->data + (size_t)y * stride;
  png_read_image(png, rows);
  png_read_end(png, info);
  *orientation = ctx.orientation;
  png_destroy_read_struct(&png, &info, NULL);
  free(rows);
  free(ctx.exif);
  return img;
}

int pj_png_info(pj_source *src, const pj_decode_opts *opts, pj_image_info *out) {
  png_ctx ctx;
  ctx_init(&ctx, src);
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
  if (!png) return pj_fail(PJ_ENOMEM, "%s: out of memory", src->name);
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return pj_fail(PJ_ENOMEM, "%s: out of memory", src->name);
  }
  int volatile code = PJ_ECORRUPT;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    free(ctx.exif);
    if (code == PJ_ECORRUPT) return pj_fail(code, "%s: invalid PNG: %s", src->name, ctx.msg);
    return code;
  }
  configure(png, &ctx, opts);
  /* Everything before the first IDAT: IHDR, PLTE, tRNS, an early eXIf. */
  png_read_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  png_set_expand(png);
  if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);
  png_read_update_info(png, info);
  const int c = png_get_channels(png, info);
  if (pj_check_dims(w, h, c, opts->max_pixels, NULL)) {
    code = pj_fail_prefix(src->name);
    png_longjmp(png, 1);
  }
  *out = (pj_image_info){.format = PJ_FMT_PNG, .width = (int32_t)w, .height = (int32_t)h,
                         .channels = c, .pages = 1, .orientation = ctx.orientation};
  png_destroy_read_struct(&png, &info, NULL);
  free(ctx.exif);
  return PJ_OK;
}
