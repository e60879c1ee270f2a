#!/usr/bin/env bash
# Installs the Debian packages pixjit needs to build and test, when missing.
# Usage: scripts/deps.sh [build|test|bench|fuzz]   (test, bench and fuzz include build)
set -euo pipefail
level=${1:-test}

pkgs=(gcc make pkg-config libluajit-5.1-dev luajit libpng-dev libjpeg62-turbo-dev libdeflate-dev
      libtiff-dev libwebp-dev libarchive-dev
      libedit-dev lua-cjson)
[ "$level" != build ] && pkgs+=(lua-busted valgrind luarocks)
[ "$level" = bench ] && pkgs+=(python3-numpy python3-opencv libopencv-dev g++)
[ "$level" = fuzz ] && pkgs+=(clang libclang-rt-14-dev)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "pixjit: installing missing packages: ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
