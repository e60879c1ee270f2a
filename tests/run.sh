#!/usr/bin/env bash
# Runs every test: the C suites in $BUILD/tests, then the busted specs inside
# the host.  Ends with "N passed, N failed" and exits nonzero on any failure
# (a suite that dies without its summary counts as one failure).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
PIXJIT=${PIXJIT:-bin/pixjit}
export PIXJIT
if [ -z "${PIXJIT_DATA:-}" ] && [ -d "$root/../shared/data" ]; then
  PIXJIT_DATA=$(cd "$root/../shared/data" && pwd)
  export PIXJIT_DATA
fi
[ -n "${PIXJIT_DATA:-}" ] || echo "note: ../shared/data is absent; tests that need it are skipped"

passed=0 failed=0 skipped=0
tally() { # suite-name output-file exit-code
  local line
  line=$(grep -E "^[a-z ]+: [0-9]+ passed, [0-9]+ failed" "$2" | tail -n 1)
  if [ -z "$line" ]; then
    echo "$1: died without a summary (exit $3)"
    failed=$((failed + 1))
    return
  fi
  local p f s
  p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$1: exit $3 despite no failed test"
    failed=$((failed + 1))
  fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  "$t" >"$tmp/$name.out" 2>&1
  rc=$?
  cat "$tmp/$name.out"
  tally "$name" "$tmp/$name.out" "$rc"
done

# Fuzz targets replayed over their regression corpus and seeds.
data_dirs=()
[ -n "${PIXJIT_DATA:-}" ] && data_dirs=("$PIXJIT_DATA/crashers" "$PIXJIT_DATA/pngsuite")
replay() { # name binary dirs...
  local name=$1 bin=$2
  shift 2
  [ -x "$bin" ] || return
  "$bin" "$@" >"$tmp/$name.out" 2>&1
  local rc=$?
  cat "$tmp/$name.out"
  tally "$name" "$tmp/$name.out" "$rc"
}
replay fuzz-decode "$BUILD/fuzz-replay/decode" tests/fuzz/regressions/png tests/fuzz/regressions/jpeg \
  tests/fuzz/regressions/tiff tests/fuzz/regressions/webp "${data_dirs[@]}"
replay fuzz-exif "$BUILD/fuzz-replay/exif" tests/fuzz/regressions/exif
replay fuzz-pngdiff "$BUILD/fuzz-replay/pngdiff" tests/fuzz/regressions/pngdiff tests/fuzz/regressions/png "${data_dirs[@]}"
replay fuzz-crop "$BUILD/fuzz-replay/crop" tests/fuzz/regressions/crop
replay fuzz-colors "$BUILD/fuzz-replay/colors" tests/fuzz/regressions/colors
replay fuzz-kernels "$BUILD/fuzz-replay/kernels" tests/fuzz/regressions/kernels tests/fuzz/seeds/kernels
replay fuzz-quads "$BUILD/fuzz-replay/quads" tests/fuzz/regressions/quads tests/fuzz/seeds/quads

"$PIXJIT" tests/run_specs.lua -o tests/summary_handler.lua tests/spec >"$tmp/lua.out" 2>&1
rc=$?
cat "$tmp/lua.out"
tally lua "$tmp/lua.out" "$rc"

# A C suite again with PIXJIT_CPU_DISABLE=$1, its lines labelled $3.
rerun() {
  local off=$1 t=$2 label=$3
  [ -x "$t" ] || return 0
  PIXJIT_CPU_DISABLE=$off "$t" >"$tmp/rerun.out" 2>&1
  local rc=$?
  sed "s/^\([a-z]*\): /\1 ($label): /" "$tmp/rerun.out"
  tally "$(basename "$t") ($label)" "$tmp/rerun.out" "$rc"
}
# The kernels' portable code paths, which a machine with AVX2 never takes
# otherwise, against the same expectations; and the warp's AVX2 path,
# which an AVX-512 machine never takes otherwise.
for t in "$BUILD"/tests/test_colors "$BUILD"/tests/test_resize "$BUILD"/tests/test_warp "$BUILD"/tests/test_png; do
  rerun all "$t" "no SIMD"
done
rerun avx512vl "$BUILD/tests/test_warp" "AVX2 only"
PIXJIT_CPU_DISABLE=all "$PIXJIT" tests/run_specs.lua -o tests/summary_handler.lua \
  tests/spec/colors_spec.lua tests/spec/tensor_spec.lua tests/spec/warp_spec.lua tests/spec/kernels_spec.lua \
  >"$tmp/lua-nosimd.out" 2>&1
rc=$?
sed 's/^lua: /lua (no SIMD): /' "$tmp/lua-nosimd.out"
tally "lua (no SIMD)" "$tmp/lua-nosimd.out" "$rc"

# The summary is the last line and has exactly this form; skips go above it.
[ "$skipped" -gt 0 ] && echo "$skipped skipped (missing data or tools)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
