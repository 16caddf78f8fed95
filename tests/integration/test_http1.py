"""HTTP/1.1 on the downstream side: connection reuse, pipelining, chunked
bodies both ways, 100-continue, hop-by-hop and forwarding headers, limits,
malformed input and slow senders. Raw sockets where the wire matters."""

import json
import time
import uuid

import pytest

from harness import request_header, run_curl
from raw_http import ConnectionClosed, RawConnection, build_request, chunk_body

BODY = b'{"event":"invoice.paid","amount":1200}'


def new_key(prefix="key"):
    return "%s-%s" % (prefix, uuid.uuid4().hex)


def keyed(key, *extra):
    return [("Idempotency-Key", key), ("Content-Type", "application/json")] + list(extra)


# -- connections -----------------------------------------------------------------


def test_keep_alive_serves_several_requests_on_one_connection(proxy, upstream):
    keys = [new_key() for _ in range(3)]
    with RawConnection("127.0.0.1", proxy.port) as conn:
        bodies = []
        for key in keys:
            conn.send(build_request("POST", "/hook", keyed(key), BODY))
            response = conn.read_response()
            assert response.status == 200, response
            assert (response.header("Connection") or "").lower() != "close"
            assert json.loads(response.body)["key"] == key
            bodies.append(response.body)

        # A duplicate and a pass-through GET on the same connection still work.
        conn.send(build_request("POST", "/hook", keyed(keys[0]), BODY))
        replay = conn.read_response()
        assert replay.status == 200, replay
        assert replay.header("Idempotent-Replayed") == "true"
        assert replay.body == bodies[0]

        conn.send(build_request("GET", "/status"))
        get = conn.read_response("GET")
        assert get.status == 200, get

    for key in keys:
        assert upstream.count(key) == 1
    assert len(upstream.requests_to("/status")) == 1


def test_pipelined_requests_are_answered_in_order(proxy, upstream):
    keys = [new_key("pipe") for _ in range(3)]
    # The first is the slowest, so answering in completion order would be wrong.
    delays = ["300", "0", "0"]
    wire = b"".join(
        build_request("POST", "/hook", keyed(key, ("X-Test-Delay-Ms", delay)),
                      b'{"n":%d}' % index)
        for index, (key, delay) in enumerate(zip(keys, delays))
    )
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(wire)  # one write: three requests
        responses = [conn.read_response() for _ in keys]

    assert [r.status for r in responses] == [200, 200, 200], responses
    assert [json.loads(r.body)["key"] for r in responses] == keys
    for index, key in enumerate(keys):
        record = upstream.key(key)
        assert record["count"] == 1
        assert record["bodies"] == ['{"n":%d}' % index]


def test_chunked_request_body_reaches_app_dechunked(proxy, upstream):
    key = new_key()
    pieces = [b'{"event":', b'"chunked",', b'"data":"' + b"x" * 3000 + b'"}']
    request = build_request("POST", "/hook", keyed(key, ("Transfer-Encoding", "chunked")),
                            content_length=False) + chunk_body(pieces)
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(request)
        response = conn.read_response()

    assert response.status == 200, response
    record = upstream.key(key)
    assert record["count"] == 1
    assert record["bodies"] == [b"".join(pieces).decode()]
    assert json.loads(response.body)["body_length"] == len(b"".join(pieces))


def test_chunked_request_body_from_curl(proxy, upstream, tmp_path):
    key = new_key()
    payload = b'{"event":"curl-chunked","pad":"' + b"y" * 5000 + b'"}'
    payload_file = tmp_path / "payload.json"
    payload_file.write_bytes(payload)
    args = ["-X", "POST", "-H", "Transfer-Encoding: chunked", "-H", "Idempotency-Key: " + key,
            "-H", "Content-Type: application/json", "--data-binary", "@%s" % payload_file]

    first = run_curl(proxy.url + "/hook", tmp_path, args)
    assert first.status == 200, first
    replay = run_curl(proxy.url + "/hook", tmp_path, args)
    assert replay.status == 200, replay
    assert replay.final_header("Idempotent-Replayed") == "true"
    assert replay.body == first.body

    record = upstream.key(key)
    assert record["count"] == 1
    assert record["bodies"] == [payload.decode()]


