/*
 * image.c - images and views over refcounted buffers (buffer.c), scratch
 * memory, size limits.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void *pj_scratch_get(pj_scratch *s, size_t n) {
  if (n <= s->cap) return s->mem;
  size_t cap = n < 4096 ? 4096 : n + n / 2;
  void *p = NULL;
  if (posix_memalign(&p, 64, cap)) return NULL;
  free(s->mem);
  s->mem = p;
  s->cap = cap;
  return p;
}

void pj_scratch_free(pj_scratch *s) {
  free(s->mem);
  s->mem = NULL;
  s->cap = 0;
}

int pj_check_dims(int64_t w, int64_t h, int64_t c, int64_t max_pixels,
                  int32_t *stride) {
  if (max_pixels <= 0) max_pixels = PJ_DEFAULT_MAX_PIXELS;
  if (w < 1) return pj_fail(PJ_EARG, "width must be >= 1, got %lld", (long long)w);
  if (h < 1) return pj_fail(PJ_EARG, "height must be >= 1, got %lld", (long long)h);
  if (c < 1 || c > 4)
    return pj_fail(PJ_EARG, "channels must be 1 to 4, got %lld", (long long)c);
  /* w and h fit in 31 bits here, so w * h cannot overflow int64. */
  if (w > INT32_MAX || h > INT32_MAX || w * h > max_pixels)
    return pj_fail(PJ_ELIMIT,
                   "%lldx%lld image exceeds the pixel limit of %lld "
                   "(raise it with max_pixels)",
                   (long long)w, (long long)h, (long long)max_pixels);
  if (w * c > INT32_MAX || (uint64_t)(w * h) > SIZE_MAX / (uint64_t)c)
    return pj_fail(PJ_ELIMIT, "%lldx%lld image is too large to address",
                   (long long)w, (long long)h);
  if (stride) *stride = (int32_t)(w * c);
  return PJ_OK;
}

/* ---- Image structs ------------------------------------------------------------------ */

/* Released structs wait in a list for the next image, up to SPARE_MAX.
 * A script's collection releases thousands of handles at once, which
 * overflows malloc's per-thread cache, so that every small kernel called
 * after it took malloc's slow path for its result's struct.  Builds with
 * AddressSanitizer keep none, so a use after free is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define SPARE_MAX 0
#else
#define SPARE_MAX 8192
#endif

static struct {
  atomic_flag lock;
  pj_image *top; /* linked through their data field */
  int n;
} spare = {ATOMIC_FLAG_INIT, NULL, 0};

/* A struct to fill in: from the list, else malloc.  NULL when out of memory. */
static pj_image *struct_new(void) {
  pj_image *img = NULL;
  if (SPARE_MAX > 0) {
    pj_spin_lock(&spare.lock);
    img = spare.top;
    if (img) {
      spare.top = (pj_image *)(void *)img->data;
      spare.n--;
      /* The next struct, likely out of cache, is fetched for the next call. */
      if (spare.top) __builtin_prefetch(spare.top, 1, 3);
    }
    pj_spin_unlock(&spare.lock);
  }
  return img ? img : malloc(sizeof *img);
}

/* Frees a struct whose buffer is already let go of. */
static void struct_free(pj_image *img) {
  if (SPARE_MAX > 0) {
    pj_spin_lock(&spare.lock);
    if (spare.n < SPARE_MAX) {
      img->data = (uint8_t *)(void *)spare.top;
      spare.top = img;
      spare.n++;
      img = NULL;
    }
    pj_spin_unlock(&spare.lock);
  }
  free(img);
}

static pj_image *image_over(pj_buffer *b, uint8_t *data, int32_t w,
                            int32_t h, int32_t c, int32_t stride) {
  pj_image *img = struct_new();
  if (!img) return NULL;
  img->data = data;
  img->width = w;
  img->height = h;
  img->channels = c;
  img->stride = stride;
  img->buf = b;
  return img;
}

static pj_image *image_fresh(int32_t w, int32_t h, int32_t c, bool zero) {
  int32_t stride = w * c;
  size_t bytes = (size_t)stride * (size_t)h;
  pj_buffer *b = pj_buffer_new(bytes, zero);
  if (!b)
    return pj_fail_null(PJ_ENOMEM, "out of memory for a %dx%d image (%zu bytes)",
                        w, h, bytes);
  pj_image *img = image_over(b, pj_buffer_data(b), w, h, c, stride);
  if (!img) {
    pj_buffer_release(b);
    return pj_fail_null(PJ_ENOMEM, "out of memory");
  }
  return img;
}

