-- pixjit.colors: img:main_colors, pj.palette and pj.hex.
local ffi = require "ffi"
local core = require "pixjit.core"

local C = core.C
local int = core.int

local M = {}

local COLOR_OPTS = { min_alpha = true, bits = true, mask = true, region = true }

-- region = {x, y, w, h} (or {x=, y=, w=, h=}) -> the four numbers, checked.
local function region_of(f, img, r)
  if type(r) ~= "table" then
    error(f .. ": opts.region must be a table {x, y, w, h}, got " .. core.describe(r), 3)
  end
  local x, y = r.x or r[1], r.y or r[2]
  local w, h = r.w or r[3], r.h or r[4]
  int(f, "opts.region x", x, 0, img.width - 1)
  int(f, "opts.region y", y, 0, img.height - 1)
  int(f, "opts.region w", w, 1, img.width - x)
  int(f, "opts.region h", h, 1, img.height - y)
  return x, y, w, h
end

-- img:main_colors(n [, opts]) -> { {r=, g=, b=, count=}, ... }
-- The N most frequent colours among pixels with alpha >= opts.min_alpha
-- (default 1; every pixel when there is no alpha), count descending, ties
-- by packed 0xRRGGBB ascending.  The list also carries .counted (pixels
-- counted) and .distinct (distinct colours).  It is the only result, so
-- pj.palette(img:main_colors(6)) works.
-- opts: min_alpha (0-255), bits (1-8: quantise channels before counting,
-- each entry then reports its members' mean colour), region {x, y, w, h},
-- mask (1-channel image of the image's size; nonzero pixels count).
local function main_colors(img, n, opts)
  local f = "img:main_colors"
  core.image(f, "self", img)
  if n == nil then n = 6 end
  int(f, "n", n, 0, 2^24)
  opts = core.opts(f, opts, COLOR_OPTS)
  local o = ffi.new("pj_colors_opts")
  C.pj_colors_opts_default(o)
  if opts.min_alpha ~= nil then o.min_alpha = int(f, "opts.min_alpha", opts.min_alpha, 0, 255) end
  if opts.bits ~= nil then o.bits = int(f, "opts.bits", opts.bits, 1, 8) end
  local target, mask = img, opts.mask
  if mask ~= nil then
    core.image(f, "opts.mask", mask)
    if mask.channels ~= 1 or mask.width ~= img.width or mask.height ~= img.height then
      error(string.format("%s: opts.mask must be a 1-channel %dx%d image, got %dx%d with %d channels",
                          f, img.width, img.height, mask.width, mask.height, mask.channels), 2)
    end
  end
  if opts.region ~= nil then
    local x, y, w, h = region_of(f, img, opts.region)
    target = img:view(x, y, w, h)
    if mask then mask = mask:view(x, y, w, h) end
  end
  o.mask = mask
  local out = ffi.new("pj_color_count[?]", math.max(n, 1))
  local sum = ffi.new("pj_colors_summary")
  if C.pj_main_colors(target, n, o, out, sum) ~= 0 then
    error(f .. ": " .. core.errmsg(), 2)
  end
  local list = { counted = tonumber(sum.counted), distinct = tonumber(sum.distinct) }
  for i = 0, sum.n - 1 do
    local rgb = out[i].rgb
    list[i + 1] = { r = bit.rshift(rgb, 16), g = bit.band(bit.rshift(rgb, 8), 255),
                    b = bit.band(rgb, 255), count = tonumber(out[i].count) }
  end
  return list
end

-- A colour given as {r=, g=, b=}, {r, g, b}, 0xRRGGBB or "#rrggbb" -> packed.
local function packed(f, name, c)
  local t = type(c)
  if t == "number" then
    return int(f, name, c, 0, 0xFFFFFF)
  elseif t == "string" then
    local hex = c:match("^#?(%x%x%x%x%x%x)$")
    if not hex then error(string.format("%s: %s must look like \"#rrggbb\", got %q", f, name, c), 3) end
    return tonumber(hex, 16)
  elseif t == "table" then
    local r, g, b = c.r or c[1], c.g or c[2], c.b or c[3]
    r = int(f, name .. ".r", r, 0, 255)
    g = int(f, name .. ".g", g, 0, 255)
    b = int(f, name .. ".b", b, 0, 255)
    return r * 65536 + g * 256 + b
  end
  error(string.format("%s: %s must be a colour table, number or \"#rrggbb\", got %s", f, name,
                      core.describe(c)), 3)
end

-- pj.hex(colour) -> "#rrggbb"
local function hex(c)
  return string.format("#%06x", packed("pixjit.hex", "colour", c))
end

local PALETTE_OPTS = { height = true, width = true }

-- pj.palette(colors [, opts]) -> RGB image, one stripe per colour, top to
-- bottom; opts.height rows per stripe (64), opts.width columns (512).
local function palette(colors, opts)
  local f = "pixjit.palette"
  if type(colors) ~= "table" then
    error(f .. ": colors must be a table of colours, got " .. core.describe(colors), 2)
  end
  if #colors == 0 then error(f .. ": colors is empty", 2) end
  opts = core.opts(f, opts, PALETTE_OPTS)
  local height = opts.height == nil and 64 or int(f, "opts.height", opts.height, 1, 65536)
  local width = opts.width == nil and 512 or int(f, "opts.width", opts.width, 1, 65536)
  local rgb = ffi.new("uint32_t[?]", #colors)
  for i = 1, #colors do rgb[i - 1] = packed(f, "colors[" .. i .. "]", colors[i]) end
  return core.wrap(f, C.pj_palette(rgb, #colors, height, width))
end

function M.install(pj, methods)
  methods.main_colors = main_colors
  pj.palette = palette
  pj.hex = hex
end

return M
