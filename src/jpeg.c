/*
 * jpeg.c - JPEG decode and encode through libjpeg-turbo.
 *
 * libjpeg's error_exit is replaced by a longjmp that never leaves this
 * file.  Its warnings (corrupt data, premature end of file, extraneous
 * bytes) are errors here: a decode either reproduces the file or fails.
 * The number of progressive scans and the decoder's working memory are
 * bounded so a small hostile file cannot burn minutes or gigabytes.
 */
#include "internal.h"

#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct jpeg_ctx {
  struct jpeg_error_mgr pub;
  struct jpeg_progress_mgr progress;
  jmp_buf jump;
  int code;
  int max_scans;
  unsigned char *outbuf;    /* encoder output, owned by jpeg_mem_dest */
  unsigned long outsize;
  char msg[JMSG_LENGTH_MAX + 64];
} jpeg_ctx;

static void on_error_exit(j_common_ptr cinfo) {
  jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
  cinfo->err->format_message(cinfo, ctx->msg);
  longjmp(ctx->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return; /* trace output */
  int id = cinfo->err->msg_code;
  /* Harmless metadata oddities; everything else signals damaged data. */
  if (id == JWRN_JFIF_MAJOR || id == JWRN_ADOBE_XFORM) return;
  on_error_exit(cinfo);
}

static void on_progress(j_common_ptr cinfo) {
  jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
  j_decompress_ptr d = (j_decompress_ptr)cinfo;
  if (cinfo->is_decompressor && d->input_scan_number > ctx->max_scans) {
    ctx->code = PJ_ELIMIT;
    snprintf(ctx->msg, sizeof ctx->msg,
             "more than %d progressive scans (raise max_scans)", ctx->max_scans);
    longjmp(ctx->jump, 1);
  }
}

/* Adobe writes CMYK inverted (0 = full ink); libjpeg passes it through. */
static void cmyk_row_to_rgb(const uint8_t *s, uint8_t *d, int32_t w,
                            bool inverted) {
  for (int32_t x = 0; x < w; x++, s += 4, d += 3) {
    unsigned c = s[0], m = s[1], y = s[2], k = s[3];
    if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
    d[0] = (uint8_t)((c * k + 127) / 255);
    d[1] = (uint8_t)((m * k + 127) / 255);
    d[2] = (uint8_t)((y * k + 127) / 255);
  }
}

/* After the header: output colour space, DCT scaling, limits.  The
 * output size (output_width x output_height, channels *c) is known when
 * it returns; failures record their message and return the code, and
 * libjpeg's own errors jump out through ctx as everywhere here. */
static int setup(j_decompress_ptr cinfo, const char *name, const pj_decode_opts *opts, int *c,
                 bool *is_cmyk) {
  *is_cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  *c = cinfo->num_components == 1 ? 1 : 3;
  if (cinfo->num_components != 1 && cinfo->num_components != 3 && !*is_cmyk)
    return pj_fail(PJ_EUNSUPPORTED, "%s: JPEG with %d components", name, cinfo->num_components);
  cinfo->out_color_space = *c == 1 ? JCS_GRAYSCALE : *is_cmyk ? JCS_CMYK : JCS_RGB;
  /* shrink: the IDCT at 1/k, as cv2.imread's IMREAD_REDUCED_* modes ask
   * libjpeg for (ceil(w / k) x ceil(h / k)); nothing else changes. */
  if (opts->shrink > 1) cinfo->scale_num = 1, cinfo->scale_denom = (unsigned)opts->shrink;
  jpeg_calc_output_dimensions(cinfo);
  if (pj_check_dims(cinfo->output_width, cinfo->output_height, *c, opts->max_pixels, NULL))
    return pj_fail_prefix(name);
  /* Working memory in proportion to the image: a progressive decode keeps
   * every coefficient (2 bytes a sample, padded to whole blocks). */
  cinfo->mem->max_memory_to_use =
      (long)((((size_t)cinfo->image_width + 16) * ((size_t)cinfo->image_height + 16) *
              cinfo->num_components * 2) * 2 + (64u << 20));
  return PJ_OK;
}

/* The orientation of the first APP1 segment holding EXIF, 0 if none. */
static int exif_orientation(j_decompress_ptr cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0)
      return pj_exif_orientation(m->data, m->data_length);
  return 0;
}

/* Attaches src to cinfo and reads the header, APP1 (EXIF) kept.  A failure
 * jumps to the caller's setjmp. */
static void read_header(j_decompress_ptr cinfo, const pj_source *src) {
  if (src->fp)
    jpeg_stdio_src(cinfo, src->fp);
  else
    jpeg_mem_src(cinfo, src->data, (unsigned long)src->size);
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(cinfo, TRUE);
}

