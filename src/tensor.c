/*
 * tensor.c - float32 tensors and pj_pack, the one-pass batch of model
 * inputs: resize, channel conversion, normalisation and padding fused per
 * image, images spread over threads.
 */
#include "internal.h"

#include <math.h>
#include <omp.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

/* Copies a finished tensor row out.  The batch is written once and not
 * read back soon, so the bulk goes out with non-temporal stores, which
 * skip reading the destination lines into the cache first: that is most
 * of the cost of a batch that is mostly padding. */
static void stream_row(float *d, const float *s, int32_t n) {
  int32_t i = 0;
#ifdef __SSE2__
  while (i < n && ((uintptr_t)(d + i) & 15)) d[i] = s[i], i++;
  for (; i + 4 <= n; i += 4) _mm_stream_ps(d + i, _mm_loadu_ps(s + i));
#endif
  for (; i < n; i++) d[i] = s[i];
}

/* One row of an image in C float rows out[k] from sc-channel bytes s,
 * through the normalisation tables (a constant sc lets each case compile
 * to its own loop). */
static inline void convert_row(const uint8_t *s, int32_t w, int sc, int C, const float (*lut)[256],
                               float *const *out) {
  if (C == 3 && sc >= 3) {
    for (int32_t x = 0; x < w; x++, s += sc) {
      out[0][x] = lut[0][s[0]];
      out[1][x] = lut[1][s[1]];
      out[2][x] = lut[2][s[2]];
    }
  } else if (C == 3) {
    for (int32_t x = 0; x < w; x++, s += sc) {
      out[0][x] = lut[0][s[0]];
      out[1][x] = lut[1][s[0]];
      out[2][x] = lut[2][s[0]];
    }
  } else if (sc >= 3) {
    for (int32_t x = 0; x < w; x++, s += sc)
      out[0][x] = lut[0][pj_gray_of(s[0], s[1], s[2])];
  } else {
    for (int32_t x = 0; x < w; x++, s += sc) out[0][x] = lut[0][s[0]];
  }
}

static void convert_row_any(const uint8_t *s, int32_t w, int sc, int C, const float (*lut)[256],
                            float *const *out) {
  switch (sc) {
  case 1: convert_row(s, w, 1, C, lut, out); break;
  case 2: convert_row(s, w, 2, C, lut, out); break;
  case 3: convert_row(s, w, 3, C, lut, out); break;
  default: convert_row(s, w, 4, C, lut, out); break;
  }
}

/* A tensor over a new buffer, zeroed or not (pack writes every element). */
static pj_tensor *tensor_alloc(int32_t ndim, const int64_t *shape, bool zero) {
  if (ndim < 1 || ndim > 4 || !shape)
    return pj_fail_null(PJ_EARG, "a tensor has 1 to 4 dimensions, got %d", ndim);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return pj_fail_null(PJ_EARG, "shape[%d] must be >= 0, got %lld", i + 1, (long long)shape[i]);
    if (shape[i] && n > INT64_MAX / 4 / shape[i])
      return pj_fail_null(PJ_ELIMIT, "too many elements");
    n *= shape[i];
  }
  if ((uint64_t)n > SIZE_MAX / 4) return pj_fail_null(PJ_ELIMIT, "too many elements");
  pj_buffer *b = pj_buffer_new((size_t)n * 4, zero);
  pj_tensor *t = b ? calloc(1, sizeof *t) : NULL;
  if (!t) {
    if (b) pj_buffer_release(b);
    return pj_fail_null(PJ_ENOMEM, "out of memory for %lld floats", (long long)n);
  }
  t->data = pj_buffer_data(b);
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->dims[i] = shape[i];
  t->buf = b;
  return t;
}

pj_tensor *pj_tensor_new(int32_t ndim, const int64_t *shape) {
  return tensor_alloc(ndim, shape, true);
}

