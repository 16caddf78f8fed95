#!/usr/bin/env bash
# Side-by-side throughput/latency benchmark (NOT part of the test suite).
#
#   tests/bench/run.sh [BUILD_DIR]        (default BUILD_DIR: <repo>/build)
#
# Paths, all on 127.0.0.1, all in front of the same fast app (nginx `return 200`):
#   direct         wrk -> app
#   nginx          wrk -> nginx proxy_pass (keep-alive upstream) -> app
#   dedup-rocksdb  wrk -> dedup-proxy --store rocksdb:<tmp> -> app
#   dedup-redis    SLOT, skipped: the Redis store does not exist yet
# Workloads (tests/bench/workload.lua): newkey, replay, mix (50/50), newkey1k
# (1 KiB body); POST, keep-alive. Results: BUILD_DIR/bench/results.{md,csv}
# (+ results.png if gnuplot is available).
#
# Environment: BENCH_DURATION (s, default 8), BENCH_WORKERS (default 2),
# BENCH_NO_INSTALL=1 (never apt-get gnuplot), BENCH_REDIS=1 + BENCH_REDIS_STORE
# (e.g. "redis://127.0.0.1:{port}") once the Redis store exists.
# Bounded: a watchdog kills the run after BENCH_MAX_SECONDS (default 290).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="${1:-$REPO/build}"
OUT="$BUILD/bench"
PROXY_BIN="$BUILD/proxy/dedup-proxy"
DUR="${BENCH_DURATION:-8}"
WORKERS="${BENCH_WORKERS:-2}"
MAX_SECONDS="${BENCH_MAX_SECONDS:-290}"
WARM_KEYS=16
REPORT="$HERE/report.py"
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
mkdir -p "$TMP/app/logs"
cat >"$TMP/app/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $TMP/app/nginx.pid;
error_log $TMP/app/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/app/body;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$APP_PORT;
    default_type application/json;
    location / { return 200 '{"ok":true}'; }
  }
}
CONF
nginx -e "$TMP/app/logs/error.log" -p "$TMP/app" -c "$TMP/app/nginx.conf" & APP_PID=$!; PIDS+=($APP_PID)
wait_http "http://127.0.0.1:$APP_PORT/"
app_ticks() { python3 "$REPORT" cputicks $(tree_pids "$APP_PID"); }

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
run_matrix() {
  local name="$1" base="$2" ppid="$3" admin="$4"
  prewarm "$base"
  # 2 s warm-up, not recorded
  timeout 20 wrk -t2 -c32 -d2s -s "$LUA" "$base/events" -- newkey 0 "$RUN_PREFIX-$name-wu" $WARM_KEYS "$RUN_PREFIX" >/dev/null
  local spec wl conns body threads
  for spec in newkey:1:0 newkey:32:0 replay:1:0 replay:32:0 mix:32:0 newkey1k:32:1024; do
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
    [ -n "$pids" ] && cpu0="$(python3 "$REPORT" cputicks $pids)"
    app0="$(app_ticks)"
    timeout $((DUR+20)) wrk -t"$threads" -c"$conns" -d"${DUR}s" --timeout 5s --latency -s "$LUA" \
      "$base/events" -- "$mode" "$body" "$RUN_PREFIX-$name-$wl-$conns" $WARM_KEYS "$RUN_PREFIX" >"$f.wrk" 2>&1 || true
    [ -n "$pids" ] && cpu1="$(python3 "$REPORT" cputicks $pids)" && hwm="$(python3 "$REPORT" hwm $pids)"
    app1="$(app_ticks)"
    if [ -n "$strace_pid" ]; then kill -INT "$strace_pid" 2>/dev/null || true; wait "$strace_pid" 2>/dev/null || true; forget "$strace_pid"; fi
    [ -n "$admin" ] && curl -fs --max-time 2 "$admin/metrics" >"$f.m1" || true
    python3 "$REPORT" record --raw "$RAW" --path "$name" --workload "$wl" --conns "$conns" \
      --wrk-out "$f.wrk" --cpu-before "$cpu0" --cpu-after "$cpu1" --app-cpu-before "$app0" \
      --app-cpu-after "$app1" --hwm "$hwm" --metrics-before "$f.m0" --metrics-after "$f.m1" \
      $( [ -n "$strace_pid" ] && echo --strace-out "$f.strace" )
    grep -h '^BENCH_RESULT' "$f.wrk" | sed "s/^/  $name $wl c=$conns /" || echo "  $name $wl c=$conns: wrk failed: $(tail -2 "$f.wrk")"
  done
}

