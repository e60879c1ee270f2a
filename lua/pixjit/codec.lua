-- pixjit.codec: reading and writing image files: pj.load, pj.decode,
-- img:save, img:encode.  PNG and JPEG go through the C codecs; NumPy's
-- .npy (uint8 images, float32 tensors) is handled here.
local ffi = require "ffi"
local core = require "pixjit.core"
local npy = require "pixjit.npy"
local tensor = require "pixjit.tensor"

local C = core.C
local int, count, wrap = core.int, core.count, core.wrap

local M = {}

-- ---- Decoding -------------------------------------------------------------------

local DECODE_OPTS = { channels = true, max_pixels = true, max_scans = true,
                      max_chunk_bytes = true, name = true }

local function decode_opts(f, opts)
  opts = core.opts(f, opts, DECODE_OPTS)
  local o = ffi.new("pj_decode_opts")
  if opts.channels ~= nil then o.channels = int(f, "opts.channels", opts.channels) end
  if opts.max_pixels ~= nil then o.max_pixels = count(f, "opts.max_pixels", opts.max_pixels) end
  if opts.max_scans ~= nil then o.max_scans = count(f, "opts.max_scans", opts.max_scans) end
  if opts.max_chunk_bytes ~= nil then
    o.max_chunk_bytes = count(f, "opts.max_chunk_bytes", opts.max_chunk_bytes)
  end
  return o, opts
end

-- A .npy held in `bytes`: a uint8 one as an image, a float32 one as a
-- tensor.
local function decode_npy(f, bytes, name, max_pixels)
  local descr, shape, data, bad = npy.parse(f, bytes, name)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  max_pixels = max_pixels or C.PJ_DEFAULT_MAX_PIXELS
  if descr == "<f4" then
    if n * 4 > max_pixels * 16 then bad("tensor too large") end
    return tensor.from_npy(bytes, data, shape, n, bad)
  end
  if descr ~= "|u1" and descr ~= "<u1" and descr ~= "u1" then
    bad("unsupported dtype " .. descr .. " (uint8 images and float32 tensors are)")
  end
  if #shape ~= 2 and #shape ~= 3 then bad("a uint8 image needs shape (H, W) or (H, W, C)") end
  -- C checks the size against the limit before it allocates; the data is
  -- checked after, as the decoders do.
  local img = C.pj_image_new(shape[2], shape[1], shape[3] or 1, max_pixels)
  if img == nil then core.raise(string.format("%s: %s: %s", f, name, core.errmsg())) end
  img = wrap(f, img)
  if #bytes - data + 1 < n then
    img:free()
    bad("truncated data")
  end
  ffi.copy(img.data, ffi.cast("const char *", bytes) + data - 1, n)
  return img
end

local function read_all(f, path)
  local fh, err = io.open(path, "rb")
  if not fh then core.raise(f .. ": " .. err) end
  local bytes = fh:read("*a")
  fh:close()
  return bytes
end

local function is_npy_file(path)
  local fh = io.open(path, "rb")
  if not fh then return false end
  local head = fh:read(6)
  fh:close()
  return head == npy.MAGIC
end

-- pj.load(path [, opts]) -> image.  PNG, JPEG or NumPy .npy by content
-- (a uint8 .npy gives an image, a float32 one a tensor).
-- opts: channels (1-4), max_pixels, max_scans (JPEG), max_chunk_bytes (PNG).
function M.load(path, opts)
  local f = "pixjit.load"
  core.str(f, "path", path)
  local o, lopts = decode_opts(f, opts)
  if is_npy_file(path) then return decode_npy(f, read_all(f, path), path, lopts.max_pixels) end
  return wrap(f, C.pj_load(path, o))
end

-- pj.decode(bytes [, opts]) -> image from a string holding a PNG or JPEG.
-- opts as pj.load, plus name (used in error messages).
function M.decode(bytes, opts)
  local f = "pixjit.decode"
  core.str(f, "bytes", bytes)
  local o, lopts = decode_opts(f, opts)
  local name = lopts.name ~= nil and core.str(f, "opts.name", lopts.name) or nil
  if bytes:sub(1, 6) == npy.MAGIC then return decode_npy(f, bytes, name or "<memory>", lopts.max_pixels) end
  return wrap(f, C.pj_decode(bytes, #bytes, name, o))
end

-- ---- Encoding -------------------------------------------------------------------

local FORMATS = { png = C.PJ_FMT_PNG, jpg = C.PJ_FMT_JPEG, jpeg = C.PJ_FMT_JPEG }
local FORMAT_WORDS = '"png", "jpg" or "jpeg"'
local SAVE_OPTS = { quality = true, compression = true, progressive = true, format = true }

local function encode_opts(f, opts)
  opts = core.opts(f, opts, SAVE_OPTS)
  local o = ffi.new("pj_encode_opts")
  if opts.quality ~= nil then o.quality = count(f, "opts.quality", opts.quality) end
  if opts.compression ~= nil then
    local level = int(f, "opts.compression", opts.compression)
    o.compression = level == 0 and C.PJ_COMPRESSION_NONE or level
  end
  if opts.progressive ~= nil then o.progressive = opts.progressive and 1 or 0 end
  if opts.format ~= nil then
    o.format = core.choice(f, "opts.format", opts.format, FORMATS, FORMAT_WORDS, true)
  end
  return o
end

-- An image as .npy: uint8, shape (H, W) for gray, (H, W, C) otherwise.
local function save_npy(img, path)
  local shape = img.channels == 1 and { img.height, img.width } or { img.height, img.width, img.channels }
  local row = img.width * img.channels
  local bytes
  if img.stride == row then
    bytes = ffi.string(img.data, row * img.height)
  else
    local parts = {}
    for y = 0, img.height - 1 do parts[y + 1] = ffi.string(img.data + y * img.stride, row) end
    bytes = table.concat(parts)
  end
  npy.write("img:save", path, npy.header("|u1", shape), bytes)
end

-- img:save(path [, opts]): format from the extension (or opts.format);
-- .npy writes NumPy's format (uint8, shape (H, W) or (H, W, C)).
function M.save(img, path, opts)
  local f = "img:save"
  core.image(f, "self", img)
  core.str(f, "path", path)
  if path:lower():match("%.npy$") then
    core.opts(f, opts, {})
    save_npy(img, path)
    return img
  end
  if C.pj_save(img, path, encode_opts(f, opts)) ~= 0 then core.fail(f) end
  return img
end

-- img:encode(fmt [, opts]) -> string holding the encoded file.
function M.encode(img, fmt, opts)
  local f = "img:encode"
  core.image(f, "self", img)
  local code = core.choice(f, "format", fmt, FORMATS, FORMAT_WORDS, true)
  local o = encode_opts(f, opts)
  o.format = code
  local out, size = ffi.new("uint8_t *[1]"), ffi.new("size_t[1]")
  if C.pj_encode(img, o, out, size) ~= 0 then core.fail(f) end
  local s = ffi.string(out[0], size[0])
  C.pj_free(out[0])
  return s
end

return M
