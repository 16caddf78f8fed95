"""Hostile senders and the yardsticks the hostile-sender tests (and the soak
script, tests/bench/soak_hostile.py) measure them with: the proxy's RSS from
/proc/PID/status, sampled in the background, and a well-behaved client that
keeps delivering on its own keep-alive connection and records its latency.

Every attacker is a thread that runs until its `stop` event is set, so a test
starts several at once and stops them together.
"""

import http.client
import socket
import threading
import time
import uuid


def is_sanitized(binary):
    """True for an ASan or TSan build: its RSS (shadow memory, quarantine) and
    latency say nothing about the release build's."""
    with open(binary, "rb") as program:
        data = program.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def rss_mib(pid):
    """The process's resident set (VmRSS) in MiB."""
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS for pid %d" % pid)


class RssSampler(threading.Thread):
    """Samples a process's RSS every `interval` seconds; `peak` is the highest seen."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples = []  # (seconds since start, MiB)
        self.peak = 0.0
        self.stop_event = threading.Event()
        self.start_time = time.monotonic()
        self.start()

    def run(self):
        while not self.stop_event.is_set():
            try:
                value = rss_mib(self.pid)
            except (OSError, AssertionError):
                return  # the process is gone
            self.samples.append((time.monotonic() - self.start_time, value))
            self.peak = max(self.peak, value)
            self.stop_event.wait(self.interval)

    def stop(self):
        self.stop_event.set()
        self.join(5)
        return self.peak


class WellBehavedClient(threading.Thread):
    """Delivers a fresh key every `interval` seconds on one keep-alive
    connection (a new one after an error), like a normal sender. Records
    (seconds since start, latency in seconds, status or the error's name)."""

    def __init__(self, port, interval=0.02, body=b'{"event":"normal"}', timeout=10.0):
        super().__init__(daemon=True)
        self.port = port
        self.interval = interval
        self.body = body
        self.timeout = timeout
        self.results = []
        self.stop_event = threading.Event()
        self.start_time = time.monotonic()
        self.conn = None
        self._connect()
        self.start()

    def _connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        self.conn.connect()

    def run(self):
        while not self.stop_event.is_set():
            began = time.monotonic()
            try:
                if self.conn is None:
                    self._connect()
                self.conn.request("POST", "/hook", body=self.body, headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": "normal-%s" % uuid.uuid4().hex})
                response = self.conn.getresponse()
                response.read()
                outcome = response.status
            except (OSError, http.client.HTTPException) as error:
                outcome = type(error).__name__
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
            self.results.append((began - self.start_time, time.monotonic() - began, outcome))
            self.stop_event.wait(self.interval)

    def stop(self):
        self.stop_event.set()
        self.join(self.timeout + 5)
        if self.conn is not None:
            self.conn.close()
        return self.results

    def worst_latency(self):
        return max((latency for _, latency, _ in self.results), default=0.0)

    def failures(self):
        return [r for r in self.results if r[2] != 200]


class Attacker(threading.Thread):
    """Runs `attack(stop_event)` on a thread; counts what it saw in `counts`."""

    def __init__(self, attack, *args):
        super().__init__(daemon=True)
        self.attack = attack
        self.args = args
        self.stop_event = threading.Event()
        self.counts = {}
        self.error = None
        self.start()

    def count(self, what, n=1):
        self.counts[what] = self.counts.get(what, 0) + n

    def run(self):
        try:
            self.attack(self, *self.args)
        except Exception as error:  # reported by stop()
            self.error = error

    def stop(self, timeout=30):
        self.stop_event.set()
        self.join(timeout)
        return self.counts


def connect(port, timeout=5.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def status_of(sock, timeout=5.0):
    """Reads the status code of the answer on `sock` (None: closed without one)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    if not data.startswith(b"HTTP/1."):
        return None
    return int(data.split(b" ", 2)[1])


# -- the attacks -----------------------------------------------------------------


def idle_connections(attacker, port, count):
    """Opens `count` connections that never send a byte, and keeps them open."""
    socks = []
    try:
        for _ in range(count):
            if attacker.stop_event.is_set():
                break
            try:
                socks.append(connect(port))
                attacker.count("opened")
            except OSError:
                attacker.count("connect_failed")
        attacker.stop_event.wait()
    finally:
        for sock in socks:
            sock.close()


def slow_headers(attacker, port, count, every=0.5):
    """`count` senders each trickling a request's headers, a byte per `every` s."""
    head = b"POST /hook HTTP/1.1\r\nHost: x\r\nIdempotency-Key: slow\r\n" + b"X-Pad: " + b"a" * 4000
    senders = []
    for _ in range(count):
        try:
            senders.append([connect(port), 0])
        except OSError:
            attacker.count("connect_failed")
    while not attacker.stop_event.is_set() and senders:
        for sender in list(senders):
            sock, sent = sender
            try:
                sock.send(head[sent % len(head):sent % len(head) + 1])
                sender[1] += 1
            except OSError:
                attacker.count("cut_off")
                sock.close()
                senders.remove(sender)
                # A new one takes its place: the attack goes on.
                try:
                    senders.append([connect(port), 0])
                except OSError:
                    attacker.count("connect_failed")
        attacker.stop_event.wait(every)
    for sock, _ in senders:
        sock.close()


def slow_bodies(attacker, port, count, every=0.5, length=1024 * 1024):
    """`count` senders each announcing a `length` body and trickling it a byte per `every` s."""
    head = ("POST /hook HTTP/1.1\r\nHost: x\r\nIdempotency-Key: slow-body-%s\r\n"
            "Content-Length: %d\r\n\r\n")

    def open_one():
        sock = connect(port)
        sock.sendall((head % (uuid.uuid4().hex, length)).encode())
        return sock

    senders = []
    for _ in range(count):
        try:
            senders.append(open_one())
        except OSError:
            attacker.count("connect_failed")
    while not attacker.stop_event.is_set() and senders:
        for sock in list(senders):
            try:
                sock.send(b"x")
            except OSError:
                attacker.count("cut_off")
                sock.close()
                senders.remove(sock)
                try:
                    senders.append(open_one())
                except OSError:
                    attacker.count("connect_failed")
        attacker.stop_event.wait(every)
    for sock in senders:
        sock.close()


def oversize_requests(attacker, port, header_bytes=80 * 1024, body_bytes=9 * 1024 * 1024):
    """Over and over: a request with headers over the limit (431), then one
    announcing a body over the limit and sending it anyway (413)."""
    big_header = (b"POST /hook HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * header_bytes +
                  b"\r\n\r\n")
    big_body_head = b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % body_bytes
    filler = b"b" * (256 * 1024)
    while not attacker.stop_event.is_set():
        for request, follow in ((big_header, b""), (big_body_head, filler)):
            sock = None
            try:
                sock = connect(port)
                sock.sendall(request)
                sent = 0
                while follow and sent < body_bytes and not attacker.stop_event.is_set():
                    sock.sendall(follow)  # raises once the proxy has closed
                    sent += len(follow)
            except OSError:
                pass
            if sock is None:
                attacker.count("connect_failed")
                continue
            attacker.count(status_of(sock))
            sock.close()


def large_bodies(attacker, port, body_bytes, path="/hook", delay_ms=0):
    """Deliveries with large bodies, one at a time, counting the statuses."""
    body = b"x" * body_bytes
    while not attacker.stop_event.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            headers = {"Idempotency-Key": "big-%s" % uuid.uuid4().hex}
            if delay_ms:
                headers["X-Test-Delay-Ms"] = str(delay_ms)
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            attacker.count(response.status)
            if response.status == 503:
                attacker.count("retry_after" if response.getheader("Retry-After") else "no_retry")
        except (OSError, http.client.HTTPException) as error:
            attacker.count(type(error).__name__)
        finally:
            conn.close()


def admin_abuse(attacker, admin_port, idle_count=30):
    """Against the admin port: idle connections, huge headers, a body, slow headers."""
    idle = []
    for _ in range(idle_count):
        try:
            idle.append(connect(admin_port))
        except OSError:
            attacker.count("connect_failed")
    big_header = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * (64 * 1024) + b"\r\n\r\n"
    big_body = (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" +
                b"b" * 65536)
    while not attacker.stop_event.is_set():
        for request in (big_header, big_body):
            try:
                sock = connect(admin_port)
                sock.sendall(request)
                attacker.count(status_of(sock, timeout=2))
                sock.close()
            except OSError as error:
                attacker.count(type(error).__name__)
        attacker.stop_event.wait(0.01)
    for sock in idle:
        sock.close()
