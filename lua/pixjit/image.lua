-- pixjit.image: the methods of an image handle (a `pj_image *` with a
-- metatype).  Fields width, height, channels, stride and data are read
-- straight from the C struct, so Lua loops over pixels compile to plain
-- loads and stores.
local ffi = require "ffi"
local core = require "pixjit.core"

local C = core.C
local int, image, opts_check = core.int, core.image, core.opts

local methods = {}
local mt = { __index = methods }

local NAMES = { "gray", "gray+alpha", "RGB", "RGBA" }

local fmt_bytes = core.fmt_bytes

function mt.__tostring(img)
  if img.data == nil then return "pixjit.image (freed)" end
  local bytes = img.width * img.height * img.channels
  local view = img.stride ~= img.width * img.channels or C.pj_image_refs(img) > 1
  return string.format("pixjit.image %dx%d %s (%d ch, stride %d, %s%s)", img.width,
                       img.height, NAMES[img.channels], img.channels, img.stride,
                       fmt_bytes(bytes), view and ", shared buffer" or "")
end

-- img:view(x, y, w, h) -> image sharing img's pixels (zero-copy).
function methods.view(img, x, y, w, h)
  local f = "img:view"
  image(f, "self", img)
  int(f, "x", x, 0, img.width - 1)
  int(f, "y", y, 0, img.height - 1)
  int(f, "w", w, 1, img.width - x)
  int(f, "h", h, 1, img.height - y)
  return core.wrap(f, C.pj_image_view(img, x, y, w, h))
end

function methods.clone(img)
  image("img:clone", "self", img)
  return core.wrap("img:clone", C.pj_image_clone(img))
end

-- img:convert(channels) -> copy with 1-4 channels (gray by BT.601).
function methods.convert(img, channels)
  image("img:convert", "self", img)
  int("img:convert", "channels", channels, 1, 4)
  return core.wrap("img:convert", C.pj_image_convert(img, channels))
end

function methods.get(img, x, y)
  local f = "img:get"
  image(f, "self", img)
  int(f, "x", x, 0, img.width - 1)
  int(f, "y", y, 0, img.height - 1)
  local c = img.channels
  local p = img.data + y * img.stride + x * c
  if c == 1 then return p[0]
  elseif c == 2 then return p[0], p[1]
  elseif c == 3 then return p[0], p[1], p[2] end
  return p[0], p[1], p[2], p[3]
end

-- img:set(x, y, v1, ..., vc): one value per channel, or one for all.
function methods.set(img, x, y, ...)
  local f = "img:set"
  image(f, "self", img)
  int(f, "x", x, 0, img.width - 1)
  int(f, "y", y, 0, img.height - 1)
  local c, n = img.channels, select("#", ...)
  if n ~= c and n ~= 1 then
    error(string.format("%s: expected %d value%s for a %d-channel image, got %d", f, c,
                        c > 1 and "s (or 1 for all)" or "", c, n), 2)
  end
  local p = img.data + y * img.stride + x * c
  for i = 0, c - 1 do
    p[i] = int(f, "value " .. (n == 1 and 1 or i + 1), select(n == 1 and 1 or i + 1, ...), 0, 255)
  end
  return img
end

-- img:fill(v | {v1, ..., vc}) sets every pixel.
function methods.fill(img, value)
  image("img:fill", "self", img)
  local px = ffi.new("uint8_t[4]")
  if type(value) == "table" then
    if #value ~= img.channels then
      error(string.format("img:fill: value must have %d entries, got %d", img.channels, #value), 2)
    end
    for i = 1, img.channels do px[i - 1] = int("img:fill", "value[" .. i .. "]", value[i], 0, 255) end
  else
    local v = int("img:fill", "value", value, 0, 255)
    for i = 0, 3 do px[i] = v end
  end
  C.pj_image_fill(img, px)
  return img
end

-- img:pixels() -> uint8_t* to the top-left pixel.  Valid only while img is
-- alive: keep a reference to img for as long as the pointer is used.
function methods.pixels(img)
  image("img:pixels", "self", img)
  return img.data
end

-- Releases the pixels now instead of at the next collection.  Later use of
-- this handle is an error; views of it stay valid.
function methods.free(img)
  if not core.is_image(img) then
    error("img:free: self must be an image, got " .. core.describe(img), 2)
  end
  C.pj_image_clear(img)
end

function methods.refs(img)
  image("img:refs", "self", img)
  return C.pj_image_refs(img)
end

-- ---- Saving ---------------------------------------------------------------

local FORMATS = { png = C.PJ_FMT_PNG, jpg = C.PJ_FMT_JPEG, jpeg = C.PJ_FMT_JPEG }
local SAVE_OPTS = { quality = true, compression = true, progressive = true, format = true }

local function encode_opts(f, opts)
  opts = opts_check(f, opts, SAVE_OPTS)
  local o = ffi.new("pj_encode_opts")
  C.pj_encode_opts_default(o)
  if opts.quality ~= nil then o.quality = int(f, "opts.quality", opts.quality, 1, 100) end
  if opts.compression ~= nil then
    o.compression = int(f, "opts.compression", opts.compression, 0, 9)
  end
  if opts.progressive ~= nil then o.progressive = opts.progressive and 1 or 0 end
  if opts.format ~= nil then
    local fmt = FORMATS[type(opts.format) == "string" and opts.format:lower() or ""]
    if not fmt then
      error(f .. ": opts.format must be \"png\", \"jpg\" or \"jpeg\", got " ..
            core.describe(opts.format), 3)
    end
    o.format = fmt
  end
  return o
end

-- img:save(path [, opts]): format from the extension (or opts.format);
-- .npy writes NumPy's format (uint8, shape (H, W) or (H, W, C)).
function methods.save(img, path, opts)
  local f = "img:save"
  image(f, "self", img)
  core.str(f, "path", path)
  if path:lower():match("%.npy$") then
    opts_check(f, opts, {})
    require("pixjit.tensor").save_image_npy(img, path)
    return img
  end
  local o = encode_opts(f, opts)
  if C.pj_save(img, path, o) ~= 0 then error(f .. ": " .. core.errmsg(), 2) end
  return img
end

-- img:encode(fmt [, opts]) -> string holding the encoded file.
function methods.encode(img, fmt, opts)
  local f = "img:encode"
  image(f, "self", img)
  local code = type(fmt) == "string" and FORMATS[fmt:lower()]
  if not code then
    error(f .. ": format must be \"png\", \"jpg\" or \"jpeg\", got " .. core.describe(fmt), 2)
  end
  local o = encode_opts(f, opts)
  o.format = code
  local out, size = ffi.new("uint8_t *[1]"), ffi.new("size_t[1]")
  if C.pj_encode(img, o, out, size) ~= 0 then error(f .. ": " .. core.errmsg(), 2) end
  local s = ffi.string(out[0], size[0])
  C.pj_free(out[0])
  return s
end

ffi.metatype("pj_image", mt)

return methods
