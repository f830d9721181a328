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
