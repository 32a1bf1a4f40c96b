# Shared by tools/bench-scaling.sh and tools/bench-stats-cost.sh (sourced, not run).

# use_build NAME DIR: SW and GEN from a build folder or a bundle made by tools/pack-bundle.sh
# (its lib/ goes on LD_LIBRARY_PATH, its pmds/ to the EAL as -d in eal_extra, its bin/time
# becomes TIME for tools/bench.sh).
use_build() {
  local name=$1
  build=$(cd "$2" && pwd)
  SW="$build/src/seqwatch"; GEN="$build/src/gen/seqwatch-gen"
  [ -x "$SW" ] && [ -x "$GEN" ] || { echo "$name: $SW or $GEN missing" >&2; exit 1; }
  eal_extra=()
  if [ -d "$build/lib" ]; then export LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
  if [ -d "$build/pmds" ]; then eal_extra=(--set "eal.extra_args=[-d, $build/pmds]"); fi
  if [ -x "$build/bin/time" ]; then export TIME="$build/bin/time"; fi
}

# replay_port PREFIX N FRAMES: the net_pcap devargs for N queue files PREFIX0.pcap ..
# (made by tools/pcap-split.py) looped from memory (infinite_rx), in `dev`; `mbufs` holds
# every frame of every queue plus the rings, `mem` the EAL memory for them (~2.5 KiB per mbuf
# with headers, measured, doubled).
replay_port() {
  local prefix=$1 n=$2 frames=$3 i
  dev="net_pcap0"
  for ((i = 0; i < n; i++)); do dev+=",rx_pcap=$prefix$i.pcap"; done
  dev+=",infinite_rx=1"
  mbufs=1023; while [ "$mbufs" -lt $((frames + n * 8192 + 4096)) ]; do mbufs=$((mbufs * 2 + 1)); done
  mem=$(( (mbufs / 1024 + 1) * 5 + 1024 ))
}
