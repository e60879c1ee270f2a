#!/usr/bin/env bash
# valgrind memcheck over the C test suites and the kernels fuzz target's
# seeds: no invalid access, no read of bytes never written, no leak.
# (The Lua specs run under ASan/LSan in `make asan` instead: LuaJIT's own
# allocator and JIT confuse memcheck.)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
if [ -z "${PIXJIT_DATA:-}" ] && [ -d ../shared/data ]; then
  PIXJIT_DATA=$(cd ../shared/data && pwd)
  export PIXJIT_DATA
fi
failed=0 passed=0
for t in "$BUILD"/tests/test_* "$BUILD"/fuzz-replay/kernels; do
  [ -x "$t" ] || continue
  args=()
  [ "$(basename "$t")" = kernels ] && args=(tests/fuzz/seeds/kernels)
  if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
       --suppressions=tests/valgrind.supp "$t" "${args[@]}" >/dev/null 2>"$BUILD/valgrind.$(basename "$t").log"; then
    passed=$((passed + 1))
    echo "valgrind $(basename "$t"): clean"
  else
    failed=$((failed + 1))
    echo "valgrind $(basename "$t"): FAILED"
    cat "$BUILD/valgrind.$(basename "$t").log"
  fi
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
