#!/usr/bin/env python3
"""Helpers and aggregation for tests/bench/run.sh (stdlib only).

Subcommands:
  freeport                      print a free 127.0.0.1 TCP port
  cputicks PID...               utime+stime (clock ticks) summed over PIDs
  ctxsw PID...                  voluntary + nonvoluntary context switches,
                                summed over every thread of PIDs
  fsynctime DIR N               N appends of 4 KiB to a file in DIR, each
                                followed by fdatasync: print p50 p90 (ms)
  hwm PID...                    VmHWM (kB) summed over PIDs
  rss PID...                    VmRSS (kB) summed over PIDs
  extra RAW K=V...              record run-wide figures (start-up, memory)
  waitready URL T0              poll URL until 200; print seconds since T0
  record ...                    append one run (JSON line) to a raw file
  report RAW OUTDIR             write results.md / results.csv (+ chart data)
"""
import argparse
import csv
import json
import os
import re
import socket
import sys


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cputicks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    print(total)


def ctxsw(pids):
    """Context switches of every thread: the process-level line in
    /proc/PID/status counts only the main thread once others exist."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                            total += int(line.split()[1])
            except OSError:
                continue  # the thread ended between listdir and open
    print(total)


def fsynctime(directory, n):
    """What one durable commit waits for at least: fdatasync after appending
    4 KiB to a file, as a WAL does. Prints p50 and p90 in ms."""
    import time
    path = os.path.join(directory, "fsync-probe")
    block = b"\x5a" * 4096
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, block)
        os.fdatasync(fd)  # the file exists on disk before the first sample
        for _ in range(n):
            os.write(fd, block)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            samples.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    samples.sort()
    print(f"{samples[len(samples) // 2]:.3f} {samples[min(len(samples) - 1, (len(samples) * 9) // 10)]:.3f}")


def hwm(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    print(total)


METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def read_metrics(path):
    """{(name, labels-string): value} from a Prometheus text file (may be missing)."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            m = METRIC_RE.match(line)
            if m:
                try:
                    out[(m.group(1), m.group(2) or "")] = float(m.group(3))
                except ValueError:
                    pass
    return out


def metric_sum(metrics, name, label_substr=""):
    vals = [v for (n, l), v in metrics.items() if n == name and label_substr in l]
    return sum(vals) if vals else None


def delta(after, before, name, label_substr=""):
    a = metric_sum(after, name, label_substr)
    b = metric_sum(before, name, label_substr)
    if a is None:
        return None
    return a - (b or 0.0)


def record(a):
    rec = {"path": a.path, "workload": a.workload, "conns": a.conns}
    wrk = None
    if a.wrk_out and os.path.exists(a.wrk_out):
        with open(a.wrk_out) as f:
            for line in f:
                if line.startswith("BENCH_RESULT "):
                    wrk = json.loads(line[len("BENCH_RESULT "):])
    rec["wrk"] = wrk
    rec["cpu_s"] = (a.cpu_after - a.cpu_before) / os.sysconf("SC_CLK_TCK") if a.cpu_after >= 0 else None
    rec["ctx_switches"] = (a.ctx_after - a.ctx_before) if (a.ctx_after >= 0 and a.ctx_before >= 0) else None
    rec["app_cpu_s"] = (a.app_cpu_after - a.app_cpu_before) / os.sysconf("SC_CLK_TCK")
    rec["store_cpu_s"] = (a.store_cpu_after - a.store_cpu_before) / os.sysconf("SC_CLK_TCK")
    rec["hwm_kb"] = a.hwm
    mb, ma = read_metrics(a.metrics_before), read_metrics(a.metrics_after)
    if ma:
        rec["forwarded"] = delta(ma, mb, "dedup_proxy_deliveries_total", 'outcome="forwarded"')
        rec["replayed"] = delta(ma, mb, "dedup_proxy_deliveries_total", 'outcome="replayed"')
        rec["in_flight"] = delta(ma, mb, "dedup_proxy_deliveries_total", 'outcome="in_flight"')
        rec["commits"] = delta(ma, mb, "dedup_proxy_store_commits_total")
        rec["syncs"] = delta(ma, mb, "dedup_proxy_store_syncs_total")
    if a.strace_out and os.path.exists(a.strace_out):
        n = 0
        with open(a.strace_out) as f:
            for line in f:
                parts = line.split()
                if parts and parts[-1] in ("fsync", "fdatasync"):
                    n += int(parts[3])  # calls column
        rec["strace_syncs"] = n
    with open(a.raw, "a") as f:
        f.write(json.dumps(rec) + "\n")


