-- pixjit: image preprocessing kernels for LuaJIT.
--
--   local pj = require "pixjit"
--   local img = pj.load("page.png")
--   print(img.width, img.height, img:get(0, 0))
--
-- Images are FFI handles on refcounted C buffers; kernels run in C with
-- OpenMP on the very bytes that img:pixels() exposes to Lua.
local ffi = require "ffi"
local core = require "pixjit.core"
local methods = require "pixjit.image"
local sys = require "pixjit.sys"

local C = core.C
local int, opts_check = core.int, core.opts

local pj = {}
pj.version = ffi.string(C.pj_version())
pj.C = C                    -- the raw C API, for advanced use
pj.image_methods = methods  -- extension point: add methods to every image

local DECODE_OPTS = { channels = true, max_pixels = true, max_scans = true,
                      max_chunk_bytes = true, name = true }

local function decode_opts(f, opts)
  opts = opts_check(f, opts, DECODE_OPTS)
  local o = ffi.new("pj_decode_opts")
  if opts.channels ~= nil then o.channels = int(f, "opts.channels", opts.channels, 1, 4) end
  if opts.max_pixels ~= nil then o.max_pixels = int(f, "opts.max_pixels", opts.max_pixels, 1) end
  if opts.max_scans ~= nil then o.max_scans = int(f, "opts.max_scans", opts.max_scans, 1) end
  if opts.max_chunk_bytes ~= nil then
    o.max_chunk_bytes = int(f, "opts.max_chunk_bytes", opts.max_chunk_bytes, 1)
  end
  return o, opts
end

-- pj.load(path [, opts]) -> image.  PNG, JPEG or NumPy .npy by content
-- (a uint8 .npy gives an image, a float32 one a tensor).
-- opts: channels (1-4), max_pixels, max_scans (JPEG), max_chunk_bytes (PNG).
local function is_npy_file(path)
  local fh = io.open(path, "rb")
  if not fh then return false end
  local head = fh:read(6)
  fh:close()
  return head == "\147NUMPY"
end

function pj.load(path, opts)
  local f = "pixjit.load"
  core.str(f, "path", path)
  local o, lopts = decode_opts(f, opts)
  if is_npy_file(path) then
    local fh = assert(io.open(path, "rb"))
    local bytes = fh:read("*a")
    fh:close()
    local v = require("pixjit.tensor").decode_npy(f, bytes, path, lopts.max_pixels)
    return v
  end
  return core.wrap(f, C.pj_load(path, o))
end

-- pj.decode(bytes [, opts]) -> image from a string holding a PNG or JPEG.
-- opts as pj.load, plus name (used in error messages).
function pj.decode(bytes, opts)
  local f = "pixjit.decode"
  core.str(f, "bytes", bytes)
  local o, lopts = decode_opts(f, opts)
  local name = lopts.name ~= nil and core.str(f, "opts.name", lopts.name) or nil
  if bytes:sub(1, 6) == "\147NUMPY" then
    local v = require("pixjit.tensor").decode_npy(f, bytes, name or "<memory>", lopts.max_pixels)
    return v
  end
  return core.wrap(f, C.pj_decode(bytes, #bytes, name, o))
end

-- pj.new(w, h, channels [, fill]) -> zero-filled (or filled) image.
function pj.new(w, h, channels, fill)
  local f = "pixjit.new"
  int(f, "width", w, 1)
  int(f, "height", h, 1)
  int(f, "channels", channels, 1, 4)
  local img = core.wrap(f, C.pj_image_new(w, h, channels, 0))
  if fill ~= nil and fill ~= 0 then
    if type(fill) ~= "number" and type(fill) ~= "table" then
      error(f .. ": fill must be a number or a table, got " .. core.describe(fill), 2)
    end
    local ok, err = pcall(img.fill, img, fill)
    if not ok then error((err:gsub("^img:fill", f)), 2) end
  end
  return img
end

function pj.is_image(v) return core.is_image(v) end

-- pj.threads([n]) -> threads kernels use.  n = 0 restores the automatic
-- choice (affinity mask, cgroup quota, PIXJIT_THREADS, OMP_NUM_THREADS).
function pj.threads(n)
  if n ~= nil then
    C.pj_threads_set(int("pixjit.threads", "n", n, 0, 4096))
  end
  return C.pj_threads_get()
end

-- pj.now() -> seconds from a monotonic clock (wall time, for timing).
pj.now = core.now

-- pj.mkdir(path): creates a directory and its parents (like mkdir -p).
function pj.mkdir(path)
  local f = "pixjit.mkdir"
  core.str(f, "path", path)
  local sofar = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    sofar = sofar .. part
    if sys.C.mkdir(sofar, 493) ~= 0 and ffi.errno() ~= 17 then -- 0755; EEXIST is fine
      error(f .. ": " .. sofar .. ": " .. sys.errstr(), 2)
    end
    sofar = sofar .. "/"
  end
  return path
end

-- Bytes of pixel memory held by all live images.
function pj.memory()
  return tonumber(C.pj_mem_live())
end

-- Optional parts: each extends pj and the image methods when present.
for _, name in ipairs { "pixjit.colors", "pixjit.warp", "pixjit.profile", "pixjit.tensor", "pixjit.show" } do
  local ok, mod = pcall(require, name)
  if ok then
    mod.install(pj, methods)
  elseif not tostring(mod):find("module '" .. name .. "' not found", 1, true) then
    error(mod, 0)
  end
end

return pj
