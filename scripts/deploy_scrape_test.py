#!/usr/bin/env python3
"""A real Prometheus scraping two real gateway nodes (run by
scripts/deploy-test): two `marquee` processes on free loopback ports (the
in-process bus, so they are independent nodes), their /metrics on ADMIN_ADDR
as in the manifests, one WebSocket client on node a, and Debian's Prometheus
with deploy/prometheus/alerts.yml loaded, scraping both every second.

It asserts that the queries the deployment depends on return the expected
series: both targets up and ready, the connections gauge per pod as the
Prometheus Adapter rule serves it (1 on a, 0 on b), the chat queue depth as
the external rule serves it, the fan-out histogram's buckets, and that every
alert rule evaluates without error and none fires on two healthy nodes.

Usage: deploy_scrape_test.py MARQUEE_BINARY
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# How long to wait for a process to come up or a query to show what it should.
WAIT_SECS = 90


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, data=None):
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, r.read()


def wait_for(what, probe, procs):
    """Calls probe() until it returns a true value; fails after WAIT_SECS or
    when one of the processes exits."""
    deadline = time.monotonic() + WAIT_SECS
    last = None
    while time.monotonic() < deadline:
        for name, p in procs.items():
            if p.poll() is not None:
                raise SystemExit(f"scrape test: {name} exited ({p.returncode}) while waiting for {what}")
        try:
            got = probe()
            if got:
                return got
            last = "not yet"
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(0.25)
    raise SystemExit(f"scrape test: no {what} within {WAIT_SECS} s (last: {last})")


def open_websocket(port, token):
    """A raw WebSocket handshake (RFC 6455); the open socket is the client."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws?token={urllib.parse.quote(token)} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit("scrape test: the gateway closed the WebSocket handshake")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise SystemExit(f"scrape test: WebSocket handshake answered {status!r}")
    return sock


def query(prom, expr):
    _, body = http(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    out = json.loads(body)
    if out.get("status") != "success":
        raise ValueError(f"{expr}: {out}")
    return out["data"]["result"]


def by_pod(result):
    return {r["metric"].get("pod"): float(r["value"][1]) for r in result}


def main(argv):
    if len(argv) != 1:
        raise SystemExit(__doc__)
    binary = Path(argv[0]).resolve()
    work = Path(tempfile.mkdtemp(prefix="marquee-scrape-"))
    procs = {}
    logs = []
    try:
        nodes = {}
        for name in ("a", "b"):
            addr, admin = free_port(), free_port()
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
            env.update(NODE_ID=name, ADMIN_ADDR=f"127.0.0.1:{admin}", WEB_DIR=str(ROOT / "web"), DATA_DIR=str(work / f"data-{name}"))
            log = open(work / f"node-{name}.log", "wb")
            logs.append(log)
            procs[f"node {name}"] = subprocess.Popen(
                [str(binary), "--addr", f"127.0.0.1:{addr}"], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            nodes[name] = (addr, admin)
        for name, (_, admin) in nodes.items():
            wait_for(f"/readyz of node {name}", lambda admin=admin: http(f"http://127.0.0.1:{admin}/readyz")[0] == 200, procs)

        # One client on node a.
        addr_a = nodes["a"][0]
        _, body = http(f"http://127.0.0.1:{addr_a}/auth/guest", data=b"{}")
        client = open_websocket(addr_a, json.loads(body)["token"])

        shutil.copy(ROOT / "deploy/prometheus/alerts.yml", work / "alerts.yml")
        targets = "\n".join(
            f"      - targets: ['127.0.0.1:{admin}']\n        labels: {{namespace: scrape-test, pod: {name}}}"
            for name, (_, admin) in nodes.items()
        )
        (work / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "rule_files: [alerts.yml]\n"
            f"scrape_configs:\n  - job_name: marquee\n    static_configs:\n{targets}\n"
        )
        prom_port = free_port()
        log = open(work / "prometheus.log", "wb")
        logs.append(log)
        procs["prometheus"] = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        prom = f"http://127.0.0.1:{prom_port}"
        wait_for("a ready Prometheus", lambda: http(f"{prom}/-/ready")[0] == 200, procs)

        up = wait_for("both targets up", lambda: (lambda r: r if r == {"a": 1.0, "b": 1.0} else None)(by_pod(query(prom, 'up{job="marquee"}'))), procs)
        ready = wait_for("marquee_ready of both nodes", lambda: (lambda r: r if r == {"a": 1.0, "b": 1.0} else None)(by_pod(query(prom, "marquee_ready"))), procs)
        # The Prometheus Adapter's query for pods/marquee_connections.
        conns = wait_for(
            "one connection on a, none on b",
            lambda: (lambda r: r if r == {"a": 1.0, "b": 0.0} else None)(
                by_pod(query(prom, 'sum(marquee_connections{namespace!="",pod!=""}) by (pod)'))
            ),
            procs,
        )
        # The external rule's query for marquee_chat_queue_depth: one number per namespace.
        depth = wait_for(
            "the chat queue depth",
            lambda: (lambda r: r if len(r) == 1 and r[0]["metric"] == {"namespace": "scrape-test"} else None)(
                query(prom, 'max(marquee_chat_queue_depth{namespace!=""}) by (namespace)')
            ),
            procs,
        )
        buckets = wait_for(
            "fan-out histogram buckets from both nodes",
            lambda: (lambda r: r if set(r) == {"a", "b"} else None)(by_pod(query(prom, "count by (pod) (marquee_fanout_seconds_bucket)"))),
            procs,
        )
        accepted = by_pod(query(prom, "marquee_connections_total"))
        if accepted.get("a", 0) < 1:
            raise SystemExit(f"scrape test: marquee_connections_total of a is {accepted}")

        def rules_evaluated():
            _, body = http(f"{prom}/api/v1/rules")
            rules = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
            if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules):
                return rules
            return None

        rules = wait_for("every alert rule evaluated", rules_evaluated, procs)
        broken = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") != "ok"]
        if broken:
            raise SystemExit(f"scrape test: rules that do not evaluate: {broken}")
        _, body = http(f"{prom}/api/v1/alerts")
        active = [a["labels"]["alertname"] for a in json.loads(body)["data"]["alerts"]]
        if active:
            raise SystemExit(f"scrape test: alerts active on two healthy nodes: {active}")
        client.close()
        print(
            f"scrape test: up {up}, ready {ready}, connections {conns}, chat queue depth "
            f"{depth[0]['value'][1]}, fan-out bucket series {buckets}, {len(rules)} rules ok, 0 alerts"
        )
        return 0
    except SystemExit:
        for log in logs:
            log.flush()
        for f in sorted(work.glob("*.log")):
            print(f"--- {f.name} (last lines)", file=sys.stderr)
            print("\n".join(f.read_text(errors="replace").splitlines()[-15:]), file=sys.stderr)
        raise
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs:
            log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
