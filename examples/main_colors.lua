-- Dominant colours of an image: prints rank, colour, count and share of the
-- counted (non-transparent) pixels, and writes a palette image.
-- usage: bin/pixjit examples/main_colors.lua in.png [n] [palette.png]
local pj = require "pixjit"

local path, n, out = arg[1], tonumber(arg[2] or 6), arg[3]
if not path or not n then
  io.stderr:write("usage: pixjit examples/main_colors.lua in.png [n] [palette.png]\n")
  os.exit(2)
end

local img = pj.load(path)
local colors = img:main_colors(n)
print(string.format("%s: %dx%d, %d pixels counted, %d distinct colours", path, img.width,
                    img.height, colors.counted, colors.distinct))
print("rank  colour    count      share")
for i, c in ipairs(colors) do
  print(string.format("%4d  %s  %9d  %6.2f%%", i, pj.hex(c), c.count, 100 * c.count / colors.counted))
end
if out and #colors > 0 then
  pj.palette(colors):save(out)
  print("palette: " .. out)
end
