/*
 * tiff.c - TIFF through libtiff: any page of a file, its header alone, and
 * writing one.
 *
 * libtiff reads from the file held in memory (TIFF needs to seek
 * anywhere), with its warnings dropped and its errors turned into
 * pixjit's message, and with its single allocations capped, so a hostile
 * header cannot ask for gigabytes; the pixel limit is checked before any
 * pixel buffer exists.
 *
 * The layouts scanners and cameras write are unpacked here from
 * libtiff's decoded strips or tiles: gray and gray+alpha, RGB and RGBA,
 * palette, at 1, 2, 4, 8 or 16 bits (16 to the high byte; fewer than 8
 * bits stretched to 0-255, so 1-bit pages are 0/255), and JPEG-in-TIFF as
 * RGB.  Anything else (planes stored apart, CMYK, CIELab, YCbCr without
 * JPEG...) goes through libtiff's RGBA reader.  Pixels come as stored;
 * the Orientation tag is applied by the caller like an EXIF one.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/* ---- Memory I/O ------------------------------------------------------------------ */

typedef struct tiff_mem {
  uint8_t *data;   /* whole file (read) or what has been written */
  uint64_t size, cap, pos;
  bool failed;     /* write: out of memory */
  char msg[256];   /* libtiff's first error */
} tiff_mem;

static tmsize_t mem_read(thandle_t h, void *buf, tmsize_t n) {
  tiff_mem *m = (tiff_mem *)h;
  if (n < 0 || m->pos >= m->size) return 0;
  uint64_t k = m->size - m->pos < (uint64_t)n ? m->size - m->pos : (uint64_t)n;
  memcpy(buf, m->data + m->pos, (size_t)k);
  m->pos += k;
  return (tmsize_t)k;
}

static tmsize_t mem_write(thandle_t h, void *buf, tmsize_t n) {
  tiff_mem *m = (tiff_mem *)h;
  if (n < 0 || m->failed) return -1;
  const uint64_t end = m->pos + (uint64_t)n;
  if (end > m->cap) {
    uint64_t cap = m->cap ? m->cap : 65536;
    while (cap < end) cap *= 2;
    uint8_t *d = realloc(m->data, (size_t)cap);
    if (!d) {
      m->failed = true;
      return -1;
    }
    m->data = d;
    m->cap = cap;
  }
  if (m->pos > m->size) memset(m->data + m->size, 0, (size_t)(m->pos - m->size));
  memcpy(m->data + m->pos, buf, (size_t)n);
  m->pos = end;
  if (end > m->size) m->size = end;
  return n;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence) {
  tiff_mem *m = (tiff_mem *)h;
  uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
  m->pos = base + off;
  return m->pos;
}

static int mem_close(thandle_t h) {
  (void)h;
  return 0;
}

static toff_t mem_size(thandle_t h) { return ((tiff_mem *)h)->size; }

static int mem_map(thandle_t h, void **base, toff_t *size) {
  tiff_mem *m = (tiff_mem *)h;
  *base = m->data;
  *size = m->size;
  return 1;
}

static void mem_unmap(thandle_t h, void *base, toff_t size) {
  (void)h, (void)base, (void)size;
}

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif, (void)module;
  tiff_mem *m = user;
  if (!m->msg[0]) vsnprintf(m->msg, sizeof m->msg, fmt, ap);
  return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
  return 1; /* unknown tags and the like: not the reader's business */
}

/* Opens m (mode "r" or "w") with pixjit's handlers and allocation cap. */
static TIFF *open_mem(tiff_mem *m, const char *name, const char *mode, int64_t max_pixels) {
  TIFFOpenOptions *op = TIFFOpenOptionsAlloc();
  if (!op) return NULL;
  TIFFOpenOptionsSetErrorHandlerExtR(op, on_error, m);
  TIFFOpenOptionsSetWarningHandlerExtR(op, on_warning, m);
  /* One strip or tile of the largest allowed image, and then some. */
  int64_t cap = max_pixels * 8 + ((int64_t)64 << 20);
  if (cap > ((int64_t)1 << 31)) cap = (int64_t)1 << 31;
  TIFFOpenOptionsSetMaxSingleMemAlloc(op, (tmsize_t)cap);
  TIFF *tif = TIFFClientOpenExt(name, mode, (thandle_t)m, mem_read, mem_write, mem_seek, mem_close,
                                mem_size, mem_map, mem_unmap, op);
  TIFFOpenOptionsFree(op);
  return tif;
}

