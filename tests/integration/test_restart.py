"""Durability across restarts and crashes, and graceful shutdown: a committed
key survives SIGTERM and SIGKILL; a delivery caught by a crash is redelivered
marked as a repeat; a delivery in progress at SIGTERM still completes."""

import http.client
import re
import signal
import time
import uuid

from harness import in_background, wait_until

BODY = b'{"event":"shipment.sent","id":"sh_9"}'


def new_key(prefix="key"):
    return "%s-%s" % (prefix, uuid.uuid4().hex)


def commit_keys(proxy, count):
    """Delivers `count` fresh keys; returns {key: first reply}."""
    firsts = {}
    for index in range(count):
        key = new_key("durable%d" % index)
        headers = {"X-Test-Status": "201" if index % 2 else "200",
                   "X-Test-Content-Type": "application/json; v=%d" % index}
        reply = proxy.deliver(key, BODY, headers=headers)
        assert reply.status in (200, 201), str(reply)
        assert reply.header("Idempotent-Replayed") is None
        firsts[key] = (reply, headers)
    return firsts


def assert_replays(proxy, upstream, firsts):
    for key, (first, headers) in firsts.items():
        replay = proxy.deliver(key, BODY, headers=headers)
        assert replay.status == first.status, "%s: %s" % (key, replay)
        assert replay.header("Idempotent-Replayed") == "true", "%s: %s" % (key, replay)
        assert replay.header("Content-Type") == first.header("Content-Type")
        assert replay.body == first.body
    stats = upstream.stats()
    for key in firsts:
        assert stats["keys"][key]["count"] == 1, key


def test_committed_keys_survive_graceful_restart(make_proxy, upstream):
    proxy = make_proxy()
    firsts = commit_keys(proxy, 20)

    assert proxy.terminate() == 0
    proxy.restart()

    assert_replays(proxy, upstream, firsts)
    fresh = new_key()
    reply = proxy.deliver(fresh, BODY)
    assert reply.status == 200, str(reply)
    assert reply.header("Idempotent-Replayed") is None
    assert upstream.count(fresh) == 1
    assert upstream.stats()["received"] == 21


def test_committed_keys_survive_sigkill(make_proxy, upstream):
    proxy = make_proxy()
    firsts = commit_keys(proxy, 20)

    # Each answer was sent after its commit was durable: a kill loses nothing.
    assert proxy.kill() == -signal.SIGKILL
    proxy.restart()

    assert_replays(proxy, upstream, firsts)
    assert upstream.stats()["received"] == 20


def test_crash_mid_flight_redelivery_is_marked_as_repeat(make_proxy, upstream):
    proxy = make_proxy()
    key = new_key("crash")
    in_flight = in_background(proxy.deliver, key, BODY,
                              headers={"X-Test-Delay-Ms": "3000"}, timeout=30)
    upstream.wait_received(key)

    assert proxy.kill() == -signal.SIGKILL
    error = in_flight.exception(timeout=30)
    assert isinstance(error, (OSError, http.client.HTTPException)), \
        "the sender should have lost its connection, got %r" % (error or in_flight.result())

    proxy.restart()
    upstream.wait_completed(key, timeout=15)  # the app did finish the first attempt

    redelivered = proxy.deliver_until_settled(key, BODY)
    assert 200 <= redelivered.status < 300, str(redelivered)
    assert redelivered.header("Idempotent-Replayed") is None
    record = upstream.key(key)
    assert record["count"] == 2
    assert record["attempts"][0] == "1"
    assert record["attempts"][1] is not None and int(record["attempts"][1]) >= 2, record

    replay = proxy.deliver(key, BODY)
    assert replay.status == redelivered.status, str(replay)
    assert replay.header("Idempotent-Replayed") == "true"
    assert replay.body == redelivered.body
    assert upstream.count(key) == 2


def test_graceful_shutdown_finishes_in_flight_delivery(make_proxy, upstream):
    proxy = make_proxy()
    key = new_key("drain")
    in_flight = in_background(proxy.deliver, key, BODY,
                              headers={"X-Test-Delay-Ms": "1500"}, timeout=30)
    upstream.wait_received(key)

    proxy.signal(signal.SIGTERM)
    draining = re.compile(r"msg=\"?draining")
    ready_after_draining = []
    saw_not_ready = False
    deadline = time.monotonic() + 20
    while proxy.running() and time.monotonic() < deadline:
        # Read the log before asking, so a 200 can only be blamed on a request
        # sent after the drain was announced.
        announced = any(draining.search(line) for line in proxy.log.snapshot())
        try:
            status = proxy.admin("GET", "/readyz", timeout=1).status
        except (OSError, http.client.HTTPException):
            status = None
        if status != 200:
            saw_not_ready = True
        if announced and status == 200:
            ready_after_draining.append(status)
        time.sleep(0.02)  # polling interval only

    reply = in_flight.result(timeout=30)
    assert reply.status == 200, str(reply)
    assert reply.header("Idempotent-Replayed") is None
    assert reply.json()["key"] == key
    assert proxy.wait_exit() == 0
    assert not ready_after_draining, "/readyz answered 200 after msg=draining was logged"
    assert saw_not_ready, "/readyz never stopped answering 200 during the drain"

    # The drained delivery was committed: after a restart its duplicate is a replay.
    proxy.restart()
    replay = proxy.deliver(key, BODY)
    assert replay.status == 200, str(replay)
    assert replay.header("Idempotent-Replayed") == "true"
    assert replay.body == reply.body
    assert upstream.count(key) == 1


def test_sigterm_with_idle_keep_alive_connection_exits_promptly(make_proxy, upstream):
    proxy = make_proxy()
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        reply = proxy.request("POST", "/hook", BODY, {"Idempotency-Key": new_key()}, conn=conn)
        assert reply.status == 200, str(reply)
        started = time.monotonic()
        assert proxy.terminate(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        conn.close()


def test_sigterm_exit_code_is_zero_and_restart_reuses_data_dir(make_proxy, upstream):
    proxy = make_proxy()
    key = new_key()
    first = proxy.deliver(key, BODY)
    assert first.status == 200, str(first)
    for _ in range(2):
        assert proxy.terminate() == 0
        proxy.restart()
        wait_until(lambda: proxy.admin("GET", "/healthz").status == 200, 10,
                   message="/healthz after restart")
        replay = proxy.deliver(key, BODY)
        assert replay.header("Idempotent-Replayed") == "true", str(replay)
        assert replay.body == first.body
    assert upstream.count(key) == 1
