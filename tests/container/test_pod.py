"""The chart run as a pod: helm renders helm/dedup-proxy (classic sidecar
mode) with the image built from the Dockerfile and the test app's image, and
`podman kube play` runs the rendered ConfigMap and Deployment in a pod of its
own (its own network namespace on podman's bridge). Deliveries go to the
pod's 8080, as the Service's targetPort; the app (127.0.0.1:3000 in the pod)
must see each key once. The chart's probes are asked from outside the pod
as the kubelet would (podman turns httpGet probes into curl run inside the
container, and the image has neither curl nor a shell). Redis mode runs
against a redis-server on the host, bound to the bridge's gateway address.
"""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import yaml

from conftest import BASE_IMAGE, REPO, ULIMITS, podman
from harness import wait_until

CHART = REPO / "helm" / "dedup-proxy"
APP_PORT = 3000
UID = 65532


def helm_binary():
    helm = shutil.which("helm") or ("/usr/local/bin/helm" if os.access("/usr/local/bin/helm", os.X_OK) else None)
    if helm is None:
        pytest.skip("helm is not installed (scripts/setup.sh runs scripts/install_helm.sh)")
    return helm


def render(proxy_image, app_image, tmp_path, extra_values=None):
    """The chart's ConfigMap and Deployment for our images, as a YAML file."""
    repository, tag = proxy_image.rsplit(":", 1)
    app_repository, app_tag = app_image.rsplit(":", 1)
    values = {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "app": {
            "image": {"repository": app_repository, "tag": app_tag, "pullPolicy": "Never"},
            "port": APP_PORT,
            "args": ["--port", str(APP_PORT)],
        },
        **(extra_values or {}),
    }
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    proc = subprocess.run([helm_binary(), "template", "rel", str(CHART), "-f", str(values_file)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    objects = [o for o in yaml.safe_load_all(proc.stdout) if o]
    # Services and the rest are the cluster's business; the pod needs these two.
    wanted = [o for o in objects if o["kind"] in ("ConfigMap", "Deployment")]
    assert [o["kind"] for o in wanted] == ["ConfigMap", "Deployment"], [o["kind"] for o in objects]
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump_all(wanted))
    return manifest, wanted[1]


def pod_volumes(deployment):
    """The podman volumes `kube play` makes for the pod: emptyDirs are named
    after the volume, ConfigMaps after the ConfigMap, and both outlive the pod."""
    names = []
    for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
        names.append(volume["configMap"]["name"] if "configMap" in volume else volume["name"])
    return names


class Pod:
    """One `podman kube play` of a manifest, removed with its volumes."""

    def __init__(self, manifest, deployment):
        self.manifest = manifest
        self.volumes = pod_volumes(deployment)
        self.id = None
        self._remove_volumes()  # left by an interrupted run: start from empty
        try:
            out = podman("kube", "play", str(manifest), timeout=300).stdout
        except AssertionError:
            podman("kube", "down", str(manifest), check=False, timeout=120)
            self._remove_volumes()
            raise
        match = re.search(r"^Pod:\s*\n([0-9a-f]{64})", out, re.M)
        assert match, out
        self.id = match.group(1)
        names = podman("ps", "-a", "--filter", f"pod={self.id}", "--format", "{{.Names}}").stdout.split()
        self.proxy = next(n for n in names if n.endswith("-dedup-proxy"))
        self.app = next(n for n in names if n.endswith("-app"))
        infra = podman("pod", "inspect", "--format", "{{.InfraContainerID}}", self.id).stdout.strip()
        self.ip = podman("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                         infra).stdout.strip()
        assert re.fullmatch(r"[0-9.]+", self.ip), self.ip

    def get(self, port, path, timeout=5):
        conn = http.client.HTTPConnection(self.ip, port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def deliver(self, key, path="/orders", body=b'{"n": 1}'):
        conn = http.client.HTTPConnection(self.ip, 8080, timeout=30)
        try:
            conn.request("POST", path, body=body, headers={"Idempotency-Key": key, "Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def app_stats(self):
        """The app's record, read inside the pod: its port is not published."""
        script = (f"import urllib.request; print(urllib.request.urlopen("
                  f"'http://127.0.0.1:{APP_PORT}/__stats', timeout=10).read().decode())")
        return json.loads(podman("exec", self.app, "python3", "-c", script).stdout)

    def logs(self):
        proc = podman("logs", self.proxy, check=False)
        return proc.stdout + proc.stderr

    def state(self, container, field):
        return podman("inspect", "--format", "{{.State.%s}}" % field, container).stdout.strip()

    def stop_proxy(self, grace_seconds):
        """SIGTERM to the proxy as the kubelet sends it; returns its exit code."""
        podman("stop", "-t", str(grace_seconds), self.proxy, timeout=grace_seconds + 60)
        return int(self.state(self.proxy, "ExitCode"))

    def _remove_volumes(self):
        if self.volumes:
            podman("volume", "rm", "-f", *self.volumes, check=False)

    def down(self):
        # No grace: the app (python as PID 1) ignores SIGTERM.
        if self.id:
            podman("pod", "rm", "-f", "-t", "0", self.id, check=False, timeout=120)
        self._remove_volumes()


@pytest.fixture
def run_pod(proxy_image, app_image, tmp_path):
    pods = []

    def run(extra_values=None):
        manifest, deployment = render(proxy_image, app_image, tmp_path, extra_values)
        pod = Pod(manifest, deployment)
        pods.append(pod)
        return pod, deployment

    yield run
    for pod in pods:
        pod.down()


def probes(deployment):
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "dedup-proxy")
    return container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]


def wait_probes_pass(pod, deployment):
    readiness, liveness = probes(deployment)

    def passing():
        assert pod.state(pod.proxy, "Status") == "running", pod.logs()
        return all(pod.get(p["port"], p["path"])[0] == 200 for p in (readiness, liveness))

    wait_until(passing, 60, interval=0.2, message="the chart's probes to pass")
    # The app has no probe in this chart's values: wait until it answers too.
    wait_until(lambda: pod.app_stats() is not None, 60, interval=0.2, message="the app to listen")


def check_exactly_once(pod):
    key = "pod-" + uuid.uuid4().hex
    first = pod.deliver(key)
    second = pod.deliver(key)
    assert first[0] == 200 and "Idempotent-Replayed" not in first[1], first
    assert second[0] == 200 and second[1].get("Idempotent-Replayed") == "true", second
    assert second[2] == first[2]
    stats = pod.app_stats()
    assert stats["keys"][key]["count"] == 1, stats["keys"].get(key)
    return key


def test_chart_runs_as_a_pod_and_deduplicates(run_pod):
    pod, deployment = run_pod()
    wait_probes_pass(pod, deployment)
    check_exactly_once(pod)

    # The chart's securityContext holds in the pod: user 65532, read-only root.
    pid = pod.state(pod.proxy, "Pid")
    status = open(f"/proc/{pid}/status").read()
    assert re.search(r"^Uid:\s+65532\s+65532\s+65532\s+65532$", status, re.M), status
    read_only = podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", pod.proxy).stdout.strip()
    assert read_only == "true"
    # The app's port is the pod's own: not reachable on the pod's address.
    with pytest.raises(OSError):
        socket.create_connection((pod.ip, APP_PORT), timeout=2).close()

    # Stopping the pod: SIGTERM, the proxy drains and exits 0 within the grace period.
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    start = time.monotonic()
    assert pod.stop_proxy(grace) == 0, pod.logs()
    assert time.monotonic() - start < grace


class HostRedis:
    """redis-server on the host at the podman bridge's gateway address (what
    a pod reaches the host on), on a free port; no persistence."""

    def __init__(self, directory):
        gateway = podman("network", "inspect", "--format", "{{range .Subnets}}{{.Gateway}}{{end}}",
                         "podman").stdout.strip()
        assert re.fullmatch(r"[0-9.]+", gateway), gateway
        self.host = gateway
        if not self._address_is_local():
            # The bridge (and its address) appears with the first container on it.
            podman("run", "--rm", *ULIMITS, BASE_IMAGE, "true")
        with socket.socket() as sock:
            sock.bind((self.host, 0))
            self.port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            ["redis-server", "--bind", self.host, "--port", str(self.port), "--protected-mode", "no",
             "--save", "", "--appendonly", "no", "--dir", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.cli("PING") == "PONG", 20, message="redis-server to answer PING")

    def _address_is_local(self):
        with socket.socket() as sock:
            try:
                sock.bind((self.host, 0))
                return True
            except OSError:
                return False

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-h", self.host, "-p", str(self.port), *args],
                              capture_output=True, text=True, timeout=10).stdout.strip()

    def stop(self):
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def host_redis(base_image, tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server missing (scripts/setup.sh)")
    redis = HostRedis(tmp_path)
    yield redis
    redis.stop()


def test_chart_redis_mode_as_a_pod(run_pod, host_redis):
    url = f"redis://{host_redis.host}:{host_redis.port}/0"
    pod, deployment = run_pod({"store": {"type": "redis", "redis": {"url": url}}})
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "dedup-proxy")
    assert container["args"][container["args"].index("--store") + 1] == url
    wait_probes_pass(pod, deployment)
    assert int(host_redis.cli("DBSIZE")) == 0
    check_exactly_once(pod)
    # The key lives in Redis, where every replica would see it.
    assert int(host_redis.cli("DBSIZE")) >= 1