/* The whole source in memory (data points into it or into *owned). */
static int slurp(pj_source *src, tiff_mem *m, uint8_t **owned) {
  const uint8_t *data;
  size_t size;
  if (pj_source_bytes(src, &data, &size, owned)) return pj_errcode();
  m->data = (uint8_t *)data, m->size = size; /* read only ("rm") */
  return PJ_OK;
}

/* ---- The page's layout ---------------------------------------------------------- */

typedef struct layout {
  uint32_t w, h;
  uint16_t spp, bps, photo, planar, format, orientation;
  int channels;       /* what the caller gets */
  bool direct;        /* unpacked here (else libtiff's RGBA reader) */
  bool alpha;         /* RGBA reader: an alpha sample is present */
  uint16_t *cmap[3];  /* palette, 16-bit entries */
} layout;

static bool has_alpha(TIFF *tif) {
  uint16_t n = 0, *v = NULL;
  if (!TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &n, &v)) return false;
  for (uint16_t i = 0; i < n; i++)
    if (v[i] == EXTRASAMPLE_ASSOCALPHA || v[i] == EXTRASAMPLE_UNASSALPHA) return true;
  return false;
}

static int read_layout(TIFF *tif, layout *L, const char *name) {
  memset(L, 0, sizeof *L);
  uint16_t compression = COMPRESSION_NONE;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &L->w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &L->h))
    return pj_fail(PJ_ECORRUPT, "%s: invalid TIFF: no image size", name);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &L->spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &L->bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &L->planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &L->format);
  TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &L->orientation);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &L->photo))
    L->photo = L->spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  if (L->photo == PHOTOMETRIC_YCBCR && compression == COMPRESSION_JPEG) {
    /* libtiff's JPEG codec converts to RGB itself. */
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    L->photo = PHOTOMETRIC_RGB;
  }
  const bool bits = L->bps == 1 || L->bps == 2 || L->bps == 4 || L->bps == 8 || L->bps == 16;
  const bool plain = bits && L->format == SAMPLEFORMAT_UINT &&
                     (L->planar == PLANARCONFIG_CONTIG || L->spp == 1);
  bool gray = L->photo == PHOTOMETRIC_MINISBLACK || L->photo == PHOTOMETRIC_MINISWHITE;
  if (plain && gray && (L->spp == 1 || (L->spp == 2 && L->bps >= 8))) {
    L->channels = L->spp, L->direct = true;
  } else if (plain && L->photo == PHOTOMETRIC_RGB && (L->spp == 3 || L->spp == 4) && L->bps >= 8) {
    L->channels = L->spp, L->direct = true;
  } else if (plain && L->photo == PHOTOMETRIC_PALETTE && L->spp == 1 && L->bps <= 8 &&
             TIFFGetField(tif, TIFFTAG_COLORMAP, &L->cmap[0], &L->cmap[1], &L->cmap[2])) {
    L->channels = 3, L->direct = true;
  } else {
    char emsg[1024] = "";
    if (!TIFFRGBAImageOK(tif, emsg))
      return pj_fail(PJ_EUNSUPPORTED, "%s: TIFF layout not supported: %s", name, emsg);
    L->alpha = has_alpha(tif);
    L->channels = L->alpha ? 4 : 3;
  }
  return PJ_OK;
}

/* ---- Decoding --------------------------------------------------------------------- */

