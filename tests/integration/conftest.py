"""Fixtures for the integration tests: a fresh upstream app and dedup-proxy per
test, on port 0 with a temp data dir, all killed at teardown. On failure the
logs of every process the test started are attached to the report.

Fixtures:
  proxy_bin      the binary under test ($DEDUP_PROXY_BIN, else build/proxy/dedup-proxy)
  upstream       a running UpstreamApp (harness.py)
  make_proxy     factory: make_proxy(*extra_args, upstream=None, data_dir=None,
                 start=True, wait_ready=True, env=None, workers=2) -> Proxy
  proxy          make_proxy() with the defaults, started and ready
  dead_port      a loopback port where nothing listens (bound, never listening)
"""

import socket

import pytest

from harness import Proxy, UpstreamApp, proxy_binary


def _attach(request, process):
    request.node.__dict__.setdefault("dedup_processes", []).append(process)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for process in item.__dict__.get("dedup_processes", []):
            if isinstance(process, Proxy):
                report.sections.append(("%s log" % process.name, process.log_text()))
            else:
                report.sections.append(("upstream app log", process.log.text()[-20000:]))


@pytest.fixture(scope="session")
def proxy_bin():
    binary = proxy_binary()
    if not binary.is_file():
        pytest.fail("dedup-proxy binary not found at %s (build it or set DEDUP_PROXY_BIN)"
                    % binary)
    return binary


@pytest.fixture
def upstream(request):
    app = UpstreamApp()
    _attach(request, app)
    yield app
    app.stop()


@pytest.fixture
def make_proxy(request, proxy_bin, upstream, tmp_path):
    started = []

    def make(*extra_args, upstream_url=None, data_dir=None, start=True, wait_ready=True,
             env=None, workers=2):
        index = len(started)
        proxy = Proxy(
            proxy_bin,
            upstream_url or upstream.url,
            data_dir or tmp_path / ("data-%d" % index),
            extra_args=extra_args,
            env=env,
            workers=workers,
            name="proxy-%d" % index if index else "proxy",
        )
        started.append(proxy)
        _attach(request, proxy)
        if start:
            proxy.start(wait_ready=wait_ready)
        return proxy

    yield make

    for proxy in started:
        proxy.cleanup()
    reports = [line for proxy in started for line in proxy.sanitizer_reports()]
    if reports:
        pytest.fail("sanitizer reports in the proxy log:\n" + "\n".join(reports[:20]))


@pytest.fixture
def proxy(make_proxy):
    return make_proxy()


@pytest.fixture
def dead_port():
    # Bound but never listening: connecting gets ECONNREFUSED, and no other
    # process can take the port while the test runs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()
