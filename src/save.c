/*
 * save.c - writing encoded images to files: pj_save, and pj_save_all,
 * which encodes and writes many at once, each file atomically.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int pj_format_of_path(const char *path) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash)) return PJ_FMT_UNKNOWN;
  if (strcasecmp(dot, ".png") == 0) return PJ_FMT_PNG;
  if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0) return PJ_FMT_JPEG;
  if (strcasecmp(dot, ".tif") == 0 || strcasecmp(dot, ".tiff") == 0) return PJ_FMT_TIFF;
  if (strcasecmp(dot, ".webp") == 0) return PJ_FMT_WEBP;
  return PJ_FMT_UNKNOWN;
}

/* Writes all n bytes to fd; 0 or errno. */
static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* What went wrong with one file, for the message written afterwards. */
enum { STAGE_OK, STAGE_FORMAT, STAGE_ENCODE, STAGE_OPEN, STAGE_WRITE, STAGE_RENAME };

/* This machine's name as it goes into temporary names: letters, digits,
 * '-' and '_' only, at most 32. */
static void host_tag(char *out, size_t n) {
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "host");
  size_t k = 0;
  for (const char *p = host; *p && k + 1 < n && k < 32; p++)
    out[k++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-')
                   ? *p : '_';
  out[k] = 0;
}

int pj_temp_path(char *out, size_t n, const char *path, const char *tag) {
  char host[40];
  host_tag(host, sizeof host);
  const char *slash = strrchr(path, '/');
  const int dir = slash ? (int)(slash - path + 1) : 0;
  /* Hidden, and unique per machine, process and tag (thread), so
   * concurrent writers (threads, shards, machines on a shared disk) never
   * share one, and a sweep can tell a dead process's from a live one's. */
  return snprintf(out, n, "%.*s.%s.pjtmp-%s-%ld-%s", dir, path, path + dir, host, (long)getpid(), tag) <
                 (int)n ? PJ_OK : pj_fail(PJ_EARG, "%s: path too long", path);
}

int pj_open_temp(const char *tmp) {
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0 && errno == EEXIST) { /* left by a process that died, or planted */
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  }
  return fd;
}

/* Writes n bytes to path: to a new temporary file beside it, renamed over
 * path when complete (atomic), or straight to path.  Returns the stage
 * that failed (STAGE_OK) with *err its errno. */
static int write_file(const char *path, const uint8_t *data, size_t n, bool atomic, int *err) {
  char tmp[4096];
  const char *target = path;
  if (atomic) {
    char tag[16];
    snprintf(tag, sizeof tag, "t%d", omp_get_thread_num());
    if (pj_temp_path(tmp, sizeof tmp, path, tag)) return *err = ENAMETOOLONG, STAGE_OPEN;
    target = tmp;
  }
  int fd = atomic ? pj_open_temp(target) : open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return *err = errno, STAGE_OPEN;
  int e = write_all(fd, data, n);
  if (close(fd) != 0 && !e) e = errno;
  if (e) {
    if (atomic) unlink(target);
    return *err = e, STAGE_WRITE;
  }
  if (atomic && rename(target, path) != 0) {
    *err = errno;
    unlink(target);
    return STAGE_RENAME;
  }
  return STAGE_OK;
}

/* Encodes img for path; the stage that failed, with *code and *err. */
static int save_one(const pj_image *img, const char *path, const pj_encode_opts *opts, bool atomic,
                    int *code, int *err) {
  pj_encode_opts o = *opts;
  if (o.format == PJ_FMT_UNKNOWN) o.format = pj_format_of_path(path);
  if (o.format == PJ_FMT_UNKNOWN) return *code = PJ_EARG, STAGE_FORMAT;
  uint8_t *data = NULL;
  size_t size = 0;
  if ((*code = pj_encode(img, &o, &data, &size)) != PJ_OK) return STAGE_ENCODE;
  int stage = write_file(path, data, size, atomic, err);
  free(data);
  if (stage) *code = PJ_EIO;
  return stage;
}

