-- pixjit.filters: neighbourhood kernels and thresholds, each as its cv2
-- counterpart computes it for 8-bit images (blur, GaussianBlur, dilate,
-- erode, threshold, adaptiveThreshold).  Options are checked here, where
-- their names are known; C checks the values and writes what is wrong.
local ffi = require "ffi"
local core = require "pixjit.core"

local C = core.C
local int, num, image, wrap = core.int, core.num, core.image, core.wrap

local M = {}

-- The method img:name(kw [, kh]) of a kernel over a kw x kh rectangle (kh
-- defaults to kw), run by the C function fn.
local function rect_kernel(name, fn)
  local f = "img:" .. name
  return function(img, kw, kh)
    image(f, "self", img)
    int(f, "kw", kw)
    return wrap(f, fn(img, kw, kh == nil and kw or int(f, "kh", kh)))
  end
end

-- img:blur(kw [, kh]) -> kw x kh normalised box filter.
M.blur = rect_kernel("blur", C.pj_image_blur)

-- img:gaussian_blur(k [, sigma]) -> k x k Gaussian; sigma 0 (the default)
-- derives it from k, k = 0 derives k from sigma.
function M.gaussian_blur(img, k, sigma)
  local f = "img:gaussian_blur"
  image(f, "self", img)
  int(f, "k", k)
  return wrap(f, C.pj_image_gaussian_blur(img, k, sigma == nil and 0 or num(f, "sigma", sigma)))
end

-- img:dilate(kw [, kh]) / img:erode(kw [, kh]) -> maximum / minimum over a
-- kw x kh rectangle.
M.dilate = rect_kernel("dilate", C.pj_image_dilate)
M.erode = rect_kernel("erode", C.pj_image_erode)

local TYPES = { binary = C.PJ_THRESH_BINARY, binary_inv = C.PJ_THRESH_BINARY_INV,
                trunc = C.PJ_THRESH_TRUNC, tozero = C.PJ_THRESH_TOZERO,
                tozero_inv = C.PJ_THRESH_TOZERO_INV }
local TYPE_WORDS = '"binary", "binary_inv", "trunc", "tozero" or "tozero_inv"'
local THRESHOLD_OPTS = { type = true, maxval = true, otsu = true }
local used = ffi.new("double[1]")

-- img:threshold(t [, opts]) -> image, level: every byte against t, as
-- cv2.threshold; opts.type (default "binary"), opts.maxval (255),
-- opts.otsu (choose the level by Otsu's method; t may then be nil).
-- level is the threshold applied (t floored, or Otsu's).
function M.threshold(img, t, opts)
  local f = "img:threshold"
  image(f, "self", img)
  local ty, maxval, otsu = C.PJ_THRESH_BINARY, 255, false
  if opts ~= nil then
    opts = core.opts(f, opts, THRESHOLD_OPTS)
    if opts.type ~= nil then ty = core.choice(f, "opts.type", opts.type, TYPES, TYPE_WORDS) end
    if opts.maxval ~= nil then maxval = num(f, "opts.maxval", opts.maxval) end
    if opts.otsu ~= nil then
      if type(opts.otsu) ~= "boolean" then
        core.raise(f .. ": opts.otsu must be a boolean, got " .. core.describe(opts.otsu))
      end
      otsu = opts.otsu
    end
  end
  if otsu then
    if t ~= nil then num(f, "t", t) end
    if img.channels ~= 1 then
      core.raise(string.format("%s: opts.otsu needs a 1-channel image, got %d channels", f, img.channels))
    end
    ty = ty + C.PJ_THRESH_OTSU
  else
    num(f, "t", t)
  end
  local out = wrap(f, C.pj_image_threshold(img, t or 0, maxval, ty, used))
  return out, used[0]
end

local METHODS = { mean = C.PJ_ADAPTIVE_MEAN, gaussian = C.PJ_ADAPTIVE_GAUSSIAN }
local ADAPTIVE_TYPES = { binary = C.PJ_THRESH_BINARY, binary_inv = C.PJ_THRESH_BINARY_INV }
local ADAPTIVE_OPTS = { method = true, block = true, c = true, type = true, maxval = true }

-- img:adaptive_threshold(opts) -> image: a 1-channel image against the
-- mean (or Gaussian-weighted mean) of each pixel's block, less opts.c, as
-- cv2.adaptiveThreshold.  opts.block (odd, >= 3) is required; method
-- "mean" (default) or "gaussian", c (0), type "binary" (default) or
-- "binary_inv", maxval (255).
function M.adaptive_threshold(img, opts)
  local f = "img:adaptive_threshold"
  image(f, "self", img)
  if opts == nil then core.raise(f .. ": opts.block is required (an odd integer >= 3)") end
  opts = core.opts(f, opts, ADAPTIVE_OPTS)
  local block = opts.block
  if block == nil then core.raise(f .. ": opts.block is required (an odd integer >= 3)") end
  int(f, "opts.block", block)
  if block < 3 or block % 2 == 0 then
    core.raise(string.format("%s: opts.block must be odd and >= 3, got %d", f, block))
  end
  if img.channels ~= 1 then
    core.raise(string.format("%s: needs a 1-channel image (img:to_gray()), got %d channels", f, img.channels))
  end
  local method = opts.method == nil and C.PJ_ADAPTIVE_MEAN
    or core.choice(f, "opts.method", opts.method, METHODS, '"mean" or "gaussian"')
  local ty = opts.type == nil and C.PJ_THRESH_BINARY
    or core.choice(f, "opts.type", opts.type, ADAPTIVE_TYPES, '"binary" or "binary_inv"')
  local c = opts.c == nil and 0 or num(f, "opts.c", opts.c)
  local maxval = opts.maxval == nil and 255 or num(f, "opts.maxval", opts.maxval)
  return wrap(f, C.pj_image_adaptive_threshold(img, maxval, method, ty, block, c))
end

return M
