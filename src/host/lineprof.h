/*
 * lineprof.h - the host's line profiler (lineprof.c), opened as the Lua
 * module "pixjit.lineprof".
 */
#ifndef PJ_HOST_LINEPROF_H
#define PJ_HOST_LINEPROF_H

#include <lua.h>

/* The module table: start, stop, want, active, wrap. */
int luaopen_pixjit_lineprof(lua_State *L);

/* Whether f is the C function behind lineprof's wrappers (a traceback
 * skips it: it only passes errors on). */
int pj_lineprof_is_wrapper(lua_CFunction f);

#endif
