"""Real Redis servers for the integration tests, on free loopback ports in a
test's temp dir: a redis-server (optionally persistent, optionally a replica)
and a Redis Sentinel (Debian's redis-sentinel, else redis-server --sentinel,
the same program). Every wait polls; nothing sleeps to synchronise."""

import random
import shutil
import socket
import subprocess
import threading

from harness import wait_until

REDIS_SERVER = shutil.which("redis-server")
REDIS_SENTINEL = shutil.which("redis-sentinel")
MISSING = "redis-server missing (scripts/setup.sh)"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(port, *args, timeout=10):
    done = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                          text=True, timeout=timeout)
    return done.stdout.strip()


class Redis:
    """redis-server on 127.0.0.1. persistent: AOF fsynced at every write, so a
    kill loses nothing it acknowledged. replica_of: a port to replicate."""

    def __init__(self, directory, persistent=False, replica_of=None):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.persistent = persistent
        self.replica_of = replica_of
        self.port = free_port()
        self.process = None

    def command(self):
        persistence = (["--appendonly", "yes", "--appendfsync", "always"] if self.persistent
                       else ["--appendonly", "no"])
        replica = ["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []
        return [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--dir", str(self.directory)] + persistence + replica

    def start(self):
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_until(lambda: self.cli("PING") == "PONG", 20,
                   message="redis-server on port %d to answer PING" % self.port)
        return self

    def cli(self, *args):
        return cli(self.port, *args)

    def info(self, section):
        fields = {}
        for line in self.cli("INFO", section).splitlines():
            name, _, value = line.partition(":")
            fields[name.strip()] = value.strip()
        return fields

    def count_keys(self, pattern):
        # KEYS inside Lua: binary key names never pass through the CLI's output.
        return int(self.cli("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", pattern))

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def running(self):
        return self.process is not None and self.process.poll() is None


class Sentinel:
    """A Redis Sentinel watching one master, tuned to fail over within seconds."""

    def __init__(self, directory, master_port, name="mymaster", down_after_ms=1000,
                 failover_timeout_ms=4000):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.name = name
        self.config = directory / "sentinel.conf"
        self.config.write_text("\n".join([
            "port %d" % self.port,
            "bind 127.0.0.1",
            "daemonize no",
            "dir %s" % directory,
            "sentinel monitor %s 127.0.0.1 %d 1" % (name, master_port),
            "sentinel down-after-milliseconds %s %d" % (name, down_after_ms),
            "sentinel failover-timeout %s %d" % (name, failover_timeout_ms),
            "sentinel parallel-syncs %s 1" % name,
            "",
        ]))
        self.process = None

    def start(self):
        program = [REDIS_SENTINEL, str(self.config)] if REDIS_SENTINEL else \
            [REDIS_SERVER, str(self.config), "--sentinel"]
        self.process = subprocess.Popen(program, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_until(lambda: self.cli("PING") == "PONG", 20, message="sentinel to answer PING")
        return self

    def cli(self, *args):
        return cli(self.port, *args)

    def master_port(self):
        answer = self.cli("SENTINEL", "get-master-addr-by-name", self.name).split()
        return int(answer[1]) if len(answer) == 2 else None

    def known_sentinels(self):
        """How many other Sentinels this one knows (one "runid" field each)."""
        return self.cli("SENTINEL", "sentinels", self.name).splitlines().count("runid")

    def knows_replica(self, port):
        return str(port) in self.cli("SENTINEL", "replicas", self.name).splitlines()

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def free_cluster_port():
    """A free port whose cluster bus port (port + 10000) is free too, both
    below the kernel's ephemeral range (32768 up), so no connection that
    another test opens meanwhile takes them."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, 22000)
        try:
            with socket.socket() as one, socket.socket() as bus:
                one.bind(("127.0.0.1", port))
                bus.bind(("127.0.0.1", port + 10000))
                return port
        except OSError:
            continue
    raise AssertionError("no free port pair for a cluster node")


class RedisClusterNode(Redis):
    """One node of a Redis Cluster (its own dir for nodes.conf)."""

    def __init__(self, directory, node_timeout_ms):
        super().__init__(directory)
        self.port = free_cluster_port()
        self.node_timeout_ms = node_timeout_ms

    def command(self):
        return super().command() + [
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(self.directory / "nodes.conf"),
            "--cluster-node-timeout", str(self.node_timeout_ms),
            # A replica takes over whatever its data's age (the tests kill
            # masters on purpose, right after writes).
            "--cluster-replica-validity-factor", "0",
        ]

    def start(self):
        # The port was only probed free: if another process took it first,
        # try another one.
        for _ in range(5):
            self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
            try:
                wait_until(lambda: self.process.poll() is not None or self.cli("PING") == "PONG",
                           20, message="redis-server on port %d to answer PING" % self.port)
            except AssertionError:
                self.kill()
                raise
            if self.process.poll() is None:
                return self
            self.port = free_cluster_port()
        raise AssertionError("no cluster node could start")

    def role(self):
        return self.info("replication").get("role")

    def myid(self):
        return self.cli("CLUSTER", "MYID")


class RedisCluster:
    """`masters` masters with one replica each, made by redis-cli --cluster
    create, on free loopback ports in `directory`."""

    def __init__(self, directory, masters=3, node_timeout_ms=1000):
        self.nodes = [RedisClusterNode(directory / ("node%d" % i), node_timeout_ms)
                      for i in range(masters * 2)]

    def start(self):
        for node in self.nodes:
            node.start()
        addresses = ["127.0.0.1:%d" % node.port for node in self.nodes]
        done = subprocess.run(["redis-cli", "--cluster", "create", *addresses,
                               "--cluster-replicas", "1", "--cluster-yes"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        wait_until(self.ok, 30, message="the cluster to report cluster_state:ok everywhere")
        return self

    def ok(self):
        running = [node for node in self.nodes if node.running()]
        return all(node.info("cluster").get("cluster_enabled") == "1" and
                   "cluster_state:ok" in node.cli("CLUSTER", "INFO") for node in running)

    def masters(self):
        return [node for node in self.nodes if node.running() and node.role() == "master"]

    def seeds(self, first_dead_port=None):
        ports = ([first_dead_port] if first_dead_port else []) + [n.port for n in self.nodes]
        return "redis-cluster://" + ",".join("127.0.0.1:%d" % port for port in ports)

    def node_of_slot(self, slot):
        for node in self.masters():
            for line in node.cli("CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" not in fields[2]:
                    continue
                for part in fields[8:]:
                    first, _, last = part.partition("-")
                    if first.isdigit() and int(first) <= slot <= int(last or first):
                        return node
        return None

    def count_keys(self, pattern):
        return sum(node.count_keys(pattern) for node in self.masters())

    def kill(self):
        for node in self.nodes:
            node.kill()


class FakeClusterNode:
    """A scripted stand-in for a Redis Cluster node that claims every slot
    and answers each EVALSHA with `script_answer` (a RESP error line such as
    "MOVED 1 127.0.0.1:PORT", where PORT is its own port). Enough of the
    protocol for the proxy's handshake and slot-map query. Counts EVALSHAs."""

    def __init__(self, script_answer=None, slots_only=False):
        # script_answer None: EVALSHA answers as begin (a new lease) or
        # commit (committed) would, told apart by their argument counts.
        # slots_only: CLUSTER SHARDS is unknown (Redis 6), CLUSTER SLOTS works.
        self.script_answer = script_answer
        self.slots_only = slots_only
        self.slots_asked = 0
        self.evalsha = 0
        self.asking = 0
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _bulk(text):
        data = text.encode()
        return b"$%d\r\n%s\r\n" % (len(data), data)

    def _shards(self):
        node = [b"id", b"0" * 40, b"port", self.port, b"ip", b"127.0.0.1", b"role", b"master",
                b"health", b"online"]
        def encode(value):
            if isinstance(value, int):
                return b":%d\r\n" % value
            if isinstance(value, list):
                return b"*%d\r\n" % len(value) + b"".join(encode(v) for v in value)
            return b"$%d\r\n%s\r\n" % (len(value), value)
        return encode([[b"slots", [0, 16383], b"nodes", [node]]])

    def _serve(self, conn):
        reader = conn.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                count = int(line[1:])
                args = []
                for _ in range(count):
                    size = int(reader.readline()[1:])
                    args.append(reader.read(size + 2)[:-2])
                name = args[0].upper()
                if name == b"EVALSHA":
                    with self.lock:
                        self.evalsha += 1
                    if self.script_answer is None:
                        reply = b"*2\r\n:0\r\n:1\r\n" if len(args) == 8 else b":1\r\n"
                    else:
                        reply = b"-" + self.script_answer.replace(
                            "PORT", str(self.port)).encode() + b"\r\n"
                elif name == b"ASKING":
                    with self.lock:
                        self.asking += 1
                    reply = b"+OK\r\n"
                elif name == b"INFO":
                    reply = self._bulk("# Server\r\nredis_version:7.0.15\r\n")
                elif name == b"SCRIPT":
                    reply = self._bulk("0" * 40)
                elif name == b"CLUSTER" and args[1].upper() == b"SLOTS":
                    with self.lock:
                        self.slots_asked += 1
                    reply = (b"*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n" + self._bulk("127.0.0.1") +
                             b":%d\r\n" % self.port)
                elif name == b"CLUSTER" and self.slots_only:
                    reply = b"-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n"
                elif name == b"CLUSTER":
                    reply = self._shards()
                elif name == b"PING":
                    reply = b"+PONG\r\n"
                else:
                    reply = b"+OK\r\n"
                conn.sendall(reply)
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    def count(self):
        with self.lock:
            return self.evalsha

    def kill(self):
        self.server.close()
