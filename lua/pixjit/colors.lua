-- pixjit.colors: img:main_colors, pj.palette and pj.hex.
local ffi = require "ffi"
local bit = require "bit"
local core = require "pixjit.core"

local C = core.C
local int, count = core.int, core.count

local M = {}

local COLOR_OPTS = { min_alpha = true, bits = true, mask = true, region = true }

-- A colour list prints as its colours (the REPL shows it through this).
local list_mt = {}
function list_mt.__tostring(list)
  local parts = {}
  for i, c in ipairs(list) do
    parts[i] = string.format("%d  #%02x%02x%02x  %d", i, c.r, c.g, c.b, c.count)
  end
  return string.format("%d colours of %d distinct, %d pixels counted%s%s", #list, list.distinct,
                       list.counted, #parts > 0 and "\n" or "", table.concat(parts, "\n"))
end

-- region = {x, y, w, h} (or {x=, y=, w=, h=}) -> views of img and mask.
local function region_views(f, img, mask, r)
  if type(r) ~= "table" then
    core.raise(f .. ": opts.region must be a table {x, y, w, h}, got " .. core.describe(r))
  end
  local x = int(f, "opts.region x", r.x or r[1])
  local y = int(f, "opts.region y", r.y or r[2])
  local w = int(f, "opts.region w", r.w or r[3])
  local h = int(f, "opts.region h", r.h or r[4])
  local v = C.pj_image_view(img, x, y, w, h)
  if v == nil then core.raise(f .. ": opts.region: " .. core.errmsg()) end
  v = core.wrap(f, v)
  return v, mask and core.wrap(f, C.pj_image_view(mask, x, y, w, h))
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
function M.main_colors(img, n, opts)
  local f = "img:main_colors"
  core.image(f, "self", img)
  if n == nil then n = 6 end
  int(f, "n", n)
  opts = core.opts(f, opts, COLOR_OPTS)
  local o = ffi.new("pj_colors_opts")
  if opts.min_alpha ~= nil then
    o.min_alpha = int(f, "opts.min_alpha", opts.min_alpha)
    o.all_pixels = opts.min_alpha == 0 and 1 or 0
  end
  if opts.bits ~= nil then o.bits = count(f, "opts.bits", opts.bits) end
  local target, mask = img, opts.mask
  if mask ~= nil then core.image(f, "opts.mask", mask) end
  if opts.region ~= nil then target, mask = region_views(f, img, mask, opts.region) end
  o.mask = mask
  local out = n >= 1 and n <= C.PJ_MAX_COLORS and ffi.new("pj_color_count[?]", n) or nil
  local sum = ffi.new("pj_colors_summary")
  if C.pj_main_colors(target, n, o, out, sum) ~= 0 then core.fail(f) end
  local list = setmetatable({ counted = tonumber(sum.counted), distinct = tonumber(sum.distinct) }, list_mt)
  for i = 0, sum.n - 1 do
    local rgb = out[i].rgb
    list[i + 1] = { r = bit.rshift(rgb, 16), g = bit.band(bit.rshift(rgb, 8), 255),
                    b = bit.band(rgb, 255), count = tonumber(out[i].count) }
  end
  return list
end

-- A colour given as {r=, g=, b=}, {r, g, b}, 0xRRGGBB or "#rrggbb" -> packed.
-- Parsing the forms is Lua's, so it checks them.
local function packed(f, name, c)
  local t = type(c)
  if t == "number" then
    return core.range(f, name, c, 0, 0xFFFFFF)
  elseif t == "string" then
    local hex = c:match("^#?(%x%x%x%x%x%x)$")
    if not hex then core.raise(string.format("%s: %s must look like \"#rrggbb\", got %q", f, name, c)) end
    return tonumber(hex, 16)
  elseif t == "table" then
    local r = core.range(f, name .. ".r", c.r or c[1], 0, 255)
    local g = core.range(f, name .. ".g", c.g or c[2], 0, 255)
    local b = core.range(f, name .. ".b", c.b or c[3], 0, 255)
    return r * 65536 + g * 256 + b
  end
  core.raise(string.format("%s: %s must be a colour table, number or \"#rrggbb\", got %s", f, name,
                           core.describe(c)))
end

-- pj.hex(colour) -> "#rrggbb"
function M.hex(c)
  return string.format("#%06x", packed("pixjit.hex", "colour", c))
end

local PALETTE_OPTS = { height = true, width = true }

-- pj.palette(colors [, opts]) -> RGB image, one stripe per colour, top to
-- bottom; opts.height rows per stripe (64), opts.width columns (512).
function M.palette(colors, opts)
  local f = "pixjit.palette"
  if type(colors) ~= "table" then
    core.raise(f .. ": colors must be a table of colours, got " .. core.describe(colors))
  end
  opts = core.opts(f, opts, PALETTE_OPTS)
  local height = opts.height == nil and 64 or int(f, "opts.height", opts.height)
  local width = opts.width == nil and 512 or int(f, "opts.width", opts.width)
  local rgb = ffi.new("uint32_t[?]", math.max(#colors, 1))
  for i = 1, #colors do rgb[i - 1] = packed(f, "colors[" .. i .. "]", colors[i]) end
  return core.wrap(f, C.pj_palette(rgb, #colors, height, width))
end

return M
