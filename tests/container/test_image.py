"""The dedup-proxy image, built from the repository's Dockerfile, run for real:
only what the binary needs is inside, it runs as 65532 on a read-only root
filesystem with the data directory as the only writable path, answers
/readyz, replays a duplicate (the app sees the key once), and on SIGTERM
finishes the delivery in flight and exits 0 within the grace period.

The container uses the host's network (--network host) so it reaches the test
app on 127.0.0.1; both listen on 127.0.0.1 with ports chosen by the kernel.
"""

import io
import os
import re
import signal
import subprocess
import tarfile
import uuid

import pytest

from conftest import ULIMITS, image_size, podman, podman_argv, podman_env
from harness import Proxy, UpstreamApp, in_background, wait_until

UID = 65532
LOADER = "/lib64/ld-linux-x86-64.so.2"
MAX_IMAGE_BYTES = 100 * 1000 * 1000
DRAIN_SECONDS = 10


class ContainerProxy(Proxy):
    """harness.Proxy with the binary in the image: `podman run` in the
    foreground (its exit code is the proxy's), the data dir bind-mounted."""

    def __init__(self, image, upstream_url, data_dir, extra_args=()):
        super().__init__("podman", upstream_url, data_dir, extra_args, name="container")
        self.image = image
        self.container = "dedup-proxy-test-" + uuid.uuid4().hex[:8]
        self.extra_env = {"CONTAINERS_CONF": podman_env()["CONTAINERS_CONF"]}

    def command(self):
        return podman_argv(
            "run", "--rm", "--name", self.container, "--network", "host", *ULIMITS,
            "--read-only", "--read-only-tmpfs=false",
            "-v", f"{self.data_dir}:/var/lib/dedup-proxy",
            self.image,
            "--upstream", self.upstream_url,
            "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
            "--store", "rocksdb:/var/lib/dedup-proxy/data",
            "--workers", str(self.workers),
        ) + self.extra_args

    def signal(self, signum):
        # To the process in the container, not to the podman client.
        podman("kill", "--signal", signal.Signals(signum).name[3:], self.container)

    def host_pid(self):
        return int(podman("inspect", "--format", "{{.State.Pid}}", self.container).stdout.strip())

    def cleanup(self):
        podman("rm", "-f", "-t", "0", self.container, check=False)
        super().cleanup()


@pytest.fixture
def upstream():
    app = UpstreamApp()
    yield app
    app.stop()


@pytest.fixture
def container(proxy_image, upstream, tmp_path):
    data = tmp_path / "data-volume"
    data.mkdir()
    os.chown(data, UID, UID)
    proxy = ContainerProxy(proxy_image, upstream.url, data, ["--drain-timeout", f"{DRAIN_SECONDS}s"])
    try:
        proxy.start()
        yield proxy
    finally:
        proxy.cleanup()


def image_files(image):
    """{path: TarInfo} of the image's filesystem (podman export of a created container)."""
    name = "dedup-proxy-files-" + uuid.uuid4().hex[:8]
    podman("create", "--name", name, image)
    try:
        raw = subprocess.run(podman_argv("export", name), capture_output=True, timeout=120,
                             env=podman_env(), check=True).stdout
    finally:
        podman("rm", "-f", name, check=False)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return {"/" + m.name.lstrip("./"): m for m in tar.getmembers()}


def resolve(files, path):
    """The real path of `path` inside the image, following its symlinks."""
    parts = [p for p in path.split("/") if p]
    current = ""
    for _ in range(200):
        if not parts:
            return current or "/"
        part = parts.pop(0)
        if part in (".", ".."):
            current = current.rsplit("/", 1)[0] if part == ".." else current
            continue
        candidate = current + "/" + part
        member = files.get(candidate)
        if member is not None and member.issym():
            target = member.linkname
            base = "" if target.startswith("/") else current
            parts = [p for p in (base + "/" + target).split("/") if p] + parts
            current = ""
        else:
            current = candidate
    raise AssertionError(f"symlink loop at {path}")


