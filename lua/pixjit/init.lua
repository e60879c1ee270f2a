-- pixjit: image preprocessing kernels for LuaJIT.
--
--   local pj = require "pixjit"
--   local img = pj.load("page.png")
--   print(img.width, img.height, img:get(0, 0))
--
-- Images are FFI handles on refcounted C buffers; kernels run in C with
-- OpenMP on the very bytes that img:pixels() exposes to Lua.  This file is
-- the wiring: it requires each part by name and assembles the module table
-- and the one method table of every image.
local ffi = require "ffi"
local core = require "pixjit.core"
local image = require "pixjit.image"
local codec = require "pixjit.codec"
local ops = require "pixjit.ops"
local filters = require "pixjit.filters"
local colors = require "pixjit.colors"
local warp = require "pixjit.warp"
local quads = require "pixjit.quads"
local tensor = require "pixjit.tensor"
local profile = require "pixjit.profile"
local show = require "pixjit.show"
local sys = require "pixjit.sys"

local C = core.C

local pj = {}
pj.version = ffi.string(C.pj_version())
pj.C = C -- the raw C API, for advanced use

-- ---- Image methods ---------------------------------------------------------

local methods = {
  -- the handle (pixjit.image)
  view = image.view, clone = image.clone, get = image.get, set = image.set,
  fill = image.fill, pixels = image.pixels, free = image.free, refs = image.refs,
  -- files (pixjit.codec)
  save = codec.save, encode = codec.encode,
  -- operations (pixjit.ops)
  convert = ops.convert, to_gray = ops.to_gray, swap_rb = ops.swap_rb, resize = ops.resize,
  pad = ops.pad, flip = ops.flip, rot90 = ops.rot90, invert = ops.invert,
  -- neighbourhoods and thresholds (pixjit.filters)
  blur = filters.blur, gaussian_blur = filters.gaussian_blur, dilate = filters.dilate,
  erode = filters.erode, threshold = filters.threshold,
  adaptive_threshold = filters.adaptive_threshold,
  -- kernels
  main_colors = colors.main_colors,
  warp_perspective = warp.warp_perspective, crop_quads = warp.crop_quads,
}
image.bind(methods)
pj.image_methods = methods -- extension point: add methods to every image

-- ---- Functions --------------------------------------------------------------

pj.new = image.new
pj.is_image = core.is_image
pj.load, pj.decode, pj.save_all = codec.load, codec.decode, codec.save_all
pj.load_pages, pj.info, pj.save_tar = codec.load_pages, codec.info, codec.save_tar
pj.palette, pj.hex = colors.palette, colors.hex
pj.perspective = warp.perspective
pj.read_quads, pj.parse_quads = quads.read, quads.parse
pj.tensor, pj.pack, pj.is_tensor = tensor.new, tensor.pack, tensor.is_tensor
pj.profile, pj.lprun, pj.timeit = profile.profile, profile.lprun, profile.timeit
pj.stats, pj.stats_reset = profile.stats, profile.stats_reset
pj.show = show.show
pj.now = core.now

-- pj.threads([n]) -> threads kernels use.  n = 0 restores the automatic
-- choice (affinity mask, cgroup quota, PIXJIT_THREADS, OMP_NUM_THREADS).
function pj.threads(n)
  if n ~= nil then C.pj_threads_set(core.range("pixjit.threads", "n", n, 0, 4096)) end
  return C.pj_threads_get()
end

-- pj.mkdir(path): creates a directory and its parents (like mkdir -p).
function pj.mkdir(path)
  local f = "pixjit.mkdir"
  core.str(f, "path", path)
  local sofar = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    sofar = sofar .. part
    if sys.C.mkdir(sofar, 493) ~= 0 and ffi.errno() ~= 17 then -- 0755; EEXIST is fine
      core.raise(f .. ": " .. sofar .. ": " .. sys.errstr())
    end
    sofar = sofar .. "/"
  end
  return path
end

-- Bytes of pixel memory held by all live images.
function pj.memory()
  core.settle()
  return tonumber(C.pj_mem_live())
end

return pj
