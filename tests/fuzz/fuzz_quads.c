/*
 * fuzz_quads.c - the quads JSON parser (pj.parse_quads, Lua over
 * lua-cjson) on arbitrary text, inside an embedded LuaJIT that finds the
 * core through the exported symbols, as bin/pixjit does.  Lua errors are
 * the expected outcome for bad input; only crashes and hangs are findings.
 * LeakSanitizer cannot see into LuaJIT's mmap'd heap, so C memory owned by
 * live Lua values looks unreachable between inputs: scripts/fuzz.sh runs
 * this target without per-input leak checks, and the replay under ASan
 * (make check) checks leaks at exit, after lua_close frees everything.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef PIXJIT_LUA_DIR
#define PIXJIT_LUA_DIR "lua"
#endif

static lua_State *L;
static int parse_ref;

static void close_state(void) {
  lua_close(L); /* runs the finalizers: every image and decoder is freed */
  L = NULL;
}

static void init(void) {
  L = luaL_newstate();
  atexit(close_state);
  luaL_openlibs(L);
  const char *code =
      "package.path = '" PIXJIT_LUA_DIR "/?.lua;" PIXJIT_LUA_DIR "/?/init.lua;' .. package.path\n"
      "local pj = require 'pixjit'\n"
      "return function(s)\n"
      "  local ok, q = pcall(pj.parse_quads, s, { max_quads = 10000 })\n"
      "  if ok and #q > 0 then\n"
      "    local img = pj.new(16, 16, 3)\n"
      "    local crops = img:crop_quads(q, { max_crop_pixels = 4096, max_total_pixels = 1000000 })\n"
      "    for _, c in ipairs(crops) do if c then c:free() end end\n"
      "  end\n"
      "end\n";
  if (luaL_dostring(L, code)) {
    fprintf(stderr, "fuzz_quads: %s\n", lua_tostring(L, -1));
    abort();
  }
  parse_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) init();
  lua_rawgeti(L, LUA_REGISTRYINDEX, parse_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0)) {
    fprintf(stderr, "fuzz_quads: %s\n", lua_tostring(L, -1));
    abort(); /* parse errors are caught inside; anything else is a bug */
  }
  /* Images and crops made for this input are freed before the next. */
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
