/*
 * pixjit.h - the public C API of pixjit: refcounted images, PNG/JPEG
 * codecs and image kernels.
 *
 * Conventions used by every declaration below:
 *  - Functions that create an image return a new reference (release it with
 *    pj_image_release) or NULL on failure.  Functions that do not create an
 *    image return PJ_OK (0) or an error code.  On any failure the reason is
 *    left in a per-thread message readable with pj_errmsg(), and the code with
 *    pj_errcode().  The library never exits, aborts or prints.
 *  - Input images are borrowed (const) and never retained past the call,
 *    unless a function says so (views retain the pixel buffer).
 *  - Images are 8-bit, interleaved, 1 to 4 channels (gray, gray+alpha, RGB,
 *    RGBA) in RGB order, rows `stride` bytes apart.  Every kernel honours
 *    stride, so views work wherever images do.
 *  - Functions are thread safe on distinct outputs; an image may be read by
 *    any number of threads at once.  Kernels parallelise internally with
 *    OpenMP using pj_threads_get() threads.
 *
 * The section between PIXJIT_FFI_BEGIN and PIXJIT_FFI_END is written in the
 * C subset that LuaJIT's ffi.cdef parses; lua/pixjit/cdef.lua holds the same
 * declarations and `make test` fails if the two drift apart.
 */
#ifndef PIXJIT_H
#define PIXJIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PJ_VERSION "0.1.0"

/* The library is built with -fvisibility=hidden: only what PJ_API marks is
 * exported, which is exactly the functions declared in this header. */
#if defined(__GNUC__) && !defined(PJ_STATIC)
#define PJ_API __attribute__((visibility("default")))
#else
#define PJ_API
#endif

/* PIXJIT_FFI_BEGIN */

/* ---- Limits -------------------------------------------------------------
 * The defaults every option field falls back to when it is 0.  Every size
 * an input controls has one, and each can be raised per call. */
enum {
  /* Largest image any call allocates (as libpng's and OpenCV's
   * decompression-bomb guards: 2^30 bytes / 6, roughly 13k x 13k). */
  PJ_DEFAULT_MAX_PIXELS = 178956970,
  PJ_DEFAULT_MAX_SCANS = 256,              /* progressive JPEG scans */
  PJ_DEFAULT_MAX_CHUNK_BYTES = 8388608,    /* largest PNG chunk buffered */
  PJ_DEFAULT_MAX_CROP_PIXELS = 16777216,   /* one crop of pj_crop_quads */
  PJ_DEFAULT_MAX_QUADS = 1000000,          /* quads of one pj_crop_quads */
  PJ_DEFAULT_MAX_BATCH_MB = 4096,          /* tensor of one pj_pack */
  PJ_MAX_COLORS = 16777216,                /* entries pj_main_colors returns */
  PJ_MAX_KERNEL = 4095                     /* width or height of a filter kernel */
};

/* ---- Status codes ------------------------------------------------------ */
enum {
  PJ_OK = 0,
  PJ_EARG = 1,          /* invalid argument (NULL, out of range, not finite) */
  PJ_ENOMEM = 2,        /* allocation failed */
  PJ_ELIMIT = 3,        /* a size limit was exceeded; the message names it */
  PJ_EIO = 4,           /* a file could not be opened, read or written */
  PJ_EFORMAT = 5,       /* data is neither PNG nor JPEG */
  PJ_ECORRUPT = 6,      /* malformed, truncated or checksum-failing data */
  PJ_EUNSUPPORTED = 7,  /* valid data this build cannot handle */
  PJ_ESINGULAR = 8,     /* degenerate geometry: collinear or repeated points */
  PJ_EEMPTY = 9         /* a computed output size is zero */
};

enum { PJ_FMT_UNKNOWN = 0, PJ_FMT_PNG = 1, PJ_FMT_JPEG = 2, PJ_FMT_TIFF = 3, PJ_FMT_WEBP = 4 };
enum { PJ_INTER_LINEAR = 0, PJ_INTER_NEAREST = 1, PJ_INTER_AREA = 2 };
/* Border modes, numbered as cv2.BORDER_*: the warps take CONSTANT or
 * REPLICATE; the filters reflect (REFLECT_101) as cv2's default does. */
