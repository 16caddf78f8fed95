"""Processes and clients for the integration tests: the upstream test app, the
dedup-proxy binary, and polling helpers. Fixtures in conftest.py build on these.

Nothing here sleeps to synchronise: every wait polls a condition until a
deadline and fails loudly with what it last saw.
"""

import concurrent.futures
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = Path(os.environ.get("DEDUP_REPO_ROOT") or HERE.parent.parent)
DEFAULT_BINARY = REPO_ROOT / "build" / "proxy" / "dedup-proxy"

# Everything slow (start-up, sanitizer builds) gets this long before a test fails.
START_TIMEOUT = 30.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")


def proxy_binary():
    """The binary under test: $DEDUP_PROXY_BIN, else the release build in the repo."""
    return Path(os.environ.get("DEDUP_PROXY_BIN") or DEFAULT_BINARY)


def child_env(extra=None):
    """The environment for a child: ours without any DEDUP_PROXY_* variable (the
    proxy reads its flags from those), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_PROXY_")}
    env.update(extra or {})
    return env


def wait_until(predicate, timeout=10.0, interval=0.02, message="condition"):
    """Polls predicate() until it returns something truthy; returns that value.
    Raises AssertionError naming `message` (and the last exception) at the deadline."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # the thing polled may not exist yet
            last_error = error
        if time.monotonic() >= deadline:
            detail = " (last error: %r)" % (last_error,) if last_error else ""
            raise AssertionError("timed out after %.1fs waiting for %s%s"
                                 % (timeout, message, detail))
        time.sleep(interval)


def in_background(function, *args, **kwargs):
    """Runs function(*args, **kwargs) on a daemon-like worker thread; returns a
    concurrent.futures.Future (use .result(timeout=...))."""
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = executor.submit(function, *args, **kwargs)
    executor.shutdown(wait=False)
    return future


class StreamCollector:
    """Reads a child's pipe line by line on a daemon thread and keeps every line."""

    def __init__(self, stream, name):
        self.name = name
        self.lines = []
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def text(self):
        with self._cond:
            return "\n".join(self.lines)

    def snapshot(self):
        with self._cond:
            return list(self.lines)

    def wait_for(self, pattern, timeout, start_index=0):
        """Waits for a line matching regex `pattern` at index >= start_index;
        returns the match, or None if the stream ended or the deadline passed."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start_index
            while True:
                while index < len(self.lines):
                    match = regex.search(self.lines[index])
                    if match:
                        return match
                    index += 1
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    return None
                self._cond.wait(min(left, 0.2))

    def join(self, timeout=5.0):
        self._thread.join(timeout)


@dataclass
class Reply:
    """A response as the sender saw it."""

    status: int
    headers: list = field(default_factory=list)  # [(name, value)]
    body: bytes = b""

    def header(self, name):
        lowered = name.lower()
        for header, value in self.headers:
            if header.lower() == lowered:
                return value
        return None

    @property
    def replayed(self):
        return self.header("Idempotent-Replayed") == "true"

    def json(self):
        return json.loads(self.body)

    def __str__(self):
        return "%d %r %r" % (self.status, self.headers, self.body[:300])


def http_request(port, method, path, body=None, headers=None, timeout=15.0, conn=None):
    """One request with http.client. With `conn`, reuses that keep-alive connection."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, response.getheaders(), data)
    finally:
        if own:
            conn.close()


