-- pixjit.json: lua-cjson with the two things its encoder does not do for
-- files people read: it leaves "/" unescaped (cjson writes "\/"), and a
-- table marked with M.array encodes as [] even when empty (cjson cannot
-- tell an empty array from an empty object).
local cjson = require "cjson"

local M = {}

local array_mt = {}
local EMPTY = "\1pixjit-empty-array\1"

-- t (or a new table), marked as a JSON array.
function M.array(t) return setmetatable(t or {}, array_mt) end

-- A copy of v with each marked empty array replaced by a placeholder.
local function mark(v)
  if type(v) ~= "table" then return v end
  if getmetatable(v) == array_mt and next(v) == nil then return EMPTY end
  local out = {}
  for k, x in pairs(v) do out[k] = mark(x) end
  return out
end

function M.encode(v)
  local s = cjson.encode(mark(v))
  -- cjson escapes "/" as "\/" and nothing else ends in "\/": a literal
  -- backslash is always the pair "\\", never followed by a bare "/".
  s = s:gsub("\\/", "/")
  return (s:gsub('"\\u0001pixjit%-empty%-array\\u0001"', "[]"))
end

M.decode = cjson.decode
M.null = cjson.null

return M