enum { PJ_BORDER_CONSTANT = 0, PJ_BORDER_REPLICATE = 1, PJ_BORDER_REFLECT_101 = 4 };
/* pj_image_flip: a bit set, so both are PJ_FLIP_BOTH. */
enum { PJ_FLIP_HORIZONTAL = 1, PJ_FLIP_VERTICAL = 2, PJ_FLIP_BOTH = 3 };
/* pj_image_threshold types (cv2.THRESH_*); PJ_THRESH_OTSU is or-ed in. */
enum {
  PJ_THRESH_BINARY = 0, PJ_THRESH_BINARY_INV = 1, PJ_THRESH_TRUNC = 2, PJ_THRESH_TOZERO = 3,
  PJ_THRESH_TOZERO_INV = 4, PJ_THRESH_OTSU = 8
};
/* pj_image_adaptive_threshold methods (cv2.ADAPTIVE_THRESH_*). */
enum { PJ_ADAPTIVE_MEAN = 0, PJ_ADAPTIVE_GAUSSIAN = 1 };

/* ---- Types ------------------------------------------------------------- */

/* Refcounted pixel memory; opaque. */
typedef struct pj_buffer pj_buffer;

/* One image: a rectangle of a buffer.  The struct is owned by whoever got it
 * from a pj_ function; the buffer is shared by every view of it.  Fields are
 * read-only for users. */
typedef struct pj_image {
  uint8_t *data;        /* first byte of the top-left pixel; NULL once freed */
  int32_t width;
  int32_t height;
  int32_t channels;     /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
  int32_t stride;       /* bytes from one row to the next */
  pj_buffer *buf;
} pj_image;

/* Every options struct below means its defaults when zeroed (or NULL):
 * a field that is 0 takes the default its comment names. */

/* Decoding options. */
typedef struct pj_decode_opts {
  int32_t channels;         /* 0: as stored; 1-4: converted to this count */
  int32_t max_scans;        /* JPEG scans allowed; 0: PJ_DEFAULT_MAX_SCANS */
  int64_t max_pixels;       /* 0: PJ_DEFAULT_MAX_PIXELS */
  int64_t max_chunk_bytes;  /* largest PNG chunk buffered; 0: 8 MiB */
  int32_t shrink;           /* 2, 4 or 8: decode at 1/k of the size,
                               ceil(w / k) x ceil(h / k) (JPEG through
                               libjpeg's DCT scaling, as cv2.imread's
                               IMREAD_REDUCED_*; other formats by area
                               averaging after the decode); 0 or 1: full */
  int32_t page;             /* multi-page files (TIFF): 1-based; 0: the first */
  int32_t no_orient;        /* nonzero: the pixels as stored, without turning
                               them upright by their EXIF orientation */
  int32_t reserved;
} pj_decode_opts;

/* What pj_info reads from a file's header. */
typedef struct pj_image_info {
  int32_t format;           /* PJ_FMT_* */
  int32_t width, height;    /* as pj_load returns the image (upright) */
  int32_t channels;         /* as pj_load returns them */
  int32_t pages;            /* 1 but for multi-page TIFF */
  int32_t orientation;      /* the EXIF orientation, 1-8 (1: none) */
} pj_image_info;

/* PNG compression for "no compression" (zlib level 0), since 0 is the
 * default. */
enum { PJ_COMPRESSION_NONE = -1 };

/* Encoding options. */
typedef struct pj_encode_opts {
  int32_t format;           /* PJ_FMT_*; 0: from the extension (pj_save) */
  int32_t compression;      /* PNG and TIFF (deflate) level 1-9; 0: 1 for
                               PNG (cv2.imwrite's), 6 for TIFF;
                               PJ_COMPRESSION_NONE: stored */
  int32_t quality;          /* JPEG and lossy WebP quality 1-100; 0: 90 */
  int32_t progressive;      /* JPEG: nonzero writes a progressive file */
  int32_t direct;           /* pj_save_all: nonzero writes straight to each
                               final name (for files in a directory that is
                               itself renamed into place afterwards) */
  int32_t lossless;         /* WebP: nonzero writes lossless */
} pj_encode_opts;

/* One entry of a colour count: packed 0xRRGGBB and how many pixels have it. */
typedef struct pj_color_count {
  int64_t count;
  uint32_t rgb;
  uint32_t reserved;
} pj_color_count;

