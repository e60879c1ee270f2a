/*
 * buffer.c - the refcounted pixel buffers behind images and tensors, the
 * count of live pixel bytes, and a small cache of freed large buffers.
 *
 * The cache is there for loops that drop a result and make the next one.
 * glibc hands large blocks back to the kernel when they are freed (munmap,
 * or trimming the heap top), so every new result would fault in and zero
 * fresh pages, which costs more than most kernels.  Small blocks stay in
 * glibc's bins, but a collection frees hundreds of them at once, and
 * malloc then sorts and merges them again for every new crop, which costs
 * more than a small kernel's work.  So freed large buffers wait (bounded
 * in count and in bytes) for the next request they fit, and small ones wait
 * in size classes, newest first, each kind up to pj_cache_limit bytes.
 * Builds with AddressSanitizer keep no cache, so a use after free is still
 * caught.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Rows start 64-byte aligned in fresh buffers so kernels can stream whole
 * cache lines; views may start anywhere.  Every buffer has PJ_TAIL spare
 * bytes after its last pixel (internal.h). */
#define PJ_ALIGN 64

/* One malloc holds the header and, PJ_ALIGN-aligned after it, the pixels:
 * a small image costs one allocation for its memory, not two. */
struct pj_buffer {
  atomic_int refs;
  size_t size; /* bytes asked for */
  size_t cap;  /* bytes usable at data */
  uint8_t *data;
  pj_buffer *next; /* in a small-size class's list while cached */
};

static atomic_llong mem_live;

int64_t pj_mem_live(void) { return atomic_load(&mem_live); }

/* ---- Cache of freed large buffers ------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#define CACHE_SLOTS 0
#else
#define CACHE_SLOTS 512
#endif
#define CACHE_MIN ((size_t)64 << 10)
#define CACHE_DEFAULT ((size_t)96 << 20)

/* Small buffers come in size classes, four to each doubling, so that a
 * freed one serves any later request of its class. */
#define SMALL_CLASSES 36

/* Large entries 0 .. n - 1, oldest first; small ones in one list a class,
 * newest first. */
static struct {
  atomic_flag lock;
  pj_buffer *slot[CACHE_SLOTS + 1];
  int n;
  size_t bytes;
  size_t limit;
  pj_buffer *small[SMALL_CLASSES];
  size_t small_bytes;
} cache = {.lock = ATOMIC_FLAG_INIT, .limit = CACHE_DEFAULT};

/* The class of a request of `rounded` bytes (a multiple of PJ_ALIGN below
 * CACHE_MIN), and the capacity every buffer of a class gets. */
static int small_class(size_t rounded) {
  const size_t u = rounded / PJ_ALIGN; /* 1 .. 1023 */
  if (u <= 4) return (int)u - 1;
  int e = 63 - __builtin_clzll((unsigned long long)(u - 1)); /* 2^e < u <= 2^(e+1) */
  return 4 + (e - 2) * 4 + (int)((u - 1 - ((size_t)1 << e)) >> (e - 2));
}

static size_t class_cap(int c) {
  if (c < 4) return (size_t)(c + 1) * PJ_ALIGN;
  const int e = (c - 4) / 4 + 2;
  return (((size_t)1 << e) + (size_t)((c - 4) % 4 + 1) * ((size_t)1 << (e - 2))) * PJ_ALIGN;
}

static void cache_remove(int i) {
  cache.bytes -= cache.slot[i]->cap;
  memmove(cache.slot + i, cache.slot + i + 1, sizeof cache.slot[0] * (size_t)(cache.n - i - 1));
  cache.n--;
}

static pj_buffer *small_take(int c) {
  pj_spin_lock(&cache.lock);
  pj_buffer *b = cache.small[c];
  if (b) {
    cache.small[c] = b->next;
    cache.small_bytes -= b->cap;
    /* The list is walked through memory that a collection freed long
     * ago: fetching the next header now takes its miss off the next call. */
    if (b->next) __builtin_prefetch(b->next, 1, 3);
  }
  pj_spin_unlock(&cache.lock);
  return b;
}

/* Takes small buffers out of every class but `keep` (-1: none kept), the
 * largest classes first, until `extra` more bytes fit in the limit.
 * Called with the lock held; returns the list to free after letting go of
 * it. */
static pj_buffer *small_evict(size_t extra, int keep) {
  pj_buffer *drop = NULL;
  for (int c = SMALL_CLASSES - 1; c >= 0 && cache.small_bytes + extra > cache.limit; c--) {
    while (c != keep && cache.small[c] && cache.small_bytes + extra > cache.limit) {
      pj_buffer *b = cache.small[c];
      cache.small[c] = b->next;
      cache.small_bytes -= b->cap;
      b->next = drop;
      drop = b;
    }
  }
  return drop;
}

static void free_list(pj_buffer *b) {
  while (b) {
    pj_buffer *next = b->next;
    free(b);
    b = next;
  }
}

/* A full cache makes room from the other classes (the largest first), so
 * that buffers of sizes a script has stopped making do not keep out the
 * ones it makes now. */
static void small_put(pj_buffer *b) {
  const int c = small_class(b->cap);
  pj_spin_lock(&cache.lock);
  pj_buffer *drop = small_evict(b->cap, c);
  if (cache.small_bytes + b->cap > cache.limit) {
    b->next = drop;
    drop = b;
  } else {
    b->next = cache.small[c];
    cache.small[c] = b;
    cache.small_bytes += b->cap;
  }
  pj_spin_unlock(&cache.lock);
  free_list(drop);
}

