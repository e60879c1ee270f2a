/*
 * png_write.c - PNG encoding: each row filtered with the type that
 * predicts it best (png_filter.c), the rows compressed in one call by
 * libdeflate, and the chunks written around them.
 *
 * libdeflate's compressor is allocated once per thread and level and
 * kept: its setup costs more than compressing a word crop.
 */
#include "internal.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- Compressors, one per thread and level ------------------------------------- */

typedef struct compressors {
  struct libdeflate_compressor *c[13];
} compressors;

static _Thread_local compressors *mine;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void compressors_free(void *p) {
  compressors *cs = p;
  for (int i = 0; cs && i < 13; i++) libdeflate_free_compressor(cs->c[i]);
  free(cs);
}

static void key_init(void) { pthread_key_create(&key, compressors_free); }

/* This thread's compressor at libdeflate level `level` (0-12), or NULL
 * when out of memory. */
static struct libdeflate_compressor *compressor(int level) {
  if (!mine) {
    pthread_once(&key_once, key_init);
    if (!(mine = calloc(1, sizeof *mine))) return NULL;
    pthread_setspecific(key, mine);
  }
  if (!mine->c[level]) mine->c[level] = libdeflate_alloc_compressor(level);
  return mine->c[level];
}

/* ---- Writing ---------------------------------------------------------------------- */

static uint8_t *put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
  return p + 4;
}

/* A chunk of type (4 letters) around n bytes already at p + 8; returns
 * the end of the chunk. */
static uint8_t *chunk_at(uint8_t *p, const char *type, size_t n) {
  put32(p, (uint32_t)n);
  memcpy(p + 4, type, 4);
  uint32_t crc = (uint32_t)libdeflate_crc32(0, p + 4, n + 4);
  return put32(p + 8 + n, crc);
}

/* IDATs are cut at this size, which every decoder streams comfortably. */
#define IDAT_MAX (1u << 20)

/* The filtered rows (h rows of 1 + n bytes) of img.  Rows are filtered
 * independently, so large images spread them over threads. */
static uint8_t *filter_rows(const pj_image *img, size_t n, int level) {
  const int32_t h = img->height, bpp = img->channels;
  uint8_t *raw = malloc((size_t)h * (n + 1));
  uint8_t *zero = calloc(n + 16, 1);
  if (!raw || !zero) {
    free(raw), free(zero);
    return NULL;
  }
  /* Stored files keep the bytes as they are; otherwise each row gets the
   * type with the smallest sum of magnitudes, as libpng chooses. */
  const unsigned types = level == 0 ? 1u << PJ_PNG_NONE : 0x1Fu;
  bool failed = false;
#pragma omp parallel num_threads(pj_threads_get()) if ((int64_t)img->width * h > (1 << 20)) \
    reduction(|| : failed)
  {
    uint8_t *scratch = malloc(n + 16);
    failed = !scratch;
#pragma omp for schedule(static)
    for (int32_t y = 0; y < h; y++) {
      if (!scratch) continue;
      const uint8_t *row = img->data + (size_t)y * img->stride;
      uint8_t *dst = raw + (size_t)y * (n + 1);
      dst[0] = (uint8_t)pj_png_filter_best(dst + 1, scratch, row, y ? row - img->stride : zero, n,
                                           bpp, types);
    }
    free(scratch);
  }
  free(zero);
  if (failed) {
    free(raw);
    return NULL;
  }
  return raw;
}

int pj_png_write(const pj_image *img, int level, uint8_t **out, size_t *size) {
  static const uint8_t types[] = {0, 0, 4, 2, 6}; /* PNG colour type by channel count */
  const size_t n = (size_t)img->width * img->channels, rawn = (size_t)img->height * (n + 1);
  struct libdeflate_compressor *c = compressor(level);
  uint8_t *raw = c ? filter_rows(img, n, level) : NULL;
  const size_t bound = c ? libdeflate_zlib_compress_bound(c, rawn) : 0;
  /* Signature, IHDR, the stream with 12 bytes per IDAT, IEND. */
  const size_t cap = 8 + 25 + bound + 12 * (bound / IDAT_MAX + 1) + 12;
  uint8_t *file = raw ? malloc(cap) : NULL;
  if (!file) {
    free(raw);
    return pj_fail(PJ_ENOMEM, "out of memory for a %dx%d PNG", img->width, img->height);
  }
  memcpy(file, "\x89PNG\r\n\x1a\n", 8);
  uint8_t *p = file + 8, *ihdr = p + 8;
  put32(ihdr, (uint32_t)img->width), put32(ihdr + 4, (uint32_t)img->height);
  ihdr[8] = 8, ihdr[9] = types[img->channels], ihdr[10] = ihdr[11] = ihdr[12] = 0;
  p = chunk_at(p, "IHDR", 13);
  /* Compressed after the IHDR, then spread into IDATs from the back so
   * each chunk's header fits in front of its data. */
  const size_t nchunks = bound / IDAT_MAX + 1;
  uint8_t *z = p + 12 * nchunks;
  const size_t zn = libdeflate_zlib_compress(c, raw, rawn, z, bound);
  free(raw);
  if (zn == 0) {
    free(file);
    return pj_fail(PJ_ENOMEM, "compression failed");
  }
  for (size_t at = 0; at < zn || at == 0; at += IDAT_MAX) {
    const size_t len = zn - at < IDAT_MAX ? zn - at : IDAT_MAX;
    memmove(p + 8, z + at, len);
    p = chunk_at(p, "IDAT", len);
    if (len < IDAT_MAX) break;
  }
  p = chunk_at(p, "IEND", 0);
  *out = file;
  *size = (size_t)(p - file);
  return PJ_OK;
}
