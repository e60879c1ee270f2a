/*
 * error.c - per-thread failure reason, status code names, version.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Per thread, so a failure on one OpenMP worker or batch thread never
 * overwrites another caller's message. */
static _Thread_local char errbuf[1024];
static _Thread_local int errcode;

static void vrecord(int code, const char *fmt, va_list ap) {
  errcode = code;
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
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

const char *pj_version(void) { return PJ_VERSION; }

const char *pj_strerror(int code) {
  switch (code) {
  case PJ_OK: return "ok";
  case PJ_EARG: return "invalid argument";
  case PJ_ENOMEM: return "out of memory";
  case PJ_ELIMIT: return "size limit exceeded";
  case PJ_EIO: return "input/output error";
  case PJ_EFORMAT: return "not a PNG or JPEG file";
  case PJ_ECORRUPT: return "corrupt data";
  case PJ_EUNSUPPORTED: return "unsupported";
  case PJ_ESINGULAR: return "degenerate geometry (collinear or repeated points)";
  case PJ_EEMPTY: return "zero width or height";
  default: return "unknown error";
  }
}
