"""The RocksDB store on a small tmpfs that fills up under load: senders get
503s (never a 2xx for a commit that is not durable), /readyz and /healthz turn
503, and the proxy exits by itself with code 3 (crash-only: its supervisor
restarts it) instead of aborting on a RocksDB assertion. A delivery the app
acknowledged after the failure is answered 503, not 200. With space back, a
restart replays every key that was acknowledged, and the one that was not
reaches the app again as attempt 2."""

import concurrent.futures
import subprocess
import time
import uuid

import pytest

from harness import in_background, wait_until

MOUNT_SIZE = "24m"
APP_BODY = "x" * 4000  # stored with each commit: fills the WAL and memtables fast
EXIT_STORE_FAILED = 3


@pytest.fixture
def small_tmpfs(tmp_path):
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % MOUNT_SIZE, "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root, as in CI): %s"
                    % (mounted.stderr.strip() or mounted.returncode))
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(directory):
    """Writes a file until the file system is full; returns its path."""
    filler = directory / "filler"
    chunk = b"\0" * (64 * 1024)
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
        try:  # the last partial chunk
            while True:
                out.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def deliver(proxy, key):
    try:
        # Short: once the proxy drains it accepts no more connections.
        reply = proxy.deliver(key, headers={"X-Test-Body": APP_BODY}, timeout=3)
        return key, reply.status
    except OSError:
        return key, None  # the proxy went away mid-request


def test_full_disk_answers_503_exits_cleanly_and_keeps_every_acknowledged_key(
        make_proxy, upstream, small_tmpfs):
    data_dir = small_tmpfs / "data"
    proxy = make_proxy("--drain-timeout", "60s", "--upstream-timeout", "60s", data_dir=data_dir)
    before = ["before-%s" % uuid.uuid4().hex for _ in range(20)]
    for key in before:
        assert deliver(proxy, key)[1] == 200
    # One delivery stays at the app while the disk fills: the drain waits for
    # it, so the failed proxy can be watched before it exits.
    held_key = "held-%s" % uuid.uuid4().hex
    held = in_background(proxy.deliver, held_key, headers={"X-Test-Hold": held_key}, timeout=60)
    upstream.wait_received(held_key)

    filler = fill(small_tmpfs)
    acknowledged, refused = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        deadline = time.monotonic() + 60
        while proxy.running() and time.monotonic() < deadline:
            keys = ["load-%s" % uuid.uuid4().hex for _ in range(30)]
            for key, status in pool.map(lambda k: deliver(proxy, k), keys):
                if status is not None and 200 <= status < 300:
                    acknowledged.append(key)
                elif status is not None:
                    assert status == 503, "a full disk must be a 503, got %s" % status
                    refused.append(key)
            if refused:
                break
    assert refused, "the disk never filled:\n" + proxy.log_text()
    try:
        wait_until(lambda: proxy.admin("GET", "/healthz", timeout=2).status == 503, 10,
                   message="/healthz 503 once the store failed")
    except AssertionError as error:
        raise AssertionError("%s\n%s" % (error, "\n".join(
            line for line in proxy.lines if "op=begin" not in line))) from None
    assert proxy.admin("GET", "/readyz").status == 503
    assert deliver(proxy, "late-%s" % uuid.uuid4().hex)[1] in (503, None), "no new deliveries"
    assert proxy.running(), "the drain waits for the delivery at the app"

    # The app acknowledges the held delivery, but its commit cannot be durable:
    # the sender is told 503 (it redelivers), never 200.
    upstream.release(held_key)
    assert held.result(timeout=30).status == 503
    code = proxy.wait_exit(timeout=30)
    assert code == EXIT_STORE_FAILED, \
        "want a clean exit %d, not a crash (exit %s)\n%s" % (EXIT_STORE_FAILED, code,
                                                              proxy.log_text())
    assert not any("Assertion" in line for line in proxy.lines), proxy.log_text()

    filler.unlink()  # space is back: the restart recovers from what is on disk
    proxy.restart()
    for key in before + acknowledged:
        replay = proxy.deliver(key, headers={"X-Test-Body": APP_BODY})
        assert replay.status == 200, str(replay)
        assert replay.header("Idempotent-Replayed") == "true", \
            "acknowledged key %s was lost" % key
    seen = upstream.stats()["keys"]
    assert all(seen[key]["count"] == 1 for key in before + acknowledged)
    # The held message reaches the app again, marked as a repeat.
    redelivered = proxy.deliver(held_key)
    assert redelivered.status == 200 and redelivered.header("Idempotent-Replayed") is None
    assert upstream.key(held_key)["attempts"] == ["1", "2"]
    fresh = proxy.deliver("after-%s" % uuid.uuid4().hex)
    assert fresh.status == 200 and fresh.header("Idempotent-Replayed") is None
    wait_until(lambda: proxy.admin("GET", "/readyz").status == 200, 10, interval=0.05,
               message="/readyz 200 after the restart")
