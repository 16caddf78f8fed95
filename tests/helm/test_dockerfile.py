"""The Dockerfile, checked without a container engine (tests/container/ builds
and runs it with podman where it can).

The build stage installs only packages that scripts/setup.sh also installs,
all of them known to apt, and copies every source folder the build needs; the
runtime stage is FROM scratch with the root filesystem that
scripts/container_rootfs.sh assembles, which is checked here on the host: it
holds every library `ldd` resolves for the release binary, and the binary
starts from it with nothing of the host's libraries.
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


def test_structure():
    build, runtime = stages()
    assert build.startswith("debian:bookworm AS build")
    assert "cmake --preset release -G Ninja -DDEDUP_BUILD_TESTS=OFF" in build
    assert "--target dedup-proxy" in build
    assert "scripts/container_rootfs.sh build/proxy/dedup-proxy /rootfs" in build
    assert runtime.startswith("scratch")
    assert "apt-get" not in runtime
    assert "USER 65532:65532" in runtime
    assert "WORKDIR /var/lib/dedup-proxy" in runtime
    assert "EXPOSE 8080 9901" in runtime
    assert 'ENTRYPOINT ["/usr/local/bin/dedup-proxy"]' in runtime
    assert (REPO / ".dockerignore").read_text().count("build") >= 1


def test_build_stage_copies_every_source_folder():
    """The build stage copies sources folder by folder (so test and doc edits
    keep the cached build): each folder CMakeLists.txt adds must be copied."""
    build = stages()[0]
    copied = set(re.findall(r"^COPY (\S+) ", build, re.M))
    folders = set(re.findall(r"^add_subdirectory\((\w+)\)", (REPO / "CMakeLists.txt").read_text(), re.M))
    assert folders - {"tests"}, "no source folders found in CMakeLists.txt"
    assert folders - {"tests"} <= copied, f"not copied into the build stage: {folders - {'tests'} - copied}"
    assert "tests" not in copied


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="apt-cache is not available")
def test_every_package_exists_in_apt():
    probe = subprocess.run(["apt-cache", "show", "--no-all-versions", "libc6"], capture_output=True, text=True)
    if "Package: libc6" not in probe.stdout:
        pytest.skip("apt package lists are empty (run apt-get update)")
    packages = apt_packages(stages()[0])
    proc = subprocess.run(["apt-cache", "show", "--no-all-versions", *packages], capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)$", proc.stdout, re.M))
    assert not [pkg for pkg in packages if pkg not in known], proc.stderr


def test_build_stage_installs_only_setup_packages():
    setup = (REPO / "scripts" / "setup.sh").read_text()
    listed = set(re.search(r"packages=\((.*?)\)", setup, re.S).group(1).split())
    build_packages = apt_packages(stages()[0])
    assert set(build_packages) <= listed
    assert "cmake" in build_packages and "librocksdb-dev" in build_packages
    assert "libgtest-dev" not in build_packages, "the image does not build the tests"


@pytest.mark.skipif(shutil.which("dpkg") is None or shutil.which("ldd") is None, reason="no dpkg/ldd")
@pytest.mark.skipif(os.geteuid() != 0, reason="container_rootfs.sh chowns the data dir (needs root)")
def test_rootfs_holds_every_linked_library_and_nothing_else(tmp_path):
    rootfs = tmp_path / "rootfs"
    proc = subprocess.run([str(REPO / "scripts" / "container_rootfs.sh"), str(binary()), str(rootfs)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = subprocess.run(["ldd", str(binary())], capture_output=True, text=True, check=True).stdout
    libraries = re.findall(r"=> (/\S+)", out)
    assert libraries, out
    missing = [lib for lib in libraries if not (rootfs / lib.lstrip("/")).exists()]
    assert not missing, f"not in the rootfs: {missing}"
    assert not [lib for lib in libraries if "rocksdb" in lib], "RocksDB is linked statically"
    shipped = {p.name for p in rootfs.rglob("*.so*") if p.is_file() and not p.is_symlink()}
    wanted = {os.path.basename(os.path.realpath(lib)) for lib in libraries}
    sleep_libs = re.findall(r"=> (/\S+)", subprocess.run(["ldd", "/bin/sleep"], capture_output=True,
                                                         text=True, check=True).stdout)
    wanted |= {os.path.basename(os.path.realpath(lib)) for lib in sleep_libs}
    wanted.add(os.path.basename(os.path.realpath("/lib64/ld-linux-x86-64.so.2")))
    assert shipped <= wanted, f"libraries nothing links: {sorted(shipped - wanted)}"
    assert (rootfs / "var" / "lib" / "dpkg" / "status.d" / "libc6").exists()
    data = (rootfs / "var" / "lib" / "dedup-proxy").stat()
    assert (data.st_uid, data.st_gid) == (65532, 65532)

    # The binary starts from the rootfs alone: its loader, its libraries only.
    version = subprocess.run(
        [str(rootfs / "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), "--inhibit-cache",
         "--library-path", str(rootfs / "usr/lib/x86_64-linux-gnu"),
         str(rootfs / "usr/local/bin/dedup-proxy"), "--version"],
        capture_output=True, text=True, timeout=30,
    )
    assert version.returncode == 0, version.stderr
    assert "0." in version.stdout + version.stderr
