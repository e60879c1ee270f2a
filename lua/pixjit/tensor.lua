-- pixjit.tensor: resizing and channel helpers, float32 tensors, pj.pack
-- (crops to an N x C x H x W model batch in one parallel pass) and NumPy's
-- .npy format (version 1.0) for images and tensors.
local ffi = require "ffi"
local bit = require "bit"
local core = require "pixjit.core"

local C = core.C
local int, num = core.int, core.num
local M = {}

local INTERP = { linear = C.PJ_INTER_LINEAR, bilinear = C.PJ_INTER_LINEAR,
                 area = C.PJ_INTER_AREA, nearest = C.PJ_INTER_NEAREST }

local function interp_of(f, v)
  if v == nil then return C.PJ_INTER_LINEAR end
  local i = INTERP[v]
  if not i then
    error(f .. ": opts.interpolation must be \"linear\", \"area\" or \"nearest\", got " .. core.describe(v), 3)
  end
  return i
end

-- img:resize(w, h [, opts]) -> image; opts.interpolation: "linear"
-- (cv2.resize INTER_LINEAR), "area" (INTER_AREA, for shrinking), "nearest".
local function resize(img, w, h, opts)
  local f = "img:resize"
  core.image(f, "self", img)
  int(f, "w", w, 1)
  int(f, "h", h, 1)
  opts = core.opts(f, opts, { interpolation = true })
  return core.wrap(f, C.pj_image_resize(img, w, h, interp_of(f, opts.interpolation)))
end

-- img:to_gray() -> 1-channel image (BT.601, as cv2.cvtColor RGB2GRAY).
local function to_gray(img)
  core.image("img:to_gray", "self", img)
  return core.wrap("img:to_gray", C.pj_image_convert(img, 1))
end

-- img:swap_rb() -> copy with red and blue exchanged (RGB <-> BGR).
local function swap_rb(img)
  core.image("img:swap_rb", "self", img)
  return core.wrap("img:swap_rb", C.pj_image_swap_rb(img))
end

-- img:pad(top, bottom, left, right [, value]) -> bordered copy.
local function pad(img, top, bottom, left, right, value)
  local f = "img:pad"
  core.image(f, "self", img)
  int(f, "top", top, 0)
  int(f, "bottom", bottom, 0)
  int(f, "left", left, 0)
  int(f, "right", right, 0)
  local px = ffi.new("uint8_t[4]")
  if type(value) == "table" then
    if #value ~= img.channels then error(string.format("%s: value must have %d entries", f, img.channels), 2) end
    for k = 1, img.channels do px[k - 1] = int(f, "value[" .. k .. "]", value[k], 0, 255) end
  elseif value ~= nil then
    int(f, "value", value, 0, 255)
    for k = 0, 3 do px[k] = value end
  end
  return core.wrap(f, C.pj_image_pad(img, top, bottom, left, right, px))
end

-- ---- Tensors -----------------------------------------------------------------

local tensor_ptr = ffi.typeof("pj_tensor *")
local tmethods = {}
local tmt = { __index = function(t, k)
  if k == "shape" then
    local s = {}
    for i = 0, t.ndim - 1 do s[i + 1] = tonumber(t.dims[i]) end
    return s
  end
  return tmethods[k]
end }

local function is_tensor(v) return type(v) == "cdata" and ffi.istype(tensor_ptr, v) end
M.is_tensor = is_tensor

local function check_tensor(f, t)
  if not is_tensor(t) then error(f .. ": self must be a tensor, got " .. core.describe(t), 3) end
  if t.data == nil then error(f .. ": self has been freed", 3) end
end

local function numel(t)
  local n = 1
  for i = 0, t.ndim - 1 do n = n * tonumber(t.dims[i]) end
  return n
end

