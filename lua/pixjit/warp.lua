-- pixjit.warp: pj.perspective, img:warp_perspective, img:crop_quads and
-- pj.read_quads.
local ffi = require "ffi"
local core = require "pixjit.core"

local C = core.C
local int, num = core.int, core.num

local M = {}

local float8 = ffi.typeof("float[8]")
local float_arr = ffi.typeof("float[?]")

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
local function points(v, out)
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

-- pj.perspective(src_quad, dst_quad) -> 3x3 matrix {{...}, {...}, {...}}
-- as OpenCV's getPerspectiveTransform (points are rounded to float32).
local function perspective(src, dst)
  local f = "pixjit.perspective"
  local s, err = points(src)
  if not s then error(f .. ": src_quad " .. err, 2) end
  local d, err2 = points(dst)
  if not d then error(f .. ": dst_quad " .. err2, 2) end
  local m = ffi.new("double[9]")
  if C.pj_perspective(s, d, m) ~= 0 then error(f .. ": " .. core.errmsg(), 2) end
  return { { m[0], m[1], m[2] }, { m[3], m[4], m[5] }, { m[6], m[7], m[8] } }
end

local INTERP = { linear = C.PJ_INTER_LINEAR, bilinear = C.PJ_INTER_LINEAR, nearest = C.PJ_INTER_NEAREST }
local BORDER = { constant = C.PJ_BORDER_CONSTANT, replicate = C.PJ_BORDER_REPLICATE }

local function fill_warp_opts(f, o, opts, channels)
  if opts.interpolation ~= nil then
    o.interpolation = INTERP[opts.interpolation] or
      error(f .. ": opts.interpolation must be \"linear\" or \"nearest\", got " ..
            core.describe(opts.interpolation), 3)
  end
  if opts.border ~= nil then
    o.border = BORDER[opts.border] or
      error(f .. ": opts.border must be \"constant\" or \"replicate\", got " ..
            core.describe(opts.border), 3)
  end
  local bv = opts.border_value
  if bv ~= nil then
    if type(bv) == "number" then
      int(f, "opts.border_value", bv, 0, 255)
      for k = 0, 3 do o.border_value[k] = bv end
    elseif type(bv) == "table" and #bv == channels then
      for k = 1, channels do o.border_value[k - 1] = int(f, "opts.border_value[" .. k .. "]", bv[k], 0, 255) end
    else
      error(string.format("%s: opts.border_value must be a number or %d numbers", f, channels), 3)
    end
  end
end

local WARP_OPTS = { interpolation = true, border = true, border_value = true, max_pixels = true }

