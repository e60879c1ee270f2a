/*
 * internal.h - helpers shared by the C core; not part of the public API.
 */
#ifndef PJ_INTERNAL_H
#define PJ_INTERNAL_H

#include "pixjit.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

/* Records code and a printf-style message for pj_errmsg(); returns code so
 * callers can write `return pj_fail(PJ_EARG, "...")`. */
int pj_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* pj_fail that also records the OS error number behind the failure, for
 * pj_errno(). */
int pj_fail_errno(int code, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* pj_fail for functions returning a pointer: records and returns NULL. */
void *pj_fail_null(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "prefix: " (e.g. a file name) and
 * returns the current code. */
int pj_fail_prefix(const char *prefix);

/* Per-item reasons behind pj_item_errmsg: a per-item call resets them,
 * then, after its parallel region and on the caller's thread, records one
 * message per failed item in ascending item order. */
void pj_items_reset(void);
void pj_item_fail(int32_t i, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pj_item_fail_errno(int32_t i, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* PJ_FMT_* from a path's extension (PJ_FMT_UNKNOWN when none fits). */
int pj_format_of_path(const char *path);
/* The temporary name beside path that an atomic write uses:
 * ".NAME.pjtmp-HOST-PID-TAG" in path's directory. */
int pj_temp_path(char *out, size_t n, const char *path, const char *tag);
/* Creates the temporary file tmp for writing, exclusively (O_EXCL): a file
 * or link already under that name (a dead process's, or planted) is
 * removed, never written through.  Returns the descriptor or -1 (errno). */
int pj_open_temp(const char *tmp);

/* Checks w x h x c against max_pixels (<= 0: default) and the int32 stride
 * without overflowing; on success stores the tight row size in *stride. */
int pj_check_dims(int64_t w, int64_t h, int64_t c, int64_t max_pixels,
                  int32_t *stride);

/* Image over a new, uninitialised buffer (for decoders that overwrite every
 * byte).  Dimensions must have passed pj_check_dims.  New reference. */
pj_image *pj_image_alloc(int32_t w, int32_t h, int32_t c);

/* Raw buffer API for other refcounted objects (tensors). */
pj_buffer *pj_buffer_new(size_t bytes, bool zero);
void *pj_buffer_data(pj_buffer *b);
void pj_buffer_release(pj_buffer *b);

/* Image over a new buffer of `bytes` bytes, with fields unset; used by
 * batch kernels that carve one buffer into many views. */
pj_image *pj_image_alloc_bytes(size_t bytes);
/* View (x-less) at byte offset `off` of base's buffer with its own size and
 * tight stride.  It takes no reference on the buffer, so threads can carve
 * without contending for the count: while base lives, add the carved
 * views' references at once with pj_buffer_retain, before any of them may
 * be released.  The struct is the caller's (pj_image_release). */
pj_image *pj_image_carve(const pj_image *base, size_t off, int32_t w,
                         int32_t h, int32_t c);
void pj_buffer_retain(pj_buffer *b, int n);
int pj_buffer_refs(const pj_buffer *b);

/* Monotonic clock in nanoseconds, and the kernel counters behind
 * pj_stats_get: one call of kernel k that started at t0 and touched px
 * pixels. */
int64_t pj_clock_ns(void);
void pj_stats_add(int k, int64_t t0, int64_t px);

static inline int64_t pj_pixels_of(const pj_image *img) {
  return img ? (int64_t)img->width * img->height : 0;
}

/* Every pixel buffer has at least PJ_TAIL readable bytes after its last
 * pixel, so a kernel may load a whole 16-byte vector at any pixel of an
 * image (a view included): what it reads past the row is the next row or
 * the tail, and the bytes it keeps are the row's. */
#define PJ_TAIL 16

/* Whether img's rows follow one another without a gap, so that a kernel
 * working pixel by pixel may take all of them as one run. */
static inline bool pj_packed(const pj_image *img) {
  return img->stride == img->width * img->channels;
}

/* A spin lock for the process-wide free lists (buffer.c, image.c): each
 * holds it for a few pointer moves, less than a mutex costs to take. */
static inline void pj_spin_lock(atomic_flag *f) {
  while (atomic_flag_test_and_set_explicit(f, memory_order_acquire)) {
  }
}

static inline void pj_spin_unlock(atomic_flag *f) { atomic_flag_clear_explicit(f, memory_order_release); }

/* Asks for every cache line of a small view's rows at once, before a
 * kernel reads them.  A word box cut from a page is a few short rows a
 * page row apart, each likely a miss that no hardware prefetcher sees
 * coming; asked for together the misses overlap, where the kernel would
 * wait for each row in turn (a third of the word-box chain's resize
 * time).  The hint is the outer-cache one: the L1 has too few miss
 * buffers for a whole box, and asking it for one measured slower.  Packed
 * images and views over PJ_PREFETCH_MAX bytes stream well without it. */
#define PJ_PREFETCH_MAX ((size_t)64 << 10)

/* A prefetch the optimiser keeps: at -O3 GCC drops a loop whose only work
 * is __builtin_prefetch. */
static inline void pj_prefetch_outer(const void *p) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ volatile("prefetcht2 %0" : : "m"(*(const char *)p));
#else
  __builtin_prefetch(p, 0, 1);
  __asm__ volatile("" : : "r"(p));
#endif
}

static inline void pj_prefetch_view(const pj_image *img) {
  const size_t row = (size_t)img->width * img->channels;
  if (pj_packed(img) || row * (size_t)img->height > PJ_PREFETCH_MAX) return;
  for (int32_t y = 0; y < img->height; y++) {
    const uint8_t *p = img->data + (size_t)y * img->stride;
    for (const uint8_t *l = (const uint8_t *)((uintptr_t)p & ~(uintptr_t)63); l < p + row; l += 64)
      pj_prefetch_outer(l);
  }
}

/* v for a message: NaN without its sign, which printf would show as
 * "-nan" for the NaN that 0/0 gives. */
static inline double pj_shown(double v) { return v != v ? __builtin_fabs(v) : v; }

/* Name used in messages for in-memory data. */
static inline const char *pj_name(const char *name) {
  return name && *name ? name : "<memory>";
}

/* Where a decoder reads from: an open stream (fp) positioned at the start
 * of the data, or, when fp is NULL, a memory block. */
typedef struct pj_source {
  FILE *fp;
  const uint8_t *data;
  size_t size;
  size_t pos;
  const char *name;         /* for messages; never NULL */
} pj_source;

/* Codecs; opts is already defaulted (no zero fields but channels).  Each
 * stores the EXIF orientation it found (1-8; 0 for none) in *orientation
 * and returns the pixels as stored. */
/* src's bytes whole: its own memory, or its file read to the end into
 * *owned (the caller frees it; NULL for memory).  Errors name the file. */
int pj_source_bytes(pj_source *src, const uint8_t **data, size_t *size, uint8_t **owned);
pj_image *pj_png_read(pj_source *src, const pj_decode_opts *opts, int *orientation);
/* pixjit's own PNG decoder (png_read.c) for the common layouts.  NULL with
 * *declined set means "not for this decoder": the source must be rewound
 * and given to pj_png_read, whose outcome is the file's.  NULL without it
 * is a failure with its message recorded. */
pj_image *pj_png_read_fast(pj_source *src, const pj_decode_opts *opts, bool *declined,
                           int *orientation);
pj_image *pj_jpeg_read(pj_source *src, const pj_decode_opts *opts, int *orientation);
pj_image *pj_tiff_read(pj_source *src, const pj_decode_opts *opts, int *orientation);
pj_image *pj_webp_read(pj_source *src, const pj_decode_opts *opts, int *orientation);

/* Header probes behind pj_info: format, stored size, channels, pages and
 * orientation (0 when none) into *info. */
int pj_png_info(pj_source *src, const pj_decode_opts *opts, pj_image_info *info);
int pj_jpeg_info(pj_source *src, const pj_decode_opts *opts, pj_image_info *info);
int pj_tiff_info(pj_source *src, const pj_decode_opts *opts, pj_image_info *info);
int pj_webp_info(pj_source *src, const pj_decode_opts *opts, pj_image_info *info);
/* The TIFF (deflate at level 1-9, 0: none) and WebP encoders. */
int pj_tiff_write(const pj_image *img, int level, uint8_t **out, size_t *size);
int pj_webp_write(const pj_image *img, int quality, bool lossless, uint8_t **out, size_t *size);

/* The Orientation (1-8) of an EXIF block (a TIFF structure, with or
 * without JPEG's "Exif\0\0" prefix); 0 when absent or malformed. */
int pj_exif_orientation(const uint8_t *exif, size_t n);
/* img turned upright by an EXIF orientation, as cv2.imread does.  Takes
 * img; returns a new reference (img itself for 0 or 1), or NULL. */
pj_image *pj_orient(pj_image *img, int orientation);
/* Encoders; on success *out is a malloc'd block of *size bytes (caller
 * frees).  img has 1-4 channels for PNG, 1 or 3 for JPEG. */
int pj_png_write(const pj_image *img, int level, uint8_t **out, size_t *size);
int pj_jpeg_write(const pj_image *img, int quality, int progressive,
                  uint8_t **out, size_t *size);

/* PNG filter types, and the row filters of png_filter.c.  Rows are n
 * bytes with bpp bytes a pixel; prev is the row above (zeros above the
 * first).  Unfiltering: out from in, which may be the same row.  Reads
 * may pass a row's end by up to 3 bytes, so buffers keep that slack. */
enum { PJ_PNG_NONE = 0, PJ_PNG_SUB, PJ_PNG_UP, PJ_PNG_AVG, PJ_PNG_PAETH };
void pj_png_unfilter_row(int type, uint8_t *out, const uint8_t *in, const uint8_t *prev,
                         size_t n, int bpp);
/* Every row of an image: raw holds h rows of 1 + n bytes (type byte
 * first); row y goes to out + y * stride (out = raw + 1 and stride =
 * n + 1 unfilter in place).  threads > 1 spreads rows over threads as a
 * wavefront.  False on a type byte over 4 (nothing is written then) or
 * out of memory. */
bool pj_png_unfilter(const uint8_t *raw, size_t n, int32_t h, uint8_t *out, size_t stride,
                     int bpp, int threads);
void pj_png_filter_row(int type, uint8_t *out, const uint8_t *row, const uint8_t *prev, size_t n,
                       int bpp);
/* Filters row with each type in the `types` bit set (1 << PJ_PNG_*) and
 * keeps in out the one with the smallest sum of magnitudes; scratch holds
 * n bytes.  Returns the type chosen. */
int pj_png_filter_best(uint8_t *out, uint8_t *scratch, const uint8_t *row, const uint8_t *prev,
                       size_t n, int bpp, unsigned types);

/* Growable byte buffer used by the encoders. */
typedef struct pj_bytes {
  uint8_t *data;
  size_t size, cap;
  bool failed;
} pj_bytes;
bool pj_bytes_append(pj_bytes *b, const void *p, size_t n);

/* x86-64 kernels have SSSE3, AVX2 (with FMA) and AVX-512VL variants
 * chosen at run time (the build targets baseline x86-64); elsewhere only
 * portable code is built.  The answers honour PIXJIT_CPU_DISABLE (cpu.c). */
#if defined(__x86_64__) && defined(__GNUC__)
#define PJ_X86_SIMD 1
bool pj_cpu_ssse3(void);
bool pj_cpu_avx2(void);
bool pj_cpu_avx512vl(void);
#endif
/* Reads PIXJIT_CPU_DISABLE again at the next question, so that a test can
 * run the SIMD and the portable paths in one process; not while kernels
 * run. */
void pj_cpu_redetect(void);

/* How pj_main_colors walks the image: 0 chooses from a sample of rows
 * (the default), 1 forces runs, 2 single pixels, both in one read where
 * the image allows, 3 runs and 4 single pixels in the passes that read
 * it twice, 5 single pixels in one read with each thread counting its
 * own reds, so that a test can compare them on one image; forced, small
 * images take every thread too.  Not while kernels run. */
void pj_colors_force(int method);
/* Frees the count tables pj_main_colors keeps between calls. */
void pj_colors_drop_tables(void);

/* OpenCV 4's RGB2Gray for 8-bit data: BT.601 weights in 15-bit fixed
 * point, rounded half up.  The weights sum to 1 << 15, so gray input maps
 * to itself exactly. */
static inline uint8_t pj_gray_of(unsigned r, unsigned g, unsigned b) {
  return (uint8_t)((r * 9798u + g * 19235u + b * 3735u + (1u << 14)) >> 15);
}

/* The threads for `work` (bytes) when each must have at least min_work
 * to pay for itself: the thread count, at most work / min_work, at
 * least 1. */
int pj_threads_for(size_t work, size_t min_work);

/* Runs fn(arg, y0, y1) over rows [0, h): split into one band per thread
 * when `work` (the bytes the rows read and write) pays for a parallel
 * region, else in one call on this thread, so a word crop never pays for
 * threads.  fn must not depend on the band boundaries. */
typedef void (*pj_rows_fn)(void *arg, int32_t y0, int32_t y1);
void pj_rows(int32_t h, size_t work, pj_rows_fn fn, void *arg);

/* Scratch memory a kernel keeps across calls (one per thread), grown on
 * demand; its contents do not survive a call that grows it. */
typedef struct pj_scratch {
  void *mem;
  size_t cap;
} pj_scratch;

/* At least n bytes, 64-byte aligned, or NULL when out of memory. */
void *pj_scratch_get(pj_scratch *s, size_t n);
void pj_scratch_free(pj_scratch *s);

/* The index inside [0, n) that position p reads under `border`
 * (PJ_BORDER_REFLECT_101: ...cb|abcd|cb...; _REPLICATE: aa|abcd|dd). */
int32_t pj_border_index(int32_t p, int32_t n, int border);
/* PJ_OK when v is a kernel size 1 to PJ_MAX_KERNEL, else a failure
 * naming the argument. */
int pj_check_kernel(const char *name, int32_t v);

/* Called with each finished output row of a filter, from the thread that
 * made it, so a caller can finish the row while it is in cache. */
typedef void (*pj_row_hook)(void *arg, int32_t y, uint8_t *row);
/* Normalised kw x kh box filter of src into dst (same size), exactly as
 * OpenCV's 8-bit boxFilter with its anchor at the centre. */
int pj_box_filter(const pj_image *src, pj_image *dst, int32_t kw, int32_t kh, int border,
                  pj_row_hook hook, void *hook_arg);
/* The Gaussian size for (k, sigma) as cv2.GaussianBlur derives it (k = 0
 * from sigma), checked; and its k weights in double, OpenCV's. */
int pj_gaussian_size(int32_t k, double sigma, int32_t *size);
void pj_gaussian_kernel(int32_t k, double sigma, double *w);
/* Copies src's pixels into dst of the same size. */
int pj_copy_pixels(const pj_image *src, pj_image *dst);

/* Resizes src into dst (its size is the target) on the calling thread,
 * for kernels that resize many small images in their own threads. */
int pj_resize_serial(const pj_image *src, pj_image *dst, int interp);

#endif
