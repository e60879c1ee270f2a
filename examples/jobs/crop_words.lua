-- Word crops of every page X that has a sibling X.quads.json:
-- OUT/X/0001.png, OUT/X/0002.png, ... (numbered as the quads).
-- usage: bin/pixjit --batch examples/jobs/crop_words.lua --input pages/ --output crops/
return {
  inputs = { "*.png", "*.jpg" },
  output = "crops",
  steps = {
    { "load" },
    { "crop_quads", quads = "{dir}/{stem}.quads.json" },
    { "save_crops", name = "{stem}/{index:04}.png" },
  },
}
