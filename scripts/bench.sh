#!/usr/bin/env bash
# make bench: installs the reference stack when it can (python3-numpy,
# python3-opencv, libopencv-dev: benchmark-only, never runtime dependencies),
# then runs scripts/bench.lua inside bin/pixjit.
set -u
cd "$(dirname "$0")/.."
if ! scripts/deps.sh bench; then
  echo "note: could not install the reference packages; their columns will be skipped"
fi
exec bin/pixjit scripts/bench.lua "$@"
