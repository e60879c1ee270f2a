-- pixjit.npy: NumPy's .npy format (version 1.0 written; 1.x to 3.x read):
-- the header that describes dtype and shape, and the writing of a header
-- plus raw data.  Images and tensors build on it (pixjit.codec,
-- pixjit.tensor); this module knows neither.
local bit = require "bit"
local core = require "pixjit.core"

local M = {}

M.MAGIC = "\147NUMPY"

-- Header of a version 1.0 file: the dict, padded with spaces and a newline
-- so the data starts on a 64-byte boundary, as NumPy writes it.
function M.header(descr, shape)
  local dims = {}
  for i, d in ipairs(shape) do dims[i] = tostring(d) end
  local tuple = #dims == 1 and "(" .. dims[1] .. ",)" or "(" .. table.concat(dims, ", ") .. ")"
  local dict = string.format("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tuple)
  local total = 10 + #dict + 1
  dict = dict .. string.rep(" ", (64 - total % 64) % 64) .. "\n"
  return M.MAGIC .. "\1\0" .. string.char(bit.band(#dict, 255), bit.rshift(#dict, 8)) .. dict
end

-- Writes header then `bytes` (a string) to path; raises "f: path: ..." on
-- failure.
function M.write(f, path, header, bytes)
  local fh, err = io.open(path, "wb")
  if not fh then core.raise(f .. ": " .. err) end
  local ok, werr = fh:write(header)
  if ok then ok, werr = fh:write(bytes) end
  local cok, cerr = fh:close()
  if not ok or not cok then
    core.raise(f .. ": " .. path .. ": write failed: " .. tostring(werr or cerr))
  end
end

-- Parses the header of a .npy held in `bytes`: returns descr, shape (a
-- table), and the 1-based position where the data starts; raises
-- "f: name: invalid .npy: ..." when it is malformed.
function M.parse(f, bytes, name)
  local function bad(why) core.raise(string.format("%s: %s: invalid .npy: %s", f, name, why)) end
  if #bytes < 10 or bytes:sub(1, 6) ~= M.MAGIC then bad("no NUMPY magic") end
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
    if #d > 10 or tonumber(d) > 2147483647 then bad("dimension too large") end
    shape[#shape + 1] = tonumber(d)
  end
  return descr, shape, start + hlen, bad
end

return M
