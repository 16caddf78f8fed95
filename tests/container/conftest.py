"""Fixtures for the container tests: podman, the base image, the dedup-proxy
image built from the repository's Dockerfile, and the test app's image.

Every podman call goes through `podman()`: rootful, runc (crun fails on some
cgroup layouts), cgroupfs, and a containers.conf of our own whose ulimits
stay under the host's hard limits (podman's defaults for root exceed them on
some machines, and runc then refuses to start anything).

Skipped, with the reason, where podman cannot run containers: not root, a
tool missing (scripts/setup.sh installs them), the Debian mirror unreachable
for debootstrap, or a first trivial container failing. A failing image build
is a failure, not a skip.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = Path(os.environ.get("DEDUP_REPO_ROOT") or HERE.parent.parent)
sys.path.insert(0, str(REPO / "tests" / "integration"))

CACHE = Path(os.environ.get("DEDUP_CONTAINER_CACHE") or REPO / "build" / "container-cache")
BASE_IMAGE = "docker.io/library/debian:bookworm"
# One tag per build dir, so two checkouts on one machine never share an image.
TAG = "ci-" + hashlib.sha1(str(CACHE.resolve()).encode()).hexdigest()[:10]
PROXY_IMAGE = "localhost/dedup-proxy:" + TAG
BUILD_STAGE_IMAGE = "localhost/dedup-proxy-build:" + TAG
APP_IMAGE = "localhost/dedup-proxy-test-app:" + TAG
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
"""


def podman_env():
    CACHE.mkdir(parents=True, exist_ok=True)
    conf = CACHE / "containers.conf"
    if not conf.exists() or conf.read_text() != CONTAINERS_CONF:
        conf.write_text(CONTAINERS_CONF)
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(conf)
    return env


def podman(*args, check=True, timeout=120, **kw):
    """Runs one podman command; returns the CompletedProcess (text)."""
    proc = subprocess.run(
        ["podman", "--cgroup-manager=cgroupfs", "--runtime=runc", *args],
        capture_output=True, text=True, timeout=timeout, env=podman_env(), **kw,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def podman_argv(*args):
    """The argv of a podman command for Popen (with podman_env())."""
    return ["podman", "--cgroup-manager=cgroupfs", "--runtime=runc", *args]


class Timings:
    """Wall-clock seconds of the slow steps (and the image's size), printed
    at the end of the run."""

    steps = []
    notes = []

    @classmethod
    def run(cls, name, function):
        start = time.monotonic()
        try:
            return function()
        finally:
            cls.steps.append((name, time.monotonic() - start))


def pytest_terminal_summary(terminalreporter):
    if Timings.steps:
        terminalreporter.write_line(
            "container timings: " + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in Timings.steps)
        )
    for note in Timings.notes:
        terminalreporter.write_line(note)


@pytest.fixture(scope="session")
def base_image():
    if os.geteuid() != 0:
        pytest.skip("the container tests need root (rootful podman)")
    missing = [tool for tool in ("podman", "runc", "debootstrap", "catatonit") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/setup.sh installs them)")
    proc = Timings.run("base", lambda: subprocess.run(
        [str(REPO / "scripts" / "container_base.sh"), str(CACHE)],
        capture_output=True, text=True, timeout=1800, env=podman_env(),
    ))
    if proc.returncode == 3:
        pytest.skip("debootstrap cannot fetch from the Debian mirror: " + proc.stderr.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    probe = podman("run", "--rm", "--network", "host", *ULIMITS, BASE_IMAGE, "true", check=False)
    if probe.returncode != 0:
        pytest.skip("podman cannot run containers here: " + probe.stderr.strip())
    return BASE_IMAGE


def image_id(tag):
    proc = podman("image", "inspect", "--format", "{{.Id}}", tag, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def build(tag, context, target=None, timeout=3000):
    """podman build with layer caching; the image `tag` named before is
    removed when the build made a new one, so runs after source changes do not
    pile up untagged images (about 1 GB each for the build stage)."""
    previous = image_id(tag)
    args = ["build", "--pull=never", "--network", "host", *ULIMITS, "-t", tag]
    if target:
        args += ["--target", target]
    podman(*args, str(context), timeout=timeout)
    if previous and previous != image_id(tag):
        podman("rmi", previous, check=False)


@pytest.fixture(scope="session")
def proxy_image(base_image):
    """The image of the repository's own Dockerfile (the build context is the
    repo). Its build stage is tagged too, which keeps it as the cache of the
    next run and lets that run remove it once replaced."""
    def build_both():
        build(PROXY_IMAGE, REPO)
        build(BUILD_STAGE_IMAGE, REPO, target="build")

    Timings.run("proxy image", build_both)
    Timings.notes.append(f"image {PROXY_IMAGE}: {image_size(PROXY_IMAGE) / 1e6:.1f} MB")
    return PROXY_IMAGE


@pytest.fixture(scope="session")
def app_image(base_image, tmp_path_factory):
    """The test app (tests/integration/upstream_app.py) on the same base, with python3."""
    context = tmp_path_factory.mktemp("app-image")
    shutil.copy(REPO / "tests" / "integration" / "upstream_app.py", context / "upstream_app.py")
    shutil.copy(HERE / "app.Dockerfile", context / "Dockerfile")
    Timings.run("app image", lambda: build(APP_IMAGE, context))
    return APP_IMAGE


def image_size(image):
    return int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
