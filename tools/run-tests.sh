#!/usr/bin/env bash
# Installs what seqwatch needs, builds it twice (release, and ASan+UBSan), runs every
# test suite in both builds, and ends with one line: "N passed, N failed[, N skipped]".
# Exit status is non-zero when any build step or any test failed.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E bash "$PWD/tools/run-tests.sh" "$@"; fi

status=0
bash tools/install-deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

run_suite() {  # DIR TIMEOUT_MULTIPLIER MESON_OPTIONS...
  local dir=$1 mult=$2; shift 2
  # A previous run's results must not be counted if this one fails before its tests.
  rm -f "$dir"/meson-logs/testlog.junit.xml "$dir"/meson-logs/testlog.json
  echo "=== build $dir ($*) at $(date -u +%H:%M:%S)"
  if ! tools/build.sh "$dir" "$@"; then
    echo "build of $dir failed"
    status=1
    return
  fi
  echo "=== test $dir at $(date -u +%H:%M:%S)"
  meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier "$mult" || status=1
}

run_suite build 1 -Dbuildtype=release
# The sanitizer build at -O1 with line tables only (-g1): GCC compiles ASan+UBSan code at -O2
# with full debug info about 3x slower (CI: 23 of its 40 minutes), and the reports still name
# file and line. Asserts stay on (b_ndebug=false).
run_suite build-asan 4 -Doptimization=1 -Ddebug=true -Db_ndebug=false -Dcpp_args=-g1 \
  -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=false

echo "=== tests done at $(date -u +%H:%M:%S)"
python3 tools/count-tests.py build/meson-logs/testlog.junit.xml build-asan/meson-logs/testlog.junit.xml || status=1
exit $status
