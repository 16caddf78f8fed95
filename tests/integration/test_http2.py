"""h2c (HTTP/2 with prior knowledge) on the --listen port, beside HTTP/1.1:
the same dedup behaviour through real HTTP/2 clients (curl, nghttp, h2load),
and the hardening against hostile HTTP/2 senders (rapid reset, CONTINUATION
flood) checked with frames written by hand."""

import hashlib
import random
import re
import struct
import subprocess
import threading
import time
import uuid

import pytest

import raw_h2
from harness import http_request, proxy_binary, wait_until
from hostile import is_sanitized
from upstream_app import body_pattern


def curl_h2(url, args=(), timeout=20):
    """curl --http2-prior-knowledge; returns (status, {header: value}, body, version)."""
    command = ["curl", "-sS", "--http2-prior-knowledge", "--max-time", str(timeout),
               "-D", "-", "-o", "/dev/stderr", "-w", "\n%{http_version}"] + list(args) + [url]
    done = subprocess.run(command, capture_output=True, timeout=timeout + 10)
    out = done.stdout.decode("latin-1")
    head, _, version = out.rpartition("\n")
    lines = [line for line in head.replace("\r\n", "\n").split("\n") if line]
    status, headers = 0, {}
    for line in lines:
        if line.startswith("HTTP/"):
            status, headers = int(line.split()[1]), {}
        elif ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers, done.stderr, version.strip()


def deliver_h2(proxy, key, body=b'{"event":"test"}', extra=()):
    args = ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body]
    if key is not None:
        args += ["-H", "Idempotency-Key: " + key]
    return curl_h2(proxy.url + "/hook", args + list(extra))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_curl_prior_knowledge_forwards_once_then_replays(proxy, upstream):
    key = "h2-" + uuid.uuid4().hex
    status, headers, body, version = deliver_h2(proxy, key)
    assert (status, version) == (200, "2"), (status, version, body)
    assert "idempotent-replayed" not in headers
    again_status, again_headers, again_body, _ = deliver_h2(proxy, key)
    assert again_status == 200
    assert again_headers.get("idempotent-replayed") == "true"
    assert again_body == body
    record = upstream.stats()["keys"][key]
    assert record["count"] == 1
    assert record["attempts"] == ["1"]


def test_http1_and_h2_share_the_port_and_the_keys(proxy, upstream):
    key = "mixed-" + uuid.uuid4().hex
    first = proxy.deliver(key)
    assert first.status == 200 and not first.replayed
    status, headers, body, version = deliver_h2(proxy, key)
    assert (status, version) == (200, "2")
    assert headers.get("idempotent-replayed") == "true"
    assert body == first.body
    key2 = "mixed2-" + uuid.uuid4().hex
    assert deliver_h2(proxy, key2)[0] == 200
    assert proxy.deliver(key2).replayed
    assert upstream.stats()["keys"][key]["count"] == 1
    assert upstream.stats()["keys"][key2]["count"] == 1


def test_duplicate_in_flight_gets_409_with_retry_after_then_replay(proxy, upstream):
    key = "h2-hold-" + uuid.uuid4().hex
    result = {}
    first = threading.Thread(target=lambda: result.setdefault(
        "first", deliver_h2(proxy, key, extra=["-H", "X-Test-Hold: h2hold"])))
    first.start()
    wait_until(lambda: key in upstream.stats()["keys"], message="the first delivery at the app")
    status, headers, _, _ = deliver_h2(proxy, key)
    assert status == 409
    assert int(headers["retry-after"]) >= 1
    upstream.release("h2hold")
    first.join(20)
    assert result["first"][0] == 200
    assert deliver_h2(proxy, key)[1].get("idempotent-replayed") == "true"
    assert upstream.stats()["keys"][key]["count"] == 1


def test_same_key_different_payload_is_422(proxy, upstream):
    key = "h2-422-" + uuid.uuid4().hex
    assert deliver_h2(proxy, key, body=b'{"a":1}')[0] == 200
    assert deliver_h2(proxy, key, body=b'{"a":2}')[0] == 422
    assert upstream.stats()["keys"][key]["count"] == 1


def test_missing_key_on_a_route_that_requires_one_is_400(make_proxy, upstream):
    proxy = make_proxy("--require-key")
    assert deliver_h2(proxy, None)[0] == 400
    assert upstream.stats()["received"] == 0


def answer_body(frames, stream_id):
    return b"".join(f[3] for f in frames if f[0] == raw_h2.DATA and f[2] == stream_id)


