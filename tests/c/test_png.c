/*
 * test_png.c - pixjit's own PNG decoder (png_read.c, png_filter.c) against
 * libpng, on files written here by a test encoder built on zlib with its
 * own filters: every filter type and per-row mixes, widths 1, 3 and
 * 1000x1, zlib levels 0-9 and every strategy, small windows, sync and full
 * flushes, IDATs of 1 byte and of 0 bytes.  Clean files must take the fast
 * path and give libpng's pixels at any thread count; broken ones must have
 * the same outcome through pj_decode as through libpng alone.
 */
#include "check.h"
#include "internal.h"

#include <zlib.h>

/* ---- A test encoder ---------------------------------------------------------------- */

typedef struct enc {
  int color;           /* PNG colour type: 0, 2, 3, 4, 6 */
  int filter;          /* 0-4 every row; 5: row y gets y % 5; 6: pseudo-random; 7: a byte
                          of 5 on row 1 (invalid) */
  int level, strategy, wbits, memlevel;
  int flush, every;    /* Z_SYNC_FLUSH or Z_FULL_FLUSH every `every` rows */
  size_t idat;         /* largest IDAT; 0: one */
  bool empty_idats;    /* a zero-length IDAT after each */
  int npal, ntrns;     /* palette entries; tRNS entries */
  int rows_delta;      /* compress h + rows_delta rows (short or long stream) */
  bool dict;           /* a preset dictionary */
} enc;

typedef struct buf {
  uint8_t *p;
  size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}

static void put32(buf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  put(b, x, 4);
}

static void chunk(buf *b, const char *type, const uint8_t *d, size_t n) {
  put32(b, (uint32_t)n);
  size_t at = b->n;
  put(b, type, 4);
  if (n) put(b, d, n);
  put32(b, (uint32_t)crc32(0, b->p + at, (uInt)(n + 4)));
}

static int test_paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/* Filter type f applied to row (n bytes) with prev, bpp bytes a pixel. */
static void test_filter(int f, uint8_t *out, const uint8_t *row, const uint8_t *prev, int n, int bpp) {
  for (int i = 0; i < n; i++) {
    int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0, p = 0;
    if (f == 1) p = a;
    else if (f == 2) p = b;
    else if (f == 3) p = (a + b) / 2;
    else if (f == 4) p = test_paeth(a, b, c);
    out[i] = (uint8_t)(row[i] - p);
  }
}

static unsigned long long lcg = 1;
static unsigned next_rand(void) {
  lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
  return (unsigned)(lcg >> 33);
}

static int bpp_of(int color) { return color == 2 ? 3 : color == 4 ? 2 : color == 6 ? 4 : 1; }

/* A PNG of w x h pixels px (bpp bytes each, palette indices for colour 3). */
static buf encode(const uint8_t *px, int w, int h, const enc *e) {
  const int bpp = bpp_of(e->color), n = w * bpp;
  buf out = {0}, z = {0};
  put(&out, "\x89PNG\r\n\x1a\n", 8);
  uint8_t ihdr[13] = {0};
  ihdr[0] = (uint8_t)(w >> 24), ihdr[1] = (uint8_t)(w >> 16), ihdr[2] = (uint8_t)(w >> 8), ihdr[3] = (uint8_t)w;
  ihdr[4] = (uint8_t)(h >> 24), ihdr[5] = (uint8_t)(h >> 16), ihdr[6] = (uint8_t)(h >> 8), ihdr[7] = (uint8_t)h;
  ihdr[8] = 8, ihdr[9] = (uint8_t)e->color;
  chunk(&out, "IHDR", ihdr, 13);
  if (e->color == 3) {
    uint8_t pal[768], trns[256];
    for (int i = 0; i < 3 * e->npal; i++) pal[i] = (uint8_t)next_rand();
    chunk(&out, "PLTE", pal, 3 * (size_t)e->npal);
    for (int i = 0; i < e->ntrns; i++) trns[i] = (uint8_t)next_rand();
    if (e->ntrns) chunk(&out, "tRNS", trns, (size_t)e->ntrns);
  }
  z_stream zs = {0};
  deflateInit2(&zs, e->level, Z_DEFLATED, e->wbits, e->memlevel, e->strategy);
  if (e->dict) deflateSetDictionary(&zs, (const Bytef *)"pixjit", 6);
  uint8_t *zero = calloc((size_t)n + 1, 1), *row = malloc((size_t)n + 1);
  uint8_t obuf[1 << 16];
  const int rows = h + e->rows_delta;
  for (int y = 0; y < rows; y++) {
    const uint8_t *cur = px + (size_t)(y % h) * n, *prev = y ? px + (size_t)((y - 1) % h) * n : zero;
    int f = e->filter <= 4 ? e->filter : e->filter == 5 ? y % 5 : e->filter == 6 ? (int)(next_rand() % 5) : 4;
    test_filter(f, row + 1, cur, prev, n, bpp);
    row[0] = (uint8_t)(e->filter == 7 && y == 1 ? 5 : f);
    zs.next_in = row, zs.avail_in = (uInt)n + 1;
    int fl = y + 1 == rows ? Z_FINISH : e->flush && (y + 1) % e->every == 0 ? e->flush : Z_NO_FLUSH;
    do {
      zs.next_out = obuf, zs.avail_out = sizeof obuf;
      deflate(&zs, fl);
      put(&z, obuf, sizeof obuf - zs.avail_out);
    } while (zs.avail_out == 0);
  }
  deflateEnd(&zs);
  size_t step = e->idat ? e->idat : z.n ? z.n : 1;
  for (size_t at = 0; at < z.n; at += step) {
    chunk(&out, "IDAT", z.p + at, z.n - at < step ? z.n - at : step);
    if (e->empty_idats) chunk(&out, "IDAT", NULL, 0);
  }
  chunk(&out, "IEND", NULL, 0);
  free(z.p), free(zero), free(row);
  return out;
}