function tmt.__tostring(t)
  if t.data == nil then return "pixjit.tensor (freed)" end
  local dims = {}
  for i = 0, t.ndim - 1 do dims[#dims + 1] = tostring(tonumber(t.dims[i])) end
  return string.format("pixjit.tensor float32 [%s] (%s)", table.concat(dims, " x "),
                       core.fmt_bytes(numel(t) * 4))
end

local function wrap_tensor(f, p)
  if p == nil then core.raise(f .. ": " .. core.errmsg()) end
  ffi.gc(p, C.pj_tensor_release)
  core.account()
  return p
end

-- pj.tensor(shape) -> zero-filled float32 tensor; shape {d1, ..., dk}, k <= 4.
-- t.data is a float* (row-major), t.shape a Lua table, t.ndim.
local function tensor(shape)
  local f = "pixjit.tensor"
  if type(shape) ~= "table" or #shape < 1 or #shape > 4 then
    error(f .. ": shape must be a table of 1 to 4 sizes, got " .. core.describe(shape), 2)
  end
  local s = ffi.new("int64_t[4]")
  for i = 1, #shape do s[i - 1] = int(f, "shape[" .. i .. "]", shape[i], 0) end
  return wrap_tensor(f, C.pj_tensor_new(#shape, s))
end

-- t:get(i1, ..., ik) -> value (indices from 0).
function tmethods.get(t, ...)
  check_tensor("tensor:get", t)
  local n = select("#", ...)
  if n ~= t.ndim then error(string.format("tensor:get: expected %d indices, got %d", t.ndim, n), 2) end
  local off = 0
  for i = 1, n do
    local v = int("tensor:get", "index " .. i, (select(i, ...)), 0, tonumber(t.dims[i - 1]) - 1)
    off = off * tonumber(t.dims[i - 1]) + v
  end
  return t.data[off]
end

function tmethods.free(t)
  if not is_tensor(t) then error("tensor:free: self must be a tensor", 2) end
  ffi.gc(t, nil)
  C.pj_tensor_release(t)
end

-- ---- .npy ----------------------------------------------------------------------

local MAGIC = "\147NUMPY"

-- Header of a version 1.0 file: the dict, padded with spaces and a newline
-- so the data starts on a 64-byte boundary, as NumPy writes it.
local function npy_header(descr, shape)
  local dims = {}
  for i, d in ipairs(shape) do dims[i] = tostring(d) end
  local tuple = #dims == 1 and "(" .. dims[1] .. ",)" or "(" .. table.concat(dims, ", ") .. ")"
  local dict = string.format("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
  local total = 10 + #dict + 1
  dict = dict .. string.rep(" ", (64 - total % 64) % 64) .. "\n"
  return MAGIC .. "\1\0" .. string.char(bit.band(#dict, 255), bit.rshift(#dict, 8)) .. dict
end

local function write_file(f, path, header, ptr, bytes)
  local fh, err = io.open(path, "wb")
  if not fh then error(f .. ": " .. err, 3) end
  local ok, werr = fh:write(header)
  if ok then ok, werr = fh:write(ffi.string(ptr, bytes)) end
  local cok, cerr = fh:close()
  if not ok or not cok then error(f .. ": " .. path .. ": write failed: " .. tostring(werr or cerr), 3) end
end

-- t:save(path): NumPy .npy, dtype float32 ('<f4'), C order.
function tmethods.save(t, path)
  local f = "tensor:save"
  check_tensor(f, t)
  core.str(f, "path", path)
  write_file(f, path, npy_header("<f4", t.shape), t.data, numel(t) * 4)
  return t
end

-- An image as .npy: uint8, shape (H, W) for gray, (H, W, C) otherwise.
function M.save_image_npy(img, path)
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
  local hdr = npy_header("|u1", shape)
  write_file("img:save", path, hdr, bytes, #bytes)
end

-- Parses a .npy (version 1.x/2.x) from a string: uint8 2-D/3-D -> image,
-- float32 -> tensor.  name is used in messages; limits bound allocation.
function M.decode_npy(f, bytes, name, max_pixels)
  -- Levels: bad, decode_npy, pj.load/pj.decode, then the user's line.
  local function bad(why) error(string.format("%s: %s: invalid .npy: %s", f, name, why), 4) end
  if #bytes < 10 or bytes:sub(1, 6) ~= MAGIC then bad("no NUMPY magic") end
  local major = bytes:byte(7)
  local hlen, start
  if major == 1 then
    hlen, start = bytes:byte(9) + 256 * bytes:byte(10), 11
  elseif major == 2 or major == 3 then
    if #bytes < 12 then bad("truncated header") end
    hlen = bytes:byte(9) + 256 * bytes:byte(10) + 65536 * bytes:byte(11) + 16777216 * bytes:byte(12)
    start = 13
  else
    bad("unsupported version " .. tostring(major))
  end
  if hlen > 65536 or start + hlen - 1 > #bytes then bad("header length " .. hlen .. " is out of range") end
  local header = bytes:sub(start, start + hlen - 1)
  local descr = header:match("['\"]descr['\"]%s*:%s*['\"]([^'\"]+)['\"]")
  local fortran = header:match("['\"]fortran_order['\"]%s*:%s*(%a+)")
  local shape_s = header:match("['\"]shape['\"]%s*:%s*%(([%d%s,]*)%)")
  if not descr or not fortran or not shape_s then bad("header lacks descr, fortran_order or shape") end
  if fortran ~= "False" then bad("Fortran order is not supported") end
  local shape = {}
  for d in shape_s:gmatch("%d+") do
    if #d > 12 then bad("dimension too large") end
    shape[#shape + 1] = tonumber(d)
  end
  local data = start + hlen
  local count = 1
  for _, d in ipairs(shape) do count = count * d end
  if descr == "|u1" or descr == "<u1" or descr == "u1" then
    if #shape ~= 2 and #shape ~= 3 then bad("a uint8 image needs shape (H, W) or (H, W, C)") end
    local h, w, c = shape[1], shape[2], shape[3] or 1
    if c < 1 or c > 4 then bad("an image has 1 to 4 channels, got " .. c) end
    if w < 1 or h < 1 then bad("empty image") end
    if w * h > (max_pixels or 178956970) then
      error(string.format("%s: %s: %dx%d image exceeds the pixel limit of %d (raise it with max_pixels)",
                          f, name, w, h, max_pixels or 178956970), 3)
    end
    if #bytes - data + 1 < count then bad("truncated data") end
    local img = core.wrap(f, C.pj_image_new(w, h, c, max_pixels or 0))
    ffi.copy(img.data, ffi.cast("const char *", bytes) + data - 1, count)
    return img
  elseif descr == "<f4" then
    if #shape < 1 or #shape > 4 then bad("tensors have 1 to 4 dimensions") end
    if count * 4 > (max_pixels or 178956970) * 16 then bad("tensor too large") end
    if #bytes - data + 1 < count * 4 then bad("truncated data") end
    local t = tensor(shape)
    ffi.copy(t.data, ffi.cast("const char *", bytes) + data - 1, count * 4)
    return t
  end
  bad("unsupported dtype " .. descr .. " (uint8 images and float32 tensors are)")
end

-- ---- pj.pack -------------------------------------------------------------------

local PACK_OPTS = { height = true, max_width = true, width = true, channels = true, mean = true,
                    std = true, pad_value = true, interpolation = true, max_batch_mb = true }

local function per_channel(f, name, v, n, default)
  local out = {}
  if v == nil then
    for k = 1, n do out[k] = default end
  elseif type(v) == "number" then
    num(f, name, v)
    for k = 1, n do out[k] = v end
  elseif type(v) == "table" and #v == n then
    for k = 1, n do out[k] = num(f, name .. "[" .. k .. "]", v[k]) end
  else
    error(string.format("%s: %s must be a number or %d numbers, got %s", f, name, n, core.describe(v)), 3)
  end
  return out
end

-- pj.pack(images, opts) -> tensor (N x C x H x W float32), widths
-- Every image is resized to height opts.height and width
-- min(max_width, max(1, round(w * height / h))), converted to opts.channels
-- (1: BT.601 gray, 3: RGB), normalised as (v / 255 - mean) / std and
-- written to its row; columns right of its width hold pad_value.  widths[i]
-- is image i's width.  opts: height (32), max_width, width (tensor width;
-- default: the widest image's), channels (3), mean, std (numbers or one per
-- channel), pad_value (0), interpolation ("linear" | "area"), max_batch_mb.
local function pack(images, opts)
  local f = "pixjit.pack"
  if type(images) ~= "table" then error(f .. ": images must be a table of images, got " .. core.describe(images), 2) end
  opts = core.opts(f, opts, PACK_OPTS)
  local n = #images
  local arr = ffi.new("const pj_image *[?]", math.max(n, 1))
  for i = 1, n do arr[i - 1] = core.image(f, "images[" .. i .. "]", images[i]) end
  local o = ffi.new("pj_pack_opts")
  C.pj_pack_opts_default(o)
  if opts.height ~= nil then o.height = int(f, "opts.height", opts.height, 1, 65535) end
  if opts.max_width ~= nil then o.max_width = int(f, "opts.max_width", opts.max_width, 1, 2^31 - 1) end
  if opts.width ~= nil then o.width = int(f, "opts.width", opts.width, 1, 2^31 - 1) end
  if opts.channels ~= nil then
    o.channels = int(f, "opts.channels", opts.channels, 1, 3)
    if o.channels == 2 then error(f .. ": opts.channels must be 1 or 3, got 2", 2) end
  end
  if opts.max_batch_mb ~= nil then o.max_batch_bytes_mb = int(f, "opts.max_batch_mb", opts.max_batch_mb, 1, 2^31 - 1) end
  o.interpolation = interp_of(f, opts.interpolation)
  local mean = per_channel(f, "opts.mean", opts.mean, o.channels, 0)
  local std = per_channel(f, "opts.std", opts.std, o.channels, 1)
  for k = 1, o.channels do
    if std[k] == 0 then error(f .. ": opts.std must not be 0", 2) end
    o.mean[k - 1], o.std[k - 1] = mean[k], std[k]
  end
  if opts.pad_value ~= nil then o.pad_value = num(f, "opts.pad_value", opts.pad_value) end
  local out = ffi.new("pj_tensor *[1]")
  local widths = ffi.new("int32_t[?]", math.max(n, 1))
  if C.pj_pack(arr, n, o, out, widths) ~= 0 then error(f .. ": " .. core.errmsg(), 2) end
  local t = wrap_tensor(f, out[0])
  local w = {}
  for i = 1, n do w[i] = widths[i - 1] end
  return t, w
end

ffi.metatype("pj_tensor", tmt)

function M.install(pj, methods)
  methods.resize = resize
  methods.to_gray = to_gray
  methods.swap_rb = swap_rb
  methods.pad = pad
  pj.tensor = tensor
  pj.pack = pack
  pj.is_tensor = is_tensor
end

return M