/* Sample i (0-based) of a row of bps-bit samples, as a byte. */
static inline unsigned sample(const uint8_t *row, size_t i, int bps) {
  switch (bps) {
  case 8: return row[i];
  case 16: {
    uint16_t v;
    memcpy(&v, row + 2 * i, 2); /* libtiff hands them over in host order */
    return v >> 8;
  }
  default: {
    const size_t bit = i * (size_t)bps;
    const unsigned v = (row[bit / 8] >> (8 - bps - bit % 8)) & ((1u << bps) - 1);
    return v * 255 / ((1u << bps) - 1);
  }
  }
}

static inline unsigned index_of(const uint8_t *row, size_t i, int bps) {
  if (bps == 8) return row[i];
  const size_t bit = i * (size_t)bps;
  return (row[bit / 8] >> (8 - bps - bit % 8)) & ((1u << bps) - 1);
}

/* n pixels of a decoded row (starting at pixel 0 of raw) into out. */
static void unpack_row(const layout *L, const uint8_t *raw, uint8_t *out, uint32_t n) {
  const int bps = L->bps, spp = L->spp, c = L->channels;
  if (L->photo == PHOTOMETRIC_PALETTE) {
    const unsigned top = 1u << bps;
    for (uint32_t x = 0; x < n; x++) {
      const unsigned i = index_of(raw, x, bps) % top;
      for (int k = 0; k < 3; k++) out[3 * x + k] = (uint8_t)(L->cmap[k][i] >> 8);
    }
    return;
  }
  if (bps == 8 && L->photo != PHOTOMETRIC_MINISWHITE) {
    memcpy(out, raw, (size_t)n * c);
    return;
  }
  const bool invert = L->photo == PHOTOMETRIC_MINISWHITE;
  for (uint32_t x = 0; x < n; x++)
    for (int k = 0; k < c; k++) {
      unsigned v = sample(raw, (size_t)x * spp + k, bps);
      out[(size_t)x * c + k] = (uint8_t)(invert && k == 0 ? 255 - v : v);
    }
}

static int read_strips(TIFF *tif, const layout *L, pj_image *img, const char *name) {
  const tmsize_t ssize = TIFFStripSize(tif), line = TIFFScanlineSize(tif);
  uint32_t rps = L->h;
  TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
  if (rps == 0 || rps > L->h) rps = L->h;
  if (ssize <= 0 || line <= 0) return pj_fail(PJ_ECORRUPT, "%s: invalid TIFF strips", name);
  uint8_t *buf = malloc((size_t)ssize);
  if (!buf) return pj_fail(PJ_ENOMEM, "%s: out of memory", name);
  int rc = PJ_OK;
  for (uint32_t y0 = 0; y0 < L->h && !rc; y0 += rps) {
    const tstrip_t s = TIFFComputeStrip(tif, y0, 0);
    const uint32_t rows = L->h - y0 < rps ? L->h - y0 : rps;
    const tmsize_t got = TIFFReadEncodedStrip(tif, s, buf, (tmsize_t)rows * line);
    if (got < (tmsize_t)rows * line) {
      rc = PJ_ECORRUPT;
      break;
    }
    for (uint32_t r = 0; r < rows; r++)
      unpack_row(L, buf + (size_t)r * line, img->data + (size_t)(y0 + r) * img->stride, L->w);
  }
  free(buf);
  return rc;
}

static int read_tiles(TIFF *tif, const layout *L, pj_image *img, const char *name) {
  uint32_t tw = 0, th = 0;
  TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
  TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
  const tmsize_t tsize = TIFFTileSize(tif), tline = TIFFTileRowSize(tif);
  if (tw == 0 || th == 0 || tsize <= 0 || tline <= 0)
    return pj_fail(PJ_ECORRUPT, "%s: invalid TIFF tiles", name);
  uint8_t *buf = malloc((size_t)tsize);
  if (!buf) return pj_fail(PJ_ENOMEM, "%s: out of memory", name);
  int rc = PJ_OK;
  for (uint32_t ty = 0; ty < L->h && !rc; ty += th)
    for (uint32_t tx = 0; tx < L->w && !rc; tx += tw) {
      if (TIFFReadTile(tif, buf, tx, ty, 0, 0) < tsize) {
        rc = PJ_ECORRUPT;
        break;
      }
      const uint32_t rows = L->h - ty < th ? L->h - ty : th, cols = L->w - tx < tw ? L->w - tx : tw;
      for (uint32_t r = 0; r < rows; r++)
        unpack_row(L, buf + (size_t)r * tline,
                   img->data + (size_t)(ty + r) * img->stride + (size_t)tx * L->channels, cols);
    }
  free(buf);
  return rc;
}

