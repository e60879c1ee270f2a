-- Resize, channel helpers, pj.pack and .npy.
local bit = require "bit"
local ffi = require "ffi"
local pj = require "pixjit"
local H = require "spec.helper"

local function row(img, y)
  local t = {}
  for x = 0, img.width - 1 do t[#t + 1] = (img:get(x, y)) end
  return t
end

local have_numpy = H.sh("/usr/bin/python3 -c 'import numpy, cv2; print(1)'"):match("^1") ~= nil

describe("img:resize", function()
  it("matches hand-computed bilinear and area values", function()
    local img = pj.new(2, 1, 1)
    img:set(1, 0, 100)
    -- Source positions -0.25, 0.25, 0.75, 1.25: clamped, 1/4, 3/4, clamped.
    assert.are.same({ 0, 25, 75, 100 }, row(img:resize(4, 1), 0))
    local wide = pj.new(4, 1, 1)
    for x, v in ipairs { 10, 20, 30, 50 } do wide:set(x - 1, 0, v) end
    assert.are.same({ 15, 40 }, row(wide:resize(2, 1, { interpolation = "area" }), 0))
    -- 4 -> 3: each output covers 4/3 source pixels: (10 + 20/3) * 3/4 = 12.5
    -- (half to even: 12), (20 * 2/3 + 30 * 2/3) * 3/4 = 25, (30/3 + 50) * 3/4 = 45.
    local a = wide:resize(3, 1, { interpolation = "area" })
    assert.are.same({ 12, 25, 45 }, row(a, 0))
    assert.are.same({ 10, 30 }, row(wide:resize(2, 1, { interpolation = "nearest" }), 0))
    local same = wide:resize(4, 1)
    assert.are.same({ 10, 20, 30, 50 }, row(same, 0))
  end)

  it("agrees with cv2.resize (linear and area) when OpenCV is installed", function()
    if not have_numpy then return pending("python3-opencv is not installed") end
    local rnd = H.rng(21)
    local src = pj.new(61, 47, 3)
    local p = src:pixels()
    for i = 0, 61 * 47 * 3 - 1 do p[i] = (i * 7 + rnd(60)) % 256 end
    src:save(H.tmp .. "/rs_src.png")
    local sizes = { { 30, 23 }, { 122, 94 }, { 17, 40 }, { 200, 11 }, { 61, 47 }, { 5, 3 } }
    local script = H.write("rs.py", [[
import sys, cv2, numpy as np
img = cv2.cvtColor(cv2.imread(sys.argv[1]), cv2.COLOR_BGR2RGB)
for spec in sys.argv[2:]:
    w, h, mode = spec.split(":")
    it = cv2.INTER_AREA if mode == "area" else cv2.INTER_LINEAR
    np.save("%s/rs_%s_%s_%s.npy" % (sys.argv[1].rsplit("/", 1)[0], mode, w, h), cv2.resize(img, (int(w), int(h)), interpolation=it))
]])
    local specs = {}
    for _, s in ipairs(sizes) do
      specs[#specs + 1] = s[1] .. ":" .. s[2] .. ":linear"
      if s[1] <= 61 and s[2] <= 47 then specs[#specs + 1] = s[1] .. ":" .. s[2] .. ":area" end
    end
    local out, rc = H.sh("/usr/bin/python3 " .. script .. " " .. H.tmp .. "/rs_src.png " .. table.concat(specs, " "))
    assert.are.equal(0, rc, out)
    for _, spec in ipairs(specs) do
      local w, h, mode = spec:match("(%d+):(%d+):(%a+)")
      w, h = tonumber(w), tonumber(h)
      local ref = pj.load(string.format("%s/rs_%s_%d_%d.npy", H.tmp, mode, w, h))
      local got = src:resize(w, h, { interpolation = mode })
      local a, b, worst = ref:pixels(), got:pixels(), 0
      for i = 0, w * h * 3 - 1 do worst = math.max(worst, math.abs(a[i] - b[i])) end
      assert.is_true(worst <= 1, spec .. " differs by " .. worst)
    end
  end)

  it("computes OpenCV's fixed-point bilinear exactly, any channels, tiny sizes, views", function()
    local rnd = H.rng(77)
    for _ = 1, 60 do
      local c = 1 + rnd(4)
      local sw, sh = 1 + rnd(rnd(2) == 0 and 6 or 70), 1 + rnd(rnd(2) == 0 and 6 or 50)
      local base = H.random_image(sw + 3, sh + 2, c, rnd)
      local src = base:view(2, 1, sw, sh)
      local dw, dh = 1 + rnd(rnd(2) == 0 and 8 or 150), 1 + rnd(rnd(2) == 0 and 8 or 60)
      if rnd(4) == 0 then dw, dh = math.max(1, math.floor(sw / 2)), math.max(1, math.floor(sh / 2)) end
      local want = H.resize_linear(src, dw, dh)
      local got = src:resize(dw, dh)
      local g = got:pixels()
      for y = 0, dh - 1 do
        for i = 0, dw * c - 1 do
          local w = want[y * dw * c + i]
          if g[y * got.stride + i] ~= w then
            error(string.format("%dx%dx%d -> %dx%d: byte %d of row %d is %d, expected %d",
                                sw, sh, c, dw, dh, i, y, g[y * got.stride + i], w))
          end
        end
      end
    end
  end)

  it("resizes gray and RGB word crops to height 32 and mild shrinks exactly, views", function()
    -- The shapes whose rows go 8 pixels a step through one shuffle table:
    -- 8 gray or 4 RGB output pixels' taps within 16 source bytes.
    local rnd = H.rng(123)
    for trial = 1, 60 do
      local c = trial % 2 == 0 and 1 or 3
      local sw, sh = 3 + rnd(120), 8 + rnd(33)
      local dw, dh
      if trial % 3 == 0 then
        local f = (c == 1 and 0.45 or 0.75) + rnd(26) / 100
        dw, dh = math.max(1, math.floor(sw * f)), math.max(1, math.floor(sh * f))
      else
        dw, dh = math.max(1, math.floor(sw * 32 / sh + 0.5)), 32
      end
      local base = H.random_image(sw + 5, sh + 2, c, rnd)
      local src = base:view(rnd(6), rnd(3), sw, sh)
      local want, got = H.resize_linear(src, dw, dh), src:resize(dw, dh)
      local g = got:pixels()
      for y = 0, dh - 1 do
        for i = 0, dw * c - 1 do
          if g[y * got.stride + i] ~= want[y * dw * c + i] then
            error(string.format("%dx%dx%d -> %dx%d: byte %d of row %d is %d, expected %d",
                                sw, sh, c, dw, dh, i, y, g[y * got.stride + i], want[y * dw * c + i]))
          end
        end
      end
    end
  end)

  it("picks the pixel at floor(x * sw / dw), any channels and factors, views", function()
    local rnd = H.rng(91)
    for trial = 1, 80 do
      local c = 1 + rnd(4)
      local sw, sh = 1 + rnd(trial % 5 == 0 and 9 or 240), 1 + rnd(trial % 5 == 0 and 5 or 40)
      local base = H.random_image(sw + 3, sh + 2, c, rnd)
      local src = base:view(2, 1, sw, sh)
      if trial % 3 == 0 then src = src:clone() end
      -- Factors from a fifth to three times, around the half and quarter.
      local f = ({ 0.2, 0.25, 0.26, 0.4, 0.5, 0.51, 0.7, 1, 1.3, 2.5, 3 })[rnd(11) + 1]
      local dw, dh = math.max(1, math.floor(sw * f + rnd(3))), math.max(1, math.floor(sh * f + rnd(3)))
      local got = src:resize(dw, dh, { interpolation = "nearest" })
      local s, g = src:pixels(), got:pixels()
      local fx, fy = 1 / (dw / sw), 1 / (dh / sh)
      for y = 0, dh - 1 do
        local sy = math.min(sh - 1, math.floor(y * fy))
        for x = 0, dw - 1 do
          local sx = math.min(sw - 1, math.floor(x * fx))
          for k = 0, c - 1 do
            local want, have = s[sy * src.stride + sx * c + k], g[y * got.stride + x * c + k]
            if have ~= want then
              error(string.format("%dx%dx%d -> %dx%d: pixel (%d, %d) channel %d is %d, expected %d",
                                  sw, sh, c, dw, dh, x, y, k, have, want))
            end
          end
        end
      end
    end
  end)

  it("checks its arguments", function()
    local img = pj.new(4, 4, 3)
    assert.has_error(function() img:resize(0, 4) end, "img:resize: w must be >= 1, got 0")
    assert.has_error(function() img:resize(4, 4, { interpolation = "cubic" }) end,
      "img:resize: opts.interpolation must be \"linear\", \"area\" or \"nearest\", got \"cubic\"")
    assert.has_error(function() img:resize(100000, 100000) end)
  end)
end)

describe("channel helpers", function()
  it("converts to gray, swaps red and blue, pads", function()
    local img = pj.new(2, 1, 3)
    img:set(0, 0, 255, 0, 0)
    img:set(1, 0, 0, 0, 255)
    assert.are.same({ 76, 29 }, row(img:to_gray(), 0))
    local sw = img:swap_rb()
    assert.are.same({ 0, 0, 255 }, { sw:get(0, 0) })
    local padded = img:pad(1, 2, 3, 0, { 9, 8, 7 })
    assert.are.same({ 5, 4 }, { padded.width, padded.height })
    assert.are.same({ 9, 8, 7 }, { padded:get(0, 0) })
    assert.are.same({ 255, 0, 0 }, { padded:get(3, 1) })
    assert.has_error(function() pj.new(2, 2, 1):swap_rb() end, "img:swap_rb: the image must have 3 or 4 channels, got 1")
  end)
end)

describe("pj.pack", function()
  it("resizes, converts, normalises and pads into N x C x H x W", function()
    local a = pj.new(8, 4, 3, { 255, 0, 51 })   -- 8x4 -> height 2: width 4
    local b = pj.new(2, 4, 3, { 0, 255, 102 })  -- 2x4 -> width 1
    local t, widths = pj.pack({ a, b }, { height = 2, mean = { 0.5, 0.5, 0.5 }, std = 0.5, pad_value = -9 })
    assert.are.same({ 2, 3, 2, 4 }, t.shape)
    assert.are.same({ 4, 1 }, widths)
    assert.are.equal(1, t:get(0, 0, 1, 3))                              -- (1 - .5) / .5
    assert.are.equal(-1, t:get(0, 1, 0, 0))                             -- (0 - .5) / .5
    assert.is_true(math.abs(t:get(0, 2, 0, 0) - (51 / 255 - 0.5) / 0.5) < 1e-6)
    assert.are.equal(1, t:get(1, 1, 1, 0))
    assert.are.equal(-9, t:get(1, 0, 0, 1))                             -- padding
    assert.are.equal(-9, t:get(1, 2, 1, 3))
  end)

  it("makes gray batches with BT.601, caps widths, and is thread-independent", function()
    local img = pj.new(100, 10, 3, { 255, 0, 0 })
    local t, widths = pj.pack({ img }, { height = 10, channels = 1, max_width = 40 })
    assert.are.same({ 1, 1, 10, 40 }, t.shape)
    assert.are.same({ 40 }, widths)
    assert.is_true(math.abs(t:get(0, 0, 5, 5) - 76 / 255) < 1e-6)
    local rnd, imgs = H.rng(4), {}
    for i = 1, 30 do
      imgs[i] = H.random_image(5 + rnd(90), 5 + rnd(30), 3, rnd)
    end
    pj.threads(1)
    local one = pj.pack(imgs, { height = 16, mean = 0.2, std = 0.3 })
    pj.threads(3)
    local three = pj.pack(imgs, { height = 16, mean = 0.2, std = 0.3 })
    pj.threads(0)
    local n = 1
    for _, d in ipairs(one.shape) do n = n * d end
    assert.are.equal(ffi.string(one.data, n * 4), ffi.string(three.data, n * 4))
  end)

  it("equals resize + convert + (v / 255 - mean) / std in float32, any source channels", function()
    local rnd = H.rng(91)
    local function f32(x) return tonumber(ffi.cast("float", x)) end
    for _, C in ipairs { 3, 1 } do
      local imgs, H_out = {}, 7 + rnd(20)
      for i = 1, 25 do
        local c = 1 + rnd(4)
        local base = H.random_image(3 + rnd(60), 2 + rnd(30), c, rnd)
        imgs[i] = rnd(2) == 0 and base or base:view(1, 1, base.width - 1, base.height - 1)
      end
      imgs[#imgs + 1] = pj.new(13, H_out, 3, { 9, 99, 199 })   -- already at the height
      local mean, std = { 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }
      local t, widths = pj.pack(imgs, { height = H_out, channels = C, mean = C == 3 and mean or 0.5,
                                        std = C == 3 and std or 0.25, pad_value = -3, max_width = 61 })
      local W = t.shape[4]
      for i, img in ipairs(imgs) do
        local r = img:resize(widths[i], H_out)
        for y = 0, H_out - 1 do
          for x = 0, W - 1 do
            for k = 0, C - 1 do
              local want = -3
              if x < widths[i] then
                local v = { r:get(x, y) }
                local byte
                if C == 1 then
                  byte = #v >= 3 and bit.rshift(v[1] * 9798 + v[2] * 19235 + v[3] * 3735 + 16384, 15) or v[1]
                else
                  byte = #v >= 3 and v[k + 1] or v[1]
                end
                local m, s = f32(C == 3 and mean[k + 1] or 0.5), f32(C == 3 and std[k + 1] or 0.25)
                want = f32(f32(f32(byte / 255) - m) / s)
              end
              local got = t:get(i - 1, k, y, x)
              if got ~= want then
                error(string.format("image %d (%dx%dx%d) C=%d at k=%d y=%d x=%d: %.9g, expected %.9g",
                                    i, img.width, img.height, img.channels, C, k, y, x, got, want))
              end
            end
          end
        end
      end
    end
  end)

  it("checks its arguments", function()
    local img = pj.new(4, 4, 3)
    assert.has_error(function() pj.pack(img) end, "pixjit.pack: images must be a table of images, got an image")
    assert.has_error(function() pj.pack({ img, 5 }) end, "pixjit.pack: images[2] must be an image, got 5")
    assert.has_error(function() pj.pack({ img }, { channels = 2 }) end, "pixjit.pack: channels must be 1 or 3, got 2")
    assert.has_error(function() pj.pack({ img }, { std = 0 }) end, "pixjit.pack: opts.std must not be 0")
    assert.has_error(function() pj.pack({ img }, { mean = { 1, 2 } }) end,
      "pixjit.pack: opts.mean must be a number or 3 numbers, got 2 numbers")
    assert.has_error(function() pj.pack({ img }, { height = 4, max_batch_mb = 1, width = 100000 }) end)
  end)
end)

describe(".npy", function()
  it("round-trips tensors and images", function()
    local t = pj.tensor({ 2, 3 })
    for i = 0, 5 do t.data[i] = i * 1.5 - 2 end
    local path = H.tmp .. "/t.npy"
    t:save(path)
    local back = pj.load(path)
    assert.is_true(pj.is_tensor(back))
    assert.are.same({ 2, 3 }, back.shape)
    assert.are.equal(5.5, back:get(1, 2))
    local f = assert(io.open(path, "rb"))
    local head = f:read(128)
    f:close()
    assert.are.equal("\147NUMPY\1\0", head:sub(1, 8))
    assert.matches("{'descr': '<f4', 'fortran_order': False, 'shape': %(2, 3%), }", head)
    local img = pj.new(5, 3, 3, { 1, 2, 3 })
    img:view(1, 1, 2, 2):fill(200)
    img:view(0, 0, 4, 3):save(H.tmp .. "/img.npy")
    local ib = pj.load(H.tmp .. "/img.npy")
    assert.are.same({ 4, 3, 3 }, { ib.width, ib.height, ib.channels })
    assert.are.same({ 200, 200, 200 }, { ib:get(2, 2) })
    assert.are.same({ 1, 2, 3 }, { ib:get(3, 0) })
    local g = pj.new(3, 2, 1, 7)
    g:save(H.tmp .. "/g.npy")
    assert.are.equal(1, pj.load(H.tmp .. "/g.npy").channels)
  end)

  it("is read by numpy with the right shape, dtype and values", function()
    if not have_numpy then return pending("python3-numpy is not installed") end
    local imgs = { pj.new(10, 5, 3, { 255, 128, 0 }), pj.new(4, 5, 3, { 0, 0, 0 }) }
    local t = pj.pack(imgs, { height = 5, mean = 0.5, std = 0.5 })
    t:save(H.tmp .. "/batch.npy")
    imgs[1]:save(H.tmp .. "/rgb.npy")
    local out, rc = H.sh("/usr/bin/python3 -c \"import numpy as np; a = np.load('" .. H.tmp ..
      "/batch.npy'); b = np.load('" .. H.tmp .. "/rgb.npy'); print(a.shape, a.dtype, round(float(a[0,0,0,0]),4), float(a[1,0,0,9]), b.shape, b.dtype, b[4,9].tolist())\"")
    assert.are.equal(0, rc, out)
    assert.are.equal("(2, 3, 5, 10) float32 1.0 0.0 (5, 10, 3) uint8 [255, 128, 0]\n", out)
  end)

  it("rejects malformed files with the file named", function()
    local function bad(name, bytes, pattern)
      local path = H.write(name, bytes)
      local ok, err = pcall(pj.load, path)
      assert.is_false(ok)
      assert.matches(pattern, err)
    end
    local function npy(dict, data)
      return "\147NUMPY\1\0" .. string.char(#dict + 1, 0) .. dict .. "\n" .. data
    end
    bad("short.npy", "\147NUMPY\1\0\200\0{'descr'", "^pixjit%.load: .*short%.npy: invalid %.npy: header length")
    bad("f8.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", string.rep("\0", 16)),
      "f8.npy: invalid %.npy: unsupported dtype <f8")
    bad("fortran.npy", npy("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }", "1234"),
      "Fortran order is not supported")
    bad("trunc.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (9, 9), }", "123"), "truncated data")
    bad("huge.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (99999, 99999), }", ""),
      "exceeds the pixel limit")
    bad("noshape.npy", npy("{'descr': '|u1'}", ""), "header lacks descr")
  end)
end)
