"""The core promise: each key reaches the app once; duplicates get the stored
answer; keys and methods that are not deduplicated pass straight through."""

import re
import uuid

import pytest

from harness import in_background, request_header
from raw_http import RawConnection, build_request

BODY = b'{"event":"order.created","id":42}'


def new_key(prefix="key"):
    return "%s-%s" % (prefix, uuid.uuid4().hex)


def test_first_delivery_reaches_app_with_key_and_attempt(proxy, upstream):
    key = new_key()
    reply = proxy.deliver(key, BODY)

    assert reply.status == 200, str(reply)
    assert reply.header("Idempotent-Replayed") is None
    assert reply.header("Content-Type") == "application/json"
    echoed = reply.json()
    assert echoed["key"] == key
    assert echoed["attempt"] == "1"
    assert echoed["seq"] == 1

    record = upstream.key(key)
    assert record["count"] == 1
    assert record["attempts"] == ["1"]
    assert record["bodies"] == [BODY.decode()]
    assert record["methods"] == ["POST"]
    assert request_header(record["headers"][0], "Dedup-Key") == key
    assert request_header(record["headers"][0], "Dedup-Attempt") == "1"


def test_app_response_status_content_type_and_body_returned(proxy, upstream):
    key = new_key()
    headers = {
        "X-Test-Status": "201",
        "X-Test-Content-Type": "application/vnd.acme+json; charset=utf-8",
        "X-Test-Body": '{"created":true,"n":7}',
    }
    reply = proxy.deliver(key, BODY, headers=headers)

    assert reply.status == 201, str(reply)
    assert reply.header("Content-Type") == "application/vnd.acme+json; charset=utf-8"
    assert reply.body == b'{"created":true,"n":7}'
    assert reply.header("Idempotent-Replayed") is None
    assert upstream.count(key) == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_duplicate_of_committed_key_is_replayed(proxy, upstream, method):
    key = new_key(method.lower())
    first = proxy.deliver(key, BODY, method=method)
    assert first.status == 200, str(first)
    assert first.header("Idempotent-Replayed") is None

    for _ in range(3):
        again = proxy.deliver(key, BODY, method=method)
        assert again.status == 200, str(again)
        assert again.header("Idempotent-Replayed") == "true"
        assert again.header("Content-Type") == first.header("Content-Type")
        assert again.body == first.body  # byte-identical, including the app's seq

    record = upstream.key(key)
    assert record["count"] == 1
    assert record["methods"] == [method]


def test_replay_keeps_non_200_success_status_and_custom_body(proxy, upstream):
    key = new_key()
    headers = {
        "X-Test-Status": "202",
        "X-Test-Content-Type": "text/plain",
        "X-Test-Body": "accepted, thanks",
    }
    first = proxy.deliver(key, BODY, headers=headers)
    assert first.status == 202, str(first)

    replay = proxy.deliver(key, BODY, headers=headers)
    assert replay.status == 202, str(replay)
    assert replay.header("Content-Type") == "text/plain"
    assert replay.body == b"accepted, thanks"
    assert replay.header("Idempotent-Replayed") == "true"
    assert upstream.count(key) == 1


def test_dedup_key_header_tells_every_key_apart(make_proxy, upstream):
    proxy = make_proxy("--key", "json:/id")
    keys = {'"\u00e9"': "%C3%A9", '"%C3%A9"': "%25C3%25A9", '123': "#123", '"123"': "123"}
    for json_id, header in keys.items():
        reply = proxy.deliver(None, b'{"id":%s}' % json_id.encode())
        assert reply.status == 200 and reply.header("Idempotent-Replayed") is None, str(reply)
        assert upstream.count(header) == 1, "no Dedup-Key %r at the app" % header
    assert upstream.stats()["received"] == len(keys), "each key is its own message"


def test_empty_response_body_is_replayed_empty(proxy, upstream):
    key = new_key()
    headers = {"X-Test-Status": "200", "X-Test-Body": ""}
    first = proxy.deliver(key, BODY, headers=headers)
    assert first.status == 200, str(first)
    assert first.body == b""

    replay = proxy.deliver(key, BODY, headers=headers)
    assert replay.status == 200, str(replay)
    assert replay.body == b""
    assert replay.header("Idempotent-Replayed") == "true"
    assert upstream.count(key) == 1


def test_keys_are_independent(proxy, upstream):
    keys = [new_key() for _ in range(5)]
    replies = [proxy.deliver(key, BODY) for key in keys]

    assert [r.status for r in replies] == [200] * 5
    assert all(r.header("Idempotent-Replayed") is None for r in replies)
    assert [r.json()["key"] for r in replies] == keys
    for key in keys:
        assert upstream.count(key) == 1


def test_key_header_name_is_case_insensitive(proxy, upstream):
    key = new_key()
    first = proxy.request("POST", "/hook", BODY, {"idempotency-key": key})
    assert first.status == 200, str(first)
    replay = proxy.request("POST", "/hook", BODY, {"IDEMPOTENCY-KEY": key})
    assert replay.status == 200, str(replay)
    assert replay.header("Idempotent-Replayed") == "true"
    assert replay.body == first.body
    assert upstream.count(key) == 1