class UpstreamApp:
    """The upstream test app (upstream_app.py) in a subprocess."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "upstream_app.py")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(),
        )
        first_line = self.process.stdout.readline().decode().strip()
        if not first_line.isdigit():
            self.process.kill()
            raise RuntimeError("upstream app did not print its port: %r" % first_line)
        self.port = int(first_line)
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = StreamCollector(self.process.stderr, "upstream-app")

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)

    # -- the record --------------------------------------------------------

    def stats(self):
        reply = http_request(self.port, "GET", "/__stats", timeout=10)
        assert reply.status == 200, str(reply)
        return reply.json()

    def reset(self):
        reply = http_request(self.port, "POST", "/__reset", timeout=10)
        assert reply.status == 204, str(reply)

    def release(self, name):
        """Lets the requests held with X-Test-Hold: `name` answer."""
        reply = http_request(self.port, "POST", "/__release/" + name, timeout=10)
        assert reply.status == 204, str(reply)

    def key(self, key):
        """The per-key record: count, completed, attempts, bodies, headers,
        methods, responses. Zero counts for a key never seen."""
        return self.stats()["keys"].get(key) or {
            "count": 0, "completed": 0, "attempts": [], "bodies": [], "headers": [],
            "methods": [], "responses": [],
        }

    def count(self, key):
        return self.key(key)["count"]

    def requests_to(self, path):
        """Every recorded request for `path`, in arrival order."""
        return [r for r in self.stats()["requests"] if r["path"] == path]

    def wait_received(self, key, count=1, timeout=10.0):
        return wait_until(lambda: self.count(key) >= count, timeout,
                          message="app to receive %d request(s) for key %r" % (count, key))

    def wait_completed(self, key, count=1, timeout=10.0):
        return wait_until(lambda: self.key(key)["completed"] >= count, timeout,
                          message="app to complete %d request(s) for key %r" % (count, key))


def request_header(recorded_headers, name):
    """A header's first value in one recorded request's [[name, value]] list."""
    lowered = name.lower()
    for header, value in recorded_headers:
        if header.lower() == lowered:
            return value
    return None


LISTENING = re.compile(r"msg=\"?listening\b")
PROXY_ADDR = re.compile(r"\bproxy=\"?([0-9.]+):(\d+)")
ADMIN_ADDR = re.compile(r"\badmin=\"?([0-9.]+):(\d+)")


class Proxy:
    """dedup-proxy in a subprocess; restartable with the same data dir.

    Its stderr (logfmt) is collected from every run: `lines` spans all runs,
    so assertions may look at what an earlier run logged."""

    def __init__(self, binary, upstream_url, data_dir, extra_args=(), env=None,
                 workers=2, name="proxy"):
        self.binary = Path(binary)
        self.upstream_url = upstream_url
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.workers = workers
        self.name = name
        self.process = None
        self.port = None
        self.admin_port = None
        self.runs = []  # (process, StreamCollector) for every run so far
        self.returncodes = []

    # -- lifecycle ---------------------------------------------------------

    def command(self):
        """The command line of a run; no --upstream flag when upstream_url is None."""
        upstream = ["--upstream", self.upstream_url] if self.upstream_url is not None else []
        return [str(self.binary)] + upstream + [
            "--listen", "127.0.0.1:0",
            "--admin", "127.0.0.1:0",
            "--store", "rocksdb:%s" % self.data_dir,
            "--workers", str(self.workers),
        ] + self.extra_args

    def start(self, wait_ready=True, timeout=START_TIMEOUT):
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=child_env(self.extra_env),
        )
        log = StreamCollector(self.process.stdout, self.name)
        self.runs.append((self.process, log))
        match = log.wait_for(LISTENING.pattern, timeout)
        if match is None:
            if self.process.poll() is not None:
                self._fail_start("it exited before logging msg=listening")
            self._fail_start("no msg=listening line within %.0fs" % timeout)
        line = match.string
        proxy_addr, admin_addr = PROXY_ADDR.search(line), ADMIN_ADDR.search(line)
        if not proxy_addr or not admin_addr:
            self._fail_start("cannot parse the addresses from %r" % line)
        self.port = int(proxy_addr.group(2))
        self.admin_port = int(admin_addr.group(2))
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def _fail_start(self, why):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        raise AssertionError("dedup-proxy failed to start: %s (exit %s)\n%s"
                             % (why, self.process.returncode, self.log_text()))

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            if self.process.poll() is not None:
                raise AssertionError("dedup-proxy exited with %s while starting\n%s"
                                     % (self.process.returncode, self.log_text()))
            try:
                return self.admin("GET", "/readyz", timeout=2).status == 200
            except OSError:
                return False
        try:
            wait_until(ready, timeout, interval=0.05, message="/readyz to return 200")
        except AssertionError as error:
            raise AssertionError("%s\n%s" % (error, self.log_text())) from None

    def running(self):
        return self.process is not None and self.process.poll() is None

    def signal(self, signum):
        self.process.send_signal(signum)

    def wait_exit(self, timeout=20.0):
        """Waits for the current run to end; returns its exit code (negative: signal)."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError("dedup-proxy did not exit within %.0fs\n%s"
                                 % (timeout, self.log_text()))
        self.runs[-1][1].join()
        self.returncodes.append(code)
        return code

    def terminate(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code (0 for a graceful exit)."""
        self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self):
        """SIGKILL and wait; returns the exit code (-9)."""
        self.signal(signal.SIGKILL)
        return self.wait_exit(10)

    def restart(self, wait_ready=True):
        """Starts a new run with the same arguments and data dir (the previous run
        must have exited). Ports change: they are read again from the log."""
        assert not self.running(), "stop the proxy before restarting it"
        return self.start(wait_ready=wait_ready)

    def cleanup(self):
        if self.running():
            self.process.kill()
            self.process.wait(timeout=10)
        for _, log in self.runs:
            log.join(2)

    # -- logs ----------------------------------------------------------------

    @property
    def log(self):
        """The collector of the current (latest) run."""
        return self.runs[-1][1]

    @property
    def lines(self):
        out = []
        for _, log in self.runs:
            out.extend(log.snapshot())
        return out

    def log_text(self):
        parts = []
        for index, (process, log) in enumerate(self.runs):
            parts.append("--- %s run %d (exit %s) ---" % (self.name, index + 1, process.poll()))
            parts.append(log.text())
        return "\n".join(parts)

    def sanitizer_reports(self):
        return [line for line in self.lines if any(m in line for m in SANITIZER_MARKERS)]

    # -- clients ---------------------------------------------------------------

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path="/hook", body=None, headers=None, timeout=15.0, conn=None):
        return http_request(self.port, method, path, body, headers, timeout, conn)

    def deliver(self, key, body=b'{"event":"test"}', path="/hook", method="POST",
                headers=None, timeout=15.0):
        """A webhook delivery: `body` with the key in Idempotency-Key (None: no key)."""
        all_headers = {"Content-Type": "application/json"}
        if key is not None:
            all_headers["Idempotency-Key"] = key
        all_headers.update(headers or {})
        return self.request(method, path, body, all_headers, timeout)

    def deliver_until_settled(self, key, body=b'{"event":"test"}', headers=None,
                              timeout=20.0, path="/hook"):
        """Redelivers like an at-least-once sender: retries on 409, 5xx and connection
        errors until a non-retryable answer; returns it."""
        def attempt():
            try:
                reply = self.deliver(key, body, path=path, headers=headers, timeout=10)
            except OSError:
                return None
            if reply.status == 409 or reply.status >= 500:
                return None
            return reply
        return wait_until(attempt, timeout, interval=0.05,
                          message="a settled answer for key %r" % key)

    def admin(self, method, path, timeout=10.0):
        return http_request(self.admin_port, method, path, timeout=timeout)


@dataclass
class CurlResult:
    status: int
    head: str  # every header block curl saw (1xx included), as text
    body: bytes
    stderr: str  # with -v: the conversation

    def final_header(self, name):
        """A header's value in the last (final) header block, or None."""
        blocks = [b for b in self.head.replace("\r\n", "\n").split("\n\n") if b.strip()]
        if not blocks:
            return None
        lowered = name.lower() + ":"
        for line in blocks[-1].split("\n")[1:]:
            if line.lower().startswith(lowered):
                return line.split(":", 1)[1].strip()
        return None


def run_curl(url, work_dir, args=(), timeout=30.0):
    """Runs the real curl client against `url`; returns what it received."""
    token = uuid.uuid4().hex
    head_file = Path(work_dir) / ("curl-%s.head" % token)
    body_file = Path(work_dir) / ("curl-%s.body" % token)
    command = ["curl", "-sS", "--max-time", str(int(timeout)), "-D", str(head_file),
               "-o", str(body_file), "-w", "%{http_code}"] + list(args) + [url]
    done = subprocess.run(command, capture_output=True, timeout=timeout + 10,
                          env=child_env())
    status_text = done.stdout.decode().strip()
    head = head_file.read_text("latin-1") if head_file.exists() else ""
    body = body_file.read_bytes() if body_file.exists() else b""
    for path in (head_file, body_file):
        if path.exists():
            path.unlink()
    status = int(status_text) if status_text.isdigit() else 0
    if done.returncode != 0 and status == 0:
        status = -done.returncode  # curl's own error (7: could not connect, ...)
    return CurlResult(status, head, body, done.stderr.decode("utf-8", "replace"))