/* Main-colour options. */
typedef struct pj_colors_opts {
  int32_t min_alpha;        /* count pixels whose alpha >= this, 1-255;
                               0: 1 (every pixel that is not transparent) */
  int32_t all_pixels;       /* nonzero: alpha is ignored, every pixel counts */
  int32_t bits;             /* keep this many high bits per channel, 1-8;
                               0: 8 */
  int32_t reserved;
  const pj_image *mask;     /* optional 1-channel image of the same size:
                               only pixels where it is nonzero count */
} pj_colors_opts;

/* What pj_main_colors counted. */
typedef struct pj_colors_summary {
  int64_t counted;          /* pixels that passed the alpha and mask tests */
  int64_t distinct;         /* distinct (quantised) colours among them */
  int32_t n;                /* entries written to the output array */
} pj_colors_summary;

/* Warp options. */
typedef struct pj_warp_opts {
  int32_t interpolation;    /* PJ_INTER_LINEAR (0) or PJ_INTER_NEAREST */
  int32_t border;           /* PJ_BORDER_CONSTANT (0) or _REPLICATE */
  uint8_t border_value[4];  /* constant border, per channel */
  int64_t max_pixels;       /* output size limit; 0: PJ_DEFAULT_MAX_PIXELS */
} pj_warp_opts;

/* Batch crop options. */
typedef struct pj_crop_opts {
  pj_warp_opts warp;
  int32_t height;           /* >0: every crop scaled to this height, aspect
                               kept; 0: natural size (DESIGN.md rule) */
  int32_t rotate_tall;      /* nonzero: rotate a crop 90 degrees counter-
                               clockwise when its h/w >= rotate_ratio */
  double rotate_ratio;      /* > 0; 0: 1.5 */
  int64_t max_crop_pixels;  /* per crop; 0: PJ_DEFAULT_MAX_CROP_PIXELS */
  int64_t max_total_pixels; /* all crops of one call; 0: the pixel limit */
  int32_t max_quads;        /* quads per call; 0: PJ_DEFAULT_MAX_QUADS */
} pj_crop_opts;

/* A float32 array of up to 4 dimensions (row-major), refcounted like
 * images; e.g. an N x C x H x W batch for a model. */
typedef struct pj_tensor {
  float *data;
  int32_t ndim;
  int32_t reserved;
  int64_t dims[4];          /* size of each dimension (Lua: t.shape) */
  pj_buffer *buf;
} pj_tensor;

/* pj_pack options. */
typedef struct pj_pack_opts {
  int32_t height;           /* output height of every image, 1-65535; 0: 32 */
  int32_t max_width;        /* widths are capped here; 0: no cap */
  int32_t width;            /* tensor width; 0: the widest image's */
  int32_t channels;         /* 1 (gray, BT.601) or 3 (RGB); 0: 3 */
  int32_t interpolation;    /* PJ_INTER_LINEAR (0), _AREA or _NEAREST */
  float mean[3];            /* per channel, on the 0-1 scale */
  float std[3];             /* per channel, nonzero; all three 0: 1 each */
  float pad_value;          /* columns right of an image's width */
  int32_t max_batch_mb;     /* tensor size limit in MiB; 0:
                               PJ_DEFAULT_MAX_BATCH_MB */
} pj_pack_opts;

/* What decided the thread count (pj_cpu_info.source). */
enum {
  PJ_THREADS_AFFINITY = 0,  /* CPUs in the process's affinity mask */
  PJ_THREADS_CGROUP = 1,    /* the cgroup CPU quota, rounded up */
  PJ_THREADS_OMP_ENV = 2,   /* OMP_NUM_THREADS */
  PJ_THREADS_PIXJIT_ENV = 3,/* PIXJIT_THREADS */
  PJ_THREADS_SET = 4        /* pj_threads_set (--threads, pj.threads) */
};

/* The CPUs the process may use and the thread count chosen. */
typedef struct pj_cpu_info {
  int32_t online;           /* CPUs online in the machine */
  int32_t affinity;         /* CPUs in the affinity mask */
  double quota;             /* cgroup CPU quota in CPUs; 0: none */
  int32_t threads;          /* what pj_threads_get() returns */
  int32_t source;           /* PJ_THREADS_* */
} pj_cpu_info;

