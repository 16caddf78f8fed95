#!/usr/bin/env bash
# Side-by-side throughput/latency benchmark (NOT part of the test suite).
#
#   tests/bench/run.sh [BUILD_DIR]        (default BUILD_DIR: <repo>/build)
#
# Paths, all on 127.0.0.1, all in front of the same fast app (nginx `return 200`):
#   direct         wrk -> app
#   nginx          wrk -> nginx proxy_pass (keep-alive upstream) -> app
#   dedup-rocksdb  wrk -> dedup-proxy --store rocksdb:<tmp> -> app
#   dedup-redis    wrk -> dedup-proxy --store redis://127.0.0.1:<port> -> app,
#                  with a private redis-server (appendonly, appendfsync always)
#   dedup-redis-cluster  wrk -> dedup-proxy --store redis-cluster://… -> app,
#                  with a private 3-master Redis Cluster (no replicas; same
#                  appendfsync)
# Workloads (tests/bench/workload.lua): newkey, replay, mix (50/50), newkey1k
# (1 KiB body); POST, keep-alive; 1 and 32 connections.
# Express pair (BENCH_EXPRESS=0 skips it): a single-threaded Node Express app
# (tests/bench/express_app, express pinned by its package-lock.json; `npm ci`
# from the npm registry when node_modules is missing or stale, unless
# BENCH_NO_INSTALL=1) measured alone and behind dedup-proxy (RocksDB, durable),
# newkey1k at 32 connections, to print "behind dedup-proxy ÷ alone" (and,
# for reference, behind nginx proxy_pass ÷ alone).
# Per run: CPU (utime+stime) and context switches (voluntary + nonvoluntary,
# every thread of /proc/PID/task) of the proxy's processes, per request. Before
# the paths: one fdatasync of this disk measured in the bench's temp dir
# (BENCH_FSYNC_SAMPLES appends of 4 KiB, each followed by fdatasync; p50, p90).
# Then a start-up step: BENCH_READY_KEYS (default 1000000) committed keys are
# loaded through the store API (dedup-bench-load), the proxy is started on
# them and timed until /readyz answers 200, and its RSS when ready (and after
# 2 s of new keys) is compared with the same on an empty store (RocksDB
# resident per key).
# Results: BUILD_DIR/bench/results.{md,csv} and results.png (gnuplot; the
# script apt-get installs gnuplot-nox when it is missing and it may).
#
# Environment: BENCH_DURATION (s, default 6), BENCH_WORKERS (default 2),
# BENCH_NO_INSTALL=1 (never apt-get gnuplot), BENCH_REDIS=0 (skip Redis),
# BENCH_REDIS_FSYNC (redis-server appendfsync: always (default) or everysec),
# BENCH_REDIS_CLUSTER=0 (skip the Redis Cluster column),
# BENCH_READY_KEYS=0 (skip the start-up step), BENCH_EXPRESS=0 (skip the
# Express pair), BENCH_FSYNC_SAMPLES (default 200; 0 skips the fsync timing).
# Bounded: a watchdog kills the run after BENCH_MAX_SECONDS (default 400).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="${1:-$REPO/build}"
OUT="$BUILD/bench"
PROXY_BIN="$BUILD/proxy/dedup-proxy"
DUR="${BENCH_DURATION:-6}"
READY_KEYS="${BENCH_READY_KEYS:-1000000}"
REDIS_FSYNC="${BENCH_REDIS_FSYNC:-always}"
LOADER="$BUILD/tests/bench/dedup-bench-load"
WORKERS="${BENCH_WORKERS:-2}"
MAX_SECONDS="${BENCH_MAX_SECONDS:-400}"
FSYNC_SAMPLES="${BENCH_FSYNC_SAMPLES:-200}"
EXPRESS_DIR="$HERE/express_app"
WARM_KEYS=16
REPORT="$HERE/report.py"
# shellcheck source=tests/bench/fast_app.sh
. "$HERE/fast_app.sh"
LUA="$HERE/workload.lua"

