/*
 * codec.c - format detection and the file/memory front ends of the codecs.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int pj_detect_format(const void *data, size_t size) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const uint8_t *p = data;
  if (!p) return PJ_FMT_UNKNOWN;
  if (size >= 8 && memcmp(p, png_sig, 8) == 0) return PJ_FMT_PNG;
  if (size >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return PJ_FMT_JPEG;
  /* Classic TIFF (42) and BigTIFF (43), either byte order. */
  if (size >= 4 && ((p[0] == 'I' && p[1] == 'I' && (p[2] == 42 || p[2] == 43) && p[3] == 0) ||
                    (p[0] == 'M' && p[1] == 'M' && p[2] == 0 && (p[3] == 42 || p[3] == 43))))
    return PJ_FMT_TIFF;
  if (size >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) return PJ_FMT_WEBP;
  return PJ_FMT_UNKNOWN;
}

#define HEAD_BYTES 16 /* what pj_detect_format needs to see */

/* The decoding options with defaults filled in, checked before any file
 * is touched. */
static int decode_opts(const pj_decode_opts *opts, pj_decode_opts *o) {
  *o = opts ? *opts : (pj_decode_opts){0};
  if (o->max_pixels == 0) o->max_pixels = PJ_DEFAULT_MAX_PIXELS;
  if (o->max_scans == 0) o->max_scans = PJ_DEFAULT_MAX_SCANS;
  if (o->max_chunk_bytes == 0) o->max_chunk_bytes = PJ_DEFAULT_MAX_CHUNK_BYTES;
  if (o->channels < 0 || o->channels > 4)
    return pj_fail(PJ_EARG, "channels must be 0 to 4, got %d", o->channels);
  if (o->max_pixels < 0 || o->max_scans < 0 || o->max_chunk_bytes < 0)
    return pj_fail(PJ_EARG, "limits must be positive");
  if (o->shrink == 0) o->shrink = 1;
  if (o->shrink != 1 && o->shrink != 2 && o->shrink != 4 && o->shrink != 8)
    return pj_fail(PJ_EARG, "shrink must be 1, 2, 4 or 8, got %d", o->shrink);
  if (o->page < 0) return pj_fail(PJ_EARG, "page must be >= 1, got %d", o->page);
  return PJ_OK;
}

static const char *const NOT_AN_IMAGE = "not a PNG, JPEG, TIFF or WebP file";

/* Rewinds a source for a second decoder. */
static int rewind_source(pj_source *src) {
  if (src->fp && fseek(src->fp, 0, SEEK_SET) != 0)
    return pj_fail_errno(PJ_EIO, errno, "%s: %s", src->name, strerror(errno));
  src->pos = 0;
  return PJ_OK;
}

/* Pages are a TIFF matter: asking another format for a later one fails. */
static int single_page(const pj_decode_opts *o, const char *name) {
  if (o->page > 1) return pj_fail(PJ_EARG, "%s: page %d: the file has 1", name, o->page);
  return PJ_OK;
}

/* img reduced to ceil(w / k) x ceil(h / k) by area averaging, for the
 * formats that cannot decode at a reduced size themselves.  Takes img. */
static pj_image *shrink_image(pj_image *img, int k) {
  if (!img || k <= 1) return img;
  pj_image *small = pj_image_resize(img, (img->width + k - 1) / k, (img->height + k - 1) / k,
                                    PJ_INTER_AREA);
  pj_image_release(img);
  return small;
}

/* Detects the format from the first bytes, decodes, turns upright,
 * converts channels. */
static pj_image *decode(pj_source *src, const uint8_t *head, size_t nhead,
                        const pj_decode_opts *o) {
  pj_image *img = NULL;
  bool declined;
  int orientation = 0;
  const int format = pj_detect_format(head, nhead);
  if (format != PJ_FMT_TIFF && format != PJ_FMT_UNKNOWN && single_page(o, src->name)) return NULL;
  switch (format) {
  case PJ_FMT_PNG:
    img = pj_png_read_fast(src, o, &declined, &orientation);
    if (declined) {
      /* Not a layout the fast decoder takes, or something is wrong with
       * the file: libpng reads it from the start. */
      if (rewind_source(src)) return NULL;
      orientation = 0;
      img = pj_png_read(src, o, &orientation);
    }
    img = shrink_image(img, o->shrink);
    break;
  case PJ_FMT_JPEG: img = pj_jpeg_read(src, o, &orientation); break; /* shrinks itself */
  case PJ_FMT_TIFF: img = shrink_image(pj_tiff_read(src, o, &orientation), o->shrink); break;
  case PJ_FMT_WEBP: img = shrink_image(pj_webp_read(src, o, &orientation), o->shrink); break;
  default:
    return pj_fail_null(PJ_EFORMAT, "%s: %s", src->name, NOT_AN_IMAGE);
  }
  if (!o->no_orient) img = pj_orient(img, orientation);
  if (img && o->channels && o->channels != img->channels) {
    pj_image *conv = pj_image_convert(img, o->channels);
    pj_image_release(img);
    img = conv;
  }
  return img;
}