static enc plain(int color) {
  return (enc){.color = color, .filter = 5, .level = 6, .strategy = Z_DEFAULT_STRATEGY, .wbits = 15,
               .memlevel = 8, .npal = 256};
}

static uint8_t *random_pixels(int w, int h, int color, int npal) {
  const size_t n = (size_t)w * h * bpp_of(color);
  uint8_t *px = malloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    /* Smooth areas and noise, so every filter has something to predict. */
    unsigned v = next_rand();
    px[i] = (uint8_t)(v % 4 == 0 ? v >> 8 : (i / 7) * 13);
    if (color == 3) px[i] = (uint8_t)(px[i] % npal);
  }
  return px;
}

/* ---- Decoding both ways -------------------------------------------------------------- */

static pj_image *fast_decode(const buf *b, bool *declined) {
  pj_source s = {.data = b->p, .size = b->n, .name = "test.png"};
  pj_decode_opts o = {.max_pixels = PJ_DEFAULT_MAX_PIXELS, .max_scans = 256, .max_chunk_bytes = 1 << 23};
  int orientation;
  return pj_png_read_fast(&s, &o, declined, &orientation);
}

static pj_image *libpng_decode(const buf *b) {
  pj_source s = {.data = b->p, .size = b->n, .name = "test.png"};
  pj_decode_opts o = {.max_pixels = PJ_DEFAULT_MAX_PIXELS, .max_scans = 256, .max_chunk_bytes = 1 << 23};
  int orientation;
  return pj_png_read(&s, &o, &orientation);
}

static bool same(const pj_image *a, const pj_image *b) {
  if (!a || !b || a->width != b->width || a->height != b->height || a->channels != b->channels)
    return false;
  for (int y = 0; y < a->height; y++)
    if (memcmp(a->data + (size_t)y * a->stride, b->data + (size_t)y * b->stride,
               (size_t)a->width * a->channels))
      return false;
  return true;
}

/* A clean file: the fast path takes it, at 1, 2 and 3 threads, and gives
 * libpng's pixels.  Returns whether it did. */
static bool check_clean(const buf *b, const char *what) {
  pj_image *ref = libpng_decode(b);
  bool ok = ref != NULL;
  for (int t = 1; t <= 3 && ok; t++) {
    pj_threads_set(t);
    bool declined;
    pj_image *img = fast_decode(b, &declined);
    if (declined || !same(img, ref)) {
      fprintf(stderr, "  %s, %d threads: %s\n", what, t, declined ? "declined" : "differs from libpng");
      ok = false;
    }
    pj_image_release(img);
  }
  pj_threads_set(0);
  pj_image_release(ref);
  return ok;
}

/* A broken file: pj_decode (fast path, then libpng) ends as libpng alone
 * does, and the fast path did not take it. */
