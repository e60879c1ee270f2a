-- pixjit.codec: reading and writing image files: pj.load, pj.decode,
-- pj.load_pages, pj.info, img:save, img:encode.  PNG, JPEG, TIFF and WebP
-- go through the C codecs; NumPy's .npy (uint8 images, float32 tensors) is
-- handled here.
local ffi = require "ffi"
local core = require "pixjit.core"
local npy = require "pixjit.npy"
local tensor = require "pixjit.tensor"

local C = core.C
local int, count, wrap = core.int, core.count, core.wrap

local M = {}

-- ---- Decoding -------------------------------------------------------------------

local DECODE_OPTS = { channels = true, max_pixels = true, max_scans = true,
                      max_chunk_bytes = true, name = true, shrink = true, orient = true,
                      page = true }

local function decode_opts(f, opts)
  opts = core.opts(f, opts, DECODE_OPTS)
  local o = ffi.new("pj_decode_opts")
  if opts.channels ~= nil then o.channels = int(f, "opts.channels", opts.channels) end
  if opts.max_pixels ~= nil then o.max_pixels = count(f, "opts.max_pixels", opts.max_pixels) end
  if opts.max_scans ~= nil then o.max_scans = count(f, "opts.max_scans", opts.max_scans) end
  if opts.max_chunk_bytes ~= nil then
    o.max_chunk_bytes = count(f, "opts.max_chunk_bytes", opts.max_chunk_bytes)
  end
  if opts.shrink ~= nil then o.shrink = count(f, "opts.shrink", opts.shrink) end
  if opts.page ~= nil then o.page = count(f, "opts.page", opts.page) end
  if opts.orient ~= nil then
    if type(opts.orient) ~= "boolean" then
      core.raise(f .. ": opts.orient must be a boolean, got " .. core.describe(opts.orient))
    end
    o.no_orient = opts.orient and 0 or 1
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