pj_image *pj_image_alloc(int32_t w, int32_t h, int32_t c) {
  return image_fresh(w, h, c, false);
}

pj_image *pj_image_alloc_bytes(size_t bytes) {
  pj_buffer *b = pj_buffer_new(bytes, false);
  if (!b) return pj_fail_null(PJ_ENOMEM, "out of memory (%zu bytes)", bytes);
  pj_image *img = image_over(b, pj_buffer_data(b), 0, 0, 0, 0);
  if (!img) {
    pj_buffer_release(b);
    return pj_fail_null(PJ_ENOMEM, "out of memory");
  }
  return img;
}

pj_image *pj_image_carve(const pj_image *base, size_t off, int32_t w,
                         int32_t h, int32_t c) {
  pj_image *img = image_over(base->buf, (uint8_t *)pj_buffer_data(base->buf) + off, w, h, c, w * c);
  if (!img) return pj_fail_null(PJ_ENOMEM, "out of memory");
  return img;
}

pj_image *pj_image_new(int32_t width, int32_t height, int32_t channels,
                       int64_t max_pixels) {
  if (pj_check_dims(width, height, channels, max_pixels, NULL)) return NULL;
  return image_fresh(width, height, channels, true);
}

static bool live(const pj_image *img) { return img && img->data && img->buf; }

pj_image *pj_image_view(const pj_image *img, int32_t x, int32_t y, int32_t w,
                        int32_t h) {
  if (!live(img)) return pj_fail_null(PJ_EARG, "view of a freed or NULL image");
  /* Each coordinate named as the caller passed it; the bounds of w and h
   * follow from x and y, compared in int64 so x + w cannot overflow. */
  if (x < 0 || x >= img->width)
    return pj_fail_null(PJ_EARG, "x must be 0 to %d, got %d", img->width - 1, x);
  if (y < 0 || y >= img->height)
    return pj_fail_null(PJ_EARG, "y must be 0 to %d, got %d", img->height - 1, y);
  if (w < 1 || (int64_t)x + w > img->width)
    return pj_fail_null(PJ_EARG, "w must be 1 to %d, got %d", img->width - x, w);
  if (h < 1 || (int64_t)y + h > img->height)
    return pj_fail_null(PJ_EARG, "h must be 1 to %d, got %d", img->height - y, h);
  uint8_t *p = img->data + (size_t)y * img->stride + (size_t)x * img->channels;
  pj_image *v = image_over(img->buf, p, w, h, img->channels, img->stride);
  if (!v) return pj_fail_null(PJ_ENOMEM, "out of memory");
  pj_buffer_retain(img->buf, 1);
  return v;
}

typedef struct clone_job {
  const pj_image *src;
  pj_image *dst;
} clone_job;

static void clone_rows(void *arg, int32_t y0, int32_t y1) {
  const clone_job *j = arg;
  const pj_image *s = j->src;
  const size_t row = (size_t)s->width * s->channels;
  uint8_t *d = j->dst->data + (size_t)y0 * j->dst->stride;
  if (pj_packed(s) && pj_packed(j->dst)) { /* one block */
    memcpy(d, s->data + (size_t)y0 * row, row * (size_t)(y1 - y0));
    return;
  }
  for (int32_t y = y0; y < y1; y++, d += j->dst->stride)
    memcpy(d, s->data + (size_t)y * s->stride, row);
}

int pj_copy_pixels(const pj_image *src, pj_image *dst) {
  clone_job j = {src, dst};
  pj_rows(src->height, (size_t)src->width * src->channels * src->height * 2, clone_rows, &j);
  return PJ_OK;
}

pj_image *pj_image_clone(const pj_image *img) {
  if (!live(img)) return pj_fail_null(PJ_EARG, "clone of a freed or NULL image");
  pj_image *out = image_fresh(img->width, img->height, img->channels, false);
  if (!out) return NULL;
  pj_copy_pixels(img, out);
  return out;
}

void pj_image_clear(pj_image *img) {
  if (!img) return;
  pj_buffer_release(img->buf);
  img->buf = NULL;
  img->data = NULL;
  img->width = img->height = img->channels = img->stride = 0;
}

void pj_image_move(pj_image *dst, pj_image *src) {
  *dst = *src;
  struct_free(src);
}

void pj_image_release(pj_image *img) {
  if (!img) return;
  pj_image_clear(img);
  struct_free(img);
}