def fmt(v, spec="{:.0f}", na="n/a"):
    return na if v is None else spec.format(v)


PATHS = ("direct", "nginx", "dedup-rocksdb", "dedup-redis", "dedup-redis-cluster")
DEDUP_PATHS = ("dedup-rocksdb", "dedup-redis")
PROXY_PATHS = ("nginx",) + DEDUP_PATHS
# The Express pair: the same Node app alone, behind nginx and behind dedup-proxy (RocksDB).
EXPRESS_PATHS = ("express", "nginx-express", "dedup-express")


def load_rows(raw):
    recs = []
    with open(raw) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    rows, extras = [], {}
    for r in recs:
        if r.get("kind") == "extra":
            extras.update(r["values"])
            continue
        w = r.get("wrk") or {}
        req = w.get("requests")
        rows.append({
            "path": r["path"], "workload": r["workload"], "conns": r["conns"],
            "rps": w.get("rps"), "p50_ms": w.get("p50_us", 0) / 1000 if w else None,
            "p99_ms": w.get("p99_us", 0) / 1000 if w else None,
            "p999_ms": w.get("p999_us", 0) / 1000 if w else None,
            "requests": req,
            "errors": (w.get("non2xx3xx", 0) + w.get("connect_err", 0) + w.get("read_err", 0)
                       + w.get("write_err", 0) + w.get("timeouts", 0)) if w else None,
            "proxy_cpu_s_per_10k": (r["cpu_s"] / req * 1e4) if (req and r.get("cpu_s") is not None
                                                                 and r["path"] != "direct") else None,
            "proxy_ctx_per_req": (r["ctx_switches"] / req) if (req and r.get("ctx_switches") is not None) else None,
            "app_cpu_s_per_10k": (r["app_cpu_s"] / req * 1e4) if (req and "app_cpu_s" in r) else None,
            "store_cpu_s_per_10k": (r["store_cpu_s"] / req * 1e4) if (req and r.get("store_cpu_s")) else None,
            "proxy_peak_rss_mib": (r["hwm_kb"] / 1024) if (r.get("hwm_kb") and r["path"] != "direct") else None,
            "forwarded": r.get("forwarded"), "replayed": r.get("replayed"),
            "in_flight_409": r.get("in_flight"),
            "commits": r.get("commits"), "syncs": r.get("syncs"),
            "strace_syncs": r.get("strace_syncs"),
            "skipped": r.get("skipped", ""),
        })
    return rows, extras


def ratio(a, b):
    return a / b if (a is not None and b) else None


def minus(a, b):
    return a - b if (a is not None and b is not None) else None


