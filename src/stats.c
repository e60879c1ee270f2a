/*
 * stats.c - per-kernel call counts, time and pixels, and library versions.
 *
 * The counters are a handful of relaxed atomic adds per kernel call (plus
 * two clock reads), negligible next to any kernel's own work, so they are
 * always on and pj.stats() can answer without a profiler.
 */
#include "internal.h"

#include <jpeglib.h>
#include <png.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static const char *const names[PJ_KERNEL_COUNT] = {
    "decode", "encode", "convert", "main_colors", "palette", "warp_perspective", "crop_quads",
    "resize", "pack", "swap_rb", "pad", "flip", "rot90", "invert", "threshold",
    "adaptive_threshold", "blur", "gaussian_blur", "dilate", "erode"};

static atomic_llong calls[PJ_KERNEL_COUNT], nanos[PJ_KERNEL_COUNT], pixels[PJ_KERNEL_COUNT];

int64_t pj_clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void pj_stats_add(int k, int64_t t0, int64_t px) {
  atomic_fetch_add_explicit(&calls[k], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&nanos[k], pj_clock_ns() - t0, memory_order_relaxed);
  atomic_fetch_add_explicit(&pixels[k], px, memory_order_relaxed);
}

int pj_stats_get(int k, pj_kernel_stats *out) {
  if (k < 0 || k >= PJ_KERNEL_COUNT || !out)
    return pj_fail(PJ_EARG, "kernel must be 0 to %d, got %d", PJ_KERNEL_COUNT - 1, k);
  out->calls = atomic_load(&calls[k]);
  out->ns = atomic_load(&nanos[k]);
  out->pixels = atomic_load(&pixels[k]);
  return PJ_OK;
}

const char *pj_kernel_name(int k) {
  return k >= 0 && k < PJ_KERNEL_COUNT ? names[k] : "";
}

void pj_stats_reset(void) {
  for (int k = 0; k < PJ_KERNEL_COUNT; k++) {
    atomic_store(&calls[k], 0);
    atomic_store(&nanos[k], 0);
    atomic_store(&pixels[k], 0);
  }
}

#define STR2(x) #x
#define STR(x) STR2(x)

const char *pj_lib_version(const char *name) {
  if (!name) return "";
  if (strcmp(name, "libpng") == 0) return png_get_libpng_ver(NULL);
  if (strcmp(name, "libjpeg-turbo") == 0) {
#ifdef LIBJPEG_TURBO_VERSION
    return STR(LIBJPEG_TURBO_VERSION) " (libjpeg API " STR(JPEG_LIB_VERSION) ")";
#else
    return "libjpeg API " STR(JPEG_LIB_VERSION);
#endif
  }
  if (strcmp(name, "openmp") == 0) {
#ifdef _OPENMP
    return STR(_OPENMP);
#else
    return "none";
#endif
  }
  return "";
}
