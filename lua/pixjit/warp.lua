-- pixjit.warp: pj.perspective, img:warp_perspective and img:crop_quads.
local ffi = require "ffi"
local core = require "pixjit.core"
local quads = require "pixjit.quads"

local C = core.C
local int, num, count = core.int, core.num, core.count

local M = {}

local float_arr = ffi.typeof("float[?]")
local points = quads.points

-- pj.perspective(src_quad, dst_quad) -> 3x3 matrix {{...}, {...}, {...}}
-- as OpenCV's getPerspectiveTransform (points are rounded to float32).
function M.perspective(src, dst)
  local f = "pixjit.perspective"
  local s, err = points(src)
  if not s then core.raise(f .. ": src_quad " .. err) end
  local d, err2 = points(dst)
  if not d then core.raise(f .. ": dst_quad " .. err2) end
  local m = ffi.new("double[9]")
  if C.pj_perspective(s, d, m) ~= 0 then core.fail(f) end
  return { { m[0], m[1], m[2] }, { m[3], m[4], m[5] }, { m[6], m[7], m[8] } }
end

local INTERP = { linear = C.PJ_INTER_LINEAR, bilinear = C.PJ_INTER_LINEAR, nearest = C.PJ_INTER_NEAREST }
local BORDER = { constant = C.PJ_BORDER_CONSTANT, replicate = C.PJ_BORDER_REPLICATE }

local function fill_warp_opts(f, o, opts, channels)
  if opts.interpolation ~= nil then
    o.interpolation = core.choice(f, "opts.interpolation", opts.interpolation, INTERP,
                                  '"linear" or "nearest"')
  end
  if opts.border ~= nil then
    o.border = core.choice(f, "opts.border", opts.border, BORDER, '"constant" or "replicate"')
  end
  if opts.border_value ~= nil then
    ffi.copy(o.border_value, core.pixel(f, "opts.border_value", opts.border_value, channels), 4)
  end
end

local WARP_OPTS = { interpolation = true, border = true, border_value = true, max_pixels = true }

-- img:warp_perspective(M, w, h [, opts]) -> w x h image; M maps source
-- to output (as OpenCV's warpPerspective without WARP_INVERSE_MAP).
-- opts: interpolation ("linear" | "nearest"), border ("constant" |
-- "replicate"), border_value (number or one per channel), max_pixels.
function M.warp_perspective(img, m, w, h, opts)
  local f = "img:warp_perspective"
  core.image(f, "self", img)
  local mm = ffi.new("double[9]")
  if type(m) ~= "table" then core.raise(f .. ": M must be a 3x3 table, got " .. core.describe(m)) end
  for r = 1, 3 do
    local row = m[r]
    if type(row) ~= "table" then core.raise(f .. ": M must be a 3x3 table (row " .. r .. " missing)") end
    for c = 1, 3 do mm[(r - 1) * 3 + c - 1] = num(f, "M[" .. r .. "][" .. c .. "]", row[c]) end
  end
  int(f, "w", w)
  int(f, "h", h)
  opts = core.opts(f, opts, WARP_OPTS)
  local o = ffi.new("pj_warp_opts")
  fill_warp_opts(f, o, opts, img.channels)
  if opts.max_pixels ~= nil then o.max_pixels = count(f, "opts.max_pixels", opts.max_pixels) end
  return core.wrap(f, C.pj_warp_perspective(img, mm, w, h, o))
end

-- Quads as a Lua array (of 4 points or 8 numbers each), or an FFI float
-- array of 8*n values -> float array, count, and the reasons why entries
-- are malformed (their coordinates become NaN, so C skips them).
local function quad_array(f, list, n)
  if type(list) == "cdata" then
    if n == nil then core.raise(f .. ": an FFI quad array needs opts.count") end
    return ffi.cast("const float *", list), n, {}
  end
  if type(list) ~= "table" then
    core.raise(f .. ": quads must be a table or an FFI float array, got " .. core.describe(list))
  end
  n = #list
  local arr, bad = float_arr(math.max(8 * n, 8)), {}
  for i = 1, n do
    local dst = arr + 8 * (i - 1)
    local q, err = points(list[i], dst)
    if not q then
      bad[i] = err
      for k = 0, 7 do dst[k] = 0 / 0 end
    end
  end
  return arr, n, bad
end

local CROP_OPTS = { interpolation = true, border = true, border_value = true, rotate = true,
                    rotate_ratio = true, height = true, max_crop_pixels = true,
                    max_total_pixels = true, max_quads = true, count = true, strict = true }

local function crop_opts(f, opts, channels)
  local o = ffi.new("pj_crop_opts")
  fill_warp_opts(f, o.warp, opts, channels)
  if opts.rotate ~= nil then o.rotate_tall = opts.rotate and 1 or 0 end
  if opts.rotate_ratio ~= nil then o.rotate_ratio = core.pos(f, "opts.rotate_ratio", opts.rotate_ratio) end
  if opts.height ~= nil then o.height = count(f, "opts.height", opts.height) end
  if opts.max_crop_pixels ~= nil then o.max_crop_pixels = count(f, "opts.max_crop_pixels", opts.max_crop_pixels) end
  if opts.max_total_pixels ~= nil then o.max_total_pixels = count(f, "opts.max_total_pixels", opts.max_total_pixels) end
  if opts.max_quads ~= nil then o.max_quads = count(f, "opts.max_quads", opts.max_quads) end
  return o
end

-- img:crop_quads(quads [, opts]) -> crops, errors
-- Cuts every quad (TL, TR, BR, BL) out in one parallel C call.  crops[i]
-- is an image, or false when quad i failed; errors[i] then says why and
-- errors.n counts the failures.  opts: interpolation, border, border_value
-- (as warp_perspective), rotate (turn crops with h/w >= rotate_ratio 90
-- degrees counter-clockwise, as PaddleOCR), rotate_ratio (1.5), height
-- (fixed output height, aspect kept), max_crop_pixels, max_total_pixels,
-- max_quads, count (quads in an FFI array), strict (raise on any failure).
function M.crop_quads(img, list, opts)
  local f = "img:crop_quads"
  core.image(f, "self", img)
  opts = core.opts(f, opts, CROP_OPTS)
  if opts.count ~= nil then core.range(f, "opts.count", opts.count, 0) end
  local arr, n, bad = quad_array(f, list, opts.count)
  local o = crop_opts(f, opts, img.channels)
  local outp = ffi.new("pj_image *[?]", math.max(n, 1))
  local status = ffi.new("int32_t[?]", math.max(n, 1))
  if C.pj_crop_quads(img, arr, n, o, outp, status) ~= 0 then core.fail(f) end
  local crops, errors = {}, { n = 0 }
  local adopt = core.adopt
  for i = 0, n - 1 do
    local p = outp[i]
    if p ~= nil then
      crops[i + 1] = adopt(p)
    else
      crops[i + 1] = false
      -- Malformed entries are Lua's to describe; everything else C's.
      errors[i + 1] = "quad " .. (i + 1) .. ": " .. (bad[i + 1] or ffi.string(C.pj_item_errmsg(i)))
      errors.n = errors.n + 1
    end
  end
  core.account()
  if opts.strict and errors.n > 0 then
    for i = 1, n do
      if errors[i] then core.raise(f .. ": " .. errors[i]) end
    end
  end
  return crops, errors
end

return M