static bool check_broken(const buf *b, const char *what) {
  bool declined;
  pj_image *fast = fast_decode(b, &declined), *ref = libpng_decode(b);
  pj_image *full = pj_decode(b->p, b->n, "test.png", NULL);
  bool ok = declined && !fast && (ref ? same(full, ref) : full == NULL);
  if (!ok)
    fprintf(stderr, "  %s: declined %d, libpng %s, pj_decode %s\n", what, declined,
            ref ? "decodes" : "fails", full ? "decodes" : "fails");
  pj_image_release(fast), pj_image_release(ref), pj_image_release(full);
  return ok;
}

/* ---- Tests ------------------------------------------------------------------------- */

static void test_filters_and_widths(void) {
  static const int colors[] = {0, 2, 3, 4, 6};
  static const int sizes[][2] = {{1, 1}, {1, 9}, {3, 5}, {1000, 1}, {517, 23}, {1300, 17}, {64, 64}};
  int bad = 0, n = 0;
  for (int ci = 0; ci < 5; ci++)
    for (int si = 0; si < 7; si++)
      for (int f = 0; f <= 6; f++) {
        enc e = plain(colors[ci]);
        e.filter = f;
        const int w = sizes[si][0], h = sizes[si][1];
        uint8_t *px = random_pixels(w, h, e.color, e.npal);
        buf b = encode(px, w, h, &e);
        char what[96];
        snprintf(what, sizeof what, "colour %d, %dx%d, filter %d", e.color, w, h, f);
        bad += !check_clean(&b, what);
        n++;
        free(px), free(b.p);
      }
  CHECK_EQ(bad, 0);
  CHECK_EQ(n, 245);
}

static void test_zlib_variants(void) {
  const int w = 333, h = 41;
  int bad = 0;
  for (int ci = 0; ci < 2; ci++) {
    const int color = ci ? 6 : 2;
    uint8_t *px = random_pixels(w, h, color, 256);
    static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED};
    char what[96];
    for (int level = 0; level <= 9; level++)
      for (int s = 0; s < 5; s++) {
        enc e = plain(color);
        e.level = level, e.strategy = strategies[s];
        buf b = encode(px, w, h, &e);
        snprintf(what, sizeof what, "level %d, strategy %d", level, strategies[s]);
        bad += !check_clean(&b, what);
        free(b.p);
      }
    /* Sync and full flushes, IDATs of 1 byte, empty IDATs in between. */
    enc e = plain(color);
    e.flush = Z_SYNC_FLUSH, e.every = 3;
    buf b = encode(px, w, h, &e);
    bad += !check_clean(&b, "sync flushes");
    free(b.p);
    e.flush = Z_FULL_FLUSH, e.every = 2, e.idat = 1, e.empty_idats = true;
    b = encode(px, w, h, &e);
    bad += !check_clean(&b, "full flushes, 1-byte and empty IDATs");
    free(b.p);
    e = plain(color);
    e.memlevel = 1;
    b = encode(px, w, h, &e);
    bad += !check_clean(&b, "memLevel 1");
    free(b.p);
    free(px);
  }
  CHECK_EQ(bad, 0);
}

static void test_palettes(void) {
  int bad = 0;
  const int w = 700, h = 19;
  for (int npal = 1; npal <= 256; npal = npal * 3 + 1)
    for (int ntrns = 0; ntrns <= npal; ntrns += npal / 2 + 1) {
      enc e = plain(3);
      e.npal = npal, e.ntrns = ntrns;
      uint8_t *px = random_pixels(w, h, 3, npal);
      buf b = encode(px, w, h, &e);
      char what[64];
      snprintf(what, sizeof what, "palette of %d, %d tRNS", npal, ntrns);
      bad += !check_clean(&b, what);
      free(px), free(b.p);
    }
  CHECK_EQ(bad, 0);
}

/* Rewrites the CRC of the chunk at `at` (its length field) after an edit. */
static void fix_crc(buf *b, size_t at) {
  uint32_t n = (uint32_t)b->p[at] << 24 | (uint32_t)b->p[at + 1] << 16 | (uint32_t)b->p[at + 2] << 8 | b->p[at + 3];
  uint32_t c = (uint32_t)crc32(0, b->p + at + 4, n + 4);
  uint8_t *q = b->p + at + 8 + n;
  q[0] = (uint8_t)(c >> 24), q[1] = (uint8_t)(c >> 16), q[2] = (uint8_t)(c >> 8), q[3] = (uint8_t)c;
}

