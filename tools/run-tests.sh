#!/usr/bin/env bash
# Installs what seqwatch needs, builds it twice (release, and ASan+UBSan), runs every
# test suite in both builds, and ends with one line: "N passed, N failed[, N skipped]".
# Exit status is non-zero when any build step or any test failed.
#
# Schedule (2 cores): the kernel suite (real TCP through a 2-30 Mbit/s bottleneck in network
# namespaces) spends most of its ~4 minutes per build waiting on traffic, one test at a time,
# so it runs beside CPU-bound work instead of before it: the release build's kernel suite
# beside the sanitizer build, the sanitizer build's kernel suite beside both builds' other
# tests. The CPU-bound side runs under SCHED_IDLE (`chrt --idle 0`): a kernel test's iperf3,
# tcpdump or seqwatch that wakes up preempts it at once (at nice 19 it could wait for the
# running task's slice, and a re-send delayed by a fraction of a millisecond reads otherwise
# on the wire: docs/tcp-analysis.md section 14). Each
# `meson test` writes its own logs (--logbase kernel / --logbase rest); the background run's
# output is printed when it ends, not interleaved.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E bash "$PWD/tools/run-tests.sh" "$@"; fi

status=0
bash tools/install-deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

# idle or normal: the scheduling class of a build or test run (see above).
in_class() {  # CLASS COMMAND...
  local class=$1; shift
  if [ "$class" = idle ]; then chrt --idle 0 "$@"; else "$@"; fi
}

build() {  # CLASS DIR MESON_OPTIONS...
  local class=$1 dir=$2; shift 2
  echo "=== build $dir ($*) at $(date -u +%H:%M:%S)"
  in_class "$class" tools/build.sh "$dir" "$@" && return 0
  echo "build of $dir failed"
  return 1
}

tests() {  # CLASS DIR TIMEOUT_MULTIPLIER LOGBASE MESON_TEST_ARGS...
  local class=$1 dir=$2 mult=$3 base=$4; shift 4
  echo "=== test $dir ($base: $*) at $(date -u +%H:%M:%S)"
  in_class "$class" meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 \
    --timeout-multiplier "$mult" --logbase "$base" "$@"
}

# The kernel suite in the background; its output goes to a file, printed by kernel_wait.
kernel_pid=
kernel_start() {  # DIR TIMEOUT_MULTIPLIER
  kernel_log=$(mktemp)
  tests normal "$1" "$2" kernel --suite kernel >"$kernel_log" 2>&1 &
  kernel_pid=$!
}
kernel_wait() {
  [ -n "$kernel_pid" ] || return 0
  wait "$kernel_pid" || status=1
  kernel_pid=
  cat "$kernel_log"
  rm -f "$kernel_log"
}
# tshark's answers, shared by both builds' differential tests for this run only
# (tests/support/tshark.hpp, tshark_output): the release build's tests ask tshark, the
# sanitizer build's read the same answers (keyed by tshark's version, the command and the
# capture's bytes). tshark's start-up, ~0.4-1 s per capture and command, was ~300 s of the
# ~700 s the sanitizer build's tests took; measured on the release suite alone, cold then
# warm: 227 -> 131 s.
export SEQWATCH_TSHARK_CACHE
SEQWATCH_TSHARK_CACHE=$(mktemp -d /tmp/seqwatch-tshark-cache.XXXXXX)
trap 'if [ -n "$kernel_pid" ]; then kill "$kernel_pid" 2>/dev/null; fi; rm -rf "$SEQWATCH_TSHARK_CACHE"' EXIT

# Every log is counted: one a failed build never wrote counts as a failure (count-tests.py),
# and a previous run's results must not be counted if this one fails before its tests.
rm -f build/meson-logs/*.junit.xml build/meson-logs/*.json build-asan/meson-logs/*.junit.xml build-asan/meson-logs/*.json
logs=(build/meson-logs/{kernel,rest}.junit.xml build-asan/meson-logs/{kernel,rest}.junit.xml)
if build normal build -Dbuildtype=release; then
  kernel_start build 1
  # The sanitizer build at -O1 with line tables only (-g1): GCC compiles ASan+UBSan code at
  # -O2 with full debug info about 3x slower (CI: 23 of its 40 minutes), and the reports
  # still name file and line. Asserts stay on (b_ndebug=false). A unity build (meson joins
  # 4 sources of a target into one compile: the shared headers, gtest's above all, are parsed
  # once per 4): 451 -> 325 s from scratch on the 2-vCPU AMD EPYC VM (2026-12-06). The release
  # build stays one compile per source, so a source that compiles only beside its unity
  # neighbours (a missing include, a name two files define) fails there.
  asan_ok=0
  build idle build-asan -Doptimization=1 -Ddebug=true -Db_ndebug=false -Dcpp_args=-g1 \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=false -Dunity=on -Dunity_size=4 && asan_ok=1
  kernel_wait
  if [ "$asan_ok" -eq 1 ]; then kernel_start build-asan 4; else status=1; fi
  tests idle build 1 rest --no-suite kernel || status=1
  if [ "$asan_ok" -eq 1 ]; then tests idle build-asan 4 rest --no-suite kernel || status=1; fi
  kernel_wait
else
  status=1
fi

echo "=== tests done at $(date -u +%H:%M:%S)"
python3 tools/count-tests.py "${logs[@]}" || status=1
exit $status
