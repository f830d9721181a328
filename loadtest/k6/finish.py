"""Completes a k6 --summary-export file with machine, date, command and load average,
prints the scenario's headline, and checks what k6 thresholds cannot express
(the race: seats sold by the bookings = race seats sold in the seat map).

Usage: finish.py SUMMARY.json MACHINE COMMAND SCENARIO. Exits non-zero on a failed check."""

import datetime
import json
import os
import sys

out, machine, command, name = sys.argv[1:5]
r = json.load(open(out))
r["machine"], r["command"] = machine, command
r["date"] = datetime.date.today().isoformat()
r["load_average_before"] = os.environ.get("LOAD_BEFORE", "")
r["load_average_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
with open(out, "w") as f:
    f.write(json.dumps(r, indent=2) + "\n")

m = r["metrics"]


def count(k):
    return m.get(k, {}).get("count", 0)


def trend(k):
    t = m.get(k, {})
    return " ".join(f"{q}={t[q]:.1f}" for q in ("med", "p(90)", "p(95)", "p(99)", "max") if q in t)


print(f"{command}  ({machine}; load before {r['load_average_before']}, after {r['load_average_after']}) -> {out}")
crossed = [f"{k}: {t}" for k, v in m.items() for t, bad in v.get("thresholds", {}).items() if bad]
for c in crossed:
    print(f"threshold crossed: {c}")
if name == "storm":
    print(f"storm: {count('storm_sessions')} sessions; welcome ms {trend('storm_welcome_ms')}; "
          f"subscribed ms {trend('storm_subscribed_ms')}; errors {count('storm_errors')}")
elif name == "viewers":
    print(f"viewers: {count('viewers_deltas')} deltas, {count('viewers_gaps')} gaps; "
          f"delta ms {trend('viewers_delta_ms')}; publisher lag ms {trend('viewers_publisher_lag_ms')}")
elif name == "chat":
    print(f"chat: {count('chat_answered')} answered; accepted ms {trend('chat_accepted_ms')}; "
          f"final ms {trend('chat_final_ms')}")
elif name == "race":
    sold = count("race_sold")
    in_map = m.get("race_map_sold", {}).get("value", -1)
    print(f"race: {count('race_bookings')} bookings, {sold} seats sold, {count('race_refused')} refused, "
          f"{count('race_errors')} errors; the seat map shows {in_map} race seats sold")
    if sold != in_map:
        sys.exit(f"FAILED: the bookings sold {sold} seats but the seat map shows {in_map} sold")
