-- The scripts in examples/, run through bin/pixjit as users run them, with
-- their outputs checked against the library calls they stand for.
local pj = require "pixjit"
local H = require "spec.helper"

local function run(args)
  return H.sh(H.pixjit .. " " .. args)
end

describe("examples/rgb_to_gray.lua", function()
  it("writes the same gray image as img:convert(1)", function()
    local src = H.random_image(37, 23, 3, H.rng(7))
    local inp, out = H.tmp .. "/ex_rgb.png", H.tmp .. "/ex_gray.png"
    src:save(inp)
    os.remove(out)
    local text, rc = run("examples/rgb_to_gray.lua " .. inp .. " " .. out)
    assert.equals(0, rc, text)
    assert.truthy(text:find("37x23", 1, true))
    local gray = pj.load(out)
    assert.equals(1, gray.channels)
    assert.is_true(H.same_pixels(gray, src:convert(1)))
  end)

  it("prints its usage without arguments", function()
    local text, rc = run("examples/rgb_to_gray.lua")
    assert.equals(2, rc)
    assert.truthy(text:find("usage", 1, true))
  end)
end)

describe("examples/crop_words.lua", function()
  it("writes one numbered PNG per good quad and reports the bad one", function()
    local page = H.random_image(80, 50, 3, H.rng(11))
    local inp = H.tmp .. "/ex_page.png"
    page:save(inp)
    local quads = H.write("ex_page.quads.json",
      "[[[2,3],[40,5],[39,20],[1,18]], [[5,5],[5,5],[5,5],[5,5]], [[50,10],[78,12],[77,40],[49,38]]]")
    local outdir = H.tmp .. "/ex_words"
    os.execute("rm -rf " .. outdir)
    local text, rc = run("examples/crop_words.lua " .. inp .. " " .. quads .. " " .. outdir .. "/")
    assert.equals(0, rc, text)
    assert.truthy(text:find("2 crops from 3 quads (1 failed)", 1, true), text)
    assert.truthy(text:find("quad 2", 1, true), text)
    local want = page:crop_quads(pj.read_quads(quads))
    assert.is_true(H.same_pixels(pj.load(outdir .. "/0001.png"), want[1]))
    assert.is_true(H.same_pixels(pj.load(outdir .. "/0003.png"), want[3]))
    assert.is_false(H.exists(outdir .. "/0002.png"))
  end)
end)

describe("examples/main_colors.lua", function()
  it("ranks the colours with their counts and writes the palette", function()
    -- 60 red, 30 green, 10 blue pixels and 20 transparent ones.
    local img = pj.new(12, 10, 4)
    for i = 0, 119 do
      local x, y = i % 12, math.floor(i / 12)
      if i < 60 then img:set(x, y, 255, 0, 0, 255)
      elseif i < 90 then img:set(x, y, 0, 255, 0, 255)
      elseif i < 100 then img:set(x, y, 0, 0, 255, 255)
      else img:set(x, y, 9, 9, 9, 0) end
    end
    local inp, pal = H.tmp .. "/ex_colors.png", H.tmp .. "/ex_palette.png"
    img:save(inp)
    os.remove(pal)
    local text, rc = run("examples/main_colors.lua " .. inp .. " 2 " .. pal)
    assert.equals(0, rc, text)
    assert.truthy(text:find("100 pixels counted, 3 distinct colours", 1, true), text)
    assert.truthy(text:match("\n%s*1%s+#ff0000%s+60%s+60%.00%%"), text)
    assert.truthy(text:match("\n%s*2%s+#00ff00%s+30%s+30%.00%%"), text)
    assert.is_nil(text:find("#0000ff", 1, true))
    assert.truthy(pj.load(pal))
  end)
end)
