"""--upstream-protocol h2c: the proxy talks HTTP/2 with prior knowledge to the
app. The app here is the scripted test app behind nginx listening h2c
(`listen ... http2;`), so every request still lands in the app's record, and
nginx's access log shows that it arrived over HTTP/2."""

import os
import socket
import subprocess
import uuid

import pytest

from harness import wait_until
from test_concurrency import run_curl_senders
from test_http2 import curl_h2


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class H2cFront:
    """nginx accepting h2c on a loopback port and proxying to the test app."""

    def __init__(self, directory, app_port):
        self.dir = directory
        self.port = free_port()
        self.access_log = directory / "access.log"
        (directory / "body").mkdir(parents=True, exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (directory / "nginx.conf").write_text("""%sdaemon off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 1024; }
http {
  log_format proto '$server_protocol $request_method $request_uri $status';
  access_log %s proto;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  keepalive_requests 1000000;
  http2_max_concurrent_streams 128;
  server {
    listen 127.0.0.1:%d http2;
    location / {
      proxy_pass http://127.0.0.1:%d;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }
  }
}
""" % (user, directory, directory, self.access_log, directory, directory, self.port, app_port))
        self.process = subprocess.Popen(
            ["nginx", "-e", str(directory / "error.log"), "-p", str(directory), "-c",
             str(directory / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(self._listening, timeout=10, message="nginx to listen h2c")
        self.url = "http://127.0.0.1:%d" % self.port

    def _listening(self):
        if self.process.poll() is not None:
            raise AssertionError("nginx exited: %s" % self.process.stderr.read().decode())
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def protocols(self):
        if not self.access_log.exists():
            return []
        return [line.split()[0] for line in self.access_log.read_text().splitlines() if line]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def h2c_app(upstream, tmp_path):
    front = H2cFront(tmp_path / "nginx", upstream.port)
    yield front
    front.stop()


@pytest.fixture
def h2c_proxy(make_proxy, h2c_app):
    return make_proxy("--upstream-protocol", "h2c", upstream_url=h2c_app.url)


def test_forwards_over_h2c_once_and_replays(h2c_proxy, h2c_app, upstream):
    key = "up-h2c-" + uuid.uuid4().hex
    first = h2c_proxy.deliver(key, body=b'{"n":1}')
    assert first.status == 200, str(first)
    again = h2c_proxy.deliver(key, body=b'{"n":1}')
    assert again.replayed and again.body == first.body
    record = upstream.stats()["keys"][key]
    assert record["count"] == 1 and record["attempts"] == ["1"]
    assert h2c_app.protocols() == ["HTTP/2.0"]
    # h2c on both sides.
    status, headers, _, version = curl_h2(h2c_proxy.url + "/hook", [
        "-X", "POST", "-H", "Idempotency-Key: " + key, "--data-binary", '{"n":1}'])
    assert (status, version, headers.get("idempotent-replayed")) == (200, "2", "true")


def test_app_error_releases_and_the_redelivery_is_forwarded(h2c_proxy, upstream):
    key = "up-h2c-500-" + uuid.uuid4().hex
    failed = h2c_proxy.deliver(key, headers={"X-Test-Status": "500"})
    assert failed.status == 500
    ok = h2c_proxy.deliver(key)
    assert ok.status == 200 and not ok.replayed
    assert h2c_proxy.deliver(key).replayed
    assert upstream.stats()["keys"][key]["count"] == 2


def test_app_unreachable_is_502(make_proxy, dead_port, upstream):
    proxy = make_proxy("--upstream-protocol", "h2c",
                       upstream_url="http://127.0.0.1:%d" % dead_port)
    assert proxy.deliver("up-h2c-dead").status == 502


def test_app_too_slow_is_504_and_other_streams_go_on(make_proxy, h2c_app, upstream):
    proxy = make_proxy("--upstream-protocol", "h2c", "--upstream-timeout", "1s",
                       upstream_url=h2c_app.url)
    slow = proxy.deliver("up-h2c-slow", headers={"X-Test-Delay-Ms": "3000"})
    assert slow.status == 504
    fast = proxy.deliver("up-h2c-fast")
    assert fast.status == 200


def test_concurrent_senders_over_h2c_on_both_sides(h2c_proxy, upstream, tmp_path, h2c_app):
    run_curl_senders(h2c_proxy, upstream, tmp_path,
                     lambda index: ["--http2-prior-knowledge"] if index % 2 else [])
    assert set(h2c_app.protocols()) == {"HTTP/2.0"}


def test_upstream_protocol_from_the_environment(make_proxy, h2c_app, upstream):
    proxy = make_proxy(upstream_url=h2c_app.url, env={"DEDUP_PROXY_UPSTREAM_PROTOCOL": "h2c"})
    assert proxy.deliver("up-h2c-env").status == 200
    assert h2c_app.protocols() == ["HTTP/2.0"]


def test_a_bad_upstream_protocol_is_a_config_error(proxy_bin, tmp_path):
    done = subprocess.run([str(proxy_bin), "--upstream", "http://127.0.0.1:9",
                           "--upstream-protocol", "h3", "--check-config"],
                          capture_output=True, timeout=30)
    assert done.returncode == 2
    message = done.stderr.decode() + done.stdout.decode()
    assert "upstream" in message and "h3" in message, message
