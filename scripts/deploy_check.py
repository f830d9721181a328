#!/usr/bin/env python3
"""Structural rules of the deployment files that no schema knows (run by
scripts/deploy-test, with the rendered overlays as arguments):

- every container of every Deployment has CPU and memory requests and limits;
- gateway and dispatcher containers probe the real endpoints: readiness on
  /readyz, liveness on /healthz, both routes of the admin router in
  gateway/src/http.rs, on the port ADMIN_ADDR binds; model-svc probes gRPC
  health on the port MODEL_SVC_ADDR binds;
- every environment variable (and ConfigMap key) a container gets is a
  setting its binary reads (gateway/src/config.rs, model-svc/src/config.rs);
- a preStop hook starts the drain (SIGTERM to the server, PID 1) and
  terminationGracePeriodSeconds is longer than DRAIN_GRACE_MS plus the
  gateway's SHUTDOWN_SLACK (gateway/src/lib.rs), and for model-svc longer
  than MODEL_SVC_SHUTDOWN_GRACE_MS;
- gateway Deployments roll with maxUnavailable 1 and a small maxSurge; a
  PodDisruptionBudget with maxUnavailable 1 covers every gateway pod;
- the HPAs scale the gateway on connections per pod and CPU and the
  dispatchers on the chat queue depth, with metrics the Prometheus Adapter
  rules (deploy/prometheus/adapter.yaml) serve;
- Services point at named ports the selected pods have; secrets rendered
  here (the demo's) hold values the gateway accepts;
- the pods of the scrape job are annotated, pass its keep rules and name a
  port they listen on;
- the Dockerfile builds bin targets that exist and copies files that exist
  and are in the build context; the manifests run binaries and read
  directories the image has;
- every metric named in deploy/prometheus and deploy/grafana is one the code
  exports (docs/metrics.md), with documented labels, except NOT_YET_EXPORTED.

`--self-test` breaks a copy of each rendered overlay in known ways and
fails unless every break is reported.
"""

import base64
import copy
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Alerts written for metrics the code does not export yet; each must be used
# by deploy/prometheus/alerts.yml and absent from docs/metrics.md (an
# exported one must leave this list).
NOT_YET_EXPORTED = set()

# Settings read by the process but not through the clap configuration.
EXTRA_SETTINGS = {"RUST_LOG"}
# Settings on their way into gateway/src/config.rs; tolerated until they are
# there, then simply real (none now).
PENDING_SETTINGS = set()
# Labels Prometheus or the scrape configuration adds to every series.
TARGET_LABELS = {"namespace", "pod", "component", "track", "job", "instance", "le"}


def read(rel):
    return (ROOT / rel).read_text(encoding="utf-8")


def settings_of(rel):
    return set(re.findall(r'env\s*=\s*"([A-Z0-9_]+)"', read(rel)))


GATEWAY_SETTINGS = settings_of("gateway/src/config.rs") | EXTRA_SETTINGS | PENDING_SETTINGS
MODEL_SVC_SETTINGS = settings_of("model-svc/src/config.rs") | EXTRA_SETTINGS


def default_drain_ms():
    m = re.search(r"pub const DEFAULT_DRAIN_GRACE_MS: u64 = ([0-9_]+);", read("gateway/src/config.rs"))
    if not m:
        raise SystemExit("deploy_check: DEFAULT_DRAIN_GRACE_MS not found in gateway/src/config.rs")
    return int(m.group(1).replace("_", ""))


def default_model_grace_ms():
    m = re.search(r"pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = ([0-9_]+);", read("model-svc/src/config.rs"))
    if not m:
        raise SystemExit("deploy_check: DEFAULT_SHUTDOWN_GRACE_MS not found in model-svc/src/config.rs")
    return int(m.group(1).replace("_", ""))


def shutdown_slack_ms():
    m = re.search(r"const SHUTDOWN_SLACK: Duration = Duration::from_(secs|millis)\((\d+)\);", read("gateway/src/lib.rs"))
    if not m:
        raise SystemExit("deploy_check: SHUTDOWN_SLACK not found in gateway/src/lib.rs")
    return int(m.group(2)) * (1000 if m.group(1) == "secs" else 1)