/* libtiff's RGBA reader, asked for the stored orientation (so it flips
 * nothing), then RGBA to 3 or 4 channels. */
static int read_rgba(TIFF *tif, const layout *L, pj_image *img, const char *name) {
  char emsg[1024] = "";
  TIFFRGBAImage r;
  if (!TIFFRGBAImageBegin(&r, tif, 1, emsg))
    return pj_fail(PJ_EUNSUPPORTED, "%s: TIFF layout not supported: %s", name, emsg);
  r.req_orientation = r.orientation;
  uint32_t *raster = malloc(sizeof *raster * (size_t)L->w * L->h);
  int rc = PJ_OK;
  if (!raster) rc = pj_fail(PJ_ENOMEM, "%s: out of memory", name);
  else if (!TIFFRGBAImageGet(&r, raster, L->w, L->h)) rc = PJ_ECORRUPT;
  TIFFRGBAImageEnd(&r);
  for (uint32_t y = 0; !rc && y < L->h; y++) {
    uint8_t *d = img->data + (size_t)y * img->stride;
    const uint32_t *s = raster + (size_t)y * L->w;
    for (uint32_t x = 0; x < L->w; x++) {
      d[x * L->channels] = (uint8_t)TIFFGetR(s[x]);
      d[x * L->channels + 1] = (uint8_t)TIFFGetG(s[x]);
      d[x * L->channels + 2] = (uint8_t)TIFFGetB(s[x]);
      if (L->channels == 4) d[x * 4 + 3] = (uint8_t)TIFFGetA(s[x]);
    }
  }
  free(raster);
  return rc;
}

/* Selects page (1-based) of an open file. */
static int go_to_page(TIFF *tif, int32_t page, const char *name) {
  if (page <= 1) return PJ_OK;
  if (!TIFFSetDirectory(tif, (tdir_t)(page - 1)))
    return pj_fail(PJ_EARG, "%s: page %d: the file has %d", name, page,
                   (int)TIFFNumberOfDirectories(tif));
  return PJ_OK;
}

/* The message for a failure libtiff reported (or the code's own),
 * without the file name libtiff puts in front of some. */
