#!/usr/bin/env bash
# Builds every fuzz target with clang's libFuzzer (+ ASan, UBSan) and runs
# each for FUZZ_SECONDS.  A finding is copied into
# tests/fuzz/regressions/<target>/ (replayed by `make test` from then on)
# and makes this script fail.
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
out=build/fuzz
mkdir -p "$out"
data=${PIXJIT_DATA:-../shared/data}
flags=(-g -O1 -std=c11 -D_DEFAULT_SOURCE -ffp-contract=off -fno-math-errno -fopenmp -Iinclude -Isrc
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       $(pkg-config --cflags libpng luajit))
libs=($(pkg-config --libs libpng libjpeg libdeflate libtiff-4 libwebp libwebpdemux libarchive) -lm)

build() { # name source [extra flags...]
  local name=$1 src=$2
  shift 2
  clang "${flags[@]}" "$@" "$src" src/*.c -o "$out/$name" "${libs[@]}" || exit 1
}
echo "building fuzz targets with clang"
build decode tests/fuzz/fuzz_decode.c
build crop tests/fuzz/fuzz_crop.c
build colors tests/fuzz/fuzz_colors.c
build kernels tests/fuzz/fuzz_kernels.c
build pngdiff tests/fuzz/fuzz_pngdiff.c
build exif tests/fuzz/fuzz_exif.c
build quads tests/fuzz/fuzz_quads.c -DPIXJIT_LUA_DIR="\"$PWD/lua\"" -Wl,--export-dynamic \
  $(pkg-config --libs luajit)

# Seed corpora: image files the project makes, the PngSuite and the
# crasher files when present, and the committed regressions.
mkdir -p "$out/seeds/png" "$out/seeds/jpeg" "$out/seeds/bytes" "$out/seeds/tiff" "$out/seeds/webp" \
  "$out/seeds/exif"
bin/pixjit scripts/fuzz_seeds.lua "$out/seeds" || exit 1
[ -d "$data/pngsuite" ] && cp "$data"/pngsuite/*.png "$out/seeds/png/" 2>/dev/null
[ -d "$data/crashers" ] && cp "$data"/crashers/* "$out/seeds/png/" 2>/dev/null

failed=0
run() { # name target regressions-dir [libFuzzer flags] seeds...
  local name=$1 bin=$2 reg=tests/fuzz/regressions/$3
  shift 3
  local extra=()
  while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do extra+=("$1"); shift; done
  rm -rf "$out/artifacts/$name"
  mkdir -p "$out/corpus/$name" "$out/artifacts/$name" "$reg"
  echo "fuzzing $name for ${secs}s"
  if ! "$out/$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 "${extra[@]}" \
       -artifact_prefix="$out/artifacts/$name/" "$out/corpus/$name" "$reg" "$@" \
       >"$out/$name.log" 2>&1; then
    failed=1
    echo "FINDING in $name:"
    tail -n 30 "$out/$name.log"
    for f in "$out/artifacts/$name"/*; do
      [ -f "$f" ] && cp "$f" "$reg/" && echo "  saved $reg/$(basename "$f")"
    done
  else
    grep -E "^#[0-9]+.*(DONE|pulse)" "$out/$name.log" | tail -n 1
  fi
}
run png decode png "$out/seeds/png"
run pngdiff pngdiff pngdiff "$out/seeds/png"
run jpeg decode jpeg "$out/seeds/jpeg"
run tiff decode tiff "$out/seeds/tiff"
run webp decode webp "$out/seeds/webp"
run exif exif exif "$out/seeds/exif"
run crop crop crop "$out/seeds/bytes"
run colors colors colors "$out/seeds/bytes"
run kernels kernels kernels tests/fuzz/seeds/kernels "$out/seeds/bytes"
# LeakSanitizer cannot see into LuaJIT's heap (see fuzz_quads.c).
run quads quads quads -detect_leaks=0 tests/fuzz/seeds/quads
if [ "$failed" -ne 0 ]; then
  echo "fuzz: findings saved under tests/fuzz/regressions/; fix them and commit the files"
  exit 1
fi
echo "fuzz: no findings"
