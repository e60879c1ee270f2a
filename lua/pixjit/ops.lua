-- pixjit.ops: image operations that make a new image from one: channel
-- conversion, resizing, padding, mirroring, turning, inverting.  Each is a
-- short path to one C call: check the handle and the argument types, call,
-- wrap.
local core = require "pixjit.core"

local C = core.C
local int, image, wrap = core.int, core.image, core.wrap

local M = {}

-- img:convert(channels) -> copy with 1-4 channels (gray by BT.601).
function M.convert(img, channels)
  image("img:convert", "self", img)
  return wrap("img:convert", C.pj_image_convert(img, int("img:convert", "channels", channels)))
end

-- img:to_gray() -> 1-channel image (BT.601, as cv2.cvtColor RGB2GRAY).
function M.to_gray(img)
  return wrap("img:to_gray", C.pj_image_convert(image("img:to_gray", "self", img), 1))
end

-- img:swap_rb() -> copy with red and blue exchanged (RGB <-> BGR).
function M.swap_rb(img)
  return wrap("img:swap_rb", C.pj_image_swap_rb(image("img:swap_rb", "self", img)))
end

local INTERP = { linear = C.PJ_INTER_LINEAR, bilinear = C.PJ_INTER_LINEAR,
                 area = C.PJ_INTER_AREA, nearest = C.PJ_INTER_NEAREST }
M.INTERP = INTERP
M.INTERP_WORDS = '"linear", "area" or "nearest"'

local RESIZE_OPTS = { interpolation = true }

-- img:resize(w, h [, opts]) -> image; opts.interpolation: "linear"
-- (cv2.resize INTER_LINEAR), "area" (INTER_AREA, for shrinking), "nearest".
function M.resize(img, w, h, opts)
  local f = "img:resize"
  image(f, "self", img)
  int(f, "w", w)
  int(f, "h", h)
  local interp = C.PJ_INTER_LINEAR
  if opts ~= nil then
    opts = core.opts(f, opts, RESIZE_OPTS)
    if opts.interpolation ~= nil then
      interp = core.choice(f, "opts.interpolation", opts.interpolation, INTERP, M.INTERP_WORDS)
    end
  end
  return wrap(f, C.pj_image_resize(img, w, h, interp))
end

-- img:pad(top, bottom, left, right [, value]) -> bordered copy.
function M.pad(img, top, bottom, left, right, value)
  local f = "img:pad"
  image(f, "self", img)
  local px = value ~= nil and core.pixel(f, "value", value, img.channels) or nil
  return wrap(f, C.pj_image_pad(img, int(f, "top", top), int(f, "bottom", bottom),
                                int(f, "left", left), int(f, "right", right), px))
end

local FLIPS = { horizontal = C.PJ_FLIP_HORIZONTAL, vertical = C.PJ_FLIP_VERTICAL,
                both = C.PJ_FLIP_BOTH }

-- img:flip(how) -> mirrored copy: "horizontal" (left-right, cv2.flip 1),
-- "vertical" (top-bottom, 0) or "both" (-1).
function M.flip(img, how)
  local f = "img:flip"
  image(f, "self", img)
  return wrap(f, C.pj_image_flip(img, core.choice(f, "how", how, FLIPS,
                                                   '"horizontal", "vertical" or "both"')))
end

-- img:rot90([k]) -> copy turned k quarter turns counter-clockwise (numpy.rot90).
function M.rot90(img, k)
  local f = "img:rot90"
  image(f, "self", img)
  return wrap(f, C.pj_image_rot90(img, k == nil and 1 or int(f, "k", k)))
end

-- img:invert() -> copy with each colour byte v as 255 - v; alpha kept.
function M.invert(img)
  return wrap("img:invert", C.pj_image_invert(image("img:invert", "self", img)))
end

return M