/* The smallest cached buffer of cap in [need, need + need / 4], or NULL;
 * among equals the newest, whose lines are likeliest still in cache. */
static pj_buffer *cache_take(size_t need) {
  if (CACHE_SLOTS == 0) return NULL;
  if (need < CACHE_MIN) return small_take(small_class(need));
  pj_buffer *b = NULL;
  pj_spin_lock(&cache.lock);
  int best = -1;
  for (int i = cache.n - 1; i >= 0; i--) {
    const size_t cap = cache.slot[i]->cap;
    if (cap >= need && cap - need <= need / 4 && (best < 0 || cap < cache.slot[best]->cap)) best = i;
  }
  if (best >= 0) {
    b = cache.slot[best];
    cache_remove(best);
  }
  pj_spin_unlock(&cache.lock);
  return b;
}

/* Evicts the oldest entries until `extra` more bytes fit in the limit,
 * into drop[] (the caller frees them after letting go of the lock). */
static int cache_evict(size_t extra, pj_buffer **drop) {
  int nd = 0;
  while (cache.n > 0 && (cache.n + (extra > 0) > CACHE_SLOTS || cache.bytes + extra > cache.limit)) {
    drop[nd++] = cache.slot[0];
    cache_remove(0);
  }
  return nd;
}

/* Keeps b for reuse within the bounds. */
static void cache_put(pj_buffer *b) {
  if (CACHE_SLOTS == 0) {
    free(b);
    return;
  }
  if (b->cap < CACHE_MIN) {
    small_put(b);
    return;
  }
  pj_buffer *drop[CACHE_SLOTS + 1];
  pj_spin_lock(&cache.lock);
  if (b->cap > cache.limit) {
    pj_spin_unlock(&cache.lock);
    free(b);
    return;
  }
  int nd = cache_evict(b->cap, drop);
  cache.slot[cache.n++] = b;
  cache.bytes += b->cap;
  pj_spin_unlock(&cache.lock);
  for (int i = 0; i < nd; i++) free(drop[i]);
}

int64_t pj_cache_limit(int64_t bytes) {
  pj_buffer *drop[CACHE_SLOTS + 1];
  pj_buffer *small = NULL;
  int nd = 0;
  pj_spin_lock(&cache.lock);
  const int64_t old = (int64_t)cache.limit;
  if (bytes >= 0) {
    cache.limit = (uint64_t)bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
    nd = cache_evict(0, drop);
    small = small_evict(0, -1);
  }
  pj_spin_unlock(&cache.lock);
  for (int i = 0; i < nd; i++) free(drop[i]);
  free_list(small);
  if (bytes == 0) pj_colors_drop_tables();
  return old;
}

/* ---- Buffers ------------------------------------------------------------------------ */

/* Page-sized images in 4 KiB pages cost a TLB miss every 4 KiB a kernel
 * streams through, dearest in a virtual machine, where each miss walks two
 * page tables; a buffer of several MiB asks for huge pages over the
 * 2 MiB-aligned part of it (where the kernel gives them only when asked,
 * the common default).  The advice is only a hint: refused, it costs
 * nothing. */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

static void huge_pages(uint8_t *p, size_t n) {
#ifdef MADV_HUGEPAGE
  if (n < HUGE_MIN) return;
  const uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  const uintptr_t e = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
  if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
  (void)p, (void)n;
#endif
}

pj_buffer *pj_buffer_new(size_t bytes, bool zero) {
  const size_t head = sizeof(pj_buffer);
  /* Rounded up to whole lines, plus the tail, plus the worst alignment
   * slack after the header; each step checked for wrapping. */
  size_t rounded = (bytes + PJ_TAIL + PJ_ALIGN - 1) / PJ_ALIGN * PJ_ALIGN;
  if (rounded < bytes || rounded + head + PJ_ALIGN < rounded) return NULL;
  if (rounded < CACHE_MIN) rounded = class_cap(small_class(rounded));
  pj_buffer *b = cache_take(rounded);
  if (!b) {
    /* Aligned by hand inside a plain malloc: glibc's aligned_alloc asks
     * for more than it keeps, so a freed buffer never fits the next one of
     * the same size. */
    b = malloc(head + rounded + PJ_ALIGN);
    if (!b) return NULL;
    b->data = (uint8_t *)(((uintptr_t)(b + 1) + PJ_ALIGN - 1) & ~(uintptr_t)(PJ_ALIGN - 1));
    b->cap = rounded;
    huge_pages(b->data, rounded);
  }
  if (zero) memset(b->data, 0, bytes);
  /* The tail is read by vector loads past a row's end, and only ever
   * weighted by 0 or dropped; zeroed, no byte of a result depends on
   * memory never written (as valgrind checks). */
  memset(b->data + bytes, 0, PJ_TAIL);
  atomic_init(&b->refs, 1);
  b->size = bytes;
  atomic_fetch_add(&mem_live, (long long)bytes);
  return b;
}

void pj_buffer_release(pj_buffer *b) {
  if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
    atomic_fetch_sub(&mem_live, (long long)b->size);
    cache_put(b);
  }
}

void *pj_buffer_data(pj_buffer *b) { return b->data; }

void pj_buffer_retain(pj_buffer *b, int n) { atomic_fetch_add(&b->refs, n); }

int pj_buffer_refs(const pj_buffer *b) { return atomic_load(&((pj_buffer *)b)->refs); }
