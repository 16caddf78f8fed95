"""The wire under big answers and hostile senders (README "Wire limits").

An ack is the app's status line: a 2xx whose body is too large to store or
buffer still commits, the body streams to the sender, and a sender that
hangs up or an app that breaks off mid-body never undoes the commit.

Backpressure both ways: a sender that pipelines requests and never reads,
or floods bytes after "Connection: close", keeps the process under a memory
bound while another sender is served at its normal latency.
"""

import array
import fcntl
import hashlib
import json
import os
import socket
import termios
import threading
import time
import uuid

import pytest

from harness import wait_until
from raw_http import RawConnection
from upstream_app import body_pattern

MiB = 1024 * 1024
# The bound of issue 12 for the whole process, whatever one sender does.
RSS_BOUND = 256 * MiB
# Under ASan freed memory sits in a quarantine (256 MiB by default), which
# would count as RSS: keep it small for the memory tests (ignored elsewhere).
SMALL_QUARANTINE = {"ASAN_OPTIONS": ":".join(
    filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=16"]))}


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def slow_reader(port):
    """A connection whose receive window is tiny (set before connecting)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def unsent(sock):
    """Bytes in our send queue the peer's kernel has not acknowledged yet."""
    out = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, out, True)
    return out[0]


def new_key(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def post_bytes(key, headers=None, body=b'{"event":"test"}', close=False):
    lines = ["POST /hook HTTP/1.1", "Host: proxy", "Content-Type: application/json",
             "Idempotency-Key: %s" % key, "Content-Length: %d" % len(body)]
    lines += ["%s: %s" % item for item in (headers or {}).items()]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_head(sock, deadline):
    """Reads up to the end of a response head; returns (status, headers, rest)."""
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response head: %r" % data[:200])
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def read_to_close(sock, data, deadline, keep=True):
    """Reads until the peer closes (or resets); returns (what was read, closed).
    With keep=False only the first bytes are kept."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            return data, True
        except socket.timeout:
            continue
        if not chunk:
            return data, True
        if keep or len(data) < 65536:
            data += chunk
    return data, False


class LatencyProbe:
    """A well-behaved sender on its own connections: one delivery (new key)
    every `interval` seconds, recording each round trip."""

    def __init__(self, proxy, interval=0.05):
        self.proxy = proxy
        self.interval = interval
        self.latencies = []
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                reply = self.proxy.deliver(new_key("probe"), timeout=20)
                if reply.status != 200:
                    self.failures.append(str(reply))
            except OSError as error:
                self.failures.append(repr(error))
            self.latencies.append(time.monotonic() - started)
            self._stop.wait(self.interval)

    def worst(self):
        return max(self.latencies) if self.latencies else float("inf")


# --- A. The status line is the ack ------------------------------------------

@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_ack_with_a_body_over_max_body_size_streams_and_commits(proxy, upstream, chunked):
    size = 20 * MiB  # over --max-body-size (8 MiB) and --max-stored-body (64 KiB)
    key = new_key("big")
    headers = {"X-Test-Body-Size": str(size)}
    if chunked:
        headers["X-Test-Chunked"] = "1"
    reply = proxy.deliver(key, headers=headers, timeout=60)
    assert reply.status == 200, str(reply)
    assert len(reply.body) == size
    assert hashlib.sha256(reply.body).digest() == hashlib.sha256(body_pattern(size)).digest()
    assert not reply.replayed

    again = proxy.deliver(key, headers=headers, timeout=30)
    assert again.status == 200, str(again)
    assert again.replayed
    assert again.body == b"", "a body over --max-stored-body is replayed as status only"
    assert upstream.count(key) == 1
    assert upstream.key(key)["attempts"] == ["1"]


def test_a_slow_reader_holds_back_the_app_instead_of_filling_memory(make_proxy, upstream):
    proxy = make_proxy(workers=1, env=SMALL_QUARANTINE)
    size = 64 * MiB
    key = new_key("slow")
    sock = slow_reader(proxy.port)
    sock.sendall(post_bytes(key, {"X-Test-Body-Size": str(size)}))
    deadline = time.monotonic() + 60
    status, headers, rest = read_head(sock, deadline)
    assert status == 200 and headers["content-length"] == str(size)
    baseline = rss_bytes(proxy.process.pid)
    peak = baseline
    data = bytearray(rest)
    # Read a trickle for a while: the proxy must not buffer the app's body.
    trickle_end = time.monotonic() + 2
    while time.monotonic() < trickle_end:
        data += sock.recv(4096)
        peak = max(peak, rss_bytes(proxy.process.pid))
        time.sleep(0.01)
    assert len(data) < size // 4, "the trickle should not have taken most of the body"
    sock.settimeout(30)
    while len(data) < size:
        chunk = sock.recv(1 << 20)
        assert chunk, "closed after %d of %d bytes" % (len(data), size)
        data += chunk
    sock.close()
    print("slow reader: RSS baseline %d MiB, peak while trickling %d MiB"
          % (baseline // MiB, peak // MiB))
    assert peak - baseline < 16 * MiB, "RSS grew by %d MiB" % ((peak - baseline) // MiB)
    assert hashlib.sha256(data).digest() == hashlib.sha256(body_pattern(size)).digest()
    assert upstream.count(key) == 1


def test_ack_then_the_sender_hangs_up_mid_body_still_commits(proxy, upstream):
    key = new_key("hangup")
    sock = slow_reader(proxy.port)
    sock.sendall(post_bytes(key, {"X-Test-Body-Size": str(64 * MiB)}))
    status, headers, _ = read_head(sock, time.monotonic() + 30)
    assert status == 200
    assert headers["content-length"] == str(64 * MiB)
    sock.close()  # hangs up with almost all of the body unread

    upstream.wait_completed(key, timeout=30)
    again = proxy.deliver(key, timeout=30)
    assert again.status == 200 and again.replayed, str(again)
    assert upstream.count(key) == 1
    # The proxy stays healthy and serves the next sender.
    assert proxy.deliver(new_key("after"), timeout=30).status == 200


@pytest.mark.parametrize("size,sent", [(4 * MiB, 1 * MiB), (1000, 10)],
                         ids=["streamed", "buffered"])
def test_app_breaking_off_after_an_ack_status_commits_and_cuts_the_sender(
        proxy, upstream, size, sent):
    key = new_key("broken")
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    sock.sendall(post_bytes(key, {"X-Test-Body-Size": str(size),
                                  "X-Test-Break-After": str(sent)}))
    data, closed = read_to_close(sock, b"", time.monotonic() + 30)
    sock.close()
    assert closed, "the proxy must close the sender's connection"
    if data:
        head, body = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200")
        assert len(body) < size, "the sender must not get what looks like a whole answer"

    again = proxy.deliver(key, timeout=30)
    assert again.status == 200 and again.replayed, str(again)
    assert upstream.count(key) == 1


def test_non_ack_status_with_a_big_body_streams_and_releases(proxy, upstream):
    key = new_key("big500")
    headers = {"X-Test-Body-Size": str(2 * MiB), "X-Test-Status": "500"}
    reply = proxy.deliver(key, headers=headers, timeout=60)
    assert reply.status == 500
    assert len(reply.body) == 2 * MiB
    again = proxy.deliver(key, headers=headers, timeout=60)
    assert again.status == 500 and not again.replayed
    assert upstream.count(key) == 2


def test_streamed_answer_keeps_the_connection_usable(proxy, upstream):
    with RawConnection("127.0.0.1", proxy.port, timeout=30) as conn:
        first = new_key("keep")
        second = new_key("keep")
        conn.send(post_bytes(first, {"X-Test-Body-Size": str(1 * MiB), "X-Test-Chunked": "1"})
                  + post_bytes(second))
        big = conn.read_response()
        assert big.status == 200 and big.chunked
        assert big.body == body_pattern(1 * MiB)
        small = conn.read_response()
        assert small.status == 200
        assert json.loads(small.body)["key"] == second


def test_http10_sender_gets_a_streamed_body_of_unknown_length_until_close(proxy, upstream):
    key = new_key("http10")
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    request = post_bytes(key, {"X-Test-Body-Size": str(1 * MiB), "X-Test-Chunked": "1"})
    sock.sendall(request.replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    deadline = time.monotonic() + 30
    status, headers, rest = read_head(sock, deadline)
    body, closed = read_to_close(sock, rest, deadline)
    sock.close()
    assert status == 200
    assert "transfer-encoding" not in headers and "content-length" not in headers
    assert headers.get("connection") == "close"
    assert closed and body == body_pattern(1 * MiB)


# --- B. Backpressure both ways ------------------------------------------------

def flood(sock, payload, seconds, stop_when=lambda: False, max_bytes=1 << 40):
    """Sends `payload` repeatedly without reading for `seconds` (or until
    `max_bytes`); returns bytes sent."""
    sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + seconds
    view = memoryview(payload)
    offset = 0
    while time.monotonic() < deadline and sent < max_bytes and not stop_when():
        try:
            n = sock.send(view[offset:])
            sent += n
            offset = (offset + n) % len(payload)
        except BlockingIOError:
            time.sleep(0.005)
        except OSError:
            break
    return sent


def test_pipelining_non_reader_stays_bounded_and_others_are_served(make_proxy, upstream):
    proxy = make_proxy(workers=1, env=SMALL_QUARANTINE)
    key = new_key("stored60k")
    first = proxy.deliver(key, headers={"X-Test-Body-Size": str(60 * 1024)})
    assert first.status == 200 and len(first.body) == 60 * 1024
    baseline = rss_bytes(proxy.process.pid)

    attacker = slow_reader(proxy.port)
    peak = [baseline]
    too_big = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(proxy.process.pid))
            if peak[0] > 4 * RSS_BOUND:
                too_big.set()  # stop early: no need to take the machine down
            done.wait(0.05)

    done = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with LatencyProbe(proxy) as probe:
        sent = flood(attacker, post_bytes(key) * 64, 8, stop_when=too_big.is_set)
    done.set()
    watcher.join(5)
    attacker.close()

    print("non-reader: sent %d MiB, RSS baseline %d MiB peak %d MiB; probe worst %.3fs "
          "over %d deliveries" % (sent // MiB, baseline // MiB, peak[0] // MiB, probe.worst(),
                                  len(probe.latencies)))
    assert peak[0] < RSS_BOUND, "RSS peaked at %d MiB" % (peak[0] // MiB)
    assert not probe.failures, probe.failures[:3]
    assert len(probe.latencies) >= 20
    assert probe.worst() < 1.5
    assert upstream.count(key) == 1


def test_flood_after_connection_close_is_discarded(make_proxy, upstream):
    proxy = make_proxy(workers=1, env=SMALL_QUARANTINE)
    key = new_key("closing")
    attacker = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    # The answer is held at the app while the sender floods the connection.
    attacker.sendall(post_bytes(key, {"X-Test-Hold": key}, close=True))
    upstream.wait_received(key)
    baseline = rss_bytes(proxy.process.pid)
    peak = [baseline]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(proxy.process.pid))
            done.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with LatencyProbe(proxy) as probe:
        sent = flood(attacker, b"X" * MiB, 15, stop_when=lambda: peak[0] > 4 * RSS_BOUND,
                     max_bytes=512 * MiB)
    done.set()
    watcher.join(5)
    print("close-flood: sent %d MiB, RSS baseline %d MiB peak %d MiB; probe worst %.3fs "
          "over %d deliveries" % (sent // MiB, baseline // MiB, peak[0] // MiB, probe.worst(),
                                  len(probe.latencies)))
    assert peak[0] < RSS_BOUND, "RSS peaked at %d MiB" % (peak[0] // MiB)
    assert sent > 64 * MiB, "the flood must be read (and discarded), not stalled"
    assert not probe.failures, probe.failures[:3]
    assert probe.worst() < 1.5

    # The held answer still reaches the sender, then the connection closes
    # (once the proxy has the whole flood: closing with unread bytes would
    # reset the connection and destroy the answer in flight).
    wait_until(lambda: unsent(attacker) == 0, 10, message="the flood to be received")
    upstream.release(key)
    attacker.setblocking(True)
    status, headers, _ = read_head(attacker, time.monotonic() + 30)
    assert status == 200
    assert headers.get("connection") == "close"
    _, closed = read_to_close(attacker, b"", time.monotonic() + 30)
    assert closed
    attacker.close()


def test_write_timeout_closes_a_connection_that_does_not_drain(make_proxy, upstream):
    proxy = make_proxy("--write-timeout", "1s", workers=1)
    key = new_key("stored60k")
    assert proxy.deliver(key, headers={"X-Test-Body-Size": str(60 * 1024)}).status == 200
    attacker = slow_reader(proxy.port)
    requests = post_bytes(key) * 64
    flood(attacker, requests, 3)  # the proxy gives up on it after 1s without progress

    # Without the deadline the connection would stay open (reading on
    # resumes the answers); with it, the proxy has closed it: EOF or reset.
    attacker.setblocking(True)
    _, closed = read_to_close(attacker, b"", time.monotonic() + 20, keep=False)
    attacker.close()
    assert closed, "the proxy kept a connection that took no bytes for longer than 1s"
    assert proxy.deliver(new_key("after"), timeout=10).status == 200


def test_write_timeout_ends_a_streamed_answer_nobody_reads(make_proxy, upstream):
    proxy = make_proxy("--write-timeout", "1s", workers=1)
    key = new_key("unread")
    sock = slow_reader(proxy.port)
    sock.sendall(post_bytes(key, {"X-Test-Body-Size": str(64 * MiB)}))
    status, _, _ = read_head(sock, time.monotonic() + 30)
    assert status == 200
    # Not reading: after 1s without progress the proxy closes the connection
    # and stops pulling the app's body (the app sees its connection go).
    upstream.wait_completed(key, timeout=20)
    _, closed = read_to_close(sock, b"", time.monotonic() + 20, keep=False)
    sock.close()
    assert closed
    again = proxy.deliver(key, timeout=10)
    assert again.status == 200 and again.replayed, str(again)
    assert upstream.count(key) == 1
