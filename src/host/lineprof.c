/*
 * lineprof.c - the line profiler's hook and its wrappers for pixjit's own
 * functions, as the Lua module "pixjit.lineprof" (lua/pixjit/profile.lua
 * prints the report).
 *
 * Written in C because a hook runs on every line, call and return: from
 * Lua each event cost about 0.35 us, most of it in debug.getinfo's table;
 * here it is a few tens of nanoseconds.  The wrappers matter as much: a
 * line hook keeps LuaJIT in its interpreter, and pixjit's functions have
 * Lua inside (option checks, quad conversion, JSON), which then ran many
 * times slower than in a plain run.  A wrapped function takes the hook
 * off for the call, so the library runs compiled and its whole call is
 * time of the line that made it.
 *
 * Each line's time runs from entering it to entering the next line of the
 * same function, so callees and native kernels count for the calling
 * line.  Functions are known by (source, first line): closures of one
 * prototype share a report, as line_profiler's code objects do.
 */
#include "lineprof.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A function being recorded: hits and seconds per line, lines counted
 * from its first. */
typedef struct {
  char *source;
  int linedefined, lastlinedefined;
  int nlines;
  int64_t *hits;
  double *time;
} lp_func;

/* What is known of one (source, first line): the record, or -1. */
typedef struct {
  const char *source; /* the chunk name's interned bytes, anchored */
  int linedefined;
  int fid;
} lp_slot;

typedef struct {
  const char *source;
  int linedefined;
  int fid;
  int line; /* current line, -1 before the first */
  double t; /* when the current line began */
} lp_frame;

typedef struct {
  char *source;
  int linedefined;
} lp_wanted;

static struct {
  int active;
  int failed; /* out of memory: recording stopped */
  int lib_depth; /* > 0 inside a wrapped call */
  int64_t since; /* instructions since the last call or return */
  char *target; /* every function of this source is recorded; may be NULL */
  lp_wanted *wanted; /* and these */
  int nwanted, capwanted;
  lp_func *funcs;
  int nfuncs, capfuncs;
  lp_slot *slots; /* open addressing, size a power of two */
  int capslots, nslots;
  lp_frame *frames;
  int nframes, capframes;
  int anchors; /* registry ref: a table keeping chunk names alive */
  double t0;
} P;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Grows *p (n elements of size sz, capacity *cap) to hold one more;
 * returns 0 when memory ran out. */
static int grow(void **p, int n, int *cap, size_t sz) {
  if (n < *cap) return 1;
  int c = *cap ? *cap * 2 : 16;
  void *q = realloc(*p, (size_t)c * sz);
  if (!q) return 0;
  *p = q;
  *cap = c;
  return 1;
}

/* ---- Recorded functions ------------------------------------------------- */

static int wanted(const char *source, int linedefined) {
  if (P.target && strcmp(source, P.target) == 0) return 1;
  for (int i = 0; i < P.nwanted; i++)
    if (P.wanted[i].linedefined == linedefined && strcmp(P.wanted[i].source, source) == 0)
      return 1;
  return 0;
}

static int new_func(const char *source, int linedefined, int lastlinedefined) {
  if (!grow((void **)&P.funcs, P.nfuncs, &P.capfuncs, sizeof *P.funcs)) return -1;
  char *s = strdup(source);
  if (!s) return -1;
  P.funcs[P.nfuncs] = (lp_func){.source = s, .linedefined = linedefined,
                                .lastlinedefined = lastlinedefined};
  return P.nfuncs++;
}