def loader_list(image, program):
    """What the dynamic loader inside the image resolves for `program` (ldd's
    own method; the image has no shell for ldd): {soname: path}."""
    proc = podman("run", "--rm", "--network", "none", *ULIMITS, "--entrypoint", LOADER, image, "--list", program)
    resolved = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        assert "not found" not in line, proc.stdout
        match = re.match(r"(\S+) => (\S+) \(0x", line)
        if match:
            resolved[match.group(1)] = match.group(2)
    return resolved


def test_image_holds_only_what_the_binary_needs(proxy_image):
    needed = loader_list(proxy_image, "/usr/local/bin/dedup-proxy")
    assert "libc.so.6" in needed and "libcrypto.so.3" in needed, needed
    assert not [name for name in needed if "rocksdb" in name], "RocksDB is linked statically"
    sleep_needs = loader_list(proxy_image, "/bin/sleep")  # the chart's preStop hook

    files = image_files(proxy_image)
    real = {path for path, member in files.items() if member.isfile()}
    libraries = {path for path in real if ".so" in os.path.basename(path)}
    wanted = {resolve(files, p) for p in [*needed.values(), *sleep_needs.values(), LOADER]}
    assert libraries <= wanted, f"libraries nothing links: {sorted(libraries - wanted)}"
    programs = {path for path in real if files[path].mode & 0o111}
    assert programs - libraries == {"/usr/local/bin/dedup-proxy", "/usr/bin/sleep"}
    assert "/bin/sh" not in files and "/usr/bin/apt-get" not in files

    data = files["/var/lib/dedup-proxy"]
    assert data.isdir() and (data.uid, data.gid) == (UID, UID)
    size = image_size(proxy_image)
    print(f"image {proxy_image}: {size / 1e6:.1f} MB")
    assert size < MAX_IMAGE_BYTES


def test_config_of_the_image(proxy_image):
    inspect = podman("image", "inspect", "--format",
                     "{{.Config.User}}|{{.Config.WorkingDir}}|{{json .Config.Entrypoint}}|{{json .Config.ExposedPorts}}",
                     proxy_image).stdout.strip()
    user, workdir, entrypoint, ports = inspect.split("|")
    assert user == f"{UID}:{UID}"
    assert workdir == "/var/lib/dedup-proxy"
    assert entrypoint == '["/usr/local/bin/dedup-proxy"]'
    assert "8080/tcp" in ports and "9901/tcp" in ports


def test_runs_as_non_root_on_a_read_only_root(container):
    status = open(f"/proc/{container.host_pid()}/status").read()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
    assert uids == [str(UID)] * 4 and gids == [str(UID)] * 4, status
    assert re.search(r"^CapEff:\s+0+$", status, re.M), "a non-root process holds no capabilities"
    read_only = podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", container.container).stdout
    assert read_only.strip() == "true"
    # The store lives in the one writable path, the mounted data directory.
    assert (container.data_dir / "data" / "CURRENT").exists()
    assert container.admin("GET", "/readyz").status == 200


def test_duplicate_is_replayed_and_the_app_sees_the_key_once(container, upstream):
    key = "container-" + uuid.uuid4().hex
    first = container.deliver(key)
    second = container.deliver(key)
    assert first.status == 200 and not first.replayed, str(first)
    assert second.status == 200 and second.replayed, str(second)
    assert second.body == first.body
    assert upstream.count(key) == 1


def test_sigterm_drains_the_delivery_in_flight_and_exits_zero(container, upstream):
    key = "container-drain-" + uuid.uuid4().hex
    in_flight = in_background(container.deliver, key, headers={"X-Test-Hold": key}, timeout=60)
    upstream.wait_received(key)
    container.signal(signal.SIGTERM)
    wait_until(lambda: any("draining" in line for line in container.log.snapshot()), 20,
               message="msg=draining in the container's log")
    upstream.release(key)
    reply = in_flight.result(timeout=30)
    assert reply.status == 200 and not reply.replayed, str(reply)
    assert container.wait_exit(timeout=DRAIN_SECONDS + 5) == 0
    assert upstream.count(key) == 1
