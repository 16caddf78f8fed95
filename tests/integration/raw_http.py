"""A byte-level HTTP/1.1 client for tests that need to control the wire.

http.client normalises and validates what it sends; these tests need to send
malformed requests, pipeline several requests in one write, stop half-way
through the headers, or read a `100 Continue` before sending a body.
"""

import select
import socket
import time
from dataclasses import dataclass, field


class ConnectionClosed(Exception):
    """The peer closed the connection before a complete response arrived."""


@dataclass
class RawResponse:
    version: str
    status: int
    reason: str
    headers: list = field(default_factory=list)  # [(name, value)] in wire order
    body: bytes = b""
    chunked: bool = False

    def header(self, name):
        """The first value of a header (case-insensitive), or None."""
        lowered = name.lower()
        for header, value in self.headers:
            if header.lower() == lowered:
                return value
        return None

    def header_values(self, name):
        lowered = name.lower()
        return [value for header, value in self.headers if header.lower() == lowered]


class RawConnection:
    """One TCP connection with a receive buffer; every read has a deadline."""

    def __init__(self, host, port, timeout=10.0):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def send_tolerant(self, data):
        """Sends what the peer accepts; returns False if it closed or reset first."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def readable_within(self, seconds):
        """True if bytes (or EOF) are waiting, or arrive within `seconds`."""
        if self._buffer:
            return True
        readable, _, _ = select.select([self.sock], [], [], seconds)
        return bool(readable)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("peer closed the connection")
        self._buffer += chunk

    def _read_line(self):
        while b"\r\n" not in self._buffer:
            if len(self._buffer) > 1024 * 1024:
                raise ValueError("line too long")
            self._fill()
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _read_exact(self, size):
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _read_to_close(self):
        while True:
            try:
                self._fill()
            except ConnectionClosed:
                data, self._buffer = self._buffer, b""
                return data

    def read_response(self, request_method="POST", skip_interim=True):
        """Reads one response. Interim (1xx) responses are skipped unless
        skip_interim is False, in which case a 1xx is returned by itself."""
        while True:
            response = self._read_head()
            if 100 <= response.status < 200:
                if skip_interim:
                    continue
                return response
            self._read_body(response, request_method)
            return response

    def _read_head(self):
        status_line = self._read_line().decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ValueError("bad status line: %r" % status_line)
        response = RawResponse(
            version=parts[0], status=int(parts[1]), reason=parts[2] if len(parts) > 2 else ""
        )
        while True:
            line = self._read_line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            response.headers.append((name.strip(), value.strip()))
        return response

    def _read_body(self, response, request_method):
        if request_method == "HEAD" or response.status in (204, 304):
            return
        transfer_encoding = (response.header("Transfer-Encoding") or "").lower()
        if "chunked" in transfer_encoding:
            response.chunked = True
            body = b""
            while True:
                size = int(self._read_line().split(b";")[0].strip(), 16)
                if size == 0:
                    while self._read_line():
                        pass  # trailers
                    break
                body += self._read_exact(size)
                if self._read_exact(2) != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
            response.body = body
        elif response.header("Content-Length") is not None:
            response.body = self._read_exact(int(response.header("Content-Length")))
        else:
            response.body = self._read_to_close()

    def read_status_line(self):
        """Just the first line of the next response, e.g. 'HTTP/1.1 400 Bad Request'."""
        return self._read_line().decode("latin-1")

    def wait_closed(self, timeout):
        """Reads until the peer closes; returns (closed, bytes read, seconds taken).

        A reset counts as closed. Stops at the deadline with closed=False."""
        start = time.monotonic()
        deadline = start + timeout
        received = self._buffer
        self._buffer = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, received, time.monotonic() - start
            readable, _, _ = select.select([self.sock], [], [], left)
            if not readable:
                continue
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, OSError):
                return True, received, time.monotonic() - start
            if not chunk:
                return True, received, time.monotonic() - start
            received += chunk


def build_request(method, path, headers=(), body=b"", host="127.0.0.1", content_length=True):
    """Serialises a request. `headers` is a list of (name, value) pairs, sent as is;
    Content-Length is added for a body unless content_length is False."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if content_length and body and not any(n.lower() == "content-length" for n, _ in headers):
        lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body


def chunk_body(pieces):
    """Encodes byte pieces as a chunked body (with the final zero chunk)."""
    out = b""
    for piece in pieces:
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"
