/*
 * test_codec.c - PNG and JPEG: PngSuite conformance against libpng's own
 * 8-bit expansion, hostile files, JPEG fixtures written here with libjpeg
 * in every coding mode, round trips and limits.
 */
#include "check.h"
#include "pixjit.h"

#include <dirent.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- Reference PNG decode: libpng's high-level reader with the expansion
 * transforms, a separate code path from the streaming decoder. ------------ */

typedef struct ref_img {
  int w, h, c;
  uint8_t *px;
} ref_img;

static int ref_png(const char *path, ref_img *out) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return -1;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    return -1;
  }
  png_init_io(png, fp);
  png_read_png(png, info, PNG_TRANSFORM_EXPAND | PNG_TRANSFORM_STRIP_16, NULL);
  out->w = (int)png_get_image_width(png, info);
  out->h = (int)png_get_image_height(png, info);
  out->c = png_get_channels(png, info);
  png_bytepp rows = png_get_rows(png, info);
  out->px = malloc((size_t)out->w * out->h * out->c);
  for (int y = 0; y < out->h; y++)
    memcpy(out->px + (size_t)y * out->w * out->c, rows[y], (size_t)out->w * out->c);
  png_destroy_read_struct(&png, &info, NULL);
  fclose(fp);
  return 0;
}

static bool same_pixels(const pj_image *img, const ref_img *ref) {
  if (img->width != ref->w || img->height != ref->h || img->channels != ref->c) return false;
  for (int y = 0; y < ref->h; y++)
    if (memcmp(img->data + (size_t)y * img->stride, ref->px + (size_t)y * ref->w * ref->c,
               (size_t)ref->w * ref->c))
      return false;
  return true;
}

static bool images_equal(const pj_image *a, const pj_image *b) {
  if (!a || !b || a->width != b->width || a->height != b->height || a->channels != b->channels)
    return false;
  for (int y = 0; y < a->height; y++)
    if (memcmp(a->data + (size_t)y * a->stride, b->data + (size_t)y * b->stride,
               (size_t)a->width * a->channels))
      return false;
  return true;
}

static void test_pngsuite(void) {
  const char *dd = data_dir();
  if (!dd) return skip("pngsuite", "../shared/data is absent");
  char dir[4096], path[8192];
  snprintf(dir, sizeof dir, "%s/pngsuite", dd);
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return;
  int decoded = 0, rejected = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 4, ".png")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    pj_image *img = pj_load(path, NULL);
    if (e->d_name[0] == 'x') {
      /* Corrupt on purpose: must fail, naming the file. */
      if (img) fprintf(stderr, "  accepted corrupt %s\n", e->d_name);
      CHECK(img == NULL);
      CHECK_STR_HAS(pj_errmsg(), e->d_name);
      rejected++;
      pj_image_release(img);
      continue;
    }
    ref_img ref;
    CHECK(img != NULL);
    CHECK_EQ(ref_png(path, &ref), 0);
    if (img && !same_pixels(img, &ref)) {
      fprintf(stderr, "  %s differs from libpng's expansion\n", e->d_name);
      CHECK(0);
    }
    /* Interlaced files decode to the same pixels as their non-interlaced twin. */
    if (img && strncmp(e->d_name, "basi", 4) == 0) {
      char twin[8192];
      snprintf(twin, sizeof twin, "%s/%.3sn%s", dir, e->d_name, e->d_name + 4);
      pj_image *t = pj_load(twin, NULL);
      if (!images_equal(img, t)) fprintf(stderr, "  %s != %s\n", e->d_name, twin);
      CHECK(images_equal(img, t));
      pj_image_release(t);
    }
    free(ref.px);
    pj_image_release(img);
    decoded++;
  }
  closedir(d);
  CHECK_EQ(decoded, 161);
  CHECK_EQ(rejected, 14);
}

