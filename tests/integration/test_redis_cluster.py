"""dedup-proxy on a real Redis Cluster (6 redis-server nodes: 3 masters with a
replica each, made by redis-cli --cluster create): duplicates from many
retrying senders through several proxies reach the app exactly once, also
while slots migrate and after a master dies and its replica takes over; a
seed list that starts with a dead node still works; a proxy killed while
holding a lease frees it within seconds, a live one keeps it."""

import http.client
import signal
import subprocess
import time
import uuid

import pytest

from harness import in_background, request_header, wait_until
from redis_servers import MISSING, REDIS_SERVER, FakeClusterNode, RedisCluster
from senders import Senders

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=MISSING)


@pytest.fixture
def cluster(tmp_path):
    made = RedisCluster(tmp_path / "cluster").start()
    yield made
    made.kill()


def cluster_proxy(make_proxy, cluster, *extra, dead_first=None):
    return make_proxy("--store", cluster.seeds(dead_first), "--redis-prefix", "c:",
                      "--redis-command-timeout", "1s", *extra)


def assert_exactly_once(senders, upstream, keys, copies):
    assert not senders.unsettled, "senders gave up on %s" % senders.unsettled[:5]
    for key in keys:
        assert len(senders.settled[key]) == copies, key
        assert sum(1 for _, replayed, _ in senders.settled[key] if not replayed) == 1, \
            "exactly one sender saw the app's own answer for %s" % key
    stats = upstream.stats()
    for key in keys:
        assert stats["keys"][key]["count"] == 1, (key, stats["keys"][key])
    assert stats["received"] == len(keys)


def test_duplicates_across_proxies_reach_the_app_once(make_proxy, upstream, cluster, dead_port):
    # The first seed is dead: the proxies ask the next one.
    proxies = [cluster_proxy(make_proxy, cluster, dead_first=dead_port) for _ in range(3)]
    keys = ["spray-%d-%s" % (i, uuid.uuid4().hex[:8]) for i in range(90)]
    senders = Senders(proxies, keys * 3, threads=12, seed=7,
                      headers={"X-Test-Delay-Ms": "30"}).start()
    senders.join(timeout=240)
    assert set(senders.statuses()) <= {200, 409}, senders.statuses()
    assert_exactly_once(senders, upstream, keys, 3)
    assert cluster.count_keys("c:*") == len(keys)
    masters_with_keys = [m for m in cluster.masters() if m.count_keys("c:*") > 0]
    assert len(masters_with_keys) == 3, "keys spread over every master"
    for proxy in proxies:
        assert proxy.admin("GET", "/readyz").status == 200


def test_slot_migration_under_load(make_proxy, upstream, cluster):
    proxies = [cluster_proxy(make_proxy, cluster) for _ in range(2)]
    # Fresh keys all through the move (slots in migration answer ASK), and
    # every key delivered twice by different senders.
    prefix = "move-%s" % uuid.uuid4().hex[:8]
    load = Senders(proxies, None, threads=6, seed=3, key_prefix=prefix).start()
    dupes = Senders(proxies, None, threads=6, seed=3, key_prefix=prefix).start()
    source, target = cluster.masters()[:2]
    moved = subprocess.run(
        ["redis-cli", "--cluster", "reshard", "127.0.0.1:%d" % source.port,
         "--cluster-from", source.myid(), "--cluster-to", target.myid(),
         "--cluster-slots", "2000", "--cluster-yes", "--cluster-pipeline", "10"],
        capture_output=True, text=True, timeout=120)
    load.stop()
    dupes.stop()
    load.join(timeout=60)
    dupes.join(timeout=60)
    assert moved.returncode == 0, moved.stdout[-2000:] + moved.stderr
    assert not load.unsettled and not dupes.unsettled, "no sender gave up"
    assert load.slowest() < 10 and dupes.slowest() < 10, "no sender stuck"
    keys = set(load.settled) | set(dupes.settled)
    assert len(keys) > 100, "load ran through the move"
    stats = upstream.stats()
    for key in keys:
        assert stats["keys"][key]["count"] == 1, (key, stats["keys"][key])
    both = set(load.settled) & set(dupes.settled)
    assert sum(1 for key in both for _, replayed, _ in load.settled[key] + dupes.settled[key]
               if not replayed) == len(both), "one app answer per key, the rest replays"
    # Every key is still committed after the move: redeliveries are replays.
    for key in sorted(keys)[:30]:
        reply = proxies[1].deliver_until_settled(key, body=b'{"event":"load"}', timeout=20)
        assert reply.status == 200 and reply.replayed, (key, str(reply))
    assert upstream.stats()["received"] == len(keys)


