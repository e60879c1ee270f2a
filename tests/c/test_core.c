/*
 * test_core.c - images, views, limits, conversions and error reporting.
 */
#include "check.h"
#include "pixjit.h"

#include <pthread.h>
#include <stdint.h>

static void test_new_is_zeroed(void) {
  pj_image *img = pj_image_new(7, 5, 3, 0);
  CHECK(img != NULL);
  CHECK_EQ(img->width, 7);
  CHECK_EQ(img->height, 5);
  CHECK_EQ(img->channels, 3);
  CHECK_EQ(img->stride, 21);
  int nonzero = 0;
  for (int i = 0; i < 7 * 5 * 3; i++) nonzero += img->data[i] != 0;
  CHECK_EQ(nonzero, 0);
  CHECK_EQ(pj_image_refs(img), 1);
  pj_image_release(img);
}

static void test_bad_dimensions(void) {
  CHECK(pj_image_new(0, 5, 1, 0) == NULL);
  CHECK_EQ(pj_errcode(), PJ_EARG);
  CHECK(pj_image_new(5, -1, 1, 0) == NULL);
  CHECK_EQ(pj_errcode(), PJ_EARG);
  CHECK(pj_image_new(5, 5, 0, 0) == NULL);
  CHECK_STR_HAS(pj_errmsg(), "channels must be 1 to 4");
  CHECK(pj_image_new(5, 5, 5, 0) == NULL);
  CHECK_EQ(pj_errcode(), PJ_EARG);
}

static void test_pixel_limit(void) {
  /* 13,378 x 13,378 = 178,970,884 > 178,956,970: refused before allocating. */
  CHECK(pj_image_new(13378, 13378, 1, 0) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ELIMIT);
  CHECK_STR_HAS(pj_errmsg(), "pixel limit of 178956970");
  CHECK_STR_HAS(pj_errmsg(), "max_pixels");
  /* Overridable per call, both ways. */
  CHECK(pj_image_new(1000, 1000, 1, 999999) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ELIMIT);
  pj_image *ok = pj_image_new(1000, 1000, 1, 1000000);
  CHECK(ok != NULL);
  pj_image_release(ok);
  /* Products that overflow 32 or 64 bits are refused, not wrapped. */
  CHECK(pj_image_new(INT32_MAX, INT32_MAX, 4, INT64_MAX) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ELIMIT);
  CHECK(pj_image_new(INT32_MAX / 2, 1, 4, INT64_MAX) == NULL);
  CHECK_EQ(pj_errcode(), PJ_ELIMIT);
}

static void test_view_shares_pixels(void) {
  pj_image *img = pj_image_new(10, 8, 2, 0);
  pj_image *v = pj_image_view(img, 3, 2, 4, 5);
  CHECK(v != NULL);
  CHECK_EQ(v->width, 4);
  CHECK_EQ(v->height, 5);
  CHECK_EQ(v->stride, 20);
  CHECK_EQ(pj_image_refs(img), 2);
  uint8_t px[2] = {11, 22}, got[2];
  CHECK_EQ(pj_image_set(v, 1, 1, px), PJ_OK);
  CHECK_EQ(pj_image_get(img, 4, 3, got), PJ_OK);
  CHECK_EQ(got[0], 11);
  CHECK_EQ(got[1], 22);
  /* A view of a view offsets from the inner view. */
  pj_image *vv = pj_image_view(v, 1, 1, 2, 2);
  CHECK_EQ(pj_image_get(vv, 0, 0, got), PJ_OK);
  CHECK_EQ(got[0], 11);
  CHECK_EQ(pj_image_refs(img), 3);
  /* Views keep the buffer alive after the parent is gone. */
  pj_image_release(img);
  CHECK_EQ(pj_image_refs(v), 2);
  CHECK_EQ(pj_image_get(v, 1, 1, got), PJ_OK);
  CHECK_EQ(got[1], 22);
  pj_image_release(v);
  CHECK_EQ(pj_image_get(vv, 0, 0, got), PJ_OK);
  CHECK_EQ(got[0], 11);
  pj_image_release(vv);
}

static void test_view_bounds(void) {
  pj_image *img = pj_image_new(10, 8, 1, 0);
  CHECK(pj_image_view(img, 7, 0, 4, 1) == NULL);
  CHECK_STR_HAS(pj_errmsg(), "w must be 1 to 3, got 4");
  CHECK(pj_image_view(img, -1, 0, 1, 1) == NULL);
  CHECK_STR_HAS(pj_errmsg(), "x must be 0 to 9, got -1");
  CHECK(pj_image_view(img, 0, 8, 1, 1) == NULL);
  CHECK_STR_HAS(pj_errmsg(), "y must be 0 to 7, got 8");
  CHECK(pj_image_view(img, 0, 0, 0, 1) == NULL);
  CHECK(pj_image_view(img, 0, 2, 1, 7) == NULL);
  CHECK_STR_HAS(pj_errmsg(), "h must be 1 to 6, got 7");
  CHECK(pj_image_view(img, 1, 1, INT32_MAX, 1) == NULL);
  CHECK(pj_image_view(img, INT32_MAX, 0, INT32_MAX, 1) == NULL);
  CHECK_EQ(pj_image_refs(img), 1);
  pj_image_release(img);
}