void pj_tensor_release(pj_tensor *t) {
  if (!t) return;
  pj_buffer_release(t->buf);
  free(t);
}

/* Width of image img at the batch height, by the documented rule. */
static int32_t out_width(const pj_image *img, const pj_pack_opts *o) {
  double w = floor((double)img->width * o->height / img->height + 0.5);
  if (w < 1) w = 1;
  if (o->max_width > 0 && w > o->max_width) w = o->max_width;
  return w > INT32_MAX ? INT32_MAX : (int32_t)w;
}

/* The pack options with defaults filled in, checked. */
static int pack_opts(const pj_pack_opts *opts, pj_pack_opts *o) {
  *o = opts ? *opts : (pj_pack_opts){0};
  if (o->height == 0) o->height = 32;
  if (o->channels == 0) o->channels = 3;
  if (o->max_batch_mb == 0) o->max_batch_mb = PJ_DEFAULT_MAX_BATCH_MB;
  if (o->std[0] == 0 && o->std[1] == 0 && o->std[2] == 0) o->std[0] = o->std[1] = o->std[2] = 1;
  if (o->height < 1 || o->height > 65535)
    return pj_fail(PJ_EARG, "height must be 1 to 65535, got %d", o->height);
  if (o->channels != 1 && o->channels != 3)
    return pj_fail(PJ_EARG, "channels must be 1 or 3, got %d", o->channels);
  if (o->max_width < 0) return pj_fail(PJ_EARG, "max_width must be >= 0, got %d", o->max_width);
  if (o->width < 0) return pj_fail(PJ_EARG, "width must be >= 0, got %d", o->width);
  if (o->max_batch_mb < 0)
    return pj_fail(PJ_EARG, "max_batch_mb must be >= 1, got %d", o->max_batch_mb);
  if (o->interpolation != PJ_INTER_LINEAR && o->interpolation != PJ_INTER_AREA &&
      o->interpolation != PJ_INTER_NEAREST)
    return pj_fail(PJ_EARG, "unknown interpolation %d", o->interpolation);
  for (int k = 0; k < o->channels; k++) {
    if (!isfinite(o->mean[k]))
      return pj_fail(PJ_EARG, "mean[%d] must be a finite number, got %g", k + 1, pj_shown(o->mean[k]));
    if (!isfinite(o->std[k]) || o->std[k] == 0)
      return pj_fail(PJ_EARG, "std[%d] must be finite and nonzero", k + 1);
  }
  if (!isfinite(o->pad_value))
    return pj_fail(PJ_EARG, "pad_value must be a finite number, got %g", pj_shown(o->pad_value));
  return PJ_OK;
}

/* Each image's width in widths[], and the tensor's width. */
static int pack_widths(const pj_image *const *imgs, int32_t n, const pj_pack_opts *o,
                       int32_t *widths, int32_t *W) {
  int32_t maxw = 0;
  for (int32_t i = 0; i < n; i++) {
    if (!imgs[i] || !imgs[i]->data) return pj_fail(PJ_EARG, "image %d is freed or NULL", i + 1);
    widths[i] = out_width(imgs[i], o);
    if (widths[i] > maxw) maxw = widths[i];
  }
  *W = o->width > 0 ? o->width : maxw ? maxw : 1;
  for (int32_t i = 0; i < n; i++)
    if (widths[i] > *W) widths[i] = *W;
  return PJ_OK;
}

/* Writes image i of the batch into t through one thread's scratch: its C
 * rows of W floats hold the pad value right of `*dirty`.  False when out
 * of memory. */
