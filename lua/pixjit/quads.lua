-- pixjit.quads: quadrilaterals as Lua values (points) and from files
-- (pj.read_quads, pj.parse_quads): pixjit's JSON, ICDAR-2015 ground truth
-- and PaddleOCR label lines, told apart by content or named in
-- opts.format.
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

local READ_OPTS = { max_bytes = true, max_quads = true, max_depth = true, format = true,
                    image = true }
local PARSE_OPTS = { max_bytes = true, max_quads = true, max_depth = true, name = true,
                     format = true, image = true }

-- One decoder for the module: a lua-cjson instance owns malloc'd buffers,
-- so one per call would leave garbage the C heap cannot see.
local json = require("cjson").new()

-- The limits of read_quads and parse_quads, checked before any work.  The
-- parsing is Lua's, so these are its checks.
local function quad_limits(f, opts)
  return opts.max_bytes == nil and 256 * 2^20 or count(f, "opts.max_bytes", opts.max_bytes),
         opts.max_quads == nil and 1000000 or int(f, "opts.max_quads", opts.max_quads),
         opts.max_depth == nil and 8 or core.range(f, "opts.max_depth", opts.max_depth, 3, 1000)
end

local function too_many(f, name, n, max_quads)
  core.raise(string.format("%s: %s: %d quads exceed max_quads (%d); raise it in opts", f, name, n, max_quads))
end

-- JSON text as a Lua value, with the nesting bounded.
local function decode_json(f, text, name, max_depth, where)
  json.decode_max_depth(max_depth) -- quads nest 3 deep; deeper input is garbage
  local ok, data = pcall(json.decode, text)
  if not ok then
    local msg = tostring(data)
    if msg:find("nested", 1, true) then
      msg = msg .. string.format(" (max_depth is %d; raise it in opts)", max_depth)
    end
    core.raise(f .. ": " .. name .. ": " .. (where or "") .. "invalid JSON: " .. msg)
  end
  return data
end

local function kind_of(v)
  if v == nil or v == json.null then return "null" end
  if type(v) ~= "table" then return "a " .. type(v) end
  return next(v) ~= nil and #v == 0 and "an object" or "an array"
end

-- Entries of a decoded JSON array: quads (4 points or 8 numbers), or
-- PaddleOCR's objects {points = ..., transcription = ...}.
local function take_entries(f, name, data, quads, texts, max_quads, where)
  for i = 1, #data do
    local e = data[i]
    local pts, text = e, nil
    if type(e) == "table" and e.points ~= nil then pts, text = e.points, e.transcription end
    local ok, why = M.points(pts)
    if not ok then core.raise(string.format("%s: %s: %squad %d %s", f, name, where or "", i, why)) end
    local n = #quads + 1
    if n > max_quads then too_many(f, name, n, max_quads) end
    quads[n] = pts
    if type(text) == "string" then texts[n] = text end
  end
end

local function from_json(f, text, name, opts, quads, texts)
  local _, max_quads, max_depth = quad_limits(f, opts)
  -- cjson reads [] and {} alike, so the opening bracket says which it was.
  local first = text:match("^\239\187\191?%s*(.)") or text:match("^%s*(.)")
  local data = decode_json(f, text, name, max_depth)
  if first ~= "[" or type(data) ~= "table" then
    core.raise(string.format("%s: %s: expected a JSON array of quads ([[x, y] x 4] or 8 numbers each), got %s",
                             f, name, first == "{" and "an object" or kind_of(data)))
  end
  take_entries(f, name, data, quads, texts, max_quads)
end

