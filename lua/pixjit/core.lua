-- pixjit.core: finds the C library, wraps returned images for the garbage
-- collector, raises errors at the user's line, and checks argument types so
-- that a wrong type is an error naming the function and the argument
-- instead of reaching C as NULL or garbage.  Values (ranges, sizes) are
-- the C core's to check: it writes those messages, and Lua shows them.
local ffi = require "ffi"
require "pixjit.cdef"

local M = {}

-- ---- The library ------------------------------------------------------------

-- Directory of the module's sources: pixjit's own frames are the ones from
-- here, and an installed library is found relative to it.
local OWN = debug.getinfo(1, "S").source:match("^@(.*/)[^/]+$") or "\0"
M.dir = OWN

-- Inside bin/pixjit the core's symbols are exported by the executable.  A
-- plain luajit loads the shared library: PIXJIT_LIB, then the one `make
-- install` recorded beside these modules, then a checkout's build/, then
-- the installed prefix relative to share/lua/5.1/pixjit/ (as `make install`
-- and luarocks lay it out), then the system's library search.
local function candidates()
  local list = {}
  local function add(p) if p and p ~= "" then list[#list + 1] = p end end
  add(os.getenv("PIXJIT_LIB"))
  local ok, recorded = pcall(require, "pixjit.libpath")
  if ok and type(recorded) == "string" then add(recorded) end
  local root = OWN:match("^(.*)/lua/pixjit/$") or (OWN == "lua/pixjit/" and ".")
  if root then add(root .. "/build/libpixjit.so") end
  local prefix = OWN:match("^(.*)/share/lua/5%.1/pixjit/$")
  if prefix then
    add(prefix .. "/lib/libpixjit.so.0")
    add(prefix .. "/lib/lua/5.1/libpixjit.so")
  end
  add("libpixjit.so.0")
  add("pixjit")
  return list
end

local function find_library()
  if pcall(function() return ffi.C.pj_version end) then return ffi.C end
  local tried = {}
  for _, path in ipairs(candidates()) do
    local ok, lib = pcall(ffi.load, path)
    if ok then return lib end
    tried[#tried + 1] = path
  end
  -- Before M.raise exists: the one other raise, at load time.
  error("pixjit: cannot find the pixjit C library (tried " .. table.concat(tried, ", ") ..
        "); run `make` or set PIXJIT_LIB", 0)
end

local C = find_library()
M.C = C
M.ffi = ffi

-- Images handed to Lua are the `pj_image *` that C returns (see Handles
-- below); a pj_image struct made in Lua is accepted wherever an image is.
local image_ptr = ffi.typeof("pj_image *")
local image_t = ffi.typeof("pj_image")
M.image_ptr = image_ptr
M.image_t = image_t

local function is_image(v)
  return type(v) == "cdata" and (ffi.istype(image_t, v) or ffi.istype(image_ptr, v))
end

-- ---- Errors -------------------------------------------------------------------

-- C functions that only pass calls on (the line profiler's wrappers of
-- pixjit's functions): errors look through them.
M.passthrough = setmetatable({}, { __mode = "k" })

-- The level of the first stack frame outside pixjit's own modules, as
-- error() counts from the function that calls this one.
local function user_level()
  local k = 3
  while true do
    local info = debug.getinfo(k, "Sf")
    if not info then break end
    local own = info.source:sub(1, 1) == "@" and info.source:sub(2, #OWN + 1) == OWN
    if not own and not M.passthrough[info.func] then break end
    k = k + 1
  end
  return k - 1
end

-- Raises msg at the user's line, however deep in pixjit the check sat, or,
-- with where = 0, without a position (for errors in a job file or on the
-- command line, which no line of code caused).  The one way pixjit's Lua
-- code raises.
function M.raise(msg, where)
  if where == 0 then error(msg, 0) end
  error(msg, user_level())
end

-- The C library's last message for the calling thread.
function M.errmsg()
  return ffi.string(C.pj_errmsg())
end

-- Raises "f: <C's message>" for a failed call.
function M.fail(f)
  M.raise(f .. ": " .. M.errmsg())
end

-- A byte count for people: "900.0 KiB".
function M.fmt_bytes(n)
  if n >= 2^30 then return string.format("%.1f GiB", n / 2^30)
  elseif n >= 2^20 then return string.format("%.1f MiB", n / 2^20)
  elseif n >= 2^10 then return string.format("%.1f KiB", n / 2^10) end
  return string.format("%d B", n)
end

-- ---- Type checks ---------------------------------------------------------------

local function describe(v)
  local t = type(v)
  if t == "number" then
    if v ~= v then return "nan" end
    return tostring(v)
  elseif t == "string" then
    return string.format("%q", #v > 40 and v:sub(1, 40) .. "..." or v)
  elseif t == "cdata" then
    if is_image(v) then return "an image" end
    if ffi.istype("pj_tensor *", v) then return "a tensor" end
    return tostring(ffi.typeof(v))
  end
  return t
end
M.describe = describe

local function is_int(v)
  return type(v) == "number" and v == v and v % 1 == 0 and v ~= math.huge and v ~= -math.huge
end

-- An integer that a C int32 parameter holds; C checks its range.
function M.int(f, name, v)
  if not is_int(v) or v < -2147483648 or v > 2147483647 then
    M.raise(string.format("%s: %s must be an integer, got %s", f, name, describe(v)))
  end
  return v
end

-- An integer for a 64-bit field (up to 2^53).
function M.int64(f, name, v)
  if not is_int(v) or math.abs(v) > 2^53 then
    M.raise(string.format("%s: %s must be an integer, got %s", f, name, describe(v)))
  end
  return v
end

-- A positive integer, for the option fields whose 0 the C core reads as
-- "the default": a 0 from the user must not turn into the default.
function M.count(f, name, v)
  M.int64(f, name, v)
  if v < 1 then M.raise(string.format("%s: %s must be >= 1, got %s", f, name, describe(v))) end
  return v
end

-- A number; C checks that it is finite where it must be.
function M.num(f, name, v)
  if type(v) ~= "number" then
    M.raise(string.format("%s: %s must be a number, got %s", f, name, describe(v)))
  end
  return v
end

-- A positive finite number, for float fields whose 0 means the default.
function M.pos(f, name, v)
  if type(v) ~= "number" or not (v > 0) or v == math.huge then
    M.raise(string.format("%s: %s must be a positive number, got %s", f, name, describe(v)))
  end
  return v
end

-- An integer in [lo, hi], for values Lua itself turns into bytes or
-- otherwise uses without C seeing them.
function M.range(f, name, v, lo, hi)
  if not is_int(v) then
    M.raise(string.format("%s: %s must be an integer, got %s", f, name, describe(v)))
  end
  if (lo and v < lo) or (hi and v > hi) then
    local range = lo and hi and string.format("%d to %d", lo, hi)
      or lo and string.format(">= %d", lo) or string.format("<= %d", hi)
    M.raise(string.format("%s: %s must be %s, got %s", f, name, range, describe(v)))
  end
  return v
end

function M.str(f, name, v)
  if type(v) ~= "string" then
    M.raise(string.format("%s: %s must be a string, got %s", f, name, describe(v)))
  end
  return v
end

-- One of the keys of `choices` (a string naming an enum value, matched
-- without case when `anycase`); returns the value.
function M.choice(f, name, v, choices, words, anycase)
  local c = type(v) == "string" and choices[anycase and v:lower() or v] or nil
  if c == nil then
    M.raise(string.format("%s: %s must be %s, got %s", f, name, words, describe(v)))
  end
  return c
end

M.is_image = is_image

local account -- the collection check, under Handles below

-- A live image (not nil, not another type, not freed).  Every call that
-- takes an image checks it here first, before C makes a result, which is
-- when a collection lets the result reuse what the script dropped.
function M.image(f, name, v)
  if not is_image(v) then
    M.raise(string.format("%s: %s must be an image, got %s", f, name, describe(v)))
  end
  if v.data == nil then M.raise(string.format("%s: %s has been freed", f, name)) end
  account()
  return v
end

-- An options table (or nil): rejects unknown keys, so a misspelt option
-- is an error rather than silently ignored.
local EMPTY = setmetatable({}, { __newindex = function() M.raise("pixjit: options of nil are read-only") end })
function M.opts(f, opts, allowed)
  if opts == nil then return EMPTY end
  if type(opts) ~= "table" then
    M.raise(string.format("%s: options must be a table, got %s", f, describe(opts)))
  end
  for k in pairs(opts) do
    if not allowed[k] then
      local names = {}
      for n in pairs(allowed) do names[#names + 1] = n end
      table.sort(names)
      M.raise(string.format("%s: unknown option %s (known: %s)", f, describe(k),
                            table.concat(names, ", ")))
    end
  end
  return opts
end

-- A byte array of one value per channel from a number or a table of
-- `channels` numbers, each 0-255 (Lua turns them into bytes, so it checks
-- them).  Returns a uint8_t[4] that the next call reuses: pass it straight
-- to C.
local px = ffi.new("uint8_t[4]")
function M.pixel(f, name, v, channels)
  if type(v) == "number" then
    local b = M.range(f, name, v, 0, 255)
    px[0], px[1], px[2], px[3] = b, b, b, b
  elseif type(v) == "table" then
    if #v ~= channels then
      M.raise(string.format("%s: %s must have %d entries, got %d", f, name, channels, #v))
    end
    for i = 1, channels do px[i - 1] = M.range(f, name .. "[" .. i .. "]", v[i], 0, 255) end
  else
    M.raise(string.format("%s: %s must be a number or a table, got %s", f, name, describe(v)))
  end
  return px
end

-- ---- Time -------------------------------------------------------------------------

ffi.cdef [[
typedef struct pj_timespec { long tv_sec; long tv_nsec; } pj_timespec;
int clock_gettime(int clk, pj_timespec *ts);
]]
local ts = ffi.new("pj_timespec")

-- Seconds from the monotonic clock.
function M.now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- ---- Memory -----------------------------------------------------------------------

-- LuaJIT's collector only sees the few bytes of each handle, not the pixels
-- behind it, so a loop that drops large images would grow without bound.
-- The C core counts live pixel bytes; when they grow a step past what the
-- last full collection left, another runs (and the registry below releases
-- what it dropped).  The check runs before a kernel makes its result (see
-- account), so with a small Lua heap and its small step (8 MB) a dropped
-- page-sized result is back for the next one to reuse while still in
-- cache, much as Python's reference counting hands it back.  A collection
-- costs in proportion to the Lua heap (about 0.4 ms a megabyte), so the
-- step is 16 times the heap: that keeps collections a small part of even
-- a memory-speed kernel's time.  The step stays under 1/16 of the memory
-- the process may use (the machine's, or a tighter cgroup limit: a
-- container) and 256 MB.  The C core's cache of freed buffers may hold
-- one step: what a collection frees is then there for the results made
-- before the next one, and none of them faults in fresh pages (the
-- process held those bytes at the collection anyway).
local STEP = 8 * 2^20
local STEP_MAX = math.max(STEP, math.min(256 * 2^20, tonumber(C.pj_memory_limit()) / 16))
M.step_max = STEP_MAX
local threshold = STEP
-- The cache keeps its default (96 MB) where that fits the cap.
local CACHE_FLOOR = math.min(96 * 2^20, STEP_MAX)
C.pj_cache_limit(CACHE_FLOOR)

-- ---- Handles ----------------------------------------------------------------------

-- An image handed to Lua is the `pj_image *` that C returned, kept in a
-- registry instead of carrying a finalizer of its own.  A finalizer costs
-- a table entry when it is set and an uncompiled call from the collector
-- when it runs, several times what a small kernel does.  The registry
-- holds each pointer twice: weakly, so that the collector drops the entry
-- once the script has let go of the handle, and as a plain C pointer, so
-- that pixjit can release it afterwards.  A sentinel with a finalizer
-- marks the end of each collection; the dead entries are then released in
-- one compiled pass at the next handle, memory count or collection step
-- (a pass inside the finalizer would run uncompiled).
local release = C.pj_image_release
local C_std = ffi.C
local tnew = require "table.new"

ffi.cdef [[
void *realloc(void *p, size_t n);
void free(void *p);
]]

-- The raw pointers and the free slots live in C memory: the collector
-- neither walks nor counts them, so a burst of handles does not make every
-- later collection slower, nor the memory step (16 times the heap) larger.
local cap = 0
local live                   -- weak: slot -> handle
local raw, spare             -- pj_image *[cap + 1], int32_t[cap + 1]
local top = 0                -- highest slot in use
local nspare = 0             -- free slots below top, spare[1 .. nspare], the lowest last
local pending = false        -- a collection ended since the last sweep

-- Slots for ncap handles (>= top), keeping slots 1 .. top.
local function resize_slots(ncap)
  local nlive = setmetatable(tnew(ncap, 0), { __mode = "v" })
  for s = 1, top do nlive[s] = live[s] end
  local nraw = C_std.realloc(raw, ffi.sizeof("pj_image *") * (ncap + 1))
  local nspare_mem = nraw ~= nil and C_std.realloc(spare, 4 * (ncap + 1)) or nil
  if nspare_mem == nil then
    if nraw ~= nil then raw = ffi.cast("pj_image **", nraw) end
    M.raise("pixjit: out of memory for image handles")
  end
  live, raw, spare, cap = nlive, ffi.cast("pj_image **", nraw), ffi.cast("int32_t *", nspare_mem), ncap
  for s = top + 1, cap do raw[s] = nil end
end

-- Releases every handle that the collector has dropped and lists the free
-- slots again, lowest on top, so that slots in use stay packed at the
-- bottom and top comes down after a burst; the slots shrink once top has
-- come far down.
local function sweep()
  pending = false
  -- Lowest slot first: the highest held the newest results, whose buffers,
  -- released last, are the first the cache hands out again, while their
  -- lines are likeliest still in cache.
  for s = 1, top do
    local p = raw[s]
    if p ~= nil and live[s] == nil then
      raw[s] = nil
      release(p)
    end
  end
  local n, high = 0, 0
  for s = top, 1, -1 do
    if raw[s] ~= nil then
      if high == 0 then high = s end
    elseif high > 0 then
      n = n + 1
      spare[n] = s
    end
  end
  top, nspare = high, n
  if cap > 4096 and top < cap / 8 then resize_slots(cap / 2) end
end

local function arm()
  ffi.gc(ffi.new("char[1]"), function() pending = true; arm() end)
end
arm()

-- When the Lua state closes, every handle still registered is released.
M.closer = ffi.gc(ffi.new("char[1]"), function()
  for s = 1, top do
    if raw[s] ~= nil then release(raw[s]); raw[s] = nil end
  end
  top = 0
  C_std.free(raw)
  C_std.free(spare)
  raw, spare, cap = nil, nil, 0
end)

resize_slots(1024)

-- Releases what earlier collections dropped, if one ended since the last
-- time.  Called before anything reads the count of live pixel bytes.
function M.settle()
  if pending then sweep() end
end

-- A new reference from C as a Lua-owned handle.
local function adopt(p)
  if pending then sweep() end
  local s
  if nspare > 0 then
    s = spare[nspare]
    nspare = nspare - 1
  else
    s = top + 1
    if s > cap then resize_slots(cap * 2) end
    top = s
  end
  raw[s] = p
  live[s] = p
  return p
end
M.adopt = adopt

local function collect()
  collectgarbage("collect")
  sweep()
  local step = math.min(STEP_MAX, math.max(STEP, collectgarbage("count") * 1024 * 16))
  threshold = tonumber(C.pj_mem_live()) + step
  C.pj_cache_limit(math.max(CACHE_FLOOR, step))
end

-- Collects when pixel memory has grown a step.  M.image runs it before a
-- call makes its result: a loop that drops each result then hands the next
-- one the same memory, still in cache, as reference counting would;
-- collecting after the call would leave the result just made holding one
-- buffer and the one dropped before it another.
function account()
  if tonumber(C.pj_mem_live()) > threshold then collect() end
end
M.account = account

-- Wraps a new reference from C: NULL becomes a Lua error naming f and
-- carrying C's message, raised at the user's line.  Calls that take no
-- image (pj.new, pj.load) collect here, once what they made before has
-- grown a step: the new result itself is not counted, so that a call that
-- did check an image does not collect twice.
function M.wrap(f, p)
  if p == nil then M.fail(f) end
  local h = adopt(p)
  if tonumber(C.pj_mem_live()) - h.stride * h.height > threshold then collect() end
  return h
end

return M
