#!/usr/bin/env python3
"""A scriptable webhook consumer ("upstream") for the integration tests.

Started as a subprocess by the fixtures: it listens on 127.0.0.1, port 0 (or
--port N), and prints its port as the first line of stdout.

Every request is recorded the moment its body has been read (before any
delay), and its completion is recorded separately once the answer is written
(or the connection dropped), so a test can wait for "the app received it" and
for "the app finished processing it" as two distinct events.

Behaviour is driven by request headers:
  X-Test-Status        response status (default 200)
  X-Test-Delay-Ms      sleep this long before answering
  X-Test-Hold          hold the answer until POST /__release/NAME names this
                       value (at most 60 s), so a test decides when the app is done
  X-Test-Body          response body (default: a JSON echo, unique per request)
  X-Test-Content-Type  response Content-Type (default application/json)
  X-Test-Close         close the connection without answering
  X-Test-Chunked       answer with Transfer-Encoding: chunked
  X-Test-Body-Size     response body of this many bytes (body_pattern(N)), written
                       in 64 KiB pieces; the record keeps only its length
  X-Test-Break-After   send the head (full Content-Length) and this many body
                       bytes, then close the connection
  X-Test-Header        "Name: value", added to the response (repeatable, in order)
  X-Test-First-Status  the first request of its Dedup-Key gets this status
                       instead (a delivery that fails once, then succeeds)

Control endpoints (never recorded):
  GET  /__stats   the JSON record (see Recorder.snapshot)
  POST /__reset   clear the record
  POST /__release/NAME   let requests held with X-Test-Hold: NAME answer (and any
                  that arrive later with it)

Bodies in the record are latin-1 decoded strings, so they map 1:1 to bytes.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def body_pattern(size):
    """The body X-Test-Body-Size: N answers: a counter, so a lost or reordered
    piece shows."""
    pattern = b"".join(b"%07d\n" % i for i in range(8192))  # 64 KiB
    whole, rest = divmod(size, len(pattern))
    return pattern * whole + pattern[:rest]


class Recorder:
    """Thread-safe record of what reached the app. One lock guards all state."""

    def __init__(self):
        self._lock = threading.Lock()
        self._clear()

    def _clear(self):
        self._requests = []  # every request, in arrival order
        self._keys = {}  # Dedup-Key value -> per-key record
        self._received = 0
        self._completed = 0

    def reset(self):
        with self._lock:
            self._clear()

    def received(self, method, path, headers, body):
        """Records an arriving request; returns (request id, per-key sequence)."""
        key = headers_get(headers, "Dedup-Key")
        attempt = headers_get(headers, "Dedup-Attempt")
        with self._lock:
            self._received += 1
            request_id = self._received
            entry = {
                "id": request_id,
                "method": method,
                "path": path,
                "key": key,
                "attempt": attempt,
                "headers": [[name, value] for name, value in headers],
                "body": body.decode("latin-1"),
                "completed": False,
                "response": None,
            }
            self._requests.append(entry)
            seq = request_id
            if key is not None:
                record = self._keys.setdefault(
                    key,
                    {
                        "count": 0,
                        "completed": 0,
                        "attempts": [],
                        "bodies": [],
                        "headers": [],
                        "methods": [],
                        "responses": [],
                    },
                )
                record["count"] += 1
                record["attempts"].append(attempt)
                record["bodies"].append(entry["body"])
                record["headers"].append(entry["headers"])
                record["methods"].append(method)
                seq = record["count"]
            return request_id, seq

    def completed(self, request_id, status, body):
        """Records that the app finished a request (status None: no answer sent)."""
        with self._lock:
            self._completed += 1
            entry = self._requests[request_id - 1] if request_id <= len(self._requests) else None
            if entry is None or entry["completed"]:
                return  # reset in between: nothing to attach it to
            entry["completed"] = True
            response = None
            if status is not None:
                response = {"status": status, "body": body.decode("latin-1")}
            entry["response"] = response
            key = entry["key"]
            if key is not None and key in self._keys:
                self._keys[key]["completed"] += 1
                self._keys[key]["responses"].append(response)

    def snapshot(self):
        with self._lock:
            return json.dumps(
                {
                    "received": self._received,
                    "completed": self._completed,
                    "keys": self._keys,
                    "requests": self._requests,
                }
            ).encode()


def headers_get(headers, name):
    lowered = name.lower()
    for header, value in headers:
        if header.lower() == lowered:
            return value
    return None


class ChunkedBodyError(Exception):
    pass


class Holds:
    """Named gates: a request with X-Test-Hold: NAME waits until NAME is released.
    Releasing first is fine: the gate stays open. One lock guards the table."""

    LIMIT_SECONDS = 60.0

    def __init__(self):
        self._lock = threading.Lock()
        self._gates = {}

    def _gate(self, name):
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    def wait(self, name):
        self._gate(name).wait(self.LIMIT_SECONDS)

    def release(self, name):
        self._gate(name).set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "upstream-app/1"
    recorder = Recorder()
    holds = Holds()

    def log_message(self, fmt, *args):
        sys.stderr.write("upstream-app: %s\n" % (fmt % args))

    # Every method goes through the same path.
    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    def _read_body(self):
        transfer_encoding = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in transfer_encoding:
            body = bytearray()
            while True:
                size_line = self.rfile.readline(1024)
                if not size_line:
                    raise ChunkedBodyError("eof in chunk size")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailers until an empty line.
                    while True:
                        line = self.rfile.readline(8192)
                        if line in (b"\r\n", b"\n", b""):
                            return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline(8)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        path = self.path
        if path == "/__stats" and self.command == "GET":
            self._answer(200, self.recorder.snapshot(), "application/json")
            return
        if path == "/__reset" and self.command == "POST":
            self._read_body()
            self.recorder.reset()
            self._answer(204, b"", None)
            return
        if path.startswith("/__release/") and self.command == "POST":
            self._read_body()
            self.holds.release(path[len("/__release/"):])
            self._answer(204, b"", None)
            return

        body = self._read_body()
        headers = list(self.headers.items())
        request_id, seq = self.recorder.received(self.command, path, headers, body)

        delay_ms = int(self.headers.get("X-Test-Delay-Ms") or 0)
        if delay_ms > 0:
            time.sleep(delay_ms / 1000.0)
        hold = self.headers.get("X-Test-Hold")
        if hold is not None:
            self.holds.wait(hold)

        if self.headers.get("X-Test-Close") is not None:
            self.close_connection = True
            self.recorder.completed(request_id, None, b"")
            return

        status = int(self.headers.get("X-Test-Status") or 200)
        first_status = self.headers.get("X-Test-First-Status")
        if first_status is not None and seq == 1:
            status = int(first_status)
        extra_headers = [
            tuple(part.strip() for part in line.split(":", 1))
            for line in self.headers.get_all("X-Test-Header") or []
        ]
        content_type = self.headers.get("X-Test-Content-Type") or "application/json"
        custom_body = self.headers.get("X-Test-Body")
        if custom_body is not None:
            response_body = custom_body.encode("latin-1")
        else:
            response_body = json.dumps(
                {
                    "key": self.headers.get("Dedup-Key"),
                    "attempt": self.headers.get("Dedup-Attempt"),
                    "seq": seq,
                    "request_id": request_id,
                    "method": self.command,
                    "path": path,
                    "body_length": len(body),
                },
                sort_keys=True,
            ).encode()
        chunked = self.headers.get("X-Test-Chunked") is not None
        body_size = self.headers.get("X-Test-Body-Size")
        if body_size is not None:
            response_body = body_pattern(int(body_size))
        break_after = self.headers.get("X-Test-Break-After")
        recorded_body = (b"<%d bytes>" % len(response_body)) if body_size else response_body
        try:
            if break_after is not None:
                self._answer_broken(status, response_body, content_type, int(break_after))
            else:
                self._answer(status, response_body, content_type, chunked=chunked,
                             extra_headers=extra_headers)
        finally:
            self.recorder.completed(request_id, status, recorded_body)

    def _answer_broken(self, status, body, content_type, sent):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:sent])
        self.wfile.flush()
        self.close_connection = True

    def _answer(self, status, body, content_type, chunked=False, extra_headers=()):
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in extra_headers:
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            self.wfile.flush()
            return
        if chunked:
            # Several chunks of uneven size so the proxy has to reassemble them.
            pieces = [body[:1], body[1:7]] if body else []
            pieces += [body[at:at + 65536] for at in range(7, len(body), 65536)]
            for piece in pieces:
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            for at in range(0, len(body), 65536):
                self.wfile.write(body[at:at + 65536])
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the proxy may open many upstream connections at once


def main():
    parser = argparse.ArgumentParser(description="Scriptable upstream app for the tests.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