/* Hand-checked pixels of PngSuite files whose content the suite documents. */
static void test_pngsuite_known_values(void) {
  const char *dd = data_dir();
  if (!dd) return skip("pngsuite values", "../shared/data is absent");
  char path[4096];
  /* tbbn0g04: 4-bit gray with tRNS becomes gray+alpha. */
  snprintf(path, sizeof path, "%s/pngsuite/tbbn0g04.png", dd);
  pj_image *img = pj_load(path, NULL);
  CHECK(img && img->channels == 2);
  pj_image_release(img);
  /* basn3p08 (palette, no tRNS) expands to RGB; tp1n3p08 (with tRNS) to RGBA. */
  snprintf(path, sizeof path, "%s/pngsuite/basn3p08.png", dd);
  img = pj_load(path, NULL);
  CHECK(img && img->channels == 3 && img->width == 32);
  pj_image_release(img);
  snprintf(path, sizeof path, "%s/pngsuite/tp1n3p08.png", dd);
  img = pj_load(path, NULL);
  CHECK(img && img->channels == 4);
  pj_image_release(img);
  /* basn0g16: 16-bit gray to its high bytes (as cv2.imread); the top-left sample is 0. */
  snprintf(path, sizeof path, "%s/pngsuite/basn0g16.png", dd);
  pj_decode_opts o = {.channels = 3};
  img = pj_load(path, &o);
  CHECK(img && img->channels == 3);
  if (img) CHECK_EQ(img->data[0], 0);
  pj_image_release(img);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static void test_crashers(void) {
  const char *dd = data_dir();
  if (!dd) return skip("crashers", "../shared/data is absent");
  char dir[4096], path[8192];
  snprintf(dir, sizeof dir, "%s/crashers", dd);
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return;
  long rss0 = rss_kb();
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    double t0 = now();
    pj_image *img = pj_load(path, NULL);
    double dt = now() - t0;
    if (dt > 1.0) fprintf(stderr, "  %s took %.2f s\n", e->d_name, dt);
    CHECK(dt < 1.0);
    if (!img) {
      CHECK_STR_HAS(pj_errmsg(), e->d_name);
    } else {
      CHECK(img->width > 0 && img->height > 0);
    }
    pj_image_release(img);
    n++;
  }
  closedir(d);
  CHECK(n >= 27);
  /* None may allocate anything like a chunk's declared length. */
  CHECK(rss_kb() - rss0 < 64 * 1024);
}

/* ---- Fixtures written here ---------------------------------------------- */

static pj_image *pattern(int w, int h, int c) {
  pj_image *img = pj_image_new(w, h, c, 0);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++)
        img->data[(size_t)y * img->stride + x * c + k] =
            (uint8_t)(k == 3 ? 255 - x * 3 : (x * 7 + y * 3 + k * 50) + (int)(rnd() & 3));
  return img;
}

/* Smooth gradients: what JPEG is made for, so its error stays small. */
static pj_image *smooth(int w, int h, int c) {
  pj_image *img = pj_image_new(w, h, c, 0);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++)
        img->data[(size_t)y * img->stride + x * c + k] = (uint8_t)(x * 2 + y * 2 + k * 20);
  return img;
}

/* A pipe cannot seek back to its start after the format sniff: pj_load
 * and pj_info read it whole instead. */
static void test_load_from_pipe(void) {
  pj_image *img = pattern(21, 13, 3);
  pj_encode_opts o = {0};
  o.format = PJ_FMT_PNG;
  uint8_t *buf;
  size_t size;
  CHECK_EQ(pj_encode(img, &o, &buf, &size), PJ_OK);
  CHECK(size < 60000); /* fits the pipe's buffer: written before reading */
  for (int pass = 0; pass < 2; pass++) {
    int fd[2];
    CHECK_EQ(pipe(fd), 0);
    CHECK_EQ(write(fd[1], buf, size), (ssize_t)size);
    close(fd[1]);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd[0]);
    if (pass == 0) {
      pj_image *back = pj_load(path, NULL);
      CHECK(back && images_equal(img, back));
      pj_image_release(back);
    } else {
      pj_image_info info;
      CHECK_EQ(pj_info(path, NULL, &info), PJ_OK);
      CHECK(info.width == 21 && info.height == 13 && info.channels == 3 && info.format == PJ_FMT_PNG);
    }
    close(fd[0]);
  }
  pj_free(buf);
  pj_image_release(img);
}

static void test_png_round_trip(void) {
  for (int c = 1; c <= 4; c++) {
    pj_image *img = pattern(37, 23, c);
    pj_image *view = pj_image_view(img, 3, 2, 30, 20);
    pj_encode_opts o = {0};
    o.format = PJ_FMT_PNG;
    o.compression = c == 1 ? 0 : 9;
    uint8_t *buf;
    size_t size;
    CHECK_EQ(pj_encode(view, &o, &buf, &size), PJ_OK);
    CHECK_EQ(pj_detect_format(buf, size), PJ_FMT_PNG);
    pj_image *back = pj_decode(buf, size, "rt.png", NULL);
    CHECK(images_equal(view, back));
    /* Every truncation is an error, never a crash or a partial image. */
    for (size_t cut = 0; cut < size; cut += 1 + size / 97) {
      pj_image *t = pj_decode(buf, cut, "cut.png", NULL);
      CHECK(t == NULL);
      pj_image_release(t);
    }
    /* A flipped bit anywhere after the signature fails (CRC or zlib check)
     * or, at worst, still yields a well-formed image. */
    for (size_t i = 8; i < size; i += 1 + size / 61) {
      buf[i] ^= 0x10;
      pj_image *t = pj_decode(buf, size, "flip.png", NULL);
      CHECK(t == NULL);
      if (!t) CHECK_STR_HAS(pj_errmsg(), "flip.png");
      pj_image_release(t);
      buf[i] ^= 0x10;
    }
    pj_free(buf);
    pj_image_release(back);
    pj_image_release(view);
    pj_image_release(img);
  }
}