/* Kernels whose calls, time and pixels the core counts (pj_stats_get). */
enum {
  PJ_KERNEL_DECODE = 0, PJ_KERNEL_ENCODE, PJ_KERNEL_CONVERT, PJ_KERNEL_MAIN_COLORS,
  PJ_KERNEL_PALETTE, PJ_KERNEL_WARP, PJ_KERNEL_CROP, PJ_KERNEL_RESIZE, PJ_KERNEL_PACK,
  PJ_KERNEL_SWAP_RB, PJ_KERNEL_PAD, PJ_KERNEL_FLIP, PJ_KERNEL_ROT90, PJ_KERNEL_INVERT,
  PJ_KERNEL_THRESHOLD, PJ_KERNEL_ADAPTIVE_THRESHOLD, PJ_KERNEL_BLUR, PJ_KERNEL_GAUSSIAN_BLUR,
  PJ_KERNEL_DILATE, PJ_KERNEL_ERODE,
  PJ_KERNEL_COUNT
};

typedef struct pj_kernel_stats {
  int64_t calls;
  int64_t ns;               /* wall time inside the kernel */
  int64_t pixels;           /* pixels processed (decoded, counted, written) */
} pj_kernel_stats;

/* ---- Errors and library state ------------------------------------------ */

/* Version string "x.y.z"; static. */
PJ_API const char *pj_version(void);
/* Message for the last failure on the calling thread; static per thread,
 * valid until the next failing pj_ call on that thread. */
PJ_API const char *pj_errmsg(void);
/* Code of the last failure on the calling thread (PJ_OK if none yet). */
PJ_API int pj_errcode(void);
/* The OS error number (errno) behind that failure when it was one (a file
 * that could not be opened or written: ENOSPC, EROFS, ...), else 0. */
PJ_API int pj_errno(void);
/* Short fixed description of a status code; static. */
PJ_API const char *pj_strerror(int code);
/* Why item i (0-based) of the last per-item call on the calling thread
 * (pj_crop_quads, pj_save_all) failed; "" when it did not.  Static per
 * thread, valid until the next per-item call on that thread.
 * pj_item_errno(i) is the OS error number behind it, or 0. */
PJ_API const char *pj_item_errmsg(int32_t i);
PJ_API int pj_item_errno(int32_t i);
/* Bytes of pixel memory currently allocated by all images in the process. */
PJ_API int64_t pj_mem_live(void);
/* Freed pixel buffers of 64 KiB and more wait, up to `bytes` in all, for
 * a new image they fit, so a loop that drops results and makes new ones
 * reuses memory that is already mapped instead of faulting in fresh pages.
 * The default is 96 MiB; 0 keeps none, and frees the count tables that
 * pj_main_colors keeps between calls.  The Lua module sets it to what
 * one garbage collection frees at most, which the process held anyway.
 * Returns the previous limit; a negative `bytes` only reads it. */
PJ_API int64_t pj_cache_limit(int64_t bytes);
/* Threads used by kernels; pj_threads_set(0) restores the automatic choice
 * (CPUs in the affinity mask, capped by the cgroup CPU quota). */
PJ_API int pj_threads_get(void);
PJ_API void pj_threads_set(int n);
/* Fills *info, re-reading the affinity mask and cgroup quota.  The cgroup
 * tree is read under PIXJIT_CGROUP_ROOT when set (default /sys/fs/cgroup). */
PJ_API void pj_cpu_info_get(pj_cpu_info *info);
/* Bytes of memory this process may use: the machine's, or the tightest
 * cgroup limit over it (v2: memory.max from its cgroup up to the root; v1:
 * the memory hierarchy's memory.limit_in_bytes), read under
 * PIXJIT_CGROUP_ROOT as pj_cpu_info_get does. */
PJ_API int64_t pj_memory_limit(void);
/* Versions of the libraries linked in: "libpng", "libjpeg-turbo", "openmp"
 * (the OpenMP spec date); static strings, "" for an unknown name. */
PJ_API const char *pj_lib_version(const char *name);
/* Counters of kernel `k` (PJ_KERNEL_*) since start or the last reset;
 * updated with atomics, so they cost a few nanoseconds a call. */
PJ_API int pj_stats_get(int k, pj_kernel_stats *out);
PJ_API const char *pj_kernel_name(int k);
PJ_API void pj_stats_reset(void);

/* ---- Images ------------------------------------------------------------ */

