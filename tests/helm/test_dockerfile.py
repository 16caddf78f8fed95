"""The Dockerfile's packages match the build, checked without Docker.

The runtime stage must install a Debian package for every shared library
`ldd` resolves for the built binary (dpkg -S names the owner), every package
named must exist in apt, and the build stage installs only packages that
scripts/setup.sh also installs.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def stages():
    """Dockerfile text split per FROM."""
    return re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[1:]


def apt_packages(stage):
    """Packages of the `apt-get install` in one stage (line continuations joined)."""
    text = stage.replace("\\\n", " ")
    match = re.search(r"apt-get install ([^&\n]*)", text)
    assert match, "no apt-get install in stage"
    return [w for w in match.group(1).split() if not w.startswith("-")]


def binary():
    # The release preset's binary, which is what the Dockerfile builds (not
    # DEDUP_PROXY_BIN: under the asan preset that one links the sanitizers).
    path = REPO / "build" / "proxy" / "dedup-proxy"
    if not path.exists():
        pytest.skip(f"{path} is not built (scripts/build.sh release)")
    return path


def owner(library):
    """The Debian package owning a library path (merged /usr: try both spellings)."""
    candidates = [library, os.path.realpath(library)]
    for c in list(candidates):
        if c.startswith("/lib"):
            candidates.append("/usr" + c)
        elif c.startswith("/usr/lib"):
            candidates.append(c[len("/usr") :])
    for c in candidates:
        proc = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if proc.returncode == 0:
            return proc.stdout.split(":")[0].strip()
    raise AssertionError(f"no Debian package owns {library}")


def test_structure():
    build, runtime = stages()
    assert build.startswith("debian:bookworm AS build")
    assert runtime.startswith("debian:bookworm-slim")
    assert "scripts/build.sh release" in build
    assert "USER 65532:65532" in runtime
    assert "EXPOSE 8080 9901" in runtime
    assert 'ENTRYPOINT ["/usr/local/bin/dedup-proxy"]' in runtime
    assert (REPO / ".dockerignore").read_text().count("build") >= 1


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="apt-cache is not available")
def test_every_package_exists_in_apt():
    probe = subprocess.run(["apt-cache", "show", "--no-all-versions", "libc6"], capture_output=True, text=True)
    if "Package: libc6" not in probe.stdout:
        pytest.skip("apt package lists are empty (run apt-get update)")
    packages = [pkg for stage in stages() for pkg in apt_packages(stage)]
    proc = subprocess.run(["apt-cache", "show", "--no-all-versions", *packages], capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)$", proc.stdout, re.M))
    assert not [pkg for pkg in packages if pkg not in known], proc.stderr


def test_build_stage_installs_only_setup_packages():
    setup = (REPO / "scripts" / "setup.sh").read_text()
    listed = set(re.search(r"packages=\((.*?)\)", setup, re.S).group(1).split())
    build_packages = apt_packages(stages()[0])
    assert set(build_packages) <= listed
    assert "libgtest-dev" in build_packages and "cmake" in build_packages


@pytest.mark.skipif(shutil.which("dpkg") is None or shutil.which("ldd") is None, reason="no dpkg/ldd")
def test_runtime_stage_provides_every_linked_library():
    out = subprocess.run(["ldd", str(binary())], capture_output=True, text=True, check=True).stdout
    libraries = re.findall(r"=> (/\S+)", out)
    assert libraries, out
    runtime = set(apt_packages(stages()[1]))
    needed = {lib: owner(lib) for lib in libraries}
    missing = {lib: pkg for lib, pkg in needed.items() if pkg not in runtime}
    assert not missing, f"runtime stage lacks packages for {missing}"