die() { echo "run.sh: $*" >&2; exit 1; }

# ---- prerequisites ---------------------------------------------------------
for t in wrk nginx curl python3 timeout; do
  command -v "$t" >/dev/null || die "missing '$t' (apt-get install wrk nginx-light curl python3 coreutils)"
done
[ -x "$PROXY_BIN" ] || die "no $PROXY_BIN: run scripts/build.sh release first"
HAVE_STRACE=0; command -v strace >/dev/null && HAVE_STRACE=1
if ! command -v gnuplot >/dev/null && [ "${BENCH_NO_INSTALL:-0}" != 1 ] && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  echo "gnuplot missing: trying apt-get install gnuplot-nox (60 s max)"
  timeout 60 $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null 2>&1 \
    || echo "  (gnuplot not installed: no chart)"
fi

# ---- process bookkeeping ---------------------------------------------------
TMP="$(mktemp -d /tmp/dedup-bench.XXXXXX)"
chmod 755 "$TMP"
PIDS=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  pkill -TERM -P "$WD_PID" 2>/dev/null || true  # the watchdog's sleep
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'echo "run.sh: stopped (watchdog or signal)" >&2; exit 143' TERM
( sleep "$MAX_SECONDS" && kill -TERM $$ ) 2>/dev/null & WD_PID=$!; PIDS+=($WD_PID)
forget() { local keep=() p; for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; PIDS=("${keep[@]}"); }
stop() { kill -TERM "$1" 2>/dev/null || true; timeout 10 tail --pid="$1" -f /dev/null 2>/dev/null || kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; forget "$1"; }

freeport() { python3 "$REPORT" freeport; }
wait_http() {  # URL [method]
  local i
  for i in $(seq 1 100); do curl -fso /dev/null --max-time 1 "$1" && return 0; sleep 0.1; done
  die "not ready: $1"
}
tree_pids() { echo "$1" $(pgrep -P "$1" 2>/dev/null || true); }

# ---- the app: nginx returning 200 for everything ------------------------------
APP_PORT="$(freeport)"
start_fast_app "$TMP/app" "$APP_PORT"; APP_PID=$FAST_APP_PID; PIDS+=($APP_PID)
wait_http "http://127.0.0.1:$APP_PORT/"
# CUR_APP_PID: the app the current path forwards to (the Express pair sets it).
app_ticks() { python3 "$REPORT" cputicks $(tree_pids "${CUR_APP_PID:-$APP_PID}"); }

RUN_PREFIX="run$(date +%s)-$RANDOM$RANDOM"
RAW="$TMP/raw.jsonl"; : >"$RAW"
SMALL_BODY='{"event":"bench","n":1}'

prewarm() {  # BASE_URL: commit the replay keys (same body as workload.lua)
  local i
  for i in $(seq 0 $((WARM_KEYS-1))); do
    curl -fs -o /dev/null --max-time 5 -X POST "$1/events" -H 'Content-Type: application/json' \
      -H "Idempotency-Key: $RUN_PREFIX-warm-$i" --data-binary "$SMALL_BODY" || die "prewarm failed on $1"
  done
}