/* Offset of the first chunk of that type (its length field), or 0. */
static size_t find_chunk(const buf *b, const char *type) {
  for (size_t at = 8; at + 12 <= b->n;) {
    uint32_t n = (uint32_t)b->p[at] << 24 | (uint32_t)b->p[at + 1] << 16 | (uint32_t)b->p[at + 2] << 8 | b->p[at + 3];
    if (!memcmp(b->p + at + 4, type, 4)) return at;
    at += 12 + n;
  }
  return 0;
}

/* A buffer with `extra` inserted at offset at. */
static buf insert(const buf *b, size_t at, const uint8_t *extra, size_t n) {
  buf out = {0};
  put(&out, b->p, at);
  put(&out, extra, n);
  put(&out, b->p + at, b->n - at);
  return out;
}

static void test_broken_streams(void) {
  const int w = 257, h = 13;
  uint8_t *px = random_pixels(w, h, 2, 256);
  int bad = 0;
  struct { const char *what; enc e; } cases[] = {
      {"bad filter byte", plain(2)}, {"short stream", plain(2)}, {"long stream", plain(2)},
      {"preset dictionary", plain(2)}, {"9-bit window", plain(2)}, {"8-bit window", plain(2)},
  };
  cases[0].e.filter = 7;
  cases[1].e.rows_delta = -1;
  cases[2].e.rows_delta = 1;
  cases[3].e.dict = true;
  cases[4].e.wbits = 9;
  cases[5].e.wbits = 8 + 1, cases[5].e.level = 9; /* zlib raises 8 to 9 */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    buf b = encode(px, w, h, &cases[i].e);
    bad += !check_broken(&b, cases[i].what);
    free(b.p);
  }
  /* Two zlib streams: the file's one IDAT (the whole stream) twice. */
  enc single = plain(2);
  single.level = 1;
  buf one = encode(px, w, h, &single);
  size_t at = find_chunk(&one, "IDAT");
  size_t idat_len = (size_t)one.p[at] << 24 | (size_t)one.p[at + 1] << 16 | (size_t)one.p[at + 2] << 8 | one.p[at + 3];
  buf two = insert(&one, find_chunk(&one, "IEND"), one.p + at, 12 + idat_len);
  bad += !check_broken(&two, "two streams");
  free(two.p);
  /* A distance before the start of the stream: fixed codes, length 3 at
   * distance 1 as the very first symbol, then the end of the block and an
   * Adler-32 of nothing. */
  const uint8_t far[] = {0x78, 0x01, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  buf d = {0};
  put(&d, one.p, find_chunk(&one, "IDAT"));
  chunk(&d, "IDAT", far, sizeof far);
  chunk(&d, "IEND", NULL, 0);
  bad += !check_broken(&d, "distance too far back");
  free(d.p), free(one.p);
  CHECK_EQ(bad, 0);
  free(px);
}

