"""Prints the race seats of loadtest/k6/race.js: the first N free seats of the first
showtime, as its setup() picks them (loadtest/run needs them for per-seat thresholds).

Usage: race_seats.py HOST:PORT N (loopback only)."""

import json
import sys
import urllib.request

node, n = sys.argv[1], int(sys.argv[2])
if not node.startswith("127."):
    sys.exit(f"refusing a non-loopback address: {node}")
base = f"http://{node}"
req = urllib.request.Request(
    base + "/auth/guest", data=b'{"name":"runner"}', headers={"Content-Type": "application/json"}
)
token = json.load(urllib.request.urlopen(req))["token"]


def get(path):
    r = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    return json.load(urllib.request.urlopen(r))


showtime = get("/api/showtimes")["showtimes"][0]["id"]
free = [s["seat"] for s in get(f"/api/showtimes/{showtime}/seats")["seats"] if s["state"] == "free"]
print(",".join(free[:n]))
