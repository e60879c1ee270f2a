#!/usr/bin/env bash
# make demo: the two main jobs on sample data generated here (and on the
# real test images in ../shared/data when they are present).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/demo
rm -rf "$out"
bin/pixjit scripts/make_samples.lua "$out"
echo
echo "== dominant colours of the sticker"
bin/pixjit examples/main_colors.lua "$out/sticker.png" 6 "$out/sticker.palette.png"
echo
echo "== word crops of the page"
bin/pixjit examples/crop_words.lua "$out/page.png" "$out/page.quads.json" "$out/words"
if [ -f ../shared/data/logo_rgba.png ]; then
  echo
  echo "== the same on ../shared/data"
  bin/pixjit examples/main_colors.lua ../shared/data/logo_rgba.png 6 "$out/logo.palette.png"
  bin/pixjit examples/crop_words.lua ../shared/data/page_warped.png \
    ../shared/data/page_warped.quads.json "$out/page_warped_words"
fi
echo
echo "outputs in $out/"