/* Counts one hit (dt < 0) or adds dt seconds to line of function fid. */
static void add(int fid, int line, double dt) {
  lp_func *f = &P.funcs[fid];
  int i = line - f->linedefined;
  if (i < 0) return;
  if (i >= f->nlines) {
    int n = f->nlines ? f->nlines : 64;
    while (n <= i) n *= 2;
    int64_t *h = realloc(f->hits, (size_t)n * sizeof *h);
    if (h) f->hits = h;
    double *t = h ? realloc(f->time, (size_t)n * sizeof *t) : NULL;
    if (!h || !t) {
      P.failed = 1;
      return;
    }
    f->time = t;
    memset(f->hits + f->nlines, 0, (size_t)(n - f->nlines) * sizeof *h);
    for (int k = f->nlines; k < n; k++) f->time[k] = -1; /* never ran */
    f->nlines = n;
  }
  if (f->time[i] < 0) f->time[i] = 0;
  if (dt < 0)
    f->hits[i]++;
  else
    f->time[i] += dt;
}

/* ---- Slots: (source, first line) -> record ------------------------------ */

static uint32_t slot_hash(const char *source, int linedefined) {
  uintptr_t h = (uintptr_t)source ^ ((uintptr_t)(unsigned)linedefined * 0x9E3779B1u);
  h ^= h >> 15;
  return (uint32_t)(h * 0x85EBCA6Bu);
}

static int slots_grow(void) {
  int cap = P.capslots ? P.capslots * 2 : 256;
  lp_slot *s = calloc((size_t)cap, sizeof *s);
  if (!s) return 0;
  for (int i = 0; i < P.capslots; i++) {
    if (!P.slots[i].source) continue;
    uint32_t h = slot_hash(P.slots[i].source, P.slots[i].linedefined) & (uint32_t)(cap - 1);
    while (s[h].source) h = (h + 1) & (uint32_t)(cap - 1);
    s[h] = P.slots[i];
  }
  free(P.slots);
  P.slots = s;
  P.capslots = cap;
  return 1;
}

/* The record of the function ar describes (lua_getinfo "S"), -1 if it is
 * not recorded.  A chunk name seen for the first time is anchored, so its
 * bytes, which identify it from then on, cannot be freed and reused by
 * another string while profiling. */
static int lookup(lua_State *L, const lua_Debug *ar) {
  if (P.capslots) {
    uint32_t h = slot_hash(ar->source, ar->linedefined) & (uint32_t)(P.capslots - 1);
    for (; P.slots[h].source; h = (h + 1) & (uint32_t)(P.capslots - 1))
      if (P.slots[h].source == ar->source && P.slots[h].linedefined == ar->linedefined)
        return P.slots[h].fid;
  }
  if ((P.nslots + 1) * 2 > P.capslots && !slots_grow()) {
    P.failed = 1;
    return -1;
  }
  if (lua_checkstack(L, 3)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, P.anchors);
    lua_pushstring(L, ar->source);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
  }
  int fid = wanted(ar->source, ar->linedefined)
                ? new_func(ar->source, ar->linedefined, ar->lastlinedefined)
                : -1;
  uint32_t h = slot_hash(ar->source, ar->linedefined) & (uint32_t)(P.capslots - 1);
  while (P.slots[h].source) h = (h + 1) & (uint32_t)(P.capslots - 1);
  P.slots[h] = (lp_slot){.source = ar->source, .linedefined = ar->linedefined, .fid = fid};
  P.nslots++;
  return fid;
}

/* ---- The hook ------------------------------------------------------------ */

static void push(lua_State *L, const lua_Debug *ar) {
  if (!grow((void **)&P.frames, P.nframes, &P.capframes, sizeof *P.frames)) {
    P.failed = 1;
    return;
  }
  P.frames[P.nframes++] = (lp_frame){.source = ar->source, .linedefined = ar->linedefined,
                                     .fid = lookup(L, ar), .line = -1};
}

static void pop(double t) {
  lp_frame *f = &P.frames[--P.nframes];
  if (f->fid >= 0 && f->line >= 0) add(f->fid, f->line, t - f->t);
}

