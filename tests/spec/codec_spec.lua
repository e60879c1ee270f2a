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
    for _, f in ipairs(H.lines("ls " .. H.data .. "/pngsuite/*.png")) do
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
    for _, f in ipairs(H.lines("ls " .. H.data .. "/crashers/*")) do
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
      "pixjit.load: unknown option \"chanels\" (known: channels, max_chunk_bytes, max_pixels, max_scans, name, orient, page, shrink)")
    assert.has_error(function() pj.load("x.png", { channels = 7 }) end,
      "pixjit.load: channels must be 0 to 4, got 7")
    assert.has_error(function() pj.decode(42) end, "pixjit.decode: bytes must be a string, got 42")
    assert.has_error(function() pj.decode("not an image", { name = "n.png" }) end,
      "pixjit.decode: n.png: not a PNG, JPEG, TIFF or WebP file")
    assert.has_error(function() img:save("a.gif") end,
      "img:save: a.gif: unknown image extension (use .png, .jpg, .jpeg, .tif, .tiff or .webp)")
    assert.has_error(function() img:save("a.jpg", { quality = 101 }) end,
      "img:save: quality must be 1 to 100, got 101")
    assert.has_error(function() img:encode("bmp") end,
      "img:encode: format must be \"png\", \"jpg\", \"jpeg\", \"tif\", \"tiff\" or \"webp\", got \"bmp\"")
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

local has_cv2 = H.sh("/usr/bin/python3 -c 'import cv2, numpy' 2>/dev/null && echo yes"):match("yes") ~= nil

describe("shrink on load", function()
  it("decodes JPEG at 1/2, 1/4 and 1/8 as cv2's IMREAD_REDUCED_COLOR_k does", function()
    -- A smooth image, so a reduced decode and an averaged full one agree.
    local img = pj.new(203, 131, 3)
    for y = 0, 130 do
      for x = 0, 202 do img:set(x, y, math.floor((x + y) * 255 / 333), math.floor(x * 255 / 202), 128) end
    end
    local path = H.tmp .. "/shrink.jpg"
    img:save(path, { quality = 85 })
    local full = pj.load(path)
    for _, k in ipairs { 2, 4, 8 } do
      local s = pj.load(path, { shrink = k })
      assert.are.same({ math.ceil(203 / k), math.ceil(131 / k), 3 }, { s.width, s.height, s.channels })
      -- Each reduced pixel stays close to the mean of its block of the full decode.
      local r = pj.load(path, { shrink = k })
      local fr = full:resize(s.width, s.height, { interpolation = "area" })
      local worst = 0
      for y = 0, s.height - 2 do
        for x = 0, s.width - 2 do worst = math.max(worst, math.abs(r:get(x, y) - fr:get(x, y))) end
      end
      assert.is_true(worst <= 12, "shrink " .. k .. " differs by " .. worst)
    end
    if not has_cv2 then return pending("python3-opencv is not installed") end
    local out, rc = H.sh("/usr/bin/python3 -c \"import cv2, numpy as np, sys\n" ..
      "for k, fl in ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4), (8, cv2.IMREAD_REDUCED_COLOR_8)):\n" ..
      "    np.save('" .. H.tmp .. "/cv_shrink%d.npy' % k, cv2.imread('" .. path .. "', fl)[:, :, ::-1].copy())\"")
    assert.are.equal(0, rc, out)
    for _, k in ipairs { 2, 4, 8 } do
      assert.is_true(same(pj.load(path, { shrink = k }), pj.load(H.tmp .. "/cv_shrink" .. k .. ".npy")), "shrink " .. k)
    end
  end)

  it("reduces other formats by area averaging to ceil(w / k) x ceil(h / k)", function()
    local img = gradient(37, 21, 4)
    local s = pj.decode(img:encode("png"), { shrink = 4 })
    assert.are.same({ 10, 6, 4 }, { s.width, s.height, s.channels })
    assert.is_true(same(s, img:resize(10, 6, { interpolation = "area" })))
    assert.has_error(function() pj.decode(img:encode("png"), { shrink = 3 }) end,
      "pixjit.decode: shrink must be 1, 2, 4 or 8, got 3")
    assert.has_error(function() pj.decode(img:encode("png"), { shrink = 0 }) end,
      "pixjit.decode: opts.shrink must be >= 1, got 0")
  end)
end)