# run_matrix NAME BASE_URL PROXY_PID(or "") ADMIN_URL(or "")
# SPECS (workload:conns:body bytes ...) defaults to the full matrix.
MATRIX="newkey:1:0 newkey:32:0 replay:1:0 replay:32:0 mix:32:0 newkey1k:32:1024"
run_matrix() {
  local name="$1" base="$2" ppid="$3" admin="$4"
  prewarm "$base"
  # 2 s warm-up, not recorded
  timeout 20 wrk -t2 -c32 -d2s -s "$LUA" "$base/events" -- newkey 0 "$RUN_PREFIX-$name-wu" $WARM_KEYS "$RUN_PREFIX" >/dev/null
  local spec wl conns body threads
  for spec in ${SPECS:-$MATRIX}; do
    IFS=: read -r wl conns body <<<"$spec"
    threads=2; [ "$conns" -lt 2 ] && threads=1
    local mode="$wl"; [ "$wl" = newkey1k ] && mode=newkey
    local f="$TMP/$name-$wl-$conns"
    local pids="" cpu0=-1 cpu1=-1 app0 app1 hwm=0 strace_pid=""
    [ -n "$ppid" ] && pids="$(tree_pids "$ppid")"
    [ -n "$admin" ] && curl -fs --max-time 2 "$admin/metrics" >"$f.m0" || true
    # fsyncs: only when the proxy does not export store_syncs/commits, strace
    # the new-key 32-conn run (this slows that run down; noted in the output).
    if [ "$name" = dedup-rocksdb ] && [ "$wl" = newkey ] && [ "$conns" = 32 ] \
       && ! grep -q '^dedup_proxy_store_syncs_total' "$f.m0" 2>/dev/null && [ "$HAVE_STRACE" = 1 ]; then
      timeout $((DUR+10)) strace -f -c -e trace=fsync,fdatasync -o "$f.strace" -p "$ppid" 2>/dev/null & strace_pid=$!; PIDS+=($strace_pid)
      sleep 0.5
      echo "  (strace attached for fsync counting: $name $wl $conns is slowed down)"
    fi
    local ctx0=-1 ctx1=-1
    [ -n "$pids" ] && cpu0="$(python3 "$REPORT" cputicks $pids)" && ctx0="$(python3 "$REPORT" ctxsw $pids)"
    app0="$(app_ticks)"
    local st0=0 st1=0
    [ -n "${STORE_PID:-}" ] && st0="$(python3 "$REPORT" cputicks "$STORE_PID")"
    timeout $((DUR+20)) wrk -t"$threads" -c"$conns" -d"${DUR}s" --timeout 5s --latency -s "$LUA" \
      "$base/events" -- "$mode" "$body" "$RUN_PREFIX-$name-$wl-$conns" $WARM_KEYS "$RUN_PREFIX" >"$f.wrk" 2>&1 || true
    [ -n "$pids" ] && ctx1="$(python3 "$REPORT" ctxsw $pids)" && cpu1="$(python3 "$REPORT" cputicks $pids)" \
      && hwm="$(python3 "$REPORT" hwm $pids)"
    app1="$(app_ticks)"
    [ -n "${STORE_PID:-}" ] && st1="$(python3 "$REPORT" cputicks "$STORE_PID")"
    if [ -n "$strace_pid" ]; then kill -INT "$strace_pid" 2>/dev/null || true; wait "$strace_pid" 2>/dev/null || true; forget "$strace_pid"; fi
    [ -n "$admin" ] && curl -fs --max-time 2 "$admin/metrics" >"$f.m1" || true
    python3 "$REPORT" record --raw "$RAW" --path "$name" --workload "$wl" --conns "$conns" \
      --wrk-out "$f.wrk" --cpu-before "$cpu0" --cpu-after "$cpu1" --ctx-before "$ctx0" --ctx-after "$ctx1" --app-cpu-before "$app0" \
      --app-cpu-after "$app1" --store-cpu-before "$st0" --store-cpu-after "$st1" --hwm "$hwm" --metrics-before "$f.m0" --metrics-after "$f.m1" \
      $( [ -n "$strace_pid" ] && echo --strace-out "$f.strace" )
    grep -h '^BENCH_RESULT' "$f.wrk" | sed "s/^/  $name $wl c=$conns /" || echo "  $name $wl c=$conns: wrk failed: $(tail -2 "$f.wrk")"
  done
}

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "load before start: $LOAD_START (nproc $(nproc)); duration ${DUR}s per run"

