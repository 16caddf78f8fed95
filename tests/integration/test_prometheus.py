"""The monitoring files against the real thing: the alert rules pass promtool,
every metric the dashboard and the rules name exists on a live /metrics, and a
real Prometheus server scrapes the proxy and sees the deliveries it made."""

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from harness import REPO_ROOT, child_env, wait_until

RULES = REPO_ROOT / "helm" / "dedup-proxy" / "files" / "dedup-proxy.rules.yaml"
DASHBOARD = REPO_ROOT / "helm" / "dedup-proxy" / "files" / "dedup-proxy-dashboard.json"

# A metric name of ours inside PromQL; not part of a longer identifier or of a
# recording rule name such as route:dedup_proxy_x:rate5m.
METRIC_NAME = re.compile(r"(?<![\w:])((?:dedup_proxy|process)_[A-Za-z0-9_]*)(?![\w:])")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

EXPECTED_ALERTS = {"DedupProxyLeasesExpiring", "DedupProxyLeaseLost", "DedupProxyStoreErrors",
                   "DedupProxyInFlightConflictsRising", "DedupProxyAppErrors", "DedupProxyDown",
                   "DedupProxyBadSignatures"}


def find_tool(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/bin")
    if path:
        return path
    pytest.skip("%s is not installed (CI installs Debian's `prometheus` package via "
                "scripts/setup.sh)" % name)


# -- what the files reference -----------------------------------------------------


def dashboard_exprs():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    exprs.append(target["expr"])
            walk(panel.get("panels", []))  # panels inside collapsed rows

    walk(dashboard["panels"])
    return exprs


def rule_exprs():
    """Every `expr:` in the rules file, block scalars (| and >) included. Just
    enough YAML for this file: the tests use the standard library only."""
    exprs = []
    lines = RULES.read_text().splitlines()
    index = 0
    while index < len(lines):
        match = re.match(r"^(\s*)(?:-\s+)?expr:\s*(.*)$", lines[index])
        index += 1
        if not match:
            continue
        indent, value = len(match.group(1)), match.group(2).strip()
        if value[:1] in ("|", ">"):
            block = []
            while index < len(lines) and (not lines[index].strip()
                                          or len(lines[index]) - len(lines[index].lstrip())
                                          > indent):
                block.append(lines[index].strip())
                index += 1
            value = " ".join(block)
        exprs.append(value.strip("'\""))
    return exprs


def metric_names(exprs):
    return {name for expr in exprs for name in METRIC_NAME.findall(expr)}


def scraped_families(proxy):
    """{family name: type} from the # TYPE lines of the proxy's /metrics."""
    reply = proxy.admin("GET", "/metrics")
    assert reply.status == 200, str(reply)
    families = {}
    for line in reply.body.decode().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
            families[parts[2]] = parts[3]
    return families


def missing_names(names, families):
    missing = []
    for name in sorted(names):
        if name in families:
            continue
        base = next((name[:-len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
        if base is not None and families.get(base) == "histogram":
            continue
        missing.append(name)
    return missing


def send_known_traffic(proxy):
    """One key delivered three times: forwarded once, replayed twice."""
    key = "prom-%s" % uuid.uuid4().hex
    replies = [proxy.deliver(key) for _ in range(3)]
    assert [r.status for r in replies] == [200, 200, 200], [str(r) for r in replies]
    assert [r.replayed for r in replies] == [False, True, True], [str(r) for r in replies]


# -- the tests ------------------------------------------------------------------------


def test_promtool_accepts_the_rules():
    promtool = find_tool("promtool")
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                          timeout=60, env=child_env())
    assert done.returncode == 0, (done.stdout + done.stderr).decode("utf-8", "replace")


def test_rules_define_the_expected_alerts():
    text = RULES.read_text()
    alerts = set(re.findall(r"^\s*-\s+alert:\s*(\w+)", text, re.M))
    assert EXPECTED_ALERTS <= alerts, EXPECTED_ALERTS - alerts
    assert re.search(r"^\s*-\s+record:", text, re.M), "no recording rules"


def test_dashboard_metrics_exist_on_live_metrics(proxy):
    send_known_traffic(proxy)
    names = metric_names(dashboard_exprs())
    # The extraction must not be vacuous.
    assert {"dedup_proxy_deliveries_total", "dedup_proxy_upstream_duration_seconds_bucket",
            "process_resident_memory_bytes"} <= names, names
    families = scraped_families(proxy)
    assert missing_names(names, families) == [], sorted(families)


def test_rule_metrics_exist_on_live_metrics(proxy):
    send_known_traffic(proxy)
    names = metric_names(rule_exprs())
    assert {"dedup_proxy_deliveries_total", "dedup_proxy_leases_expired_total",
            "dedup_proxy_lease_lost_total", "dedup_proxy_store_errors_total"} <= names, names
    families = scraped_families(proxy)
    assert missing_names(names, families) == [], sorted(families)


# -- a real Prometheus server ----------------------------------------------------------


def free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class PrometheusServer:
    def __init__(self, binary, work_dir, target_port):
        self.binary = binary
        self.work_dir = work_dir
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.config = work_dir / "prometheus.yml"
        self.config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "  evaluation_interval: 1s\n"
            "rule_files:\n"
            "  - %s\n"
            "scrape_configs:\n"
            "  - job_name: dedup-proxy\n"
            "    static_configs:\n"
            "      - targets: ['127.0.0.1:%d']\n" % (json.dumps(str(RULES)), target_port))
        self.process = None
        self.port = None
        self.log_path = None
        self.log_file = None

    def start(self):
        # The free port may be taken between probing and binding: retry a few times.
        for attempt in range(3):
            self.port = free_port()
            self.log_path = self.work_dir / ("prometheus-%d.log" % attempt)
            self.log_file = open(self.log_path, "wb")
            self.process = subprocess.Popen(
                [self.binary, "--config.file=%s" % self.config,
                 "--storage.tsdb.path=%s" % (self.work_dir / "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % self.port,
                 "--log.level=info"],
                stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
                cwd=str(self.work_dir), env=child_env())
            if self._wait_ready():
                return self
            self.stop()
        raise AssertionError("prometheus did not become ready\n" + self.log_text())

    def _wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url("/-/ready"), timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def api(self, path, **params):
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(self.url(path + ("?" + query if query else "")),
                                        timeout=5) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:  # 400 for bad PromQL: show why
            raise AssertionError("%s %r: HTTP %d %s" % (path, params, error.code,
                                                        error.read()[:500])) from None
        assert body["status"] == "success", body
        return body["data"]

    def query_value(self, promql):
        """The single sample's value of an instant query, or None if no sample."""
        result = self.api("/api/v1/query", query=promql)["result"]
        if len(result) != 1:
            return None
        return float(result[0]["value"][1])

    def log_text(self):
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text("utf-8", "replace")[-20000:]

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None


@pytest.fixture
def prometheus_server(proxy, tmp_path):
    binary = find_tool("prometheus")
    server = PrometheusServer(binary, tmp_path / "prometheus", proxy.admin_port)
    try:
        yield server.start()
    finally:
        server.stop()


def test_real_prometheus_scrapes_the_proxy(proxy, prometheus_server):
    send_known_traffic(proxy)
    server = prometheus_server
    replayed = 'dedup_proxy_deliveries_total{outcome="replayed"}'
    forwarded = 'dedup_proxy_deliveries_total{outcome="forwarded"}'
    try:
        wait_until(lambda: server.query_value(replayed) == 2.0, timeout=30, interval=0.25,
                   message="prometheus to see replayed == 2")
        assert server.query_value(forwarded) == 1.0
        assert server.query_value('up{job="dedup-proxy"}') == 1.0
        # The rule file loaded, with every alert.
        groups = server.api("/api/v1/rules")["groups"]
        alerts = {rule["name"] for group in groups for rule in group["rules"]
                  if rule["type"] == "alerting"}
        assert EXPECTED_ALERTS <= alerts, alerts
        # Every dashboard query is valid PromQL to this Prometheus.
        for expr in dashboard_exprs():
            promql = expr.replace("$__rate_interval", "1m").replace("$route", ".*")
            server.api("/api/v1/query", query=promql)
    except AssertionError as error:
        raise AssertionError("%s\n--- prometheus log ---\n%s"
                             % (error, server.log_text())) from None
