"""Fixtures for the chart tests: the helm binary and render helpers.

Every test here needs helm (scripts/install_helm.sh, called by
scripts/setup.sh, installs it); without it the tests are skipped, nothing else.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "dedup-proxy"


def _helm_binary():
    helm = shutil.which("helm") or ("/usr/local/bin/helm" if os.access("/usr/local/bin/helm", os.X_OK) else None)
    if helm is None:
        return None
    try:
        subprocess.run([helm, "version", "--short"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return helm


@pytest.fixture(scope="session")
def helm():
    binary = _helm_binary()
    if binary is None:
        pytest.skip("helm is not installed (run scripts/install_helm.sh)")
    return binary


def _set_args(values):
    args = []
    for key, value in (values or {}).items():
        flag = "--set-string" if isinstance(value, str) else "--set"
        if isinstance(value, bool):
            value = "true" if value else "false"
        args += [flag, f"{key}={value}"]
    return args


class Renderer:
    def __init__(self, helm):
        self.helm = helm

    def run(self, *args, chart=CHART):
        return subprocess.run(
            [self.helm, *args], capture_output=True, text=True, timeout=120, cwd=str(chart)
        )

    def template(self, values=None, values_files=(), chart=CHART, release="rel"):
        """Renders the chart; returns the list of objects, or raises with helm's stderr."""
        args = ["template", release, str(chart), "--namespace", "ns"]
        for f in values_files:
            args += ["-f", str(f)]
        proc = self.run(*args, *_set_args(values), chart=chart)
        if proc.returncode != 0:
            raise RenderError(proc.stderr)
        return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]

    def lint(self, values=None, chart=CHART):
        return self.run("lint", "--strict", str(chart), *_set_args(values), chart=chart)


class RenderError(Exception):
    pass


@pytest.fixture(scope="session")
def render(helm):
    return Renderer(helm)


def find(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert found, f"no {kind} {name or ''} in {[o['kind'] for o in objects]}"
    return found[0]


def kinds(objects):
    return sorted(o["kind"] for o in objects)


def pod_spec(objects):
    for kind in ("Deployment", "StatefulSet"):
        for o in objects:
            if o["kind"] == kind:
                return o["spec"]["template"]
    raise AssertionError("no workload rendered")


def sidecar(objects):
    """The dedup-proxy container, classic or native; returns (container, where)."""
    spec = pod_spec(objects)["spec"]
    for where in ("containers", "initContainers"):
        for c in spec.get(where, []):
            if c["name"] == "dedup-proxy":
                return c, where
    raise AssertionError("no dedup-proxy container")
