#!/usr/bin/env bash
# Per-request costs that stay repeatable on a busy machine (NOT part of the
# test suite): syscalls (strace -f -c) and instructions (valgrind callgrind)
# of the whole dedup-proxy process, all threads, per answered request.
#
#   tests/bench/profile.sh [PROXY_BIN]    (default: <repo>/build/proxy/dedup-proxy)
#
# Workloads (tests/bench/client.py, keep-alive POSTs with 23-byte bodies):
# replay (one committed key) and newkey (a new key each time) at 1 and 8
# connections, RocksDB store (durable commits), one worker, nginx as the app.
# Environment: PROFILE_REQUESTS (default 4000 under strace, 1000 under
# callgrind), PROFILE_TOOLS ("strace callgrind"), PROFILE_KEEP=DIR (keep the
# callgrind dumps there, for callgrind_annotate), PROFILE_STORE=redis (the
# Redis store on a private redis-server instead of RocksDB), PROFILE_SPECS.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PROXY_BIN="${1:-$REPO/build/proxy/dedup-proxy}"
REPORT="$HERE/report.py"
# shellcheck source=tests/bench/fast_app.sh
. "$HERE/fast_app.sh"
CLIENT="$HERE/client.py"
N_STRACE="${PROFILE_REQUESTS:-4000}"
N_CG="$(( ${PROFILE_REQUESTS:-4000} / 4 ))"
TOOLS="${PROFILE_TOOLS:-strace callgrind}"

TMP="$(mktemp -d /tmp/dedup-profile.XXXXXX)"
chmod 755 "$TMP"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
freeport() { python3 "$REPORT" freeport; }
wait_http() {
  for _ in $(seq 1 600); do curl -fso /dev/null --max-time 1 "$1" && return 0; sleep 0.1; done
  echo "not ready: $1" >&2; exit 1
}

APP_PORT="$(freeport)"
STORE_URI="rocksdb:$TMP/data"
if [[ "${PROFILE_STORE:-rocksdb}" == redis ]]; then
  REDIS_PORT="$(freeport)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$TMP" \
    >"$TMP/redis.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  STORE_URI="redis://127.0.0.1:$REDIS_PORT"
fi
start_fast_app "$TMP/app" "$APP_PORT"; PIDS+=($FAST_APP_PID)
wait_http "http://127.0.0.1:$APP_PORT/"

# start_proxy WRAPPER... : the proxy (one worker) under a wrapper command
start_proxy() {
  PORT="$(freeport)"; ADMIN="$(freeport)"
  rm -rf "$TMP/data"
  "$@" "$PROXY_BIN" --upstream "http://127.0.0.1:$APP_PORT" --listen "127.0.0.1:$PORT" \
    --admin "127.0.0.1:$ADMIN" --store "$STORE_URI" --workers 1 --log-level warn \
    >"$TMP/proxy.log" 2>&1 & WRAP_PID=$!; PIDS+=($WRAP_PID)
  wait_http "http://127.0.0.1:$ADMIN/readyz"
  PROXY_PID="$WRAP_PID"  # valgrind runs the proxy in its own process
}
stop_proxy() { kill -TERM "$PROXY_PID" 2>/dev/null || true; wait "$WRAP_PID" 2>/dev/null || true; }

SPECS="${PROFILE_SPECS:-replay:1 replay:8 newkey:1 newkey:8}"
if [[ " $TOOLS " == *" strace "* ]]; then
  echo "== syscalls per request (strace -f -c, $N_STRACE requests each)"
  for spec in $SPECS; do
    IFS=: read -r mode conns <<<"$spec"
    start_proxy
    python3 "$CLIENT" "http://127.0.0.1:$PORT" "$mode" 200 "$conns" "warm-$mode-$conns" >/dev/null
    # shellcheck disable=SC2046  # one -p per thread
    strace -f -c -o "$TMP/strace.out" $(for t in /proc/"$PROXY_PID"/task/*; do echo -p "${t##*/}"; done) 2>/dev/null & ST=$!
    sleep 1
    ok="$(python3 "$CLIENT" "http://127.0.0.1:$PORT" "$mode" "$N_STRACE" "$conns" "st-$mode-$conns")"
    kill -INT "$ST"; wait "$ST" 2>/dev/null || true
    stop_proxy
    python3 - "$TMP/strace.out" "$ok" "$mode" "$conns" <<'PY'
import sys
path, ok, mode, conns = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
calls = {}
for line in open(path):
    p = line.split()
    if len(p) >= 5 and p[0][0].isdigit() and p[-1] not in ("total",):
        try:
            calls[p[-1]] = int(p[3])
        except ValueError:
            pass
total = sum(calls.values())
top = ", ".join(f"{k} {v / ok:.2f}" for k, v in sorted(calls.items(), key=lambda kv: -kv[1])[:8])
print(f"  {mode:7s} c={conns}: {total / ok:6.2f} syscalls/request ({ok} requests): {top}")
PY
  done
fi

if [[ " $TOOLS " == *" callgrind "* ]] && command -v valgrind >/dev/null; then
  echo "== instructions per request (callgrind, all threads, $N_CG requests each)"
  for spec in $SPECS; do
    IFS=: read -r mode conns <<<"$spec"
    start_proxy valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out.%p" --dump-instr=no --compress-strings=no --compress-pos=no
    python3 "$CLIENT" "http://127.0.0.1:$PORT" "$mode" 100 "$conns" "warm-$mode-$conns" >/dev/null
    callgrind_control -z "$PROXY_PID" >/dev/null 2>&1
    ok="$(python3 "$CLIENT" "http://127.0.0.1:$PORT" "$mode" "$N_CG" "$conns" "cg-$mode-$conns")"
    callgrind_control -d "$PROXY_PID" >/dev/null 2>&1
    stop_proxy
    ir="$(grep -h '^summary:\|^totals:' "$TMP"/cg.out.*.1 2>/dev/null | head -1 | awk '{print $2}')"
    echo "  $mode c=$conns: $(( ${ir:-0} / ok )) instructions/request ($ok requests)"
    [ -n "${PROFILE_KEEP:-}" ] && mkdir -p "$PROFILE_KEEP" && cp "$TMP"/cg.out.*.1 "$PROFILE_KEEP/callgrind.$mode-$conns.out"
    rm -f "$TMP"/cg.out.*
  done
fi
