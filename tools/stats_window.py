"""Worker figures over a window of `seqwatch run` stats lines (telemetry.stats_file).

Shared by tools/bench-linerate.sh and tools/bench-scaling.sh: rates come from the workers'
packet counters between two stats lines, so start-up and warm-up can be left out.
"""
import statistics


def stats_lines(path):
    """The `type: stats` lines of a stats.jsonl file, parsed."""
    import json
    with open(path) as f:
        return [l for l in (json.loads(x) for x in f if x.strip()) if l.get("type") == "stats"]


def window(lines, a, b, clock="elapsed_s"):
    """Figures between stats lines a and b (b later): Mpps per worker, median cycles per
    packet and busy %, the median of each worker's largest flow count over all lines."""
    dt = b[clock] - a[clock]
    wa = {w["worker"]: w for w in a["workers"]}
    return {
        "per_worker": [(w["packets"] - wa[w["worker"]]["packets"]) / dt / 1e6 for w in b["workers"]],
        "cycles": statistics.median(w["cycles_per_packet"] for w in b["workers"]),
        "busy": statistics.median(w["busy_ratio"] for w in b["workers"]) * 100,
        "flows": statistics.median(max(w["flows"] for l in lines for w in l["workers"] if w["worker"] == k) for k in wa),
    }
