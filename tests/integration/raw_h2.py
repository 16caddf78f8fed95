"""HTTP/2 frames written by hand (RFC 9113), for the tests that must send what
no well-behaved client sends: rapid resets, CONTINUATION floods. Header blocks
use HPACK literals without indexing and without Huffman coding (RFC 7541
§6.2.2), which every decoder accepts; nothing here decodes HPACK, so tests
look at frame types, stream ids and error codes only.
"""

import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x8, 0x9)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
NO_ERROR, PROTOCOL_ERROR, CANCEL, ENHANCE_YOUR_CALM = 0x0, 0x1, 0x8, 0xb


def frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream_id & 0x7FFFFFFF) + payload


def _integer(value, prefix_bits, first_byte_flags=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(text):
    data = text.encode("latin-1") if isinstance(text, str) else text
    return _integer(len(data), 7) + data


def header_block(fields):
    """HPACK: every field a literal without indexing, new name."""
    return b"".join(b"\x00" + _string(name) + _string(value) for name, value in fields)


def request_fields(path="/hook", method="POST", authority="127.0.0.1", extra=()):
    return [(":method", method), (":scheme", "http"), (":path", path),
            (":authority", authority)] + list(extra)


def headers_frame(stream_id, fields, end_stream=False, end_headers=True):
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
    return frame(HEADERS, flags, stream_id, header_block(fields))


def rst_stream(stream_id, code=CANCEL):
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


def settings(ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0)


class RawH2Connection:
    """A socket that has sent the client preface. read_frames() parses what
    the server sends until the connection ends or a deadline passes."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(PREFACE + settings())
        self.buffer = b""
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def try_send(self, data):
        """Sends; False when the server has already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def read_frames(self, until=None, timeout=10.0):
        """Frames as (type, flags, stream_id, payload), read until `until(frame)`
        is true, the connection closes, or `timeout` passes."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            while len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) < 9 + length:
                    break
                kind, flags = self.buffer[3], self.buffer[4]
                stream_id = int.from_bytes(self.buffer[5:9], "big") & 0x7FFFFFFF
                payload = self.buffer[9:9 + length]
                self.buffer = self.buffer[9 + length:]
                item = (kind, flags, stream_id, payload)
                frames.append(item)
                if until is not None and until(item):
                    return frames
            left = deadline - time.monotonic()
            if self.closed or left <= 0:
                return frames
            self.sock.settimeout(min(left, 1.0))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
            self.buffer += chunk

    def close(self):
        self.sock.close()


def goaway_error(frames):
    """The error code of the first GOAWAY among `frames`, or None."""
    for kind, _, _, payload in frames:
        if kind == GOAWAY and len(payload) >= 8:
            return int.from_bytes(payload[4:8], "big")
    return None
