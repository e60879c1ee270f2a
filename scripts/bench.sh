#!/usr/bin/env bash
# make bench: installs the reference stack when it can (python3-numpy,
# python3-opencv, libopencv-dev: benchmark-only, never runtime dependencies),
# then runs scripts/bench.lua inside bin/pixjit.
set -u
cd "$(dirname "$0")/.."
if ! scripts/deps.sh bench; then
  echo "note: could not install the reference packages; their columns will be skipped"
fi
# The kernel table in a process of its own, as a script of kernels runs:
# each collection of the results it drops walks the whole Lua heap, and
# the sections before it leave modules and traces behind that a kernel
# script would not have (a third more time per collection).
bin/pixjit scripts/bench.lua --skip kernels "$@" || exit 1
bin/pixjit scripts/bench.lua --only kernels "$@" || exit 1
# The vector paths an AVX2-only CPU takes, on this machine: the sections
# whose kernels have AVX-512 code, and the kernel table, again with it
# turned off.
if grep -q avx512vl /proc/cpuinfo 2>/dev/null; then
  echo
  PIXJIT_CPU_DISABLE=avx512vl bin/pixjit scripts/bench.lua --only codec,colors --label "PIXJIT_CPU_DISABLE=avx512vl" "$@"
  PIXJIT_CPU_DISABLE=avx512vl bin/pixjit scripts/bench.lua --only kernels --label "PIXJIT_CPU_DISABLE=avx512vl" "$@"
fi