# ---- one fsync of this disk (the temp dir holds the RocksDB data too) -------------
if [ "$FSYNC_SAMPLES" -gt 0 ]; then
  FSYNC_MS="$(python3 "$REPORT" fsynctime "$TMP" "$FSYNC_SAMPLES")"  # "p50 p90"
  read -r FSYNC_P50 FSYNC_P90 <<<"$FSYNC_MS"
  echo "fdatasync after a 4 KiB append in $TMP: p50 ${FSYNC_P50} ms, p90 ${FSYNC_P90} ms ($FSYNC_SAMPLES samples)"
  python3 "$REPORT" extra "$RAW" "fsync_p50_ms=$FSYNC_P50" "fsync_p90_ms=$FSYNC_P90" "fsync_samples=$FSYNC_SAMPLES"
fi

# ---- direct ---------------------------------------------------------------------
echo "== direct"
run_matrix direct "http://127.0.0.1:$APP_PORT" "" ""

# ---- nginx proxy_pass -------------------------------------------------------------
echo "== nginx"
# start_nginx_proxy DIR UPSTREAM_PORT -> sets NGX_PORT, NGX_PID: nginx
# proxy_pass with a keep-alive upstream, $WORKERS workers.
start_nginx_proxy() {
  local dir="$1" up="$2"
  NGX_PORT="$(freeport)"
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes $WORKERS;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$up; keepalive 64; }
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
  nginx -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf" & NGX_PID=$!; PIDS+=($NGX_PID)
}
start_nginx_proxy "$TMP/ngx" "$APP_PORT"
wait_http "http://127.0.0.1:$NGX_PORT/"
run_matrix nginx "http://127.0.0.1:$NGX_PORT" "$NGX_PID" ""
stop "$NGX_PID"

# ---- dedup-proxy, RocksDB store ------------------------------------------------------
echo "== dedup-rocksdb"
# start_dedup_rocksdb APP_PORT NAME: dedup-proxy (RocksDB in $TMP/NAME-data,
# log $TMP/NAME.log) in front of the app; sets DP_PORT, DP_ADMIN, DP_PID.
start_dedup_rocksdb() {
  DP_PORT="$(freeport)"; DP_ADMIN="$(freeport)"
  "$PROXY_BIN" --upstream "http://127.0.0.1:$1" --listen "127.0.0.1:$DP_PORT" \
    --admin "127.0.0.1:$DP_ADMIN" --store "rocksdb:$TMP/$2-data" --workers "$WORKERS" \
    --log-level warn >"$TMP/$2.log" 2>&1 & DP_PID=$!; PIDS+=($DP_PID)
  wait_http "http://127.0.0.1:$DP_ADMIN/readyz"
}
start_dedup_rocksdb "$APP_PORT" dedup
run_matrix dedup-rocksdb "http://127.0.0.1:$DP_PORT" "$DP_PID" "http://127.0.0.1:$DP_ADMIN"
stop "$DP_PID"
[ -s "$TMP/dedup.log" ] && { echo "dedup-proxy log (warn+):"; tail -5 "$TMP/dedup.log"; }

# ---- dedup-proxy, Redis store ----------------------------------------------------------
if [ "${BENCH_REDIS:-1}" != 0 ] && command -v redis-server >/dev/null; then
  echo "== dedup-redis"
  RD_PORT="$(freeport)"
  # Durable like the RocksDB path by default: every write fsynced before Redis
  # answers (BENCH_REDIS_FSYNC=everysec for Redis's usual setting).
  redis-server --bind 127.0.0.1 --port "$RD_PORT" --save '' --appendonly yes --appendfsync "$REDIS_FSYNC" \
    --dir "$TMP" >"$TMP/redis.log" 2>&1 & RD_PID=$!; PIDS+=($RD_PID)
  for _ in $(seq 50); do redis-cli -p "$RD_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  DR_PORT="$(freeport)"; DR_ADMIN="$(freeport)"
  "$PROXY_BIN" --upstream "http://127.0.0.1:$APP_PORT" --listen "127.0.0.1:$DR_PORT" \
    --admin "127.0.0.1:$DR_ADMIN" --store "redis://127.0.0.1:$RD_PORT" --workers "$WORKERS" \
    --log-level warn >"$TMP/dedup-redis.log" 2>&1 & DR_PID=$!; PIDS+=($DR_PID)
  wait_http "http://127.0.0.1:$DR_ADMIN/readyz"
  STORE_PID="$RD_PID" run_matrix dedup-redis "http://127.0.0.1:$DR_PORT" "$DR_PID" "http://127.0.0.1:$DR_ADMIN"
  stop "$DR_PID"; stop "$RD_PID"
  [ -s "$TMP/dedup-redis.log" ] && { echo "dedup-proxy (redis) log (warn+):"; tail -5 "$TMP/dedup-redis.log"; }