int pj_image_refs(const pj_image *img) {
  return live(img) ? pj_buffer_refs(img->buf) : 0;
}

static int check_xy(const pj_image *img, int32_t x, int32_t y, const void *px) {
  if (!live(img)) return pj_fail(PJ_EARG, "freed or NULL image");
  if (!px) return pj_fail(PJ_EARG, "NULL pixel pointer");
  if (x < 0 || y < 0 || x >= img->width || y >= img->height)
    return pj_fail(PJ_EARG, "pixel (%d, %d) is outside the %dx%d image", x, y,
                   img->width, img->height);
  return PJ_OK;
}

int pj_image_get(const pj_image *img, int32_t x, int32_t y, uint8_t *px) {
  int rc = check_xy(img, x, y, px);
  if (rc) return rc;
  memcpy(px, img->data + (size_t)y * img->stride + (size_t)x * img->channels,
         (size_t)img->channels);
  return PJ_OK;
}

int pj_image_set(pj_image *img, int32_t x, int32_t y, const uint8_t *px) {
  int rc = check_xy(img, x, y, px);
  if (rc) return rc;
  memcpy(img->data + (size_t)y * img->stride + (size_t)x * img->channels, px,
         (size_t)img->channels);
  return PJ_OK;
}

typedef struct fill_job {
  pj_image *img;
  const uint8_t *row; /* one whole row of the value, or NULL: memset */
  uint8_t byte;
} fill_job;

static void fill_rows(void *arg, int32_t y0, int32_t y1) {
  const fill_job *j = arg;
  const size_t row = (size_t)j->img->width * j->img->channels;
  if (pj_packed(j->img)) {
    /* The band is one run of whole pixels: one memset, or the first row
     * doubled over it, instead of a call a row. */
    uint8_t *d = j->img->data + (size_t)y0 * row;
    const size_t n = row * (size_t)(y1 - y0);
    if (!j->row) {
      memset(d, j->byte, n);
      return;
    }
    if (d != j->row) memcpy(d, j->row, row);
    /* Doubled while the filled part fits the L1; then copied from there
     * (every offset a multiple of it, so of the pixel size too). */
    size_t k = row;
    for (; k < n && k < ((size_t)16 << 10); k *= 2) memcpy(d + k, d, k < n - k ? k : n - k);
    for (size_t o = k; o < n; o += k) memcpy(d + o, d, k < n - o ? k : n - o);
    return;
  }
  for (int32_t y = y0; y < y1; y++) {
    uint8_t *d = j->img->data + (size_t)y * j->img->stride;
    if (j->row) memcpy(d, j->row, row);
    else memset(d, j->byte, row);
  }
}

int pj_image_fill(pj_image *img, const uint8_t *value) {
  if (!live(img)) return pj_fail(PJ_EARG, "fill of a freed or NULL image");
  if (!value) return pj_fail(PJ_EARG, "NULL fill value");
  const int c = img->channels;
  const size_t row = (size_t)img->width * c;
  fill_job j = {.img = img, .byte = value[0]};
  bool same = true;
  for (int k = 1; k < c; k++) same = same && value[k] == value[0];
  if (!same) {
    /* The first row, doubling the filled part; the others copy it. */
    uint8_t *first = img->data;
    memcpy(first, value, (size_t)c);
    for (size_t n = (size_t)c; n < row; n *= 2) memcpy(first + n, first, n < row - n ? n : row - n);
    j.row = first;
  }
  pj_rows(img->height, row * img->height, fill_rows, &j);
  return PJ_OK;
}

int pj_image_copy(pj_image *dst, const pj_image *src) {
  if (!live(dst) || !live(src)) return pj_fail(PJ_EARG, "copy with a freed or NULL image");
  if (dst->width != src->width || dst->height != src->height ||
      dst->channels != src->channels)
    return pj_fail(PJ_EARG, "copy between %dx%dx%d and %dx%dx%d images",
                   src->width, src->height, src->channels, dst->width,
                   dst->height, dst->channels);
  size_t row = (size_t)src->width * src->channels;
  /* Views of one buffer may overlap: copy rows in the order that never
   * overwrites a source row before it is read, each with memmove. */
  bool upward = dst->data > src->data;
  for (int32_t i = 0; i < src->height; i++) {
    int32_t y = upward ? src->height - 1 - i : i;
    memmove(dst->data + (size_t)y * dst->stride,
            src->data + (size_t)y * src->stride, row);
  }
  return PJ_OK;
}
