#!/usr/bin/python3
"""Soak under hostile senders (not part of the test suite).

Starts the upstream test app and dedup-proxy (default limits), then runs for
N minutes: a well-behaved client delivering every 20ms, and, at the same time,
the attacks of tests/integration/hostile.py (thousands of idle connections,
slow-header and slow-body senders, repeated 431/413 abuse, large bodies over
the buffer budget, admin-port abuse). Samples the proxy's RSS and the client's
latency, prints peak RSS and worst/p99 latency per attack phase, and plots RSS
and p99 (per 5s window) over time to a PNG.

  tests/bench/soak_hostile.py --minutes 5 --out soak.png [--binary PATH]
  tests/bench/soak_hostile.py --attack idle --seconds 20      # one attack alone

Needs python3-matplotlib (scripts/setup.sh installs it) for the PNG.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

from harness import Proxy, UpstreamApp, proxy_binary  # noqa: E402
from hostile import (Attacker, RssSampler, WellBehavedClient, admin_abuse,  # noqa: E402
                     idle_connections, large_bodies, oversize_requests, slow_bodies,
                     slow_headers)

ATTACKS = {
    "idle": lambda p: [Attacker(idle_connections, p.port, 3000)],
    "slow": lambda p: [Attacker(slow_headers, p.port, 50), Attacker(slow_bodies, p.port, 50)],
    "oversize": lambda p: [Attacker(oversize_requests, p.port) for _ in range(4)],
    "budget": lambda p: [Attacker(large_bodies, p.port, 7 * 1024 * 1024, "/hook", 1500)
                         for _ in range(16)],
    "bodies40": lambda p: [Attacker(large_bodies, p.port, 7 * 1024 * 1024, "/hook", 1500)
                           for _ in range(40)],
    "admin": lambda p: [Attacker(admin_abuse, p.admin_port, 30)],
}


def percentile(values, fraction):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def windows(results, width=5.0):
    """[(window start, p99 latency, failures)] of the client's results."""
    out = {}
    for began, latency, outcome in results:
        key = int(began // width) * width
        out.setdefault(key, []).append((latency, outcome))
    return [(start, percentile([l for l, _ in items], 0.99),
             sum(1 for _, o in items if o != 200)) for start, items in sorted(out.items())]


def plot(path, rss_samples, latency_windows, phases, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, (rss_axis, latency_axis) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    rss_axis.plot([t for t, _ in rss_samples], [v for _, v in rss_samples], color="tab:blue")
    rss_axis.set_ylabel("RSS (MiB)")
    rss_axis.axhline(256, color="tab:red", linestyle="--", linewidth=1)
    rss_axis.set_ylim(bottom=0)
    latency_axis.plot([t for t, _, _ in latency_windows],
                      [p99 * 1000 for _, p99, _ in latency_windows], color="tab:orange",
                      marker=".")
    latency_axis.set_ylabel("well-behaved client p99 (ms, 5s windows)")
    latency_axis.set_xlabel("seconds")
    latency_axis.set_ylim(bottom=0)
    for name, start, end in phases:
        for axis in (rss_axis, latency_axis):
            axis.axvspan(start, end, alpha=0.08, color="gray")
        rss_axis.text(start, rss_axis.get_ylim()[1] * 0.92, name, fontsize=8)
    rss_axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(proxy_binary()))
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="total duration; the attacks run in turn, then all together")
    parser.add_argument("--attack", choices=sorted(ATTACKS), action="append",
                        help="run only these attacks, each for --seconds")
    parser.add_argument("--seconds", type=float, default=None, help="per attack phase")
    parser.add_argument("--out", default="soak_hostile.png")
    parser.add_argument("--json", default=None, help="write the per-phase numbers here")
    args = parser.parse_args()

    names = args.attack or sorted(ATTACKS)
    # Each attack alone, then all of them at once for the same time again.
    phase_count = len(names) + (0 if args.attack else 1)
    per_phase = args.seconds or max(10.0, args.minutes * 60 / phase_count)

    upstream = UpstreamApp()
    work = Path(tempfile.mkdtemp(prefix="soak-hostile-"))
    proxy = Proxy(args.binary, upstream.url, work / "data", workers=2)
    proxy.start()
    sampler = RssSampler(proxy.process.pid, interval=0.2)
    client = WellBehavedClient(proxy.port)
    phases, report = [], []
    try:
        time.sleep(3)  # a quiet baseline
        plan = [(name, [name]) for name in names]
        if not args.attack:
            plan.append(("all", names))
        for label, attack_names in plan:
            start = time.monotonic() - sampler.start_time
            first_result = len(client.results)
            peak_before = len(sampler.samples)
            attackers = [a for name in attack_names for a in ATTACKS[name](proxy)]
            time.sleep(per_phase)
            for attacker in attackers:
                attacker.stop(60)
            end = time.monotonic() - sampler.start_time
            phases.append((label, start, end))
            results = client.results[first_result:]
            latencies = [latency for _, latency, outcome in results]
            peak = max((v for _, v in sampler.samples[peak_before:]), default=0.0)
            row = {"attack": label, "seconds": round(end - start, 1),
                   "peak_rss_mib": round(peak, 1),
                   "client_requests": len(results),
                   "client_failures": sum(1 for r in results if r[2] != 200),
                   "client_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                   "client_worst_ms": round(max(latencies, default=0) * 1000, 1),
                   "proxy_alive": proxy.running()}
            report.append(row)
            print(json.dumps(row), flush=True)
            if not proxy.running():
                break
            time.sleep(2)
    finally:
        client.stop()
        sampler.stop()
        proxy.cleanup()
        upstream.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    try:
        plot(args.out, sampler.samples, windows(client.results), phases,
             "dedup-proxy under hostile senders (%s)" % Path(args.binary).name)
        print("plot: %s" % args.out)
    except ImportError:
        print("no matplotlib: install python3-matplotlib for the PNG", file=sys.stderr)


if __name__ == "__main__":
    main()