def test_header_list_and_body_limits_answer_431_and_413(make_proxy, upstream):
    proxy = make_proxy("--max-header-size", "4096", "--max-body-size", "1024")
    # Raw frames: curl would refuse to send past our SETTINGS_MAX_HEADER_LIST_SIZE.
    conn = raw_h2.RawH2Connection(proxy.port)
    conn.send(raw_h2.headers_frame(1, raw_h2.request_fields(extra=[
        ("idempotency-key", "k-big-header"), ("x-big", "a" * 8000)]), end_stream=True))
    frames = conn.read_frames(until=lambda f: f[2] == 1 and f[0] == raw_h2.DATA
                              and f[1] & raw_h2.END_STREAM)
    conn.close()
    assert b'"status":431' in answer_body(frames, 1), frames
    status, _, _, _ = deliver_h2(proxy, "k-big-body", body=b"x" * 5000)
    assert status == 413
    assert deliver_h2(proxy, "k-fine")[0] == 200
    assert upstream.stats()["received"] == 1


def test_nghttp_many_streams_on_one_connection(make_proxy, upstream, tmp_path):
    proxy = make_proxy("--key", "query:id")
    body = tmp_path / "body.json"
    body.write_bytes(b'{"event":"nghttp"}')
    ids = ["n%d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(150)]
    urls = [proxy.url + "/hook?id=" + i for i in ids]

    def run_nghttp():
        done = subprocess.run(["nghttp", "-nv", "-t", "30", "-d", str(body), "-H",
                               "content-type: application/json"] + urls,
                              capture_output=True, timeout=60)
        text = done.stdout.decode("latin-1")
        return (len(re.findall(r"recv \(stream_id=\d+\) :status: 200", text)),
                len(re.findall(r"recv \(stream_id=\d+\) idempotent-replayed: true", text)),
                len(re.findall(r"send HEADERS frame", text)))

    ok, replayed, streams = run_nghttp()
    assert (ok, replayed, streams) == (150, 0, 150)
    ok, replayed, _ = run_nghttp()
    assert (ok, replayed) == (150, 150)
    keys = upstream.stats()["keys"]
    assert sorted(keys) == sorted(ids)
    assert all(record["count"] == 1 for record in keys.values())


def test_h2load_many_keys_reach_the_app_once_each(make_proxy, upstream, tmp_path):
    proxy = make_proxy("--key", "query:id")
    ids = ["h%d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(300)]
    uris = ["%s/hook?id=%s\n" % (proxy.url, i) for i in ids * 3]
    random.Random(13).shuffle(uris)
    uri_file = tmp_path / "uris.txt"
    uri_file.write_text("".join(uris))
    body = tmp_path / "body.json"
    body.write_bytes(b'{"event":"h2load"}')
    # Each of the 4 clients walks the whole file (h2load starts every client at
    # its top), so every key arrives 12 times, duplicates overlapping.
    done = subprocess.run(["h2load", "-n", "3600", "-c", "4", "-m", "16", "-d", str(body),
                           "-i", str(uri_file)], capture_output=True, timeout=120)
    text = done.stdout.decode()
    assert done.returncode == 0, text
    assert re.search(r"requests: 3600 total, 3600 started, 3600 done", text), text
    # h2load counts the 409s of overlapping duplicates as "failed": only
    # transport errors and timeouts are failures here.
    assert re.search(r" 0 errored, 0 timeout", text), text
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    assert codes and int(codes.group(1)) + int(codes.group(3)) == 3600, text
    stats = upstream.stats()
    assert stats["received"] == 300
    assert all(record["count"] == 1 for record in stats["keys"].values())


def test_rapid_reset_is_never_forwarded_and_the_proxy_survives(proxy, upstream):
    before = rss_kib(proxy.process.pid)
    connections_closed = 0
    for _ in range(3):
        conn = raw_h2.RawH2Connection(proxy.port)
        batch = b"".join(
            raw_h2.headers_frame(stream, raw_h2.request_fields(
                extra=[("idempotency-key", "rr-%d" % stream)]))
            + raw_h2.rst_stream(stream)
            for stream in range(1, 2 * 3000, 2))
        conn.try_send(batch)
        frames = conn.read_frames(until=lambda f: f[0] == raw_h2.GOAWAY, timeout=15)
        if raw_h2.goaway_error(frames) is not None:
            connections_closed += 1
        conn.close()
    # nghttp2's reset rate limit ends such connections with a GOAWAY.
    assert connections_closed == 3
    assert proxy.running()
    key = "after-rr-" + uuid.uuid4().hex
    assert deliver_h2(proxy, key)[0] == 200
    assert proxy.deliver("h1-" + key).status == 200
    stats = upstream.stats()
    assert stats["received"] == 2, "a reset stream reached the app"
    assert rss_kib(proxy.process.pid) - before < 64 * 1024


def test_continuation_flood_ends_the_connection(proxy, upstream):
    before = rss_kib(proxy.process.pid)
    conn = raw_h2.RawH2Connection(proxy.port)
    conn.send(raw_h2.headers_frame(1, raw_h2.request_fields(), end_headers=False))
    piece = raw_h2.header_block([("x-flood", "v" * 1000)])
    sent = 0
    for _ in range(10000):
        if not conn.try_send(raw_h2.frame(raw_h2.CONTINUATION, 0, 1, piece)):
            break
        sent += 1
    frames = conn.read_frames(until=lambda f: f[0] == raw_h2.GOAWAY, timeout=15)
    conn.close()
    assert raw_h2.goaway_error(frames) not in (None, raw_h2.NO_ERROR), (sent, frames[-3:])
    assert proxy.running()
    assert deliver_h2(proxy, "after-flood-" + uuid.uuid4().hex)[0] == 200
    assert upstream.stats()["received"] == 1
    assert rss_kib(proxy.process.pid) - before < 64 * 1024


def test_sigterm_sends_goaway_and_finishes_the_stream_in_flight(proxy, upstream):
    conn = raw_h2.RawH2Connection(proxy.port)
    key = "drain-" + uuid.uuid4().hex
    conn.send(raw_h2.headers_frame(1, raw_h2.request_fields(extra=[
        ("idempotency-key", key), ("x-test-hold", "drainh2")]), end_stream=True))
    wait_until(lambda: key in upstream.stats()["keys"], message="the delivery at the app")
    proxy.signal(15)
    frames = conn.read_frames(until=lambda f: f[0] == raw_h2.GOAWAY, timeout=10)
    assert raw_h2.goaway_error(frames) == raw_h2.NO_ERROR
    upstream.release("drainh2")
    frames = conn.read_frames(
        until=lambda f: f[2] == 1 and f[0] in (raw_h2.HEADERS, raw_h2.DATA)
        and f[1] & raw_h2.END_STREAM, timeout=15)
    assert any(f[2] == 1 and f[0] == raw_h2.HEADERS for f in frames), frames
    conn.close()
    assert proxy.wait_exit() == 0
    assert upstream.stats()["keys"][key]["count"] == 1


def settings_of(frames):
    """{identifier: value} of the server's first SETTINGS frame."""
    for kind, flags, _, payload in frames:
        if kind == raw_h2.SETTINGS and not flags & raw_h2.ACK:
            return {int.from_bytes(payload[i:i + 2], "big"):
                    int.from_bytes(payload[i + 2:i + 6], "big")
                    for i in range(0, len(payload), 6)}
    return {}


def test_a_sender_stalled_mid_request_is_closed_at_the_idle_timeout(make_proxy, upstream):
    proxy = make_proxy("--idle-timeout", "1s")
    conn = raw_h2.RawH2Connection(proxy.port)
    conn.send(raw_h2.headers_frame(1, raw_h2.request_fields(extra=[("idempotency-key", "stall")])))
    frames = conn.read_frames(timeout=15)  # until the proxy closes the connection
    conn.close()
    assert conn.closed
    assert settings_of(frames).get(0x3) == 100  # SETTINGS_MAX_CONCURRENT_STREAMS
    assert raw_h2.goaway_error(frames) == raw_h2.NO_ERROR
    assert upstream.stats()["received"] == 0


def test_a_stream_reset_after_its_request_is_like_a_sender_hanging_up(proxy, upstream):
    key = "reset-after-" + uuid.uuid4().hex
    conn = raw_h2.RawH2Connection(proxy.port)
    conn.send(raw_h2.headers_frame(1, raw_h2.request_fields(extra=[
        ("idempotency-key", key), ("x-test-hold", "resetafter")]))
        + raw_h2.frame(raw_h2.DATA, raw_h2.END_STREAM, 1, b'{"event":"test"}'))
    wait_until(lambda: key in upstream.stats()["keys"], message="the delivery at the app")
    conn.send(raw_h2.rst_stream(1))
    upstream.release("resetafter")
    # The app's answer is committed all the same: the redelivery is a replay.
    replay = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(deliver_h2(proxy, key)),
                        timeout=15, message="the redelivery's answer")
    assert replay[1].get("idempotent-replayed") == "true"
    assert upstream.stats()["keys"][key]["count"] == 1
    # The connection is still usable for other streams.
    conn.send(raw_h2.headers_frame(3, raw_h2.request_fields(extra=[
        ("idempotency-key", key)]), end_stream=True))
    frames = conn.read_frames(until=lambda f: f[2] == 3 and f[1] & raw_h2.END_STREAM)
    conn.close()
    assert any(f[2] == 3 and f[0] == raw_h2.HEADERS for f in frames)


def test_complete_requests_reset_at_once_are_bounded(proxy, upstream):
    # The CVE-2023-44487 pattern: each request complete, then reset. Each is a
    # delivery; nghttp2's reset rate limit ends the connection after its burst.
    conn = raw_h2.RawH2Connection(proxy.port)
    batch = b"".join(
        raw_h2.headers_frame(stream, raw_h2.request_fields(
            extra=[("idempotency-key", "crr-%d" % stream)]), end_stream=True)
        + raw_h2.rst_stream(stream)
        for stream in range(1, 2 * 3000, 2))
    conn.try_send(batch)
    frames = conn.read_frames(until=lambda f: f[0] == raw_h2.GOAWAY, timeout=30)
    conn.close()
    assert raw_h2.goaway_error(frames) not in (None, raw_h2.NO_ERROR)
    assert proxy.running()
    assert deliver_h2(proxy, "after-crr-" + uuid.uuid4().hex)[0] == 200
    wait_until(lambda: (lambda s: s["completed"] == s["received"])(upstream.stats()),
               timeout=30, message="the app to finish")
    # 3000 sent: the burst of 1000 and what refills (33/s) while they are read.
    assert upstream.stats()["received"] <= 1500


def test_ack_with_a_body_over_max_body_size_streams_over_h2_and_commits(proxy, upstream):
    # Over --max-body-size (8 MiB): an HTTP/2 sender gets it streamed, as an
    # HTTP/1.1 sender does, never a 502 after the commit.
    size = 20 * 1024 * 1024
    key = "h2-big-" + uuid.uuid4().hex
    status, headers, body, version = curl_h2(
        proxy.url + "/hook",
        ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
         '{"event":"test"}', "-H", "Idempotency-Key: " + key,
         "-H", "X-Test-Body-Size: %d" % size], timeout=60)
    assert (status, version) == (200, "2"), (status, version, body[-200:])
    assert len(body) == size
    assert hashlib.sha256(body).digest() == hashlib.sha256(body_pattern(size)).digest()
    assert "idempotent-replayed" not in headers
    assert headers.get("content-length") == str(size)
    record = upstream.stats()["keys"][key]
    assert record["count"] == 1
    assert record["attempts"] == ["1"]

    again_status, again_headers, _, _ = deliver_h2(proxy, key)
    assert again_status == 200
    assert again_headers.get("idempotent-replayed") == "true"
    assert upstream.stats()["keys"][key]["count"] == 1


