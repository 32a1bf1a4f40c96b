#!/usr/bin/env bash
# Configures and builds one build directory. Usage: tools/build.sh DIR [meson options...]
# Re-running reconfigures in place, so it is cheap when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1; shift
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" "$@" >/dev/null
else
  meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" -j "$(nproc)"