/* Hit counts need one fact the hook API does not give: LuaJIT reports a
 * line again at the first instruction after most calls return (it looks
 * at the pc the callee left), and in a loop on one line a new iteration
 * reports the same line too.  A count hook on every instruction tells
 * them apart: the repeat is a continuation exactly when it comes at the
 * first instruction after a call or return. */
static void hook(lua_State *L, lua_Debug *ar) {
  if (ar->event == LUA_HOOKCOUNT) {
    P.since++;
    return;
  }
  if (P.failed) return;
  if (ar->event == LUA_HOOKLINE) {
    double t = now();
    int line = ar->currentline;
    if (!lua_getinfo(L, "S", ar)) return;
    lp_frame *top = P.nframes ? &P.frames[P.nframes - 1] : NULL;
    if (!top || top->source != ar->source || top->linedefined != ar->linedefined) {
      int k = P.nframes - 2;
      while (k >= 0 && (P.frames[k].source != ar->source || P.frames[k].linedefined != ar->linedefined))
        k--;
      if (k >= 0) {
        /* Frames above that never reported their return (unwound by an
         * error, replaced by a tail call): gone. */
        while (P.nframes > k + 1) pop(t);
      } else {
        push(L, ar); /* entered while the hook was off */
        if (P.failed) return;
      }
      top = &P.frames[P.nframes - 1];
    }
    if (line == top->line && P.since == 1) return;
    if (top->fid >= 0) {
      if (top->line >= 0) add(top->fid, top->line, t - top->t);
      add(top->fid, line, -1);
    }
    top->line = line;
    top->t = t;
  } else if (ar->event == LUA_HOOKCALL) {
    P.since = 0;
    /* C functions report their call but not their return: not frames. */
    if (lua_getinfo(L, "S", ar) && ar->what[0] != 'C') push(L, ar);
  } else { /* return */
    P.since = 0;
    if (P.nframes > 0) pop(now());
  }
}