-- What is at path before C reads it: "npy" for a NumPy file, and
-- otherwise nil; with, for a pipe or FIFO (which cannot be opened twice),
-- its whole content.  A file without bytes here is read by the C loader
-- itself (which names it in its errors).
local function probe(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local head = fh:read(6)
  local kind = head == npy.MAGIC and "npy" or nil
  if fh:seek("set", 0) then
    fh:close()
    return kind
  end
  local bytes = (head or "") .. (fh:read("*a") or "")
  fh:close()
  return kind, bytes
end

-- pj.load(path [, opts]) -> image.  PNG, JPEG, TIFF, WebP or NumPy .npy
-- by content (a uint8 .npy gives an image, a float32 one a tensor), turned
-- upright by its EXIF orientation as cv2.imread does.
-- opts: channels (1-4), shrink (2, 4, 8), orient (false: as stored), page
-- (TIFF, 1-based), max_pixels, max_scans (JPEG), max_chunk_bytes (PNG).
function M.load(path, opts)
  local f = "pixjit.load"
  core.str(f, "path", path)
  local o, lopts = decode_opts(f, opts)
  local kind, bytes = probe(path)
  if kind == "npy" then return decode_npy(f, bytes or read_all(f, path), path, lopts.max_pixels) end
  if not bytes then return wrap(f, C.pj_load(path, o)) end
  return wrap(f, C.pj_decode(bytes, #bytes, path, o))
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

local FORMAT_NAMES = { [C.PJ_FMT_PNG] = "png", [C.PJ_FMT_JPEG] = "jpeg",
                       [C.PJ_FMT_TIFF] = "tiff", [C.PJ_FMT_WEBP] = "webp" }

-- The pj_image_info of the file at path, or of its bytes when probe read
-- them (a pipe); errors as pj.load's.
local function header(f, path, bytes, o)
  local info = ffi.new("pj_image_info")
  local rc = bytes and C.pj_info_bytes(bytes, #bytes, path, o, info) or C.pj_info(path, o, info)
  if rc ~= 0 then core.fail(f) end
  return info
end

-- pj.info(path [, opts]) -> { format, width, height, channels, pages,
-- orientation } from the header alone: width, height and channels are
-- those pj.load returns with the same opts (orientation 5-8 swaps the
-- stored width and height unless opts.orient is false).
function M.info(path, opts)
  local f = "pixjit.info"
  core.str(f, "path", path)
  local o, lopts = decode_opts(f, opts)
  local kind, bytes = probe(path)
  if kind == "npy" then
    local head = bytes
    if not head then
      local fh = io.open(path, "rb")
      head = fh:read(65536)
      fh:close()
    end
    local descr, shape, _, bad = npy.parse(f, head, path)
    if descr == "<f4" then bad("a float32 .npy is a tensor, not an image") end
    if #shape ~= 2 and #shape ~= 3 then bad("a uint8 image needs shape (H, W) or (H, W, C)") end
    return { format = "npy", width = shape[2], height = shape[1],
             channels = lopts.channels or shape[3] or 1, pages = 1, orientation = 1 }
  end
  local info = header(f, path, bytes, o)
  return { format = FORMAT_NAMES[info.format], width = info.width, height = info.height,
           channels = info.channels, pages = info.pages, orientation = info.orientation }
end

-- pj.load_pages(path [, opts]) -> { img, ... }: every page of a multi-page
-- TIFF, one entry for other files; opts as pj.load (but page).
function M.load_pages(path, opts)
  local f = "pixjit.load_pages"
  core.str(f, "path", path)
  if opts ~= nil and core.opts(f, opts, DECODE_OPTS).page ~= nil then
    core.raise(f .. ": opts.page is not for load_pages (it loads them all)")
  end
  local kind, bytes = probe(path)
  if kind == "npy" and not bytes then return { M.load(path, opts) } end
  local o, lopts = decode_opts(f, opts)
  if kind == "npy" then return { decode_npy(f, bytes, path, lopts.max_pixels) } end
  local info = header(f, path, bytes, o)
  local pages = {}
  for i = 1, info.pages do
    o.page = i
    pages[i] = wrap(f, bytes and C.pj_decode(bytes, #bytes, path, o) or C.pj_load(path, o))
  end
  return pages
end

-- ---- Encoding -------------------------------------------------------------------

local FORMATS = { png = C.PJ_FMT_PNG, jpg = C.PJ_FMT_JPEG, jpeg = C.PJ_FMT_JPEG,
                  tif = C.PJ_FMT_TIFF, tiff = C.PJ_FMT_TIFF, webp = C.PJ_FMT_WEBP }
local FORMAT_WORDS = '"png", "jpg", "jpeg", "tif", "tiff" or "webp"'
local SAVE_OPTS = { quality = true, compression = true, progressive = true, format = true,
                    lossless = true }

local function encode_opts(f, opts)
  opts = core.opts(f, opts, SAVE_OPTS)
  local o = ffi.new("pj_encode_opts")
  if opts.quality ~= nil then o.quality = count(f, "opts.quality", opts.quality) end
  if opts.compression ~= nil then
    local level = int(f, "opts.compression", opts.compression)
    o.compression = level == 0 and C.PJ_COMPRESSION_NONE or level
  end
  if opts.progressive ~= nil then o.progressive = opts.progressive and 1 or 0 end
  if opts.lossless ~= nil then o.lossless = opts.lossless and 1 or 0 end
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

local SAVE_ALL_OPTS = { quality = true, compression = true, progressive = true, format = true,
                       lossless = true,
                       atomic = true }

-- pj.save_all(images, paths [, opts]) -> n_ok, errors
-- Encodes and writes every image at once, spread over the kernel threads,
-- the format from each path's extension.  Each file is written under a
-- temporary name beside it and renamed when complete, so no partial file
-- is ever visible under its final name (opts.atomic = false writes
-- straight to the names, for a directory that is renamed afterwards).
-- errors[i] says why image i failed, errors.n counts them, and
-- errors.errno[i] is the OS error number behind a failed write.  opts:
-- quality, compression, progressive, format (as img:save), atomic.
function M.save_all(images, paths, opts)
  local f = "pixjit.save_all"
  if type(images) ~= "table" then core.raise(f .. ": images must be a table of images, got " .. core.describe(images)) end
  if type(paths) ~= "table" then core.raise(f .. ": paths must be a table of strings, got " .. core.describe(paths)) end
  local n = #images
  if #paths ~= n then core.raise(string.format("%s: %d images but %d paths", f, n, #paths)) end
  opts = core.opts(f, opts, SAVE_ALL_OPTS)
  local imgs = ffi.new("const pj_image *[?]", math.max(n, 1))
  local names = ffi.new("const char *[?]", math.max(n, 1))
  for i = 1, n do
    imgs[i - 1] = core.image(f, "images[" .. i .. "]", images[i])
    names[i - 1] = core.str(f, "paths[" .. i .. "]", paths[i])
  end
  local eopts = {}
  for k in pairs(SAVE_OPTS) do eopts[k] = opts[k] end
  local o = encode_opts(f, eopts)
  if opts.atomic == false then o.direct = 1 end
  local status = ffi.new("int32_t[?]", math.max(n, 1))
  -- paths stays referenced through this call, so the C strings live.
  if C.pj_save_all(imgs, names, n, o, status) ~= 0 then core.fail(f) end
  local errors, ok = { n = 0, errno = {} }, 0
  for i = 0, n - 1 do
    if status[i] == 0 then
      ok = ok + 1
    else
      errors[i + 1] = ffi.string(C.pj_item_errmsg(i))
      errors.errno[i + 1] = C.pj_item_errno(i) ~= 0 and C.pj_item_errno(i) or nil
      errors.n = errors.n + 1
    end
  end
  return ok, errors
end

local TAR_OPTS = { quality = true, compression = true, progressive = true, lossless = true }

-- pj.save_tar(path, members [, opts]): one tar file of members, each
-- { name = "key/0001.png", image = img } (encoded by the extension, in
-- parallel) or { name = "key/0001.json", data = "..." }; written under a
-- temporary name and renamed when complete.  opts as img:save.
function M.save_tar(path, members, opts)
  local f = "pixjit.save_tar"
  core.str(f, "path", path)
  if type(members) ~= "table" then
    core.raise(f .. ": members must be a table, got " .. core.describe(members))
  end
  local n = #members
  local arr = ffi.new("pj_tar_member[?]", math.max(n, 1))
  local keep = {}
  for i, m in ipairs(members) do
    local where = "members[" .. i .. "]"
    if type(m) ~= "table" then core.raise(f .. ": " .. where .. " must be a table, got " .. core.describe(m)) end
    arr[i - 1].name = core.str(f, where .. ".name", m.name)
    if m.image ~= nil then
      arr[i - 1].image = core.image(f, where .. ".image", m.image)
    else
      local d = core.str(f, where .. ".data", m.data)
      arr[i - 1].data, arr[i - 1].size = d, #d
    end
    keep[i] = m
  end
  local o = encode_opts(f, core.opts(f, opts, TAR_OPTS))
  if C.pj_save_tar(path, arr, n, o) ~= 0 then core.fail(f) end
  return n
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