else
  python3 "$REPORT" skip --raw "$RAW" --path dedup-redis --reason "no redis-server, or BENCH_REDIS=0"
fi

# ---- dedup-proxy, Redis Cluster store ----------------------------------------------
if [ "${BENCH_REDIS:-1}" != 0 ] && [ "${BENCH_REDIS_CLUSTER:-1}" != 0 ] && command -v redis-server >/dev/null; then
  echo "== dedup-redis-cluster"
  RC_NODES=()
  for i in 0 1 2; do
    # The cluster bus listens on port + 10000; both below the ephemeral range.
    port="$(python3 -c 'import random, socket
while True:
    p = random.randrange(10000, 22000)
    try:
        a, b = socket.socket(), socket.socket(); a.bind(("127.0.0.1", p)); b.bind(("127.0.0.1", p + 10000)); print(p); break
    except OSError: pass')"
    mkdir -p "$TMP/rc$i"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly yes --appendfsync "$REDIS_FSYNC" \
      --dir "$TMP/rc$i" --cluster-enabled yes --cluster-config-file "$TMP/rc$i/nodes.conf" \
      >"$TMP/rc$i/redis.log" 2>&1 & PIDS+=($!)
    RC_NODES+=("127.0.0.1:$port")
  done
  for node in "${RC_NODES[@]}"; do
    for _ in $(seq 50); do redis-cli -p "${node##*:}" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  timeout 60 redis-cli --cluster create "${RC_NODES[@]}" --cluster-yes >"$TMP/rc-create.log" 2>&1 \
    || die "redis-cli --cluster create failed: $(tail -3 "$TMP/rc-create.log")"
  for _ in $(seq 100); do
    redis-cli -p "${RC_NODES[0]##*:}" cluster info | grep -q cluster_state:ok && break; sleep 0.1
  done
  RC_URI="redis-cluster://$(IFS=,; echo "${RC_NODES[*]}")"
  DC_PORT="$(freeport)"; DC_ADMIN="$(freeport)"
  "$PROXY_BIN" --upstream "http://127.0.0.1:$APP_PORT" --listen "127.0.0.1:$DC_PORT" \
    --admin "127.0.0.1:$DC_ADMIN" --store "$RC_URI" --workers "$WORKERS" \
    --log-level warn >"$TMP/dedup-cluster.log" 2>&1 & DC_PID=$!; PIDS+=($DC_PID)
  wait_http "http://127.0.0.1:$DC_ADMIN/readyz"
  run_matrix dedup-redis-cluster "http://127.0.0.1:$DC_PORT" "$DC_PID" "http://127.0.0.1:$DC_ADMIN"
  stop "$DC_PID"
  [ -s "$TMP/dedup-cluster.log" ] && { echo "dedup-proxy (redis cluster) log (warn+):"; tail -5 "$TMP/dedup-cluster.log"; }
else
  python3 "$REPORT" skip --raw "$RAW" --path dedup-redis-cluster --reason "no redis-server, or BENCH_REDIS=0 / BENCH_REDIS_CLUSTER=0"
fi

# ---- an Express consumer, alone and behind dedup-proxy (RocksDB) ------------------------
EXPRESS_SKIP=""
if [ "${BENCH_EXPRESS:-1}" = 0 ]; then
  EXPRESS_SKIP="BENCH_EXPRESS=0"
