-- pixjit.image: the image handle (a `pj_image *` with a metatype) and the
-- methods that concern the handle itself: views, copies, pixel access,
-- freeing.  Fields width, height, channels, stride and data are read
-- straight from the C struct, so Lua loops over pixels compile to plain
-- loads and stores.  init.lua assembles every module's methods into one
-- table and binds it here, once.
local ffi = require "ffi"
local core = require "pixjit.core"

local C = core.C
local int, image, range = core.int, core.image, core.range
local wrap = core.wrap

local M = {}

local NAMES = { "gray", "gray+alpha", "RGB", "RGBA" }

local function tostring_image(img)
  if img.data == nil then return "pixjit.image (freed)" end
  local bytes = img.width * img.height * img.channels
  local view = img.stride ~= img.width * img.channels or C.pj_image_refs(img) > 1
  return string.format("pixjit.image %dx%d %s (%d ch, stride %d, %s%s)", img.width,
                       img.height, NAMES[img.channels], img.channels, img.stride,
                       core.fmt_bytes(bytes), view and ", shared buffer" or "")
end

-- Sets the one method table of every image; called once by init.lua.
function M.bind(methods)
  ffi.metatype("pj_image", { __index = methods, __tostring = tostring_image })
end

-- pj.new(w, h, channels [, fill]) -> zero-filled (or filled) image.
function M.new(w, h, channels, fill)
  local f = "pixjit.new"
  local img = wrap(f, C.pj_image_new(int(f, "width", w), int(f, "height", h),
                                     int(f, "channels", channels), 0))
  if fill ~= nil and fill ~= 0 then
    if type(fill) ~= "number" and type(fill) ~= "table" then
      core.raise(f .. ": fill must be a number or a table, got " .. core.describe(fill))
    end
    C.pj_image_fill(img, core.pixel(f, "value", fill, channels))
  end
  return img
end

-- img:view(x, y, w, h) -> image sharing img's pixels (zero-copy).
function M.view(img, x, y, w, h)
  local f = "img:view"
  image(f, "self", img)
  return wrap(f, C.pj_image_view(img, int(f, "x", x), int(f, "y", y), int(f, "w", w),
                                 int(f, "h", h)))
end

function M.clone(img)
  return wrap("img:clone", C.pj_image_clone(image("img:clone", "self", img)))
end

-- get and set run in Lua on the pixel memory (no C call), so they check
-- their coordinates themselves.
function M.get(img, x, y)
  local f = "img:get"
  image(f, "self", img)
  range(f, "x", x, 0, img.width - 1)
  range(f, "y", y, 0, img.height - 1)
  local c = img.channels
  local p = img.data + y * img.stride + x * c
  if c == 1 then return p[0]
  elseif c == 2 then return p[0], p[1]
  elseif c == 3 then return p[0], p[1], p[2] end
  return p[0], p[1], p[2], p[3]
end

-- img:set(x, y, v1, ..., vc): one value per channel, or one for all.
function M.set(img, x, y, ...)
  local f = "img:set"
  image(f, "self", img)
  range(f, "x", x, 0, img.width - 1)
  range(f, "y", y, 0, img.height - 1)
  local c, n = img.channels, select("#", ...)
  if n ~= c and n ~= 1 then
    core.raise(string.format("%s: expected %d value%s for a %d-channel image, got %d", f, c,
                             c > 1 and "s (or 1 for all)" or "", c, n))
  end
  local p = img.data + y * img.stride + x * c
  for i = 0, c - 1 do
    p[i] = range(f, "value " .. (n == 1 and 1 or i + 1), select(n == 1 and 1 or i + 1, ...), 0, 255)
  end
  return img
end

-- img:fill(v | {v1, ..., vc}) sets every pixel.
function M.fill(img, value)
  image("img:fill", "self", img)
  C.pj_image_fill(img, core.pixel("img:fill", "value", value, img.channels))
  return img
end

-- img:pixels() -> uint8_t* to the top-left pixel.  Valid only while img is
-- alive: keep a reference to img for as long as the pointer is used.
function M.pixels(img)
  return image("img:pixels", "self", img).data
end

-- Releases the pixels now instead of at the next collection.  Later use of
-- this handle is an error; views of it stay valid.  The handle's struct
-- itself is the registry's to free, once the handle is collected.
function M.free(img)
  if not core.is_image(img) then
    core.raise("img:free: self must be an image, got " .. core.describe(img))
  end
  C.pj_image_clear(img)
end

function M.refs(img)
  core.settle()
  return C.pj_image_refs(image("img:refs", "self", img))
end

return M
