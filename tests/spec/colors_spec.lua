local pj = require "pixjit"
local H = require "spec.helper"

-- Plain Lua reference: a table keyed by packed RGB, then a full sort.
local function lua_main_colors(img, n, min_alpha)
  min_alpha = min_alpha or 1
  local counts, counted = {}, 0
  local p, c = img:pixels(), img.channels
  for y = 0, img.height - 1 do
    for x = 0, img.width - 1 do
      local o = y * img.stride + x * c
      local a = (c == 2 or c == 4) and p[o + c - 1] or 255
      if a >= min_alpha then
        local key = c >= 3 and (p[o] * 65536 + p[o + 1] * 256 + p[o + 2]) or p[o] * 65793
        counts[key] = (counts[key] or 0) + 1
        counted = counted + 1
      end
    end
  end
  local list = {}
  for k, v in pairs(counts) do list[#list + 1] = { key = k, count = v } end
  table.sort(list, function(a, b) return a.count > b.count or (a.count == b.count and a.key < b.key) end)
  local out = {}
  for i = 1, math.min(n, #list) do
    local k = list[i].key
    out[i] = { r = math.floor(k / 65536), g = math.floor(k / 256) % 256, b = k % 256, count = list[i].count }
  end
  return out, counted, #list
end

local function random_image(w, h, c, rnd, palette)
  local img = pj.new(w, h, c)
  local p = img:pixels()
  for i = 0, w * h * c - 1 do
    p[i] = palette and (rnd(palette) * 37) % 256 or rnd(256)
    if (c == 2 or c == 4) and i % c == c - 1 then p[i] = rnd(3) == 0 and 0 or rnd(256) end
  end
  return img
end

describe("img:main_colors", function()
  it("agrees with a plain Lua count on random images of 1-4 channels", function()
    local rnd = H.rng(7)
    for c = 1, 4 do
      for _, palette in ipairs { 5, 60, false } do
        local img = random_image(53, 41, c, rnd, palette)
        local want, counted, distinct = lua_main_colors(img, 20)
        local got = img:main_colors(20)
        assert.are.same(want, { unpack(got) })
        assert.are.same({ counted, distinct }, { got.counted, got.distinct })
      end
    end
  end)

  it("gives identical results for 1 and N threads", function()
    local img = random_image(400, 300, 4, H.rng(3), 90)
    pj.threads(1)
    local one = img:main_colors(50)
    pj.threads(3)
    local three = img:main_colors(50)
    pj.threads(0)
    assert.are.same(one, three)
  end)

  it("returns an empty list when nothing is visible", function()
    local list = pj.new(8, 8, 4):main_colors(6)
    assert.are.same({ counted = 0, distinct = 0 }, list)
    assert.are.equal(1, select("#", pj.new(8, 8, 4):main_colors(6)))
  end)

  it("counts a region and a mask", function()
    local img = pj.new(4, 4, 3, { 10, 20, 30 })
    img:view(0, 0, 2, 2):fill({ 1, 2, 3 })
    local top = img:main_colors(1, { region = { 0, 0, 2, 3 } })
    assert.are.same({ r = 1, g = 2, b = 3, count = 4 }, top[1])
    local mask = pj.new(4, 4, 1)
    mask:set(3, 3, 1)
    mask:set(0, 0, 1)
    local masked = img:main_colors(5, { mask = mask })
    assert.are.equal(2, masked.counted)
    assert.are.same({ r = 1, g = 2, b = 3, count = 1 }, masked[1])
  end)

  it("merges near-identical shades with bits and reports their mean", function()
    local img = pj.new(3, 1, 3)
    img:set(0, 0, 200, 0, 0)
    img:set(1, 0, 201, 0, 0)
    img:set(2, 0, 205, 0, 0)
    local exact = img:main_colors(5)
    assert.are.equal(3, #exact)
    local merged = img:main_colors(5, { bits = 4 })
    assert.are.same({ { r = 202, g = 0, b = 0, count = 3 } }, { unpack(merged) })
  end)

  it("matches the reference top colours of logo_rgba.png, tie included", function()
    if not H.data then return pending("../shared/data is absent") end
    local cjson = require "cjson"
    local f = assert(io.open(H.data .. "/ref/logo_rgba.main_colours.json"))
    local ref = cjson.decode(f:read("*a"))
    f:close()
    local img = pj.load(H.data .. "/logo_rgba.png")
    local want = ref.top16_rgb_count_desc_ties_rgb_asc
    local got = img:main_colors(#want)
    for i = 1, #want do
      assert.are.same({ want[i].r, want[i].g, want[i].b, want[i].count },
                      { got[i].r, got[i].g, got[i].b, got[i].count })
    end
    assert.are.same({ 38, 64, 105, 246 }, { got[13].r, got[13].g, got[13].b, got[13].count })
    assert.are.same({ 136, 149, 168, 246 }, { got[14].r, got[14].g, got[14].b, got[14].count })
    assert.are.same({ ref.non_transparent_pixels, ref.distinct_colours }, { got.counted, got.distinct })
  end)

  it("checks its arguments", function()
    local img = pj.new(2, 2, 4)
    assert.has_error(function() img:main_colors(-1) end, "img:main_colors: n must be 0 to 16777216, got -1")
    assert.has_error(function() img:main_colors(3, { bits = 0 }) end, "img:main_colors: opts.bits must be >= 1, got 0")
    assert.has_error(function() img:main_colors(3, { bits = 9 }) end, "img:main_colors: bits must be 1 to 8, got 9")
    assert.has_error(function() img:main_colors(3, { min_alpha = 0/0 }) end,
      "img:main_colors: opts.min_alpha must be an integer, got nan")
    assert.has_error(function() img:main_colors(3, { mask = pj.new(2, 2, 3) }) end,
      "img:main_colors: mask must be a 1-channel 2x2 image, got 2x2 with 3 channels")
    assert.has_error(function() img:main_colors(3, { region = { 0, 0, 3, 1 } }) end,
      "img:main_colors: opts.region: w must be 1 to 2, got 3")
    assert.has_error(function() img:main_colors(3, { colour = 1 }) end)
  end)
end)

describe("pj.palette and pj.hex", function()
  it("paints the result of main_colors directly", function()
    local img = pj.new(4, 4, 3, { 1, 2, 3 })
    local pal = pj.palette(img:main_colors(6))
    assert.are.same({ 512, 64 }, { pal.width, pal.height })
    assert.are.same({ 1, 2, 3 }, { pal:get(0, 0) })
  end)

  it("paints one 64x512 stripe per colour by default", function()
    local pal = pj.palette({ { r = 255, g = 0, b = 0 }, 0x00ff00, "#0000ff" })
    assert.are.same({ 512, 192, 3 }, { pal.width, pal.height, pal.channels })
    assert.are.same({ 255, 0, 0 }, { pal:get(511, 63) })
    assert.are.same({ 0, 255, 0 }, { pal:get(0, 64) })
    assert.are.same({ 0, 0, 255 }, { pal:get(100, 191) })
    local small = pj.palette({ "#102030" }, { height = 2, width = 3 })
    assert.are.same({ 3, 2 }, { small.width, small.height })
  end)

  it("formats colours as #rrggbb", function()
    assert.are.equal("#f8f6f0", pj.hex({ r = 248, g = 246, b = 240 }))
    assert.are.equal("#000a0b", pj.hex(0x000a0b))
    assert.has_error(function() pj.hex({ r = 256, g = 0, b = 0 }) end, "pixjit.hex: colour.r must be 0 to 255, got 256")
    assert.has_error(function() pj.palette({}) end, "pixjit.palette: colors is empty")
    assert.has_error(function() pj.palette({ "red" }) end,
      "pixjit.palette: colors[1] must look like \"#rrggbb\", got \"red\"")
  end)
end)
