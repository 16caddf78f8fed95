#!/usr/bin/env bash
# Redis memory per committed key (no response body), measured with the real
# store: starts its own redis-server on a free loopback port (no persistence),
# commits KEYS fresh keys through redis_memory_bench (openRedisStore: the
# proxy's Lua scripts, key naming and record format), and prints INFO memory
# used_memory before/after and the bytes per key. NOT part of the test suite.
#
#   tests/bench/redis_memory.sh [KEYS] [BUILD_DIR]   (default 1000000, <repo>/build)
#
# Environment: REDIS_MEMORY_PREFIX (default "dedup:"), REDIS_MEMORY_FINGERPRINT=1
# (each key also keeps a payload fingerprint), REDIS_MEMORY_CLUSTER=1 (a
# one-node Redis Cluster serving every slot, through redis-cluster://),
# REDIS_MEMORY_MAX_SECONDS (watchdog, default 600).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
KEYS="${1:-1000000}"
BUILD="${2:-$REPO/build}"
BENCH="$BUILD/tests/bench/redis_memory_bench"
PREFIX="${REDIS_MEMORY_PREFIX:-dedup:}"
MAX_SECONDS="${REDIS_MEMORY_MAX_SECONDS:-600}"
FINGERPRINT=""
[[ "${REDIS_MEMORY_FINGERPRINT:-0}" == 1 ]] && FINGERPRINT=fingerprint

[[ -x "$BENCH" ]] || { echo "redis_memory: build $BENCH first (scripts/build.sh)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis_memory: redis-server missing" >&2; exit 2; }

work="$(mktemp -d)"
CLUSTER_ARGS=()
if [[ "${REDIS_MEMORY_CLUSTER:-0}" == 1 ]]; then
  # The cluster bus listens on port + 10000.
  port="$(python3 -c 'import random; print(random.randrange(10000, 22000))')"
  CLUSTER_ARGS=(--cluster-enabled yes --cluster-config-file "$work/nodes.conf")
  export DEDUP_BENCH_CLUSTER=1
else
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
fi
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  "${CLUSTER_ARGS[@]}" >"$work/redis.log" 2>&1 &
redis_pid=$!
cleanup() {
  kill "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cli() { timeout 30 redis-cli -p "$port" "$@"; }
for _ in $(seq 1 200); do
  [[ "$(cli PING 2>/dev/null || true)" == PONG ]] && break
  sleep 0.05  # polling for start-up only
done
[[ "$(cli PING)" == PONG ]] || { echo "redis_memory: redis-server did not start" >&2; exit 1; }
if [[ "${REDIS_MEMORY_CLUSTER:-0}" == 1 ]]; then
  cli CLUSTER ADDSLOTSRANGE 0 16383 >/dev/null
  for _ in $(seq 1 200); do
    cli CLUSTER INFO | grep -q cluster_state:ok && break
    sleep 0.05  # polling for the cluster state only
  done
fi

used_memory() { cli INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'; }

# Warm up (connection, scripts loaded) with one key, then measure.
"$BENCH" "$port" 1 "warm:" >/dev/null
before="$(used_memory)"
timeout "$MAX_SECONDS" "$BENCH" "$port" "$KEYS" "$PREFIX" $FINGERPRINT
after="$(used_memory)"
count="$(cli DBSIZE)"
[[ "${REDIS_MEMORY_CLUSTER:-0}" == 1 ]] && PREFIX="$PREFIX (cluster)"
python3 - "$before" "$after" "$KEYS" "$count" "$PREFIX" "${FINGERPRINT:-no fingerprint}" "$(redis-server --version | awk '{print $3}' | sed 's/^v=//')" <<'PY'
import sys
before, after, keys, count = map(int, sys.argv[1:5])
prefix, fingerprint, version = sys.argv[5], sys.argv[6], sys.argv[7]
print("redis %s, prefix %r, %s, no body: %d keys committed (DBSIZE %d)"
      % (version, prefix, fingerprint, keys, count))
print("used_memory before %d, after %d bytes" % (before, after))
print("bytes per committed key: %.1f" % ((after - before) / keys))
PY
