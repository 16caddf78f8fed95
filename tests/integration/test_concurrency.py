"""The headline guarantee under load: many at-least-once senders hammering the
same keys concurrently, and every key still reaches the app exactly once."""

import collections
import http.client
import json
import random
import threading
import time
import uuid

import pytest

from harness import run_curl, wait_until

DEADLINE_SECONDS = 180


def payload_for(key):
    return json.dumps({"event": "concurrency", "key": key, "pad": "p" * 64}).encode()


class AtLeastOnceSender:
    """One sender thread with its own keep-alive connection. Redelivers a message
    on 409, 5xx or a connection error after a short backoff until it gets a 2xx
    (or a non-retryable status, or the deadline)."""

    def __init__(self, port, messages, deadline, results, lock, seed):
        self.port = port
        self.messages = messages
        self.deadline = deadline
        self.results = results
        self.lock = lock
        self.random = random.Random(seed)
        self.conn = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def _connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        return self.conn

    def _drop_connection(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def send_once(self, key):
        conn = self._connection()
        conn.request("POST", "/hook", body=payload_for(key), headers={
            "Idempotency-Key": key,
            "Content-Type": "application/json",
            # A little app latency so that duplicates really overlap.
            "X-Test-Delay-Ms": "15",
        })
        response = conn.getresponse()
        body = response.read()
        if response.will_close:
            self._drop_connection()
        return response.status, response.getheader("Idempotent-Replayed"), body

    def run(self):
        for key in self.messages:
            outcome = ("gave-up", None, b"", 0)
            attempts = 0
            while time.monotonic() < self.deadline:
                attempts += 1
                try:
                    status, replayed, body = self.send_once(key)
                except (OSError, http.client.HTTPException):
                    self._drop_connection()
                    time.sleep(self.random.uniform(0.01, 0.05))
                    continue
                if status == 409 or status >= 500:
                    time.sleep(self.random.uniform(0.01, 0.05))
                    continue
                outcome = (status, replayed, body, attempts)
                break
            with self.lock:
                self.results[key].append(outcome)
        self._drop_connection()


def build_workload(key_count, rng, prefix):
    messages = []
    for index in range(key_count):
        key = "%s-%d-%s" % (prefix, index, uuid.uuid4().hex[:8])
        messages.extend([key] * rng.randint(3, 5))
    rng.shuffle(messages)
    return messages


def check_exactly_once(upstream, results, expected_copies):
    # The app records an answer just after writing it: let the last ones land.
    wait_until(lambda: (lambda s: s["completed"] == s["received"])(upstream.stats()),
               timeout=10, message="the app to complete every request it received")
    stats = upstream.stats()
    problems = []
    for key, copies in expected_copies.items():
        outcomes = results.get(key, [])
        record = stats["keys"].get(key, {"count": 0, "responses": [], "attempts": []})
        if record["count"] != 1:
            problems.append("%s reached the app %d times" % (key, record["count"]))
            continue
        if record["attempts"] != ["1"]:
            problems.append("%s attempts at the app: %r" % (key, record["attempts"]))
        if len(outcomes) != copies:
            problems.append("%s: %d of %d messages finished" % (key, len(outcomes), copies))
        statuses = [o[0] for o in outcomes]
        if any(not (isinstance(s, int) and 200 <= s < 300) for s in statuses):
            problems.append("%s ended with statuses %r" % (key, statuses))
            continue
        originals = [o for o in outcomes if o[1] != "true"]
        if len(originals) != 1:
            problems.append("%s: %d non-replayed answers" % (key, len(originals)))
        app_body = record["responses"][0]["body"].encode("latin-1") if record["responses"] \
            else None
        bodies = {o[2] for o in outcomes}
        if len(bodies) != 1 or (app_body is not None and bodies != {app_body}):
            problems.append("%s: bodies differ: %r (app sent %r)" % (key, bodies, app_body))
    return problems


def test_concurrent_duplicate_senders_reach_app_once_per_key(proxy, upstream):
    rng = random.Random(20240601)
    messages = build_workload(200, rng, "conc")
    expected = collections.Counter(messages)
    sender_count = 24
    deadline = time.monotonic() + DEADLINE_SECONDS
    results = collections.defaultdict(list)
    lock = threading.Lock()

    senders = [
        AtLeastOnceSender(proxy.port, messages[i::sender_count], deadline, results, lock, i)
        for i in range(sender_count)
    ]
    for sender in senders:
        sender.thread.start()
    for sender in senders:
        sender.thread.join(timeout=max(1.0, deadline - time.monotonic() + 30))
    assert not any(s.thread.is_alive() for s in senders), "senders still running"

    # Every in-flight request has finished at the app before we look.
    total = len(messages)
    assert sum(len(v) for v in results.values()) == total
    problems = check_exactly_once(upstream, results, expected)
    assert not problems, "%d problem(s):\n%s" % (len(problems), "\n".join(problems[:30]))
    stats = upstream.stats()
    assert stats["received"] == len(expected)
    assert proxy.running()

    # Every request counted exactly once; every key committed once; fsyncs shared.
    metrics = scrape_metrics(proxy)
    outcomes = {labels["outcome"]: value for labels, value in
                metrics.get("dedup_proxy_deliveries_total", [])}
    attempts_sent = sum(len(v) for v in results.values())
    assert outcomes["forwarded"] == len(expected)
    assert sum(outcomes.values()) >= attempts_sent  # retries after a 409 are requests too
    assert sum(outcomes.values()) == outcomes["forwarded"] + outcomes["replayed"] + \
        outcomes["in_flight"]
    commits = metrics["dedup_proxy_store_commits_total"][0][1]
    syncs = metrics["dedup_proxy_store_syncs_total"][0][1]
    assert commits == len(expected)
    assert 1 <= syncs <= commits


def scrape_metrics(proxy):
    """{family: [(labels, value)]} from the admin port's Prometheus text."""
    reply = proxy.admin("GET", "/metrics")
    assert reply.status == 200
    families = collections.defaultdict(list)
    for line in reply.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        name, _, label_text = name_labels.partition("{")
        labels = dict(part.split("=", 1) for part in label_text.rstrip("}").split(",") if part)
        labels = {k: v.strip('"') for k, v in labels.items()}
        families[name].append((labels, float(value)))
    return families


# curl's protocol flags per sender thread: HTTP/1.1, h2c with prior knowledge,
# or both on the same port at once (even threads HTTP/1.1, odd ones h2c).
CURL_PROTOCOLS = {
    "http1": lambda index: [],
    "h2c": lambda index: ["--http2-prior-knowledge"],
    "mixed": lambda index: ["--http2-prior-knowledge"] if index % 2 else [],
}


@pytest.mark.parametrize("protocol", sorted(CURL_PROTOCOLS))
def test_concurrent_curl_senders_reach_app_once_per_key(proxy, upstream, tmp_path, protocol):
    run_curl_senders(proxy, upstream, tmp_path, CURL_PROTOCOLS[protocol])


def run_curl_senders(proxy, upstream, tmp_path, protocol_args, key_count=30):
    """Eight threads of curl senders redelivering shuffled duplicates; every key
    must reach the app exactly once."""
    rng = random.Random(7)
    messages = build_workload(key_count, rng, "curl")
    expected = collections.Counter(messages)
    deadline = time.monotonic() + DEADLINE_SECONDS
    results = collections.defaultdict(list)
    lock = threading.Lock()

    def send_all(share, extra_args):
        for key in share:
            payload_file = tmp_path / ("%s.json" % key)
            if not payload_file.exists():
                payload_file.write_bytes(payload_for(key))
            outcome = ("gave-up", None, b"", 0)
            while time.monotonic() < deadline:
                result = run_curl(proxy.url + "/hook", tmp_path, extra_args + [
                    "-X", "POST", "-H", "Idempotency-Key: " + key,
                    "-H", "Content-Type: application/json", "-H", "X-Test-Delay-Ms: 15",
                    "--data-binary", "@%s" % payload_file,
                ], timeout=20)
                if result.status <= 0 or result.status == 409 or result.status >= 500:
                    time.sleep(0.03)
                    continue
                outcome = (result.status, result.final_header("Idempotent-Replayed"),
                           result.body, 1)
                break
            with lock:
                results[key].append(outcome)

    thread_count = 8
    threads = [threading.Thread(target=send_all,
                                args=(messages[i::thread_count], protocol_args(i)),
                                daemon=True) for i in range(thread_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic() + 30))
    assert not any(t.is_alive() for t in threads), "curl senders still running"

    problems = check_exactly_once(upstream, results, expected)
    assert not problems, "%d problem(s):\n%s" % (len(problems), "\n".join(problems[:30]))
    assert upstream.stats()["received"] == len(expected)