static void test_clone_is_independent(void) {
  pj_image *img = pj_image_new(6, 4, 3, 0);
  for (int i = 0; i < 6 * 4 * 3; i++) img->data[i] = (uint8_t)i;
  pj_image *v = pj_image_view(img, 1, 1, 3, 2);
  pj_image *c = pj_image_clone(v);
  CHECK_EQ(c->stride, 9);
  CHECK_EQ(pj_image_refs(c), 1);
  uint8_t got[3];
  pj_image_get(c, 0, 0, got);
  CHECK_EQ(got[0], (1 * 18 + 3));
  c->data[0] = 250;
  pj_image_get(img, 1, 1, got);
  CHECK_EQ(got[0], 21);
  pj_image_release(c);
  pj_image_release(v);
  pj_image_release(img);
}

static void test_get_set_bounds(void) {
  pj_image *img = pj_image_new(3, 3, 4, 0);
  uint8_t px[4] = {1, 2, 3, 4};
  CHECK_EQ(pj_image_set(img, 3, 0, px), PJ_EARG);
  CHECK_STR_HAS(pj_errmsg(), "(3, 0) is outside the 3x3 image");
  CHECK_EQ(pj_image_get(img, 0, -1, px), PJ_EARG);
  CHECK_EQ(pj_image_get(NULL, 0, 0, px), PJ_EARG);
  pj_image_release(img);
}

static void test_fill_and_copy(void) {
  pj_image *img = pj_image_new(5, 4, 3, 0);
  uint8_t v[3] = {9, 8, 7};
  pj_image *view = pj_image_view(img, 1, 1, 3, 2);
  CHECK_EQ(pj_image_fill(view, v), PJ_OK);
  uint8_t got[3];
  pj_image_get(img, 0, 0, got);
  CHECK_EQ(got[0], 0);
  pj_image_get(img, 3, 2, got);
  CHECK_EQ(got[0], 9);
  CHECK_EQ(got[2], 7);
  pj_image_get(img, 4, 2, got);
  CHECK_EQ(got[1], 0);
  /* Overlapping copy inside one buffer: shift the block down one row. */
  pj_image *below = pj_image_view(img, 1, 2, 3, 2);
  CHECK_EQ(pj_image_copy(below, view), PJ_OK);
  pj_image_get(img, 2, 3, got);
  CHECK_EQ(got[1], 8);
  pj_image_get(img, 2, 2, got);
  CHECK_EQ(got[1], 8);
  pj_image *small = pj_image_new(2, 2, 3, 0);
  CHECK_EQ(pj_image_copy(small, view), PJ_EARG);
  pj_image_release(small);
  pj_image_release(below);
  pj_image_release(view);
  pj_image_release(img);
}

static void test_convert(void) {
  pj_image *rgb = pj_image_new(3, 1, 3, 0);
  uint8_t r[3] = {255, 0, 0}, g[3] = {0, 255, 0}, b[3] = {0, 0, 255};
  pj_image_set(rgb, 0, 0, r);
  pj_image_set(rgb, 1, 0, g);
  pj_image_set(rgb, 2, 0, b);
  /* OpenCV's COLOR_RGB2GRAY gives 76, 150 and 29 for pure R, G, B. */
  pj_image *gray = pj_image_convert(rgb, 1);
  CHECK_EQ(gray->data[0], 76);
  CHECK_EQ(gray->data[1], 150);
  CHECK_EQ(gray->data[2], 29);
  pj_image *rgba = pj_image_convert(rgb, 4);
  CHECK_EQ(rgba->data[3], 255);
  CHECK_EQ(rgba->data[4], 0);
  CHECK_EQ(rgba->data[5], 255);
  pj_image *ga = pj_image_convert(rgba, 2);
  CHECK_EQ(ga->data[0], 76);
  CHECK_EQ(ga->data[1], 255);
  /* Gray to RGB replicates, and back is exact. */
  pj_image *g3 = pj_image_convert(gray, 3);
  CHECK_EQ(g3->data[3], 150);
  CHECK_EQ(g3->data[4], 150);
  CHECK_EQ(g3->data[5], 150);
  pj_image *g1 = pj_image_convert(g3, 1);
  CHECK_EQ(g1->data[1], 150);
  CHECK(pj_image_convert(rgb, 0) == NULL);
  pj_image *imgs[] = {rgb, gray, rgba, ga, g3, g1};
  for (int i = 0; i < 6; i++) pj_image_release(imgs[i]);
}