/* New zero-filled image.  max_pixels <= 0 means PJ_DEFAULT_MAX_PIXELS.
 * Returns a new reference, or NULL (PJ_EARG, PJ_ELIMIT, PJ_ENOMEM). */
PJ_API pj_image *pj_image_new(int32_t width, int32_t height, int32_t channels,
                              int64_t max_pixels);
/* Zero-copy view of the rectangle (x, y, w, h), which must lie inside img.
 * The view keeps the buffer alive after img is released.  New reference. */
PJ_API pj_image *pj_image_view(const pj_image *img, int32_t x, int32_t y,
                               int32_t w, int32_t h);
/* Deep copy with a tight stride.  New reference. */
PJ_API pj_image *pj_image_clone(const pj_image *img);
/* Copy converted to `channels` (1-4): gray is OpenCV 4's RGB2GRAY (BT.601
 * weights in 15-bit fixed point), added alpha is 255, dropped alpha is
 * discarded.  New reference. */
PJ_API pj_image *pj_image_convert(const pj_image *img, int32_t channels);
/* Drops the buffer reference and zeroes the fields, keeping the struct so a
 * stale handle reads as freed instead of dangling.  Safe to repeat. */
PJ_API void pj_image_clear(pj_image *img);
/* Clears img and frees the struct.  NULL is ignored. */
PJ_API void pj_image_release(pj_image *img);
/* Moves the reference src holds into dst, a struct the caller owns (on
 * its stack, inside its own struct, in a garbage-collected heap), and
 * frees src.  dst is later dropped with pj_image_clear, never
 * pj_image_release. */
PJ_API void pj_image_move(pj_image *dst, pj_image *src);
/* Number of images (views included) sharing img's buffer; 0 once freed. */
PJ_API int pj_image_refs(const pj_image *img);
/* Copies the pixel at (x, y) into px[0..channels-1] / from px. */
PJ_API int pj_image_get(const pj_image *img, int32_t x, int32_t y, uint8_t *px);
PJ_API int pj_image_set(pj_image *img, int32_t x, int32_t y, const uint8_t *px);
/* Sets every pixel to value[0..channels-1]. */
PJ_API int pj_image_fill(pj_image *img, const uint8_t *value);
/* Copies src into dst; both must have the same size and channels. */
PJ_API int pj_image_copy(pj_image *dst, const pj_image *src);

/* ---- Codecs ------------------------------------------------------------ */

/* Format of the bytes, by content (PJ_FMT_UNKNOWN if none of them). */
PJ_API int pj_detect_format(const void *data, size_t size);
/* Decodes a PNG, JPEG, TIFF or WebP file, by content, turned upright by
 * its EXIF orientation (unless opts->no_orient).  Errors name the path.
 * New reference. */
PJ_API pj_image *pj_load(const char *path, const pj_decode_opts *opts);
/* Decodes from memory; `name` (may be NULL) is used in error messages.
 * New reference. */
PJ_API pj_image *pj_decode(const void *data, size_t size, const char *name,
                           const pj_decode_opts *opts);
/* Fills *info from the file's header (and, for TIFF, its chain of pages)
 * without decoding pixels; fails as pj_load does on a broken header.
 * opts: no_orient and channels are taken into account. */
PJ_API int pj_info(const char *path, const pj_decode_opts *opts, pj_image_info *info);
PJ_API int pj_info_bytes(const void *data, size_t size, const char *name,
                         const pj_decode_opts *opts, pj_image_info *info);
/* Encodes to PNG, JPEG, TIFF or WebP (opts->format must be set).  On
 * success *out is a new allocation of *size bytes that the caller frees
 * with pj_free. */
PJ_API int pj_encode(const pj_image *img, const pj_encode_opts *opts, uint8_t **out,
                     size_t *size);
/* Writes img to path; the format comes from opts->format or, when that is
 * PJ_FMT_UNKNOWN, the extension (.png, .jpg, .jpeg, .tif, .tiff, .webp).
 * JPEG drops alpha; WebP stores gray as RGB. */
