/*
 * main.c - bin/pixjit: embeds LuaJIT and hands the command line to the Lua
 * side of the host (lua/pixjit/host.lua), which parses flags and runs
 * scripts, the REPL, batch jobs and the profiler, each through docall.
 *
 * The host itself runs under one protected call with the same traceback
 * handler, so an error anywhere ends in a message and an exit status,
 * never an abort.
 */
#include "pixjit.h"
#include "lineprof.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* Directory holding the Lua sources: PIXJIT_LUA_DIR when set, else
 * ../share/lua/5.1 beside the executable (an installed prefix), else the
 * checkout's lua/ above it, found through /proc/self/exe so any working
 * directory works. */
static void lua_dir(char *out, size_t size) {
  const char *env = getenv("PIXJIT_LUA_DIR");
  if (env && *env) {
    snprintf(out, size, "%s", env);
    return;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    snprintf(out, size, "lua");
    return;
  }
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash) *slash = '\0';
  char probe[PATH_MAX + 32];
  char real[PATH_MAX];
  snprintf(probe, sizeof probe, "%s/../share/lua/5.1", exe);
  if (realpath(probe, real)) {
    snprintf(probe, sizeof probe, "%s/pixjit/init.lua", real);
    if (access(probe, R_OK) == 0 && snprintf(out, size, "%s", real) < (int)size) return;
  }
  /* bin/pixjit and build/<variant>/pixjit both sit below the root. */
  for (int up = 1; up <= 3; up++) {
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s", exe);
    for (int i = 0; i < up; i++) {
      char *s = strrchr(root, '/');
      if (s) *s = '\0';
    }
    snprintf(probe, sizeof probe, "%s/lua/pixjit/init.lua", root);
    if (access(probe, R_OK) == 0 &&
        snprintf(out, size, "%s/lua", root) < (int)size)
      return;
  }
  if (snprintf(out, size, "%s/../lua", exe) >= (int)size) snprintf(out, size, "lua");
}

/* ---- docall --------------------------------------------------------------
 * Every chunk the host runs (scripts, -e, -l, the REPL's lines, profiled
 * scripts, batch jobs) goes through docall, as in luajit.c: a traceback
 * that stops at the caller's frame, Ctrl-C turned into an "interrupted"
 * error at the next Lua instruction, and a full collection after an error
 * so the images of a failed computation are freed at once. */

static lua_State *host_L;
static volatile sig_atomic_t sigint_seen;
static int docall_depth = -1; /* stack levels below the innermost docall */

static void interrupted_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted");
}

static void on_sigint(int sig) {
  signal(sig, SIG_DFL); /* a second Ctrl-C ends the process */
  if (host_L)
    lua_sethook(host_L, interrupted_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* At the prompt, Ctrl-C only notes itself and interrupts the read (no
 * SA_RESTART), so readline returns and the REPL starts a fresh line. */
static void on_sigint_prompt(int sig) {
  (void)sig;
  sigint_seen = 1;
}

static void set_sigint(void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = handler;
  sigaction(SIGINT, &sa, NULL);
}

static int stack_depth(lua_State *L) {
  lua_Debug ar;
  int n = 0;
  while (lua_getstack(L, n, &ar)) n++;
  return n;
}

/* "@DIR/pixjit/": the source prefix of pixjit's own modules. */
static char lib_prefix[PATH_MAX + 16];

static bool in_library(lua_Debug *ar) {
  return lib_prefix[0] && strncmp(ar->source, lib_prefix, strlen(lib_prefix)) == 0;
}

/* The first level to show: an error pixjit raised over a bad argument
 * (error() called from pixjit/core.lua) starts at the user's frame; the
 * library frames it went through say nothing to the user.  Anything else
 * shows every frame. */
static int first_level(lua_State *L, int last) {
  lua_Debug ar;
  /* An error passed on by the line profiler's wrapper of a pixjit
   * function: the library frames are gone already. */
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "f", &ar)) {
    int wrapper = lua_iscfunction(L, -1) && pj_lineprof_is_wrapper(lua_tocfunction(L, -1));
    lua_pop(L, 1);
    if (wrapper && 2 < last && lua_getstack(L, 2, &ar)) return 2;
  }
  if (!lua_getstack(L, 1, &ar) || !lua_getinfo(L, "S", &ar) || *ar.what != 'C') return 1;
  if (!lua_getstack(L, 2, &ar) || !lua_getinfo(L, "S", &ar) || !in_library(&ar) ||
      !strstr(ar.source, "/pixjit/core.lua"))
    return 1;
  int level = 2;
  while (level < last && lua_getstack(L, level, &ar) && lua_getinfo(L, "S", &ar) &&
         (in_library(&ar) || *ar.what == 'C'))
    level++;
  return level < last && lua_getstack(L, level, &ar) ? level : 1;
}

