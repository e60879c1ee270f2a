-- Thresholds, filters, morphology and the byte-moving kernels: hand-worked
-- values, plain Lua references, OpenCV itself when it is installed, and
-- the same bytes from 1 and several threads.
local ffi = require "ffi"
local pj = require "pixjit"
local H = require "spec.helper"

local have_cv2 = H.sh("/usr/bin/python3 -c 'import numpy, cv2; print(1)'"):match("^1") ~= nil

-- Image from rows of byte values (1 channel) or of {r, g, b...} pixels.
local function from_rows(rows, c)
  c = c or 1
  local img = pj.new(#rows[1], #rows, c)
  local p = img:pixels()
  for y, r in ipairs(rows) do
    for x, v in ipairs(r) do
      if c == 1 then p[(y - 1) * img.stride + x - 1] = v
      else for k = 1, c do p[(y - 1) * img.stride + (x - 1) * c + k - 1] = v[k] end end
    end
  end
  return img
end

local function rows_of(img)
  local out, p = {}, img:pixels()
  for y = 0, img.height - 1 do
    local r = {}
    for x = 0, img.width * img.channels - 1 do r[#r + 1] = p[y * img.stride + x] end
    out[#out + 1] = r
  end
  return out
end

local function rint(v)
  local r = math.floor(v + 0.5)
  if r - v == 0.5 and r % 2 == 1 then r = r - 1 end
  return r
end

local function f32(v) return tonumber(ffi.cast("float", v)) end

local function border(p, n, replicate)
  if p >= 0 and p < n then return p end
  if replicate then return p < 0 and 0 or n - 1 end
  if n == 1 then return 0 end
  while p < 0 or p >= n do p = p < 0 and -p or 2 * (n - 1) - p end
  return p
end

-- ---- Plain references ------------------------------------------------------------

-- OpenCV's 8-bit box filter: exact sums, then its two roundings.
local function box_ref(img, kw, kh, replicate)
  local W, Hh, c, p = img.width, img.height, img.channels, img:pixels()
  local n, out = kw * kh, {}
  local ds, dd
  if n <= 256 and n > 1 then
    local f = 2 ^ 23 / n
    ds = math.floor(f)
    dd = math.floor(n / 2)
    if f - ds < 0.5 then dd = dd + 1 else ds = ds + 1 end
  end
  local row = W * c
  local fsplit = math.floor(row / 16) * 16 + (row % 16 >= 8 and 8 or 0)
  for y = 0, Hh - 1 do
    for x = 0, W - 1 do
      for k = 0, c - 1 do
        local s = 0
        for j = 0, kh - 1 do
          for i = 0, kw - 1 do
            local sy = border(y - math.floor(kh / 2) + j, Hh, replicate)
            local sx = border(x - math.floor(kw / 2) + i, W, replicate)
            s = s + p[sy * img.stride + sx * c + k]
          end
        end
        local idx = x * c + k
        local v
        if n == 1 then v = s
        elseif n <= 256 then v = math.min(255, math.floor((s + dd) * ds / 2 ^ 23))
        elseif idx < fsplit then v = rint(f32(f32(s) * f32(1 / n)))
        else v = rint(s * (1 / n)) end
        out[#out + 1] = math.min(255, v)
      end
    end
  end
  return out
end

local BINOMIAL = { [1] = { 256 }, [3] = { 64, 128, 64 }, [5] = { 16, 64, 96, 64, 16 },
                   [7] = { 8, 28, 56, 72, 56, 28, 8 }, [9] = { 4, 13, 30, 51, 60, 51, 30, 13, 4 } }

-- cv2.GaussianBlur for 8-bit images with sigma 0 and k <= 9: the weights
-- in 8 fraction bits, the whole sum rounded once at bit 16.
local function gauss_ref(img, k)
  local W, Hh, c, p, q = img.width, img.height, img.channels, img:pixels(), BINOMIAL[k]
  local r, out = math.floor(k / 2), {}
  for y = 0, Hh - 1 do
    for x = 0, W - 1 do
      for ch = 0, c - 1 do
        local s = 0
        for j = 0, k - 1 do
          for i = 0, k - 1 do
            local sy, sx = border(y - r + j, Hh), border(x - r + i, W)
            s = s + q[j + 1] * q[i + 1] * p[sy * img.stride + sx * c + ch]
          end
        end
        out[#out + 1] = math.floor((s + 32768) / 65536)
      end
    end
  end
  return out
end

local function morph_ref(img, kw, kh, max)
  local W, Hh, c, p, out = img.width, img.height, img.channels, img:pixels(), {}
  for y = 0, Hh - 1 do
    for x = 0, W - 1 do
      for ch = 0, c - 1 do
        local v = max and 0 or 255
        for j = 0, kh - 1 do
          for i = 0, kw - 1 do
            local sy, sx = y - math.floor(kh / 2) + j, x - math.floor(kw / 2) + i
            if sy >= 0 and sy < Hh and sx >= 0 and sx < W then
              local b = p[sy * img.stride + sx * c + ch]
              v = max and math.max(v, b) or math.min(v, b)
            end
          end
        end
        out[#out + 1] = v
      end
    end
  end
  return out
end

local function flat(img)
  local out, p = {}, img:pixels()
  for y = 0, img.height - 1 do
    for i = 0, img.width * img.channels - 1 do out[#out + 1] = p[y * img.stride + i] end
  end
  return out
end

local function same_bytes(want, img, what)
  local got = flat(img)
  assert.are.equal(#want, #got, what .. ": size")
  for i = 1, #want do
    if want[i] ~= got[i] then
      error(string.format("%s: byte %d is %d, expected %d", what, i - 1, got[i], want[i]), 2)
    end
  end
end

-- Random w x h x c view (stride wider than the row) of random bytes, or of
-- a few levels (flat areas hit the rounding ties).
local function random_view(rnd, w, h, c)
  local base = pj.new(w + 3, h + 2, c)
  local p = base:pixels()
  local coarse = rnd(2) == 0
  for i = 0, base.stride * base.height - 1 do p[i] = coarse and rnd(4) * 85 or rnd(256) end
  return base:view(2, 1, w, h)
end

-- ---- Hand-worked values -----------------------------------------------------------

describe("img:threshold", function()
  it("computes each type against the floored level, and returns the level", function()
    local img = from_rows { { 0, 100, 127, 128, 200, 255 } }
    local out, t = img:threshold(127.9)
    assert.are.equal(127, t)
    assert.are.same({ { 0, 0, 0, 255, 255, 255 } }, rows_of(out))
    assert.are.same({ { 9, 9, 9, 0, 0, 0 } }, rows_of((img:threshold(127, { type = "binary_inv", maxval = 9 }))))
    assert.are.same({ { 0, 100, 127, 127, 127, 127 } }, rows_of((img:threshold(127, { type = "trunc" }))))
    assert.are.same({ { 0, 0, 0, 128, 200, 255 } }, rows_of((img:threshold(127, { type = "tozero" }))))
    assert.are.same({ { 0, 100, 127, 0, 0, 0 } }, rows_of((img:threshold(127, { type = "tozero_inv" }))))
    -- maxval rounds half to even: 127.5 -> 128; levels outside 0..254
    -- leave every byte on one side.
    assert.are.same({ { 0, 128, 128, 128, 128, 128 } }, rows_of((img:threshold(0, { maxval = 127.5 }))))
    assert.are.same({ { 255, 255, 255, 255, 255, 255 } }, rows_of((img:threshold(-1))))
    assert.are.same({ { 0, 0, 0, 0, 0, 0 } }, rows_of((img:threshold(255))))
    assert.are.same({ { 0, 100, 127, 128, 200, 255 } }, rows_of((img:threshold(300, { type = "trunc" }))))
    -- every channel, as cv2 does
    local rgb = from_rows({ { { 10, 200, 130 } } }, 3)
    assert.are.same({ { 0, 255, 255 } }, rows_of((rgb:threshold(128))))
  end)

  it("chooses Otsu's level on a gray image", function()
    -- Two classes, 10 and 200: every level between them separates them
    -- equally well, and Otsu's scan keeps the first, 10.
    local img = from_rows { { 10, 10, 10, 200, 200, 200, 200, 10 } }
    local out, t = img:threshold(nil, { otsu = true })
    assert.are.equal(10, t)
    assert.are.same({ { 0, 0, 0, 255, 255, 255, 255, 0 } }, rows_of(out))
    -- a constant image has no split: level 0
    local _, t0 = pj.new(4, 4, 1, 77):threshold(0, { otsu = true })
    assert.are.equal(0, t0)
  end)

  -- Otsu's level of img by OpenCV's scan over all 256 levels, from a
  -- plain histogram.
  local function otsu_reference(img)
    local hist, p = {}, img:pixels()
    for v = 0, 255 do hist[v] = 0 end
    for y = 0, img.height - 1 do
      for x = 0, img.width - 1 do
        local v = p[y * img.stride + x]
        hist[v] = hist[v] + 1
      end
    end
    local scale = 1 / (img.width * img.height)
    local mu, mu1, q1, best, level = 0, 0, 0, 0, 0
    for v = 0, 255 do mu = mu + v * hist[v] end
    mu = mu * scale
    local eps = 1.1920928955078125e-07
    for v = 0, 255 do
      local pv = hist[v] * scale
      mu1 = mu1 * q1
      q1 = q1 + pv
      local q2 = 1 - q1
      if not (math.min(q1, q2) < eps or math.max(q1, q2) > 1 - eps) then
        mu1 = (mu1 + v * pv) / q1
        local mu2 = (mu - q1 * mu1) / q2
        local sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2)
        if sigma > best then best, level = sigma, v end
      end
    end
    return level
  end

  -- The bytes of img thresholded at level, against out; the count of
  -- bytes that differ.
  local function binary_misses(img, out, level)
    local o, p, bad = out:pixels(), img:pixels(), 0
    for y = 0, img.height - 1 do
      for x = 0, img.width - 1 do
        if o[y * out.stride + x] ~= (p[y * img.stride + x] > level and 255 or 0) then bad = bad + 1 end
      end
    end
    return bad
  end

  it("counts long runs of one grey as single pixels, for Otsu's level", function()
    -- Rows of runs 1 to 60 long, as paper and ink make them; the level
    -- from a plain histogram with OpenCV's scan, and the bytes from it.
    local rnd = H.rng(29)
    for trial = 1, 12 do
      local w, h = 1 + rnd(trial % 2 == 0 and 200 or 40), 1 + rnd(30)
      local base = pj.new(w + 3, h + 1, 1)
      local bp = base:pixels()
      local i, n = 0, base.stride * base.height
      while i < n do
        local len, v = 1 + rnd(60), rnd(4) == 0 and rnd(256) or ({ 16, 200, 240 })[rnd(3) + 1]
        for k = i, math.min(n, i + len) - 1 do bp[k] = v end
        i = i + len
      end
      local img = trial % 3 == 0 and base:view(2, 1, w, h) or base
      local level = otsu_reference(img)
      local out, t = img:threshold(nil, { otsu = true })
      assert.are.equal(level, t, string.format("trial %d, %dx%d", trial, img.width, img.height))
      assert.are.equal(0, binary_misses(img, out, level))
    end
  end)

  it("finds Otsu's level when the greys fill only part of the range", function()
    -- Bands at either end, in the middle, two greys, and one grey with a
    -- single outlier: the scan over the greys present must pick what the
    -- scan over all 256 levels picks.
    local rnd = H.rng(31)
    local bands = { { 0, 0 }, { 0, 3 }, { 0, 40 }, { 250, 255 }, { 255, 255 }, { 90, 140 }, { 17, 18 }, { 1, 254 } }
    for trial = 1, 40 do
      local band = bands[trial % #bands + 1]
      local lo, hi = band[1], band[2]
      local w, h = 1 + rnd(120), 1 + rnd(40)
      local img = pj.new(w, h, 1)
      local p = img:pixels()
      for k = 0, w * h - 1 do p[k] = lo + rnd(hi - lo + 1) end
      if trial % 5 == 0 then p[rnd(w * h)] = (lo + 128) % 256 end
      local level = otsu_reference(img)
      local out, t = img:threshold(nil, { otsu = true })
      assert.are.equal(level, t, string.format("trial %d, greys %d to %d, %dx%d", trial, lo, hi, w, h))
      assert.are.equal(0, binary_misses(img, out, level))
    end
  end)

  it("names bad arguments", function()
    local img = pj.new(4, 4, 3)
    assert.has_error(function() img:threshold("x") end, "img:threshold: t must be a number, got \"x\"")
    assert.has_error(function() img:threshold(1, { otsu = true }) end,
      "img:threshold: opts.otsu needs a 1-channel image, got 3 channels")
    assert.has_error(function() img:threshold(1, { type = "binary2" }) end,
      "img:threshold: opts.type must be \"binary\", \"binary_inv\", \"trunc\", \"tozero\" or \"tozero_inv\", got \"binary2\"")
    assert.has_error(function() img:threshold(0 / 0) end, "img:threshold: thresh must be a number, got nan")
    assert.has_error(function() img:threshold(1, { maxval = 1 / 0 }) end, "img:threshold: maxval must be a finite number")
    assert.has_error(function() img:threshold(1, { otsu = 1 }) end, "img:threshold: opts.otsu must be a boolean, got 1")
  end)
end)

describe("img:adaptive_threshold", function()
  it("compares each pixel with its block's mean less c", function()
    local flat_img = pj.new(5, 4, 1, 100)
    -- src - mean = 0: passes when 0 > -c
    assert.are.same(255, flat((flat_img:adaptive_threshold { block = 3, c = 2 }))[1])
    assert.are.same(0, flat((flat_img:adaptive_threshold { block = 3, c = 0 }))[1])
    assert.are.same(0, flat((flat_img:adaptive_threshold { block = 3, c = 2, type = "binary_inv" }))[1])
    -- A bright dot on dark: the 3x3 mean at the dot is (9 + 8 * 0) / 9 = 1,
    -- so it passes; its neighbours see the dot in their mean and fail.
    local dot = pj.new(5, 5, 1)
    dot:set(2, 2, 9)
    local out = dot:adaptive_threshold { block = 3, c = 0, maxval = 7 }
    assert.are.equal(7, (out:get(2, 2)))
    assert.are.equal(0, (out:get(1, 2)))
    assert.are.equal(0, (out:get(0, 0)))
    local g = dot:adaptive_threshold { block = 3, method = "gaussian", c = 0 }
    assert.are.equal(255, (g:get(2, 2)))
    assert.are.equal(0, (g:get(2, 1)))
  end)

  it("names bad arguments", function()
    local img = pj.new(9, 9, 1)
    assert.has_error(function() img:adaptive_threshold { block = 4 } end,
      "img:adaptive_threshold: opts.block must be odd and >= 3, got 4")
    assert.has_error(function() img:adaptive_threshold { block = -3 } end,
      "img:adaptive_threshold: opts.block must be odd and >= 3, got -3")
    assert.has_error(function() img:adaptive_threshold {} end,
      "img:adaptive_threshold: opts.block is required (an odd integer >= 3)")
    assert.has_error(function() img:adaptive_threshold { block = 3, method = "median" } end,
      "img:adaptive_threshold: opts.method must be \"mean\" or \"gaussian\", got \"median\"")
    assert.has_error(function() img:adaptive_threshold { block = 3, type = "trunc" } end,
      "img:adaptive_threshold: opts.type must be \"binary\" or \"binary_inv\", got \"trunc\"")
    assert.has_error(function() pj.new(4, 4, 3):adaptive_threshold { block = 3 } end,
      "img:adaptive_threshold: needs a 1-channel image (img:to_gray()), got 3 channels")
    assert.has_error(function() img:adaptive_threshold { block = 3, blok = 5 } end)
  end)
end)

describe("img:blur, img:gaussian_blur", function()
  it("match hand-worked sums", function()
    -- 3x1 box on 0 30 60 90 with reflected ends (30|0 30 60 90|60):
    -- (30 + 0 + 30) / 3 = 20, 30, 60, (60 + 90 + 60) / 3 = 70.
    assert.are.same({ { 20, 30, 60, 70 } }, rows_of(from_rows({ { 0, 30, 60, 90 } }):blur(3, 1)))
    -- 2x1: the anchor is the right pixel of the pair (kw / 2), the left
    -- edge reflects to 30, and OpenCV's fixed-point halving is
    -- (s + 2) * 2^22 >> 23: (30 + 0) -> 16, (0 + 30) -> 16, 90 -> 46, 150 -> 76.
    assert.are.same({ { 16, 16, 46, 76 } }, rows_of(from_rows({ { 0, 30, 60, 90 } }):blur(2, 1)))
    -- an impulse under the 3x3 binomial: 255 * (1 2 1)x(1 2 1) / 16
    local dot = pj.new(5, 5, 1)
    dot:set(2, 2, 255)
    local g = dot:gaussian_blur(3)
    assert.are.same({ 16, 32, 64 }, { (g:get(1, 1)), (g:get(2, 1)), (g:get(2, 2)) })
    assert.are.equal(0, (g:get(0, 0)))
  end)

  it("agree with the plain references on random views", function()
    local rnd = H.rng(5)
    for trial = 1, 40 do
      local c = 1 + rnd(4)
      local src = random_view(rnd, 1 + rnd(trial % 3 == 0 and 3 or 23), 1 + rnd(trial % 4 == 0 and 2 or 17), c)
      local kw, kh = 1 + rnd(7), 1 + rnd(7)
      if trial % 5 == 0 then kw, kh = 15 + rnd(9), 15 + rnd(9) end -- sums over 256
      same_bytes(box_ref(src, kw, kh), src:blur(kw, kh),
                 string.format("blur %dx%d of %dx%dx%d", kw, kh, src.width, src.height, c))
      local k = 2 * rnd(5) + 1
      same_bytes(gauss_ref(src, k), src:gaussian_blur(k),
                 string.format("gaussian %d of %dx%dx%d", k, src.width, src.height, c))
    end
  end)

  it("name bad arguments", function()
    local img = pj.new(4, 4, 1)
    assert.has_error(function() img:blur(0) end, "img:blur: kw must be 1 to 4095, got 0")
    assert.has_error(function() img:blur(3, 4096) end, "img:blur: kh must be 1 to 4095, got 4096")
    assert.has_error(function() img:blur(2.5) end, "img:blur: kw must be an integer, got 2.5")
    assert.has_error(function() img:gaussian_blur(4) end, "img:gaussian_blur: k must be odd and 1 to 4095, got 4")
    assert.has_error(function() img:gaussian_blur(-3) end, "img:gaussian_blur: k must be odd and 1 to 4095, got -3")
    assert.has_error(function() img:gaussian_blur(0) end,
      "img:gaussian_blur: k must be odd and >= 1 (0 needs a sigma > 0), got 0")
    assert.has_error(function() img:gaussian_blur(3, 0 / 0) end, "img:gaussian_blur: sigma must be a number >= 0, got nan")
    assert.has_error(function() img:gaussian_blur(3, -1) end,
      "img:gaussian_blur: sigma must be a number >= 0 and <= 1e6, got -1")
    assert.has_error(function() img:gaussian_blur(3, "1") end, "img:gaussian_blur: sigma must be a number, got \"1\"")
    local v = img:view(0, 0, 2, 2)
    v:free()
    assert.has_error(function() v:blur(3) end, "img:blur: self has been freed")
  end)
end)

describe("img:dilate, img:erode", function()
  it("spread and shrink a rectangle, ignoring the outside", function()
    local img = pj.new(6, 5, 1)
    img:set(2, 2, 200)
    local d = img:dilate(3, 1)
    assert.are.same({ 0, 200, 200, 200, 0, 0 }, rows_of(d)[3])
    assert.are.same({ 0, 0, 0, 0, 0, 0 }, rows_of(d)[2])
    local square = img:dilate(3)
    assert.are.same({ 0, 200, 200, 200, 0, 0 }, rows_of(square)[2])
    -- erode takes the square back to the dot; the image edge counts as
    -- neither, so a white image stays white
    same_bytes(flat(img), square:erode(3), "erode of dilate")
    same_bytes(flat(pj.new(4, 3, 1, 255)), pj.new(4, 3, 1, 255):erode(5), "white erode")
  end)

  it("agree with the plain reference on random views", function()
    local rnd = H.rng(9)
    for trial = 1, 30 do
      local c = 1 + rnd(4)
      local src = random_view(rnd, 1 + rnd(40), 1 + rnd(12), c)
      local kw, kh = 1 + rnd(trial % 3 == 0 and 30 or 6), 1 + rnd(6)
      same_bytes(morph_ref(src, kw, kh, true), src:dilate(kw, kh), "dilate " .. kw .. "x" .. kh)
      same_bytes(morph_ref(src, kw, kh, false), src:erode(kw, kh), "erode " .. kw .. "x" .. kh)
    end
  end)

  it("name bad arguments", function()
    assert.has_error(function() pj.new(2, 2, 1):dilate(-1) end, "img:dilate: kw must be 1 to 4095, got -1")
    assert.has_error(function() pj.new(2, 2, 1):erode(3, {}) end, "img:erode: kh must be an integer, got table")
  end)
end)

describe("img:convert", function()
  -- What each pair gives a pixel: gray is OpenCV's fixed-point weighting,
  -- alpha is kept or 255, gray fans out to the three colours.
  local function want(px, ci, co)
    local gray = ci <= 2 and px[1] or math.floor((px[1] * 9798 + px[2] * 19235 + px[3] * 3735 + 16384) / 32768)
    local alpha = (ci == 2 and px[2]) or (ci == 4 and px[4]) or 255
    if co == 1 then return { gray } elseif co == 2 then return { gray, alpha } end
    local rgb = ci <= 2 and { px[1], px[1], px[1] } or { px[1], px[2], px[3] }
    if co == 4 then rgb[4] = alpha end
    return rgb
  end

  it("gives every channel pair's bytes, on packed images and on views", function()
    local rnd = H.rng(23)
    for trial = 1, 40 do
      local ci = 1 + rnd(4)
      local src = random_view(rnd, 1 + rnd(140), 1 + rnd(6), ci)
      if trial % 2 == 0 then src = src:clone() end -- packed: converted as one run
      for co = 1, 4 do
        local out = src:convert(co)
        for y = 0, src.height - 1 do
          for x = 0, src.width - 1 do
            local e, got = want({ src:get(x, y) }, ci, co), { out:get(x, y) }
            if not (#e == #got and table.concat(e, ",") == table.concat(got, ",")) then
              error(string.format("%d -> %d channels at (%d, %d) of %dx%d: %s, want %s", ci, co, x, y,
                                  src.width, src.height, table.concat(got, ","), table.concat(e, ",")))
            end
          end
        end
      end
    end
  end)
end)

describe("img:rot90, img:flip, img:invert", function()
  it("turn, mirror and invert", function()
    local img = from_rows { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.are.same({ { 3, 6 }, { 2, 5 }, { 1, 4 } }, rows_of(img:rot90()))
    assert.are.same({ { 4, 1 }, { 5, 2 }, { 6, 3 } }, rows_of(img:rot90(-1)))
    assert.are.same({ { 6, 5, 4 }, { 3, 2, 1 } }, rows_of(img:rot90(2)))
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, rows_of(img:rot90(4)))
    assert.are.same(rows_of(img:rot90(3)), rows_of(img:rot90(-1)))
    assert.are.same({ { 3, 2, 1 }, { 6, 5, 4 } }, rows_of(img:flip("horizontal")))
    assert.are.same({ { 4, 5, 6 }, { 1, 2, 3 } }, rows_of(img:flip("vertical")))
    assert.are.same({ { 6, 5, 4 }, { 3, 2, 1 } }, rows_of(img:flip("both")))
    assert.are.same({ { 254, 253, 252 }, { 251, 250, 249 } }, rows_of(img:invert()))
    local rgba = from_rows({ { { 0, 10, 255, 77 }, { 1, 2, 3, 4 } } }, 4)
    assert.are.same({ { 255, 245, 0, 77, 254, 253, 252, 4 } }, rows_of(rgba:invert()))
    local ga = from_rows({ { { 5, 6 } } }, 2)
    assert.are.same({ { 250, 6 } }, rows_of(ga:invert()))
    local rgb = from_rows({ { { 1, 2, 3 }, { 4, 5, 6 } }, { { 7, 8, 9 }, { 10, 11, 12 } } }, 3)
    assert.are.same({ { 4, 5, 6, 10, 11, 12 }, { 1, 2, 3, 7, 8, 9 } }, rows_of(rgb:rot90()))
  end)

  it("name bad arguments", function()
    local img = pj.new(2, 2, 1)
    assert.has_error(function() img:rot90(1.5) end, "img:rot90: k must be an integer, got 1.5")
    assert.has_error(function() img:flip("sideways") end,
      "img:flip: how must be \"horizontal\", \"vertical\" or \"both\", got \"sideways\"")
    assert.has_error(function() img:flip() end,
      "img:flip: how must be \"horizontal\", \"vertical\" or \"both\", got nil")
    assert.has_error(function() pj.invert() end)
  end)
end)

-- ---- Threads ----------------------------------------------------------------------

describe("the kernels on several threads", function()
  it("give the bytes of one thread", function()
    local rnd = H.rng(3)
    local gray = random_view(rnd, 731, 533, 1)
    local rgb = random_view(rnd, 611, 407, 3)
    local runs = {
      function() return (gray:threshold(100)) end,
      function() return (gray:threshold(0, { otsu = true })) end,
      function() return gray:adaptive_threshold { block = 15, c = 3 } end,
      function() return gray:adaptive_threshold { block = 31, method = "gaussian" } end,
      function() return rgb:blur(5) end, function() return rgb:blur(21, 17) end,
      function() return rgb:gaussian_blur(7) end, function() return rgb:gaussian_blur(0, 2.5) end,
      function() return rgb:dilate(5, 3) end, function() return gray:erode(19) end,
      function() return rgb:rot90() end, function() return rgb:flip("both") end,
      function() return rgb:invert() end, function() return rgb:swap_rb() end,
      function() return rgb:to_gray() end, function() return rgb:resize(200, 150, { interpolation = "area" }) end,
      function() return rgb:resize(1500, 900) end, function() return rgb:pad(3, 4, 5, 6, 7) end,
    }
    for i, run in ipairs(runs) do
      pj.threads(1)
      local one = run()
      for _, n in ipairs { 2, 3 } do
        pj.threads(n)
        assert.is_true(H.same_pixels(one, run()), "kernel " .. i .. " on " .. n .. " threads")
      end
    end
    pj.threads(0)
  end)
end)

-- ---- OpenCV ------------------------------------------------------------------------

describe("against OpenCV", function()
  -- Each case: a source view, the pixjit result, and the cv2 expression
  -- (of `s`) that should give the same bytes; one python3 runs them all.
  it("gives OpenCV's bytes on random images and sizes", function()
    if not have_cv2 then return pending("python3-opencv is not installed") end
    local rnd = H.rng(17)
    local cases = {}
    local function add(src, got, expr) cases[#cases + 1] = { src = src, got = got, expr = expr } end
    local dims = { { 1, 37 }, { 41, 1 }, { 1, 1 }, { 3, 2 }, { 17, 9 }, { 63, 31 }, { 100, 32 }, { 257, 45 } }
    for trial = 1, 48 do
      local d = dims[trial % #dims + 1]
      local c = 1 + rnd(4)
      local src = random_view(rnd, d[1], d[2], c)
      if trial % 3 == 0 then src = src:clone() end -- packed images take whole-image paths
      local kw, kh = 1 + rnd(9), 1 + rnd(9)
      if trial % 4 == 0 then kw, kh = 12 + rnd(30), 12 + rnd(30) end
      if kw * kh == 2 then kw = 3 end -- cv2's int overflow for two 255s in its scalar tail
      add(src, src:blur(kw, kh), string.format("cv2.blur(s, (%d, %d))", kw, kh))
      local k, sigma = 2 * rnd(6) + 1, ({ 0, 0, 0.7, 1.3, 2.9 })[rnd(5) + 1]
      add(src, src:gaussian_blur(k, sigma), string.format("cv2.GaussianBlur(s, (%d, %d), %.17g)", k, k, sigma))
      add(src, src:dilate(kw, kh), string.format("cv2.dilate(s, np.ones((%d, %d), np.uint8))", kh, kw))
      add(src, src:erode(kw, kh), string.format("cv2.erode(s, np.ones((%d, %d), np.uint8))", kh, kw))
      local t = ({ -1, 0, 99.5, 127, 254.5, 255 })[rnd(6) + 1]
      local ty = rnd(5)
      add(src, (src:threshold(t, { type = ({ "binary", "binary_inv", "trunc", "tozero", "tozero_inv" })[ty + 1], maxval = 200.5 })),
          string.format("cv2.threshold(s, %.17g, 200.5, %d)[1]", t, ty))
      local turns = rnd(7) - 3
      add(src, src:rot90(turns), string.format("np.ascontiguousarray(np.rot90(s, %d))", turns))
      local how = ({ "horizontal", "vertical", "both" })[rnd(3) + 1]
      add(src, src:flip(how), string.format("cv2.flip(s, %d)", ({ horizontal = 1, vertical = 0, both = -1 })[how]))
      if c >= 3 then
        add(src, src:swap_rb(), "cv2.cvtColor(s, cv2.COLOR_RGB2BGR if s.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)")
        add(src, src:to_gray(), "cv2.cvtColor(s, cv2.COLOR_RGB2GRAY if s.shape[2] == 3 else cv2.COLOR_RGBA2GRAY)")
      end
      if c == 1 then
        add(src, src:convert(3), "cv2.cvtColor(s, cv2.COLOR_GRAY2RGB)")
        add(src, src:convert(4), "cv2.cvtColor(s, cv2.COLOR_GRAY2RGBA)")
      elseif c == 3 then
        add(src, src:convert(4), "cv2.cvtColor(s, cv2.COLOR_RGB2RGBA)")
      elseif c == 4 then
        add(src, src:convert(3), "cv2.cvtColor(s, cv2.COLOR_RGBA2RGB)")
      end
      if c ~= 2 then
        add(src, src:pad(1, 2, 3, 4, 9), "cv2.copyMakeBorder(s, 1, 2, 3, 4, cv2.BORDER_CONSTANT, value=[9, 9, 9, 9])")
        add(src, src:invert(), "cv2.bitwise_not(s) if s.ndim == 2 or s.shape[2] == 3 else np.dstack([255 - s[:, :, :3], s[:, :, 3:]])")
      end
      local dw, dh = 1 + rnd(2 * d[1] + 3), 1 + rnd(2 * d[2] + 3)
      for _, mode in ipairs { "linear", "area", "nearest" } do
        add(src, src:resize(dw, dh, { interpolation = mode }),
            string.format("cv2.resize(s, (%d, %d), interpolation=cv2.INTER_%s)", dw, dh, mode:upper()))
      end
      if c == 1 then
        local img, level = src:threshold(nil, { otsu = true })
        add(src, img, "cv2.threshold(s, 0, 255, cv2.THRESH_OTSU)[1]")
        add(src, pj.new(1, 1, 1, level), "np.full((1, 1), cv2.threshold(s, 0, 255, cv2.THRESH_OTSU)[0], np.uint8)")
        local block = 2 * rnd(8) + 3
        for m, method in ipairs { "mean", "gaussian" } do
          add(src, src:adaptive_threshold { block = block, method = method, c = 2.5, type = "binary_inv", maxval = 180 },
              string.format("cv2.adaptiveThreshold(s, 180, %d, cv2.THRESH_BINARY_INV, %d, 2.5)", m - 1, block))
        end
      end
    end
    local script = { "import sys, numpy as np, cv2", "d = sys.argv[1]" }
    for i, case in ipairs(cases) do
      case.src:clone():save(string.format("%s/cv_%d.npy", H.tmp, i))
      script[#script + 1] = string.format("s = np.load(d + '/cv_%d.npy'); np.save(d + '/cv_%d_out.npy', np.ascontiguousarray(%s))", i, i, case.expr)
    end
    local out, rc = H.sh("/usr/bin/python3 " .. H.write("cv_cases.py", table.concat(script, "\n") .. "\n") .. " " .. H.tmp)
    assert.are.equal(0, rc, out)
    for i, case in ipairs(cases) do
      local want = pj.load(string.format("%s/cv_%d_out.npy", H.tmp, i))
      assert.is_true(H.same_pixels(want, case.got),
                     string.format("%s on %dx%dx%d", case.expr, case.src.width, case.src.height, case.src.channels))
    end
  end)

  it("binarises a real page as cv2.adaptiveThreshold does", function()
    if not have_cv2 then return pending("python3-opencv is not installed") end
    local path = H.data_path("page.png")
    if not path then return pending("../shared/data is absent") end
    local gray = pj.load(path):to_gray()
    gray:save(H.tmp .. "/at_page.npy")
    local script = H.write("at_page.py", [[
import sys, numpy as np, cv2
g = np.load(sys.argv[1] + '/at_page.npy')
for m in (0, 1):
    for b in (11, 51):
        np.save('%s/at_%d_%d.npy' % (sys.argv[1], m, b), cv2.adaptiveThreshold(g, 255, m, cv2.THRESH_BINARY, b, 7))
]])
    local out, rc = H.sh("/usr/bin/python3 " .. script .. " " .. H.tmp)
    assert.are.equal(0, rc, out)
    for m, method in ipairs { "mean", "gaussian" } do
      for _, b in ipairs { 11, 51 } do
        local want = pj.load(string.format("%s/at_%d_%d.npy", H.tmp, m - 1, b))
        local got = gray:adaptive_threshold { block = b, method = method, c = 7 }
        local wp, gp, diff = want:pixels(), got:pixels(), 0
        for i = 0, want.width * want.height - 1 do if wp[i] ~= gp[i] then diff = diff + 1 end end
        -- The mean is exact; the Gaussian's float sums follow OpenCV's
        -- order, which leaves a few ties a unit apart at most.
        local allowed = method == "mean" and 0 or want.width * want.height / 1000
        assert.is_true(diff <= allowed, string.format("%s %d: %d pixels differ", method, b, diff))
      end
    end
  end)
end)