@pytest.mark.parametrize("method", ["GET", "DELETE", "OPTIONS"])
def test_other_methods_pass_straight_through(proxy, upstream, method):
    key = new_key()
    path = "/resource/%s" % uuid.uuid4().hex
    replies = [proxy.request(method, path, None, {"Idempotency-Key": key}) for _ in range(3)]

    assert [r.status for r in replies] == [200, 200, 200], [str(r) for r in replies]
    assert all(r.header("Idempotent-Replayed") is None for r in replies)
    reached = upstream.requests_to(path)
    assert len(reached) == 3
    assert [r["method"] for r in reached] == [method] * 3
    # Three distinct answers from the app: nothing was replayed.
    assert len({r.body for r in replies}) == 3


def test_duplicate_while_first_is_in_flight_gets_409_with_retry_after(proxy, upstream):
    key = new_key()
    slow = {"X-Test-Delay-Ms": "1500"}
    first = in_background(proxy.deliver, key, BODY, headers=slow)
    upstream.wait_received(key)

    conflict = proxy.deliver(key, BODY, headers=slow)
    assert conflict.status == 409, str(conflict)
    retry_after = conflict.header("Retry-After")
    assert retry_after is not None and re.fullmatch(r"\d+", retry_after), str(conflict)
    assert int(retry_after) >= 1
    assert upstream.count(key) == 1

    original = first.result(timeout=20)
    assert original.status == 200, str(original)
    assert original.header("Idempotent-Replayed") is None

    replay = proxy.deliver(key, BODY)
    assert replay.status == 200, str(replay)
    assert replay.header("Idempotent-Replayed") == "true"
    assert replay.body == original.body
    assert upstream.count(key) == 1


def test_same_key_different_body_after_commit_is_422(proxy, upstream):
    key = new_key()
    first = proxy.deliver(key, BODY)
    assert first.status == 200, str(first)

    mismatch = proxy.deliver(key, b'{"event":"order.created","id":43}')
    assert mismatch.status == 422, str(mismatch)
    assert mismatch.header("Idempotent-Replayed") is None
    assert upstream.count(key) == 1

    # The original payload still gets its replay.
    replay = proxy.deliver(key, BODY)
    assert replay.status == 200, str(replay)
    assert replay.body == first.body
    assert upstream.count(key) == 1


def test_delivery_without_key_is_forwarded_untouched(proxy, upstream):
    path = "/nokey/%s" % uuid.uuid4().hex
    replies = [proxy.deliver(None, BODY, path=path) for _ in range(2)]

    assert [r.status for r in replies] == [200, 200], [str(r) for r in replies]
    assert all(r.header("Idempotent-Replayed") is None for r in replies)
    reached = upstream.requests_to(path)
    assert len(reached) == 2
    for request in reached:
        assert request["key"] is None
        assert request_header(request["headers"], "Dedup-Key") is None
        assert request_header(request["headers"], "Dedup-Attempt") is None
        assert request["body"] == BODY.decode()
    assert upstream.stats()["keys"] == {}


def test_require_key_rejects_delivery_without_key(make_proxy, upstream):
    proxy = make_proxy("--require-key")
    path = "/nokey/%s" % uuid.uuid4().hex
    reply = proxy.deliver(None, BODY, path=path)

    assert reply.status == 400, str(reply)
    assert upstream.stats()["received"] == 0

    # With a key the same proxy forwards as usual.
    key = new_key()
    ok = proxy.deliver(key, BODY)
    assert ok.status == 200, str(ok)
    assert upstream.count(key) == 1


@pytest.mark.parametrize(
    "bad_key",
    [
        "k" * 513,
        "has space",
        "tab\there",
        "del\x7fchar",
        "caf\xc3\xa9",  # UTF-8 bytes on the wire
        "ctl\x01char",
    ],
    ids=["513-bytes", "space", "tab", "del", "utf8", "control"],
)
def test_invalid_key_is_400_and_app_not_called(proxy, upstream, bad_key):
    request = build_request("POST", "/hook", [("Idempotency-Key", bad_key),
                                              ("Content-Type", "application/json")], BODY)
    with RawConnection("127.0.0.1", proxy.port) as conn:
        conn.send(request)
        response = conn.read_response()

    assert response.status == 400, response
    assert upstream.stats()["received"] == 0


def test_key_of_512_visible_ascii_bytes_is_accepted(proxy, upstream):
    visible = "".join(chr(c) for c in range(0x21, 0x7F))
    key = (visible * 6)[:512]
    assert len(key) == 512
    first = proxy.deliver(key, BODY)
    assert first.status == 200, str(first)
    replay = proxy.deliver(key, BODY)
    assert replay.status == 200, str(replay)
    assert replay.header("Idempotent-Replayed") == "true"
    # The app sees the key in Dedup-Key with every '%' percent-encoded.
    assert upstream.count(key.replace("%", "%25")) == 1
