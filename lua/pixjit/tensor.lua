-- pixjit.tensor: float32 tensors (refcounted like images) and pj.pack,
-- crops to an N x C x H x W model batch in one parallel pass.
local ffi = require "ffi"
local core = require "pixjit.core"
local npy = require "pixjit.npy"
local ops = require "pixjit.ops"

local C = core.C
local num, count = core.num, core.count
local M = {}

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
  if not is_tensor(t) then core.raise(f .. ": self must be a tensor, got " .. core.describe(t)) end
  if t.data == nil then core.raise(f .. ": self has been freed") end
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
  if p == nil then core.fail(f) end
  ffi.gc(p, C.pj_tensor_release)
  core.account()
  return p
end

-- pj.tensor(shape) -> zero-filled float32 tensor; shape {d1, ..., dk}, k <= 4.
-- t.data is a float* (row-major), t.shape a Lua table, t.ndim.
function M.new(shape)
  local f = "pixjit.tensor"
  if type(shape) ~= "table" or #shape < 1 or #shape > 4 then
    core.raise(f .. ": shape must be a table of 1 to 4 sizes, got " .. core.describe(shape))
  end
  local s = ffi.new("int64_t[4]")
  for i = 1, #shape do s[i - 1] = core.int64(f, "shape[" .. i .. "]", shape[i]) end
  return wrap_tensor(f, C.pj_tensor_new(#shape, s))
end

-- t:get(i1, ..., ik) -> value (indices from 0).  Runs in Lua on the tensor
-- memory, so it checks its indices itself.
function tmethods.get(t, ...)
  check_tensor("tensor:get", t)
  local n = select("#", ...)
  if n ~= t.ndim then core.raise(string.format("tensor:get: expected %d indices, got %d", t.ndim, n)) end
  local off = 0
  for i = 1, n do
    local v = core.range("tensor:get", "index " .. i, (select(i, ...)), 0, tonumber(t.dims[i - 1]) - 1)
    off = off * tonumber(t.dims[i - 1]) + v
  end
  return t.data[off]
end

function tmethods.free(t)
  if not is_tensor(t) then core.raise("tensor:free: self must be a tensor") end
  ffi.gc(t, nil)
  C.pj_tensor_release(t)
end

-- t:save(path): NumPy .npy, dtype float32 ('<f4'), C order.
function tmethods.save(t, path)
  local f = "tensor:save"
  check_tensor(f, t)
  core.str(f, "path", path)
  npy.write(f, path, npy.header("<f4", t.shape), ffi.string(t.data, numel(t) * 4))
  return t
end

-- A float32 tensor from the data of a parsed .npy (see pixjit.npy).
function M.from_npy(bytes, data, shape, count_, bad)
  if #shape < 1 or #shape > 4 then bad("tensors have 1 to 4 dimensions") end
  if #bytes - data + 1 < count_ * 4 then bad("truncated data") end
  local t = M.new(shape)
  ffi.copy(t.data, ffi.cast("const char *", bytes) + data - 1, count_ * 4)
  return t
end

-- ---- pj.pack -------------------------------------------------------------------

local PACK_OPTS = { height = true, max_width = true, width = true, channels = true, mean = true,
                    std = true, pad_value = true, interpolation = true, max_batch_mb = true }

-- mean or std: a number for every channel, or one per channel, into arr.
local function per_channel(f, name, v, arr)
  if type(v) == "number" then
    for k = 0, 2 do arr[k] = v end
  elseif type(v) == "table" then
    for k = 1, #v do arr[k - 1] = num(f, name .. "[" .. k .. "]", v[k]) end
    if #v ~= 1 and #v ~= 3 then
      core.raise(string.format("%s: %s must be a number or 3 numbers, got %d numbers", f, name, #v))
    end
    if #v == 1 then arr[1], arr[2] = arr[0], arr[0] end
  else
    core.raise(string.format("%s: %s must be a number or a table, got %s", f, name, core.describe(v)))
  end
end

-- pj.pack(images, opts) -> tensor (N x C x H x W float32), widths
-- Every image is resized to height opts.height and width
-- min(max_width, max(1, round(w * height / h))), converted to opts.channels
-- (1: BT.601 gray, 3: RGB), normalised as (v / 255 - mean) / std and
-- written to its row; columns right of its width hold pad_value.  widths[i]
-- is image i's width.  opts: height (32), max_width, width (tensor width;
-- default: the widest image's), channels (3), mean, std (numbers or one per
-- channel), pad_value (0), interpolation ("linear" | "area"), max_batch_mb.
function M.pack(images, opts)
  local f = "pixjit.pack"
  if type(images) ~= "table" then core.raise(f .. ": images must be a table of images, got " .. core.describe(images)) end
  opts = core.opts(f, opts, PACK_OPTS)
  local n = #images
  local arr = ffi.new("const pj_image *[?]", math.max(n, 1))
  for i = 1, n do arr[i - 1] = core.image(f, "images[" .. i .. "]", images[i]) end
  local o = ffi.new("pj_pack_opts")
  if opts.height ~= nil then o.height = count(f, "opts.height", opts.height) end
  if opts.max_width ~= nil then o.max_width = count(f, "opts.max_width", opts.max_width) end
  if opts.width ~= nil then o.width = count(f, "opts.width", opts.width) end
  if opts.channels ~= nil then o.channels = count(f, "opts.channels", opts.channels) end
  if opts.max_batch_mb ~= nil then o.max_batch_mb = count(f, "opts.max_batch_mb", opts.max_batch_mb) end
  if opts.interpolation ~= nil then
    o.interpolation = core.choice(f, "opts.interpolation", opts.interpolation, ops.INTERP, ops.INTERP_WORDS)
  end
  if opts.mean ~= nil then per_channel(f, "opts.mean", opts.mean, o.mean) end
  if opts.std ~= nil then
    per_channel(f, "opts.std", opts.std, o.std)
    -- C reads an all-zero std as "the default"; from the user it is an error.
    if o.std[0] == 0 and o.std[1] == 0 and o.std[2] == 0 then
      core.raise(f .. ": opts.std must not be 0")
    end
  end
  if opts.pad_value ~= nil then o.pad_value = num(f, "opts.pad_value", opts.pad_value) end
  local out = ffi.new("pj_tensor *[1]")
  local widths = ffi.new("int32_t[?]", math.max(n, 1))
  if C.pj_pack(arr, n, o, out, widths) ~= 0 then core.fail(f) end
  local t = wrap_tensor(f, out[0])
  local w = {}
  for i = 1, n do w[i] = widths[i - 1] end
  return t, w
end

ffi.metatype("pj_tensor", tmt)

M.methods = tmethods -- the profiler wraps them

return M
