/*
 * crop_words.c - cuts word quadrilaterals out of a page with the C API and
 * writes each as outdir/0001.png, 0002.png, ... (numbered as the quads are;
 * a quad that cannot be cut is reported and its number skipped).
 *
 * The quads file holds one quad per line: eight numbers, the x and y of
 * its top-left, top-right, bottom-right and bottom-left corners, separated
 * by spaces or commas (ICDAR-2015's layout; anything after the eighth
 * number, such as a transcription, is ignored).
 *
 *   cc crop_words.c $(pkg-config --cflags --libs pixjit) -o crop_words
 *   ./crop_words page.png quads.txt outdir
 *
 * Exit status: 0 when every quad was written, 1 when some failed, 2 when
 * nothing could be done (bad arguments, unreadable page or quads file).
 */
#include <pixjit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads the quads of `path` into *out, a new array of 8 floats per quad
 * that the caller frees (NULL when there are none), and their number into
 * *n.  Returns -1 with a message on stderr when the file cannot be read or
 * a line does not hold eight numbers. */
static int read_quads(const char *path, float **out, int32_t *n) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  float *quads = NULL;
  int32_t cap = 0, count = 0;
  char line[4096];
  for (int lineno = 1; fgets(line, sizeof line, f); lineno++) {
    if (!strchr(line, '\n')) /* a long transcription: drop the rest of the line */
      for (int c; (c = fgetc(f)) != EOF && c != '\n';) {
      }
    char *p = line + strspn(line, " \t\r\n");
    if (*p == '\0' || *p == '#') continue;
    if (count == cap) {
      cap = cap ? cap * 2 : 256;
      float *grown = realloc(quads, (size_t)cap * 8 * sizeof *quads);
      if (!grown) {
        fprintf(stderr, "%s: out of memory\n", path);
        goto fail;
      }
      quads = grown;
    }
    for (int k = 0; k < 8; k++) {
      char *end;
      quads[(size_t)count * 8 + k] = strtof(p, &end);
      if (end == p) {
        fprintf(stderr, "%s:%d: expected 8 numbers\n", path, lineno);
        goto fail;
      }
      p = end + strspn(end, " \t,");
    }
    count++;
  }
  fclose(f);
  *out = quads;
  *n = count;
  return 0;
fail:
  fclose(f);
  free(quads);
  return -1;
}

/* Saves the crops that were cut (crops[i] non-NULL) as dir/NNNN.png at
 * once: pj_save_all encodes them in parallel and writes each file complete
 * or not at all.  Returns how many were written, or -1 when nothing could
 * be tried. */
static int save_crops(pj_image *const *crops, int32_t n, const char *dir) {
  const pj_image **good = calloc((size_t)n + 1, sizeof *good);
  char **paths = calloc((size_t)n + 1, sizeof *paths);
  int32_t *saved = calloc((size_t)n + 1, sizeof *saved);
  int32_t m = 0;
  int written = -1, oom = !good || !paths || !saved;
  if (oom) goto done;
  for (int32_t i = 0; i < n; i++) {
    if (!crops[i]) continue;
    size_t len = strlen(dir) + 16;
    if (!(paths[m] = malloc(len))) {
      oom = 1;
      goto done;
    }
    snprintf(paths[m], len, "%s/%04d.png", dir, (int)i + 1);
    good[m++] = crops[i];
  }
  pj_encode_opts eo = {.compression = 1};
  if (pj_save_all(good, (const char *const *)paths, m, &eo, saved) != PJ_OK) {
    fprintf(stderr, "%s\n", pj_errmsg());
    goto done;
  }
  written = 0;
  for (int32_t j = 0; j < m; j++) {
    if (saved[j] == PJ_OK) written++;
    else fprintf(stderr, "%s\n", pj_item_errmsg(j));
  }
done:
  if (oom) fprintf(stderr, "out of memory\n");
  for (int32_t j = 0; paths && j < m; j++) free(paths[j]);
  free(paths);
  free(good);
  free(saved);
  return written;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s page.png quads.txt outdir\n", argv[0]);
    return 2;
  }
  pj_image *page = pj_load(argv[1], NULL);
  if (!page) {
    fprintf(stderr, "%s\n", pj_errmsg());
    return 2;
  }
  int32_t n = 0;
  float *quads = NULL;
  if (read_quads(argv[2], &quads, &n) != 0) {
    pj_image_release(page);
    return 2;
  }
  if (mkdir(argv[3], 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "%s: %s\n", argv[3], strerror(errno));
    pj_image_release(page);
    free(quads);
    return 2;
  }

  /* One parallel pass over all quads; crops[i] is NULL where quad i failed. */
  pj_image **crops = calloc((size_t)n + 1, sizeof *crops);
  int32_t *status = calloc((size_t)n + 1, sizeof *status);
  int rc = 2;
  if (!crops || !status) {
    fprintf(stderr, "out of memory\n");
  } else if (pj_crop_quads(page, quads, n, NULL, crops, status) != PJ_OK) {
    fprintf(stderr, "%s: %s\n", argv[2], pj_errmsg());
  } else {
    int failed = 0;
    for (int32_t i = 0; i < n; i++)
      if (status[i] != PJ_OK) {
        fprintf(stderr, "quad %d: %s\n", (int)i + 1, pj_item_errmsg(i));
        failed++;
      }
    int written = save_crops(crops, n, argv[3]);
    if (written >= 0) {
      printf("%d crops from %d quads (%d failed)\n", written, (int)n, failed);
      rc = written == n ? 0 : 1;
    }
  }
  for (int32_t i = 0; crops && i < n; i++) pj_image_release(crops[i]);
  free(crops);
  free(status);
  free(quads);
  pj_image_release(page);
  return rc;
}
