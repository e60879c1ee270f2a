/*
 * test_colors.c - main-colour counts against hand-computed values and a
 * brute-force 2^24-table reference, including the grouped and heavy-red
 * paths that only large images reach, for 1 and N threads, with the
 * count in runs and pixel by pixel.
 */
#include "check.h"
#include "internal.h"
#include "pixjit.h"

#include <stdint.h>

static pj_color_count out[64];
static pj_colors_summary sum;

static pj_image *from_pixels(int w, int h, int c, const uint8_t *px) {
  pj_image *img = pj_image_new(w, h, c, 0);
  for (int y = 0; y < h; y++) memcpy(img->data + (size_t)y * img->stride, px + (size_t)y * w * c, (size_t)w * c);
  return img;
}

static void test_hand_counted_rgba(void) {
  /* Counts: red x3 (alpha 255, 1, 128), blue x3, green x1; black only at
   * alpha 0 (ignored).  Red and blue tie at 3: red 0xFF0000 > blue 0x0000FF,
   * so blue ranks first. */
  const uint8_t px[] = {
      255, 0, 0, 255,  0, 0, 255, 255,  0, 0, 0, 0,    0, 255, 0, 9,
      255, 0, 0, 1,    0, 0, 255, 7,    0, 0, 0, 0,    255, 0, 0, 128,
      0, 0, 255, 200,  0, 0, 0, 0,      0, 0, 0, 0,    0, 0, 0, 0,
  };
  pj_image *img = from_pixels(4, 3, 4, px);
  CHECK_EQ(pj_main_colors(img, 10, NULL, out, &sum), PJ_OK);
  CHECK_EQ(sum.counted, 7);
  CHECK_EQ(sum.distinct, 3);
  CHECK_EQ(sum.n, 3);
  CHECK_EQ(out[0].rgb, 0x0000FF);
  CHECK_EQ(out[0].count, 3);
  CHECK_EQ(out[1].rgb, 0xFF0000);
  CHECK_EQ(out[1].count, 3);
  CHECK_EQ(out[2].rgb, 0x00FF00);
  CHECK_EQ(out[2].count, 1);
  /* n smaller than the distinct count keeps the best. */
  CHECK_EQ(pj_main_colors(img, 1, NULL, out, &sum), PJ_OK);
  CHECK_EQ(sum.n, 1);
  CHECK_EQ(out[0].rgb, 0x0000FF);
  CHECK_EQ(sum.distinct, 3);
  /* Threshold 128: red keeps 2 (255, 128), blue 2 (255, 200), green drops. */
  pj_colors_opts o = {0};
  o.min_alpha = 128;
  CHECK_EQ(pj_main_colors(img, 10, &o, out, &sum), PJ_OK);
  CHECK_EQ(sum.counted, 4);
  CHECK_EQ(sum.n, 2);
  CHECK_EQ(out[0].count, 2);
  CHECK_EQ(out[1].count, 2);
  /* Threshold 0 counts every pixel: black x5 wins. */
  o.all_pixels = 1;
  CHECK_EQ(pj_main_colors(img, 10, &o, out, &sum), PJ_OK);
  CHECK_EQ(sum.counted, 12);
  CHECK_EQ(out[0].rgb, 0x000000);
  CHECK_EQ(out[0].count, 5);
  /* A view (stride 16, offset) counts only its own pixels. */
  pj_image *v = pj_image_view(img, 1, 0, 2, 2);
  CHECK_EQ(pj_main_colors(v, 10, NULL, out, &sum), PJ_OK);
  CHECK_EQ(sum.counted, 2);
  CHECK_EQ(out[0].rgb, 0x0000FF);
  CHECK_EQ(out[0].count, 2);
  pj_image_release(v);
  pj_image_release(img);
}

