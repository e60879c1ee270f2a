-- Dominant colours of every input image: OUT/X.colors.json (a JSON array
-- of {"r","g","b","count"}, most frequent first) and OUT/X.palette.png.
-- usage: bin/pixjit --batch examples/jobs/main_colors.lua --input 'stickers/*.png' --output out/
return {
  inputs = { "*.png", "*.jpg" },
  output = "out",
  n = 6,                                     -- colours per image
  steps = {
    { "load" },
    { "main_colors" },                       -- uses n above; or { "main_colors", n = 10 }
    { "write_colors", name = "{stem}.colors.json" },
    { "palette" },
    { "save", image = "palette", name = "{stem}.palette.png" },
  },
}
