# Shared by the kernel tests (sourced).

# keep_failed_capture PCAP NSTAT TAG: keeps a failing run's capture and its kernel counters
# beside the build's test logs (SEQWATCH_BUILD_DIR), as TAG-<time>.pcap and .pcap.nstat.
keep_failed_capture() {
  local pcap=$1 nstat=$2 tag=$3 kept
  if [ -n "${SEQWATCH_BUILD_DIR:-}" ] && [ -d "$SEQWATCH_BUILD_DIR" ]; then
    kept="$SEQWATCH_BUILD_DIR/$tag-$(date +%s).pcap"
    cp "$pcap" "$kept" && cp "$nstat" "$kept.nstat" && echo "capture kept: $kept"
  fi
}

# require_root: network namespaces need root; without it the test reports itself skipped (77).
require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: creating network namespaces needs root"
    exit 77
  fi
}

# delete_namespaces NS...: kills what still runs in each namespace, then deletes it (those
# that do not exist are skipped): a test's cleanup, before each run and on exit.
delete_namespaces() {
  local ns pid
  for ns in "$@"; do
    if ip netns list | grep -qw "^$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}