static void test_channels(void) {
  const uint8_t g[] = {5, 5, 9, 5, 9, 200};
  pj_image *img = from_pixels(3, 2, 1, g);
  CHECK_EQ(pj_main_colors(img, 5, NULL, out, &sum), PJ_OK);
  CHECK_EQ(sum.counted, 6);
  CHECK_EQ(out[0].rgb, 0x050505);
  CHECK_EQ(out[0].count, 3);
  CHECK_EQ(out[1].rgb, 0x090909);
  CHECK_EQ(out[2].rgb, 0xC8C8C8);
  pj_image_release(img);
  const uint8_t ga[] = {5, 0, 5, 255, 9, 3, 9, 0};
  img = from_pixels(4, 1, 2, ga);
  CHECK_EQ(pj_main_colors(img, 5, NULL, out, &sum), PJ_OK);
  CHECK_EQ(sum.counted, 2);
  CHECK_EQ(sum.distinct, 2);
  CHECK_EQ(out[0].rgb, 0x050505);
  pj_image_release(img);
  const uint8_t rgb[] = {1, 2, 3, 1, 2, 3, 3, 2, 1};
  img = from_pixels(3, 1, 3, rgb);
  CHECK_EQ(pj_main_colors(img, 5, NULL, out, &sum), PJ_OK);
  CHECK_EQ(sum.counted, 3);
  CHECK_EQ(out[0].rgb, 0x010203);
  CHECK_EQ(out[0].count, 2);
  pj_image_release(img);
}

static void test_nothing_visible(void) {
  pj_image *img = pj_image_new(10, 10, 4, 0);
  CHECK_EQ(pj_main_colors(img, 6, NULL, out, &sum), PJ_OK);
  CHECK_EQ(sum.counted, 0);
  CHECK_EQ(sum.distinct, 0);
  CHECK_EQ(sum.n, 0);
  pj_image_release(img);
}

static void test_quantise_and_mask(void) {
  /* 0x10, 0x11, 0x1F share their top 4 bits; their mean is 0x15 (21.33). */
  const uint8_t px[] = {0x10, 0, 0, 0x11, 0, 0, 0x1F, 0, 0, 0x80, 0, 0};
  pj_image *img = from_pixels(4, 1, 3, px);
  const uint8_t m[] = {0, 1, 0, 255};
  pj_image *mask = from_pixels(4, 1, 1, m);
  pj_colors_opts o = {0};
  for (int method = 1; method <= 5; method++) {
    pj_colors_force(method);
    o = (pj_colors_opts){0};
    o.bits = 4;
    CHECK_EQ(pj_main_colors(img, 5, &o, out, &sum), PJ_OK);
    CHECK_EQ(sum.distinct, 2);
    CHECK_EQ(out[0].count, 3);
    CHECK_EQ(out[0].rgb, 0x150000);
    CHECK_EQ(out[1].rgb, 0x800000);
    o = (pj_colors_opts){0};
    o.mask = mask;
    CHECK_EQ(pj_main_colors(img, 5, &o, out, &sum), PJ_OK);
    CHECK_EQ(sum.counted, 2);
    CHECK_EQ(out[0].rgb, 0x110000);
    CHECK_EQ(out[1].rgb, 0x800000);
  }
  pj_colors_force(0);
  pj_image *bad = pj_image_new(3, 1, 1, 0);
  o.mask = bad;
  CHECK_EQ(pj_main_colors(img, 5, &o, out, &sum), PJ_EARG);
  CHECK_STR_HAS(pj_errmsg(), "mask must be a 1-channel 4x1 image");
  o.mask = NULL;
  o.bits = 9;
  CHECK_EQ(pj_main_colors(img, 5, &o, out, &sum), PJ_EARG);
  CHECK_EQ(pj_main_colors(img, -1, NULL, out, &sum), PJ_EARG);
  pj_image_release(bad);
  pj_image_release(mask);
  pj_image_release(img);
}

/* Brute force: one 2^24 table, then a full sort by the same rule. */
static int cmp_rank(const void *pa, const void *pb) {
  const pj_color_count *a = pa, *b = pb;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  return a->rgb < b->rgb ? -1 : a->rgb > b->rgb;
}

/* The counts by brute force over a 2^24 table, with opts' min_alpha and
 * mask (bits must be 8). */