static int tiff_fail(int rc, const tiff_mem *m, const char *name) {
  if (rc == PJ_ECORRUPT || m->msg[0]) {
    const char *msg = m->msg[0] ? m->msg : "truncated or damaged data";
    const size_t n = strlen(name);
    if (strncmp(msg, name, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
    return pj_fail(rc ? rc : PJ_ECORRUPT, "%s: invalid TIFF: %s", name, msg);
  }
  return rc;
}

/* Opens src's page opts->page and reads its layout.  Whatever the result,
 * *tif (NULL when it could not be opened) is the caller's to TIFFClose and
 * *owned its to free; m holds the bytes and libtiff's first error. */
static int open_page(pj_source *src, const pj_decode_opts *opts, tiff_mem *m, uint8_t **owned,
                     TIFF **tif, layout *L) {
  *tif = NULL;
  if (slurp(src, m, owned)) return pj_errcode();
  *tif = open_mem(m, src->name, "rm", opts->max_pixels);
  if (!*tif) return tiff_fail(PJ_ECORRUPT, m, src->name);
  const int rc = go_to_page(*tif, opts->page, src->name);
  return rc ? rc : read_layout(*tif, L, src->name);
}

pj_image *pj_tiff_read(pj_source *src, const pj_decode_opts *opts, int *orientation) {
  tiff_mem m = {0};
  uint8_t *owned = NULL;
  TIFF *tif;
  layout L;
  pj_image *img = NULL;
  int rc = open_page(src, opts, &m, &owned, &tif, &L);
  if (!rc) {
    if (pj_check_dims(L.w, L.h, L.channels, opts->max_pixels, NULL)) {
      rc = pj_fail_prefix(src->name);
    } else if (!(img = pj_image_alloc((int32_t)L.w, (int32_t)L.h, L.channels))) {
      rc = PJ_ENOMEM;
    } else {
      rc = !L.direct ? read_rgba(tif, &L, img, src->name)
           : TIFFIsTiled(tif) ? read_tiles(tif, &L, img, src->name)
                              : read_strips(tif, &L, img, src->name);
      if (rc == PJ_ECORRUPT) tiff_fail(rc, &m, src->name);
    }
    *orientation = L.orientation;
  }
  if (tif) TIFFClose(tif);
  free(owned);
  if (rc) {
    pj_image_release(img);
    return NULL;
  }
  return img;
}

int pj_tiff_info(pj_source *src, const pj_decode_opts *opts, pj_image_info *info) {
  tiff_mem m = {0};
  uint8_t *owned = NULL;
  TIFF *tif;
  layout L;
  int rc = open_page(src, opts, &m, &owned, &tif, &L);
  if (!rc) {
    info->format = PJ_FMT_TIFF;
    info->width = (int32_t)L.w, info->height = (int32_t)L.h;
    info->channels = L.channels;
    info->orientation = L.orientation >= 1 && L.orientation <= 8 ? L.orientation : 1;
    info->pages = (int32_t)TIFFNumberOfDirectories(tif);
    if (pj_check_dims(L.w, L.h, L.channels, opts->max_pixels, NULL)) rc = pj_fail_prefix(src->name);
  }
  if (tif) TIFFClose(tif);
  free(owned);
  return rc;
}

/* ---- Encoding --------------------------------------------------------------------- */

int pj_tiff_write(const pj_image *img, int level, uint8_t **out, size_t *size) {
  tiff_mem m = {0};
  TIFF *tif = open_mem(&m, "TIFF encode", "w", (int64_t)img->width * img->height);
  if (!tif) {
    free(m.data);
    return pj_fail(PJ_ENOMEM, "TIFF encode: %s", m.msg[0] ? m.msg : "out of memory");
  }
  const int c = img->channels;
  const size_t row = (size_t)img->width * c;
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)img->width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)img->height);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)c);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)8);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, c >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
  if (c == 2 || c == 4) {
    uint16_t extra = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
  }
  if (level > 0) {
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_ZIPQUALITY, level);
    TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
  } else {
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
  }
  /* Strips of about 256 KB. */
  uint32_t rps = (uint32_t)((256u << 10) / (row ? row : 1));
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rps ? rps : 1);
  /* libtiff's predictor works in the buffer it is handed: a copy of
   * each row, never the image. */
  uint8_t *line = malloc(row ? row : 1);
  int rc = line ? PJ_OK : PJ_ENOMEM;
  for (int32_t y = 0; y < img->height && !rc; y++) {
    memcpy(line, img->data + (size_t)y * img->stride, row);
    if (TIFFWriteScanline(tif, line, (uint32_t)y, 0) < 0) rc = PJ_EIO;
  }
  free(line);
  if (!rc && !TIFFWriteDirectory(tif)) rc = PJ_EIO;
  TIFFClose(tif);
  if (rc || m.failed) {
    free(m.data);
    return pj_fail(m.failed || rc == PJ_ENOMEM ? PJ_ENOMEM : PJ_EIO, "TIFF encode: %s",
                   m.msg[0] ? m.msg : "out of memory");
  }
  *out = m.data;
  *size = (size_t)m.size;
  return PJ_OK;
}
