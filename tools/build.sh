#!/usr/bin/env bash
# Configures and builds one build directory. Usage: tools/build.sh DIR [meson options...]
# Re-running reconfigures in place, so it is cheap when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1; shift
# meson's own output is shown only when it fails (its ERROR lines go to stdout).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }
else
  meson setup "$dir" "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }
fi
ninja -C "$dir" -j "$(nproc)"
