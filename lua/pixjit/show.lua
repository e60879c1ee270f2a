-- pixjit.show: how the REPL prints values: bounded pretty tables, a
-- one-line image summary, and a small image preview in half-block
-- characters on truecolor terminals (pj.show).
local core = require "pixjit.core"

local M = {}

local MAX_ITEMS, MAX_DEPTH, MAX_STR = 20, 2, 200

local function is_ident(k) return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil end

local function pretty(v, depth, seen)
  local t = type(v)
  if t == "string" then
    local s = #v > MAX_STR and v:sub(1, MAX_STR) .. "..." or v
    return string.format("%q", s):gsub("\\\n", "\\n")
  elseif t ~= "table" then
    return tostring(v)
  end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__tostring then return tostring(v) end
  if seen[v] then return "<cycle>" end
  if depth >= MAX_DEPTH then return "{...}" end
  seen[v] = true
  local parts, n = {}, #v
  for i = 1, math.min(n, MAX_ITEMS) do parts[#parts + 1] = pretty(v[i], depth + 1, seen) end
  local keys = {}
  for k in pairs(v) do
    if not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return type(a) < type(b)
  end)
  for _, k in ipairs(keys) do
    if #parts >= MAX_ITEMS then break end
    local key = is_ident(k) and k or "[" .. pretty(k, MAX_DEPTH, seen) .. "]"
    parts[#parts + 1] = key .. " = " .. pretty(v[k], depth + 1, seen)
  end
  seen[v] = nil
  local total = n + #keys
  if total > MAX_ITEMS then parts[#parts + 1] = string.format("... (%d more)", total - MAX_ITEMS) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- A value as the REPL prints it.
function M.pretty(v)
  return pretty(v, 0, {})
end

function M.truecolor()
  local ct = os.getenv("COLORTERM") or ""
  return ct:match("truecolor") or ct:match("24bit")
end

-- Lines of a preview at most `cols` characters wide and `rows` lines
-- high: each character shows two pixels (upper half in the foreground
-- colour, lower half in the background), nearest-sampled.
function M.preview(img, cols, rows)
  cols, rows = cols or 48, rows or 16
  local scale = math.max(img.width / cols, img.height / (2 * rows), 1)
  local w = math.max(1, math.floor(img.width / scale))
  local h = math.max(1, math.floor(img.height / (2 * scale)))
  local p, c = img.data, img.channels
  local function rgb(x, y)
    local sx = math.min(img.width - 1, math.floor(x * scale))
    local sy = math.min(img.height - 1, math.floor(y * scale))
    local o = sy * img.stride + sx * c
    if c <= 2 then return p[o], p[o], p[o] end
    return p[o], p[o + 1], p[o + 2]
  end
  local lines = {}
  for y = 0, h - 1 do
    local parts = {}
    for x = 0, w - 1 do
      local r1, g1, b1 = rgb(x, 2 * y)
      local r2, g2, b2 = rgb(x, 2 * y + 1)
      parts[#parts + 1] = string.format("\27[38;2;%d;%d;%dm\27[48;2;%d;%d;%dm\226\150\128", r1, g1, b1, r2, g2, b2)
    end
    lines[#lines + 1] = table.concat(parts) .. "\27[0m"
  end
  return lines
end

-- pj.show(img [, opts]): prints the image's summary and, on a truecolor
-- terminal (or with opts.preview = true), a small preview.
function M.show(img, opts)
  core.image("pixjit.show", "img", img)
  opts = core.opts("pixjit.show", opts, { preview = true, cols = true, rows = true })
  io.write(tostring(img), "\n")
  local want = opts.preview
  if want == nil then want = M.truecolor() and require("pixjit.sys").isatty(1) end
  if want then
    for _, l in ipairs(M.preview(img, opts.cols, opts.rows)) do io.write(l, "\n") end
  end
end

return M