elif ! command -v node >/dev/null; then
  EXPRESS_SKIP="no node (apt-get install nodejs npm)"
elif [ "${BENCH_NO_INSTALL:-0}" = 1 ] && [ ! -d "$EXPRESS_DIR/node_modules/express" ]; then
  EXPRESS_SKIP="no $EXPRESS_DIR/node_modules and BENCH_NO_INSTALL=1 (run scripts/setup.sh)"
elif [ "${BENCH_NO_INSTALL:-0}" != 1 ] && ! timeout 180 "$REPO/scripts/npm_ci_stamped.sh" "$EXPRESS_DIR" "bench Express app" >"$TMP/npm.log" 2>&1; then
  EXPRESS_SKIP="npm ci failed: $(tail -1 "$TMP/npm.log")"
fi
if [ -z "$EXPRESS_SKIP" ]; then
  echo "== express"
  EX_PORT="$(freeport)"
  node "$EXPRESS_DIR/server.js" "$EX_PORT" >"$TMP/express.log" 2>&1 & EX_PID=$!; PIDS+=($EX_PID)
  wait_http "http://127.0.0.1:$EX_PORT/"
  CUR_APP_PID="$EX_PID" SPECS="newkey1k:32:1024" run_matrix express "http://127.0.0.1:$EX_PORT" "" ""
  echo "== nginx-express (reference: a plain proxy in front of the same app)"
  start_nginx_proxy "$TMP/ngx-express" "$EX_PORT"
  wait_http "http://127.0.0.1:$NGX_PORT/"
  CUR_APP_PID="$EX_PID" SPECS="newkey1k:32:1024" run_matrix nginx-express "http://127.0.0.1:$NGX_PORT" "$NGX_PID" ""
  stop "$NGX_PID"
  echo "== dedup-express"
  start_dedup_rocksdb "$EX_PORT" dedup-express
  CUR_APP_PID="$EX_PID" SPECS="newkey1k:32:1024" run_matrix dedup-express "http://127.0.0.1:$DP_PORT" "$DP_PID" "http://127.0.0.1:$DP_ADMIN"
  stop "$DP_PID"; stop "$EX_PID"
  [ -s "$TMP/dedup-express.log" ] && { echo "dedup-proxy (express) log (warn+):"; tail -5 "$TMP/dedup-express.log"; }
else
  echo "== express: skipped ($EXPRESS_SKIP)"
  python3 "$REPORT" skip --raw "$RAW" --path express --reason "$EXPRESS_SKIP"
fi

