"""Runs the rendered pod for real: the sidecar's args and config from the
chart, the demo app on the app port, in their own network namespace (the
pod's shared loopback), and a duplicate delivery sent to the Service's
target port. Needs root (ip netns); skipped otherwise.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, find, sidecar

APP_PORT = 3000


def _netns_usable():
    return os.geteuid() == 0 and shutil.which("ip") is not None and shutil.which("curl") is not None


pytestmark = pytest.mark.skipif(not _netns_usable(), reason="needs root, ip and curl")


@pytest.fixture
def netns():
    name = f"dedup-helm-{os.getpid()}"
    proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"ip netns add failed: {proc.stderr.strip()}")
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def in_ns(ns, *cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=30, **kw)


def test_rendered_pod_deduplicates_inside_a_network_namespace(render, netns, tmp_path):
    binary = Path(os.environ.get("DEDUP_PROXY_BIN", REPO / "build" / "proxy" / "dedup-proxy"))
    if not binary.exists():
        pytest.skip(f"{binary} is not built")
    objects = render.template({"app.port": APP_PORT})
    container, _ = sidecar(objects)
    config = find(objects, "ConfigMap")["data"]["config.yaml"]
    service = find(objects, "Service", "rel-dedup-proxy")
    target_port = [p for p in service["spec"]["ports"] if p["name"] == "http"][0]["targetPort"]

    # The pod's files become temp files: the ConfigMap, and the data volume.
    (tmp_path / "config.yaml").write_text(config)
    args = [
        a.replace("/etc/dedup-proxy/config.yaml", str(tmp_path / "config.yaml")).replace(
            "/var/lib/dedup-proxy", str(tmp_path / "data")
        )
        for a in container["args"]
    ]
    env = dict(os.environ)
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})

    procs = []
    try:
        app = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable,
             str(REPO / "tests" / "integration" / "upstream_app.py"), "--port", str(APP_PORT)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        procs.append(app)
        proxy = subprocess.Popen(
            ["ip", "netns", "exec", netns, str(binary), *args],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "proxy.log", "w"), env=env,
        )
        procs.append(proxy)

        # The readiness probe, as the kubelet would run it.
        probe = container["readinessProbe"]["httpGet"]
        deadline = time.monotonic() + 20
        while True:
            ready = in_ns(netns, "curl", "-fs", f"http://127.0.0.1:{probe['port']}{probe['path']}").returncode == 0
            app_up = in_ns(netns, "curl", "-fso", "/dev/null", f"http://127.0.0.1:{APP_PORT}/__stats").returncode == 0
            if ready and app_up:
                break
            assert proxy.poll() is None, (tmp_path / "proxy.log").read_text()
            assert time.monotonic() < deadline, "pod never became ready: " + (tmp_path / "proxy.log").read_text()
            time.sleep(0.1)

        url = f"http://127.0.0.1:{target_port}/orders"
        delivery = ["curl", "-s", "-i", "-X", "POST", url, "-H", "Idempotency-Key: helm-order-1", "-d", '{"n": 1}']
        first = in_ns(netns, *delivery)
        second = in_ns(netns, *delivery)
        assert first.stdout.startswith("HTTP/1.1 200"), first.stdout
        assert second.stdout.startswith("HTTP/1.1 200"), second.stdout
        assert "idempotent-replayed: true" in second.stdout.lower()

        stats = json.loads(in_ns(netns, "curl", "-fs", f"http://127.0.0.1:{APP_PORT}/__stats").stdout)
        assert stats["keys"]["helm-order-1"]["count"] == 1

        # The app port is not reachable from outside the namespace (the host's loopback).
        outside = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-m", "2", f"http://127.0.0.1:{APP_PORT}/__stats"], capture_output=True
        )
        # Something else may listen on the host's 3000; only check it is not our app.
        if outside.returncode == 0:
            host = subprocess.run(["curl", "-s", "-m", "2", f"http://127.0.0.1:{APP_PORT}/__stats"],
                                  capture_output=True, text=True).stdout
            assert "helm-order-1" not in host
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=25)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