static bool pack_one(const pj_image *src, int32_t wi, const pj_pack_opts *o,
                     const float (*lut)[256], float *row0, float *const *rows, int32_t *dirty,
                     pj_scratch *pix, int32_t W) {
  const int C = o->channels, H = o->height, sc = src->channels;
  const size_t plane = (size_t)H * W;
  pj_image tmp = *src;
  if (wi != src->width || H != src->height) {
    tmp = (pj_image){.width = wi, .height = H, .channels = sc, .stride = wi * sc};
    tmp.data = pj_scratch_get(pix, (size_t)tmp.stride * H);
    if (!tmp.data || pj_resize_serial(src, &tmp, o->interpolation)) return false;
  }
  if (*dirty > wi)
    for (int k = 0; k < C; k++)
      for (int32_t x = wi; x < *dirty; x++) rows[k][x] = o->pad_value;
  *dirty = wi;
  for (int32_t y = 0; y < H; y++) {
    convert_row_any(tmp.data + (size_t)y * tmp.stride, wi, sc, C, lut, rows);
    for (int k = 0; k < C; k++) stream_row(row0 + k * plane + (size_t)y * W, rows[k], W);
  }
  return true;
}

/* pj_pack; *pixels receives the output pixels written (for the stats). */
static int pack(const pj_image *const *imgs, int32_t n, const pj_pack_opts *opts,
                pj_tensor **out, int32_t *widths, int64_t *pixels) {
  pj_pack_opts o;
  if (!out || (n > 0 && (!imgs || !widths))) return pj_fail(PJ_EARG, "NULL argument");
  if (n < 0) return pj_fail(PJ_EARG, "negative image count");
  int32_t W;
  if (pack_opts(opts, &o) || pack_widths(imgs, n, &o, widths, &W)) return pj_errcode();
  const int C = o.channels, H = o.height;
  if (4.0 * n * C * H * (double)W > (double)o.max_batch_mb * (1 << 20))
    return pj_fail(PJ_ELIMIT, "the %d x %d x %d x %d batch exceeds max_batch_mb (%d)",
                   n, C, H, W, o.max_batch_mb);
  int64_t shape[4] = {n, C, H, W};
  pj_tensor *t = tensor_alloc(4, shape, false);
  if (!t) return pj_errcode();
  /* (v / 255 - mean) / std for every byte value, in float32 as a NumPy
   * pipeline computes it. */
  float lut[3][256];
  for (int k = 0; k < C; k++)
    for (int v = 0; v < 256; v++) lut[k][v] = ((float)v / 255.0f - o.mean[k]) / o.std[k];
  int failed = 0;
#pragma omp parallel num_threads(pj_threads_get()) if (n > 1) reduction(| : failed)
  {
    /* Per thread: the resized image and C rows of W floats, built in
     * cache and streamed out. */
    pj_scratch pix = {0};
    float *mem = NULL, *rows[3] = {0};
    int32_t dirty = W;
    if (posix_memalign((void **)&mem, 64, sizeof(float) * C * (size_t)W)) mem = NULL, failed = 1;
    for (int k = 0; mem && k < C; k++) rows[k] = mem + (size_t)k * W;
#pragma omp for schedule(dynamic, 4)
    for (int32_t i = 0; i < n; i++)
      if (mem && !pack_one(imgs[i], widths[i], &o, (const float(*)[256])lut,
                           t->data + (size_t)i * C * H * W, rows, &dirty, &pix, W))
        failed = 1;
    free(mem);
    pj_scratch_free(&pix);
#ifdef __SSE2__
    _mm_sfence(); /* order the streamed rows before the tensor is used */
#endif
  }
  if (failed) {
    pj_tensor_release(t);
    return pj_fail(PJ_ENOMEM, "out of memory");
  }
  *out = t;
  *pixels = 0;
  for (int32_t i = 0; i < n; i++) *pixels += (int64_t)widths[i] * H;
  return PJ_OK;
}

int pj_pack(const pj_image *const *imgs, int32_t n, const pj_pack_opts *opts, pj_tensor **out,
            int32_t *widths) {
  int64_t t0 = pj_clock_ns(), px = 0;
  int rc = pack(imgs, n, opts, out, widths, &px);
  pj_stats_add(PJ_KERNEL_PACK, t0, px);
  return rc;
}