def test_a_streamed_h2_answer_to_a_slow_reader_keeps_memory_bounded(make_proxy, upstream):
    # A sender that opens a big stream window and then reads nothing: the app
    # is held back, the proxy does not buffer the body.
    proxy = make_proxy(workers=1)
    size = 64 * 1024 * 1024
    key = "h2-slow-" + uuid.uuid4().hex
    conn = raw_h2.RawH2Connection(proxy.port)
    # Windows as large as HTTP/2 allows: only the proxy's own bound holds it back.
    largest = 0x7FFFFFFF
    conn.send(raw_h2.frame(raw_h2.SETTINGS, 0, 0, struct.pack(">HI", 0x4, largest))
              + raw_h2.frame(raw_h2.WINDOW_UPDATE, 0, 0, struct.pack(">I", largest - 65535)))
    conn.send(raw_h2.headers_frame(1, raw_h2.request_fields(extra=[
        ("idempotency-key", key), ("x-test-body-size", str(size))]))
        + raw_h2.frame(raw_h2.DATA, raw_h2.END_STREAM, 1, b'{"event":"test"}'))
    wait_until(lambda: key in upstream.stats()["keys"], message="the delivery at the app")
    baseline = rss_kib(proxy.process.pid)
    peak = baseline
    for _ in range(100):
        peak = max(peak, rss_kib(proxy.process.pid))
        time.sleep(0.02)
    # Held back, not drained into the proxy: the app is still writing.
    assert upstream.key(key)["completed"] == 0
    conn.close()
    print("h2 slow reader: RSS baseline %d KiB, peak %d KiB" % (baseline, peak))
    # The body is 64 MiB; ASan's quarantine and shadow memory add some MiB of
    # their own, so sanitizer builds get a looser (still far smaller) bound.
    bound_kib = (32 if is_sanitized(proxy_binary()) else 6) * 1024
    assert peak - baseline < bound_kib, "RSS grew by %d KiB" % (peak - baseline)
    # The commit happened all the same: the redelivery is a replay.
    upstream.wait_completed(key, timeout=30)
    replay = deliver_h2(proxy, key)
    assert replay[0] == 200 and replay[1].get("idempotent-replayed") == "true"
    assert upstream.stats()["keys"][key]["count"] == 1
