-- Every public function rejects wrong types, nil, NaN/Inf, negative and
-- out-of-range values with a message naming the function and the argument.
local pj = require "pixjit"
local ffi = require "ffi"

local img = pj.new(8, 6, 3)
local gray = pj.new(8, 6, 1)
local t = pj.tensor({ 2, 2 })
local nan, inf = 0 / 0, math.huge
local quad = { { 0, 0 }, { 4, 0 }, { 4, 4 }, { 0, 4 } }
local I = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } }

-- { call, expected message (plain text) }
local cases = {
  { function() pj.load(nil) end, "pixjit.load: path must be a string, got nil" },
  { function() pj.load(5) end, "pixjit.load: path must be a string, got 5" },
  { function() pj.load("x.png", 3) end, "pixjit.load: options must be a table, got 3" },
  { function() pj.load("x.png", { max_pixels = -1 }) end, "pixjit.load: opts.max_pixels must be >= 1, got -1" },
  { function() pj.load("x.png", { max_pixels = nan }) end, "pixjit.load: opts.max_pixels must be an integer, got nan" },
  { function() pj.load("x.png", { max_scans = inf }) end, "pixjit.load: opts.max_scans must be an integer, got inf" },
  { function() pj.decode(nil) end, "pixjit.decode: bytes must be a string, got nil" },
  { function() pj.decode("", { name = 1 }) end, "pixjit.decode: opts.name must be a string, got 1" },
  { function() pj.new(-3, 2, 1) end, "pixjit.new: width must be >= 1, got -3" },
  { function() pj.new(2, inf, 1) end, "pixjit.new: height must be an integer, got inf" },
  { function() pj.new(2, 2, "3") end, "pixjit.new: channels must be an integer, got \"3\"" },
  { function() pj.new(2, 2, 1, { 1, 2 }) end, "pixjit.new: value must have 1 entries, got 2" },
  { function() img:view(0, 0, 9, 1) end, "img:view: w must be 1 to 8, got 9" },
  { function() img:view(nil, 0, 1, 1) end, "img:view: x must be an integer, got nil" },
  { function() img.view(5, 0, 0, 1, 1) end, "img:view: self must be an image, got 5" },
  { function() img.clone(nil) end, "img:clone: self must be an image, got nil" },
  { function() img:convert(0) end, "img:convert: channels must be 1 to 4, got 0" },
  { function() img:get(0, 6) end, "img:get: y must be 0 to 5, got 6" },
  { function() img:get(nan, 0) end, "img:get: x must be an integer, got nan" },
  { function() img:set(0, 0, -1) end, "img:set: value 1 must be 0 to 255, got -1" },
  { function() img:fill(300) end, "img:fill: value must be 0 to 255, got 300" },
  { function() img:save(nil) end, "img:save: path must be a string, got nil" },
  { function() img:save("a.png", { compression = 10 }) end, "img:save: compression must be 0 to 9, got 10" },
  { function() img:encode(nil) end, "img:encode: format must be \"png\", \"jpg\", \"jpeg\", \"tif\", \"tiff\" or \"webp\", got nil" },
  { function() img:encode("jpg", { quality = nan }) end, "img:encode: opts.quality must be an integer, got nan" },
  { function() img:main_colors(1.5) end, "img:main_colors: n must be an integer, got 1.5" },
  { function() img:main_colors(3, { min_alpha = 256 }) end, "img:main_colors: min_alpha must be 0 to 255, got 256" },
  { function() img:main_colors(3, { region = "all" }) end, "img:main_colors: opts.region must be a table {x, y, w, h}, got \"all\"" },
  { function() img:main_colors(3, { mask = "m" }) end, "img:main_colors: opts.mask must be an image, got \"m\"" },
  { function() pj.palette(nil) end, "pixjit.palette: colors must be a table of colours, got nil" },
  { function() pj.palette({ "#ffffff" }, { height = 0 }) end, "pixjit.palette: height must be 1 to 65536, got 0" },
  { function() pj.palette({ -1 }) end, "pixjit.palette: colors[1] must be 0 to 16777215, got -1" },
  { function() pj.hex(nil) end, "pixjit.hex: colour must be a colour table, number or \"#rrggbb\", got nil" },
  { function() pj.perspective(nil, quad) end, "pixjit.perspective: src_quad must be a table of 4 points, got nil" },
  { function() pj.perspective(quad, { 1, 2, 3 }) end, "pixjit.perspective: dst_quad must have 4 points or 8 numbers, got 3 values" },
  { function() pj.perspective({ { nan, 0 }, { 1, 0 }, { 1, 1 }, { 0, 1 } }, quad) end, "pixjit.perspective: point coordinates must be finite" },
  { function() img:warp_perspective(nil, 4, 4) end, "img:warp_perspective: M must be a 3x3 table, got nil" },
  { function() img:warp_perspective({ { 1, 0, inf }, { 0, 1, 0 }, { 0, 0, 1 } }, 4, 4) end, "img:warp_perspective: M[1][3] must be a finite number, got inf" },
  { function() img:warp_perspective(I, 0, 4) end, "img:warp_perspective: w must be >= 1, got 0" },
  { function() img:warp_perspective(I, 4, 4, { border = "wrap" }) end, "img:warp_perspective: opts.border must be \"constant\" or \"replicate\", got \"wrap\"" },
  { function() img:warp_perspective(I, 4, 4, { border_value = -2 }) end, "img:warp_perspective: opts.border_value must be 0 to 255, got -2" },
  { function() img:crop_quads(5) end, "img:crop_quads: quads must be a table or an FFI float array, got 5" },
  { function() img:crop_quads({ quad }, { rotate_ratio = -1 }) end, "img:crop_quads: opts.rotate_ratio must be a positive number, got -1" },
  { function() img:crop_quads({ quad }, { max_crop_pixels = 0 }) end, "img:crop_quads: opts.max_crop_pixels must be >= 1, got 0" },
  { function() img:crop_quads({ quad }, { count = -1 }) end, "img:crop_quads: opts.count must be >= 0, got -1" },
  { function() pj.read_quads(nil) end, "pixjit.read_quads: path must be a string, got nil" },
  { function() pj.read_quads("q.json", { max_depth = 2 }) end, "pixjit.read_quads: opts.max_depth must be 3 to 1000, got 2" },
  { function() pj.parse_quads(nil) end, "pixjit.parse_quads: text must be a string, got nil" },
  { function() pj.parse_quads("[]", { max_bytes = 0 }) end, "pixjit.parse_quads: opts.max_bytes must be >= 1, got 0" },
  { function() pj.threads(nan) end, "pixjit.threads: n must be an integer, got nan" },
  { function() pj.threads(5000) end, "pixjit.threads: n must be 0 to 4096, got 5000" },
  { function() img:resize(4, -4) end, "img:resize: h must be >= 1, got -4" },
  { function() img:resize(nil, 4) end, "img:resize: w must be an integer, got nil" },
  { function() img:pad(-1, 0, 0, 0) end, "img:pad: top must be >= 0, got -1" },
  { function() img:pad(0, 0, 0, 0, 999) end, "img:pad: value must be 0 to 255, got 999" },
  { function() gray:swap_rb() end, "img:swap_rb: the image must have 3 or 4 channels, got 1" },
  { function() pj.tensor(nil) end, "pixjit.tensor: shape must be a table of 1 to 4 sizes, got nil" },
  { function() pj.tensor({ 2, -1 }) end, "pixjit.tensor: shape[2] must be >= 0, got -1" },
  { function() t:get(2, 0) end, "tensor:get: index 1 must be 0 to 1, got 2" },
  { function() t:get(0) end, "tensor:get: expected 2 indices, got 1" },
  { function() t.save(img, "x.npy") end, "tensor:save: self must be a tensor, got an image" },
  { function() t:save(nil) end, "tensor:save: path must be a string, got nil" },
  { function() pj.pack(nil) end, "pixjit.pack: images must be a table of images, got nil" },
  { function() pj.pack({ img }, { height = nan }) end, "pixjit.pack: opts.height must be an integer, got nan" },
  { function() pj.pack({ img }, { pad_value = inf }) end, "pixjit.pack: pad_value must be a finite number, got inf" },
  { function() pj.pack({ img }, { mean = { 0, nan, 0 } }) end, "pixjit.pack: mean[2] must be a finite number, got nan" },
  { function() pj.timeit(nil) end, "pixjit.timeit: fn must be a function, got nil" },
  { function() pj.timeit(function() end, { number = 0 }) end, "pixjit.timeit: opts.number must be >= 1, got 0" },
  { function() pj.lprun(nil) end, "pixjit.lprun: fn must be a function, got nil" },
  { function() pj.profile(1) end, "pixjit.profile: fn must be a function, got 1" },
  { function() pj.show(nil) end, "pixjit.show: img must be an image, got nil" },
  { function() pj.mkdir(nil) end, "pixjit.mkdir: path must be a string, got nil" },
  { function() pj.info(nil) end, "pixjit.info: path must be a string, got nil" },
  { function() pj.info("x.png", { page = 0 }) end, "pixjit.info: opts.page must be >= 1, got 0" },
  { function() pj.load("x.png", { orient = "yes" }) end, "pixjit.load: opts.orient must be a boolean, got \"yes\"" },
  { function() pj.load_pages(nil) end, "pixjit.load_pages: path must be a string, got nil" },
  { function() pj.load_pages("x.tif", { page = 2 }) end, "pixjit.load_pages: opts.page is not for load_pages (it loads them all)" },
  { function() img:threshold(nil) end, "img:threshold: t must be a number, got nil" },
  { function() gray:adaptive_threshold(nil) end, "img:adaptive_threshold: opts.block is required (an odd integer >= 3)" },
  { function() img:blur(nil) end, "img:blur: kw must be an integer, got nil" },
  { function() img:gaussian_blur(nan) end, "img:gaussian_blur: k must be an integer, got nan" },
  { function() img:dilate(3, -1) end, "img:dilate: kh must be 1 to 4095, got -1" },
  { function() img:erode(inf) end, "img:erode: kw must be an integer, got inf" },
  { function() img:rot90("1") end, "img:rot90: k must be an integer, got \"1\"" },
  { function() img:flip(1) end, "img:flip: how must be \"horizontal\", \"vertical\" or \"both\", got 1" },
  { function() img.invert(nil) end, "img:invert: self must be an image, got nil" },
}

describe("argument checks", function()
  it("name the function and the argument for every public function", function()
    for i, case in ipairs(cases) do
      local ok, err = pcall(case[1])
      assert.is_false(ok, "case " .. i .. " did not fail: " .. case[2])
      -- Messages raised at the caller carry its position; compare the rest.
      local msg = tostring(err):gsub("^[^:]*spec%.lua:%d+: ", "")
      assert.are.equal(case[2], msg, "case " .. i)
    end
    assert.is_true(#cases >= 70)
    assert.is_not_nil(ffi)
  end)

  it("turns freed images into errors, not crashes, everywhere", function()
    local dead = pj.new(4, 4, 3)
    dead:free()
    for _, fn in ipairs { "view", "clone", "convert", "get", "set", "fill", "pixels", "save", "encode",
                          "main_colors", "warp_perspective", "crop_quads", "resize", "to_gray", "swap_rb", "pad",
                          "threshold", "blur", "gaussian_blur", "dilate", "erode", "rot90", "flip", "invert" } do
      local ok, err = pcall(dead[fn], dead, 0, 0, 1, 1)
      assert.is_false(ok, fn)
      assert.matches("img:" .. fn .. ": self has been freed", err)
    end
  end)
end)
