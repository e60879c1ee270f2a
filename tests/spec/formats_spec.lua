-- TIFF, WebP, EXIF orientation and header probes: files built byte by byte
-- here with known contents, round trips, crafted hostile files, and
-- Pillow's and OpenCV's decodes when they are installed.
local bit = require "bit"
local ffi = require "ffi"
local pj = require "pixjit"
local H = require "spec.helper"

local have_cv2 = H.sh("/usr/bin/python3 -c 'import numpy, cv2; print(1)'"):match("^1") ~= nil
local have_pil = H.sh("/usr/bin/python3 -c 'import numpy, PIL; print(1)'"):match("^1") ~= nil

local function u16le(v) return string.char(v % 256, math.floor(v / 256) % 256) end
local function u32le(v) return u16le(v % 65536) .. u16le(math.floor(v / 65536)) end
local function u16be(v) return string.char(math.floor(v / 256) % 256, v % 256) end
local function u32be(v) return u16be(math.floor(v / 65536)) .. u16be(v % 65536) end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- An EXIF block holding one Orientation entry.
local function exif(o, big_endian, prefix)
  local w16, w32 = big_endian and u16be or u16le, big_endian and u32be or u32le
  local tiff = (big_endian and "MM" or "II") .. w16(42) .. w32(8) .. w16(1) .. w16(0x0112) .. w16(3)
    .. w32(1) .. w16(o) .. w16(0) .. w32(0)
  return (prefix and "Exif\0\0" or "") .. tiff
end

