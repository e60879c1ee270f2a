local ffi = require "ffi"
local pj = require "pixjit"
local H = require "spec.helper"

-- The reference's checksum: sum_i (i+1) * sum_k v_k * ((k % 251) + 1)
-- mod 2^64 over each crop's BGR bytes, row-major, no padding.
local function checksum(crops)
  local total = 0ULL
  for i, c in ipairs(crops) do
    local s, k, p = 0ULL, 0, c:pixels()
    for y = 0, c.height - 1 do
      for x = 0, c.width - 1 do
        local o = y * c.stride + x * 3
        s = s + p[o + 2] * ((k % 251) + 1)
        s = s + p[o + 1] * ((k + 1) % 251 + 1)
        s = s + p[o] * ((k + 2) % 251 + 1)
        k = k + 3
      end
    end
    total = total + s * i
  end
  return (tostring(total):gsub("ULL$", ""))
end

local function read_ref(name)
  local f = assert(io.open(H.data .. "/ref/" .. name))
  local ref = require("cjson").decode(f:read("*a"))
  f:close()
  return ref
end

describe("img:crop_quads against OpenCV's reference", function()
  for _, case in ipairs {
    { "page_warped.png", "page_warped.quads.json", "page_warped.quads.crops.json" },
    { "page.png", "page.boxes.json", "page.boxes.crops.json" },
  } do
    it("reproduces every crop of " .. case[2] .. " exactly", function()
      if not H.data then return pending("../shared/data is absent") end
      local ref = read_ref(case[3])
      local img = pj.load(H.data .. "/" .. case[1])
      local quads = pj.read_quads(H.data .. "/" .. case[2])
      assert.are.equal(ref.quads, #quads)
      local crops, errors = img:crop_quads(quads)
      assert.are.equal(0, errors.n)
      local px = 0
      for i, c in ipairs(crops) do
        assert.are.same(ref.sizes_wh[i], { c.width, c.height })
        px = px + c.width * c.height
      end
      assert.are.equal(ref.total_crop_pixels, px)
      assert.are.equal(ref.checksum, checksum(crops))
    end)
  end
end)

describe("img:crop_quads against cv2 on random quads", function()
  -- Gray, RGB and RGBA; narrow crops (several rows to a chunk), wide ones
  -- (rows split at OpenCV's column blocks), borders and odd shapes.
  for _, C in ipairs { 3, 1, 4 } do
    it("matches byte for byte with " .. C .. " channel(s)", function()
      local ok = H.sh("/usr/bin/python3 -c 'import cv2, numpy' >/dev/null 2>&1 && echo yes")
      if not ok:match("yes") then return pending("python3-opencv is not installed") end
      local rnd = H.rng(11 + C)
      local img = pj.new(317, 211, C)
      local p = img:pixels()
      for y = 0, 210 do
        for x = 0, 316 do
          for k = 0, C - 1 do p[y * img.stride + x * C + k] = (x * (k + 1) + y * 2 + rnd(40)) % 256 end
        end
      end
      local quads = {}
      for i = 1, 300 do
        local cx, cy = rnd(380) - 30, rnd(270) - 30
        local w, h = 2 + rnd(i % 3 == 0 and 400 or 120), 2 + rnd(i % 5 == 0 and 80 or 40)
        local q = { { cx, cy }, { cx + w, cy }, { cx + w, cy + h }, { cx, cy + h } }
        for _, pt in ipairs(q) do
          pt[1] = pt[1] + (rnd(4001) - 2000) / 997
          pt[2] = pt[2] + (rnd(4001) - 2000) / 997
        end
        if i % 50 == 0 then q[2], q[3] = q[3], q[2] end -- self-intersecting
        quads[i] = q
      end
      local png, qjson, bin = H.tmp .. "/cv2_src.png", H.tmp .. "/cv2_quads.json", H.tmp .. "/cv2_out.bin"
      img:save(png)
      local f = io.open(qjson, "w")
      f:write(require("cjson").encode(quads))
      f:close()
      local out, rc = H.sh("/usr/bin/python3 tests/cv2_crops.py " .. png .. " " .. qjson .. " " .. bin)
      assert.are.equal(0, rc, out)
      f = io.open(bin, "rb")
      local data = f:read("*a")
      f:close()
      local crops = img:crop_quads(quads)
      local pos, mismatched = 1, 0
      for i = 1, #quads do
        local w, h = ffi.cast("const int32_t *", ffi.cast("const char *", data) + pos - 1)[0],
                     ffi.cast("const int32_t *", ffi.cast("const char *", data) + pos + 3)[0]
        pos = pos + 8
        if w == 0 then
          assert.is_false(crops[i])
        else
          local c = crops[i]
          local bytes = data:sub(pos, pos + w * h * C - 1)
          pos = pos + w * h * C
          if not c or c.width ~= w or c.height ~= h or ffi.string(c:pixels(), w * h * C) ~= bytes then
            mismatched = mismatched + 1
          end
        end
      end
      assert.are.equal(0, mismatched)
    end)
  end
end)

describe("img:crop_quads", function()
  local img = pj.new(50, 40, 3, { 9, 8, 7 })

  it("takes points, flat numbers and FFI float arrays", function()
    local a = img:crop_quads({ { { 1, 1 }, { 21, 1 }, { 21, 11 }, { 1, 11 } } })
    local b = img:crop_quads({ { 1, 1, 21, 1, 21, 11, 1, 11 } })
    local arr = ffi.new("float[8]", { 1, 1, 21, 1, 21, 11, 1, 11 })
    local c = img:crop_quads(arr, { count = 1 })
    for _, crops in ipairs { a, b, c } do
      assert.are.same({ 20, 10, 3 }, { crops[1].width, crops[1].height, crops[1].channels })
      assert.are.same({ 9, 8, 7 }, { crops[1]:get(5, 5) })
    end
  end)

  it("fails bad quads alone, each with its reason", function()
    local quads = {
      { 1, 1, 21, 1, 21, 11, 1, 11 },
      { 0 / 0, 1, 21, 1, 21, 11, 1, 11 },
      { 1, 1, math.huge, 1, 21, 11, 1, 11 },
      { { 1, 1 }, { 2, 2 }, { 3, 3 } },
      { 0, 0, 10, 10, 20, 20, 30, 30 },
      { 5, 5, 5, 5, 5, 5, 5, 5 },
      { 0, 0, 1e9, 0, 1e9, 1e9, 0, 1e9 },
      "nonsense",
      { 2, 2, 12, 2, 12, 7, 2, 7 },
      { 3, 3, 4.5, 3, 4.5, 13, 3, 13 },
    }
    local crops, errors = img:crop_quads(quads)
    assert.are.equal(8, errors.n)
    assert.are.same({ 20, 10 }, { crops[1].width, crops[1].height })
    assert.are.same({ 10, 5 }, { crops[9].width, crops[9].height })
    -- Messages are the C core's, written after its parallel region.
    assert.are.equal("quad 2: corner 1 x is not finite (nan)", errors[2])
    assert.are.equal("quad 3: corner 2 x is not finite (inf)", errors[3])
    assert.are.equal("quad 4: must have 4 points, got 3", errors[4])
    assert.are.equal("quad 5: the quad is degenerate (collinear or repeated corners)", errors[5])
    assert.are.equal("quad 6: the crop would be 0x0 (zero width or height)", errors[6])
    assert.are.equal("quad 7: the crop of 1000000000x1000000000 exceeds max_crop_pixels (16777216)",
                     errors[7])
    assert.are.equal("quad 8: must be a table of 4 points, got \"nonsense\"", errors[8])
    assert.are.equal("quad 10: the crop would be 1x10; one pixel across maps two corners to one " ..
                     "point, so the homography is singular", errors[10])
    for _, i in ipairs { 2, 3, 4, 5, 6, 7, 8, 10 } do assert.is_false(crops[i]) end
    assert.has_error(function() img:crop_quads(quads, { strict = true }) end,
      "img:crop_quads: quad 2: corner 1 x is not finite (nan)")
  end)

  it("rotates tall crops and scales to a fixed height", function()
    local tall = { { 1, 1, 11, 1, 11, 31, 1, 31 } }
    local r = img:crop_quads(tall, { rotate = true })[1]
    assert.are.same({ 30, 10 }, { r.width, r.height })
    local s = img:crop_quads(tall, { height = 15 })[1]
    assert.are.same({ 5, 15 }, { s.width, s.height })
    local n = img:crop_quads(tall, { interpolation = "nearest", border = "replicate" })[1]
    assert.are.same({ 10, 30 }, { n.width, n.height })
  end)

  it("gives each crop its own pixels", function()
    local crops = img:crop_quads({ { 0, 0, 10, 0, 10, 10, 0, 10 }, { 0, 0, 10, 0, 10, 10, 0, 10 } })
    crops[1]:set(0, 0, 1, 2, 3)
    assert.are.same({ 9, 8, 7 }, { crops[2]:get(0, 0) })
    crops[1] = nil
    collectgarbage()
    assert.are.same({ 9, 8, 7 }, { crops[2]:get(9, 9) })
  end)

  it("checks its arguments and limits", function()
    assert.has_error(function() img:crop_quads(nil) end,
      "img:crop_quads: quads must be a table or an FFI float array, got nil")
    assert.has_error(function() img:crop_quads({}, { interpolation = "cubic" }) end,
      "img:crop_quads: opts.interpolation must be \"linear\" or \"nearest\", got \"cubic\"")
    assert.has_error(function() img:crop_quads({}, { height = 0 }) end,
      "img:crop_quads: opts.height must be >= 1, got 0")
    assert.has_error(function() img:crop_quads({}, { height = 70000 }) end,
      "img:crop_quads: height must be 0 to 65535, got 70000")
    assert.has_error(function() img:crop_quads(ffi.new("float[8]")) end,
      "img:crop_quads: an FFI quad array needs opts.count")
    assert.has_error(function() img:crop_quads({ { 0, 0, 10, 0, 10, 10, 0, 10 } }, { max_total_pixels = 50 }) end,
      "img:crop_quads: 100 output pixels exceed max_total_pixels (50)")
    local many = {}
    for i = 1, 11 do many[i] = { 0, 0, 2, 0, 2, 2, 0, 2 } end
    assert.has_error(function() img:crop_quads(many, { max_quads = 10 }) end,
      "img:crop_quads: 11 quads exceed max_quads (10)")
    assert.are.same({}, (img:crop_quads({})))
  end)
end)

describe("pj.perspective and img:warp_perspective", function()
  it("computes the homography and warps with it", function()
    local m = pj.perspective({ { 0, 0 }, { 1, 0 }, { 1, 1 }, { 0, 1 } }, { { 3, 5 }, { 5, 5 }, { 5, 7 }, { 3, 7 } })
    assert.are.same({ { 2, 0, 3 }, { 0, 2, 5 }, { 0, 0, 1 } }, m)
    local img = pj.new(4, 4, 1, 100)
    local out = img:warp_perspective(m, 12, 12, { border_value = 7 })
    assert.are.same({ 12, 12 }, { out.width, out.height })
    assert.are.equal(100, (out:get(5, 7)))  -- maps to source (1, 1)
    assert.are.equal(7, (out:get(0, 0)))    -- maps to (-1.5, -2.5): border
    assert.has_error(function() pj.perspective({ { 0, 0 }, { 1, 1 }, { 2, 2 }, { 3, 3 } }, { 0, 0, 1, 0, 1, 1, 0, 1 }) end,
      "pixjit.perspective: the points are degenerate (collinear or repeated corners)")
    assert.has_error(function() img:warp_perspective({ { 1, 0, 0 }, { 0, 1, 0 } }, 2, 2) end,
      "img:warp_perspective: M must be a 3x3 table (row 3 missing)")
    assert.has_error(function() img:warp_perspective({ { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 0 / 0 } }, 2, 2) end,
      "img:warp_perspective: M[3][3] must be a finite number, got nan")
  end)
end)

describe("pj.read_quads", function()
  local write = H.write

  it("reads the quad JSON format", function()
    local q = pj.read_quads(write("q.json", "[[[1,2],[3,4],[5,6],[7,8.5]]]"))
    assert.are.same({ { { 1, 2 }, { 3, 4 }, { 5, 6 }, { 7, 8.5 } } }, q)
  end)

  it("rejects malformed, deep and oversized files with the file named", function()
    local bad = write("bad.json", "[[[1,2],[3,4]")
    assert.has_error(function() pj.read_quads(bad) end)
    local ok, err = pcall(pj.read_quads, bad)
    assert.matches("pixjit.read_quads: .*bad.json: invalid JSON", err)
    ok, err = pcall(pj.read_quads, write("deep.json", string.rep("[", 5000) .. string.rep("]", 5000)))
    assert.is_false(ok)
    assert.matches("invalid JSON", err)
    assert.has_error(function() pj.read_quads(write("three.json", "[[[1,2],[3,4],[5,6]]]")) end)
    ok, err = pcall(pj.read_quads, write("big.json", "[" .. string.rep("[[1,2],[3,4],[5,6],[7,8]],", 10) .. "[[1,2],[3,4],[5,6],[7,8]]]"), { max_bytes = 100 })
    assert.matches("exceed max_bytes %(100%)", err)
    ok, err = pcall(pj.read_quads, write("n.json", "[[[1,2],[3,4],[5,6],[7,8]],[[1,2],[3,4],[5,6],[7,8]]]"), { max_quads = 1 })
    assert.matches("2 quads exceed max_quads %(1%)", err)
    assert.has_error(function() pj.read_quads(H.tmp .. "/absent.json") end)
  end)

  it("says what was expected of JSON that is not an array of quads", function()
    for text, got in pairs { ['{"image": "a.png", "quads": 5}'] = "an object", ["{}"] = "an object",
                             ["5"] = "a number", ["null"] = "null", ['"q"'] = "a string" } do
      local ok, err = pcall(pj.read_quads, write("not_quads.json", text))
      assert.is_false(ok, text)
      assert.matches("not_quads.json: expected a JSON array of quads %(.*%), got " .. got, err)
    end
    assert.are.same({}, pj.read_quads(write("empty.json", " [] ")))
  end)

  it("reads ICDAR-2015 ground truth: BOM, CRLF, texts with commas, no text", function()
    local q, t = pj.read_quads(write("gt_img_1.txt",
      "\239\187\191377,117,463,117,465,130,378,130,Genaxis Theatre\r\n"
      .. "493, 115, 519, 115, 519, 131, 493, 131,[06]\r\n\r\n"
      .. "374,155,409,155,409,170,374,170,###\r\n"
      .. "1.5,2.5,3,4,5,6,7,8,\"hello, world\"\n"
      .. "10,20,30,20,30,40,10,40\n"))
    assert.are.equal(5, #q)
    assert.are.same({ 377, 117, 463, 117, 465, 130, 378, 130 }, q[1])
    assert.are.same({ "Genaxis Theatre", "[06]", "###", "\"hello, world\"" }, { t[1], t[2], t[3], t[4] })
    assert.are.same({ 1.5, 2.5 }, { q[4][1], q[4][2] })
    assert.is_nil(t[5])
    local ok, err = pcall(pj.read_quads, write("bad_gt.txt", "1,2,3,4,5,6,7,8\n1,2,3,x,5,6,7,8\n"))
    assert.is_false(ok)
    assert.matches("bad_gt.txt: line 2: expected 8 numbers", err)
    -- Forced format: the same lines as JSON are an error.
    assert.has_error(function() pj.read_quads(H.tmp .. "/gt_img_1.txt", { format = "json" }) end)
  end)

  it("reads PaddleOCR label lines, one image's line", function()
    local path = write("Label.txt",
      'train/img_1.jpg\t[{"transcription": "MAIN", "points": [[10, 20], [50, 20], [50, 40], [10, 40]], "difficult": false}, '
      .. '{"transcription": "ST", "points": [[60, 20], [90, 21], [90, 41], [60, 40]]}]\n'
      .. 'train/img_2.jpg\t[]\n')
    local q, t = pj.read_quads(path, { image = "img_1.jpg" })
    assert.are.same({ { 10, 20 }, { 50, 20 }, { 50, 40 }, { 10, 40 } }, q[1])
    assert.are.same({ "MAIN", "ST" }, t)
    assert.are.same({}, (pj.read_quads(path, { image = "train/img_2.jpg" })))
    local ok, err = pcall(pj.read_quads, path)
    assert.matches("Label.txt: 2 images are labelled here; name one in opts.image", err)
    ok, err = pcall(pj.read_quads, path, { image = "img_3.jpg" })
    assert.matches("Label.txt: no line for image img_3.jpg", err)
    local one = write("one.txt", 'a.jpg\t[{"transcription": "X", "points": [[0, 0], [1, 0], [1, 1]]}]\n')
    ok, err = pcall(pj.read_quads, one)
    assert.matches("one.txt: line 1: quad 1 must have 4 points, got 3", err)
    assert.has_error(function() pj.read_quads(path, { format = "xml" }) end,
      "pixjit.read_quads: opts.format must be \"json\", \"icdar\" or \"paddle\", got \"xml\"")
  end)
end)