static int64_t reference_opts(const pj_image *img, const pj_colors_opts *o, int n,
                              pj_color_count *ref, int64_t *distinct) {
  uint32_t *tab = calloc(1u << 24, sizeof *tab);
  int64_t counted = 0;
  const int C = img->channels;
  const int amin = o->all_pixels ? 0 : o->min_alpha ? o->min_alpha : 1;
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++) {
      const uint8_t *p = img->data + (size_t)y * img->stride + (size_t)x * C;
      if (o->mask && !o->mask->data[(size_t)y * o->mask->stride + x]) continue;
      if ((C == 2 || C == 4) && p[C - 1] < amin) continue;
      uint32_t k = C >= 3 ? (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2] : p[0] * 0x010101u;
      tab[k]++;
      counted++;
    }
  int64_t d = 0;
  for (uint32_t k = 0; k < (1u << 24); k++) d += tab[k] != 0;
  pj_color_count *all = malloc(sizeof *all * (size_t)(d ? d : 1));
  d = 0;
  for (uint32_t k = 0; k < (1u << 24); k++)
    if (tab[k]) all[d++] = (pj_color_count){.count = tab[k], .rgb = k};
  qsort(all, (size_t)d, sizeof *all, cmp_rank);
  memcpy(ref, all, sizeof *ref * (size_t)(d < n ? d : n));
  free(all);
  free(tab);
  *distinct = d;
  return counted;
}

static void compare_opts(pj_image *img, const pj_colors_opts *o, const char *what) {
  pj_color_count ref[64];
  int64_t distinct;
  int64_t counted = reference_opts(img, o, 64, ref, &distinct);
  int threads[] = {1, 2, 3, 8};
  static const char *method[] = {"chosen", "runs", "pixels", "runs, two reads", "pixels, two reads",
                                 "pixels, own reds"};
  for (int m = 0; m < 6; m++)
    for (int t = 0; t < 4; t++) {
      pj_colors_force(m);
      pj_threads_set(threads[t]);
      memset(out, 0, sizeof out);
      CHECK_EQ(pj_main_colors(img, 64, o, out, &sum), PJ_OK);
      CHECK_EQ(sum.counted, counted);
      CHECK_EQ(sum.distinct, distinct);
      int bad = 0;
      for (int i = 0; i < sum.n; i++) bad += out[i].rgb != ref[i].rgb || out[i].count != ref[i].count;
      if (bad) fprintf(stderr, "  %s, %s, %d threads: %d entries differ\n", what, method[m], threads[t], bad);
      CHECK_EQ(bad, 0);
    }
  pj_colors_force(0);
  pj_threads_set(0);
}

static void compare_with_reference(pj_image *img, const char *what) {
  pj_colors_opts o = {0};
  compare_opts(img, &o, what);
}

/* Every channel count, wide enough for the 8-pixel path and its tails,
 * with alpha thresholds, masks and views. */
static void test_channels_wide(void) {
  for (int C = 1; C <= 4; C++) {
    pj_image *img = pj_image_new(301, 97, C, 0);
    pj_image *mask = pj_image_new(301, 97, 1, 0);
    for (int y = 0; y < 97; y++)
      for (int x = 0; x < 301; x++) {
        uint8_t *p = img->data + (size_t)y * img->stride + (size_t)x * C;
        /* Runs of a few colours broken by noise, and partial alpha. */
        unsigned v = (x / 7 + y / 5) % 6, noise = rnd() % 8 == 0;
        for (int c = 0; c < C; c++) p[c] = (uint8_t)(noise ? rnd() : v * 40 + c * 9);
        if (C == 2 || C == 4) p[C - 1] = (uint8_t)(x % 13 < 2 ? 0 : x % 13 < 4 ? 40 : 255);
        mask->data[(size_t)y * mask->stride + x] = (uint8_t)((x / 3 + y) % 5 != 0);
      }
    char what[64];
    pj_colors_opts o = {0};
    snprintf(what, sizeof what, "%d channels", C);
    compare_opts(img, &o, what);
    o.min_alpha = 41;
    snprintf(what, sizeof what, "%d channels, min_alpha 41", C);
    compare_opts(img, &o, what);
    o.min_alpha = 0;
    o.all_pixels = 1;
    o.mask = mask;
    snprintf(what, sizeof what, "%d channels, mask", C);
    compare_opts(img, &o, what);
    pj_image *v = pj_image_view(img, 3, 2, 290, 90), *mv = pj_image_view(mask, 3, 2, 290, 90);
    o.mask = mv;
    snprintf(what, sizeof what, "%d channels, view with mask", C);
    compare_opts(v, &o, what);
    o.mask = NULL;
    snprintf(what, sizeof what, "%d channels, view", C);
    compare_opts(v, &o, what);
    pj_image_release(v), pj_image_release(mv), pj_image_release(mask), pj_image_release(img);
  }
}

