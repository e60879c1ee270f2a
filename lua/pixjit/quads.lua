-- pixjit.quads: quadrilaterals as Lua values (points) and from files
-- (pj.read_quads, pj.parse_quads).
local ffi = require "ffi"
local core = require "pixjit.core"

local int, count = core.int, core.count

local M = {}

local float8 = ffi.typeof("float[8]")

-- x, y of a point {x, y} or {x = , y = }, or nil when it is not one.
local function xy(p)
  if type(p) ~= "table" then return nil end
  local x, y = p[1], p[2]
  if x == nil then x = p.x end
  if y == nil then y = p.y end
  if type(x) ~= "number" or type(y) ~= "number" then return nil end
  return x, y
end

-- Four points as {{x, y}, ...} or 8 numbers, written to out[0..7] (a new
-- float[8] when out is nil); returns out, or nil and the reason the value
-- is malformed.  Written without inner loops: it runs once per quad, and
-- thousands of quads a page make it a hot path.
function M.points(v, out)
  if type(v) ~= "table" then return nil, "must be a table of 4 points, got " .. core.describe(v) end
  out = out or float8()
  local a, b, c, d = v[1], v[2], v[3], v[4]
  if type(a) == "table" then
    if d == nil or v[5] ~= nil then return nil, "must have 4 points, got " .. #v end
    local x1, y1 = xy(a)
    if not x1 then return nil, "point 1 must be {x, y} numbers" end
    local x2, y2 = xy(b)
    if not x2 then return nil, "point 2 must be {x, y} numbers" end
    local x3, y3 = xy(c)
    if not x3 then return nil, "point 3 must be {x, y} numbers" end
    local x4, y4 = xy(d)
    if not x4 then return nil, "point 4 must be {x, y} numbers" end
    out[0], out[1], out[2], out[3] = x1, y1, x2, y2
    out[4], out[5], out[6], out[7] = x3, y3, x4, y4
  else
    if v[8] == nil or v[9] ~= nil then
      return nil, "must have 4 points or 8 numbers, got " .. #v .. " values"
    end
    for i = 1, 8 do
      if type(v[i]) ~= "number" then return nil, "value " .. i .. " must be a number" end
      out[i - 1] = v[i]
    end
  end
  return out
end

local READ_OPTS = { max_bytes = true, max_quads = true, max_depth = true }
local PARSE_OPTS = { max_bytes = true, max_quads = true, max_depth = true, name = true }

-- One decoder for the module: a lua-cjson instance owns malloc'd buffers,
-- so one per call would leave garbage the C heap cannot see.
local json = require("cjson").new()

-- The limits of read_quads and parse_quads, checked before any work.  The
-- JSON parsing is Lua's, so these are its checks.
local function quad_limits(f, opts)
  return opts.max_bytes == nil and 256 * 2^20 or count(f, "opts.max_bytes", opts.max_bytes),
         opts.max_quads == nil and 1000000 or int(f, "opts.max_quads", opts.max_quads),
         opts.max_depth == nil and 8 or core.range(f, "opts.max_depth", opts.max_depth, 3, 1000)
end

-- Shared by read_quads and parse_quads: checks size, nesting and shape.
local function from_json(f, text, name, opts)
  local max_bytes, max_quads, max_depth = quad_limits(f, opts)
  if #text > max_bytes then
    core.raise(string.format("%s: %s: %d bytes exceed max_bytes (%d); raise it in opts", f, name, #text, max_bytes))
  end
  json.decode_max_depth(max_depth) -- quads nest 3 deep; deeper input is garbage
  local ok, data = pcall(json.decode, text)
  if not ok then
    local msg = tostring(data)
    if msg:find("nested", 1, true) then
      msg = msg .. string.format(" (max_depth is %d; raise it in opts)", max_depth)
    end
    core.raise(f .. ": " .. name .. ": invalid JSON: " .. msg)
  end
  if type(data) ~= "table" then core.raise(f .. ": " .. name .. ": expected a JSON array of quads") end
  if #data > max_quads then
    core.raise(string.format("%s: %s: %d quads exceed max_quads (%d); raise it in opts", f, name, #data, max_quads))
  end
  for i = 1, #data do
    local ok2, why = M.points(data[i])
    if not ok2 then core.raise(string.format("%s: %s: quad %d %s", f, name, i, why)) end
  end
  return data
end

-- pj.read_quads(path [, opts]) -> quads: JSON [[[x,y],[x,y],[x,y],[x,y]], ...]
-- opts.max_bytes (default 256 MiB), opts.max_quads (1,000,000) and
-- opts.max_depth (JSON nesting, 8) bound what a file can make pixjit do.
function M.read(path, opts)
  local f = "pixjit.read_quads"
  core.str(f, "path", path)
  opts = core.opts(f, opts, READ_OPTS)
  local max_bytes = quad_limits(f, opts)
  local fh, err = io.open(path, "rb")
  if not fh then core.raise(f .. ": " .. err) end
  local size = fh:seek("end")
  if size > max_bytes then
    fh:close()
    core.raise(string.format("%s: %s: %d bytes exceed max_bytes (%d); raise it in opts", f, path, size, max_bytes))
  end
  fh:seek("set")
  local text = fh:read("*a")
  fh:close()
  return from_json(f, text, path, opts)
end

-- pj.parse_quads(text [, opts]) -> quads, from JSON in a string; opts as
-- read_quads, plus name (for messages).
function M.parse(text, opts)
  local f = "pixjit.parse_quads"
  core.str(f, "text", text)
  opts = core.opts(f, opts, PARSE_OPTS)
  quad_limits(f, opts)
  return from_json(f, text, opts.name and core.str(f, "opts.name", opts.name) or "<string>", opts)
end

return M
