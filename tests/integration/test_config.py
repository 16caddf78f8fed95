"""What users see around the data path: command line, environment, exit codes,
and the admin endpoints."""

import re
import subprocess
import uuid

import pytest

from harness import REPO_ROOT, child_env


def run_binary(proxy_bin, args, env=None, timeout=20):
    """Runs the binary to completion (it must exit by itself: config errors,
    --help, --version); a binary that keeps running fails the test."""
    try:
        return subprocess.run([str(proxy_bin)] + list(args), capture_output=True,
                              timeout=timeout, env=child_env(env), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("dedup-proxy %r did not exit within %ds" % (args, timeout))


def project_version():
    text = (REPO_ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(\s*dedup-proxy\s+VERSION\s+([0-9][0-9.]*)", text)
    assert match, "no project(dedup-proxy VERSION ...) in CMakeLists.txt"
    return match.group(1)


def base_args(upstream_url, tmp_path):
    return ["--upstream", upstream_url, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
            "--store", "rocksdb:%s" % (tmp_path / "data")]


def error_lines(result):
    return [line for line in result.stderr.decode("utf-8", "replace").splitlines()
            if line.strip()]


# -- command line ---------------------------------------------------------------


def test_bad_ttl_is_exit_2_naming_flag_and_value(proxy_bin, tmp_path):
    result = run_binary(proxy_bin, base_args("http://127.0.0.1:9", tmp_path) + ["--ttl", "3x"])
    assert result.returncode == 2, result
    lines = error_lines(result)
    naming = [line for line in lines if "ttl" in line.lower() and "3x" in line]
    assert len(naming) == 1, lines
    assert len(lines) <= 3, "a config error should be a short message: %r" % lines


@pytest.mark.parametrize("mode", [["--check-config"], []])
def test_lease_not_longer_than_upstream_timeout_is_exit_2(proxy_bin, tmp_path, mode):
    result = run_binary(proxy_bin, base_args("http://127.0.0.1:9", tmp_path) +
                        ["--lease", "10s", "--upstream-timeout", "10s"] + mode)
    assert result.returncode == 2, result
    lines = error_lines(result)
    naming = [line for line in lines
              if "lease: 10s is not longer than upstream_timeout 10s" in line]
    assert len(naming) == 1, lines


def test_missing_upstream_is_exit_2(proxy_bin, tmp_path):
    result = run_binary(proxy_bin, ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                                    "--store", "rocksdb:%s" % (tmp_path / "data")])
    assert result.returncode == 2, result
    assert any("upstream" in line.lower() for line in error_lines(result)), result.stderr


@pytest.mark.parametrize("flag,value", [
    ("--upstream", "not a url"),
    ("--listen", "127.0.0.1:notaport"),
    ("--store", "nosuchstore:/tmp/x"),
    ("--workers", "-3"),
    ("--max-body-size", "lots"),
])
def test_invalid_flag_value_is_exit_2_naming_the_value(proxy_bin, tmp_path, flag, value):
    args = base_args("http://127.0.0.1:9", tmp_path)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    result = run_binary(proxy_bin, args)
    assert result.returncode == 2, result
    stderr = result.stderr.decode("utf-8", "replace")
    name = flag.lstrip("-")
    assert value in stderr, stderr
    assert name in stderr or name.replace("-", "_") in stderr, stderr


def test_version_prints_name_and_project_version(proxy_bin):
    result = run_binary(proxy_bin, ["--version"])
    assert result.returncode == 0, result
    out = result.stdout.decode().strip()
    assert out.startswith("dedup-proxy "), out
    assert out.split()[1] == project_version(), out


def test_help_exits_0_and_documents_upstream(proxy_bin):
    result = run_binary(proxy_bin, ["--help"])
    assert result.returncode == 0, result
    assert "--upstream" in result.stdout.decode(), result.stdout


def test_upstream_from_environment(make_proxy, upstream):
    # No --upstream flag: DEDUP_PROXY_UPSTREAM supplies it.
    proxy = make_proxy(start=False, env={"DEDUP_PROXY_UPSTREAM": upstream.url})
    proxy.upstream_url = None
    proxy.start()
    key = "env-%s" % uuid.uuid4().hex
    reply = proxy.deliver(key, b"{}")
    assert reply.status == 200, str(reply)
    assert upstream.count(key) == 1


def test_bad_value_from_environment_is_exit_2(proxy_bin, tmp_path):
    result = run_binary(proxy_bin, base_args("http://127.0.0.1:9", tmp_path),
                        env={"DEDUP_PROXY_TTL": "3x"})
    assert result.returncode == 2, result
    stderr = result.stderr.decode("utf-8", "replace")
    assert "ttl" in stderr.lower() and "3x" in stderr, stderr


def test_flag_beats_environment(make_proxy, upstream):
    # DEDUP_PROXY_UPSTREAM points nowhere; the --upstream flag (which make_proxy
    # always passes) points at the app. The flag must win.
    proxy = make_proxy(env={"DEDUP_PROXY_UPSTREAM": "http://127.0.0.1:9"})
    key = "flag-%s" % uuid.uuid4().hex
    reply = proxy.deliver(key, b"{}")
    assert reply.status == 200, str(reply)
    assert upstream.count(key) == 1


# -- admin endpoints ------------------------------------------------------------


def test_healthz_and_readyz(proxy):
    health = proxy.admin("GET", "/healthz")
    assert health.status == 200, str(health)
    ready = proxy.admin("GET", "/readyz")
    assert ready.status == 200, str(ready)


def test_metrics_count_deliveries(proxy, upstream):
    key = "metrics-%s" % uuid.uuid4().hex
    assert proxy.deliver(key, b"{}").status == 200
    assert proxy.deliver(key, b"{}").header("Idempotent-Replayed") == "true"

    metrics = proxy.admin("GET", "/metrics")
    assert metrics.status == 200, str(metrics)
    assert (metrics.header("Content-Type") or "").startswith("text/plain"), str(metrics)
    text = metrics.body.decode()
    assert "dedup_proxy_deliveries_total" in text, text[:2000]
    samples = [line for line in text.splitlines()
               if line.startswith("dedup_proxy_deliveries_total")]
    total = sum(float(line.rsplit(" ", 1)[1]) for line in samples)
    assert total >= 2, samples


def test_admin_is_not_served_on_proxy_port(proxy, upstream):
    reply = proxy.request("GET", "/metrics")
    # Forwarded to the app like any other GET: the admin port is separate.
    assert reply.status == 200, str(reply)
    assert len(upstream.requests_to("/metrics")) == 1
