#!/usr/bin/env python3
"""Helpers and aggregation for tests/bench/run.sh (stdlib only).

Subcommands:
  freeport                      print a free 127.0.0.1 TCP port
  cputicks PID...               utime+stime (clock ticks) summed over PIDs
  hwm PID...                    VmHWM (kB) summed over PIDs
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
    rec["app_cpu_s"] = (a.app_cpu_after - a.app_cpu_before) / os.sysconf("SC_CLK_TCK")
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


def report(raw, outdir):
    recs = []
    with open(raw) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    os.makedirs(outdir, exist_ok=True)
    rows = []
    for r in recs:
        w = r.get("wrk") or {}
        req = w.get("requests")
        row = {
            "path": r["path"], "workload": r["workload"], "conns": r["conns"],
            "rps": w.get("rps"), "p50_ms": w.get("p50_us", 0) / 1000 if w else None,
            "p99_ms": w.get("p99_us", 0) / 1000 if w else None,
            "p999_ms": w.get("p999_us", 0) / 1000 if w else None,
            "requests": req,
            "errors": (w.get("non2xx3xx", 0) + w.get("connect_err", 0) + w.get("read_err", 0)
                       + w.get("write_err", 0) + w.get("timeouts", 0)) if w else None,
            "proxy_cpu_s_per_10k": (r["cpu_s"] / req * 1e4) if (req and r.get("cpu_s") is not None
                                                                 and r["path"] != "direct") else None,
            "app_cpu_s_per_10k": (r["app_cpu_s"] / req * 1e4) if req else None,
            "proxy_peak_rss_mib": (r["hwm_kb"] / 1024) if (r.get("hwm_kb") and r["path"] != "direct") else None,
            "forwarded": r.get("forwarded"), "replayed": r.get("replayed"),
            "in_flight_409": r.get("in_flight"),
            "commits": r.get("commits"), "syncs": r.get("syncs"),
            "strace_syncs": r.get("strace_syncs"),
            "skipped": r.get("skipped", ""),
        }
        rows.append(row)
    fields = list(rows[0].keys()) if rows else []
    with open(os.path.join(outdir, "results.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields)
        wr.writeheader()
        for row in rows:
            wr.writerow({k: ("" if v is None else (round(v, 4) if isinstance(v, float) else v))
                         for k, v in row.items()})

    md = []
    md.append("| path | workload | conns | req/s | p50 ms | p99 ms | p99.9 ms | errors | proxy CPU s/10k | app CPU s/10k | proxy peak RSS MiB | fwd/replayed/409 |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for x in rows:
        if x["skipped"]:
            md.append(f"| {x['path']} | {x['workload']} | {x['conns']} | skipped: {x['skipped']} |||||||||")
            continue
        dd = "" if x["forwarded"] is None else f"{fmt(x['forwarded'])}/{fmt(x['replayed'])}/{fmt(x['in_flight_409'])}"
        md.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            x["path"], x["workload"], x["conns"], fmt(x["rps"]), fmt(x["p50_ms"], "{:.3f}"),
            fmt(x["p99_ms"], "{:.3f}"), fmt(x["p999_ms"], "{:.3f}"), fmt(x["errors"]),
            fmt(x["proxy_cpu_s_per_10k"], "{:.3f}", "-"), fmt(x["app_cpu_s_per_10k"], "{:.3f}"),
            fmt(x["proxy_peak_rss_mib"], "{:.1f}", "-"), dd or "-"))

    # Ratios per (workload, conns).
    idx = {(x["path"], x["workload"], x["conns"]): x for x in rows if not x["skipped"]}
    md.append("")
    md.append("| workload | conns | dedup ÷ nginx req/s | dedup p99 added over direct (ms) | nginx p99 added over direct (ms) | dedup CPU ÷ nginx CPU per req |")
    md.append("|---|---:|---:|---:|---:|---:|")
    seen = []
    for x in rows:
        k = (x["workload"], x["conns"])
        if x["skipped"] or k in seen:
            continue
        seen.append(k)
        d, n, dp = idx.get(("direct",) + k), idx.get(("nginx",) + k), idx.get(("dedup-rocksdb",) + k)
        ratio = dp["rps"] / n["rps"] if (dp and n and dp["rps"] and n["rps"]) else None
        add_d = dp["p99_ms"] - d["p99_ms"] if (dp and d and dp["p99_ms"] is not None) else None
        add_n = n["p99_ms"] - d["p99_ms"] if (n and d and n["p99_ms"] is not None) else None
        cpu = (dp["proxy_cpu_s_per_10k"] / n["proxy_cpu_s_per_10k"]
               if (dp and n and dp["proxy_cpu_s_per_10k"] and n["proxy_cpu_s_per_10k"]) else None)
        md.append(f"| {k[0]} | {k[1]} | {fmt(ratio, '{:.2f}')} | {fmt(add_d, '{:+.3f}')} | {fmt(add_n, '{:+.3f}')} | {fmt(cpu, '{:.2f}')} |")

    # fsyncs per commit (dedup, new-key 32 conns).
    md.append("")
    fs = "n/a"
    for x in rows:
        if x["path"] == "dedup-rocksdb" and x["workload"] == "newkey" and x["conns"] == 32:
            if x["syncs"] is not None and x["commits"]:
                fs = f"{x['syncs'] / x['commits']:.3f} ({fmt(x['syncs'])} syncs / {fmt(x['commits'])} commits, from /metrics)"
            elif x["strace_syncs"] is not None and x["forwarded"]:
                fs = f"{x['strace_syncs'] / x['forwarded']:.3f} ({x['strace_syncs']} fsync+fdatasync / {fmt(x['forwarded'])} forwarded, from strace)"
    md.append(f"fsyncs per commit (dedup-rocksdb, newkey, 32 conns): {fs}")
    text = "\n".join(md) + "\n"
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(text)
    # Chart data: one line per (workload,conns), columns direct nginx dedup req/s.
    with open(os.path.join(outdir, "chart.dat"), "w") as f:
        f.write("label direct nginx dedup\n")
        for k in seen:
            vals = [idx.get((p,) + k) for p in ("direct", "nginx", "dedup-rocksdb")]
            f.write(f"{k[0]}@{k[1]} " + " ".join(fmt(v["rps"] if v else None, "{:.0f}", "0") for v in vals) + "\n")
    sys.stdout.write(text)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport")
    for name in ("cputicks", "hwm"):
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
    r.add_argument("--app-cpu-before", type=int, default=0)
    r.add_argument("--app-cpu-after", type=int, default=0)
    r.add_argument("--hwm", type=int, default=0)
    r.add_argument("--metrics-before")
    r.add_argument("--metrics-after")
    r.add_argument("--strace-out")
    s = sub.add_parser("skip")
    s.add_argument("--raw", required=True)
    s.add_argument("--path", required=True)
    s.add_argument("--reason", required=True)
    rp = sub.add_parser("report")
    rp.add_argument("raw")
    rp.add_argument("outdir")
    a = p.parse_args()
    if a.cmd == "freeport":
        freeport()
    elif a.cmd == "cputicks":
        cputicks(a.pids)
    elif a.cmd == "hwm":
        hwm(a.pids)
    elif a.cmd == "record":
        record(a)
    elif a.cmd == "skip":
        with open(a.raw, "a") as f:
            f.write(json.dumps({"path": a.path, "workload": "*", "conns": 0, "skipped": a.reason}) + "\n")
    elif a.cmd == "report":
        report(a.raw, a.outdir)


if __name__ == "__main__":
    main()
