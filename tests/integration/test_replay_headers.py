"""Replays a sender cannot tell from the original: the app's end-to-end
response headers are stored with the commit and replayed byte for byte,
except those that must not repeat (hop-by-hop, Date, Content-Length, and
Set-Cookie unless a route asks for it), from RocksDB and Redis, after a
restart too."""

import http.client
import uuid

import pytest

from redis_servers import MISSING, REDIS_SERVER, Redis

BODY = b'{"order":1842}'
# What the app answers, besides Content-Type, Date and Server (its HTTP
# library's own) and Content-Length.
APP_HEADERS = [
    ("Location", "/orders/1842"),
    ("ETag", '"v1-1842"'),
    ("X-Request-Id", "req-7f3a  spaced"),
    ("Set-Cookie", "session=abc; HttpOnly"),
    ("Link", "</orders/1842/items>; rel=items"),
    ("Set-Cookie", "theme=dark"),
]
NEVER_REPLAYED = {"date", "content-length", "connection", "keep-alive"}

CONFIG = """
routes:
  - name: default-headers
    match: {path_prefix: /default}
  - name: all-headers
    match: {path_prefix: /all}
    profile: {replay_headers: all}
  - name: no-headers
    match: {path_prefix: /none}
    profile: {replay_headers: none}
  - name: listed-headers
    match: {path_prefix: /listed}
    profile: {replay_headers: [location, Set-Cookie, Date]}
"""


def app_request_headers(key):
    headers = [("Idempotency-Key", key), ("Content-Type", "application/json"),
               ("X-Test-Status", "201")]
    headers += [("X-Test-Header", "%s: %s" % pair) for pair in APP_HEADERS]
    return headers


def deliver(proxy, path, key, extra=()):
    """(status, [(name, value)], body); repeated headers kept, in order."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=15)
    try:
        conn.putrequest("POST", path)
        for name, value in app_request_headers(key) + list(extra):
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(BODY)))
        conn.endheaders(BODY)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def kept(headers, drop=()):
    """Headers a replay is compared on, in order, names as sent."""
    skip = NEVER_REPLAYED | {"idempotent-replayed"} | {d.lower() for d in drop}
    return [(n, v) for n, v in headers if n.lower() not in skip]


def expected_replay(first_headers, mode):
    # The replay repeats Content-Type first, then the stored headers in the
    # app's order.
    content_type = [(n, v) for n, v in first_headers if n.lower() == "content-type"]
    rest = [(n, v) for n, v in kept(first_headers) if n.lower() != "content-type"]
    if mode == "default":
        rest = [(n, v) for n, v in rest if n.lower() != "set-cookie"]
    elif mode == "none":
        rest = []
    elif mode == "listed":
        rest = [(n, v) for n, v in rest if n.lower() in ("location", "set-cookie")]
    return content_type + rest


def check_replays(proxy, upstream, keys, first_answers):
    for mode, key in keys.items():
        status, headers, body = deliver(proxy, "/" + mode, key)
        first_status, first_headers, first_body = first_answers[mode]
        assert status == first_status == 201
        assert body == first_body
        assert dict((n.lower(), v) for n, v in headers)["idempotent-replayed"] == "true"
        assert kept(headers) == expected_replay(first_headers, mode), mode
        dates = [v for n, v in headers if n.lower() == "date"]
        assert len(dates) == 1 and dates[0].endswith(" GMT"), headers
        assert upstream.count(key) == 1


def first_deliveries(proxy):
    keys = {mode: "%s-%s" % (mode, uuid.uuid4().hex)
            for mode in ("default", "all", "none", "listed")}
    answers = {}
    for mode, key in keys.items():
        answers[mode] = deliver(proxy, "/" + mode, key)
        status, headers, _ = answers[mode]
        assert status == 201
        # The first answer is the app's own, Set-Cookie included.
        assert [v for n, v in headers if n == "Set-Cookie"] == ["session=abc; HttpOnly",
                                                                 "theme=dark"]
        assert dict(headers)["Location"] == "/orders/1842"
    return keys, answers


def config_file(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(CONFIG)
    return str(path)


def test_replayed_headers_follow_each_mode_and_survive_a_restart(make_proxy, upstream, tmp_path):
    proxy = make_proxy("--config", config_file(tmp_path))
    keys, answers = first_deliveries(proxy)
    check_replays(proxy, upstream, keys, answers)
    proxy.terminate()
    proxy.restart()
    check_replays(proxy, upstream, keys, answers)
    assert upstream.stats()["received"] == len(keys)


def test_headers_count_against_max_stored_body(make_proxy, upstream, tmp_path):
    # 200 bytes: the default mode's headers fit (about 150 bytes with the
    # app's Server header), the 100-byte body beside them does not.
    proxy = make_proxy("--config", config_file(tmp_path), "--max-stored-body", "200")
    key = "small-" + uuid.uuid4().hex
    extra = [("X-Test-Body", "x" * 100)]
    first = deliver(proxy, "/default", key, extra)
    status, headers, body = deliver(proxy, "/default", key, extra)
    assert first[0] == 201 and first[2] == b"x" * 100
    assert status == 201 and body == b"", headers
    assert dict(headers)["Idempotent-Replayed"] == "true"
    # The headers are all there; the body and its Content-Type are not.
    assert kept(headers) == [(n, v) for n, v in kept(first[1])
                             if n.lower() not in ("set-cookie", "content-type")]
    assert upstream.count(key) == 1


@pytest.mark.skipif(REDIS_SERVER is None, reason=MISSING)
def test_replayed_headers_from_redis_on_another_proxy(make_proxy, upstream, tmp_path):
    redis = Redis(tmp_path)
    redis.start()
    try:
        store = ("--store", "redis://127.0.0.1:%d" % redis.port)
        first = make_proxy("--config", config_file(tmp_path), *store)
        keys, answers = first_deliveries(first)
        second = make_proxy("--config", config_file(tmp_path), *store)
        check_replays(second, upstream, keys, answers)
        second.terminate()
        second.restart()
        check_replays(second, upstream, keys, answers)
    finally:
        redis.kill()