static void test_random_small(void) {
  /* Few colours, in runs and scattered, with transparent holes. */
  pj_image *img = pj_image_new(301, 177, 4, 0);
  for (int i = 0; i < 301 * 177; i++) {
    uint8_t *p = img->data + (size_t)i * 4;
    unsigned v = rnd() % 40;
    p[0] = (uint8_t)(v * 7), p[1] = (uint8_t)(v * 3), p[2] = (uint8_t)(i / 1000);
    p[3] = rnd() % 5 ? 255 : 0;
  }
  compare_with_reference(img, "random small");
  pj_image_release(img);
}

static void test_large_paths(void) {
  /* More runs than the 4 Mi-entry scratch: processed in groups of reds.
   * The width leaves a tail after each group of eight pixels. */
  pj_image *img = pj_image_new(2203, 2000, 3, 0);
  for (size_t i = 0; i < (size_t)2203 * 2000 * 3; i++) img->data[i] = (uint8_t)rnd();
  compare_with_reference(img, "noisy 4.4 Mpx");
  /* One red value with more runs than the scratch: counted directly. */
  for (size_t i = 0; i < (size_t)2203 * 2000; i++) img->data[i * 3] = 7;
  compare_with_reference(img, "one red, 4.4 Mpx");
  pj_image_release(img);
  /* RGBA, nearly all visible: more runs than pass 1 keeps (rows are walked
   * again) and than the scratch holds (groups of reds). */
  img = pj_image_new(2203, 2000, 4, 0);
  for (size_t i = 0; i < (size_t)2203 * 2000; i++) {
    uint8_t *p = img->data + i * 4;
    p[0] = (uint8_t)rnd(), p[1] = (uint8_t)rnd(), p[2] = (uint8_t)rnd();
    p[3] = rnd() % 50 ? 255 : 0;
  }
  compare_with_reference(img, "noisy RGBA 4.4 Mpx");
  pj_image_release(img);
  /* Every other pixel one colour, the rest noise: a red bucket with more
   * than 65,535 entries, one colour of them counted 120,000 times. */
  img = pj_image_new(601, 400, 3, 0);
  for (size_t i = 0; i < (size_t)601 * 400; i++) {
    uint8_t *p = img->data + i * 3;
    p[0] = i % 2 ? 5 : (uint8_t)rnd(), p[1] = i % 2 ? 9 : (uint8_t)rnd(), p[2] = i % 2 ? 9 : (uint8_t)rnd();
  }
  compare_with_reference(img, "one colour in every other pixel");
  pj_image_release(img);
}

/* RGBA runs longer than a bucket entry holds (65535), across rows, and
 * views whose width leaves a tail after each group of eight pixels. */
static void test_long_runs_rgba(void) {
  pj_image *img = pj_image_new(640, 480, 4, 0);
  for (size_t i = 0; i < (size_t)640 * 480; i++) {
    uint8_t *p = img->data + i * 4;
    p[0] = 10, p[1] = 20, p[2] = 30, p[3] = 255;
    if (i % 100003 == 7) p[0] = 11; /* a few single pixels break the run */
    if (i >= 200000 && i < 200013) p[3] = 0; /* a transparent gap */
  }
  compare_with_reference(img, "flat RGBA");
  pj_image *v = pj_image_view(img, 3, 5, 613, 401);
  compare_with_reference(v, "flat RGBA view");
  pj_image_release(v);
  pj_image_release(img);
}

/* Extreme shapes: one very long row (many groups of eight, long runs across
 * it), one very tall column (no group of eight at all), for every channel
 * count. */
static void test_extreme_shapes(void) {
  const int32_t dims[2][2] = {{70001, 2}, {1, 70001}};
  for (int s = 0; s < 2; s++)
    for (int C = 1; C <= 4; C++) {
      pj_image *img = pj_image_new(dims[s][0], dims[s][1], C, 0);
      for (int32_t y = 0; y < img->height; y++)
        for (int32_t x = 0; x < img->width; x++) {
          uint8_t *p = img->data + (size_t)y * img->stride + (size_t)x * C;
          int32_t i = x + y;
          for (int c = 0; c < C; c++) p[c] = (uint8_t)(i / 5000 % 2 ? 200u + (unsigned)c : rnd() % 4);
          if (C == 2 || C == 4) p[C - 1] = i % 3000 < 7 ? 0 : 255;
        }
      char what[64];
      snprintf(what, sizeof what, "%dx%d, %d channels", img->width, img->height, C);
      compare_with_reference(img, what);
      pj_image_release(img);
    }
}

