#!/usr/bin/env bash
# The h2 column (NOT part of the test suite): h2load over h2c against
# dedup-proxy beside nghttpx and nginx `http2`, each in front of the same fast
# app (nginx `return 200`, tests/bench/fast_app.sh), on 127.0.0.1.
#
#   tests/bench/h2.sh [BUILD_DIR]        (default BUILD_DIR: <repo>/build)
#
# Workloads (POST, 64-byte JSON body, key in the query: --key query:id):
#   replay   one committed key, every request a replay
#   newkey   a fresh key per request (an h2load -i URI file)
# Prints a markdown table of requests/s and dedup-proxy's ratio to each proxy.
# Environment: BENCH_DURATION (s, default 6), BENCH_WORKERS (default 2),
# BENCH_H2_CLIENTS (h2c connections, one h2load each, default 4),
# BENCH_H2_STREAMS (streams per connection, h2load -m, default 32).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="${1:-$REPO/build}"
PROXY_BIN="$BUILD/proxy/dedup-proxy"
DUR="${BENCH_DURATION:-6}"
WORKERS="${BENCH_WORKERS:-2}"
CLIENTS="${BENCH_H2_CLIENTS:-4}"
STREAMS="${BENCH_H2_STREAMS:-32}"
# shellcheck source=tests/bench/fast_app.sh
. "$HERE/fast_app.sh"

die() { echo "h2.sh: $*" >&2; exit 1; }
for t in h2load nghttpx nginx curl; do
  command -v "$t" >/dev/null || die "missing '$t' (apt-get install nghttp2-client nghttp2-proxy nginx-light curl)"
done
[ -x "$PROXY_BIN" ] || die "no $PROXY_BIN: run scripts/build.sh release first"

TMP="$(mktemp -d /tmp/dedup-h2bench.XXXXXX)"
chmod 755 "$TMP"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_h2() {  # URL: until it answers over h2c
  for _ in $(seq 1 200); do
    curl -s -o /dev/null --http2-prior-knowledge "$1" && return 0
    sleep 0.05
  done
  die "nothing answers h2c at $1"
}

APP_PORT="$(free_port)"
start_fast_app "$TMP/app" "$APP_PORT"
PIDS+=("$FAST_APP_PID")
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/" && break; sleep 0.05; done

DEDUP_PORT="$(free_port)"
"$PROXY_BIN" --upstream "http://127.0.0.1:$APP_PORT" --listen "127.0.0.1:$DEDUP_PORT" \
  --admin 127.0.0.1:0 --store "rocksdb:$TMP/data" --workers "$WORKERS" --key query:id \
  --log-level warn >"$TMP/dedup.log" 2>&1 &
PIDS+=($!)

NGHTTPX_PORT="$(free_port)"
nghttpx --conf=/dev/null --frontend="127.0.0.1,$NGHTTPX_PORT;no-tls" \
  --backend="127.0.0.1,$APP_PORT" --workers="$WORKERS" --errorlog-file="$TMP/nghttpx.log" &
PIDS+=($!)

NGINX_PORT="$(free_port)"
mkdir -p "$TMP/front"
cat >"$TMP/front/nginx.conf" <<CONF
daemon off;
worker_processes $WORKERS;
pid $TMP/front/nginx.pid;
error_log $TMP/front/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/front/body;
  proxy_temp_path $TMP/front/proxy;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:$APP_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT http2;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
nginx -e "$TMP/front/error.log" -p "$TMP/front" -c "$TMP/front/nginx.conf" &
PIDS+=($!)

for port in "$DEDUP_PORT" "$NGHTTPX_PORT" "$NGINX_PORT"; do wait_h2 "http://127.0.0.1:$port/"; done

printf '{"event":"bench","pad":"%s"}' "$(head -c 30 /dev/zero | tr '\0' p)" >"$TMP/body.json"

# requests/s summed over $CLIENTS h2load processes of one connection and
# $STREAMS streams each, run at once (h2load's own clients would all start
# at the top of one URI file: the "new" keys would be the same keys).
# $1 port, $2 workload (replay: one committed key; newkey: a file per client).
measure() {
  local port="$1" workload="$2" c pids=() total=0 rps
  for c in $(seq 1 "$CLIENTS"); do
    local target=("http://127.0.0.1:$port/hook?id=replay-1")
    if [ "$workload" = newkey ]; then
      sed "s/@PORT@/$port/; s/@C@/$c-$port/" "$TMP/new.uris" >"$TMP/new-$c.uris"
      target=(-i "$TMP/new-$c.uris")
    fi
    h2load -D "$DUR" --warm-up-time=1 -c 1 -m "$STREAMS" -t 1 -d "$TMP/body.json" \
      -H 'content-type: application/json' "${target[@]}" >"$TMP/h2load-$c.out" 2>&1 &
    pids+=($!)
  done
  for c in "${pids[@]}"; do wait "$c" || true; done
  for c in $(seq 1 "$CLIENTS"); do
    grep -q ' 0 errored' "$TMP/h2load-$c.out" || { cat "$TMP/h2load-$c.out" >&2; die "h2load errors on :$port"; }
    # Every answer a 2xx (a replay, or a new key forwarded and committed).
    awk '/^status codes:/ { bad = $5 + $7 + $9 } END { exit bad != 0 }' \
      "$TMP/h2load-$c.out" || { cat "$TMP/h2load-$c.out" >&2; die "non-2xx answers on :$port"; }
    rps="$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) { print int($(i-1)) } }' \
      "$TMP/h2load-$c.out")"
    total=$((total + rps))
  done
  echo "$total"
}

python3 - "$TMP/new.uris" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    for i in range(400_000):
        out.write("http://127.0.0.1:@PORT@/hook?id=n@C@-%d\n" % i)
PY
curl -s -o /dev/null --http2-prior-knowledge -X POST --data-binary @"$TMP/body.json" \
  "http://127.0.0.1:$DEDUP_PORT/hook?id=replay-1"

declare -A RPS
for w in replay newkey; do
  RPS[dedup,$w]="$(measure "$DEDUP_PORT" "$w")"
  RPS[nghttpx,$w]="$(measure "$NGHTTPX_PORT" "$w")"
  RPS[nginx,$w]="$(measure "$NGINX_PORT" "$w")"
done

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
echo
echo "$CLIENTS h2load connections x $STREAMS streams, ${DUR}s, $WORKERS workers each, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%FT%TZ)"
echo
echo "| workload | dedup-proxy req/s | nghttpx req/s | nginx http2 req/s | dedup/nghttpx | dedup/nginx |"
echo "|---|---|---|---|---|---|"
for w in replay newkey; do
  echo "| $w | ${RPS[dedup,$w]} | ${RPS[nghttpx,$w]} | ${RPS[nginx,$w]} | $(ratio "${RPS[dedup,$w]}" "${RPS[nghttpx,$w]}") | $(ratio "${RPS[dedup,$w]}" "${RPS[nginx,$w]}") |"
done