pj_image *pj_jpeg_read(pj_source *src, const pj_decode_opts *opts, int *orientation) {
  struct jpeg_decompress_struct cinfo;
  jpeg_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.code = PJ_ECORRUPT;
  ctx.max_scans = opts->max_scans;
  pj_image *volatile img = NULL;
  uint8_t *volatile cmyk = NULL;

  cinfo.err = jpeg_std_error(&ctx.pub);
  ctx.pub.error_exit = on_error_exit;
  ctx.pub.emit_message = on_message;
  if (setjmp(ctx.jump)) {
    jpeg_destroy_decompress(&cinfo);
    pj_image_release(img);
    free(cmyk);
    if (ctx.code == PJ_ECORRUPT || ctx.code == PJ_ELIMIT)
      pj_fail(ctx.code, "%s: invalid JPEG: %s", src->name, ctx.msg);
    return NULL;
  }
  jpeg_create_decompress(&cinfo);
  ctx.progress.progress_monitor = on_progress;
  cinfo.progress = &ctx.progress;
  read_header(&cinfo, src);
  *orientation = exif_orientation(&cinfo);
  int c;
  bool is_cmyk;
  int rc = setup(&cinfo, src->name, opts, &c, &is_cmyk);
  if (rc) {
    ctx.code = rc; /* the message is recorded already */
    longjmp(ctx.jump, 1);
  }
  jpeg_start_decompress(&cinfo);

  const int32_t w = (int32_t)cinfo.output_width, h = (int32_t)cinfo.output_height;
  img = pj_image_alloc(w, h, c);
  if (is_cmyk && img) cmyk = malloc((size_t)w * 4);
  if (!img || (is_cmyk && !cmyk)) {
    ctx.code = pj_fail(PJ_ENOMEM, "%s: out of memory for a %dx%d image", src->name, w, h);
    longjmp(ctx.jump, 1);
  }
  const bool inverted = cinfo.saw_Adobe_marker;
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t *row = img->data + (size_t)cinfo.output_scanline * img->stride;
    JSAMPROW target = is_cmyk ? cmyk : row;
    jpeg_read_scanlines(&cinfo, &target, 1);
    if (is_cmyk) cmyk_row_to_rgb(cmyk, row, w, inverted);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  free(cmyk);
  return img;
}

int pj_jpeg_info(pj_source *src, const pj_decode_opts *opts, pj_image_info *info) {
  struct jpeg_decompress_struct cinfo;
  jpeg_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.code = PJ_ECORRUPT;
  cinfo.err = jpeg_std_error(&ctx.pub);
  ctx.pub.error_exit = on_error_exit;
  ctx.pub.emit_message = on_message;
  if (setjmp(ctx.jump)) {
    jpeg_destroy_decompress(&cinfo);
    if (ctx.code == PJ_ECORRUPT) return pj_fail(ctx.code, "%s: invalid JPEG: %s", src->name, ctx.msg);
    return ctx.code;
  }
  jpeg_create_decompress(&cinfo);
  read_header(&cinfo, src);
  int c;
  bool is_cmyk;
  int rc = setup(&cinfo, src->name, opts, &c, &is_cmyk);
  if (rc) {
    ctx.code = rc;
    longjmp(ctx.jump, 1);
  }
  *info = (pj_image_info){.format = PJ_FMT_JPEG, .width = (int32_t)cinfo.output_width,
                          .height = (int32_t)cinfo.output_height, .channels = c, .pages = 1,
                          .orientation = exif_orientation(&cinfo)};
  jpeg_destroy_decompress(&cinfo);
  return PJ_OK;
}

int pj_jpeg_write(const pj_image *img, int quality, int progressive,
                  uint8_t **out, size_t *size) {
  struct jpeg_compress_struct cinfo;
  jpeg_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  cinfo.err = jpeg_std_error(&ctx.pub);
  ctx.pub.error_exit = on_error_exit;
  if (setjmp(ctx.jump)) {
    jpeg_destroy_compress(&cinfo);
    free(ctx.outbuf);
    return pj_fail(PJ_EIO, "JPEG encode: %s", ctx.msg);
  }
  jpeg_create_compress(&cinfo);
  /* The destination updates ctx.outbuf whenever it grows the buffer, so
   * the error path can free whatever it holds. */
  jpeg_mem_dest(&cinfo, &ctx.outbuf, &ctx.outsize);
  cinfo.image_width = (JDIMENSION)img->width;
  cinfo.image_height = (JDIMENSION)img->height;
  cinfo.input_components = img->channels;
  cinfo.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = img->data + (size_t)cinfo.next_scanline * img->stride;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  *out = ctx.outbuf;
  *size = ctx.outsize;
  return PJ_OK;
}
