# Sourced by the bench scripts: the fast app every path is measured against,
# nginx answering 200 with a small JSON body to everything, on loopback.
#
#   start_fast_app DIR PORT   writes DIR/nginx.conf, starts nginx in the
#                             background and sets FAST_APP_PID; the caller
#                             waits for http://127.0.0.1:PORT/ and stops it.

start_fast_app() {
  local dir="$1" port="$2"
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    default_type application/json;
    location / { return 200 '{"ok":true}'; }
  }
}
CONF
  nginx -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf" &
  FAST_APP_PID=$!
}