/* pj_info's work once the source is open. */
static int info_of(pj_source *src, const uint8_t *head, size_t nhead, const pj_decode_opts *o,
                   pj_image_info *info) {
  *info = (pj_image_info){0};
  const int format = pj_detect_format(head, nhead);
  if (format != PJ_FMT_TIFF && format != PJ_FMT_UNKNOWN && single_page(o, src->name))
    return pj_errcode();
  int rc;
  switch (format) {
  case PJ_FMT_PNG: rc = pj_png_info(src, o, info); break;
  case PJ_FMT_JPEG: rc = pj_jpeg_info(src, o, info); break;
  case PJ_FMT_TIFF: rc = pj_tiff_info(src, o, info); break;
  case PJ_FMT_WEBP: rc = pj_webp_info(src, o, info); break;
  default: return pj_fail(PJ_EFORMAT, "%s: %s", src->name, NOT_AN_IMAGE);
  }
  if (rc) return rc;
  if (format != PJ_FMT_JPEG && o->shrink > 1) /* JPEG reports its scaled size itself */
    info->width = (info->width + o->shrink - 1) / o->shrink,
    info->height = (info->height + o->shrink - 1) / o->shrink;
  if (info->orientation < 1 || info->orientation > 8) info->orientation = 1;
  if (!o->no_orient && info->orientation >= 5) {
    const int32_t t = info->width;
    info->width = info->height, info->height = t;
  }
  if (o->channels) info->channels = o->channels;
  return PJ_OK;
}

int pj_info_bytes(const void *data, size_t size, const char *name, const pj_decode_opts *opts,
                  pj_image_info *info) {
  name = pj_name(name);
  pj_decode_opts o;
  if (!info) return pj_fail(PJ_EARG, "NULL info");
  if (decode_opts(opts, &o)) return pj_errcode();
  if (!data) return pj_fail(PJ_EARG, "%s: NULL data", name);
  pj_source src = {.data = data, .size = size, .name = name};
  return info_of(&src, data, size, &o, info);
}

/* A pipe, FIFO or terminal cannot be read twice: its bytes are read into
 * memory whole, up to this. */
#define PIPE_MAX_BYTES ((size_t)1 << 31)

/* Reads fp to its end into a new buffer (*out, the caller's to free) that
 * begins with the n bytes of prefix; more than max bytes fail. */
static int read_all(FILE *fp, const char *name, const uint8_t *prefix, size_t n, size_t max,
                    uint8_t **out, size_t *size) {
  size_t cap = (size_t)1 << 20;
  uint8_t *buf = malloc(cap);
  if (!buf) return pj_fail(PJ_ENOMEM, "%s: out of memory", name);
  if (n) memcpy(buf, prefix, n);
  for (;;) {
    n += fread(buf + n, 1, cap - n, fp); /* short only at the end or on an error */
    if (ferror(fp)) {
      const int e = errno;
      free(buf);
      return pj_fail_errno(PJ_EIO, e, "%s: %s", name, strerror(e));
    }
    if (n < cap) break;
    uint8_t *g = cap >= max || cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
    if (!g) {
      free(buf);
      return cap >= max ? pj_fail(PJ_ENOMEM, "%s: more than %zu bytes from a pipe", name, cap)
                        : pj_fail(PJ_ENOMEM, "%s: out of memory", name);
    }
    buf = g, cap *= 2;
  }
  *out = buf, *size = n;
  return PJ_OK;
}

int pj_source_bytes(pj_source *src, const uint8_t **data, size_t *size, uint8_t **owned) {
  *owned = NULL;
  if (!src->fp) {
    *data = src->data, *size = src->size;
    return PJ_OK;
  }
  if (read_all(src->fp, src->name, NULL, 0, SIZE_MAX, owned, size)) return pj_errcode();
  *data = *owned;
  return PJ_OK;
}

/* Opens path as a source: the file itself when it can seek back, its
 * bytes read into *owned (the caller's to free) when it cannot.  head
 * receives the first *n bytes either way. */
static int open_source(const char *path, pj_source *src, uint8_t head[HEAD_BYTES], size_t *n,
                       uint8_t **owned) {
  *owned = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp) return pj_fail_errno(PJ_EIO, errno, "%s: %s", path, strerror(errno));
  *n = fread(head, 1, HEAD_BYTES, fp);
  if (ferror(fp)) {
    int e = errno;
    fclose(fp);
    return pj_fail_errno(PJ_EIO, e, "%s: %s", path, strerror(e));
  }
  if (fseek(fp, 0, SEEK_SET) == 0) {
    *src = (pj_source){.fp = fp, .name = path};
    return PJ_OK;
  }
  size_t size;
  const int rc = read_all(fp, path, head, *n, PIPE_MAX_BYTES, owned, &size);
  fclose(fp);
  if (rc) return rc;
  *src = (pj_source){.data = *owned, .size = size, .name = path};
  return PJ_OK;
}

static void close_source(pj_source *src, uint8_t *owned) {
  if (src->fp) fclose(src->fp);
  free(owned);
}

