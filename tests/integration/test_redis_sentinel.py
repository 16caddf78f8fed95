"""redis-sentinel:// through the real binary: a master, one replica and a
Sentinel on loopback (quorum 1, failover within seconds). Deliveries work;
the master is killed, the Sentinel promotes the replica and the proxy follows
it without a restart, while senders retry the 503s of the gap; keys committed
before the failover (once the replica caught up) still replay. A Sentinel answer that
names a replica (stale) is refused by the ROLE check and asked again."""

import socketserver
import threading
import time
import uuid

import pytest

from harness import wait_until
from redis_servers import MISSING, REDIS_SERVER, Redis, Sentinel
from senders import Senders

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=MISSING)

FAILOVER_BOUND = 60.0  # kill → proxy committing on the promoted replica


@pytest.fixture(params=[1, 3], ids=["1-sentinel", "3-sentinels"])
def cluster(request, tmp_path):
    """A master, its replica and N Sentinels (quorum 1) that know them all."""
    master = Redis(tmp_path / "master").start()
    replica = Redis(tmp_path / "replica", replica_of=master.port).start()
    sentinels = [Sentinel(tmp_path / ("sentinel-%d" % i), master.port).start()
                 for i in range(request.param)]
    try:
        wait_until(lambda: replica.info("replication").get("master_link_status") == "up", 30,
                   message="the replica to sync")
        for sentinel in sentinels:
            wait_until(lambda: sentinel.knows_replica(replica.port), 30,
                       message="the sentinel to discover the replica")
            # A failover needs a majority of the Sentinels: they must know each other.
            wait_until(lambda: sentinel.known_sentinels() == len(sentinels) - 1, 30,
                       message="the sentinels to discover each other")
        yield master, replica, sentinels
    finally:
        for server in sentinels + [replica, master]:
            server.kill()


def sentinel_proxy(make_proxy, sentinel_ports, name="mymaster", wait_ready=True):
    uri = "redis-sentinel://%s/%s" % (",".join("127.0.0.1:%d" % p for p in sentinel_ports), name)
    return make_proxy("--store", uri, "--redis-command-timeout", "500ms",
                      "--redis-connect-timeout", "500ms", "--lease", "2s", "--upstream-timeout",
                      "1500ms", wait_ready=wait_ready)


def test_proxy_follows_a_failover_without_restart(make_proxy, upstream, cluster, dead_port):
    master, replica, sentinels = cluster
    # The first Sentinel listed is down: each worker asks the next one.
    proxy = sentinel_proxy(make_proxy, [dead_port] + [s.port for s in sentinels])
    pid = proxy.process.pid
    committed = ["before-%d-%s" % (i, uuid.uuid4().hex[:8]) for i in range(10)]
    firsts = {}
    for key in committed:
        firsts[key] = proxy.deliver(key)
        assert firsts[key].status == 200 and not firsts[key].replayed, str(firsts[key])
    # Replication is asynchronous: wait until the replica has everything the
    # master has (WAIT from another client would not cover the proxy's writes).
    written = int(master.info("replication")["master_repl_offset"])
    wait_until(lambda: int(replica.info("replication").get("slave_repl_offset", -1)) >= written,
               30, message="the replica to catch up with the committed keys")

    senders = Senders([proxy], None, threads=4, request_timeout=30, key_prefix="fo").start()
    try:
        wait_until(lambda: len(senders.settled) >= 5, 30, message="deliveries before the kill")
        master.kill()
        killed_at = time.monotonic()
        wait_until(lambda: all(s.master_port() == replica.port for s in sentinels),
                   FAILOVER_BOUND, message="the sentinels to promote the replica")
        wait_until(lambda: senders.count(lambda a: a.started > killed_at and
                                         200 <= a.status < 300 and not a.replayed) >= 10,
                   FAILOVER_BOUND, message="fresh keys committed on the promoted replica")
        recovered_in = time.monotonic() - killed_at
    finally:
        senders.stop()
    senders.join(timeout=120)

    assert not senders.unsettled, senders.unsettled[:5]
    assert set(senders.statuses()) <= {200, 409, 503}, senders.statuses()
    assert senders.slowest() < 10.0, "a request hung"
    assert proxy.running() and proxy.process.pid == pid, "followed without a restart"
    assert replica.info("replication").get("role") == "master"
    for key, first in firsts.items():
        replay = proxy.deliver_until_settled(key)
        assert replay.status == 200 and replay.replayed, (key, str(replay))
        assert replay.body == first.body
    stats = upstream.stats()["keys"]
    for key in committed:
        assert stats[key]["count"] == 1, key
    fresh = proxy.deliver("after-%s" % uuid.uuid4().hex)
    assert fresh.status == 200 and not fresh.replayed, str(fresh)
    print("failover followed in %.1fs" % recovered_in)


class FakeSentinel(socketserver.ThreadingTCPServer):
    """Answers SENTINEL get-master-addr-by-name with whatever port `answer`
    holds now (RESP, one command per line of the request), so a test can
    make a Sentinel name a replica."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port):
        self.answer = port
        self.asked = 0
        super().__init__(("127.0.0.1", 0), FakeSentinelHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]


class FakeSentinelHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            header = self.rfile.readline()
            if not header.startswith(b"*"):
                return
            parts = []
            for _ in range(int(header[1:])):
                size = int(self.rfile.readline()[1:])
                parts.append(self.rfile.read(size + 2)[:-2])
            if [p.lower() for p in parts[:2]] == [b"sentinel", b"get-master-addr-by-name"]:
                self.server.asked += 1
                port = str(self.server.answer).encode()
                self.wfile.write(b"*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%s\r\n" % (len(port), port))
            else:
                self.wfile.write(b"-ERR unknown command\r\n")


def test_stale_answer_naming_a_replica_is_refused(make_proxy, upstream, tmp_path):
    master = Redis(tmp_path / "master").start()
    replica = Redis(tmp_path / "replica", replica_of=master.port).start()
    fake = FakeSentinel(replica.port)  # stale: names the replica
    try:
        # Never ready while the only master it is shown is a replica.
        proxy = sentinel_proxy(make_proxy, [fake.port], wait_ready=False)
        wait_until(lambda: fake.asked >= 1, 10, message="the proxy to ask the Sentinel")
        stale = proxy.deliver("stale-%s" % uuid.uuid4().hex)
        assert stale.status == 503 and stale.header("Retry-After"), str(stale)
        assert fake.asked >= 1
        assert upstream.stats()["received"] == 0, "nothing reaches the app unchecked"
        assert proxy.admin("GET", "/readyz").status == 503
        asked = fake.asked
        wait_until(lambda: proxy.deliver("probe").status == 503 and fake.asked > asked + 1, 20,
                   message="the proxy to ask the Sentinel again")

        fake.answer = master.port  # the Sentinels learn the truth
        key = "fresh-%s" % uuid.uuid4().hex
        answer = wait_until(lambda: (lambda r: r if r.status != 503 else None)(proxy.deliver(key)),
                            20, message="a delivery through the real master")
        assert answer.status == 200 and not answer.replayed, str(answer)
        assert master.count_keys("dedup:*") >= 1
        wait_until(lambda: proxy.admin("GET", "/readyz").status == 200, 20,
                   message="/readyz once the master is found")
    finally:
        fake.shutdown()
        fake.server_close()
        replica.kill()
        master.kill()
