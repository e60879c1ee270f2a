-- Seed inputs for the fuzz targets: small PNG and JPEG files in every
-- channel count and coding mode the encoder has, and byte patterns for the
-- crop and colour targets.  usage: bin/pixjit scripts/fuzz_seeds.lua DIR
local pj = require "pixjit"
local out = assert(arg[1], "usage: fuzz_seeds.lua DIR")
pj.mkdir(out .. "/png")
pj.mkdir(out .. "/jpeg")
pj.mkdir(out .. "/bytes")
for c = 1, 4 do
  local img = pj.new(13 + c, 9, c)
  local p = img:pixels()
  for i = 0, img.height * img.stride - 1 do p[i] = (i * 37) % 256 end
  img:save(out .. "/png/seed" .. c .. ".png", { compression = 9 })
  img:save(out .. "/jpeg/seed" .. c .. ".jpg", { quality = 50 + c * 10 })
  img:save(out .. "/jpeg/prog" .. c .. ".jpg", { progressive = true })
end
for i = 1, 8 do
  local f = assert(io.open(out .. "/bytes/seed" .. i, "wb"))
  local t = {}
  for k = 1, 64 * i do t[k] = string.char((k * 97 + i * 13) % 256) end
  f:write(table.concat(t))
  f:close()
end