static void test_clear_is_idempotent(void) {
  pj_image *img = pj_image_new(4, 4, 1, 0);
  pj_image *v = pj_image_view(img, 0, 0, 2, 2);
  pj_image_clear(img);
  pj_image_clear(img);
  CHECK(img->data == NULL);
  CHECK_EQ(pj_image_refs(img), 0);
  CHECK(pj_image_clone(img) == NULL);
  CHECK_STR_HAS(pj_errmsg(), "freed");
  CHECK_EQ(pj_image_refs(v), 1);
  pj_image_release(img);
  pj_image_release(v);
  pj_image_release(NULL);
}

static void test_memory_accounting(void) {
  int64_t before = pj_mem_live();
  pj_image *img = pj_image_new(100, 10, 4, 0);
  CHECK_EQ(pj_mem_live() - before, 4000);
  pj_image *v = pj_image_view(img, 0, 0, 10, 10);
  CHECK_EQ(pj_mem_live() - before, 4000);
  pj_image_release(img);
  CHECK_EQ(pj_mem_live() - before, 4000);
  pj_image_release(v);
  CHECK_EQ(pj_mem_live(), before);
}

/* A freed large buffer comes back for the next image it fits, zeroed when
 * the image must be; pj_cache_limit bounds what waits. */
static void test_buffer_reuse(void) {
  CHECK_EQ(pj_cache_limit(-1), 96 << 20); /* the default, only read */
  pj_image *a = pj_image_new(1000, 320, 3, 0);
  uint8_t *pa = a->data;
  memset(pa, 0xab, (size_t)a->stride * a->height);
  pj_image_release(a);
  pj_image *b = pj_image_new(1000, 320, 3, 0);
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(b->data == pa); /* sanitizer builds keep no cache */
#endif
  int nonzero = 0;
  for (int64_t i = 0; i < (int64_t)b->stride * b->height; i++) nonzero += b->data[i] != 0;
  CHECK_EQ(nonzero, 0);
  pj_image_release(b);
  CHECK_EQ(pj_cache_limit(0), 96 << 20);
  CHECK_EQ(pj_cache_limit(-1), 0);
  pj_image *c = pj_image_new(1000, 320, 3, 0);
  pj_image_release(c); /* freed at once: nothing may be kept */
  CHECK_EQ(pj_cache_limit(96 << 20), 0);
}

/* Small buffers come back by size class, the newest first, for a request
 * of any size in the class (100x32x3 and 101x32x3 share one), zeroed when
 * asked. */
static void test_small_buffer_reuse(void) {
  pj_image *a = pj_image_new(100, 32, 3, 0), *b = pj_image_new(100, 32, 3, 0);
  uint8_t *pa = a->data, *pb = b->data;
  memset(pa, 0xcd, (size_t)a->stride * a->height);
  pj_image_release(a);
  pj_image_release(b);
  pj_image *c = pj_image_new(101, 32, 3, 0);
  pj_image *d = pj_image_new(100, 32, 3, 0);
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(c->data == pb); /* the newest first */
  CHECK(d->data == pa);
#endif
  int nonzero = 0;
  for (int64_t i = 0; i < (int64_t)d->stride * d->height; i++) nonzero += d->data[i] != 0;
  CHECK_EQ(nonzero, 0);
  pj_image *big = pj_image_new(300, 100, 3, 0); /* another class: a fresh buffer */
  CHECK(big->data != pa && big->data != pb);
  pj_image_release(c);
  pj_image_release(d);
  pj_image_release(big);
}

static void *fail_in_thread(void *arg) {
  (void)arg;
  pj_image_new(0, 0, 1, 0);
  return NULL;
}

static void test_errors_are_per_thread(void) {
  pj_image_new(1, 1, 9, 0);
  pthread_t t;
  pthread_create(&t, NULL, fail_in_thread, NULL);
  pthread_join(t, NULL);
  CHECK_STR_HAS(pj_errmsg(), "channels must be 1 to 4, got 9");
}

static void test_threads_setting(void) {
  int automatic = pj_threads_get();
  CHECK(automatic >= 1);
  pj_threads_set(3);
  CHECK_EQ(pj_threads_get(), 3);
  pj_threads_set(0);
  CHECK_EQ(pj_threads_get(), automatic);
}

int main(void) {
  RUN(test_new_is_zeroed);
  RUN(test_bad_dimensions);
  RUN(test_pixel_limit);
  RUN(test_view_shares_pixels);
  RUN(test_view_bounds);
  RUN(test_clone_is_independent);
  RUN(test_get_set_bounds);
  RUN(test_fill_and_copy);
  RUN(test_convert);
  RUN(test_clear_is_idempotent);
  RUN(test_memory_accounting);
  RUN(test_buffer_reuse);
  RUN(test_small_buffer_reuse);
  RUN(test_errors_are_per_thread);
  RUN(test_threads_setting);
  return finish("core");
}
