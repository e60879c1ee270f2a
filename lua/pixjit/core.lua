-- pixjit.core: finds the C library, wraps returned images for the garbage
-- collector, and checks arguments so that errors name the function and the
-- argument at fault instead of reaching C as NULL or garbage.
local ffi = require "ffi"
require "pixjit.cdef"

local M = {}

-- Inside bin/pixjit the core's symbols are exported by the executable; a
-- plain luajit loads build/libpixjit.so found next to this module (or
-- PIXJIT_LIB, or the system's library path).
local function find_library()
  local ok = pcall(function() return ffi.C.pj_version end)
  if ok then return ffi.C end
  local tried = {}
  local candidates = {}
  if os.getenv("PIXJIT_LIB") then candidates[#candidates + 1] = os.getenv("PIXJIT_LIB") end
  local src = debug.getinfo(1, "S").source:sub(2)
  local root = src:match("^(.*)/lua/pixjit/[^/]+$") or (src:match("^lua/pixjit/") and ".")
  if root then candidates[#candidates + 1] = root .. "/build/libpixjit.so" end
  candidates[#candidates + 1] = "pixjit"
  for _, path in ipairs(candidates) do
    local okl, lib = pcall(ffi.load, path)
    if okl then return lib end
    tried[#tried + 1] = path
  end
  error("pixjit: cannot find the pixjit C library (tried " .. table.concat(tried, ", ") ..
        "); run `make` or set PIXJIT_LIB", 0)
end

local C = find_library()
M.C = C
M.ffi = ffi

local image_ptr = ffi.typeof("pj_image *")
M.image_ptr = image_ptr

-- ---- Errors ---------------------------------------------------------------

-- Directory of the module's sources, to tell pixjit's frames from users'.
local OWN = debug.getinfo(1, "S").source:match("^@(.*/)[^/]+$") or "\0"

-- Raises msg at the first stack frame outside pixjit's own modules, so a
-- message points at the user's line however deep the check sat.
function M.raise(msg)
  local k = 2
  while true do
    local info = debug.getinfo(k, "S")
    if not info then break end
    if info.source:sub(1, 1) ~= "@" or info.source:sub(2, #OWN + 1) ~= OWN then break end
    k = k + 1
  end
  error(msg, k)
end

-- Raises "fname: msg" at the caller of the public function (level 3 from
-- here: check helper -> public function -> user code).
function M.fail(fname, msg, level)
  error(fname .. ": " .. msg, (level or 2) + 1)
end

-- The C library's last message for the calling thread.
function M.errmsg()
  return ffi.string(C.pj_errmsg())
end

-- A byte count for people: "900.0 KiB".
function M.fmt_bytes(n)
  if n >= 2^30 then return string.format("%.1f GiB", n / 2^30)
  elseif n >= 2^20 then return string.format("%.1f MiB", n / 2^20)
  elseif n >= 2^10 then return string.format("%.1f KiB", n / 2^10) end
  return string.format("%d B", n)
end

-- ---- Argument checks ------------------------------------------------------

local function describe(v)
  local t = type(v)
  if t == "number" then
    if v ~= v then return "nan" end
    return tostring(v)
  elseif t == "string" then
    return string.format("%q", #v > 40 and v:sub(1, 40) .. "..." or v)
  elseif t == "cdata" then
    if ffi.istype("pj_image *", v) then return "an image" end
    if ffi.istype("pj_tensor *", v) then return "a tensor" end
    return tostring(ffi.typeof(v))
  end
  return t
end
M.describe = describe

-- Integer argument in [lo, hi] (either may be nil).
function M.int(fname, name, v, lo, hi)
  if type(v) ~= "number" or v ~= v or v % 1 ~= 0 or v == math.huge or v == -math.huge then
    M.raise(string.format("%s: %s must be an integer, got %s", fname, name, describe(v)))
  end
  if (lo and v < lo) or (hi and v > hi) then
    local range = lo and hi and string.format("%d to %d", lo, hi)
      or lo and string.format(">= %d", lo) or string.format("<= %d", hi)
    M.raise(string.format("%s: %s must be %s, got %s", fname, name, range, describe(v)))
  end
  return v
end

-- Finite number argument in [lo, hi].
function M.num(fname, name, v, lo, hi)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
    M.raise(string.format("%s: %s must be a finite number, got %s", fname, name, describe(v)))
  end
  if (lo and v < lo) or (hi and v > hi) then
    local range = lo and hi and string.format("between %s and %s", tostring(lo), tostring(hi))
      or lo and ">= " .. tostring(lo) or "<= " .. tostring(hi)
    M.raise(string.format("%s: %s must be %s, got %s", fname, name, range, describe(v)))
  end
  return v
end

function M.str(fname, name, v)
  if type(v) ~= "string" then
    M.raise(string.format("%s: %s must be a string, got %s", fname, name, describe(v)))
  end
  return v
end

function M.is_image(v)
  return type(v) == "cdata" and ffi.istype(image_ptr, v)
end

-- A live image (not nil, not another type, not freed).
function M.image(fname, name, v)
  if not M.is_image(v) then
    M.raise(string.format("%s: %s must be an image, got %s", fname, name, describe(v)))
  end
  if v.data == nil then
    M.raise(string.format("%s: %s has been freed", fname, name))
  end
  return v
end

-- An options table (or nil): rejects unknown keys, so a misspelt option
-- is an error rather than silently ignored.
function M.opts(fname, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    M.raise(string.format("%s: options must be a table, got %s", fname, describe(opts)))
  end
  for k in pairs(opts) do
    if not allowed[k] then
      local names = {}
      for n in pairs(allowed) do names[#names + 1] = n end
      table.sort(names)
      M.raise(string.format("%s: unknown option %s (known: %s)", fname, describe(k),
                            table.concat(names, ", ")))
    end
  end
  return opts
end

-- ---- Time -----------------------------------------------------------------

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

-- ---- Memory ---------------------------------------------------------------

-- LuaJIT's collector only sees the few bytes of each handle, not the pixels
-- behind it, so a loop that drops large images would grow without bound.
-- The C core counts live pixel bytes; when they pass a threshold a full
-- collection runs (finalizers release the buffers) and the threshold is
-- reset to twice what survived, keeping collections amortised.
local MIN_THRESHOLD = 192 * 2^20
local threshold = MIN_THRESHOLD

local function account()
  local live = tonumber(C.pj_mem_live())
  if live > threshold then
    collectgarbage("collect")
    live = tonumber(C.pj_mem_live())
    threshold = math.max(MIN_THRESHOLD, 2 * live)
  end
end
M.account = account

-- Wraps a new reference from C: NULL becomes a Lua error naming fname,
-- raised at the user's line.
function M.wrap(fname, p)
  if p == nil then M.raise(fname .. ": " .. M.errmsg()) end
  ffi.gc(p, C.pj_image_release)
  account()
  return p
end

return M