/* Writes a JPEG with libjpeg directly, in the requested coding mode. */
typedef enum { BASELINE, PROGRESSIVE, ARITHMETIC, CMYK_ADOBE } jmode;

static uint8_t *write_jpeg(const pj_image *img, jmode mode, unsigned long *size) {
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr err;
  ci.err = jpeg_std_error(&err);
  jpeg_create_compress(&ci);
  unsigned char *out = NULL;
  *size = 0;
  jpeg_mem_dest(&ci, &out, size);
  ci.image_width = img->width;
  ci.image_height = img->height;
  ci.input_components = mode == CMYK_ADOBE ? 4 : img->channels;
  ci.in_color_space = mode == CMYK_ADOBE ? JCS_CMYK : img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&ci);
  jpeg_set_quality(&ci, 95, TRUE);
  if (mode == PROGRESSIVE) jpeg_simple_progression(&ci);
  if (mode == ARITHMETIC) ci.arith_code = TRUE;
  if (mode == CMYK_ADOBE) ci.write_Adobe_marker = TRUE;
  jpeg_start_compress(&ci, TRUE);
  while (ci.next_scanline < ci.image_height) {
    JSAMPROW row = img->data + (size_t)ci.next_scanline * img->stride;
    jpeg_write_scanlines(&ci, &row, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  return out;
}

static void test_jpeg_modes_agree(void) {
  for (int c = 1; c <= 3; c += 2) {
    pj_image *img = smooth(61, 45, c);
    unsigned long sb, sp, sa;
    uint8_t *b = write_jpeg(img, BASELINE, &sb);
    uint8_t *p = write_jpeg(img, PROGRESSIVE, &sp);
    uint8_t *a = write_jpeg(img, ARITHMETIC, &sa);
    pj_image *ib = pj_decode(b, sb, "base.jpg", NULL);
    pj_image *ip = pj_decode(p, sp, "prog.jpg", NULL);
    pj_image *ia = pj_decode(a, sa, "arith.jpg", NULL);
    CHECK(ib && ib->channels == c && ib->width == 61 && ib->height == 45);
    /* Progressive and arithmetic coding are lossless re-encodings of the same
     * quantised coefficients: the decoded pixels are identical. */
    CHECK(images_equal(ib, ip));
    CHECK(images_equal(ib, ia));
    /* Quality 95 on a smooth gradient: within 2 levels on average. */
    long sumdiff = 0;
    for (int y = 0; ib && y < 45; y++)
      for (int x = 0; x < 61 * c; x++)
        sumdiff += abs(ib->data[y * ib->stride + x] - img->data[y * img->stride + x]);
    CHECK(sumdiff <= 2 * 61 * 45 * c);
    /* A scan limit below the progressive file's scan count refuses it. */
    pj_decode_opts o = {.max_scans = 2};
    CHECK(pj_decode(p, sp, "prog.jpg", &o) == NULL);
    CHECK_EQ(pj_errcode(), PJ_ELIMIT);
    CHECK_STR_HAS(pj_errmsg(), "max_scans");
    /* Truncation: libjpeg's "premature end" warning is an error here. */
    CHECK(pj_decode(b, sb * 2 / 3, "short.jpg", NULL) == NULL);
    CHECK_STR_HAS(pj_errmsg(), "short.jpg: invalid JPEG");
    CHECK(pj_decode(p, sp / 2, "short.jpg", NULL) == NULL);
    for (unsigned long cut = 0; cut < sb; cut += 1 + sb / 50) {
      pj_image *t = pj_decode(b, cut, "cut.jpg", NULL);
      CHECK(t == NULL);
      pj_image_release(t);
    }
    pj_image_release(ib);
    pj_image_release(ip);
    pj_image_release(ia);
    free(b);
    free(p);
    free(a);
    pj_image_release(img);
  }
}

static void test_jpeg_corrupt_data_is_error(void) {
  pj_image *img = pattern(64, 64, 3);
  unsigned long size;
  uint8_t *b = write_jpeg(img, BASELINE, &size);
  /* Garbage inserted before the EOI marker: "extraneous bytes" warning. */
  uint8_t *bad = malloc(size + 4);
  memcpy(bad, b, size - 2);
  memcpy(bad + size - 2, "\x12\x34\x56\x78", 4);
  memcpy(bad + size + 2, b + size - 2, 2);
  CHECK(pj_decode(bad, size + 4, "garbage.jpg", NULL) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ECORRUPT);
  CHECK_STR_HAS(pj_errmsg(), "garbage.jpg");
  free(bad);
  free(b);
  pj_image_release(img);
}

static void test_jpeg_cmyk_converted(void) {
  /* Adobe CMYK stores inverted ink: (255,255,255,255) is white, and
   * (255,0,255,255) is no cyan/yellow, full magenta: RGB (255, 0, 255). */
  pj_image *cmyk = pj_image_new(16, 16, 4, 0);
  uint8_t ink[4] = {255, 0, 255, 255};
  pj_image_fill(cmyk, ink);
  unsigned long size;
  uint8_t *j = write_jpeg(cmyk, CMYK_ADOBE, &size);
  pj_image *img = pj_decode(j, size, "cmyk.jpg", NULL);
  CHECK(img && img->channels == 3);
  if (img) {
    CHECK(img->data[0] >= 250);
    CHECK(img->data[1] <= 5);
    CHECK(img->data[2] >= 250);
  }
  pj_image_release(img);
  free(j);
  pj_image_release(cmyk);
}

static void test_jpeg_encode_round_trip(void) {
  pj_image *img = pattern(50, 40, 4);
  pj_encode_opts o = {0};
  o.format = PJ_FMT_JPEG;
  o.quality = 100;
  uint8_t *buf;
  size_t size;
  /* RGBA saves as RGB (JPEG has no alpha). */
  CHECK_EQ(pj_encode(img, &o, &buf, &size), PJ_OK);
  pj_image *back = pj_decode(buf, size, NULL, NULL);
  CHECK(back && back->channels == 3 && back->width == 50);
  pj_free(buf);
  o.progressive = 1;
  CHECK_EQ(pj_encode(img, &o, &buf, &size), PJ_OK);
  pj_image *prog = pj_decode(buf, size, NULL, NULL);
  CHECK(images_equal(back, prog));
  pj_free(buf);
  o.quality = 101;
  CHECK_EQ(pj_encode(img, &o, &buf, &size), PJ_EARG);
  CHECK_STR_HAS(pj_errmsg(), "quality must be 1 to 100, got 101");
  /* A zeroed quality is the default (90), not an error. */
  o.quality = 0;
  CHECK_EQ(pj_encode(img, &o, &buf, &size), PJ_OK);
  pj_free(buf);
  pj_image_release(prog);
  pj_image_release(back);
  pj_image_release(img);
}

static void test_detection_by_content(void) {
  /* A JPEG written under a .png name loads as a JPEG. */
  pj_image *img = pattern(20, 10, 3);
  pj_encode_opts o = {0};
  o.format = PJ_FMT_JPEG;
  char path[512];
  snprintf(path, sizeof path, "%s", tmp_path("jpeg_named.png"));
  CHECK_EQ(pj_save(img, path, &o), PJ_OK);
  pj_image *back = pj_load(path, NULL);
  CHECK(back && back->width == 20 && back->channels == 3);
  pj_image_release(back);
  remove(path);
  CHECK(pj_load(tmp_path("does-not-exist.png"), NULL) == NULL);
  CHECK_EQ(pj_errcode(), PJ_EIO);
  CHECK_STR_HAS(pj_errmsg(), "does-not-exist.png: No such file");
  CHECK(pj_decode("GIF89a....", 10, "anim.gif", NULL) == NULL);
  CHECK_EQ(pj_errcode(), PJ_EFORMAT);
  CHECK_STR_HAS(pj_errmsg(), "anim.gif: not a PNG, JPEG, TIFF or WebP file");
  CHECK(pj_decode("", 0, NULL, NULL) == NULL);
  CHECK_STR_HAS(pj_errmsg(), "<memory>");
  CHECK_EQ(pj_save(img, tmp_path("x.bmp"), NULL), PJ_EARG);
  CHECK_STR_HAS(pj_errmsg(), "x.bmp: unknown image extension");
  CHECK_EQ(pj_save(img, "/nonexistent-dir/x.png", NULL), PJ_EIO);
  CHECK_STR_HAS(pj_errmsg(), "/nonexistent-dir/x.png");
  pj_image_release(img);
}

/* img as a PNG with the default options (pj_free it). */
static uint8_t *encode_png(const pj_image *img, size_t *size) {
  pj_encode_opts o = {0};
  o.format = PJ_FMT_PNG;
  uint8_t *buf = NULL;
  CHECK_EQ(pj_encode(img, &o, &buf, size), PJ_OK);
  return buf;
}

/* Recomputes the CRC of the PNG chunk at c (length, type, len data bytes,
 * CRC), after a test has edited its data. */
static void fix_chunk_crc(uint8_t *c, uint32_t len) {
  uint32_t crc = (uint32_t)crc32(0, c + 4, len + 4);
  uint8_t *at = c + 8 + len;
  at[0] = crc >> 24, at[1] = crc >> 16, at[2] = crc >> 8, at[3] = crc;
}

/* A PNG header claiming huge dimensions is refused before any decode. */
static void test_png_dimension_limit(void) {
  pj_image *img = pattern(64, 64, 1);
  size_t size;
  uint8_t *buf = encode_png(img, &size);
  pj_decode_opts d = {.max_pixels = 4095};
  CHECK(pj_decode(buf, size, "small.png", &d) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ELIMIT);
  CHECK_STR_HAS(pj_errmsg(), "small.png: 64x64 image exceeds the pixel limit of 4095");
  d.max_pixels = 4096;
  pj_image *ok = pj_decode(buf, size, "small.png", &d);
  CHECK(ok != NULL);
  pj_image_release(ok);
  /* Rewrite IHDR (13 data bytes at 16) to 100000 x 100000 with a valid CRC. */
  buf[16] = 0, buf[17] = 0x01, buf[18] = 0x86, buf[19] = 0xa0;
  buf[20] = 0, buf[21] = 0x01, buf[22] = 0x86, buf[23] = 0xa0;
  fix_chunk_crc(buf + 8, 13);
  long rss0 = rss_kb();
  CHECK(pj_decode(buf, size, "bomb.png", NULL) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ELIMIT);
  CHECK_STR_HAS(pj_errmsg(), "100000x100000");
  CHECK(rss_kb() - rss0 < 8 * 1024);
  pj_free(buf);
  pj_image_release(img);
}

/* The chunk CRC covers every compressed byte, so the zlib Adler-32 is not
 * checked again: a stream whose Adler-32 alone is wrong (CRC recomputed)
 * still decodes to the same pixels, while any flipped data bit fails. */
static void test_png_adler_not_rechecked(void) {
  pj_image *img = pattern(37, 23, 3);
  size_t size;
  uint8_t *buf = encode_png(img, &size);
  /* Find the (single) IDAT chunk: length, type, data, CRC. */
  size_t at = 8, idat = 0;
  uint32_t len = 0;
  while (at + 12 <= size) {
    len = (uint32_t)buf[at] << 24 | (uint32_t)buf[at + 1] << 16 | (uint32_t)buf[at + 2] << 8 | buf[at + 3];
    if (!memcmp(buf + at + 4, "IDAT", 4)) {
      idat = at;
      break;
    }
    at += 12 + len;
  }
  CHECK(idat > 0 && len > 4);
  if (idat > 0 && len > 4) {
    buf[idat + 8 + len - 1] ^= 0x5a; /* last Adler-32 byte */
    fix_chunk_crc(buf + idat, len);
    pj_image *back = pj_decode(buf, size, "adler.png", NULL);
    CHECK(back && images_equal(img, back));
    pj_image_release(back);
    buf[idat + 8 + 2] ^= 0x01; /* a data byte, CRC now stale */
    CHECK(pj_decode(buf, size, "crc.png", NULL) == NULL);
    CHECK_STR_HAS(pj_errmsg(), "crc.png");
  }
  pj_free(buf);
  pj_image_release(img);
}

int main(void) {
  RUN(test_pngsuite);
  RUN(test_pngsuite_known_values);
  RUN(test_crashers);
  RUN(test_png_round_trip);
  RUN(test_jpeg_modes_agree);
  RUN(test_jpeg_corrupt_data_is_error);
  RUN(test_jpeg_cmyk_converted);
  RUN(test_jpeg_encode_round_trip);
  RUN(test_detection_by_content);
  RUN(test_png_dimension_limit);
  RUN(test_png_adler_not_rechecked);
  RUN(test_load_from_pipe);
  return finish("codec");
}
