#!/usr/bin/env bash
# Installs every Debian 12 package seqwatch needs to build, test, benchmark and run its demo.
# Idempotent: packages already installed are skipped; nothing is downloaded when all are present.
set -euo pipefail

PACKAGES=(
  # build
  build-essential meson ninja-build pkg-config
  # the six design dependencies
  libdpdk-dev libhyperscan-dev libpcap-dev libjemalloc-dev libgtest-dev libgmock-dev libbenchmark-dev
  # control-path libraries
  libcli11-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev zlib1g-dev libcpp-httplib-dev libabsl-dev
  # reference peers and kernel-truth tooling used by tests and the demo
  tshark tcptrace iperf3 iproute2 tcpdump iputils-ping procps
  # observability tests: a real Prometheus, dpdk-telemetry.py, top in tmux, the report in Chromium
  prometheus dpdk-dev tmux chromium
  # GNU time (/usr/bin/time: peak RSS) for tools/bench-peers.sh and tools/bench.sh
  time
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; answer once, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