static void hook_on(lua_State *L) {
  lua_sethook(L, hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

/* ---- Module functions ----------------------------------------------------- */

static void reset(lua_State *L) {
  for (int i = 0; i < P.nfuncs; i++) {
    free(P.funcs[i].source);
    free(P.funcs[i].hits);
    free(P.funcs[i].time);
  }
  for (int i = 0; i < P.nwanted; i++) free(P.wanted[i].source);
  free(P.funcs);
  free(P.wanted);
  free(P.slots);
  free(P.frames);
  free(P.target);
  if (P.anchors) luaL_unref(L, LUA_REGISTRYINDEX, P.anchors);
  memset(&P, 0, sizeof P);
}

/* Adds the function at index idx to the recorded ones, including slots
 * already seen for it. */
static int want(lua_State *L, int idx) {
  lua_Debug ar;
  lua_pushvalue(L, idx);
  if (!lua_getinfo(L, ">S", &ar) || ar.what[0] == 'C') return 1;
  if (wanted(ar.source, ar.linedefined)) return 1;
  if (!grow((void **)&P.wanted, P.nwanted, &P.capwanted, sizeof *P.wanted)) return 0;
  char *s = strdup(ar.source);
  if (!s) return 0;
  P.wanted[P.nwanted++] = (lp_wanted){.source = s, .linedefined = ar.linedefined};
  for (int i = 0; i < P.capslots; i++) {
    lp_slot *sl = &P.slots[i];
    if (sl->source && sl->fid < 0 && sl->linedefined == ar.linedefined &&
        strcmp(sl->source, ar.source) == 0) {
      sl->fid = new_func(sl->source, ar.linedefined, ar.lastlinedefined);
      for (int k = 0; k < P.nframes; k++)
        if (P.frames[k].source == sl->source && P.frames[k].linedefined == sl->linedefined)
          P.frames[k].fid = sl->fid;
    }
  }
  return 1;
}

/* start(source|nil, {functions}): records every function of source and
 * the given functions, until stop().  One profile at a time. */
static int l_start(lua_State *L) {
  const char *source = luaL_optstring(L, 1, NULL);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  if (P.active) return luaL_error(L, "a line profile is already running");
  reset(L);
  lua_newtable(L);
  P.anchors = luaL_ref(L, LUA_REGISTRYINDEX);
  if (source && !(P.target = strdup(source))) return luaL_error(L, "out of memory");
  if (lua_istable(L, 2)) {
    for (int i = 1;; i++) {
      lua_rawgeti(L, 2, i);
      if (lua_isnil(L, -1)) break;
      if (lua_isfunction(L, -1) && !want(L, -1)) return luaL_error(L, "out of memory");
      lua_pop(L, 1);
    }
  }
  P.active = 1;
  P.t0 = now();
  hook_on(L);
  return 0;
}

/* want(fn): records fn too (pj.profile while running). */
static int l_want(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  if (P.active && !want(L, 1)) return luaL_error(L, "out of memory");
  return 0;
}

static int l_active(lua_State *L) {
  lua_pushboolean(L, P.active);
  return 1;
}

/* stop() -> elapsed seconds, { { source =, linedefined =, lastlinedefined
 * =, hits = { [line] = n }, time = { [line] = seconds } }, ... } in the
 * order first seen, or nil, message when memory ran out. */
static int l_stop(lua_State *L) {
  lua_sethook(L, NULL, 0, 0);
  if (!P.active) return luaL_error(L, "no line profile is running");
  double elapsed = now() - P.t0;
  if (P.failed) {
    reset(L);
    lua_pushnil(L);
    lua_pushliteral(L, "out of memory while profiling");
    return 2;
  }
  lua_pushnumber(L, elapsed);
  lua_createtable(L, P.nfuncs, 0);
  for (int i = 0; i < P.nfuncs; i++) {
    lp_func *f = &P.funcs[i];
    lua_createtable(L, 0, 5);
    lua_pushstring(L, f->source);
    lua_setfield(L, -2, "source");
    lua_pushinteger(L, f->linedefined);
    lua_setfield(L, -2, "linedefined");
    lua_pushinteger(L, f->lastlinedefined);
    lua_setfield(L, -2, "lastlinedefined");
    lua_newtable(L);
    lua_newtable(L);
    for (int k = 0; k < f->nlines; k++) {
      if (f->time[k] < 0) continue;
      lua_pushnumber(L, (lua_Number)f->hits[k]);
      lua_rawseti(L, -3, f->linedefined + k);
      lua_pushnumber(L, f->time[k]);
      lua_rawseti(L, -2, f->linedefined + k);
    }
    lua_setfield(L, -3, "time");
    lua_setfield(L, -2, "hits");
    lua_rawseti(L, -2, i + 1);
  }
  reset(L);
  return 2;
}

/* The wrapper: the original function is upvalue 1. */
static int wrapped(lua_State *L) {
  int nargs = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  if (!P.active || P.lib_depth > 0) {
    lua_call(L, nargs, LUA_MULTRET);
    return lua_gettop(L);
  }
  P.lib_depth = 1;
  lua_sethook(L, NULL, 0, 0);
  int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
  P.lib_depth = 0;
  /* A hook set meanwhile (the host's Ctrl-C) stays. */
  if (P.active && !lua_gethook(L)) hook_on(L);
  if (status != 0) return lua_error(L);
  return lua_gettop(L);
}

/* wrap(fn) -> a function calling fn with the hook off. */
static int l_wrap(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_pushcclosure(L, wrapped, 1);
  return 1;
}

int pj_lineprof_is_wrapper(lua_CFunction f) { return f == wrapped; }

int luaopen_pixjit_lineprof(lua_State *L) {
  static const luaL_Reg fns[] = {{"start", l_start}, {"stop", l_stop}, {"want", l_want},
                                 {"active", l_active}, {"wrap", l_wrap}, {NULL, NULL}};
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
