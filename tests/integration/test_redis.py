"""The shared Redis store through the real binary: several proxies, one
memory of what was delivered; Redis dying and coming back."""

import time

import pytest

from harness import wait_until
from redis_servers import MISSING, REDIS_SERVER, Redis

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=MISSING)


@pytest.fixture
def redis(tmp_path):
    server = Redis(tmp_path)
    server.start()
    yield server
    server.kill()


def redis_proxy(make_proxy, redis, prefix="svc-a:"):
    return make_proxy("--store", "redis://127.0.0.1:%d" % redis.port, "--redis-prefix", prefix,
                      "--redis-command-timeout", "500ms")


def test_two_proxies_share_one_memory(make_proxy, upstream, redis):
    first, second = redis_proxy(make_proxy, redis), redis_proxy(make_proxy, redis)
    answer = first.deliver("shared-1")
    assert answer.status == 200
    replay = second.deliver("shared-1")
    assert replay.status == 200 and replay.header("Idempotent-Replayed") == "true"
    assert replay.body == answer.body
    assert upstream.count("shared-1") == 1
    assert redis.count_keys("svc-a:*") == 1


def test_redis_down_fails_closed_then_recovers_without_restart(make_proxy, upstream, redis):
    proxy = redis_proxy(make_proxy, redis)
    assert proxy.deliver("before").status == 200
    redis.kill()
    started = time.monotonic()
    down = proxy.deliver("during")
    assert down.status == 503 and down.header("Retry-After") is not None
    assert time.monotonic() - started < 5, "a request waited on a dead Redis"
    assert upstream.count("during") == 0, "fail closed: nothing reaches the app unchecked"
    redis.start()  # same port, no data: a fresh Redis
    # Each worker reconnects on its own (backoff up to 2 s): until all have, a
    # request may still get 503, which an at-least-once sender retries.
    wait_until(lambda: proxy.deliver("after").status == 200, 15,
               message="the proxy to use Redis again")
    duplicate = wait_until(lambda: (lambda r: r if r.status != 503 else None)(
        proxy.deliver("after")), 15, message="a duplicate to be answered")
    assert duplicate.status == 200 and duplicate.header("Idempotent-Replayed") == "true"
    assert upstream.count("after") == 1
    assert proxy.running()


def test_redis_down_fails_open_when_configured(make_proxy, upstream, redis):
    proxy = make_proxy("--store", "redis://127.0.0.1:%d" % redis.port, "--on-store-error",
                       "fail-open", "--redis-command-timeout", "500ms")
    redis.kill()
    answer = proxy.deliver("open-1")
    assert answer.status == 200
    requests = upstream.stats()["requests"]
    assert len(requests) == 1  # forwarded once, without dedup: no Dedup-Key
    assert requests[0]["key"] is None
    assert ["Idempotency-Key", "open-1"] in requests[0]["headers"]
    metrics = proxy.admin("GET", "/metrics").body.decode()
    assert 'dedup_proxy_deliveries_total{outcome="store_error",route="default"} 1' in metrics
    assert proxy.admin("GET", "/readyz").status == 503


def test_readyz_follows_redis_on_an_idle_proxy(make_proxy, upstream, redis):
    proxy = redis_proxy(make_proxy, redis)  # ready: every worker reached Redis
    redis.kill()
    # No delivery asks: the health check alone must notice, within a few
    # probe intervals (1 s each) plus the connect timeout.
    wait_until(lambda: proxy.admin("GET", "/readyz").status == 503, 10,
               message="/readyz to report the dead Redis")
    redis.start()
    wait_until(lambda: proxy.admin("GET", "/readyz").status == 200, 10,
               message="/readyz to report Redis back")
    assert proxy.deliver("idle-then-back").status == 200
    assert upstream.count("idle-then-back") == 1


def test_redis_down_at_start_is_not_ready_and_answers_503(make_proxy, upstream, dead_port):
    proxy = make_proxy("--store", "redis://127.0.0.1:%d" % dead_port,
                       "--redis-connect-timeout", "200ms", wait_ready=False)
    wait_until(lambda: proxy.admin("GET", "/readyz").status == 503, 10,
               message="/readyz to report that Redis cannot be reached")
    assert proxy.admin("GET", "/healthz").status == 200, "alive, only not ready"
    reply = proxy.deliver("never-checked")
    assert reply.status == 503 and reply.header("Retry-After") is not None
    assert upstream.count("never-checked") == 0