PJ_API int pj_save(const pj_image *img, const char *path, const pj_encode_opts *opts);
/* Encodes and writes n images at once, spread over the kernel threads:
 * imgs[i] to paths[i], the format from each path's extension (or
 * opts->format).  Each file is written under a temporary name beside it
 * and renamed when complete, so no partial file is ever visible under its
 * final name (unless opts->direct).  status[i] receives PJ_OK or the
 * reason image i failed, with its message in pj_item_errmsg(i).  Returns
 * PJ_OK when the call itself ran (options are checked before any file is
 * made), even if some images failed. */
PJ_API int pj_save_all(const pj_image *const *imgs, const char *const *paths, int32_t n,
                       const pj_encode_opts *opts, int32_t *status);
/* One member of a tar file: an image (encoded by the extension of name)
 * or raw bytes (image NULL). */
typedef struct pj_tar_member {
  const char *name;          /* path inside the archive */
  const pj_image *image;     /* or NULL, then: */
  const void *data;
  size_t size;
} pj_tar_member;
/* Writes the n members, in order, as one tar file (POSIX pax) at path:
 * images encoded in parallel, the file written under a temporary name and
 * renamed when complete.  Any member failing fails the whole archive (no
 * file is left); the message names the member. */
PJ_API int pj_save_tar(const char *path, const pj_tar_member *members, int32_t n,
                       const pj_encode_opts *opts);
/* Frees memory returned by pj_encode. */
PJ_API void pj_free(void *p);

/* ---- Main colours ------------------------------------------------------ */

/* Exact count of every distinct RGB among the pixels that pass the alpha
 * (images with 2 or 4 channels) and mask tests; writes the top `n` (0 to
 * PJ_MAX_COLORS) to out (count descending, ties by packed 0xRRGGBB
 * ascending) and fills *summary.  Gray images count levels, reported as
 * r = g = b.  With bits < 8 colours are grouped by their high bits and each
 * entry reports the rounded mean of its members.  Results are identical for
 * every thread count. */
PJ_API int pj_main_colors(const pj_image *img, int32_t n, const pj_colors_opts *opts,
                          pj_color_count *out, pj_colors_summary *summary);
/* RGB image of n stripes, each stripe_height rows by width columns filled
 * with rgb[i] (0xRRGGBB), top to bottom.  New reference. */
PJ_API pj_image *pj_palette(const uint32_t *rgb, int32_t n, int32_t stripe_height,
                            int32_t width);

/* ---- Resize, channels, tensors ------------------------------------------ */

/* Resized copy (w x h), the bytes of OpenCV 4's cv2.resize:
 * PJ_INTER_LINEAR its fixed-point bilinear, PJ_INTER_AREA its area
 * averages (bilinear-like weights when enlarging), PJ_INTER_NEAREST the
 * pixel at floor(x * sw / w).  New reference. */
PJ_API pj_image *pj_image_resize(const pj_image *img, int32_t w, int32_t h,
                                 int interpolation);
/* Copy with channels 0 and 2 swapped (RGB <-> BGR); 3 or 4 channels.
 * New reference. */
PJ_API pj_image *pj_image_swap_rb(const pj_image *img);
/* Copy with borders added, filled with value[0..channels-1] (NULL: 0).
 * New reference. */
PJ_API pj_image *pj_image_pad(const pj_image *img, int32_t top, int32_t bottom,
                              int32_t left, int32_t right, const uint8_t *value);
/* Mirrored copy: PJ_FLIP_HORIZONTAL (left-right, cv2.flip 1), _VERTICAL
 * (top-bottom, cv2.flip 0) or _BOTH (cv2.flip -1).  New reference. */
PJ_API pj_image *pj_image_flip(const pj_image *img, int mode);
/* Copy turned k quarter turns counter-clockwise, as numpy.rot90 (any k;
 * negative turns clockwise).  New reference. */
PJ_API pj_image *pj_image_rot90(const pj_image *img, int32_t k);
/* Copy with colour channels v -> 255 - v; alpha is kept.  New reference. */
PJ_API pj_image *pj_image_invert(const pj_image *img);

/* ---- Filters and thresholds ---------------------------------------------- */

/* Normalised kw x kh box filter (each 1 to PJ_MAX_KERNEL), borders
 * reflected without repeating the edge: cv2.blur, byte for byte.  New
 * reference. */
PJ_API pj_image *pj_image_blur(const pj_image *img, int32_t kw, int32_t kh);
/* k x k Gaussian, as cv2.GaussianBlur(img, (k, k), sigma) for 8-bit
 * images: k odd, or 0 to derive it from sigma; sigma 0 derives sigma from
 * k as OpenCV does.  New reference. */
