"""At-least-once senders for the load tests: threads that deliver keys through
any of several proxies and retry like a real webhook sender (on 409, 5xx and
connection errors) until a 2xx. Every request is recorded with its status and
how long it took, so a test can assert that none hung and that only the
policy's status codes were seen."""

import http.client
import random
import threading
import time
from dataclasses import dataclass

from harness import http_request

BODY = b'{"event":"load"}'  # what every sender delivers (a replay needs the same payload)


@dataclass
class Attempt:
    key: str
    proxy: int  # index into the proxies
    status: int  # 0: connection error
    seconds: float
    started: float  # time.monotonic()
    retry_after: str = None
    replayed: bool = False


class Senders:
    """`threads` senders; each delivers its share of `keys` (duplicates welcome)
    in order, each until a 2xx or `give_up_after` seconds. With `keys=None`
    each sender makes fresh keys until stop() (load that runs through faults)."""

    def __init__(self, proxies, keys=None, threads=8, request_timeout=20.0, give_up_after=90.0,
                 retry_interval=0.05, seed=1, key_prefix="k", headers=None):
        self.proxies = proxies
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.request_timeout = request_timeout
        self.give_up_after = give_up_after
        self.retry_interval = retry_interval
        self.key_prefix = key_prefix
        self.lock = threading.Lock()
        self.attempts = []  # every request, guarded by lock
        self.settled = {}  # key -> list of (2xx status, replayed, time settled)
        self.unsettled = []  # keys a sender gave up on
        self.errors = []  # unexpected exceptions in a sender thread
        self._stop = threading.Event()
        rng = random.Random(seed)
        shares = [[] for _ in range(threads)]
        if keys is not None:
            keys = list(keys)
            rng.shuffle(keys)
            for index, key in enumerate(keys):
                shares[index % threads].append(key)
        self._threads = [
            threading.Thread(target=self._run, args=(index, shares[index] if keys is not None
                                                     else None, random.Random(seed + index)),
                             daemon=True)
            for index in range(threads)]

    def start(self):
        for thread in self._threads:
            thread.start()
        return self

    def stop(self):
        self._stop.set()

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        assert not alive, "%d sender thread(s) still running after %.0fs" % (len(alive), timeout)
        assert not self.errors, self.errors

    # -- what happened ------------------------------------------------------

    def statuses(self):
        with self.lock:
            return sorted({a.status for a in self.attempts})

    def count(self, predicate):
        with self.lock:
            return sum(1 for a in self.attempts if predicate(a))

    def snapshot(self):
        with self.lock:
            return list(self.attempts)

    def slowest(self):
        with self.lock:
            return max((a.seconds for a in self.attempts), default=0.0)

    # -- the threads ------------------------------------------------------

    def _run(self, index, keys, rng):
        try:
            if keys is not None:
                for key in keys:
                    self._deliver_until_2xx(key, rng)
            else:
                number = 0
                while not self._stop.is_set():
                    number += 1
                    self._deliver_until_2xx("%s-%d-%d" % (self.key_prefix, index, number), rng)
        except Exception as error:  # noqa: BLE001 - reported by join()
            self.errors.append(repr(error))

    def _deliver_until_2xx(self, key, rng):
        give_up = time.monotonic() + self.give_up_after
        while time.monotonic() < give_up:
            which = rng.randrange(len(self.proxies))
            started = time.monotonic()
            status, retry_after, replayed = 0, None, False
            try:
                reply = http_request(self.proxies[which].port, "POST", "/hook",
                                     BODY,
                                     {**self.headers, "Idempotency-Key": key},
                                     timeout=self.request_timeout)
                status, retry_after, replayed = (reply.status, reply.header("Retry-After"),
                                                 reply.replayed)
            except (OSError, http.client.HTTPException):
                pass
            finished = time.monotonic()
            with self.lock:
                self.attempts.append(Attempt(key, which, status, finished - started, started,
                                             retry_after, replayed))
                if 200 <= status < 300:
                    self.settled.setdefault(key, []).append((status, replayed, finished))
            if 200 <= status < 300:
                return
            time.sleep(self.retry_interval)  # a sender's pause between retries, not a sync
        with self.lock:
            self.unsettled.append(key)