def test_chunked_app_response_reaches_sender_intact(proxy, upstream):
    key = new_key()
    headers = {"X-Test-Chunked": "1", "X-Test-Body": "alpha-beta-gamma-delta-epsilon"}
    first = proxy.deliver(key, BODY, headers=headers)
    assert first.status == 200, str(first)
    assert first.body == b"alpha-beta-gamma-delta-epsilon"

    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(build_request("POST", "/hook", keyed(key, *headers.items()), BODY))
        replay = conn.read_response()
    assert replay.status == 200, replay
    assert replay.body == b"alpha-beta-gamma-delta-epsilon"
    assert replay.header("Idempotent-Replayed") == "true"
    assert upstream.count(key) == 1


def test_chunked_app_response_with_default_body(proxy, upstream):
    key = new_key()
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(build_request("POST", "/hook", keyed(key, ("X-Test-Chunked", "1")), BODY))
        response = conn.read_response()
    assert response.status == 200, response
    echoed = json.loads(response.body)
    assert echoed["key"] == key
    upstream.wait_completed(key)
    app_response = upstream.key(key)["responses"][0]
    assert response.body == app_response["body"].encode("latin-1")


def test_expect_100_continue_on_raw_socket(proxy, upstream):
    key = new_key()
    body = b'{"blob":"' + b"z" * 4000 + b'"}'
    head = build_request("POST", "/hook", keyed(key, ("Expect", "100-continue"),
                                                ("Content-Length", str(len(body)))))
    with RawConnection("127.0.0.1", proxy.port, timeout=5) as conn:
        conn.send(head)
        interim = conn.read_response(skip_interim=False)
        assert interim.status == 100, interim
        assert interim.version == "HTTP/1.1"
        assert upstream.stats()["received"] == 0  # nothing forwarded before the body
        conn.send(body)
        final = conn.read_response()

    assert final.status == 200, final
    record = upstream.key(key)
    assert record["count"] == 1
    assert record["bodies"] == [body.decode()]


def test_expect_100_continue_with_curl(proxy, upstream, tmp_path):
    key = new_key()
    payload = b'{"blob":"' + b"c" * 2048 + b'"}'
    payload_file = tmp_path / "payload.json"
    payload_file.write_bytes(payload)
    result = run_curl(proxy.url + "/hook", tmp_path, [
        "-v", "-X", "POST", "-H", "Expect: 100-continue", "-H", "Idempotency-Key: " + key,
        "-H", "Content-Type: application/json", "--data-binary", "@%s" % payload_file,
        "--expect100-timeout", "10",
    ])
    assert result.status == 200, result
    assert "HTTP/1.1 100 Continue" in result.head, result.head
    record = upstream.key(key)
    assert record["count"] == 1
    assert record["bodies"] == [payload.decode()]


# -- headers ---------------------------------------------------------------------


def test_hop_by_hop_headers_are_stripped_before_the_app(proxy, upstream):
    key = new_key()
    request = build_request("POST", "/hook", keyed(
        key,
        ("Connection", "keep-alive, X-Foo"),
        ("X-Foo", "must-not-reach-app"),
        ("Keep-Alive", "timeout=5"),
        ("X-End-To-End", "kept"),
    ), BODY)
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(request)
        response = conn.read_response()
    assert response.status == 200, response

    seen = upstream.key(key)["headers"][0]
    assert request_header(seen, "X-Foo") is None, seen
    assert request_header(seen, "Keep-Alive") is None, seen
    connection = (request_header(seen, "Connection") or "").lower()
    assert "x-foo" not in connection, seen
    assert request_header(seen, "X-End-To-End") == "kept"


def test_forwarding_headers_are_added(proxy, upstream):
    key = new_key()
    reply = proxy.deliver(key, BODY)
    assert reply.status == 200, str(reply)

    seen = upstream.key(key)["headers"][0]
    assert request_header(seen, "X-Forwarded-For") == "127.0.0.1", seen
    assert request_header(seen, "X-Forwarded-Proto") == "http", seen


