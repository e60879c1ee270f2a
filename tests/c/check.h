/*
 * check.h - a minimal test harness: TEST functions made of CHECKs, a
 * summary line "<suite>: N passed, N failed" and a nonzero exit on failure.
 */
#ifndef PJ_CHECK_H
#define PJ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int t_passed, t_failed, t_skipped, t_cur_failed;
static char t_tmpdir[256]; /* see tmp_path */

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      t_cur_failed++;                                                       \
      fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,    \
              #cond);                                                       \
    }                                                                       \
  } while (0)

#define CHECK_EQ(a, b)                                                      \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ != b_) {                                                         \
      t_cur_failed++;                                                       \
      fprintf(stderr, "  %s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, \
              __LINE__, #a, #b, a_, b_);                                    \
    }                                                                       \
  } while (0)

#define CHECK_STR_HAS(s, sub)                                               \
  do {                                                                      \
    const char *s_ = (s);                                                   \
    if (!s_ || !strstr(s_, (sub))) {                                        \
      t_cur_failed++;                                                       \
      fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n",          \
              __FILE__, __LINE__, s_ ? s_ : "(null)", (sub));               \
    }                                                                       \
  } while (0)

static void run_test(const char *name, void (*fn)(void)) {
  int skipped = t_skipped;
  t_cur_failed = 0;
  fn();
  if (t_cur_failed) {
    t_failed++;
    fprintf(stderr, "FAIL %s\n", name);
  } else if (t_skipped == skipped) {
    t_passed++;
  }
}
#define RUN(fn) run_test(#fn, fn)

static inline void skip(const char *name, const char *why) {
  t_skipped++;
  fprintf(stderr, "skip %s: %s\n", name, why);
}

static int finish(const char *suite) {
  printf("%s: %d passed, %d failed", suite, t_passed, t_failed);
  if (t_skipped) printf(", %d skipped", t_skipped);
  printf("\n");
  if (t_tmpdir[0]) rmdir(t_tmpdir); /* tests remove what they write */
  return t_failed ? 1 : 0;
}

/* ../shared/data, or NULL when it is absent (tests using it skip). */
static inline const char *data_dir(void) {
  const char *d = getenv("PIXJIT_DATA");
  return d && *d ? d : NULL;
}

/* A path under a private temporary folder made on first use, so tests
 * write nowhere in the checkout (sanitizer builds use another build dir).
 * The string is static: copy it before the next call. */
static inline const char *tmp_path(const char *name) {
  char *dir = t_tmpdir;
  static char path[512];
  if (!dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof t_tmpdir, "%s/pj-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) snprintf(dir, sizeof t_tmpdir, "%s", t && *t ? t : "/tmp");
  }
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* Deterministic pseudo-random bytes for test images. */
static unsigned long long t_rng = 0x9e3779b97f4a7c15ull;
static inline unsigned rnd(void) {
  t_rng ^= t_rng << 13;
  t_rng ^= t_rng >> 7;
  t_rng ^= t_rng << 17;
  return (unsigned)(t_rng >> 11);
}

#endif