def admin_routes():
    """The paths of gateway/src/http.rs's admin_router (the probes' listener)."""
    text = read("gateway/src/http.rs")
    start = text.find("pub fn admin_router")
    if start < 0:
        raise SystemExit("deploy_check: admin_router not found in gateway/src/http.rs")
    body = text[start : text.find("\n}", start)]
    return set(re.findall(r'\.route\("([^"]+)"', body))


def documented_metrics():
    """name -> documented label keys, from docs/metrics.md's tables."""
    out = {}
    for line in read("docs/metrics.md").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 5 or not cells[1].startswith("`marquee_"):
            continue
        name = cells[1].strip("`")
        labels = set(re.findall(r"`([a-z_]+)`:", cells[3]))
        out[name] = labels
        if cells[2] == "histogram":
            for sfx in ("_bucket", "_sum", "_count"):
                out[name + sfx] = labels | ({"le"} if sfx == "_bucket" else set())
    return out


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


class Checker:
    def __init__(self):
        self.errors = []
        self.drain_default = default_drain_ms()
        self.slack = shutdown_slack_ms()
        self.model_grace_default = default_model_grace_ms()
        m = re.search(r"pub const MIN_SECRET_BYTES: usize = (\d+);", read("gateway/src/config.rs"))
        if not m:
            raise SystemExit("deploy_check: MIN_SECRET_BYTES not found in gateway/src/config.rs")
        self.min_secret = int(m.group(1))
        self.routes = admin_routes()
        self.metrics = documented_metrics()

    def fail(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    # ---- manifests ----

    def check_overlay(self, name, docs):
        by_kind = {}
        for d in docs:
            by_kind.setdefault(d["kind"], []).append(d)
        configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind.get("ConfigMap", [])}
        deployments = by_kind.get("Deployment", [])
        gateways = []
        for dep in deployments:
            where = f"{name}: Deployment {dep['metadata']['name']}"
            spec = dep["spec"]
            pod = spec["template"]["spec"]
            for c in pod.get("containers", []):
                self.check_resources(f"{where} container {c['name']}", c)
                binary = (c.get("command") or [""])[0]
                env = self.env_of(f"{where} container {c['name']}", c, configmaps)
                if binary.endswith(("/gateway", "/marquee")):
                    self.check_server(where, c, pod, env, GATEWAY_SETTINGS)
                    if env.get("MARQUEE_ROLE", "all") in ("gateway", "all"):
                        gateways.append(dep)
                elif binary.endswith("/model-svc"):
                    self.check_model_svc(where, c, pod, env)
            component = dep["metadata"].get("labels", {}).get("app.kubernetes.io/component")
            if component == "gateway":
                self.check_rollout(where, spec)
        if not gateways:
            self.fail(name, "no gateway Deployment")
        self.check_budgets(name, by_kind.get("PodDisruptionBudget", []), gateways)
        self.check_hpas(name, by_kind.get("HorizontalPodAutoscaler", []), deployments)
        self.check_services(name, by_kind.get("Service", []), deployments)
        self.check_secret_refs(name, by_kind.get("Secret", []), deployments)
        self.check_scraped(name, deployments)
        return gateways

    def check_resources(self, where, c):
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(kind, {}):
                    self.fail(where, f"no {kind}.{r}")

    def env_of(self, where, c, configmaps):
        env = {}
        for ref in c.get("envFrom", []):
            cm = ref.get("configMapRef", {}).get("name")
            if cm is not None:
                if cm not in configmaps:
                    self.fail(where, f"envFrom ConfigMap {cm} is not rendered")
                env.update(configmaps.get(cm, {}))
        for e in c.get("env", []):
            env[e["name"]] = e.get("value", "<from " + ",".join(e.get("valueFrom", {})) + ">")
        return env

    def check_server(self, where, c, pod, env, settings):
        where = f"{where} container {c['name']}"
        for key in sorted(set(env) - settings):
            self.fail(where, f"{key} is not a setting of the gateway (gateway/src/config.rs)")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        probe_addr = env.get("ADMIN_ADDR") or env.get("MARQUEE_ADDR")
        if not probe_addr:
            self.fail(where, "neither ADMIN_ADDR nor MARQUEE_ADDR is set (the default binds 127.0.0.1 only)")
            return
        want_port = port_of(probe_addr)
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            p = c.get(probe, {}).get("httpGet")
            if not p:
                self.fail(where, f"no {probe} httpGet")
                continue
            if p.get("path") != path:
                self.fail(where, f"{probe} path {p.get('path')!r} is not {path}")
            if p.get("path") not in self.routes:
                self.fail(where, f"{probe} path {p.get('path')!r} is not a route of admin_router {sorted(self.routes)}")
            port = ports.get(p.get("port"), p.get("port"))
            if port != want_port:
                self.fail(where, f"{probe} port {p.get('port')!r} ({port}) is not the port of {probe_addr}")
        # The drain: preStop sends the server its SIGTERM; the grace outlasts it.
        cmd = " ".join(c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", []))
        if not re.search(r"\bkill -(TERM|15) 1\b", cmd):
            self.fail(where, f"preStop does not start the drain (SIGTERM to PID 1): {cmd!r}")
        drain = int(env.get("DRAIN_GRACE_MS", self.drain_default))
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace * 1000 <= drain + self.slack:
            self.fail(
                where,
                f"terminationGracePeriodSeconds {grace} s is not longer than DRAIN_GRACE_MS {drain} ms + shutdown slack {self.slack} ms",
            )

    def check_model_svc(self, where, c, pod, env):
        where = f"{where} container {c['name']}"
        grace = pod.get("terminationGracePeriodSeconds", 30)
        answers_ms = int(env.get("MODEL_SVC_SHUTDOWN_GRACE_MS", self.model_grace_default))
        if grace * 1000 <= answers_ms:
            self.fail(where, f"terminationGracePeriodSeconds {grace} s is not longer than MODEL_SVC_SHUTDOWN_GRACE_MS {answers_ms} ms")
        for key in sorted(set(env) - MODEL_SVC_SETTINGS):
            self.fail(where, f"{key} is not a setting of model-svc (model-svc/src/config.rs)")
        addr = env.get("MODEL_SVC_ADDR")
        if not addr or not addr.startswith("0.0.0.0:"):
            self.fail(where, f"MODEL_SVC_ADDR {addr!r} does not listen on the pod's address")
            return
        for probe in ("readinessProbe", "startupProbe"):
            port = c.get(probe, {}).get("grpc", {}).get("port")
            if port != port_of(addr):
                self.fail(where, f"{probe} is not gRPC health on {addr}")

    def check_rollout(self, where, spec):
        ru = spec.get("strategy", {}).get("rollingUpdate", {})
        if spec.get("strategy", {}).get("type") != "RollingUpdate" or ru.get("maxUnavailable") != 1:
            self.fail(where, "gateway rollout must be RollingUpdate with maxUnavailable 1")
        surge = ru.get("maxSurge")
        if not isinstance(surge, int) or not 0 <= surge <= 2:
            self.fail(where, f"gateway maxSurge {surge!r} is not a small number of pods (0-2)")

    def check_budgets(self, name, pdbs, gateways):
        for dep in gateways:
            labels = dep["spec"]["template"]["metadata"]["labels"]
            covering = [p for p in pdbs if selects(p["spec"]["selector"].get("matchLabels", {}), labels)]
            if not any(p["spec"].get("maxUnavailable") == 1 for p in covering):
                self.fail(name, f"no PodDisruptionBudget with maxUnavailable 1 covers {dep['metadata']['name']}")

    def check_hpas(self, name, hpas, deployments):
        adapter = yaml.safe_load(read("deploy/prometheus/adapter.yaml"))
        pods_metrics = {r["name"]["as"]: r for r in adapter.get("rules", [])}
        external_metrics = {r["name"]["as"]: r for r in adapter.get("externalRules", [])}
        for rules in (pods_metrics, external_metrics):
            for metric, rule in rules.items():
                self.check_query(f"deploy/prometheus/adapter.yaml rule {metric}", rule["seriesQuery"])
        targets = {}
        for h in hpas:
            targets[h["spec"]["scaleTargetRef"]["name"]] = h
            for m in h["spec"]["metrics"]:
                where = f"{name}: HPA {h['metadata']['name']}"
                if m["type"] == "Pods" and m["pods"]["metric"]["name"] not in pods_metrics:
                    self.fail(where, f"Pods metric {m['pods']['metric']['name']} has no adapter rule")
                if m["type"] == "External" and m["external"]["metric"]["name"] not in external_metrics:
                    self.fail(where, f"External metric {m['external']['metric']['name']} has no adapter externalRule")
        want = {
            "marquee-gateway": ("Pods", "marquee_connections"),
            "marquee-dispatcher": ("External", "marquee_chat_queue_depth"),
        }
        for dep, (kind, metric) in want.items():
            h = targets.get(dep)
            if h is None:
                self.fail(name, f"no HPA scales {dep}")
                continue
            kinds = {(m["type"], m.get(m["type"].lower(), {}).get("metric", {}).get("name")) for m in h["spec"]["metrics"]}
            if ("Resource", None) not in kinds:
                self.fail(name, f"HPA of {dep} does not scale on CPU")
            if (kind, metric) not in kinds and not name.startswith("demo"):
                self.fail(name, f"HPA of {dep} does not scale on {kind} metric {metric}")

    def check_services(self, name, services, deployments):
        for s in services:
            sel = s["spec"].get("selector")
            if not sel:
                continue
            where = f"{name}: Service {s['metadata']['name']}"
            pods = [d for d in deployments if selects(sel, d["spec"]["template"]["metadata"]["labels"])]
            if not pods:
                self.fail(where, "selects no Deployment's pods")
            for port in s["spec"].get("ports", []):
                target = port.get("targetPort", port["port"])
                for d in pods:
                    cports = [p for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
                    if not any(target in (p.get("name"), p["containerPort"]) for p in cports):
                        self.fail(where, f"targetPort {target!r} is no port of {d['metadata']['name']}")

    def check_secret_refs(self, name, secrets, deployments):
        if not secrets:
            return  # created out of band (production); the demo generates its own
        keys = {s["metadata"]["name"]: set(s.get("data", {})) | set(s.get("stringData", {})) for s in secrets}
        # Values the gateway would refuse at start (Config::validate).
        for sec in secrets:
            values = {k: base64.b64decode(v).decode() for k, v in sec.get("data", {}).items()}
            values.update(sec.get("stringData", {}))
            where = f"{name}: Secret {sec['metadata']['name']}"
            for k in ("JWT_SECRET", "ADMIN_TOKEN"):
                if k in values and len(values[k].encode()) < self.min_secret:
                    self.fail(where, f"{k} is shorter than {self.min_secret} bytes (MIN_SECRET_BYTES)")
            if "REDIS_URL" in values and not values["REDIS_URL"].startswith(("redis://", "redis-cluster://", "redis-sentinel://")):
                self.fail(where, "REDIS_URL is not a redis:// URL")
            if "DATABASE_URL" in values and not values["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
                self.fail(where, "DATABASE_URL is not a postgres:// URL (a cluster needs one database)")
        for d in deployments:
            for c in d["spec"]["template"]["spec"]["containers"]:
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    if ref and not ref.get("optional") and ref["key"] not in keys.get(ref["name"], set()):
                        self.fail(f"{name}: {d['metadata']['name']}", f"Secret {ref['name']} has no key {ref['key']}")

    def check_scraped(self, name, deployments):
        """Pods annotated for scraping pass the scrape job's keep rules and
        name a port they listen on; Marquee's own pods are all annotated."""
        config = yaml.safe_load(read("deploy/prometheus/prometheus.yml"))
        job = next(j for j in config["scrape_configs"] if j["job_name"] == "marquee")
        namespaces = set(job["kubernetes_sd_configs"][0].get("namespaces", {}).get("names", []))
        keeps = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
        for d in deployments:
            meta = d["spec"]["template"]["metadata"]
            ann = meta.get("annotations", {})
            where = f"{name}: Deployment {d['metadata']['name']}"
            component = meta.get("labels", {}).get("app.kubernetes.io/component")
            if ann.get("prometheus.io/scrape") != "true":
                if component in ("gateway", "dispatcher", "model-svc"):
                    self.fail(where, "its pods are not annotated prometheus.io/scrape")
                continue
            if namespaces and d["metadata"].get("namespace") not in namespaces:
                self.fail(where, f"namespace {d['metadata'].get('namespace')!r} is not scraped ({sorted(namespaces)})")
            for rule in keeps:
                values = []
                for src in rule["source_labels"]:
                    for prefix, source in (
                        ("__meta_kubernetes_pod_annotation_", ann),
                        ("__meta_kubernetes_pod_label_", meta.get("labels", {})),
                    ):
                        if src.startswith(prefix):
                            key = src[len(prefix):]
                            values.append(next((v for k, v in source.items() if re.sub(r"[^a-zA-Z0-9_]", "_", k) == key), ""))
                if not re.fullmatch(rule["regex"], ";".join(values)):
                    self.fail(where, f"the scrape job's keep rule on {rule['source_labels']} drops its pods")
            ports = {p["containerPort"] for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
            if int(ann.get("prometheus.io/port", 0)) not in ports:
                self.fail(where, f"prometheus.io/port {ann.get('prometheus.io/port')} is no container port")

    # ---- canary ----

    def check_canary(self, name, docs, gateways):
        tracks = {d["spec"]["template"]["metadata"]["labels"].get("marquee.io/track"): d for d in gateways}
        if set(tracks) != {"stable", "canary"}:
            self.fail(name, f"the canary overlay needs a stable and a canary gateway Deployment, has {sorted(map(str, tracks))}")
            return
        stable, canary = tracks["stable"], tracks["canary"]
        hpa_min = min(
            (h["spec"]["minReplicas"] for h in docs if h["kind"] == "HorizontalPodAutoscaler" and h["spec"]["scaleTargetRef"]["name"] == stable["metadata"]["name"]),
            default=stable["spec"].get("replicas", 1),
        )
        if canary["spec"].get("replicas", 1) * 4 > hpa_min:
            self.fail(name, f"the canary ({canary['spec'].get('replicas', 1)} pods) is not a small share of {hpa_min}+ stable pods")
        images = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"] for d in (stable, canary)}
        if len(set(images.values())) != 2:
            self.fail(name, f"the canary runs the stable image: {images}")
        svc = [s for s in docs if s["kind"] == "Service" and s["metadata"]["name"] == "marquee-gateway"]
        for s in svc:
            for d in (stable, canary):
                if not selects(s["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"]):
                    self.fail(name, f"Service marquee-gateway does not send connections to {d['metadata']['name']}")

    # ---- metrics in rules and dashboards ----

    def check_query(self, where, expr):
        """Every marquee_ name in a PromQL expression is exported (or allowed)
        and its label matchers use documented labels."""
        used = set()
        for m in re.finditer(r"\b(marquee_[a-z0-9_]+)\b(\{[^}]*\})?", expr):
            metric, matchers = m.group(1), m.group(2) or ""
            used.add(metric)
            if metric in NOT_YET_EXPORTED:
                continue
            if metric not in self.metrics:
                self.fail(where, f"{metric} is not exported (docs/metrics.md) nor in NOT_YET_EXPORTED")
                continue
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", matchers):
                if label not in self.metrics[metric] | TARGET_LABELS:
                    self.fail(where, f"{metric} has no label {label!r} (docs/metrics.md)")
        return used

    def check_watch(self):
        used = set()
        alerts = yaml.safe_load(read("deploy/prometheus/alerts.yml"))
        for g in alerts["groups"]:
            for r in g["rules"]:
                used |= self.check_query(f"deploy/prometheus/alerts.yml {r.get('alert') or r.get('record')}", r["expr"])
        boards = sorted((ROOT / "deploy/grafana").glob("*.json"))
        if not boards:
            self.fail("deploy/grafana", "no dashboard")
        for path in boards:
            rel = path.relative_to(ROOT)
            board = json.loads(path.read_text(encoding="utf-8"))
            panels = list(walk_panels(board.get("panels", [])))
            if not panels:
                self.fail(str(rel), "no panels")
            ids = [p.get("id") for p in panels]
            if len(set(ids)) != len(ids) or None in ids:
                self.fail(str(rel), "panel ids are missing or not unique")
            for var in board.get("templating", {}).get("list", []):
                q = var.get("query")
                q = q.get("query", "") if isinstance(q, dict) else q or ""
                if var.get("type") == "query":
                    self.check_query(f"{rel} variable {var.get('name')!r}", q)
            for p in panels:
                targets = p.get("targets", [])
                if p.get("type") != "row" and not targets:
                    self.fail(str(rel), f"panel {p.get('title')!r} has no query")
                for t in targets:
                    names = self.check_query(f"{rel} panel {p.get('title')!r}", t.get("expr", ""))
                    if not names:
                        self.fail(str(rel), f"panel {p.get('title')!r} queries no marquee metric: {t.get('expr')!r}")
                    for n in names & NOT_YET_EXPORTED:
                        self.fail(str(rel), f"panel {p.get('title')!r} shows {n}, which is not exported")
        for name in sorted(NOT_YET_EXPORTED):
            if name in self.metrics:
                self.fail("NOT_YET_EXPORTED", f"{name} is exported now (docs/metrics.md): remove it from the list")
            if name not in used:
                self.fail("NOT_YET_EXPORTED", f"{name} is used by no alert: remove it from the list")


def check_image(ch, rendered, bins):
    """The Dockerfile builds bin targets that exist, copies files that exist
    and are in the build context, and every path the manifests run or read
    in the image is one the Dockerfile puts there."""
    text = read("Dockerfile")
    ignored = [l.strip().strip("/") for l in read(".dockerignore").splitlines() if l.strip() and not l.startswith("#")]
    built = set(re.findall(r"--bin ([a-z0-9_-]+)", text))
    for b in sorted(built - bins):
        ch.fail("Dockerfile", f"--bin {b} is no bin target of the workspace (cargo metadata)")
    copied = set()
    for m in re.finditer(r"^COPY (?!--from)(.+)$", text, re.M):
        *sources, dest = m.group(1).split()
        for src in sources:
            if src == ".":
                continue
            if not (ROOT / src).exists():
                ch.fail("Dockerfile", f"COPY {src}: no such file")
            if any(src == i or src.startswith(i + "/") for i in ignored):
                ch.fail("Dockerfile", f"COPY {src}: excluded by .dockerignore")
            copied.add(dest.rstrip("/") + ("/" + Path(src).name if dest.endswith("/") and not src.endswith("/") else ""))
    dirs = {str(Path(c).parent) for c in copied} | {c for c in copied}
    image_bins = {f"/app/bin/{b}" for b in built}
    for name, docs in rendered.items():
        for d in docs:
            if d["kind"] != "Deployment":
                continue
            for c in d["spec"]["template"]["spec"]["containers"]:
                if not c["image"].split("/")[-1].startswith("marquee"):
                    continue
                where = f"{name}: Deployment {d['metadata']['name']} container {c['name']}"
                cmd = (c.get("command") or [""])[0]
                if cmd not in image_bins:
                    ch.fail(where, f"command {cmd!r} is not a binary of the image {sorted(image_bins)}")
                for e in c.get("env", []):
                    if e["name"] in ("MODEL_SVC_DATA_DIR", "WEB_DIR", "SCHEDULE_FILE") and e.get("value") not in dirs:
                        ch.fail(where, f"{e['name']}={e.get('value')} is not in the image")


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def load(path):
    return [d for d in yaml.safe_load_all(Path(path).read_text(encoding="utf-8")) if d]


def run(rendered, bins=None):
    """rendered: overlay name -> documents; bins: the workspace's bin
    targets (None: the image is not checked). Returns the errors."""
    ch = Checker()
    if bins is not None:
        check_image(ch, rendered, bins)
    for name, docs in rendered.items():
        gateways = ch.check_overlay(name, docs)
        if name.startswith("canary"):
            ch.check_canary(name, docs, gateways)
    ch.check_watch()
    return ch.errors


def find(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def container(docs, dep):
    return find(docs, "Deployment", dep)["spec"]["template"]["spec"]["containers"][0]


def self_test(rendered):
    """Each break of a correct render must be reported."""
    base = rendered.get("production") or next(iter(rendered.values()))
    breaks = {
        "grace no longer than the drain": lambda d: find(d, "Deployment", "marquee-gateway")["spec"]["template"]["spec"].update(
            terminationGracePeriodSeconds=1
        ),
        "readiness on a path that is not served": lambda d: container(d, "marquee-gateway")["readinessProbe"]["httpGet"].update(path="/ready"),
        "liveness on the public port": lambda d: container(d, "marquee-dispatcher")["livenessProbe"]["httpGet"].update(port=8080),
        "model-svc killed before its answers finish": lambda d: find(d, "Deployment", "marquee-model-svc")["spec"]["template"]["spec"].update(
            terminationGracePeriodSeconds=5
        ),
        "no memory limit": lambda d: container(d, "marquee-model-svc")["resources"]["limits"].pop("memory"),
        "no preStop": lambda d: container(d, "marquee-gateway").pop("lifecycle"),
        "an unknown setting": lambda d: container(d, "marquee-gateway")["env"].append({"name": "DRAIN_MS", "value": "1"}),
        "two pods out at once": lambda d: find(d, "Deployment", "marquee-gateway")["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable=2),
        "pods the scrape job drops": lambda d: find(d, "Deployment", "marquee-dispatcher")["spec"]["template"]["metadata"]["labels"].pop(
            "app.kubernetes.io/part-of"
        ),
        "no CPU in the gateway HPA": lambda d: find(d, "HorizontalPodAutoscaler", "marquee-gateway")["spec"].update(
            metrics=[m for m in find(d, "HorizontalPodAutoscaler", "marquee-gateway")["spec"]["metrics"] if m["type"] != "Resource"]
        ),
    }
    missed = []
    for what, brk in breaks.items():
        docs = copy.deepcopy(base)
        brk(docs)
        if not run({"production": docs}):
            missed.append(what)
    docs = copy.deepcopy(base)
    container(docs, "marquee-dispatcher")["command"] = ["/app/bin/dispatcher"]
    if not run({"production": docs}, {"marquee", "gateway", "model-svc"}):
        missed.append("a command the image does not have")
    if "demo" in rendered:
        docs = copy.deepcopy(rendered["demo"])
        secret = next(d for d in docs if d["kind"] == "Secret")
        secret["data"]["JWT_SECRET"] = base64.b64encode(b"short").decode()
        if not run({"demo": docs}):
            missed.append("a JWT_SECRET the gateway refuses")
    if "canary" in rendered:
        docs = copy.deepcopy(rendered["canary"])
        stable = container(docs, "marquee-gateway")["image"]
        container(docs, "marquee-gateway-canary")["image"] = stable
        if not run({"canary": docs}):
            missed.append("a canary on the stable image")
    # A made-up metric in a rule must be caught too.
    ch = Checker()
    ch.check_query("self-test", 'rate(marquee_made_up_total[5m]) + marquee_seat_operations_total{seat="A1"}')
    if len(ch.errors) != 2:
        missed.append(f"an unexported metric and an undocumented label ({ch.errors})")
    return missed


def main(argv):
    self_testing = "--self-test" in argv
    bins = None
    for a in argv:
        if a.startswith("--cargo-metadata="):
            meta = json.loads(Path(a.partition("=")[2]).read_text())
            bins = {t["name"] for p in meta["packages"] for t in p["targets"] if "bin" in t["kind"]}
    paths = [a for a in argv if not a.startswith("--")]
    if not paths:
        raise SystemExit("usage: deploy_check.py [--self-test] [--cargo-metadata=FILE] NAME=RENDERED.yaml ...")
    rendered = {}
    for arg in paths:
        name, _, path = arg.partition("=")
        rendered[name] = load(path)
    errors = run(rendered, bins)
    for e in errors:
        print(f"deploy_check: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"deploy_check: {len(rendered)} overlays, alerts and dashboards follow the rules")
    if self_testing:
        missed = self_test(rendered)
        for m in missed:
            print(f"deploy_check --self-test: not caught: {m}", file=sys.stderr)
        if missed:
            return 1
        print("deploy_check --self-test: every break was caught")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