int pj_info(const char *path, const pj_decode_opts *opts, pj_image_info *info) {
  if (!path) return pj_fail(PJ_EARG, "NULL path");
  if (!info) return pj_fail(PJ_EARG, "NULL info");
  pj_decode_opts o;
  if (decode_opts(opts, &o)) return pj_errcode();
  pj_source src;
  uint8_t head[HEAD_BYTES], *owned;
  size_t n;
  if (open_source(path, &src, head, &n, &owned)) return pj_errcode();
  int rc = info_of(&src, head, n, &o, info);
  close_source(&src, owned);
  return rc;
}

pj_image *pj_decode(const void *data, size_t size, const char *name,
                    const pj_decode_opts *opts) {
  name = pj_name(name);
  pj_decode_opts o;
  if (decode_opts(opts, &o)) return NULL;
  if (!data) return pj_fail_null(PJ_EARG, "%s: NULL data", name);
  int64_t t0 = pj_clock_ns();
  pj_source src = {.data = data, .size = size, .name = name};
  pj_image *img = decode(&src, data, size, &o);
  pj_stats_add(PJ_KERNEL_DECODE, t0, pj_pixels_of(img));
  return img;
}

pj_image *pj_load(const char *path, const pj_decode_opts *opts) {
  if (!path) return pj_fail_null(PJ_EARG, "NULL path");
  pj_decode_opts o;
  if (decode_opts(opts, &o)) return NULL;
  pj_source src;
  uint8_t head[HEAD_BYTES], *owned;
  size_t n;
  if (open_source(path, &src, head, &n, &owned)) return NULL;
  int64_t t0 = pj_clock_ns();
  pj_image *img = decode(&src, head, n, &o);
  close_source(&src, owned);
  pj_stats_add(PJ_KERNEL_DECODE, t0, pj_pixels_of(img));
  return img;
}

/* ---- Encoding ----------------------------------------------------------- */

bool pj_bytes_append(pj_bytes *b, const void *p, size_t n) {
  if (b->failed) return false;
  if (b->cap - b->size < n) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap - b->size < n) {
      if (cap > SIZE_MAX / 2) return !(b->failed = true);
      cap *= 2;
    }
    uint8_t *d = realloc(b->data, cap);
    if (!d) return !(b->failed = true);
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->size, p, n);
  b->size += n;
  return true;
}

void pj_free(void *p) { free(p); }

static int encode(const pj_image *img, const pj_encode_opts *opts, uint8_t **out,
                  size_t *size);

int pj_encode(const pj_image *img, const pj_encode_opts *opts, uint8_t **out,
              size_t *size) {
  int64_t t0 = pj_clock_ns();
  int rc = encode(img, opts, out, size);
  pj_stats_add(PJ_KERNEL_ENCODE, t0, rc ? 0 : pj_pixels_of(img));
  return rc;
}

static int encode(const pj_image *img, const pj_encode_opts *opts, uint8_t **out,
                  size_t *size) {
  if (!img || !img->data) return pj_fail(PJ_EARG, "image is freed or NULL");
  if (!out || !size) return pj_fail(PJ_EARG, "NULL output");
  pj_encode_opts o = opts ? *opts : (pj_encode_opts){0};
  if (o.format == PJ_FMT_PNG) {
    /* Level 1 by default, as cv2.imwrite: fast, and flat images still
     * compress well. */
    int level = o.compression == 0 ? 1 : o.compression == PJ_COMPRESSION_NONE ? 0 : o.compression;
    if (o.compression < PJ_COMPRESSION_NONE || o.compression > 9)
      return pj_fail(PJ_EARG, "compression must be 0 to 9, got %d", o.compression);
    return pj_png_write(img, level, out, size);
  }
  if (o.format == PJ_FMT_TIFF) {
    if (o.compression < PJ_COMPRESSION_NONE || o.compression > 9)
      return pj_fail(PJ_EARG, "compression must be 0 to 9, got %d", o.compression);
    return pj_tiff_write(img, o.compression == 0 ? 6 : o.compression == PJ_COMPRESSION_NONE ? 0
                                                                                         : o.compression,
                         out, size);
  }
  if (o.format != PJ_FMT_JPEG && o.format != PJ_FMT_WEBP)
    return pj_fail(PJ_EARG, "unknown format %d", o.format);
  if (o.quality == 0) o.quality = 90;
  if (o.quality < 1 || o.quality > 100)
    return pj_fail(PJ_EARG, "quality must be 1 to 100, got %d", o.quality);
  if (o.format == PJ_FMT_WEBP) return pj_webp_write(img, o.quality, o.lossless != 0, out, size);
  if (img->channels == 1 || img->channels == 3)
    return pj_jpeg_write(img, o.quality, o.progressive, out, size);
  /* JPEG has no alpha: drop it. */
  pj_image *flat = pj_image_convert(img, img->channels == 2 ? 1 : 3);
  if (!flat) return pj_errcode();
  int rc = pj_jpeg_write(flat, o.quality, o.progressive, out, size);
  pj_image_release(flat);
  return rc;
}
