-- Cuts every word quad out of a page and writes outdir/0001.png, ...
-- (numbered as the quads are; a quad that cannot be cut is reported and
-- its number skipped).
-- usage: bin/pixjit examples/crop_words.lua page.png quads.json outdir/
local pj = require "pixjit"

local page, quads_path, outdir = arg[1], arg[2], arg[3]
if not (page and quads_path and outdir) then
  io.stderr:write("usage: pixjit examples/crop_words.lua page.png quads.json outdir/\n")
  os.exit(2)
end
outdir = outdir:gsub("/+$", "")

local t0 = pj.now()
local img = pj.load(page)
local quads = pj.read_quads(quads_path)
local t1 = pj.now()
local crops, errors = img:crop_quads(quads)
local t2 = pj.now()
pj.mkdir(outdir)
local written = 0
for i, crop in ipairs(crops) do
  if crop then
    crop:save(string.format("%s/%04d.png", outdir, i), { compression = 1 })
    written = written + 1
  end
end
local t3 = pj.now()
for i = 1, #quads do
  if errors[i] then io.stderr:write(errors[i], "\n") end
end
print(string.format("%d crops from %d quads (%d failed) in %.1f ms: load %.1f, crop %.1f, save %.1f",
                    written, #quads, errors.n, (t3 - t0) * 1000, (t1 - t0) * 1000,
                    (t2 - t1) * 1000, (t3 - t2) * 1000))