/* Error handler: the message and the frames between the error and the
 * docall that ran the chunk, in luaL_traceback's layout. */
static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_isstring(L, -1)) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, msg);
  luaL_addstring(&b, "\nstack traceback:");
  int last = docall_depth >= 0 ? stack_depth(L) - docall_depth : INT_MAX;
  lua_Debug ar;
  for (int level = first_level(L, last); level < last && lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Snl", &ar);
    lua_pushfstring(L, "\n\t%s:", ar.short_src);
    luaL_addvalue(&b);
    if (ar.currentline > 0) {
      lua_pushfstring(L, "%d:", ar.currentline);
      luaL_addvalue(&b);
    }
    if (*ar.namewhat)
      lua_pushfstring(L, " in function '%s'", ar.name);
    else if (*ar.what == 'm')
      lua_pushliteral(L, " in main chunk");
    else if (*ar.what == 'C')
      lua_pushliteral(L, " ?");
    else
      lua_pushfstring(L, " in function <%s:%d>", ar.short_src, ar.linedefined);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return 1;
}

/* docall(fn, ...) -> true, results... | false, message with traceback */
static int l_docall(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int nargs = lua_gettop(L) - 1;
  lua_pushcfunction(L, traceback);
  lua_insert(L, 1);
  int saved = docall_depth;
  docall_depth = stack_depth(L);
  struct sigaction old;
  sigaction(SIGINT, NULL, &old);
  set_sigint(on_sigint);
  int status = lua_pcall(L, nargs, LUA_MULTRET, 1);
  sigaction(SIGINT, &old, NULL);
  /* A Ctrl-C that came after the last instruction leaves its hook armed;
   * other hooks (a profiler's) are the caller's. */
  if (lua_gethook(L) == interrupted_hook) lua_sethook(L, NULL, 0, 0);
  docall_depth = saved;
  lua_remove(L, 1);
  if (status != 0) {
    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  return lua_gettop(L);
}

/* prompt(on): while on, Ctrl-C interrupts the line being read. */
static int l_prompt(lua_State *L) {
  set_sigint(lua_toboolean(L, 1) ? on_sigint_prompt : SIG_DFL);
  return 0;
}

/* take_sigint() -> whether Ctrl-C was pressed at the prompt since the last
 * call. */
static int l_take_sigint(lua_State *L) {
  lua_pushboolean(L, sigint_seen);
  sigint_seen = 0;
  return 1;
}

static const luaL_Reg hostlib[] = {
    {"docall", l_docall}, {"prompt", l_prompt}, {"take_sigint", l_take_sigint}, {NULL, NULL}};

static int run_host(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_openlibs(L);

  char dir[PATH_MAX];
  lua_dir(dir, sizeof dir);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 1);
  lua_pushstring(L, dir);
  lua_setfield(L, -2, "pixjit_lua_dir");
  snprintf(lib_prefix, sizeof lib_prefix, "@%s/pixjit/", dir);
  /* package.loaded["pixjit.hostlib"]: the functions above. */
  lua_getfield(L, -1, "loaded");
  lua_newtable(L);
  luaL_register(L, NULL, hostlib);
  lua_setfield(L, -2, "pixjit.hostlib");
  lua_pop(L, 1);
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_pixjit_lineprof);
  lua_setfield(L, -2, "pixjit.lineprof");
  lua_pop(L, 2);

  lua_getglobal(L, "require");
  lua_pushliteral(L, "pixjit.host");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 1, 1);
  return 1;
}

int main(int argc, char **argv) {
  /* Image buffers are large and short-lived.  glibc would hand each one to
   * mmap and back, paying a page fault and a kernel page clear per 4 KiB on
   * every new image (a fifth of a PNG load's time); keeping them in the
   * heap lets the next image reuse the pages. */
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "pixjit: cannot create the Lua state (out of memory)\n");
    return 1;
  }
  host_L = L;
  lua_pushcfunction(L, traceback);
  lua_pushcfunction(L, run_host);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 1);
  int code;
  if (status != 0) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "pixjit: %s\n", msg ? msg : "(error without a message)");
    code = 1;
  } else {
    code = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : 0;
  }
  fflush(stdout);
  lua_close(L);
  return code;
}