echo "load before start: $(cut -d' ' -f1-3 /proc/loadavg) (nproc $(nproc)); duration ${DUR}s per run"

# ---- direct ---------------------------------------------------------------------
echo "== direct"
run_matrix direct "http://127.0.0.1:$APP_PORT" "" ""

# ---- nginx proxy_pass -------------------------------------------------------------
echo "== nginx"
NGX_PORT="$(freeport)"
mkdir -p "$TMP/ngx/logs"
cat >"$TMP/ngx/nginx.conf" <<CONF
daemon off;
worker_processes $WORKERS;
pid $TMP/ngx/nginx.pid;
error_log $TMP/ngx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/ngx/body;
  proxy_temp_path $TMP/ngx/proxy;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$APP_PORT; keepalive 64; }
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
nginx -e "$TMP/ngx/logs/error.log" -p "$TMP/ngx" -c "$TMP/ngx/nginx.conf" & NGX_PID=$!; PIDS+=($NGX_PID)
wait_http "http://127.0.0.1:$NGX_PORT/"
run_matrix nginx "http://127.0.0.1:$NGX_PORT" "$NGX_PID" ""
stop "$NGX_PID"

# ---- dedup-proxy, RocksDB store ------------------------------------------------------
echo "== dedup-rocksdb"
DP_PORT="$(freeport)"; DP_ADMIN="$(freeport)"
"$PROXY_BIN" --upstream "http://127.0.0.1:$APP_PORT" --listen "127.0.0.1:$DP_PORT" \
  --admin "127.0.0.1:$DP_ADMIN" --store "rocksdb:$TMP/dedup-data" --workers "$WORKERS" \
  --log-level warn >"$TMP/dedup.log" 2>&1 & DP_PID=$!; PIDS+=($DP_PID)
wait_http "http://127.0.0.1:$DP_ADMIN/readyz"
run_matrix dedup-rocksdb "http://127.0.0.1:$DP_PORT" "$DP_PID" "http://127.0.0.1:$DP_ADMIN"
stop "$DP_PID"
[ -s "$TMP/dedup.log" ] && { echo "dedup-proxy log (warn+):"; tail -5 "$TMP/dedup.log"; }

# ---- dedup-proxy, Redis store: SLOT (skipped) -----------------------------------------
# >>> REDIS SLOT: the Redis store does not exist yet. When it does, run with
# BENCH_REDIS=1 BENCH_REDIS_STORE='redis://127.0.0.1:{port}' (its URI syntax);
# {port} is replaced by a private redis-server's port.
if [ "${BENCH_REDIS:-0}" = 1 ] && command -v redis-server >/dev/null; then
  echo "== dedup-redis"
  RD_PORT="$(freeport)"
  redis-server --bind 127.0.0.1 --port "$RD_PORT" --save '' --appendonly yes --appendfsync always \
    --dir "$TMP" >"$TMP/redis.log" 2>&1 & RD_PID=$!; PIDS+=($RD_PID)
  for _ in $(seq 50); do redis-cli -p "$RD_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  DR_PORT="$(freeport)"; DR_ADMIN="$(freeport)"
  "$PROXY_BIN" --upstream "http://127.0.0.1:$APP_PORT" --listen "127.0.0.1:$DR_PORT" \
    --admin "127.0.0.1:$DR_ADMIN" --store "${BENCH_REDIS_STORE//\{port\}/$RD_PORT}" --workers "$WORKERS" \
    --log-level warn >"$TMP/dedup-redis.log" 2>&1 & DR_PID=$!; PIDS+=($DR_PID)
  wait_http "http://127.0.0.1:$DR_ADMIN/readyz"
  run_matrix dedup-redis "http://127.0.0.1:$DR_PORT" "$DR_PID" "http://127.0.0.1:$DR_ADMIN"
  stop "$DR_PID"; stop "$RD_PID"
else
  python3 "$REPORT" skip --raw "$RAW" --path dedup-redis --reason "Redis store not implemented yet (REDIS SLOT in run.sh)"
fi
# <<< REDIS SLOT

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
plot "$OUT/chart.dat" using 2:xtic(1) title "direct", '' using 3 title "nginx", '' using 4 title "dedup-proxy (rocksdb)"
GP
fi
echo "results: $OUT/results.md $OUT/results.csv"