def report(raw, outdir):
    rows, extras = load_rows(raw)
    os.makedirs(outdir, exist_ok=True)
    fields = list(rows[0].keys()) if rows else []
    with open(os.path.join(outdir, "results.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields)
        wr.writeheader()
        for row in rows:
            wr.writerow({k: ("" if v is None else (round(v, 4) if isinstance(v, float) else v))
                         for k, v in row.items()})
        for k, v in sorted(extras.items()):
            f.write(f"# {k},{v}\n")

    idx = {(x["path"], x["workload"], x["conns"]): x for x in rows if not x["skipped"]}
    keys = []
    for x in rows:
        k = (x["workload"], x["conns"])
        if not x["skipped"] and x["path"] in PATHS and k not in keys:
            keys.append(k)
    paths = [p for p in PATHS if any(x["path"] == p for x in rows)]

    md = []
    if extras.get("conditions"):
        md.append(f"Conditions: {extras['conditions']}")
        md.append("")
    # Side by side: req/s and p50/p99/p99.9 of every path per workload.
    md.append("| workload | conns | " + " | ".join(f"{p} req/s" for p in paths) + " | "
              + " | ".join(f"{p} p50/p99/p99.9 ms" for p in paths) + " |")
    md.append("|---|---:|" + "---:|" * (2 * len(paths)))
    for k in keys:
        cells = [fmt(idx.get((p,) + k, {}).get("rps")) for p in paths]
        lat = []
        for p in paths:
            x = idx.get((p,) + k)
            lat.append("n/a" if not x else "{}/{}/{}".format(
                fmt(x["p50_ms"], "{:.3f}"), fmt(x["p99_ms"], "{:.2f}"), fmt(x["p999_ms"], "{:.2f}")))
        md.append(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " | " + " | ".join(lat) + " |")
    for x in rows:
        if x["skipped"] and x["path"] in PATHS:
            md.append(f"\n{x['path']}: skipped ({x['skipped']})")

    # Ratios and costs per proxy.
    md.append("")
    md.append("| workload | conns | rocksdb ÷ nginx req/s | redis ÷ nginx req/s | p99 added over direct ms (nginx / rocksdb / redis) | p50 added over direct ms (nginx / rocksdb / redis) | CPU s per 10k req (nginx / rocksdb / redis) | context switches per req (nginx / rocksdb / redis) | errors (rocksdb / redis) |")
    md.append("|---|---:|---:|---:|---|---|---|---|---|")
    for k in keys:
        d = idx.get(("direct",) + k)
        n = idx.get(("nginx",) + k)
        got = {p: idx.get((p,) + k) for p in PROXY_PATHS}
        rr = {p: ratio(got[p]["rps"], n["rps"]) if (got[p] and n) else None for p in DEDUP_PATHS}
        add99 = [minus(got[p]["p99_ms"], d["p99_ms"]) if (got[p] and d) else None for p in PROXY_PATHS]
        add50 = [minus(got[p]["p50_ms"], d["p50_ms"]) if (got[p] and d) else None for p in PROXY_PATHS]
        cpu = [got[p]["proxy_cpu_s_per_10k"] if got[p] else None for p in PROXY_PATHS]
        redis_cpu = got["dedup-redis"]["store_cpu_s_per_10k"] if got["dedup-redis"] else None
        ctx = [got[p]["proxy_ctx_per_req"] if got[p] else None for p in PROXY_PATHS]
        err = [fmt(got[p]["errors"]) if got[p] else "n/a" for p in DEDUP_PATHS]
        md.append(f"| {k[0]} | {k[1]} | {fmt(rr['dedup-rocksdb'], '{:.2f}')} | {fmt(rr['dedup-redis'], '{:.2f}')} | "
                  + " / ".join(fmt(v, "{:+.3f}") for v in add99) + " | "
                  + " / ".join(fmt(v, "{:+.3f}") for v in add50) + " | "
                  + " / ".join(fmt(v, "{:.3f}") for v in cpu)
                  + (f" (+{redis_cpu:.3f} redis-server)" if redis_cpu else "") + " | "
                  + " / ".join(fmt(v, "{:.2f}") for v in ctx) + " | " + " / ".join(err) + " |")

    # Redis Cluster beside single Redis.
    if any(x["path"] == "dedup-redis-cluster" and not x["skipped"] for x in rows):
        md.append("")
        md.append("| workload | conns | redis-cluster ÷ nginx req/s | redis-cluster ÷ redis req/s | redis-cluster p50/p99 added over direct ms | CPU s per 10k req | context switches per req | errors |")
        md.append("|---|---:|---:|---:|---|---:|---:|---:|")
        for k in keys:
            c = idx.get(("dedup-redis-cluster",) + k)
            if not c:
                continue
            n, r, d = idx.get(("nginx",) + k), idx.get(("dedup-redis",) + k), idx.get(("direct",) + k)
            md.append(f"| {k[0]} | {k[1]} | {fmt(ratio(c['rps'], n['rps']) if n else None, '{:.2f}')} | "
                      f"{fmt(ratio(c['rps'], r['rps']) if r else None, '{:.2f}')} | "
                      f"{fmt(minus(c['p50_ms'], d['p50_ms']) if d else None, '{:+.3f}')} / "
                      f"{fmt(minus(c['p99_ms'], d['p99_ms']) if d else None, '{:+.3f}')} | "
                      f"{fmt(c['proxy_cpu_s_per_10k'], '{:.3f}')} | {fmt(c['proxy_ctx_per_req'], '{:.2f}')} | {fmt(c['errors'])} |")

    # The Express pair: the consumer alone, and behind dedup-proxy (RocksDB);
    # behind nginx proxy_pass for reference.
    ex_rows = [x for x in rows if x["path"] in EXPRESS_PATHS]
    express_ratio = None
    if ex_rows:
        md.append("")
        skipped = [x for x in ex_rows if x["skipped"]]
        if skipped:
            md.append(f"Express consumer: skipped ({skipped[0]['skipped']})")
        else:
            md.append("Express consumer (one single-threaded Node process) alone, behind nginx proxy_pass (reference) "
                      "and behind dedup-proxy (RocksDB, durable), every key new:")
            md.append("")
            md.append("| workload | conns | express alone req/s | behind nginx req/s | behind dedup-proxy req/s | "
                      "dedup-proxy ÷ alone | nginx ÷ alone | p50/p99/p99.9 ms (alone; nginx; dedup-proxy) | "
                      "proxy CPU s per 10k req (nginx / dedup-proxy) | proxy context switches per req (nginx / dedup-proxy) | "
                      "app CPU s per 10k req (alone / nginx / dedup-proxy) | errors (alone / nginx / dedup-proxy) |")
            md.append("|---|---:|---:|---:|---:|---:|---:|---|---|---|---|---|")
            ex_keys = []
            for x in ex_rows:
                if (x["workload"], x["conns"]) not in ex_keys:
                    ex_keys.append((x["workload"], x["conns"]))
            for k in ex_keys:
                a, n, b = (idx.get((p,) + k) for p in EXPRESS_PATHS)
                rr = ratio(b["rps"], a["rps"]) if (a and b) else None
                rn = ratio(n["rps"], a["rps"]) if (a and n) else None
                if k == ("newkey1k", 32):
                    express_ratio = rr

                def lat(x):
                    return "n/a" if not x else "{}/{}/{}".format(
                        fmt(x["p50_ms"], "{:.3f}"), fmt(x["p99_ms"], "{:.2f}"), fmt(x["p999_ms"], "{:.2f}"))

                def col(xs, field, spec):
                    return " / ".join(fmt(x[field] if x else None, spec) for x in xs)
                md.append(f"| {k[0]} | {k[1]} | {fmt(a['rps'] if a else None)} | {fmt(n['rps'] if n else None)} | "
                          f"{fmt(b['rps'] if b else None)} | {fmt(rr, '{:.2f}')} | {fmt(rn, '{:.2f}')} | "
                          f"{'; '.join(lat(x) for x in (a, n, b))} | "
                          f"{col((n, b), 'proxy_cpu_s_per_10k', '{:.3f}')} | {col((n, b), 'proxy_ctx_per_req', '{:.2f}')} | "
                          f"{col((a, n, b), 'app_cpu_s_per_10k', '{:.3f}')} | {col((a, n, b), 'errors', '{:.0f}')} |")

    # Memory, durability, start-up.
    md.append("")
    for p in PROXY_PATHS:
        peaks = [x["proxy_peak_rss_mib"] for x in rows if x["path"] == p and x["proxy_peak_rss_mib"]]
        if peaks:
            md.append(f"- peak RSS (VmHWM) {p}: {max(peaks):.1f} MiB")
    for p in DEDUP_PATHS:
        x = idx.get((p, "newkey", 32))
        if not x:
            continue
        if p == "dedup-redis":
            md.append(f"- fsyncs per commit, {p}: made by redis-server, not the proxy (appendfsync "
                      f"{extras.get('redis_appendfsync', 'always')}: at most one fsync per event-loop pass)")
        elif x["syncs"] is not None and x["commits"]:
            md.append(f"- fsyncs per commit, {p}, newkey, 32 conns: {x['syncs'] / x['commits']:.3f} "
                      f"({fmt(x['syncs'])} syncs / {fmt(x['commits'])} commits, from /metrics)")
        elif x["strace_syncs"] is not None and x["forwarded"]:
            md.append(f"- fsyncs per commit, {p}, newkey, 32 conns: {x['strace_syncs'] / x['forwarded']:.3f} (strace)")
    for name, label, unit in (("ready_keys", "keys on disk for the start-up step", ""),
                              ("ready_s", "time to /readyz 200 with those keys", " s"),
                              ("ready_empty_s", "time to /readyz 200, empty store", " s"),
                              ("rss0_empty_mib", "RSS when ready, empty store", " MiB"),
                              ("rss0_loaded_mib", "RSS when ready, keys on disk", " MiB"),
                              ("resident_mib_per_million", "RocksDB resident per million keys (when ready)", " MiB"),
                              ("rss_empty_mib", "RSS after 2 s of new keys, empty store", " MiB"),
                              ("rss_loaded_mib", "RSS after 2 s of new keys, keys on disk", " MiB"),
                              ("resident_traffic_mib_per_million",
                               "difference per million keys after that traffic (block cache filling toward its cap)", " MiB"),
                              ("db_disk_mib", "database size on disk", " MiB"),
                              ("load_s", "loading the keys (store API, group commit)", " s")):
        if name in extras:
            v = extras[name]
            md.append(f"- {label}: {v:.3f}{unit}" if isinstance(v, float) else f"- {label}: {v}{unit}")

    # Targets (issue 6).
    def row(p, wl, c):
        return idx.get((p, wl, c))

    def rps_ratio(p, wl, c):
        x, n = row(p, wl, c), row("nginx", wl, c)
        return ratio(x["rps"], n["rps"]) if (x and n) else None

    checks = []
    checks.append(("new keys, RocksDB, 32 conns ≥ 0.8× nginx", rps_ratio("dedup-rocksdb", "newkey", 32), 0.8, "{:.2f}×"))
    checks.append(("replays, RocksDB, 32 conns ≥ 1.0× nginx", rps_ratio("dedup-rocksdb", "replay", 32), 1.0, "{:.2f}×"))
    checks.append(("replays, RocksDB, 1 conn ≥ 1.0× nginx", rps_ratio("dedup-rocksdb", "replay", 1), 1.0, "{:.2f}×"))
    checks.append(("replays, Redis, 32 conns ≥ 1.0× nginx", rps_ratio("dedup-redis", "replay", 32), 1.0, "{:.2f}×"))
    checks.append(("new keys, Redis, 32 conns ≥ 0.6× nginx", rps_ratio("dedup-redis", "newkey", 32), 0.6, "{:.2f}×"))
    checks.append(("50/50 mix, Redis, 32 conns ≥ 0.6× nginx", rps_ratio("dedup-redis", "mix", 32), 0.6, "{:.2f}×"))
    d1 = {wl: row("direct", wl, 1) for wl in ("newkey", "replay")}
    p50_checks = []
    for p, name in (("dedup-rocksdb", "RocksDB"), ("dedup-redis", "Redis")):
        for wl in ("replay", "newkey"):
            x, n, d = row(p, wl, 1), row("nginx", wl, 1), d1[wl]
            if x and n and d:
                added, ngx_added = x["p50_ms"] - d["p50_ms"], n["p50_ms"] - d["p50_ms"]
                # wrk reports whole microseconds: 2 us of slack, so that
                # "nginx added 0" does not turn a 1 us difference into a miss.
                ok = added <= 2 * max(ngx_added, 0.0) + 0.002
                p50_checks.append((f"1 conn, {wl}, {name}: p50 added ≤ 2× nginx's (±2 µs)",
                                   f"{added * 1000:+.0f} µs vs nginx {ngx_added * 1000:+.0f} µs", ok))
            else:
                p50_checks.append((f"1 conn, {wl}, {name}: p50 added ≤ 2× nginx's (±2 µs)", "n/a", None))
    peaks = [x["proxy_peak_rss_mib"] for x in rows if x["path"] in DEDUP_PATHS and x["proxy_peak_rss_mib"]]
    checks.append(("peak RSS under load ≤ 30 MiB", max(peaks) if peaks else None, -30.0, "{:.1f} MiB"))
    checks.append(("RocksDB resident ≤ 3 MiB per million keys (when ready)", extras.get("resident_mib_per_million"), -3.0, "{:.2f} MiB"))
    checks.append(("… and after 2 s of new keys (cache filling, capped)", extras.get("resident_traffic_mib_per_million"), -3.0, "{:.2f} MiB"))
    checks.append(("ready ≤ 1 s with the keys on disk", extras.get("ready_s"), -1.0, "{:.3f} s"))
    md.append("")
    md.append("| target | measured | holds |")
    md.append("|---|---:|---|")
    rows_out = []
    for label, v, limit, spec in checks:
        # limit > 0: at least; limit < 0: at most |limit|.
        ok = None if v is None else (v >= limit if limit > 0 else v <= -limit)
        rows_out.append((label, fmt(v, spec), ok))
    rows_out[6:6] = p50_checks
    for label, text, ok in rows_out:
        md.append(f"| {label} | {text} | {'n/a' if ok is None else ('yes' if ok else 'NO')} |")

    # Issue 14: new keys at the speed of a plain proxy, one line per target.
    def per(p, wl, c, field):
        x = row(p, wl, c)
        return x[field] if x else None

    fsync_p50 = extras.get("fsync_p50_ms")
    fsync_p90 = extras.get("fsync_p90_ms")
    i14 = []
    v = rps_ratio("dedup-rocksdb", "newkey1k", 32)
    i14.append(("new keys, 1 KiB bodies, 32 conns: dedup-rocksdb ÷ nginx req/s ≥ 0.8×", fmt(v, "{:.2f}×"),
                None if v is None else v >= 0.8))
    v = express_ratio
    i14.append(("Express consumer, new keys, 1 KiB bodies, 32 conns: behind dedup-proxy ÷ alone req/s ≥ 0.9×",
                fmt(v, "{:.2f}×"), None if v is None else v >= 0.9))
    x, n, d = row("dedup-rocksdb", "newkey", 1), row("nginx", "newkey", 1), row("direct", "newkey", 1)
    if x and n and d and fsync_p50 is not None:
        added, ngx_added = x["p50_ms"] - d["p50_ms"], n["p50_ms"] - d["p50_ms"]
        bound = max(ngx_added, 0.0) + fsync_p50
        i14.append(("1 conn, new key: dedup-rocksdb p50 added over direct ≤ nginx's added p50 + one fsync (±2 µs)",
                    f"{added * 1000:+.0f} µs vs {bound * 1000:.0f} µs (nginx {ngx_added * 1000:+.0f} µs + fsync p50 {fsync_p50 * 1000:.0f} µs)",
                    added <= bound + 0.002))
    else:
        i14.append(("1 conn, new key: dedup-rocksdb p50 added over direct ≤ nginx's added p50 + one fsync (±2 µs)", "n/a", None))
    c_new, c_ngx = per("dedup-rocksdb", "newkey1k", 32, "proxy_cpu_s_per_10k"), per("nginx", "newkey1k", 32, "proxy_cpu_s_per_10k")
    v = ratio(c_new, c_ngx)
    i14.append(("CPU per new key (1 KiB, 32 conns) ÷ nginx's CPU per proxied request ≤ 2×",
                "n/a" if v is None else f"{v:.2f}× ({c_new:.3f} vs {c_ngx:.3f} s per 10k)", None if v is None else v <= 2.0))
    v = per("dedup-rocksdb", "newkey1k", 32, "proxy_ctx_per_req")
    i14.append(("context switches per new key (1 KiB, 32 conns, all proxy threads) ≤ 1", fmt(v, "{:.2f}"),
                None if v is None else v <= 1.0))
    v = rps_ratio("dedup-rocksdb", "replay", 32)
    i14.append(("replays, 32 conns: dedup-rocksdb ÷ nginx req/s ≥ 1.2×", fmt(v, "{:.2f}×"), None if v is None else v >= 1.2))
    md.append("")
    md.append("| issue 14 target | measured | holds |")
    md.append("|---|---:|---|")
    for label, text, ok in i14:
        md.append(f"| {label} | {text} | {'n/a' if ok is None else ('yes' if ok else 'NO')} |")
    # The same as one-line figures, with the costs a replay is compared by.
    md.append("")
    fs = ("n/a" if fsync_p50 is None else
          f"p50 {fsync_p50:.3f} ms, p90 {fsync_p90:.3f} ms ({extras.get('fsync_samples', '?')} appends of 4 KiB + fdatasync in the bench's temp dir)")
    md.append(f"- fsync of this disk: {fs}")
    for wl, c, what in (("newkey1k", 32, "new key, 1 KiB, 32 conns"), ("newkey", 32, "new key, 32 conns"),
                        ("replay", 32, "replay, 32 conns"), ("newkey", 1, "new key, 1 conn")):
        cr = ratio(per("dedup-rocksdb", wl, c, "proxy_cpu_s_per_10k"), per("nginx", wl, c, "proxy_cpu_s_per_10k"))
        md.append(f"- {what}: dedup-rocksdb ÷ nginx req/s {fmt(rps_ratio('dedup-rocksdb', wl, c), '{:.2f}×')}; "
                  f"CPU per request ÷ nginx's {fmt(cr, '{:.2f}×')}; context switches per request "
                  f"{fmt(per('dedup-rocksdb', wl, c, 'proxy_ctx_per_req'), '{:.2f}')} "
                  f"(nginx {fmt(per('nginx', wl, c, 'proxy_ctx_per_req'), '{:.2f}')})")

    text = "\n".join(md) + "\n"
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(text)
    # Chart data: one line per (workload,conns), req/s per path.
    with open(os.path.join(outdir, "chart.dat"), "w") as f:
        f.write("label " + " ".join(PATHS) + "\n")
        for k in keys:
            vals = [idx.get((p,) + k) for p in PATHS]
            f.write(f"{k[0]}@{k[1]} " + " ".join(fmt(v["rps"] if v else None, "{:.0f}", "0") for v in vals) + "\n")
    sys.stdout.write(text)


def extra(raw, pairs):
    values = {}
    for pair in pairs:
        k, _, v = pair.partition("=")
        try:
            values[k] = int(v) if v.isdigit() else (float(v) if "." in v else v)
        except ValueError:
            values[k] = v
    with open(raw, "a") as f:
        f.write(json.dumps({"kind": "extra", "values": values}) + "\n")


def wait_ready(url, t0, limit):
    """Polls URL until 200; prints seconds since t0 (a time.time() value)."""
    import time
    import urllib.request
    while time.time() - t0 < limit:
        try:
            with urllib.request.urlopen(url, timeout=0.5) as r:
                if r.status == 200:
                    print(f"{time.time() - t0:.3f}")
                    return
        except Exception:
            pass
        time.sleep(0.005)
    print("-1")


def rss(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    print(total)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport")
    for name in ("cputicks", "ctxsw", "hwm", "rss"):
        s = sub.add_parser(name)
        s.add_argument("pids", nargs="*")
    r = sub.add_parser("record")
    r.add_argument("--raw", required=True)
    r.add_argument("--path", required=True)
    r.add_argument("--workload", required=True)
    r.add_argument("--conns", type=int, required=True)
    r.add_argument("--wrk-out")
    r.add_argument("--cpu-before", type=int, default=0)
    r.add_argument("--cpu-after", type=int, default=-1)
    r.add_argument("--ctx-before", type=int, default=-1)
    r.add_argument("--ctx-after", type=int, default=-1)
    r.add_argument("--app-cpu-before", type=int, default=0)
    r.add_argument("--app-cpu-after", type=int, default=0)
    r.add_argument("--store-cpu-before", type=int, default=0)
    r.add_argument("--store-cpu-after", type=int, default=0)
    r.add_argument("--hwm", type=int, default=0)
    r.add_argument("--metrics-before")
    r.add_argument("--metrics-after")
    r.add_argument("--strace-out")
    s = sub.add_parser("skip")
    s.add_argument("--raw", required=True)
    s.add_argument("--path", required=True)
    s.add_argument("--reason", required=True)
    e = sub.add_parser("extra")
    e.add_argument("raw")
    e.add_argument("pairs", nargs="*")
    ft = sub.add_parser("fsynctime")
    ft.add_argument("dir")
    ft.add_argument("n", type=int)
    w = sub.add_parser("waitready")
    w.add_argument("url")
    w.add_argument("t0", type=float)
    w.add_argument("--limit", type=float, default=60)
    rp = sub.add_parser("report")
    rp.add_argument("raw")
    rp.add_argument("outdir")
    a = p.parse_args()
    if a.cmd == "freeport":
        freeport()
    elif a.cmd == "cputicks":
        cputicks(a.pids)
    elif a.cmd == "ctxsw":
        ctxsw(a.pids)
    elif a.cmd == "fsynctime":
        fsynctime(a.dir, a.n)
    elif a.cmd == "hwm":
        hwm(a.pids)
    elif a.cmd == "rss":
        rss(a.pids)
    elif a.cmd == "extra":
        extra(a.raw, a.pairs)
    elif a.cmd == "waitready":
        wait_ready(a.url, a.t0, a.limit)
    elif a.cmd == "record":
        record(a)
    elif a.cmd == "skip":
        with open(a.raw, "a") as f:
            f.write(json.dumps({"path": a.path, "workload": "*", "conns": 0, "skipped": a.reason}) + "\n")
    elif a.cmd == "report":
        report(a.raw, a.outdir)


if __name__ == "__main__":
    main()