# -- limits and malformed input -------------------------------------------------


def test_body_over_max_body_size_is_413(make_proxy, upstream):
    proxy = make_proxy("--max-body-size", "1KiB")
    key = new_key()
    body = b"b" * 2048
    head = build_request("POST", "/hook", keyed(key, ("Content-Length", str(len(body)))))
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(head)
        # The proxy may refuse on Content-Length alone, or after reading the body.
        if not conn.readable_within(0.5):
            conn.send_tolerant(body)
        response = conn.read_response()
    assert response.status == 413, response
    assert upstream.stats()["received"] == 0

    # A body within the limit is fine on the same proxy.
    small = proxy.deliver(new_key(), b"s" * 1000)
    assert small.status == 200, str(small)


def test_chunked_body_over_max_body_size_is_413(make_proxy, upstream):
    proxy = make_proxy("--max-body-size", "1KiB")
    key = new_key()
    request = build_request("POST", "/hook", keyed(key, ("Transfer-Encoding", "chunked")),
                            content_length=False) + chunk_body([b"c" * 700, b"c" * 700])
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send_tolerant(request)
        response = conn.read_response()
    assert response.status == 413, response
    assert upstream.stats()["received"] == 0


def test_header_over_max_header_size_is_431(make_proxy, upstream):
    proxy = make_proxy("--max-header-size", "8KiB")
    key = new_key()
    request = build_request("POST", "/hook", keyed(key, ("X-Big", "h" * 16384)), BODY)
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send_tolerant(request)
        try:
            status_line = conn.read_status_line()
        except (ConnectionClosed, ConnectionResetError) as error:
            pytest.fail("no response before the connection ended: %r" % error)
    assert status_line.startswith("HTTP/1.1 431"), status_line
    assert upstream.stats()["received"] == 0


@pytest.mark.parametrize("wire", [
    b"THIS IS NOT HTTP\r\n\r\n",
    b"POST /hook HTTP/9.Z\r\nHost: x\r\n\r\n",
    b"POST\r\nHost: x\r\n\r\n",
], ids=["garbage", "bad-version", "no-target"])
def test_malformed_request_line_is_400(proxy, upstream, wire):
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(wire)
        status_line = conn.read_status_line()
    assert status_line.startswith("HTTP/1.1 400"), status_line
    assert upstream.stats()["received"] == 0


def test_content_length_with_transfer_encoding_is_400(proxy, upstream):
    key = new_key()
    wire = build_request("POST", "/hook", keyed(key, ("Content-Length", "5"),
                                                ("Transfer-Encoding", "chunked")),
                         content_length=False) + chunk_body([b"hello"])
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(wire)
        status_line = conn.read_status_line()
    assert status_line.startswith("HTTP/1.1 400"), status_line
    assert upstream.stats()["received"] == 0


@pytest.mark.parametrize("lengths", [("5", "6"), ("5", "5")], ids=["different", "same"])
def test_two_content_length_headers_are_400(proxy, upstream, lengths):
    key = new_key()
    wire = build_request("POST", "/hook", keyed(key, ("Content-Length", lengths[0]),
                                                ("Content-Length", lengths[1])),
                         content_length=False) + b"hello!"
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(wire)
        status_line = conn.read_status_line()
    assert status_line.startswith("HTTP/1.1 400"), status_line
    assert upstream.stats()["received"] == 0


def test_slow_headers_are_cut_off_by_header_timeout(make_proxy, upstream):
    proxy = make_proxy("--header-timeout", "500ms")
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nIdempotency-Key: slow\r\n")
        started = time.monotonic()
        closed, received, _ = conn.wait_closed(timeout=5.0)
        elapsed = time.monotonic() - started

    assert closed, "the proxy kept a half-sent request open for 5s"
    assert elapsed < 2.5, "closed only after %.2fs" % elapsed
    assert received == b"" or received.startswith(b"HTTP/1.1 408"), received[:200]
    assert upstream.stats()["received"] == 0
