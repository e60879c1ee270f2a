/*
 * error.c - per-thread failure reason, per-item reasons of batch calls,
 * status code names, version.
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per thread, so a failure on one OpenMP worker or batch thread never
 * overwrites another caller's message. */
static _Thread_local char errbuf[1024];
static _Thread_local int errcode, errnum;

static void vrecord(int code, const char *fmt, va_list ap) {
  errcode = code;
  errnum = 0;
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
}

int pj_fail_errno(int code, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vrecord(code, fmt, ap);
  va_end(ap);
  errnum = err;
  return code;
}

int pj_fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vrecord(code, fmt, ap);
  va_end(ap);
  return code;
}

void *pj_fail_null(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vrecord(code, fmt, ap);
  va_end(ap);
  return NULL;
}

int pj_fail_prefix(const char *prefix) {
  /* Shift the message right in place, truncating its tail if needed. */
  size_t plen = strlen(prefix) + 2, cap = sizeof errbuf - 1;
  if (plen > cap) plen = cap;
  size_t mlen = strlen(errbuf);
  if (mlen > cap - plen) mlen = cap - plen;
  memmove(errbuf + plen, errbuf, mlen);
  errbuf[plen + mlen] = '\0';
  memcpy(errbuf, prefix, plen - 2);
  errbuf[plen - 2] = ':';
  errbuf[plen - 1] = ' ';
  return errcode;
}

const char *pj_errmsg(void) { return errbuf; }

int pj_errcode(void) { return errcode; }

int pj_errno(void) { return errnum; }

/* ---- Per-item reasons -----------------------------------------------------
 * The failed items of the last per-item call, in ascending index order,
 * each with its message packed into one text block.  Only failures take
 * space, so a million good quads cost nothing here.  The block belongs to
 * the thread (freed at its exit through a key destructor). */

typedef struct item_err {
  int32_t idx;    /* the failed item */
  int err;        /* the OS error number behind it, or 0 */
  size_t off;     /* where its message starts in text */
} item_err;

typedef struct item_errs {
  item_err *e;    /* ascending by idx */
  size_t n, cap;
  char *text;
  size_t len, tcap;
} item_errs;

static _Thread_local item_errs *items;
static pthread_key_t items_key;
static pthread_once_t items_once = PTHREAD_ONCE_INIT;

static void items_free(void *p) {
  item_errs *e = p;
  if (!e) return;
  free(e->e), free(e->text), free(e);
}

static void items_key_init(void) { pthread_key_create(&items_key, items_free); }

void pj_items_reset(void) {
  if (items) items->n = items->len = 0;
}

/* Grows *p (of *cap elements of `size` bytes) to hold `need`. */
static bool grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * size);
  if (!q) return false;
  *p = q;
  *cap = c;
  return true;
}

static void item_record(int32_t i, int err, const char *fmt, va_list ap) {
  if (!items) {
    pthread_once(&items_once, items_key_init);
    items = calloc(1, sizeof *items);
    if (!items) return;
    pthread_setspecific(items_key, items);
  }
  item_errs *e = items;
  char msg[512];
  int len = vsnprintf(msg, sizeof msg, fmt, ap);
  if (len < 0) return;
  size_t m = (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1;
  /* Out of memory drops the message; the caller still has the status. */
  if (!grow((void **)&e->e, &e->cap, e->n + 1, sizeof *e->e) ||
      !grow((void **)&e->text, &e->tcap, e->len + m + 1, 1))
    return;
  memcpy(e->text + e->len, msg, m);
  e->text[e->len + m] = '\0';
  e->e[e->n++] = (item_err){i, err, e->len};
  e->len += m + 1;
}

void pj_item_fail(int32_t i, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  item_record(i, 0, fmt, ap);
  va_end(ap);
}

void pj_item_fail_errno(int32_t i, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  item_record(i, err, fmt, ap);
  va_end(ap);
}

/* Item i's entry, or NULL when it did not fail. */
static const item_err *item_find(int32_t i) {
  const item_errs *e = items;
  if (!e) return NULL;
  size_t lo = 0, hi = e->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (e->e[mid].idx < i) lo = mid + 1; else hi = mid;
  }
  return lo < e->n && e->e[lo].idx == i ? &e->e[lo] : NULL;
}

const char *pj_item_errmsg(int32_t i) {
  const item_err *x = item_find(i);
  return x ? items->text + x->off : "";
}

int pj_item_errno(int32_t i) {
  const item_err *x = item_find(i);
  return x ? x->err : 0;
}

const char *pj_version(void) { return PJ_VERSION; }

const char *pj_strerror(int code) {
  switch (code) {
  case PJ_OK: return "ok";
  case PJ_EARG: return "invalid argument";
  case PJ_ENOMEM: return "out of memory";
  case PJ_ELIMIT: return "size limit exceeded";
  case PJ_EIO: return "input/output error";
  case PJ_EFORMAT: return "not a PNG, JPEG, TIFF or WebP file";
  case PJ_ECORRUPT: return "corrupt data";
  case PJ_EUNSUPPORTED: return "unsupported";
  case PJ_ESINGULAR: return "degenerate geometry (collinear or repeated points)";
  case PJ_EEMPTY: return "zero width or height";
  default: return "unknown error";
  }
}