/* Records the message of a failed file, as pj_fail or pj_item_fail. */
static int describe(int32_t item, const char *path, int stage, int code, int err) {
  static const char *const what[] = {"", "", "", "", "write failed: ", "cannot rename into place: "};
  if (stage == STAGE_FORMAT) {
    const char *m = "unknown image extension (use .png, .jpg, .jpeg, .tif, .tiff or .webp)";
    return item < 0 ? pj_fail(code, "%s: %s", path, m) : (pj_item_fail(item, "%s: %s", path, m), code);
  }
  const char *why = stage == STAGE_ENCODE ? pj_strerror(code) : strerror(err);
  if (item < 0) return pj_fail_errno(code, err, "%s: %s%s", path, what[stage], why);
  pj_item_fail_errno(item, err, "%s: %s%s", path, what[stage], why);
  return code;
}

int pj_save(const pj_image *img, const char *path, const pj_encode_opts *opts) {
  if (!path) return pj_fail(PJ_EARG, "NULL path");
  pj_encode_opts o = opts ? *opts : (pj_encode_opts){0};
  if (o.format == PJ_FMT_UNKNOWN) o.format = pj_format_of_path(path);
  if (o.format == PJ_FMT_UNKNOWN) return describe(-1, path, STAGE_FORMAT, PJ_EARG, 0);
  uint8_t *data = NULL;
  size_t size = 0;
  int rc = pj_encode(img, &o, &data, &size);
  /* The file's name belongs to failures of the file, not of the options. */
  if (rc) return rc == PJ_EARG ? rc : pj_fail_prefix(path);
  int err = 0, stage = write_file(path, data, size, false, &err);
  free(data);
  return stage ? describe(-1, path, stage, PJ_EIO, err) : PJ_OK;
}

int pj_save_all(const pj_image *const *imgs, const char *const *paths, int32_t n,
                const pj_encode_opts *opts, int32_t *status) {
  pj_encode_opts o = opts ? *opts : (pj_encode_opts){0};
  if (n < 0) return pj_fail(PJ_EARG, "negative image count %d", n);
  if (n > 0 && (!imgs || !paths || !status)) return pj_fail(PJ_EARG, "NULL images, paths or status");
  for (int32_t i = 0; i < n; i++) {
    if (!imgs[i] || !imgs[i]->data) return pj_fail(PJ_EARG, "image %d is freed or NULL", i + 1);
    if (!paths[i]) return pj_fail(PJ_EARG, "path %d is NULL", i + 1);
  }
  /* Options are checked once, on a 1x1 image, before any file is made. */
  pj_image *probe = pj_image_new(1, 1, 3, 0);
  uint8_t *scratch = NULL;
  size_t ssize;
  pj_encode_opts po = o;
  for (int f = PJ_FMT_PNG; probe && f <= PJ_FMT_JPEG; f++) {
    po.format = f;
    if (pj_encode(probe, &po, &scratch, &ssize)) {
      pj_image_release(probe);
      return pj_errcode();
    }
    free(scratch);
  }
  pj_image_release(probe);
  int *stage = malloc(sizeof *stage * (size_t)(n ? n : 1) * 3);
  if (!stage) return pj_fail(PJ_ENOMEM, "out of memory for %d images", n);
  int *code = stage + n, *err = stage + 2 * (size_t)n;
  const bool atomic = !o.direct;
#pragma omp parallel for schedule(dynamic, 2) num_threads(pj_threads_get()) if (n > 1)
  for (int32_t i = 0; i < n; i++) {
    code[i] = err[i] = 0;
    stage[i] = save_one(imgs[i], paths[i], &o, atomic, &code[i], &err[i]);
  }
  pj_items_reset();
  for (int32_t i = 0; i < n; i++) {
    status[i] = stage[i] ? code[i] : PJ_OK;
    if (stage[i]) describe(i, paths[i], stage[i], code[i], err[i]);
  }
  free(stage);
  return PJ_OK;
}
