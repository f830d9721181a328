"""Summarises loadtest/run's JSON results (loadtest/results/*.json) as Markdown rows:
command, headline figures, date and load average. Used by loadtest/bench.

Usage: summary.py RESULTS_DIR > summary.md"""

import glob
import json
import os
import sys


def ms(us):
    return f"{us / 1000:.1f}"


def headline(r):
    s = r.get("scenario", "")
    if s == "idle":
        return f"{r['connections']} conns, {r['failed']} failed; **{r['rss_per_connection_bytes']:.0f} B/conn**"
    if s == "idle-cluster":
        nodes = "; ".join(f"{n['connections']} conns → **{n['rss_per_connection_bytes']:.0f} B/conn**" for n in r["nodes"])
        return (f"{r['connections']} conns over {len(r['nodes'])} nodes from {r['generator_processes']} processes, "
                f"{r['failed']} failed, {r['connects_per_second']:.0f} connects/s; {nodes}; "
                f"generator {r['loadgen_rss_per_connection_bytes']:.0f} B/conn")
    if s == "fanout":
        lat = r["latency_us"]
        return (f"{r['subscribers']} subs, {r['publish_rate']}/s, {r['generator_processes']} procs: "
                f"**{r['deliveries_per_second']:.0f} deliveries/s**, lost {r['lost']}, gaps {r['offset_gaps_seen']}; "
                f"p50 / p99 / p99.9 **{ms(lat['p50'])} / {ms(lat['p99'])} / {ms(lat['p999'])} ms**")
    if s == "seats":
        lat = r["change_to_viewer_latency_us"]
        return (f"{r['viewers']} viewers: p50 / p99 / p99.9 **{ms(lat['p50'])} / {ms(lat['p99'])} / {ms(lat['p999'])} ms**, "
                f"lost {r['lost']}; **{r['holds_per_second']:.0f} holds/s** ({r['holders']} holders)")
    if s == "chat":
        lat = r["chat_to_first_delta_us"]
        return (f"{r['users']} users, {r['rate_per_s']} chats/s: chat → first delta p50 / p99 / p99.9 "
                f"**{ms(lat['p50'])} / {ms(lat['p99'])} / {ms(lat['p999'])} ms**, lost {r['lost']}")
    if "metrics" in r:  # k6 summary
        m = r["metrics"]
        parts = []
        for k, v in sorted(m.items()):
            if k.split("_")[0] in ("storm", "viewers", "race", "chat"):
                if "p(95)" in v:
                    parts.append(f"{k} med {v['med']:.1f} p95 {v['p(95)']:.1f} p99 {v.get('p(99)', float('nan')):.1f} ms")
                elif "count" in v:
                    parts.append(f"{k} {v['count']}")
                elif "value" in v:
                    parts.append(f"{k} {v['value']}")
        checks = m.get("checks", {})
        parts.append(f"checks {checks.get('passes', 0)} passed / {checks.get('fails', 0)} failed")
        return "; ".join(parts)
    return json.dumps(r)[:200]


rows = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json")), key=os.path.getmtime):
    try:
        r = json.load(open(path))
    except (OSError, ValueError):
        continue
    if "command" not in r:
        continue
    load = f"{r.get('load_average_before', '?')} → {r.get('load_average_after', '?')}"
    rows.append(f"| `{r['command']}` | {headline(r)} | {r.get('date', '?')} | {load} |")
print("| command | result | date | load average (1/5/15 min) before → after |")
print("| --- | --- | --- | --- |")
print("\n".join(rows))