-- img:warp_perspective(M, w, h [, opts]) -> w x h image; M maps source
-- to output (as OpenCV's warpPerspective without WARP_INVERSE_MAP).
-- opts: interpolation ("linear" | "nearest"), border ("constant" |
-- "replicate"), border_value (number or one per channel), max_pixels.
local function warp_perspective(img, m, w, h, opts)
  local f = "img:warp_perspective"
  core.image(f, "self", img)
  local mm = ffi.new("double[9]")
  if type(m) ~= "table" then error(f .. ": M must be a 3x3 table, got " .. core.describe(m), 2) end
  for r = 1, 3 do
    local row = m[r]
    if type(row) ~= "table" then error(f .. ": M must be a 3x3 table (row " .. r .. " missing)", 2) end
    for c = 1, 3 do mm[(r - 1) * 3 + c - 1] = num(f, "M[" .. r .. "][" .. c .. "]", row[c]) end
  end
  int(f, "w", w, 1)
  int(f, "h", h, 1)
  opts = core.opts(f, opts, WARP_OPTS)
  local o = ffi.new("pj_warp_opts")
  C.pj_warp_opts_default(o)
  fill_warp_opts(f, o, opts, img.channels)
  if opts.max_pixels ~= nil then o.max_pixels = int(f, "opts.max_pixels", opts.max_pixels, 1) end
  return core.wrap(f, C.pj_warp_perspective(img, mm, w, h, o))
end

local REASONS = {
  [C.PJ_EARG] = "a coordinate is not finite",
  [C.PJ_EEMPTY] = "the crop would be empty (zero width or height)",
  [C.PJ_ESINGULAR] = "the quad is degenerate (collinear or repeated corners)",
}

-- Quads as a Lua array (of 4 points or 8 numbers each), or an FFI float
-- array of 8*n values -> float array, count, and reasons for malformed
-- entries (their coordinates are NaN so the C side skips them).
local function quad_array(f, quads, n)
  if type(quads) == "cdata" then
    if n == nil then error(f .. ": an FFI quad array needs opts.count", 3) end
    return ffi.cast("const float *", quads), n, {}
  end
  if type(quads) ~= "table" then
    error(f .. ": quads must be a table or an FFI float array, got " .. core.describe(quads), 3)
  end
  n = #quads
  local arr, bad = float_arr(math.max(8 * n, 8)), {}
  for i = 1, n do
    local dst = arr + 8 * (i - 1)
    local q, err = points(quads[i], dst)
    if not q then
      bad[i] = err
      for k = 0, 7 do dst[k] = 0 / 0 end
    end
  end
  return arr, n, bad
end

local CROP_OPTS = { interpolation = true, border = true, border_value = true, rotate = true,
                    rotate_ratio = true, height = true, max_crop_pixels = true,
                    max_total_pixels = true, max_quads = true, count = true, strict = true }

-- img:crop_quads(quads [, opts]) -> crops, errors
-- Cuts every quad (TL, TR, BR, BL) out in one parallel C call.  crops[i]
-- is an image, or false when quad i failed; errors[i] then says why and
-- errors.n counts the failures.  opts: interpolation, border, border_value
-- (as warp_perspective), rotate (turn crops with h/w >= rotate_ratio 90
-- degrees counter-clockwise, as PaddleOCR), rotate_ratio (1.5), height
-- (fixed output height, aspect kept), max_crop_pixels, max_total_pixels,
-- max_quads, count (quads in an FFI array), strict (raise on any failure).
local function crop_quads(img, quads, opts)
  local f = "img:crop_quads"
  core.image(f, "self", img)
  opts = core.opts(f, opts, CROP_OPTS)
  if opts.count ~= nil then int(f, "opts.count", opts.count, 0) end
  local arr, n, bad = quad_array(f, quads, opts.count)
  local o = ffi.new("pj_crop_opts")
  C.pj_crop_opts_default(o)
  fill_warp_opts(f, o.warp, opts, img.channels)
  if opts.rotate ~= nil then o.rotate_tall = opts.rotate and 1 or 0 end
  if opts.rotate_ratio ~= nil then o.rotate_ratio = num(f, "opts.rotate_ratio", opts.rotate_ratio, 1e-9) end
  if opts.height ~= nil then o.height = int(f, "opts.height", opts.height, 1, 65535) end
  if opts.max_crop_pixels ~= nil then o.max_crop_pixels = int(f, "opts.max_crop_pixels", opts.max_crop_pixels, 1) end
  if opts.max_total_pixels ~= nil then o.max_total_pixels = int(f, "opts.max_total_pixels", opts.max_total_pixels, 1) end
  if opts.max_quads ~= nil then o.max_quads = int(f, "opts.max_quads", opts.max_quads, 0, 2^31 - 1) end
  local outp = ffi.new("pj_image *[?]", math.max(n, 1))
  local status = ffi.new("int32_t[?]", math.max(n, 1))
  if C.pj_crop_quads(img, arr, n, o, outp, status) ~= 0 then
    error(f .. ": " .. core.errmsg(), 2)
  end
  local crops, errors = {}, { n = 0 }
  for i = 0, n - 1 do
    local p = outp[i]
    if p ~= nil then
      ffi.gc(p, C.pj_image_release)
      crops[i + 1] = p
    else
      crops[i + 1] = false
      local code = status[i]
      local why = bad[i + 1] or REASONS[code]
      if code == C.PJ_ESINGULAR and not bad[i + 1] then
        -- A crop 1 pixel wide or high maps two corners to one point: the
        -- quad may be fine, its homography is singular all the same.
        local w, h = ffi.new("int32_t[1]"), ffi.new("int32_t[1]")
        C.pj_quad_size(arr + 8 * i, w, h)
        if w[0] == 1 or h[0] == 1 then
          why = string.format("the crop would be %dx%d; one pixel across maps two corners to one " ..
                              "point, so the homography is singular", w[0], h[0])
        end
      end
      if not why and code == C.PJ_ELIMIT then
        why = "the crop exceeds max_crop_pixels (" .. tonumber(o.max_crop_pixels) .. "); raise it in opts"
      end
      errors[i + 1] = "quad " .. (i + 1) .. ": " .. (why or ffi.string(C.pj_strerror(code)))
      errors.n = errors.n + 1
    end
  end
  core.account()
  if opts.strict and errors.n > 0 then
    for i = 1, n do
      if errors[i] then error(f .. ": " .. errors[i], 2) end
    end
  end
  return crops, errors
end

local READ_OPTS = { max_bytes = true, max_quads = true, max_depth = true }
local PARSE_OPTS = { max_bytes = true, max_quads = true, max_depth = true, name = true }

-- One decoder for the module: a lua-cjson instance owns malloc'd buffers,
-- so one per call would leave garbage the C heap cannot see.
local json = require("cjson").new()

-- The limits of read_quads and parse_quads, checked before any work.
local function quad_limits(f, opts)
  return opts.max_bytes == nil and 256 * 2^20 or int(f, "opts.max_bytes", opts.max_bytes, 1),
         opts.max_quads == nil and 1000000 or int(f, "opts.max_quads", opts.max_quads, 0),
         opts.max_depth == nil and 8 or int(f, "opts.max_depth", opts.max_depth, 3, 1000)
end

-- Shared by read_quads and parse_quads: checks size, nesting and shape.
local function quads_from_json(f, text, name, opts)
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
    local ok2, why = points(data[i])
    if not ok2 then core.raise(string.format("%s: %s: quad %d %s", f, name, i, why)) end
  end
  return data
end

-- pj.read_quads(path [, opts]) -> quads: JSON [[[x,y],[x,y],[x,y],[x,y]], ...]
-- opts.max_bytes (default 256 MiB), opts.max_quads (1,000,000) and
-- opts.max_depth (JSON nesting, 8) bound what a file can make pixjit do.
local function read_quads(path, opts)
  local f = "pixjit.read_quads"
  core.str(f, "path", path)
  opts = core.opts(f, opts, READ_OPTS)
  local max_bytes = quad_limits(f, opts)
  local fh, err = io.open(path, "rb")
  if not fh then error(f .. ": " .. err, 2) end
  local size = fh:seek("end")
  if size > max_bytes then
    fh:close()
    error(string.format("%s: %s: %d bytes exceed max_bytes (%d); raise it in opts", f, path, size, max_bytes), 2)
  end
  fh:seek("set")
  local text = fh:read("*a")
  fh:close()
  return quads_from_json(f, text, path, opts)
end

-- pj.parse_quads(text [, opts]) -> quads, from JSON in a string; opts as
-- read_quads, plus name (for messages).
local function parse_quads(text, opts)
  local f = "pixjit.parse_quads"
  core.str(f, "text", text)
  opts = core.opts(f, opts, PARSE_OPTS)
  quad_limits(f, opts)
  return quads_from_json(f, text, opts.name and core.str(f, "opts.name", opts.name) or "<string>", opts)
end

function M.install(pj, methods)
  pj.perspective = perspective
  pj.read_quads = read_quads
  pj.parse_quads = parse_quads
  methods.warp_perspective = warp_perspective
  methods.crop_quads = crop_quads
end

return M