describe("pj.save_all", function()
  local dir = H.tmp .. "/save_all"

  local function listing()
    local names = {}
    for _, name in ipairs(H.lines("ls -A " .. dir)) do names[#names + 1] = name end
    table.sort(names)
    return names
  end

  it("writes every image, each to its own format, leaving no temporary file", function()
    os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
    local imgs, paths = {}, {}
    for i = 1, 40 do
      imgs[i] = gradient(10 + i, 5 + i % 7, 1 + i % 4)
      paths[i] = string.format("%s/%02d.%s", dir, i, i % 5 == 0 and "jpg" or "png")
    end
    local n, errors = pj.save_all(imgs, paths)
    assert.are.same({ 40, 0 }, { n, errors.n })
    assert.are.equal(40, #listing())
    for i = 1, 40 do
      local back = pj.load(paths[i])
      if i % 5 ~= 0 then
        assert.is_true(same(back, imgs[i]), paths[i])
      else
        assert.are.same({ imgs[i].width, imgs[i].height }, { back.width, back.height })
      end
    end
  end)

  it("fails images alone, each with its reason, and checks options first", function()
    os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
    local img = gradient(8, 8, 3)
    local n, errors = pj.save_all({ img, img, img }, { dir .. "/a.png", dir .. "/no/such/dir/b.png", dir .. "/c.gif" })
    assert.are.same({ 1, 2 }, { n, errors.n })
    assert.is_nil(errors[1])
    assert.are.equal(dir .. "/no/such/dir/b.png: No such file or directory", errors[2])
    assert.are.equal(2, errors.errno[2]) -- ENOENT
    assert.are.equal(dir .. "/c.gif: unknown image extension (use .png, .jpg, .jpeg, .tif, .tiff or .webp)", errors[3])
    assert.are.same({ "a.png" }, listing())
    -- A bad option fails the call before any file is made.
    os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
    assert.has_error(function() pj.save_all({ img }, { dir .. "/x.jpg" }, { quality = 101 }) end,
      "pixjit.save_all: quality must be 1 to 100, got 101")
    assert.are.same({}, listing())
    assert.has_error(function() pj.save_all({ img }, {}) end, "pixjit.save_all: 1 images but 0 paths")
    assert.has_error(function() pj.save_all({ img }, { 5 }) end, "pixjit.save_all: paths[1] must be a string, got 5")
  end)

  it("replaces a file only once the new one is complete", function()
    os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
    local a, b = gradient(30, 30, 3), gradient(60, 20, 3)
    pj.save_all({ a }, { dir .. "/x.png" })
    -- Another name for the old file sees it whole after the replacement.
    os.execute("ln " .. dir .. "/x.png " .. dir .. "/old.png")
    pj.save_all({ b }, { dir .. "/x.png" })
    assert.is_true(same(pj.load(dir .. "/x.png"), b))
    assert.is_true(same(pj.load(dir .. "/old.png"), a))
    pj.save_all({ a }, { dir .. "/y.png" }, { atomic = false })
    assert.is_true(same(pj.load(dir .. "/y.png"), a))
  end)

  it("writes PNG files that OpenCV reads to the same pixels", function()
    if not has_cv2 then return pending("python3-opencv is not installed") end
    os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
    local imgs, paths = {}, {}
    for c = 1, 4 do imgs[c] = gradient(41, 17, c); paths[c] = dir .. "/cv" .. c .. ".png" end
    pj.save_all(imgs, paths)
    for c = 1, 4 do
      local out, rc = H.sh("/usr/bin/python3 -c \"import cv2, numpy as np\n" ..
        "a = cv2.imread('" .. paths[c] .. "', cv2.IMREAD_UNCHANGED)\n" ..
        "a = a if a.ndim == 2 else (a[:, :, [2, 1, 0]] if a.shape[2] == 3 else a[:, :, [2, 1, 0, 3]])\n" ..
        "np.save('" .. dir .. "/cv" .. c .. ".npy', np.ascontiguousarray(a))\"")
      assert.are.equal(0, rc, out)
      if c ~= 2 then -- cv2 reads gray+alpha as BGRA
        assert.is_true(same(pj.load(dir .. "/cv" .. c .. ".npy"), imgs[c]), "channels " .. c)
      end
    end
  end)
end)
