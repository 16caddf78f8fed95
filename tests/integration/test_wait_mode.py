"""Wait mode (a route's `in_flight: wait`): a duplicate that arrives while the
first copy is at the app waits for that copy's outcome instead of getting 409
at once: the first's answer replayed if it acked, or, if it failed, exactly
one waiter becomes the next attempt. Waiters are bounded, time out into the
in-flight answer, and are answered when the proxy drains. The app holds the
first copy until the test releases it (X-Test-Hold), so nothing here depends
on timing; the proxy's debug log says when a duplicate starts waiting."""

import signal
import socket
import struct
import time
import uuid

import pytest

from harness import in_background, wait_until
from raw_http import RawConnection, build_request
from redis_servers import MISSING, REDIS_SERVER, Redis

BODY = b'{"order":7}'
WAITING = 'msg="waiting for the delivery in flight"'


def config(tmp_path, wait_timeout="20s", lease="40s"):
    path = tmp_path / "wait.yaml"
    path.write_text("""
routes:
  - name: orders
    match: {path_prefix: /}
    lease: %s
    profile:
      in_flight: wait
      wait_timeout: %s
""" % (lease, wait_timeout))
    return str(path)


def wait_proxy(make_proxy, tmp_path, *args, **kwargs):
    return make_proxy("--config", config(tmp_path, **kwargs), "--log-level", "debug", *args)


def waiting(proxy, key):
    return sum(1 for line in proxy.lines if WAITING in line and ("key=" + key) in line)


def hold_first(proxy, upstream, key, extra=None):
    headers = {"X-Test-Hold": key, "X-Test-Status": "201"}
    headers.update(extra or {})
    first = in_background(proxy.deliver, key, BODY, headers=headers, timeout=30)
    upstream.wait_received(key)
    return first, headers


def test_duplicates_wait_for_the_first_answer(make_proxy, upstream, tmp_path):
    proxy = wait_proxy(make_proxy, tmp_path)
    key = "wait-" + uuid.uuid4().hex
    first, headers = hold_first(proxy, upstream, key)
    duplicates = [in_background(proxy.deliver, key, BODY, headers=headers, timeout=30)
                  for _ in range(12)]
    wait_until(lambda: waiting(proxy, key) == 12, message="12 duplicates waiting")
    assert not any(d.done() for d in duplicates), "a waiter answered before the first finished"
    upstream.release(key)
    original = first.result(timeout=20)
    assert original.status == 201 and not original.replayed
    for duplicate in duplicates:
        reply = duplicate.result(timeout=20)
        assert reply.status == 201 and reply.replayed, str(reply)
        assert reply.body == original.body
    assert upstream.count(key) == 1


def test_first_fails_then_exactly_one_waiter_is_the_next_attempt(make_proxy, upstream, tmp_path):
    proxy = wait_proxy(make_proxy, tmp_path)
    key = "fail-" + uuid.uuid4().hex
    first, headers = hold_first(proxy, upstream, key, {"X-Test-First-Status": "500"})
    duplicates = [in_background(proxy.deliver, key, BODY, headers=headers, timeout=30)
                  for _ in range(6)]
    wait_until(lambda: waiting(proxy, key) == 6, message="6 duplicates waiting")
    upstream.release(key)
    assert first.result(timeout=20).status == 500
    replies = [d.result(timeout=20) for d in duplicates]
    fresh = [r for r in replies if not r.replayed]
    assert len(fresh) == 1, [str(r) for r in replies]
    assert fresh[0].status == 201
    for reply in replies:
        assert reply.status == 201 and reply.body == fresh[0].body, str(reply)
    record = upstream.key(key)
    assert record["count"] == 2
    assert record["attempts"][0] == "1"
    # The release kept the attempt count (the released state).
    assert record["attempts"][1] == "2"


def test_wait_times_out_into_the_in_flight_answer(make_proxy, upstream, tmp_path):
    proxy = wait_proxy(make_proxy, tmp_path, wait_timeout="300ms")
    key = "slow-" + uuid.uuid4().hex
    first, headers = hold_first(proxy, upstream, key)
    reply = proxy.deliver(key, BODY, headers=headers)
    assert reply.status == 409, str(reply)
    assert int(reply.header("Retry-After")) >= 1
    assert waiting(proxy, key) == 1
    assert not first.done()
    upstream.release(key)
    assert first.result(timeout=20).status == 201
    assert upstream.count(key) == 1


