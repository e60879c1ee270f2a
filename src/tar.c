/*
 * tar.c - many small outputs as one tar file (WebDataset's shards),
 * through libarchive: image members are encoded in parallel (format from
 * each member's extension), raw members go in as given, in order.  The
 * archive is written under a temporary name beside its final one and
 * renamed when complete, like every other output.
 */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The temporary name beside path (hidden, this process's). */
static char *temp_beside(const char *path) {
  const size_t n = strlen(path) + 96;
  char *t = malloc(n);
  if (t && pj_temp_path(t, n, path, "tar")) {
    free(t);
    t = NULL;
  }
  return t;
}

/* Encodes the image members in parallel; failures name the member. */
static int encode_members(const pj_tar_member *m, int32_t n, const pj_encode_opts *opts,
                          uint8_t **bytes, size_t *sizes, const char *path) {
  int failed = 0, code = PJ_OK;
  char msg[512] = "";
#pragma omp parallel for schedule(dynamic, 4) num_threads(pj_threads_get()) if (n > 1)
  for (int32_t i = 0; i < n; i++) {
    if (!m[i].image || failed) continue;
    pj_encode_opts o = opts ? *opts : (pj_encode_opts){0};
    o.format = pj_format_of_path(m[i].name);
    int rc = o.format == PJ_FMT_UNKNOWN
                 ? pj_fail(PJ_EARG, "unknown image extension (use .png, .jpg, .jpeg, .tif, .tiff or .webp)")
                 : pj_encode(m[i].image, &o, &bytes[i], &sizes[i]);
    if (rc) {
#pragma omp critical
      if (!failed) {
        failed = 1, code = rc;
        snprintf(msg, sizeof msg, "%s: member %s: %s", path, m[i].name, pj_errmsg());
      }
    }
  }
  return failed ? pj_fail(code, "%s", msg) : PJ_OK;
}

static int write_archive(const char *tmp, const pj_tar_member *m, int32_t n, uint8_t *const *bytes,
                         const size_t *sizes, const char *path) {
  struct archive *a = archive_write_new();
  if (!a) return pj_fail(PJ_ENOMEM, "%s: out of memory", path);
  int rc = PJ_OK;
  /* Opened here, not by libarchive, so the temporary is created
   * exclusively (libarchive would follow a link under its name). */
  const int fd = pj_open_temp(tmp);
  if (fd < 0) {
    rc = pj_fail_errno(PJ_EIO, errno, "%s: %s", path, strerror(errno));
    archive_write_free(a);
    return rc;
  }
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_open_fd(a, fd) != ARCHIVE_OK) {
    rc = pj_fail_errno(PJ_EIO, archive_errno(a), "%s: %s", path, archive_error_string(a));
    archive_write_free(a);
    close(fd);
    return rc;
  }
  const time_t now = time(NULL);
  for (int32_t i = 0; i < n && !rc; i++) {
    struct archive_entry *e = archive_entry_new();
    if (!e) {
      rc = pj_fail(PJ_ENOMEM, "%s: out of memory", path);
      break;
    }
    const void *data = m[i].image ? bytes[i] : m[i].data;
    const size_t size = m[i].image ? sizes[i] : m[i].size;
    archive_entry_set_pathname(e, m[i].name);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, now, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        (size && archive_write_data(a, data, size) != (la_ssize_t)size))
      rc = pj_fail_errno(PJ_EIO, archive_errno(a), "%s: %s", path, archive_error_string(a));
    archive_entry_free(e);
  }
  if (archive_write_close(a) != ARCHIVE_OK && !rc)
    rc = pj_fail_errno(PJ_EIO, archive_errno(a), "%s: %s", path, archive_error_string(a));
  archive_write_free(a);
  if (close(fd) != 0 && !rc) rc = pj_fail_errno(PJ_EIO, errno, "%s: %s", path, strerror(errno));
  return rc;
}

int pj_save_tar(const char *path, const pj_tar_member *members, int32_t n,
                const pj_encode_opts *opts) {
  if (!path || (n > 0 && !members)) return pj_fail(PJ_EARG, "NULL argument");
  if (n < 0) return pj_fail(PJ_EARG, "negative member count");
  for (int32_t i = 0; i < n; i++) {
    if (!members[i].name || !members[i].name[0])
      return pj_fail(PJ_EARG, "%s: member %d has no name", path, i + 1);
    if (!members[i].image && members[i].size && !members[i].data)
      return pj_fail(PJ_EARG, "%s: member %s has no data", path, members[i].name);
  }
  int64_t t0 = pj_clock_ns();
  uint8_t **bytes = calloc((size_t)n + 1, sizeof *bytes);
  size_t *sizes = calloc((size_t)n + 1, sizeof *sizes);
  char *tmp = temp_beside(path);
  int rc;
  if (!bytes || !sizes || !tmp) rc = pj_fail(PJ_ENOMEM, "%s: out of memory", path);
  else if (!(rc = encode_members(members, n, opts, bytes, sizes, path)))
    rc = write_archive(tmp, members, n, bytes, sizes, path);
  if (!rc && rename(tmp, path) != 0)
    rc = pj_fail_errno(PJ_EIO, errno, "%s: cannot rename into place: %s", path, strerror(errno));
  if (rc && tmp) unlink(tmp);
  int64_t px = 0;
  for (int32_t i = 0; bytes && i < n; i++) {
    free(bytes[i]);
    if (members[i].image) px += pj_pixels_of(members[i].image);
  }
  free(bytes);
  free(sizes);
  free(tmp);
  pj_stats_add(PJ_KERNEL_ENCODE, t0, rc ? 0 : px);
  return rc;
}
