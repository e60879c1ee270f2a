-- Generates the demo's sample data, so `make demo` needs nothing outside
-- the repository: a sticker (RGBA, flat colours with anti-aliased edges,
-- transparent surround) and a "page" of coloured word blocks seen in
-- perspective, with the blocks' quads in the quad JSON format.
-- usage: bin/pixjit scripts/make_samples.lua outdir
local pj = require "pixjit"
local out = assert(arg[1], "usage: make_samples.lua outdir")
pj.mkdir(out)

-- Sticker: an ellipse of cream with a red band and a navy disc, edges
-- supersampled 4x4 so they blend as real artwork does.
local W, H = 480, 360
local sticker = pj.new(W, H, 4)
local p = sticker:pixels()
local function colour_at(x, y)
  local ex, ey = (x - 240) / 220, (y - 180) / 160
  if ex * ex + ey * ey > 1 then return nil end
  local dx, dy = x - 330, y - 180
  if dx * dx + dy * dy < 60 * 60 then return 24, 52, 96 end
  if y > 150 and y < 210 - (x - 240) * 0.2 then return 205, 34, 52 end
  return 252, 231, 186
end
for y = 0, H - 1 do
  for x = 0, W - 1 do
    local r, g, b, n = 0, 0, 0, 0
    for sy = 0, 3 do
      for sx = 0, 3 do
        local cr, cg, cb = colour_at(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4)
        if cr then r, g, b, n = r + cr, g + cg, b + cb, n + 1 end
      end
    end
    local o = y * sticker.stride + x * 4
    if n > 0 then
      p[o], p[o + 1], p[o + 2] = math.floor(r / n + 0.5), math.floor(g / n + 0.5), math.floor(b / n + 0.5)
      p[o + 3] = math.floor(255 * n / 16 + 0.5)
    end
  end
end
sticker:save(out .. "/sticker.png")

-- Page: rows of dark "words" on paper, then a mild perspective.
local flat = pj.new(900, 1200, 3, { 246, 243, 236 })
local boxes = {}
local seed = 12345
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end
for line = 0, 24 do
  local x, y = 60, 60 + line * 44
  while true do
    local w, h = 30 + rnd(120), 18 + rnd(10)
    if x + w > 840 then break end
    local shade = 20 + rnd(60)
    flat:view(x, y, w, h):fill({ shade, shade, shade + 20 })
    boxes[#boxes + 1] = { x - 2, y - 2, x + w + 2, y + h + 2 }
    x = x + w + 16 + rnd(14)
  end
end
local M = pj.perspective({ { 0, 0 }, { 900, 0 }, { 900, 1200 }, { 0, 1200 } },
                         { { 40, 30 }, { 860, 10 }, { 890, 1180 }, { 20, 1170 } })
local page = flat:warp_perspective(M, 900, 1200, { border_value = 255 })
page:save(out .. "/page.png")
local function map(x, y)
  local w = M[3][1] * x + M[3][2] * y + M[3][3]
  return (M[1][1] * x + M[1][2] * y + M[1][3]) / w, (M[2][1] * x + M[2][2] * y + M[2][3]) / w
end
local f = assert(io.open(out .. "/page.quads.json", "w"))
f:write("[\n")
for i, b in ipairs(boxes) do
  local pts = {}
  for _, c in ipairs { { b[1], b[2] }, { b[3], b[2] }, { b[3], b[4] }, { b[1], b[4] } } do
    local x, y = map(c[1], c[2])
    pts[#pts + 1] = string.format("[%.3f,%.3f]", x, y)
  end
  f:write("[", table.concat(pts, ","), "]", i < #boxes and ",\n" or "\n")
end
f:write("]\n")
f:close()
print(string.format("samples in %s: sticker.png, page.png, page.quads.json (%d quads)", out, #boxes))
