"""When the app fails, is unreachable or slow, or the sender goes away: the
sender gets an honest answer, and the key is released or committed so that
the at-least-once redelivery does the right thing."""

import json
import time
import uuid

import pytest

from harness import request_header
from raw_http import RawConnection, build_request

BODY = b'{"event":"payment.failed","id":"pf_1"}'


def new_key(prefix="key"):
    return "%s-%s" % (prefix, uuid.uuid4().hex)


@pytest.mark.parametrize("status", [500, 503, 404, 429])
def test_app_error_is_returned_and_key_released(proxy, upstream, status):
    key = new_key()
    failing = {"X-Test-Status": str(status), "X-Test-Body": "app says %d" % status,
               "X-Test-Content-Type": "text/plain"}
    failed = proxy.deliver(key, BODY, headers=failing)
    assert failed.status == status, str(failed)
    assert failed.body == b"app says %d" % status
    assert failed.header("Content-Type") == "text/plain"
    assert failed.header("Idempotent-Replayed") is None

    # Released: the redelivery is forwarded again, marked as the second
    # attempt (the app saw the first one).
    retried = proxy.deliver(key, BODY)
    assert retried.status == 200, str(retried)
    assert retried.header("Idempotent-Replayed") is None
    record = upstream.key(key)
    assert record["count"] == 2
    assert record["attempts"] == ["1", "2"]

    # Now committed: the next one is a replay of the success.
    replay = proxy.deliver(key, BODY)
    assert replay.status == 200, str(replay)
    assert replay.header("Idempotent-Replayed") == "true"
    assert replay.body == retried.body
    assert upstream.count(key) == 2


def test_unreachable_app_is_502_and_key_released(make_proxy, upstream, dead_port):
    proxy = make_proxy(upstream_url="http://127.0.0.1:%d" % dead_port, wait_ready=False)
    key = new_key()

    first = proxy.deliver(key, BODY)
    assert first.status == 502, str(first)
    # Released, not left in flight: the redelivery is tried again (502, not 409).
    second = proxy.deliver(key, BODY)
    assert second.status == 502, str(second)

    # Same data dir, app now reachable: the key was released twice, and the
    # count survives the restart (the proxy cannot always tell whether a
    # request reached the app before the connection failed: it counts it).
    assert proxy.terminate() == 0
    proxy.upstream_url = upstream.url
    proxy.restart()
    third = proxy.deliver(key, BODY)
    assert third.status == 200, str(third)
    assert third.header("Idempotent-Replayed") is None
    record = upstream.key(key)
    assert record["count"] == 1
    assert record["attempts"] == ["3"]


def test_app_closing_without_answer_is_502_and_key_released(proxy, upstream):
    key = new_key()
    dropped = proxy.deliver(key, BODY, headers={"X-Test-Close": "1"})
    assert dropped.status == 502, str(dropped)
    assert upstream.count(key) == 1  # a POST is never retried behind the sender's back

    retried = proxy.deliver(key, BODY)
    assert retried.status == 200, str(retried)
    assert retried.header("Idempotent-Replayed") is None
    record = upstream.key(key)
    assert record["count"] == 2
    assert record["attempts"] == ["1", "2"], "the reset copy may have been processed"


def test_slow_app_is_504_and_key_released(make_proxy, upstream):
    proxy = make_proxy("--upstream-timeout", "500ms")
    key = new_key()

    started = time.monotonic()
    timed_out = proxy.deliver(key, BODY, headers={"X-Test-Delay-Ms": "3000"})
    elapsed = time.monotonic() - started
    assert timed_out.status == 504, str(timed_out)
    assert elapsed < 2.5, "504 took %.2fs with a 500ms upstream timeout" % elapsed

    # The app finishes its slow work; the redelivery after that is forwarded again.
    upstream.wait_completed(key, timeout=10)
    retried = proxy.deliver(key, BODY)
    assert retried.status == 200, str(retried)
    assert retried.header("Idempotent-Replayed") is None
    record = upstream.key(key)
    assert record["count"] == 2
    assert record["attempts"] == ["1", "2"], "the timed-out copy reached the app"


def test_sender_hangup_mid_flight_then_redelivery_is_replayed(proxy, upstream):
    key = new_key()
    request = build_request("POST", "/hook", [("Idempotency-Key", key),
                                              ("Content-Type", "application/json"),
                                              ("X-Test-Delay-Ms", "1000")], BODY)
    conn = RawConnection("127.0.0.1", proxy.port)
    conn.send(request)
    upstream.wait_received(key)
    conn.close()  # the sender gives up while the app is still working

    upstream.wait_completed(key, timeout=10)
    app_answer = upstream.key(key)["responses"][0]
    assert app_answer["status"] == 200

    replay = proxy.deliver_until_settled(key, BODY)
    assert replay.status == 200, str(replay)
    assert replay.header("Idempotent-Replayed") == "true"
    assert replay.body == app_answer["body"].encode("latin-1")
    assert json.loads(replay.body)["attempt"] == "1"
    assert upstream.count(key) == 1
    assert proxy.running()


def test_many_sender_hangups_leave_proxy_healthy(proxy, upstream):
    keys = [new_key("hangup") for _ in range(10)]
    conns = []
    for key in keys:
        conn = RawConnection("127.0.0.1", proxy.port)
        conn.send(build_request("POST", "/hook", [("Idempotency-Key", key),
                                                  ("X-Test-Delay-Ms", "300")], BODY))
        conns.append(conn)
    for key in keys:
        upstream.wait_received(key)
    for conn in conns:
        conn.close()
    for key in keys:
        upstream.wait_completed(key)

    for key in keys:
        replay = proxy.deliver_until_settled(key, BODY)
        assert replay.status == 200, str(replay)
        assert replay.header("Idempotent-Replayed") == "true"
        assert upstream.count(key) == 1
    assert proxy.admin("GET", "/healthz").status == 200


def test_sender_hangup_before_app_fails_releases_key(proxy, upstream):
    key = new_key()
    conn = RawConnection("127.0.0.1", proxy.port)
    conn.send(build_request("POST", "/hook", [("Idempotency-Key", key),
                                              ("X-Test-Delay-Ms", "500"),
                                              ("X-Test-Status", "500")], BODY))
    upstream.wait_received(key)
    conn.close()
    upstream.wait_completed(key)

    retried = proxy.deliver_until_settled(key, BODY)
    assert retried.status == 200, str(retried)
    assert retried.header("Idempotent-Replayed") is None
    record = upstream.key(key)
    assert record["count"] == 2
    assert request_header(record["headers"][1], "Dedup-Attempt") == "2"
