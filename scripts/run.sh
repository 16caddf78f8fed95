#!/usr/bin/env bash
# Installs what is needed, builds the release preset, and runs dedup-proxy
# with the embedded RocksDB store. Every argument goes to dedup-proxy:
#   scripts/run.sh --upstream http://127.0.0.1:3000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
scripts/build.sh release
exec build/proxy/dedup-proxy "$@"