def test_master_killed_replica_promoted_keys_still_replayed(make_proxy, upstream, cluster):
    proxies = [cluster_proxy(make_proxy, cluster) for _ in range(2)]
    keys = ["fail-%d-%s" % (i, uuid.uuid4().hex[:8]) for i in range(30)]
    for key in keys:
        assert proxies[0].deliver_until_settled(key).status == 200
    victim = cluster.masters()[0]
    # Replication is asynchronous: wait until the replica has everything.
    def replicated():
        info = victim.info("replication")
        offset = int(info["master_repl_offset"])
        return info.get("slave0", "").find("offset=%d," % offset) >= 0
    wait_until(replicated, 20, message="the replica to catch up")
    victim.kill()
    wait_until(lambda: len(cluster.masters()) == 3 and cluster.ok(), 30, interval=0.2,
               message="a replica to take over")
    for key in keys:
        reply = proxies[1].deliver_until_settled(key, timeout=30)
        assert reply.status == 200 and reply.replayed, (key, str(reply))
    fresh = "after-failover-%s" % uuid.uuid4().hex
    assert proxies[0].deliver_until_settled(fresh, timeout=30).status == 200
    assert upstream.stats()["received"] == len(keys) + 1
    wait_until(lambda: all(p.admin("GET", "/readyz").status == 200 for p in proxies), 20,
               message="the proxies to be ready again")


def test_dead_holder_frees_its_lease_within_seconds(make_proxy, upstream, cluster):
    doomed = cluster_proxy(make_proxy, cluster)
    other = cluster_proxy(make_proxy, cluster)
    key = "crash-%s" % uuid.uuid4().hex
    in_flight = in_background(doomed.deliver, key, headers={"X-Test-Delay-Ms": "20000"},
                              timeout=40)
    upstream.wait_received(key, timeout=20)
    assert doomed.kill() == -signal.SIGKILL
    killed_at = time.monotonic()
    error = in_flight.exception(timeout=30)
    assert isinstance(error, (OSError, http.client.HTTPException)), repr(error)

    redelivered = other.deliver_until_settled(key, timeout=10)
    assert time.monotonic() - killed_at < 5, "the dead holder's lease freed within 5 s"
    assert redelivered.status == 200 and not redelivered.replayed, str(redelivered)
    second = upstream.stats()["requests"][-1]
    assert request_header(second["headers"], "Dedup-Attempt") == "2"
    # A restarted proxy replays the committed answer.
    doomed.restart()
    assert doomed.deliver_until_settled(key).replayed


def test_live_holder_keeps_its_lease_while_the_app_is_slow(make_proxy, upstream, cluster):
    # Two proxies on one host: neither may take the other's live lease.
    holder = cluster_proxy(make_proxy, cluster)
    other = cluster_proxy(make_proxy, cluster)
    key = "slow-%s" % uuid.uuid4().hex
    first = in_background(holder.deliver, key, headers={"X-Test-Delay-Ms": "7000"}, timeout=30)
    upstream.wait_received(key, timeout=20)
    started = time.monotonic()
    while time.monotonic() - started < 5.5:  # well past the 3 s Redis keeps a lease unrenewed
        assert other.deliver(key).status == 409
        time.sleep(0.25)
    assert first.result(timeout=30).status == 200
    assert other.deliver(key).replayed
    assert upstream.key(key)["count"] == 1


@pytest.mark.parametrize("answer, most", [("MOVED 42 127.0.0.1:PORT", 6),
                                          ("ASK 42 127.0.0.1:PORT", 6)])
def test_a_redirection_loop_is_cut_with_a_store_error(make_proxy, upstream, answer, most):
    node = FakeClusterNode(answer)
    try:
        proxy = make_proxy("--store", "redis-cluster://127.0.0.1:%d" % node.port,
                           "--redis-command-timeout", "1s")
        started = time.monotonic()
        reply = proxy.deliver("loop-%s" % uuid.uuid4().hex)
        assert reply.status == 503 and reply.header("Retry-After"), str(reply)
        assert time.monotonic() - started < 1.0, "cut by the hop limit, not the deadline"
        assert node.count() == most, "the first try and 5 redirections"
        assert upstream.stats()["received"] == 0
    finally:
        node.kill()


@pytest.mark.parametrize("answer", ["TRYAGAIN Multiple keys request during rehashing of slot",
                                    "CLUSTERDOWN The cluster is down"])
def test_tryagain_and_clusterdown_retry_until_the_deadline(make_proxy, upstream, answer):
    node = FakeClusterNode(answer)
    try:
        proxy = make_proxy("--store", "redis-cluster://127.0.0.1:%d" % node.port,
                           "--redis-command-timeout", "1s")
        started = time.monotonic()
        reply = proxy.deliver("busy-%s" % uuid.uuid4().hex)
        took = time.monotonic() - started
        assert reply.status == 503, str(reply)
        assert 0.5 <= took < 3, took
        assert node.count() >= 4, "retried with backoff within the command timeout"
        assert upstream.stats()["received"] == 0
    finally:
        node.kill()


def test_cluster_slots_serves_before_redis_7(make_proxy, upstream):
    node = FakeClusterNode(slots_only=True)
    try:
        proxy = make_proxy("--store", "redis-cluster://127.0.0.1:%d" % node.port,
                           "--redis-command-timeout", "1s")
        key = "old-%s" % uuid.uuid4().hex
        reply = proxy.deliver(key)
        assert reply.status == 200, str(reply)
        assert upstream.key(key)["count"] == 1
        assert node.slots_asked >= 1
        assert node.count() == 2, "begin and commit"
    finally:
        node.kill()