PJ_API pj_image *pj_image_gaussian_blur(const pj_image *img, int32_t k, double sigma);
/* Maximum (dilate) or minimum (erode) over a kw x kh rectangle centred on
 * each pixel, outside pixels ignored: cv2.dilate / cv2.erode with
 * np.ones((kh, kw)).  New reference. */
PJ_API pj_image *pj_image_dilate(const pj_image *img, int32_t kw, int32_t kh);
PJ_API pj_image *pj_image_erode(const pj_image *img, int32_t kw, int32_t kh);
/* cv2.threshold: every byte (all channels) against floor(thresh), by
 * type PJ_THRESH_BINARY .. _TOZERO_INV, or-ed with PJ_THRESH_OTSU (1
 * channel only) to choose the level by Otsu's method; maxval rounds to a
 * byte.  *used (may be NULL) receives the level applied, as cv2 returns
 * it.  New reference. */
PJ_API pj_image *pj_image_threshold(const pj_image *img, double thresh, double maxval, int type,
                                    double *used);
/* cv2.adaptiveThreshold of a 1-channel image: maxval where the pixel is
 * above (PJ_THRESH_BINARY; at most, _BINARY_INV) the mean
 * (PJ_ADAPTIVE_MEAN) or Gaussian-weighted mean (PJ_ADAPTIVE_GAUSSIAN) of
 * its block x block neighbourhood (block odd, >= 3) less c, else 0;
 * borders replicated.  New reference. */
PJ_API pj_image *pj_image_adaptive_threshold(const pj_image *img, double maxval, int method,
                                             int type, int32_t block, double c);
/* New zero-filled tensor of ndim (1-4) dimensions.  New reference. */
PJ_API pj_tensor *pj_tensor_new(int32_t ndim, const int64_t *shape);
PJ_API void pj_tensor_release(pj_tensor *t);
/* Makes an n x C x H x W float32 batch from n images in one parallel pass:
 * image i is resized to height H and width
 * min(max_width, max(1, round(w * H / h))), converted to C channels,
 * normalised as (v / 255 - mean[c]) / std[c] and written to row i; columns
 * right of its width hold pad_value.  widths[i] receives its width.
 * *out gets a new reference. */
PJ_API int pj_pack(const pj_image *const *imgs, int32_t n, const pj_pack_opts *opts,
                   pj_tensor **out, int32_t *widths);

/* ---- Perspective ------------------------------------------------------- */

/* 3x3 homography (row-major, m[8] = 1) mapping the four points src[2i],
 * src[2i+1] onto dst[2i], dst[2i+1], computed as OpenCV 4.x's
 * getPerspectiveTransform does.  PJ_ESINGULAR for a degenerate system. */
PJ_API int pj_perspective(const float *src, const float *dst, double *m);
/* Output (w x h) where out(x, y) samples src at M^-1 (x, y), as OpenCV 4.x's
 * warpPerspective without WARP_INVERSE_MAP.  New reference. */
PJ_API pj_image *pj_warp_perspective(const pj_image *src, const double *m, int32_t w,
                                     int32_t h, const pj_warp_opts *opts);
/* Cuts n quads (quads[8i..8i+7] = TL, TR, BR, BL as x, y) out of src in one
 * parallel pass.  out[i] receives a new reference or NULL, status[i] PJ_OK or
 * the reason that quad failed (PJ_EARG non-finite, PJ_EEMPTY zero size,
 * PJ_ESINGULAR degenerate, PJ_ELIMIT too large), with its message in
 * pj_item_errmsg(i).  The crops share one buffer, each a disjoint view of
 * it.  Returns PJ_OK when the call itself ran (even if some quads failed),
 * else an error for the whole call. */
PJ_API int pj_crop_quads(const pj_image *src, const float *quads, int32_t n,
                         const pj_crop_opts *opts, pj_image **out, int32_t *status);
/* Output size of one quad by the crop rule (see DESIGN.md), before rotation
 * or height scaling; PJ_OK or the reason it fails. */
PJ_API int pj_quad_size(const float *quad, int32_t *w, int32_t *h);

/* PIXJIT_FFI_END */

#ifdef __cplusplus
}
#endif

#endif /* PIXJIT_H */
