#!/usr/bin/env sh
# Writes pixjit.pc for `make install`.
# Usage: scripts/pixjit_pc.sh PREFIX LIBDIR INCLUDEDIR VERSION "PKG ..."
# The codec libraries are private requirements: a shared link needs only
# -lpixjit, a static one (pkg-config --static) gets them all.
set -eu
# Paths under the prefix are written relative to it, so the file stays
# right when pkg-config is asked to move the prefix (--define-prefix).
rel() { case $1 in "$2"/*) printf '${prefix}%s' "${1#"$2"}" ;; *) printf '%s' "$1" ;; esac; }
cat <<PC
prefix=$1
libdir=$(rel "$2" "$1")
includedir=$(rel "$3" "$1")

Name: pixjit
Description: Image preprocessing kernels: codecs, main colours, perspective crops
Version: $4
Requires.private: $5
Cflags: -I\${includedir}
Libs: -L\${libdir} -lpixjit
Libs.private: -fopenmp -lm
PC