# ---- start-up and resident memory with many keys on disk ---------------------------------
# start_proxy DIR -> sets SP_PID, SP_PORT, SP_ADMIN, SP_READY (seconds to /readyz 200)
start_proxy() {
  SP_PORT="$(freeport)"; SP_ADMIN="$(freeport)"
  local t0; t0="$(date +%s.%N)"
  "$PROXY_BIN" --upstream "http://127.0.0.1:$APP_PORT" --listen "127.0.0.1:$SP_PORT" \
    --admin "127.0.0.1:$SP_ADMIN" --store "rocksdb:$1" --workers "$WORKERS" \
    --log-level warn >>"$TMP/dedup-ready.log" 2>&1 & SP_PID=$!; PIDS+=($SP_PID)
  SP_READY="$(python3 "$REPORT" waitready "http://127.0.0.1:$SP_ADMIN/readyz" "$t0" --limit 30)"
  [ "$SP_READY" != -1 ] || die "not ready within 30 s: $1"
  SP_RSS_READY="$(python3 "$REPORT" rss "$SP_PID")"
}
# touch_and_rss: 2 s of new keys (every begin looks the key up on disk), then VmRSS in KiB
touch_and_rss() {
  timeout 20 wrk -t2 -c8 -d2s -s "$LUA" "http://127.0.0.1:$SP_PORT/events" -- newkey 0 "$RUN_PREFIX-touch-$1" $WARM_KEYS "$RUN_PREFIX" >/dev/null 2>&1 || true
  python3 "$REPORT" rss "$SP_PID"
}
if [ "$READY_KEYS" -gt 0 ] && [ -x "$LOADER" ]; then
  echo "== start-up with $READY_KEYS keys on disk"
  "$LOADER" "$TMP/ready-data" "$READY_KEYS" >"$TMP/load.out" 2>&1 || die "loader failed: $(cat "$TMP/load.out")"
  cat "$TMP/load.out"
  LOAD_S="$(sed -n 's/.* in \([0-9.]*\) s.*/\1/p' "$TMP/load.out")"
  start_proxy "$TMP/empty-data"; READY_EMPTY="$SP_READY"; RSS0_EMPTY="$SP_RSS_READY"; RSS_EMPTY="$(touch_and_rss empty)"; stop "$SP_PID"
  start_proxy "$TMP/ready-data"; READY_LOADED="$SP_READY"; RSS0_LOADED="$SP_RSS_READY"; RSS_LOADED="$(touch_and_rss loaded)"; stop "$SP_PID"
  DB_KB="$(du -sk "$TMP/ready-data" | cut -f1)"
  python3 "$REPORT" extra "$RAW" "ready_keys=$READY_KEYS" "ready_s=$READY_LOADED" "ready_empty_s=$READY_EMPTY" \
    "rss_empty_mib=$(python3 -c "print(f'{$RSS_EMPTY/1024:.2f}')")" \
    "rss_loaded_mib=$(python3 -c "print(f'{$RSS_LOADED/1024:.2f}')")" \
    "rss0_empty_mib=$(python3 -c "print(f'{$RSS0_EMPTY/1024:.2f}')")" \
    "rss0_loaded_mib=$(python3 -c "print(f'{$RSS0_LOADED/1024:.2f}')")" \
    "resident_mib_per_million=$(python3 -c "print(f'{max($RSS0_LOADED-$RSS0_EMPTY,0)/1024*1e6/$READY_KEYS:.3f}')")" \
    "resident_traffic_mib_per_million=$(python3 -c "print(f'{max($RSS_LOADED-$RSS_EMPTY,0)/1024*1e6/$READY_KEYS:.3f}')")" \
    "db_disk_mib=$(python3 -c "print(f'{$DB_KB/1024:.1f}')")" "load_s=${LOAD_S:-0.0}"
  echo "  ready in ${READY_LOADED}s with $READY_KEYS keys (${READY_EMPTY}s empty); RSS ${RSS_LOADED} KiB vs ${RSS_EMPTY} KiB empty"
elif [ "$READY_KEYS" -gt 0 ]; then
  echo "  (no $LOADER: start-up step skipped; build the tests too)"
fi
python3 "$REPORT" extra "$RAW" "redis_appendfsync=$REDIS_FSYNC"
python3 "$REPORT" extra "$RAW" "conditions=$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)); load average at start ${LOAD_START}, at end $(cut -d' ' -f1-3 /proc/loadavg); ${DUR} s per run, $WORKERS workers per proxy${FSYNC_P50:+; fdatasync of this disk (4 KiB append, $FSYNC_SAMPLES samples) p50 $FSYNC_P50 ms, p90 $FSYNC_P90 ms}"

# ---- report ---------------------------------------------------------------------------
mkdir -p "$OUT"
cp "$RAW" "$OUT/raw.jsonl"
echo
python3 "$REPORT" report "$RAW" "$OUT"
if command -v gnuplot >/dev/null; then
  timeout 20 gnuplot <<GP 2>/dev/null && echo "chart: $OUT/results.png" || echo "(chart failed)"
set terminal png size 1000,500 noenhanced
set output "$OUT/results.png"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "requests/s"
set key top right
set xtics rotate by -30
set key autotitle columnhead
plot "$OUT/chart.dat" using 2:xtic(1), '' using 3, '' using 4, '' using 5, '' using 6
GP
fi
echo "results: $OUT/results.md $OUT/results.csv"
