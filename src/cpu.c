/*
 * cpu.c - which vector extensions the kernels may use.
 *
 * What the CPU supports, less what PIXJIT_CPU_DISABLE names (a comma- or
 * space-separated list of ssse3, avx2, avx512vl, or "all").  Turning
 * extensions off runs the portable code paths on any machine: the test
 * suite uses it to check them against the same expectations, and users can
 * rule out a SIMD path when chasing a difference.
 */
#include "internal.h"

#ifdef PJ_X86_SIMD
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { F_SSSE3 = 1, F_AVX2 = 2, F_AVX512VL = 4, F_READY = 8 };

/* Kernels ask per row or chunk, so the answer is cached; every thread
 * computes the same value, so a racing first call is harmless. */
static atomic_int features;

static int disabled(const char *list) {
  int off = 0;
  if (!list) return 0;
  static const struct { const char *name; int bit; } names[] = {
      {"ssse3", F_SSSE3}, {"avx2", F_AVX2}, {"avx512vl", F_AVX512VL},
      {"all", F_SSSE3 | F_AVX2 | F_AVX512VL}};
  const char *p = list;
  while (*p) {
    size_t n = strcspn(p, ", ");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (n == strlen(names[i].name) && !strncmp(p, names[i].name, n)) off |= names[i].bit;
    p += n;
    p += strspn(p, ", ");
  }
  return off;
}

static int detect(void) {
  __builtin_cpu_init();
  int f = F_READY;
  if (__builtin_cpu_supports("ssse3")) f |= F_SSSE3;
  /* Each level implies the ones below, as the kernels assume; the AVX2
   * level includes FMA, as on every CPU that has AVX2. */
  if ((f & F_SSSE3) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    f |= F_AVX2;
  if ((f & F_AVX2) && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512f"))
    f |= F_AVX512VL;
  int off = disabled(getenv("PIXJIT_CPU_DISABLE"));
  /* Turning off a level turns off those above it. */
  if (off & F_SSSE3) off |= F_AVX2;
  if (off & F_AVX2) off |= F_AVX512VL;
  return f & ~off;
}

static inline int get(void) {
  int f = atomic_load_explicit(&features, memory_order_relaxed);
  if (!f) {
    f = detect();
    atomic_store_explicit(&features, f, memory_order_relaxed);
  }
  return f;
}

bool pj_cpu_ssse3(void) { return get() & F_SSSE3; }
bool pj_cpu_avx2(void) { return get() & F_AVX2; }
bool pj_cpu_avx512vl(void) { return get() & F_AVX512VL; }

void pj_cpu_redetect(void) { atomic_store_explicit(&features, 0, memory_order_relaxed); }
#else
void pj_cpu_redetect(void) {}
#endif