static void test_broken_chunks(void) {
  const int w = 64, h = 9;
  uint8_t *px = random_pixels(w, h, 3, 16);
  enc e = plain(3);
  e.npal = 16, e.ntrns = 4, e.idat = 200;
  buf good = encode(px, w, h, &e);
  CHECK(check_clean(&good, "the base file"));
  int bad = 0;
  /* A flipped bit in an IDAT, with and without its CRC fixed. */
  buf b = insert(&good, 0, NULL, 0);
  size_t at = find_chunk(&b, "IDAT");
  b.p[at + 20] ^= 0x10;
  bad += !check_broken(&b, "IDAT CRC");
  fix_crc(&b, at);
  bool declined;
  pj_image *img = fast_decode(&b, &declined);
  pj_image *ref = libpng_decode(&b);
  /* Damaged data with a good CRC: whatever libpng says, pj_decode agrees. */
  pj_image *full = pj_decode(b.p, b.n, "x.png", NULL);
  CHECK(ref ? same(full, ref) && (declined || same(img, ref)) : full == NULL);
  pj_image_release(img), pj_image_release(ref), pj_image_release(full);
  free(b.p);
  /* Truncation anywhere, IEND missing. */
  for (size_t cut = 8; cut < good.n; cut += good.n / 23 + 1) {
    buf t = {0};
    put(&t, good.p, cut);
    bad += !check_broken(&t, "truncated");
    free(t.p);
  }
  /* Chunks out of place: tRNS before PLTE, PLTE after IDAT, an unknown
   * critical chunk, an IDAT split by an ancillary chunk, an ancillary
   * chunk with a bad CRC, an index past the palette. */
  const uint8_t trns_chunk[] = {0, 0, 0, 1, 't', 'R', 'N', 'S', 7, 0, 0, 0, 0};
  size_t plte = find_chunk(&good, "PLTE");
  buf t1 = insert(&good, plte, trns_chunk, sizeof trns_chunk);
  fix_crc(&t1, plte);
  bad += !check_broken(&t1, "tRNS before PLTE");
  const uint8_t crit[] = {0, 0, 0, 0, 'C', 'R', 'I', 'T', 0, 0, 0, 0};
  size_t first = find_chunk(&good, "IDAT");
  buf t2 = insert(&good, first, crit, sizeof crit);
  fix_crc(&t2, first);
  bad += !check_broken(&t2, "unknown critical chunk");
  const uint8_t text[] = {0, 0, 0, 1, 't', 'E', 'X', 't', 'x', 0, 0, 0, 0};
  size_t second = find_chunk(&good, "IDAT");
  second += 12 + (size_t)(good.p[second + 3] | good.p[second + 2] << 8);
  buf t3 = insert(&good, second, text, sizeof text);
  fix_crc(&t3, second);
  bad += !check_broken(&t3, "IDAT split by tEXt");
  buf t4 = insert(&good, find_chunk(&good, "IDAT"), text, sizeof text);
  bad += !check_broken(&t4, "ancillary chunk with a bad CRC");
  free(t1.p), free(t2.p), free(t3.p), free(t4.p);
  for (int i = 0; i < w * h; i += 37) px[i] = 200; /* past the 16 entries */
  buf t5 = encode(px, w, h, &e);
  bad += !check_broken(&t5, "index past the palette");
  free(t5.p);
  CHECK_EQ(bad, 0);
  free(good.p), free(px);
}

/* A page-sized file of every colour type at every thread count: the
 * wavefront's hand-offs between rows and blocks. */
static void test_large(void) {
  static const int colors[] = {0, 2, 3, 4, 6};
  int bad = 0;
  for (int ci = 0; ci < 5; ci++) {
    const int w = 2011, h = 97;
    enc e = plain(colors[ci]);
    e.filter = 6;
    uint8_t *px = random_pixels(w, h, e.color, e.npal);
    buf b = encode(px, w, h, &e);
    bad += !check_clean(&b, "large");
    free(px), free(b.p);
  }
  CHECK_EQ(bad, 0);
}

/* pixjit's encoder: every channel count and odd sizes decode through
 * libpng to the same pixels, at every level, from views too. */
static void test_encoder_round_trip(void) {
  static const int sizes[][2] = {{1, 1}, {3, 1}, {1, 3}, {1000, 1}, {97, 31}, {1500, 700}};
  int bad = 0;
  for (int c = 1; c <= 4; c++)
    for (int si = 0; si < 6; si++) {
      const int w = sizes[si][0], h = sizes[si][1];
      pj_image *img = pj_image_new(w + 2, h + 1, c, 0);
      for (size_t i = 0; i < (size_t)img->stride * img->height; i++)
        img->data[i] = (uint8_t)(next_rand() % 3 ? i * 7 / 5 : next_rand());
      pj_image *v = pj_image_view(img, 1, 1, w, h);
      for (int level = -1; level <= 9; level += 5) {
        pj_encode_opts o = {.format = PJ_FMT_PNG, .compression = level};
        uint8_t *data;
        size_t size;
        CHECK_EQ(pj_encode(v, &o, &data, &size), PJ_OK);
        buf b = {data, size, size};
        pj_image *back = libpng_decode(&b);
        if (!same(back, v)) {
          fprintf(stderr, "  %dx%dx%d level %d does not round-trip through libpng\n", w, h, c, level);
          bad++;
        }
        pj_image_release(back);
        free(data);
      }
      pj_image_release(v), pj_image_release(img);
    }
  CHECK_EQ(bad, 0);
}

int main(void) {
  RUN(test_filters_and_widths);
  RUN(test_zlib_variants);
  RUN(test_palettes);
  RUN(test_broken_streams);
  RUN(test_broken_chunks);
  RUN(test_large);
  RUN(test_encoder_round_trip);
  return finish("png");
}
