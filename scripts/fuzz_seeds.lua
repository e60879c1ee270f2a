-- Seed inputs for the fuzz targets: small PNG, JPEG, TIFF and WebP files
-- in every channel count and coding mode the encoders have, JPEGs with
-- EXIF orientations and their EXIF blocks, and byte patterns for the crop
-- and colour targets.  usage: bin/pixjit scripts/fuzz_seeds.lua DIR
local pj = require "pixjit"
local out = assert(arg[1], "usage: fuzz_seeds.lua DIR")
pj.mkdir(out .. "/png")
pj.mkdir(out .. "/jpeg")
pj.mkdir(out .. "/bytes")
pj.mkdir(out .. "/tiff")
pj.mkdir(out .. "/webp")
pj.mkdir(out .. "/exif")
for c = 1, 4 do
  local img = pj.new(13 + c, 9, c)
  local p = img:pixels()
  for i = 0, img.height * img.stride - 1 do p[i] = (i * 37) % 256 end
  img:save(out .. "/png/seed" .. c .. ".png", { compression = 9 })
  img:save(out .. "/jpeg/seed" .. c .. ".jpg", { quality = 50 + c * 10 })
  img:save(out .. "/jpeg/prog" .. c .. ".jpg", { progressive = true })
  img:save(out .. "/tiff/seed" .. c .. ".tif")
  img:save(out .. "/tiff/raw" .. c .. ".tif", { compression = 0 })
  img:save(out .. "/webp/seed" .. c .. ".webp", { quality = 60 })
  img:save(out .. "/webp/lossless" .. c .. ".webp", { lossless = true })
end
-- EXIF blocks (both byte orders, each orientation), alone and in a JPEG's
-- APP1 right after SOI.
local jpeg = pj.new(8, 8, 3, 90):encode("jpg")
local function u16(v, be)
  local hi, lo = math.floor(v / 256) % 256, v % 256
  return be and string.char(hi, lo) or string.char(lo, hi)
end
for o = 1, 8 do
  for _, be in ipairs { false, true } do
    local u32 = function(v)
      local hi, lo = math.floor(v / 65536), v % 65536
      return be and (u16(hi, true) .. u16(lo, true)) or (u16(lo) .. u16(hi))
    end
    local tiff = (be and "MM" or "II") .. u16(42, be) .. u32(8) .. u16(1, be) .. u16(0x0112, be) .. u16(3, be)
      .. u32(1) .. u16(o, be) .. u16(0, be) .. u32(0)
    local exif = "Exif\0\0" .. tiff
    local name = string.format("o%d%s", o, be and "m" or "i")
    local f = assert(io.open(out .. "/exif/" .. name, "wb"))
    f:write(exif)
    f:close()
    f = assert(io.open(out .. "/jpeg/" .. name .. ".jpg", "wb"))
    f:write(jpeg:sub(1, 2), "\255\225", u16(#exif + 2, true), exif, jpeg:sub(3))
    f:close()
  end
end
for i = 1, 8 do
  local f = assert(io.open(out .. "/bytes/seed" .. i, "wb"))
  local t = {}
  for k = 1, 64 * i do t[k] = string.char((k * 97 + i * 13) % 256) end
  f:write(table.concat(t))
  f:close()
end
