#!/usr/bin/env bash
# npm ci in DIR only when DIR/node_modules is missing or was installed from
# another package-lock.json: a stamp with the lock file's sha256 is kept in
# node_modules, so a second run is instant. Used by scripts/setup.sh (the npm
# senders, the bench's Express app) and tests/bench/run.sh.
#
#   scripts/npm_ci_stamped.sh DIR [LABEL]
set -euo pipefail

dir="$1"
label="${2:-$dir}"
stamp="$dir/node_modules/.installed-lock.sha256"
lock_sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_sum" ]]; then
  echo "setup: $label up to date"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "setup: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }
echo "setup: npm ci in $dir"
(cd "$dir" && npm ci --no-audit --no-fund)
echo "$lock_sum" >"$stamp"
