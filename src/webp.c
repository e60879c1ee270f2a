/*
 * webp.c - WebP through libwebp: decode (lossy, lossless, alpha), header
 * probe, encode.
 *
 * libwebp needs the whole file in memory; its header is read first so the
 * pixel limit holds before any pixel buffer exists, and the decoder
 * writes straight into the image.  The EXIF chunk of an extended file is
 * found through libwebpdemux.  Animations are refused (their first frame
 * alone would silently drop the rest).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>

static const char *status_text(VP8StatusCode s) {
  switch (s) {
  case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
  case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
  case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
  case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
  case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated file";
  default: return "invalid data";
  }
}

/* The orientation in the file's EXIF chunk, 0 if none. */
static int webp_orientation(const uint8_t *data, size_t size) {
  WebPData wd = {data, size};
  WebPDemuxer *dm = WebPDemux(&wd);
  if (!dm) return 0;
  int o = 0;
  WebPChunkIterator it;
  if (WebPDemuxGetChunk(dm, "EXIF", 1, &it)) {
    o = pj_exif_orientation(it.chunk.bytes, it.chunk.size);
    WebPDemuxReleaseChunkIterator(&it);
  }
  WebPDemuxDelete(dm);
  return o;
}

/* Header, checked: features and the channels the decode gives. */
static int header(const uint8_t *data, size_t size, const char *name, const pj_decode_opts *o,
                  WebPBitstreamFeatures *f, int *c) {
  VP8StatusCode s = WebPGetFeatures(data, size, f);
  if (s != VP8_STATUS_OK) return pj_fail(PJ_ECORRUPT, "%s: invalid WebP: %s", name, status_text(s));
  if (f->has_animation) return pj_fail(PJ_EUNSUPPORTED, "%s: animated WebP is not supported", name);
  *c = f->has_alpha ? 4 : 3;
  if (pj_check_dims(f->width, f->height, *c, o->max_pixels, NULL)) return pj_fail_prefix(name);
  return PJ_OK;
}

pj_image *pj_webp_read(pj_source *src, const pj_decode_opts *opts, int *orientation) {
  const uint8_t *data;
  size_t size;
  uint8_t *owned;
  if (pj_source_bytes(src, &data, &size, &owned)) return NULL;
  WebPBitstreamFeatures f;
  int c;
  pj_image *img = NULL;
  if (!header(data, size, src->name, opts, &f, &c)) {
    img = pj_image_alloc(f.width, f.height, c);
    if (img) {
      const size_t n = (size_t)img->stride * img->height;
      uint8_t *ok = c == 4 ? WebPDecodeRGBAInto(data, size, img->data, n, img->stride)
                           : WebPDecodeRGBInto(data, size, img->data, n, img->stride);
      if (!ok) {
        pj_image_release(img);
        img = pj_fail_null(PJ_ECORRUPT, "%s: invalid WebP: damaged or truncated data", src->name);
      } else {
        *orientation = webp_orientation(data, size);
      }
    }
  }
  free(owned);
  return img;
}

int pj_webp_info(pj_source *src, const pj_decode_opts *opts, pj_image_info *info) {
  const uint8_t *data;
  size_t size;
  uint8_t *owned;
  if (pj_source_bytes(src, &data, &size, &owned)) return pj_errcode();
  WebPBitstreamFeatures f;
  int c;
  int rc = header(data, size, src->name, opts, &f, &c);
  if (!rc) {
    info->format = PJ_FMT_WEBP;
    info->width = f.width, info->height = f.height, info->channels = c, info->pages = 1;
    const int o = webp_orientation(data, size);
    info->orientation = o ? o : 1;
  }
  free(owned);
  return rc;
}

int pj_webp_write(const pj_image *img, int quality, bool lossless, uint8_t **out, size_t *size) {
  if (img->width > WEBP_MAX_DIMENSION || img->height > WEBP_MAX_DIMENSION)
    return pj_fail(PJ_EARG, "WebP holds at most %dx%d pixels, got %dx%d", WEBP_MAX_DIMENSION,
                   WEBP_MAX_DIMENSION, img->width, img->height);
  /* WebP stores colour: gray goes in as RGB (and gray+alpha as RGBA). */
  pj_image *tmp = NULL;
  if (img->channels < 3) {
    tmp = pj_image_convert(img, img->channels == 1 ? 3 : 4);
    if (!tmp) return pj_errcode();
    img = tmp;
  }
  /* The advanced API, for lossless to keep the colour under transparent
   * pixels too (exact), as a lossless save should. */
  WebPConfig config;
  WebPPicture pic;
  WebPMemoryWriter wr;
  if (!WebPConfigInit(&config) || !WebPPictureInit(&pic)) {
    pj_image_release(tmp);
    return pj_fail(PJ_ENOMEM, "WebP encode: libwebp version mismatch");
  }
  config.lossless = lossless;
  config.exact = lossless;
  config.quality = lossless ? 75.f : (float)quality;
  pic.use_argb = lossless;
  pic.width = img->width, pic.height = img->height;
  WebPMemoryWriterInit(&wr);
  pic.writer = WebPMemoryWrite;
  pic.custom_ptr = &wr;
  int ok = img->channels == 4 ? WebPPictureImportRGBA(&pic, img->data, img->stride)
                              : WebPPictureImportRGB(&pic, img->data, img->stride);
  ok = ok && WebPEncode(&config, &pic);
  WebPPictureFree(&pic);
  pj_image_release(tmp);
  uint8_t *enc = wr.mem;
  const size_t n = wr.size;
  if (!ok || !n) {
    WebPMemoryWriterClear(&wr);
    return pj_fail(PJ_ENOMEM, "WebP encode failed");
  }
  /* Handed out for pj_free (libc's free), so copied out of libwebp's. */
  *out = malloc(n);
  if (*out) memcpy(*out, enc, n);
  WebPMemoryWriterClear(&wr);
  if (!*out) return pj_fail(PJ_ENOMEM, "out of memory");
  *size = n;
  return PJ_OK;
}
