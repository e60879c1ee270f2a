-- Shared by the specs: paths to ../shared/data (nil when absent) and to a
-- scratch directory.
local M = {}

M.data = os.getenv("PIXJIT_DATA")
if M.data == "" then M.data = nil end

function M.data_path(name)
  return M.data and (M.data .. "/" .. name) or nil
end

M.tmp = os.getenv("PIXJIT_TMP") or "build/spec-tmp"
os.execute("mkdir -p " .. M.tmp)

M.pixjit = os.getenv("PIXJIT") or "bin/pixjit"

-- Writes text to a file in the scratch directory; returns its path.
function M.write(name, text)
  local path = M.tmp .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- Runs a shell command; returns its output and exit code.
function M.sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"::rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("::rc=(%d+)%s*$"))
  return out:gsub("::rc=%d+%s*$", ""), rc
end

-- The lines a shell command prints, as a list (the pipe is closed, so no
-- descriptor waits for the collector).
function M.lines(cmd)
  local p = io.popen(cmd)
  local list = {}
  for l in p:lines() do list[#list + 1] = l end
  p:close()
  return list
end

-- The whole content of a file.
function M.read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

-- Whether path exists (a handle opened to find out is closed at once).
function M.exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

-- Whether images a and b have the same size, channels and pixels (strides
-- may differ: views compare by their pixels).
function M.same_pixels(a, b)
  if a.width ~= b.width or a.height ~= b.height or a.channels ~= b.channels then return false end
  local pa, pb = a:pixels(), b:pixels()
  for y = 0, a.height - 1 do
    for x = 0, a.width * a.channels - 1 do
      if pa[y * a.stride + x] ~= pb[y * b.stride + x] then return false end
    end
  end
  return true
end

-- A new w x h x c image of random bytes drawn from rnd (see M.rng).
function M.random_image(w, h, c, rnd)
  local img = require("pixjit").new(w, h, c)
  local p = img:pixels()
  for i = 0, img.stride * h - 1 do p[i] = rnd(256) end
  return img
end

-- OpenCV's 8-bit INTER_LINEAR resize as a plain reference (REFERENCE.md):
-- float source positions, 11-bit weights, the integer horizontal pass and
-- the SIMD vertical rounding; an exact 2x shrink is a 2x2 average.  Returns
-- a 0-based table of dw * dh * c bytes.
function M.resize_linear(img, dw, dh)
  local ffi, bit = require "ffi", require "bit"
  local function f32(x) return tonumber(ffi.cast("float", x)) end
  local function rint(x)
    local r = math.floor(x + 0.5)
    if r - x == 0.5 and r % 2 == 1 then r = r - 1 end
    return r
  end
  local function s16(x) return math.max(-32768, math.min(32767, rint(x))) end
  local sw, sh, c = img.width, img.height, img.channels
  local px, stride = img:pixels(), img.stride
  local out = {}
  -- An exact half is OpenCV's area path: its vector code (1, 3, 4
  -- channels) rounds half up, its scalar code (2) half to even.
  if sw == 2 * dw and sh == 2 * dh then
    for y = 0, dh - 1 do
      for x = 0, dw - 1 do
        for k = 0, c - 1 do
          local o = (2 * y) * stride + 2 * x * c + k
          local sum = px[o] + px[o + c] + px[o + stride] + px[o + stride + c]
          out[(y * dw + x) * c + k] = c == 2 and rint(sum / 4) or bit.rshift(sum + 2, 2)
        end
      end
    end
    return out
  end
  local function tab(d, s, clamp)
    local scale = 1 / (d / s)
    local ofs, w0, w1 = {}, {}, {}
    for i = 0, d - 1 do
      local f = f32((i + 0.5) * scale - 0.5)
      local o = math.floor(f)
      f = f32(f - o)
      if clamp and o < 0 then f, o = 0, 0 end
      if clamp and o >= s - 1 then f, o = 0, s - 1 end
      ofs[i], w0[i], w1[i] = o, s16(f32(1 - f) * 2048), s16(f * 2048)
    end
    return ofs, w0, w1
  end
  local xofs, a0, a1 = tab(dw, sw, true)
  local yofs, b0, b1 = tab(dh, sh, false)
  local function hrow(y)
    local h = {}
    for d = 0, dw - 1 do
      local x0, x1 = xofs[d], math.min(xofs[d] + 1, sw - 1)
      for k = 0, c - 1 do
        h[d * c + k] = px[y * stride + x0 * c + k] * a0[d] + px[y * stride + x1 * c + k] * a1[d]
      end
    end
    return h
  end
  for y = 0, dh - 1 do
    local y0 = math.max(0, math.min(sh - 1, yofs[y]))
    local y1 = math.max(0, math.min(sh - 1, yofs[y] + 1))
    local h0, h1 = hrow(y0), hrow(y1)
    for i = 0, dw * c - 1 do
      local v = bit.rshift(bit.arshift(bit.arshift(h0[i], 4) * b0[y], 16) + bit.arshift(bit.arshift(h1[i], 4) * b1[y], 16) + 2, 2)
      out[y * dw * c + i] = math.max(0, math.min(255, v))
    end
  end
  return out
end

-- Deterministic pseudo-random integers (xorshift), independent of math.random.
function M.rng(seed)
  local bit = require "bit"
  local s = seed or 88172645
  return function(n)
    s = bit.bxor(s, bit.lshift(s, 13))
    s = bit.bxor(s, bit.rshift(s, 17))
    s = bit.bxor(s, bit.lshift(s, 5))
    return (s % n + n) % n
  end
end

return M