def test_waiters_per_key_are_bounded(make_proxy, upstream, tmp_path):
    proxy = wait_proxy(make_proxy, tmp_path, "--max-waiters-per-key", "2")
    key = "bound-" + uuid.uuid4().hex
    first, headers = hold_first(proxy, upstream, key)
    waiters = [in_background(proxy.deliver, key, BODY, headers=headers, timeout=30)
               for _ in range(2)]
    wait_until(lambda: waiting(proxy, key) == 2, message="2 duplicates waiting")
    over = proxy.deliver(key, BODY, headers=headers)
    assert over.status == 409, str(over)
    assert not first.done() and not any(w.done() for w in waiters)
    upstream.release(key)
    assert first.result(timeout=20).status == 201
    assert all(w.result(timeout=20).replayed for w in waiters)
    assert upstream.count(key) == 1


def test_drain_answers_the_waiters(make_proxy, upstream, tmp_path):
    proxy = wait_proxy(make_proxy, tmp_path)
    key = "drain-" + uuid.uuid4().hex
    first, headers = hold_first(proxy, upstream, key)
    waiter = in_background(proxy.deliver, key, BODY, headers=headers, timeout=30)
    wait_until(lambda: waiting(proxy, key) == 1, message="a duplicate waiting")
    proxy.signal(signal.SIGTERM)
    reply = waiter.result(timeout=10)
    assert reply.status == 409, str(reply)
    assert not first.done(), "the first delivery is still at the app"
    upstream.release(key)
    assert first.result(timeout=20).status == 201
    assert proxy.wait_exit() == 0
    assert upstream.count(key) == 1


def test_a_waiter_whose_sender_resets_frees_its_place(make_proxy, upstream, tmp_path):
    proxy = wait_proxy(make_proxy, tmp_path, "--max-waiters-per-key", "1")
    key = "gone-" + uuid.uuid4().hex
    first, headers = hold_first(proxy, upstream, key)
    gone = RawConnection("127.0.0.1", proxy.port)
    gone.send(build_request("POST", "/", [("Idempotency-Key", key)] + list(headers.items()),
                            BODY))
    wait_until(lambda: waiting(proxy, key) == 1, message="a duplicate waiting")
    # A reset, not a half-close (after which a sender may still read).
    gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    gone.close()
    wait_until(lambda: any("the sender left while waiting" in line for line in proxy.lines),
               message="the proxy to notice the sender left")
    # Its place is free: another duplicate waits (the bound is 1) and gets the replay.
    waiter = in_background(proxy.deliver, key, BODY, headers=headers, timeout=30)
    wait_until(lambda: waiting(proxy, key) == 2, message="another duplicate waiting")
    upstream.release(key)
    assert first.result(timeout=20).status == 201
    assert waiter.result(timeout=20).replayed
    assert upstream.count(key) == 1
    assert proxy.running()


def test_wait_mode_off_answers_409_at_once(make_proxy, upstream):
    proxy = make_proxy()
    key = "nowait-" + uuid.uuid4().hex
    first, headers = hold_first(proxy, upstream, key)
    assert proxy.deliver(key, BODY, headers=headers).status == 409
    upstream.release(key)
    assert first.result(timeout=20).status == 201


@pytest.mark.skipif(REDIS_SERVER is None, reason=MISSING)
def test_a_waiter_on_another_proxy_learns_the_outcome_through_redis(make_proxy, upstream,
                                                                    tmp_path):
    redis = Redis(tmp_path)
    redis.start()
    try:
        store = ("--store", "redis://127.0.0.1:%d" % redis.port)
        holder = wait_proxy(make_proxy, tmp_path, *store)
        other = wait_proxy(make_proxy, tmp_path, *store)
        key = "redis-" + uuid.uuid4().hex
        first, headers = hold_first(holder, upstream, key)
        waiter = in_background(other.deliver, key, BODY, headers=headers, timeout=30)
        wait_until(lambda: waiting(other, key) == 1, message="a duplicate waiting")
        # The waiter polls Redis with backoff (50 ms doubling to 1 s): count
        # the scripts run over about 3 s of waiting. The holder renews its
        # lease once a second meanwhile (up to 4 calls in the window), so at
        # most 8 polls + 4 renewals: no hot loop.
        before = evalsha_calls(redis)
        time.sleep(3.0)  # a measurement window, not a synchronisation
        polls = evalsha_calls(redis) - before
        assert not waiter.done()
        assert 2 <= polls <= 12, polls
        print("redis script calls (waiter polls + holder renewals) over 3 s: %d" % polls)
        upstream.release(key)
        assert first.result(timeout=20).status == 201
        reply = waiter.result(timeout=10)
        assert reply.status == 201 and reply.replayed, str(reply)
        assert upstream.count(key) == 1
    finally:
        redis.kill()


def evalsha_calls(redis):
    stats = redis.info("commandstats")
    return sum(int(stats[name].split("calls=")[1].split(",")[0])
               for name in ("cmdstat_evalsha", "cmdstat_eval") if name in stats)