-- ICDAR-2015: "x1,y1,x2,y2,x3,y3,x4,y4[,transcription]" a line.
local function from_icdar(f, text, name, opts, quads, texts)
  local _, max_quads = quad_limits(f, opts)
  local lineno = 0
  for line in (text:gsub("^\239\187\191", "") .. "\n"):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    line = line:gsub("\r$", "")
    if line:match("%S") then
      local v, at = {}, 1
      for i = 1, 8 do
        local comma = line:find(",", at, true)
        if not comma and i < 8 then v = nil break end
        v[i] = tonumber(line:sub(at, (comma or #line + 1) - 1):match("^%s*(.-)%s*$"))
        if not v[i] then v = nil break end
        at = comma and comma + 1 or #line + 1
      end
      if not v then
        core.raise(string.format("%s: %s: line %d: expected 8 numbers x1,y1,...,x4,y4 then an optional text",
                                 f, name, lineno))
      end
      local n = #quads + 1
      if n > max_quads then too_many(f, name, n, max_quads) end
      quads[n] = v
      if at <= #line then texts[n] = line:sub(at) end
    end
  end
end

-- PaddleOCR labels: "image<TAB>[{\"transcription\": ..., \"points\": [[x, y] x 4]}, ...]"
-- a line, one line per image: the line of opts.image (by path, or by file
-- name), or the only one.
local function from_paddle(f, text, name, opts, quads, texts)
  local _, max_quads, max_depth = quad_limits(f, opts)
  local want = opts.image and core.str(f, "opts.image", opts.image)
  local want_base = want and want:match("([^/\\]+)$")
  local lines, picked, picked_no = 0, nil, nil
  local lineno = 0
  for line in (text:gsub("^\239\187\191", "") .. "\n"):gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    line = line:gsub("\r$", "")
    if line:match("%S") then
      local img, labels = line:match("^([^\t]*)\t(.*)$")
      if not img then
        core.raise(string.format("%s: %s: line %d: expected image<TAB>[labels]", f, name, lineno))
      end
      lines = lines + 1
      if not want or img == want or img:match("([^/\\]+)$") == want_base then
        if picked and want then
          core.raise(string.format("%s: %s: lines %d and %d both name %s", f, name, picked_no, lineno, want))
        end
        picked, picked_no = labels, lineno
      end
    end
  end
  if want and not picked then core.raise(string.format("%s: %s: no line for image %s", f, name, want)) end
  if not want and lines > 1 then
    core.raise(string.format("%s: %s: %d images are labelled here; name one in opts.image", f, name, lines))
  end
  if not picked then return end
  local where = string.format("line %d: ", picked_no)
  local data = decode_json(f, picked, name, max_depth, where)
  if type(data) ~= "table" or (next(data) ~= nil and #data == 0) then
    core.raise(string.format("%s: %s: %sexpected a JSON array of labels, got %s", f, name, where, kind_of(data)))
  end
  take_entries(f, name, data, quads, texts, max_quads, where)
end

local FORMATS = { json = from_json, icdar = from_icdar, paddle = from_paddle }

-- The format of text: JSON starts with [ or {, a PaddleOCR line has a tab
-- before its JSON, ICDAR lines are numbers and commas.
local function sniff(text)
  local body = text:gsub("^\239\187\191", "")
  local first = body:match("^%s*(.)")
  if first == "[" or first == "{" or first == '"' then return "json" end
  -- A lone JSON scalar (a number, true, null) is JSON too, and an error.
  local word = body:match("^%s*(%S+)%s*$")
  if word and (tonumber(word) or word == "true" or word == "false" or word == "null") then return "json" end
  if body:match("^[^\n]*\t%s*%[") then return "paddle" end
  return "icdar"
end

local function parse_any(f, text, name, opts)
  local quads, texts = {}, {}
  local format = opts.format == nil and sniff(text)
    or core.choice(f, "opts.format", opts.format, { json = "json", icdar = "icdar", paddle = "paddle" },
                   '"json", "icdar" or "paddle"')
  FORMATS[format](f, text, name, opts, quads, texts)
  return quads, texts
end

-- pj.read_quads(path [, opts]) -> quads, texts.  pixjit's JSON
-- ([[[x,y],[x,y],[x,y],[x,y]], ...] or 8 numbers a quad), ICDAR-2015
-- ground truth or PaddleOCR label lines, by content or opts.format
-- ("json", "icdar", "paddle"); opts.image picks a PaddleOCR file's line.
-- texts[i] is quad i's transcription, or nil.  opts.max_bytes (default
-- 256 MiB), opts.max_quads (1,000,000) and opts.max_depth (JSON nesting,
-- 8) bound what a file can make pixjit do.
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
  return parse_any(f, text, path, opts)
end

-- pj.parse_quads(text [, opts]) -> quads, texts, from text in a string;
-- opts as read_quads, plus name (for messages).
function M.parse(text, opts)
  local f = "pixjit.parse_quads"
  core.str(f, "text", text)
  opts = core.opts(f, opts, PARSE_OPTS)
  local max_bytes = quad_limits(f, opts)
  local name = opts.name and core.str(f, "opts.name", opts.name) or "<string>"
  if #text > max_bytes then
    core.raise(string.format("%s: %s: %d bytes exceed max_bytes (%d); raise it in opts", f, name, #text, max_bytes))
  end
  return parse_any(f, text, name, opts)
end

return M
