"""Several dedup-proxy processes sharing one redis-server: duplicates sprayed
across all of them by concurrent at-least-once senders reach the app exactly
once; a proxy killed while holding a lease hands the key to another proxy
once the lease ends, marked as a repeat."""

import http.client
import signal
import time
import uuid

import pytest

from harness import in_background, request_header
from redis_servers import MISSING, REDIS_SERVER, Redis
from senders import Senders

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=MISSING)


@pytest.fixture
def redis(tmp_path):
    server = Redis(tmp_path / "redis").start()
    yield server
    server.kill()


def shared_proxy(make_proxy, redis, *extra):
    return make_proxy("--store", "redis://127.0.0.1:%d" % redis.port, "--redis-prefix", "svc:",
                      "--redis-command-timeout", "5s", *extra)


@pytest.mark.parametrize("proxy_count", [2, 3])
def test_duplicates_across_proxies_reach_the_app_once(make_proxy, upstream, redis, proxy_count):
    proxies = [shared_proxy(make_proxy, redis) for _ in range(proxy_count)]
    keys = ["spray-%d-%s" % (i, uuid.uuid4().hex[:8]) for i in range(60)]
    copies = keys * 4  # every key delivered 4 times, by different senders, in shuffled order
    # Slow app answers widen the window in which duplicates meet a live lease.
    senders = Senders(proxies, copies, threads=12, seed=proxy_count,
                      headers={"X-Test-Delay-Ms": "50"}).start()
    senders.join(timeout=240)

    assert not senders.unsettled, "senders gave up on %s" % senders.unsettled[:5]
    assert set(senders.statuses()) <= {200, 409}, senders.statuses()
    for key in keys:
        assert len(senders.settled[key]) == 4, key
        assert all(status == 200 for status, _, _ in senders.settled[key]), key
        assert sum(1 for _, replayed, _ in senders.settled[key] if not replayed) == 1, \
            "exactly one sender saw the app's own answer for %s" % key
    stats = upstream.stats()
    for key in keys:
        assert stats["keys"][key]["count"] == 1, (key, stats["keys"][key])
    assert stats["received"] == len(keys)
    assert redis.count_keys("svc:*") == len(keys)
    used = {attempt.proxy for attempt in senders.snapshot()}
    assert used == set(range(proxy_count)), "every proxy took deliveries"
    assert all(proxy.running() for proxy in proxies)


def test_sigkill_holding_a_lease_hands_the_key_to_another_proxy(make_proxy, upstream, redis):
    doomed = shared_proxy(make_proxy, redis, "--lease", "6s", "--upstream-timeout", "5s")
    survivor = shared_proxy(make_proxy, redis, "--lease", "6s", "--upstream-timeout", "5s")
    key = "crash-%s" % uuid.uuid4().hex
    in_flight = in_background(doomed.deliver, key, headers={"X-Test-Delay-Ms": "4000"},
                              timeout=30)
    upstream.wait_received(key, timeout=20)  # the lease is held: the app has the request

    assert doomed.kill() == -signal.SIGKILL
    error = in_flight.exception(timeout=30)
    assert isinstance(error, (OSError, http.client.HTTPException)), \
        "the sender should have lost its connection, got %r" % (error or in_flight.result())

    redelivered = survivor.deliver_until_settled(key, timeout=30)
    assert 200 <= redelivered.status < 300, str(redelivered)
    assert not redelivered.replayed
    record = upstream.key(key)
    assert record["count"] == 2, record
    assert record["attempts"][0] == "1"
    assert int(record["attempts"][1]) >= 2, record
    second = upstream.stats()["requests"][-1]
    assert int(request_header(second["headers"], "Dedup-Attempt")) >= 2

    replay = survivor.deliver(key)
    assert replay.replayed and replay.body == redelivered.body, str(replay)
    assert upstream.count(key) == 2


@pytest.mark.parametrize("through", ["restarted", "another"])
def test_dead_holders_lease_frees_within_seconds(make_proxy, upstream, redis, through):
    # The default lease (upstream timeout + 5 s = 35 s): Redis keeps it only
    # a few seconds past the holder's last renewal.
    doomed = shared_proxy(make_proxy, redis, "--redis-command-timeout", "1s")
    other = shared_proxy(make_proxy, redis, "--redis-command-timeout", "1s")
    key = "dead-%s-%s" % (through, uuid.uuid4().hex)
    in_flight = in_background(doomed.deliver, key, headers={"X-Test-Delay-Ms": "20000"},
                              timeout=40)
    upstream.wait_received(key, timeout=20)
    assert doomed.kill() == -signal.SIGKILL
    killed_at = time.monotonic()
    error = in_flight.exception(timeout=30)
    assert isinstance(error, (OSError, http.client.HTTPException)), repr(error)
    if through == "restarted":
        doomed.restart()
        redeliver = doomed
    else:
        redeliver = other
    reply = redeliver.deliver_until_settled(key, timeout=10)
    assert time.monotonic() - killed_at < 5, "the redelivery reached the app within 5 s"
    assert reply.status == 200 and not reply.replayed, str(reply)
    assert upstream.key(key)["attempts"] == ["1", "2"]


def test_live_holders_lease_outlasts_the_redis_lease(make_proxy, upstream, redis):
    # Two proxies on one host share nothing but Redis: the other one gets 409
    # the whole time the holder's app works, far past the 3 s Redis keeps an
    # unrenewed lease.
    holder = shared_proxy(make_proxy, redis, "--redis-command-timeout", "1s")
    other = shared_proxy(make_proxy, redis, "--redis-command-timeout", "1s")
    key = "slow-%s" % uuid.uuid4().hex
    first = in_background(holder.deliver, key, headers={"X-Test-Delay-Ms": "7000"}, timeout=30)
    upstream.wait_received(key, timeout=20)
    started = time.monotonic()
    while time.monotonic() - started < 5.5:
        assert other.deliver(key).status == 409
        time.sleep(0.25)
    assert first.result(timeout=30).status == 200
    assert other.deliver(key).replayed
    assert upstream.key(key)["count"] == 1
