#!/usr/bin/env bash
# Packs a built seqwatch into a self-contained folder that runs on an x86-64 Linux machine
# WITHOUT the project's dependencies installed (a benchmark box, a lent machine with more
# cores): the two executables, every shared library they and the DPDK drivers need except
# glibc's own, the DPDK vdev drivers (net_pcap, net_null, mempool ring; net_ring is linked) as EAL
# plugins, and GNU time for tools/bench.sh.
#
# Usage: tools/pack-bundle.sh [BUILD_DIR] [BUNDLE_DIR]     (defaults: build, .devbundle)
# Then, on the other machine: tools/bench-scaling.sh --build BUNDLE_DIR
#   (or by hand: LD_LIBRARY_PATH=BUNDLE/lib BUNDLE/src/seqwatch run ... --set 'eal.extra_args=[-d, BUNDLE/pmds]')
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}; B=${2:-$root/.devbundle}
ninja -C "$build" src/seqwatch src/gen/seqwatch-gen >/dev/null
rm -rf "$B"; mkdir -p "$B/src/gen" "$B/lib" "$B/pmds" "$B/bin"
cp "$build/src/seqwatch" "$B/src/"; cp "$build/src/gen/seqwatch-gen" "$B/src/gen/"
pmds=$(pkg-config --variable=pmdsdir libdpdk 2>/dev/null || true)
[ -n "$pmds" ] || pmds=$(ls -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-* | head -1)
# The EAL's -d DIR loads files named *.so; bus_vdev is not listed: the drivers link it, and a
# second copy loaded as a plugin would register the vdev bus twice (probe fails).
# net_ring is not among them: seqwatch links it (the replay port's rte_eth_from_rings), so ldd
# puts it in lib/; a second copy loaded as a plugin would register the driver twice.
for d in net_pcap net_null mempool_ring; do cp -L "$pmds/librte_$d.so" "$B/pmds/librte_$d.so"; done
cp /usr/bin/time "$B/bin/time"
for f in "$B/src/seqwatch" "$B/src/gen/seqwatch-gen" "$B"/pmds/*.so "$B/bin/time"; do
  ldd "$f" | awk '$3 ~ /^\// {print $3}'
done | sort -u | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux-x86-64)\.so' | xargs -I{} cp -L {} "$B/lib/"
strip "$B"/lib/* "$B"/pmds/* 2>/dev/null || true
echo "bundle: $B ($(du -sh "$B" | cut -f1)): $(ls "$B/lib" | wc -l) libraries, drivers: $(ls "$B/pmds" | tr '\n' ' ')"
