"""Real Redis servers for the integration tests, on free loopback ports in a
test's temp dir: a redis-server (optionally persistent, optionally a replica)
and a Redis Sentinel (Debian's redis-sentinel, else redis-server --sentinel,
the same program). Every wait polls; nothing sleeps to synchronise."""

import shutil
import socket
import subprocess

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