/* Quantised counts with n in the hundreds of thousands: every bucket of a
 * noisy image is returned, each once, and their counts add up. */
static void test_quantised_many(void) {
  pj_image *img = pj_image_new(600, 600, 3, 0);
  for (size_t i = 0; i < (size_t)600 * 600 * 3; i++) img->data[i] = (uint8_t)rnd();
  pj_colors_opts o = {0};
  o.bits = 6;
  int32_t n = 1 << 18; /* 2^(3*6) buckets at most */
  pj_color_count *many = malloc(sizeof *many * (size_t)n);
  for (int method = 1; method <= 5; method++) {
    pj_colors_force(method);
    pj_colors_summary s;
    CHECK_EQ(pj_main_colors(img, n, &o, many, &s), PJ_OK);
    CHECK_EQ(s.n, s.distinct);
    int64_t sum = 0;
    int bad = 0;
    for (int32_t i = 0; i < s.n; i++) {
      sum += many[i].count;
      if (i && many[i].count > many[i - 1].count) bad++;
    }
    CHECK_EQ(sum, 600 * 600);
    CHECK_EQ(bad, 0);
  }
  pj_colors_force(0);
  free(many);
  pj_image_release(img);
}

static void test_palette(void) {
  uint32_t rgb[3] = {0xFF0000, 0x00FF00, 0x123456};
  pj_image *p = pj_palette(rgb, 3, 64, 512);
  CHECK(p && p->width == 512 && p->height == 192 && p->channels == 3);
  uint8_t px[3];
  pj_image_get(p, 511, 63, px);
  CHECK(px[0] == 255 && px[1] == 0 && px[2] == 0);
  pj_image_get(p, 0, 64, px);
  CHECK(px[0] == 0 && px[1] == 255);
  pj_image_get(p, 300, 191, px);
  CHECK(px[0] == 0x12 && px[1] == 0x34 && px[2] == 0x56);
  pj_image_release(p);
  CHECK(pj_palette(rgb, 0, 64, 512) == NULL);
  CHECK(pj_palette(rgb, 3, 0, 512) == NULL);
}

/* Count tables are kept between calls, zeroed by the count that used
 * them: a photo-like image (every colour new, 16- and 32-bit counts) and
 * then a flat one must each match the reference, with the tables kept,
 * after pj_cache_limit(0) has freed them, and with none kept at all. */
static void test_tables_kept(void) {
  pj_image *noisy = pj_image_new(320, 256, 3, 0), *flat = pj_image_new(199, 101, 4, 0);
  for (int i = 0; i < 320 * 256; i++) {
    uint8_t *p = noisy->data + (size_t)(i / 320) * noisy->stride + (size_t)(i % 320) * 3;
    const unsigned v = rnd();
    /* Red 0 in four pixels of five, so that it holds more than 65,535
     * entries (32-bit counts) while the other reds hold few (16-bit). */
    p[0] = (uint8_t)(i % 5 ? 0 : v >> 24), p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16);
  }
  for (int i = 0; i < 199 * 101; i++) {
    uint8_t *p = flat->data + (size_t)(i / 199) * flat->stride + (size_t)(i % 199) * 4;
    p[0] = (uint8_t)(i / 3000), p[1] = 7, p[2] = (uint8_t)(i % 2), p[3] = 255;
  }
  const int64_t limit = pj_cache_limit(-1);
  for (int round = 0; round < 3; round++) {
    if (round == 1) pj_cache_limit(0);
    if (round == 2) pj_cache_limit(limit);
    compare_with_reference(noisy, "noisy, tables kept");
    compare_with_reference(flat, "flat after noisy");
    compare_with_reference(noisy, "noisy after flat");
  }
  CHECK_EQ(pj_cache_limit(-1), limit);
  pj_image_release(noisy), pj_image_release(flat);
}

int main(void) {
  RUN(test_hand_counted_rgba);
  RUN(test_channels);
  RUN(test_nothing_visible);
  RUN(test_quantise_and_mask);
  RUN(test_random_small);
  RUN(test_large_paths);
  RUN(test_long_runs_rgba);
  RUN(test_channels_wide);
  RUN(test_extreme_shapes);
  RUN(test_quantised_many);
  RUN(test_palette);
  RUN(test_tables_kept);
  return finish("colors");
}
