local pj = require "pixjit"
local H = require "spec.helper"

local function gradient(w, h, c)
  local img = pj.new(w, h, c)
  local p = img:pixels()
  for y = 0, h - 1 do
    for x = 0, w - 1 do
      for k = 0, c - 1 do p[y * img.stride + x * c + k] = (x * 3 + y * 5 + k * 40) % 256 end
    end
  end
  return img
end

local same = H.same_pixels

describe("PNG", function()
  it("round-trips 1-4 channels through save and load, views included", function()
    for c = 1, 4 do
      local img = gradient(33, 21, c)
      local v = img:view(2, 1, 30, 19)
      local path = H.tmp .. "/rt" .. c .. ".png"
      v:save(path, { compression = 9 })
      assert.is_true(same(v, pj.load(path)))
    end
  end)

  it("encodes to a string that decodes back", function()
    local img = gradient(17, 9, 3)
    local s = img:encode("png", { compression = 0 })
    assert.are.equal("\137PNG\r\n\26\n", s:sub(1, 8))
    assert.is_true(same(img, pj.decode(s)))
  end)

  it("converts channels on request", function()
    local s = gradient(4, 4, 3):encode("png")
    local g = pj.decode(s, { channels = 1 })
    assert.are.equal(1, g.channels)
    local rgba = pj.decode(s, { channels = 4 })
    assert.are.same({ 4, 255 }, { rgba.channels, select(4, rgba:get(1, 1)) })
  end)

  it("reports truncation with the file's name", function()
    local s = gradient(40, 40, 3):encode("png")
    local path = H.tmp .. "/truncated.png"
    local f = io.open(path, "wb")
    f:write(s:sub(1, #s - 30))
    f:close()
    local ok, err = pcall(pj.load, path)
    assert.is_false(ok)
    assert.matches("pixjit.load: " .. path:gsub("%p", "%%%0") .. ": invalid PNG", err)
    assert.has_error(function() pj.decode(s:sub(1, 100), { name = "part.png" }) end)
  end)

  it("loads every PngSuite file and rejects the corrupt ones", function()
    if not H.data then return pending("../shared/data is absent") end
    local good, bad = 0, 0
    for f in io.popen("ls " .. H.data .. "/pngsuite/*.png"):lines() do
      local ok, res = pcall(pj.load, f)
      if f:match("/x[^/]*$") then
        assert.is_false(ok, f)
        assert.matches(f:match("[^/]+$"):gsub("%p", "%%%0"), res)
        bad = bad + 1
      else
        assert.is_true(ok, res)
        good = good + 1
      end
    end
    assert.are.same({ 161, 14 }, { good, bad })
  end)

  it("skips hostile chunks quickly in bounded memory", function()
    if not H.data then return pending("../shared/data is absent") end
    for f in io.popen("ls " .. H.data .. "/crashers/*"):lines() do
      local t = os.clock()
      local ok, res = pcall(pj.load, f)
      assert.is_true(os.clock() - t < 1)
      if not ok then assert.matches("pixjit.load: .*" .. f:match("[^/]+$"):gsub("%p", "%%%0"), res) end
    end
  end)
end)

describe("JPEG", function()
  it("round-trips with quality, progressive and alpha dropped", function()
    local img = gradient(64, 48, 4)
    local a = pj.decode(img:encode("jpg", { quality = 95 }))
    local b = pj.decode(img:encode("jpeg", { quality = 95, progressive = true }))
    assert.are.same({ 64, 48, 3 }, { a.width, a.height, a.channels })
    assert.is_true(same(a, b))
    local small = #img:encode("jpg", { quality = 10 })
    assert.is_true(small < #img:encode("jpg", { quality = 95 }))
  end)

  it("loads by content whatever the extension", function()
    local path = H.tmp .. "/really_a_jpeg.png"
    gradient(20, 10, 3):save(path, { format = "jpg" })
    local img = pj.load(path)
    assert.are.same({ 20, 10, 3 }, { img.width, img.height, img.channels })
  end)

  it("decodes the sample photo", function()
    if not H.data then return pending("../shared/data is absent") end
    local img = pj.load(H.data .. "/photo.jpg")
    assert.are.same({ 1282, 1110, 3 }, { img.width, img.height, img.channels })
  end)
end)

describe("codec arguments", function()
  it("are checked with named errors", function()
    local img = pj.new(2, 2, 3)
    assert.has_error(function() pj.load(nil) end, "pixjit.load: path must be a string, got nil")
    assert.has_error(function() pj.load("x.png", { chanels = 1 }) end,
      "pixjit.load: unknown option \"chanels\" (known: channels, max_chunk_bytes, max_pixels, max_scans, name)")
    assert.has_error(function() pj.load("x.png", { channels = 7 }) end,
      "pixjit.load: channels must be 0 to 4, got 7")
    assert.has_error(function() pj.decode(42) end, "pixjit.decode: bytes must be a string, got 42")
    assert.has_error(function() pj.decode("not an image", { name = "n.png" }) end,
      "pixjit.decode: n.png: not a PNG or JPEG file")
    assert.has_error(function() img:save("a.gif") end,
      "img:save: a.gif: unknown image extension (use .png, .jpg or .jpeg)")
    assert.has_error(function() img:save("a.jpg", { quality = 101 }) end,
      "img:save: quality must be 1 to 100, got 101")
    assert.has_error(function() img:encode("bmp") end,
      "img:encode: format must be \"png\", \"jpg\" or \"jpeg\", got \"bmp\"")
    assert.has_error(function() pj.load(H.tmp .. "/missing.png") end,
      "pixjit.load: " .. H.tmp .. "/missing.png: No such file or directory")
  end)

  it("enforce the pixel limit before decoding, overridable per call", function()
    local s = gradient(100, 100, 1):encode("png")
    assert.has_error(function() pj.decode(s, { max_pixels = 9999, name = "big.png" }) end,
      "pixjit.decode: big.png: 100x100 image exceeds the pixel limit of 9999 (raise it with max_pixels)")
    assert.are.equal(100, pj.decode(s, { max_pixels = 10000 }).width)
  end)
end)