-- A JPEG with that EXIF in an APP1 segment right after SOI.
local function jpeg_with(jpeg, block)
  return jpeg:sub(1, 2) .. "\255\225" .. u16be(#block + 2) .. block .. jpeg:sub(3)
end

local crc_table
local function crc32(s)
  if not crc_table then
    crc_table = {}
    for i = 0, 255 do
      local c = i
      for _ = 1, 8 do c = bit.band(c, 1) ~= 0 and bit.bxor(0xEDB88320, bit.rshift(c, 1)) or bit.rshift(c, 1) end
      crc_table[i] = c
    end
  end
  local c = 0xFFFFFFFF
  for i = 1, #s do c = bit.bxor(crc_table[bit.band(bit.bxor(c, s:byte(i)), 255)], bit.rshift(c, 8)) end
  return bit.bxor(c, 0xFFFFFFFF)
end

-- A PNG with an eXIf chunk after IHDR.
local function png_with(png, block)
  local chunk = "eXIf" .. block
  local crc = crc32(chunk)
  return png:sub(1, 33) .. u32be(#block) .. chunk .. u32be(crc < 0 and crc + 2^32 or crc) .. png:sub(34)
end

-- The pixel (x, y) of the upright image of orientation o, in the stored
-- image s (EXIF's definitions, written out independently of the code).
local function stored_xy(o, x, y, w, h)
  if o == 1 then return x, y
  elseif o == 2 then return w - 1 - x, y
  elseif o == 3 then return w - 1 - x, h - 1 - y
  elseif o == 4 then return x, h - 1 - y
  elseif o == 5 then return y, x
  elseif o == 6 then return y, h - 1 - x
  elseif o == 7 then return w - 1 - y, h - 1 - x
  else return w - 1 - y, x end
end

local function check_upright(img, stored, o, what)
  local w, h = stored.width, stored.height
  local uw, uh = o >= 5 and h or w, o >= 5 and w or h
  assert.are.same({ uw, uh }, { img.width, img.height }, what)
  for y = 0, uh - 1 do
    for x = 0, uw - 1 do
      local sx, sy = stored_xy(o, x, y, w, h)
      local a, b = { img:get(x, y) }, { stored:get(sx, sy) }
      if a[1] ~= b[1] or a[#a] ~= b[#b] then
        error(string.format("%s: (%d, %d) is %s, stored (%d, %d) is %s", what, x, y,
                            table.concat(a, ","), sx, sy, table.concat(b, ",")), 2)
      end
    end
  end
end

local function pattern(w, h, c)
  local img = pj.new(w, h, c)
  local p = img:pixels()
  for y = 0, h - 1 do
    for i = 0, w * c - 1 do p[y * img.stride + i] = (y * 31 + i * 7) % 256 end
  end
  return img
end

describe("EXIF orientation", function()
  local stored = pattern(9, 5, 3)
  local jpeg = stored:encode("jpg", { quality = 100 })
  local png = stored:encode("png")

  it("turns JPEG (both byte orders) and PNG upright, all 8 values", function()
    local plain = pj.decode(jpeg)
    for o = 1, 8 do
      for _, be in ipairs { false, true } do
        local bytes = jpeg_with(jpeg, exif(o, be, true))
        check_upright(pj.decode(bytes), plain, o, "JPEG orientation " .. o)
        assert.is_true(H.same_pixels(plain, pj.decode(bytes, { orient = false })))
        local info = pj.info(H.write("o.jpg", bytes))
        assert.are.same({ "jpeg", o, o >= 5 and 5 or 9, 3 }, { info.format, info.orientation, info.width, info.channels })
      end
      check_upright(pj.decode(png_with(png, exif(o, o % 2 == 0, false))), stored, o, "PNG orientation " .. o)
    end
  end)

  it("ignores broken EXIF: never an error, never a turn", function()
    local good = exif(6, false, true)
    local broken = {
      good:sub(1, 20),                                          -- truncated
      "Exif\0\0II" .. u16le(42) .. u32le(0xFFFFFFF0) .. good:sub(15), -- IFD outside the block
      exif(9, false, true), exif(0, true, true),                -- values outside 1-8
      good:sub(1, 18) .. u16le(5) .. good:sub(21),              -- a RATIONAL, not a SHORT
      "Exif\0\0II" .. u16le(42) .. u32le(8) .. u16le(65535) .. good:sub(17), -- too many entries
      "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>",             -- an XMP APP1
      "Exif\0\0XX" .. good:sub(9),                              -- no byte order
    }
    local plain = pj.decode(jpeg)
    for i, b in ipairs(broken) do
      local img = pj.decode(jpeg_with(jpeg, b))
      assert.is_true(H.same_pixels(plain, img), "broken EXIF " .. i)
      assert.are.equal(1, pj.info(H.write("b.jpg", jpeg_with(jpeg, b))).orientation)
    end
  end)

  it("matches cv2.imread for every orientation", function()
    if not have_cv2 then return pending("python3-opencv is not installed") end
    local rnd = H.rng(3)
    local src = H.random_image(23, 17, 3, rnd)
    local j = src:encode("jpg", { quality = 95 })
    for o = 1, 8 do
      H.write("cv_o" .. o .. ".jpg", jpeg_with(j, exif(o, o > 4, true)))
      pj.load(H.tmp .. "/cv_o" .. o .. ".jpg"):save(H.tmp .. "/cv_o" .. o .. ".npy")
    end
    local out, rc = H.sh("/usr/bin/python3 -c \"import cv2, numpy as np, sys\nd = '" .. H.tmp .. "'\n"
      .. "bad = [o for o in range(1, 9) if not np.array_equal(cv2.cvtColor(cv2.imread(d + '/cv_o%d.jpg' % o), "
      .. "cv2.COLOR_BGR2RGB), np.load(d + '/cv_o%d.npy' % o))]\nprint('bad', bad)\"")
    assert.are.equal(0, rc, out)
    assert.matches("bad %[%]", out)
  end)
end)

-- A little-endian TIFF with one uncompressed strip of `data`; extra holds
-- entries { tag, type, count, 4-byte value }.
local function tiff_file(w, h, spp, bps, photo, data, extra)
  local entries = {
    { 256, 4, 1, u32le(w) }, { 257, 4, 1, u32le(h) }, { 258, 3, 1, u16le(bps) .. u16le(0) },
    { 259, 3, 1, u16le(1) .. u16le(0) }, { 262, 3, 1, u16le(photo) .. u16le(0) },
    { 273, 4, 1, u32le(0) }, { 277, 3, 1, u16le(spp) .. u16le(0) }, { 278, 4, 1, u32le(h) },
    { 279, 4, 1, u32le(#data) },
  }
  for _, e in ipairs(extra or {}) do entries[#entries + 1] = e end
  table.sort(entries, function(a, b) return a[1] < b[1] end)
  local ifd_size = 2 + 12 * #entries + 4
  local data_at = 8 + ifd_size
  local parts = { u16le(#entries) }
  for _, e in ipairs(entries) do
    local v = e[1] == 273 and u32le(data_at) or e[4]
    parts[#parts + 1] = u16le(e[1]) .. u16le(e[2]) .. u32le(e[3]) .. v
  end
  parts[#parts + 1] = u32le(0)
  return "II" .. u16le(42) .. u32le(8) .. table.concat(parts) .. data
end

describe("TIFF", function()
  it("reads hand-made files: 8-bit, 1-bit (both polarities), 16-bit, palette, orientation", function()
    local gray = pj.decode(tiff_file(3, 2, 1, 8, 1, "\0\1\2\200\201\202"))
    assert.are.same({ 3, 2, 1 }, { gray.width, gray.height, gray.channels })
    assert.are.same({ 200 }, { gray:get(0, 1) })
    -- 1-bit, 10 pixels a row in 2 bytes: 1010000011 and 0000000001.
    local bits = "\160\192\0\64"
    local black_is_zero = pj.decode(tiff_file(10, 2, 1, 1, 1, bits))
    assert.are.same({ 255, 0, 255 }, { (black_is_zero:get(0, 0)), (black_is_zero:get(1, 0)), (black_is_zero:get(9, 0)) })
    local white_is_zero = pj.decode(tiff_file(10, 2, 1, 1, 0, bits))
    assert.are.same({ 0, 255, 0 }, { (white_is_zero:get(0, 0)), (white_is_zero:get(1, 0)), (white_is_zero:get(9, 1)) })
    -- 16-bit samples (host order = little endian here) to their high byte.
    local deep = pj.decode(tiff_file(2, 1, 1, 16, 1, u16le(0x12FF) .. u16le(0x8000)))
    assert.are.same({ 0x12, 0x80 }, { (deep:get(0, 0)), (deep:get(1, 0)) })
    -- Palette: a 4-bit index into a 16-entry colour map of 16-bit values.
    local cmap = {}
    for ch = 0, 2 do for i = 0, 15 do cmap[#cmap + 1] = u16le((i * 16 + ch) * 257) end end
    local entries = { { 320, 3, 48, u32le(0) } }
    local file = tiff_file(2, 1, 1, 4, 3, "\52", entries)
    -- The colour map goes after the data; point the entry at it.
    local needle = u16le(320) .. u16le(3) .. u32le(48) .. u32le(0)
    local at = file:find(needle, 1, true)
    file = file:sub(1, at + 7) .. u32le(#file) .. file:sub(at + 12) .. table.concat(cmap)
    local pal = pj.decode(file)
    assert.are.same({ 48, 49, 50 }, { pal:get(0, 0) })
    assert.are.same({ 64, 65, 66 }, { pal:get(1, 0) })
    -- Orientation 8 (tag 274): turned counter-clockwise.
    local turned = pj.decode(tiff_file(3, 1, 1, 8, 1, "\10\20\30", { { 274, 3, 1, u16le(8) .. u16le(0) } }))
    assert.are.same({ 1, 3 }, { turned.width, turned.height })
    assert.are.same({ 30, 20, 10 }, { (turned:get(0, 0)), (turned:get(0, 1)), (turned:get(0, 2)) })
    assert.are.same({ "tiff", 1, 3, 8 }, { pj.info(H.write("t8.tif", tiff_file(3, 1, 1, 8, 1, "\10\20\30",
      { { 274, 3, 1, u16le(8) .. u16le(0) } }))).format, 1, 3, 8 })
  end)

  it("round-trips every channel count, compressed and not", function()
    for c = 1, 4 do
      local img = pattern(37, 11, c)
      for _, level in ipairs { 0, 1, 9 } do
        local path = H.tmp .. "/rt" .. c .. "_" .. level .. ".tif"
        img:save(path, { compression = level })
        local back = pj.load(path)
        assert.is_true(H.same_pixels(img, back), path)
        local info = pj.info(path)
        assert.are.same({ "tiff", 37, 11, c, 1 }, { info.format, info.width, info.height, info.channels, info.pages })
      end
    end
  end)

  it("matches Pillow on compressions, bit depths, tiles and pages", function()
    if not have_pil then return pending("python3-pil is not installed") end
    local script = H.write("mk_tiff.py", [==[
import sys, numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(5)
a = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
a[5:20, 5:30] = 77
out = []
def save(name, im, **kw):
    im.save(d + '/' + name, **kw); out.append(name)
for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"):
    save("rgb_%s.tif" % comp, Image.fromarray(a[:, :, :3]), compression=comp)
    save("rgba_%s.tif" % comp, Image.fromarray(a), compression=comp)
    save("la_%s.tif" % comp, Image.fromarray(a[:, :, [0, 3]], "LA"), compression=comp)
    save("p_%s.tif" % comp, Image.fromarray(a[:, :, :3]).quantize(29), compression=comp)
    save("i16_%s.tif" % comp, Image.fromarray((a[:, :, 0].astype(np.uint16) * 257).astype(np.uint16), "I;16"), compression=comp)
save("rgb_jpeg.tif", Image.fromarray(a[:, :, :3]), compression="jpeg")
bw = Image.fromarray(a[:, :, 0] > 100).convert("1")
for comp in ("raw", "group3", "group4"):
    save("bw_%s.tif" % comp, bw, compression=comp)
Image.fromarray(a[:, :, :3]).save(d + "/tiled.tif", tiffinfo={322: 16, 323: 16}); out.append("tiled.tif")
pages = [Image.fromarray(a[:, :, :3]), Image.fromarray(a[:, :, 1]), bw]
pages[0].save(d + "/pages.tif", save_all=True, append_images=pages[1:], compression="tiff_lzw"); out.append("pages.tif")
for name in out:
    im = Image.open(d + '/' + name)
    for p in range(getattr(im, "n_frames", 1)):
        im.seek(p)
        fr = im.convert("RGB") if im.mode == "P" else im.convert("L") if im.mode == "1" else im
        arr = np.array(fr)
        if fr.mode.startswith("I;16"): arr = (arr.astype(np.uint16) >> 8).astype(np.uint8)
        np.save("%s/%s.%d.npy" % (d, name, p + 1), arr)
print(" ".join(out))
]==])
    local dir = H.tmp .. "/pil_tiff"
    os.execute("mkdir -p " .. dir)
    local out, rc = H.sh("/usr/bin/python3 " .. script .. " " .. dir)
    assert.are.equal(0, rc, out)
    local n = 0
    for name in out:gmatch("%S+") do
      local pages = pj.load_pages(dir .. "/" .. name)
      assert.are.equal(pj.info(dir .. "/" .. name).pages, #pages)
      for i, page in ipairs(pages) do
        local want = pj.load(string.format("%s/%s.%d.npy", dir, name, i))
        assert.is_true(H.same_pixels(want, page), name .. " page " .. i)
        assert.is_true(H.same_pixels(want, pj.load(dir .. "/" .. name, { page = i })), name .. " page " .. i)
        n = n + 1
      end
    end
    assert.is_true(n >= 25)
    assert.has_error(function() pj.load(dir .. "/pages.tif", { page = 4 }) end,
      "pixjit.load: " .. dir .. "/pages.tif: page 4: the file has 3")
  end)
end)

describe("WebP", function()
  it("round-trips lossless exactly, lossy closely, with alpha", function()
    for c = 1, 4 do
      local img = pattern(45, 21, c)
      local back = pj.decode(img:encode("webp", { lossless = true }))
      -- Gray is stored as RGB (and gray+alpha as RGBA).
      assert.are.equal(c < 3 and c + 2 or c, back.channels)
      assert.is_true(H.same_pixels(c < 3 and img:convert(c + 2) or img, back), "lossless " .. c)
      local lossy = pj.decode(img:encode("webp", { quality = 90 }))
      assert.are.same({ 45, 21 }, { lossy.width, lossy.height })
    end
    local flat = pj.new(64, 64, 3, { 200, 100, 50 })
    local r, g, b = pj.decode(flat:encode("webp", { quality = 80 })):get(30, 30)
    assert.is_true(math.abs(r - 200) <= 3 and math.abs(g - 100) <= 3 and math.abs(b - 50) <= 3)
    assert.has_error(function() pj.new(20000, 2, 3):encode("webp") end,
      "img:encode: WebP holds at most 16383x16383 pixels, got 20000x2")
  end)

  it("decodes as cv2.imread does (the same libwebp)", function()
    if not have_cv2 then return pending("python3-opencv is not installed") end
    local img = H.random_image(51, 33, 3, H.rng(11))
    local path = H.tmp .. "/cv.webp"
    img:save(path, { quality = 75 })
    pj.load(path):save(H.tmp .. "/cv_webp.npy")
    local out, rc = H.sh("/usr/bin/python3 -c \"import cv2, numpy as np\nd = '" .. H.tmp .. "'\n"
      .. "print(np.array_equal(cv2.cvtColor(cv2.imread(d + '/cv.webp'), cv2.COLOR_BGR2RGB), np.load(d + '/cv_webp.npy')))\"")
    assert.are.equal(0, rc, out)
    assert.matches("True", out)
  end)
end)

describe("pj.info", function()
  it("reads the header of every format, with pj.load's size and errors", function()
    local img = pattern(21, 13, 4)
    for _, ext in ipairs { "png", "jpg", "tif", "webp", "npy" } do
      local path = H.tmp .. "/info." .. ext
      img:save(path)
      local info, back = pj.info(path), pj.load(path)
      assert.are.same({ back.width, back.height, back.channels, 1, 1 },
                      { info.width, info.height, info.channels, info.pages, info.orientation }, ext)
      local small = pj.info(path, { shrink = 2, channels = 1 })
      if ext ~= "npy" then assert.are.same({ 11, 7, 1 }, { small.width, small.height, small.channels }, ext) end
    end
    for _, bad in ipairs { "header-only.tif", "truncated.tif", "huge-dims.tif", "header-only.webp" } do
      local path = "tests/fuzz/regressions/" .. (bad:match("tif$") and "tiff/" or "webp/") .. bad
      local ok1, e1 = pcall(pj.load, path)
      local ok2, e2 = pcall(pj.info, path)
      assert.is_false(ok1)
      assert.is_false(ok2)
      assert.are.equal(e1:gsub("pixjit%.load", "pixjit.info"), e2)
    end
    local ok, e = pcall(pj.info, H.write("x.gif", "GIF89a..."))
    assert.is_false(ok)
    assert.matches("x.gif: not a PNG, JPEG, TIFF or WebP file", e)
  end)
end)

describe("pipes", function()
  it("load, info and load_pages read a pipe or FIFO once, whole", function()
    local png, tif = H.tmp .. "/pipe.png", H.tmp .. "/pipe.tif"
    pj.new(5, 3, 3, { 1, 2, 3 }):save(png)
    pj.save_all({ pj.new(4, 2, 1, 7) }, { tif })
    local out = H.sh("cat " .. png .. " | " .. H.pixjit ..
                     " -e 'local i = pj.load(\"/dev/stdin\") print(i.width, i.height, i:get(4, 2))'")
    assert.are.equal("5\t3\t1\t2\t3\n", out)
    out = H.sh("cat " .. png .. " | " .. H.pixjit .. " -e 'local i = pj.info(\"/dev/stdin\") print(i.format, i.width)'")
    assert.are.equal("png\t5\n", out)
    local fifo = H.tmp .. "/pipe.fifo"
    os.execute("rm -f " .. fifo .. " && mkfifo " .. fifo)
    out = H.sh("(cat " .. tif .. " > " .. fifo .. " &) ; " .. H.pixjit ..
               " -e 'local p = pj.load_pages(\"" .. fifo .. "\") print(#p, p[1]:get(3, 1))'")
    assert.are.equal("1\t7\n", out)
    out = H.sh("printf 'GIF89a' | " .. H.pixjit .. " -e 'pj.load(\"/dev/stdin\")'")
    assert.matches("pixjit.load: /dev/stdin: not a PNG, JPEG, TIFF or WebP file", out)
  end)
end)

describe("hostile files", function()
  it("fail with a message naming the file, bounded in time, silent on stderr", function()
    local dirs = { "tests/fuzz/regressions/tiff", "tests/fuzz/regressions/webp" }
    local script = H.write("hostile.lua", [[
local pj = require "pixjit"
for _, path in ipairs(arg) do
  local ok, err = pcall(pj.load, path)
  io.write(path, " ", tostring(ok), " ", ok and "" or err, "\n")
  pcall(pj.info, path)
  pcall(pj.load_pages, path)
end
]])
    local files = {}
    for _, d in ipairs(dirs) do
      local p = io.popen("ls " .. d)
      for name in p:lines() do files[#files + 1] = d .. "/" .. name end
      p:close()
    end
    assert.is_true(#files >= 10)
    local t0 = pj.now()
    local out, rc = H.sh(H.pixjit .. " " .. script .. " " .. table.concat(files, " ") .. " 2>" .. H.tmp .. "/hostile.err")
    assert.are.equal(0, rc, out)
    assert.is_true(pj.now() - t0 < 20)
    assert.are.equal("", read(H.tmp .. "/hostile.err"))
    for line in out:gmatch("[^\n]+") do
      local path, ok, err = line:match("^(%S+) (%S+) ?(.*)$")
      -- The IFD loop's first page is a valid image; every other file fails.
      if not path:match("ifd%-loop") then
        assert.are.equal("false", ok, line)
        assert.matches(path, err, 1, true)
      end
    end
    assert.is_not_nil(ffi)
  end)
end)
