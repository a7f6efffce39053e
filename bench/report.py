#!/usr/bin/env python3
"""bench/report.py: turns bench/run's results.jsonl into docs/BENCHMARKS.md and its plots.

Only the standard library; the plots are made by gnuplot (bench/*.gp)."""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip()
    except Exception:  # noqa: BLE001 - a missing tool only leaves a blank
        return ""


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, (int,)) or (isinstance(v, float) and digits == 0):
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def write_feed_plot_data(datadir, feed, agg):
    """bench/feed.gp's data from the feed rows; False when there is nothing to plot."""
    last = {b: feed[("feed", b)][-1] for b in ("scylla", "sqlite") if feed.get(("feed", b))}
    if not last:
        return False

    def value(b, get):
        return str(get(last[b])) if b in last else "NaN"

    with open(os.path.join(datadir, "feed-delivery.dat"), "w") as f:
        for key in ("p50", "p95", "p99", "max"):
            f.write(f"{key} " + " ".join(value(b, lambda r: r["delivery"][key + "_ms"]) for b in ("scylla", "sqlite"))
                    + "\n")

    def on_off(b):
        on, off = feed.get(("feed-on", b), []), feed.get(("feed-off", b), [])
        r = paired(on, off, "ops_per_s") if on and off else None
        return "NaN" if r is None else str(r)

    with open(os.path.join(datadir, "feed-ratios.dat"), "w") as f:
        # Targets (issue 11): appends feed on/off >= 0.8 on the cluster (0.9 on SQLite, against the build
        # before the feed, which one run cannot measure); catch-up subscription / paged read >= 0.9.
        f.write('"appends on / off" ' + f"{on_off('scylla')} {on_off('sqlite')} 0.8\n")
        f.write('"catch-up: subscription / read" '
                + " ".join(value(b, lambda r: r["subscription_to_paged"]) for b in ("scylla", "sqlite")) + " 0.9\n")
    return True


def paired(a, b, key):
    """a / b for runs that alternated: the median of the ratios of the runs made back to back (the
    i-th run of each list belong to one repetition), which a node still warming up moves far less
    than the ratio of the two medians; that ratio when the lists do not pair."""
    if a and len(a) == len(b):
        rs = [x[key] / y[key] for x, y in zip(a, b) if x.get(key) is not None and y.get(key)]
        if rs:
            return median(rs)
    return ratio(median([r.get(key) for r in a]), median([r.get(key) for r in b]))


def replay_over_raw(load):
    """[(events, load median / raw read median)] at the load's own page size, where both were measured."""
    out = []
    for n in sorted({p["events"] for p in load["points"]}):
        at = [p for p in load["points"] if p["events"] == n and not p["snapshots"]
              and p.get("page_size", load["page_size"]) == load["page_size"]]
        store = next((p["median_ms"] for p in at if not p.get("raw")), None)
        raw = next((p["median_ms"] for p in at if p.get("raw")), None)
        r = ratio(store, raw)
        if r:
            out.append((n, r))
    return out


def machine():
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    model = sh("lscpu | sed -n 's/^Model name: *//p' | head -n1") or platform.processor()
    return {
        "nproc": sh("nproc"),
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "cpu": model,
        "kernel": platform.release(),
        "os": sh(". /etc/os-release && echo \"$PRETTY_NAME\""),
        "compiler": sh("c++ --version | head -n1"),
        "rustc": sh("rustc --version"),
        "sqlite": sh("pkg-config --modversion sqlite3"),
        "fs": sh("df -T . | awk 'NR==2{print $2}'"),
        "load": sh("cut -d' ' -f1-3 /proc/loadavg"),
    }


def cassandra_settings():
    conf = os.path.join(ROOT, "build/cassandra/node1/conf")
    out = {}
    yaml = os.path.join(conf, "cassandra.yaml")
    if os.path.exists(yaml):
        keys = ["commitlog_sync", "commitlog_sync_period", "paxos_variant", "concurrent_compactors",
                "write_request_timeout", "cas_contention_timeout", "batch_size_fail_threshold"]
        with open(yaml) as f:
            for line in f:
                m = re.match(r"^([a-z_]+):\s*(\S.*)$", line)
                if m and m.group(1) in keys:
                    out[m.group(1)] = m.group(2)
    cmd = os.path.join(conf, "command.sh")
    if os.path.exists(cmd):
        with open(cmd) as f:
            text = f.read()
        flags = [t for t in text.split() if t.startswith("-Xm") or t.startswith("-XX:+Use")]
        out["jvm"] = " ".join(sorted(set(flags)))
    mode = os.path.join(ROOT, "build/cassandra/mode")
    if os.path.exists(mode):
        with open(mode) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k in ("nodes", "version"):
                    out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    for name in ("results", "commands", "doc", "plots", "eventstore", "elapsed", "quick", "duration", "warmup",
                 "repeats", "keyspace", "rf", "started-cluster"):
        ap.add_argument("--" + name, required=True)
    a = ap.parse_args()

    rows = [json.loads(line) for line in open(a.results) if line.strip()]
    curve = defaultdict(list)  # (backend, target, concurrency) -> [rows]
    blocking = defaultdict(list)  # SQLite store through the blocking API: concurrency -> [rows]
    other = defaultdict(list)  # (label, backend, target) -> [rows]
    loads = {}
    feed = defaultdict(list)  # (label, backend) -> [rows]: bench feed, and appends with the feed on/off
    sink_runs = defaultdict(list)  # (label, backend) -> [rows]: appends with a metrics sink and without
    for r in rows:
        if r["label"] == "curve":
            curve[(r["backend"], r["target"], r["concurrency"])].append(r)
        elif r["label"] == "seed":  # the raw loop in the seed library's statement shape
            curve[(r["backend"], "seed", r["concurrency"])].append(r)
        elif r["label"] == "blocking":
            blocking[r["concurrency"]].append(r)
        elif r["label"] == "load":
            loads[r["backend"]] = r
        elif r["label"] in ("metrics-none", "metrics-sink"):
            sink_runs[(r["label"], r["backend"])].append(r)
        elif r["label"] in ("feed", "feed-on", "feed-off"):
            feed[(r["label"], r["backend"])].append(r)
        else:
            other[(r["label"], r["backend"], r["target"])].append(r)

    backends = [b for b in ("scylla", "sqlite") if any(k[0] == b for k in curve)]
    names = {"scylla": "Cluster (Cassandra 5.0, one node)", "sqlite": "SQLite (WAL, synchronous=NORMAL)"}

    def agg(rs, key):
        return median([r.get(key) for r in rs])

    # ---- data files and plots
    os.makedirs(a.plots, exist_ok=True)
    datadir = os.path.join(os.path.dirname(a.results), "plotdata")
    os.makedirs(datadir, exist_ok=True)
    for b in ("scylla", "sqlite"):
        with open(os.path.join(datadir, f"curve-{b}.dat"), "w") as f:
            for c in sorted({k[2] for k in curve if k[0] == b}):
                s, w = curve.get((b, "store", c), []), curve.get((b, "raw", c), [])
                vals = [agg(s, "ops_per_s"), agg(w, "ops_per_s"), agg(s, "p99_ms"), agg(w, "p99_ms")]
                f.write(f"{c} " + " ".join("NaN" if v is None else str(v) for v in vals) + "\n")
        with open(os.path.join(datadir, f"load-{b}.dat"), "w") as f:
            if b in loads:
                pts = loads[b]["points"]
                for n in sorted({p["events"] for p in pts}):
                    off = next(p for p in pts if p["events"] == n and not p["snapshots"] and not p.get("raw"))
                    on = next(p for p in pts if p["events"] == n and p["snapshots"])
                    f.write(f"{n} {off['median_ms']} {on['median_ms']} {off['p95_ms']} {on['p95_ms']}\n")
    feed_plot = write_feed_plot_data(datadir, feed, agg)
    plots = {}
    if shutil.which("gnuplot"):
        scripts = [("throughput.png", "throughput.gp"), ("load.png", "load.gp")]
        if feed_plot:
            scripts.append(("feed.png", "feed.gp"))
        for name, script in scripts:
            out = os.path.join(a.plots, name)
            p = subprocess.run(["gnuplot", "-e", f"datadir='{datadir}'; out='{out}'",
                                os.path.join(ROOT, "bench", script)], capture_output=True, text=True)
            if p.returncode == 0:
                plots[name] = os.path.relpath(out, os.path.dirname(os.path.abspath(a.doc)))
            else:
                print("report: gnuplot failed:", p.stderr.strip())

    # ---- targets
    targets = []
    if "scylla" in backends:
        worst_tp, worst_cpu = None, None
        for c in sorted({k[2] for k in curve if k[0] == "scylla"}):
            s, w = curve.get(("scylla", "store", c), []), curve.get(("scylla", "raw", c), [])
            t = paired(s, w, "ops_per_s")
            u = paired(s, w, "cpu_us_per_op")
            if t is not None and (worst_tp is None or t < worst_tp[0]):
                worst_tp = (t, c)
            if u is not None and (worst_cpu is None or u > worst_cpu[0]):
                worst_cpu = (u, c)
        if worst_tp:
            targets.append(("Cluster appends: store / raw throughput, every concurrency", ">= 0.95",
                            f"{worst_tp[0]:.2f} (lowest, at {worst_tp[1]} in flight)", worst_tp[0] >= 0.95))
        if worst_cpu:
            targets.append(("Cluster appends: store / raw client CPU per append", "<= 1.10",
                            f"{worst_cpu[0]:.2f} (highest, at {worst_cpu[1]} in flight)", worst_cpu[0] <= 1.10))
        seed_points = sorted(c for (b, t, c) in curve if b == "scylla" and t == "seed")
        if seed_points:
            tp = [(paired(curve[("scylla", "store", c)], curve[("scylla", "seed", c)], "ops_per_s"),
                   c) for c in seed_points if ("scylla", "store", c) in curve]
            tp = [x for x in tp if x[0] is not None]
            if tp:
                low = min(tp)
                targets.append(("Cluster appends: store / seed-shape raw loop throughput, every concurrency", ">= 1.0",
                                f"{low[0]:.2f} (lowest, at {low[1]} in flight)", low[0] >= 1.0))
            at = 64 if 64 in seed_points else seed_points[len(seed_points) // 2]
            s, d = curve.get(("scylla", "store", at), []), curve.get(("scylla", "seed", at), [])
            srv = paired(s, d, "server_cpu_us_per_op")
            if srv is not None:
                targets.append((f"Cluster appends: server CPU per append, store / seed shape at {at} in flight",
                                "<= 1.0", f"{srv:.2f}", srv <= 1.0))
            p99 = paired(s, d, "p99_ms")
            if p99 is not None:
                targets.append((f"Cluster appends: p99, store / seed shape at {at} in flight", "<= 1.0",
                                f"{p99:.2f}", p99 <= 1.0))
    for b in backends:
        top = max((k[2] for k in curve if k[0] == b), default=None)
        s = curve.get((b, "store", top), [])
        if s:
            mif = max(r["max_in_flight"] for r in s)
            thr = max(r["threads"] for r in s)
            targets.append((f"{names[b].split(' (')[0]}: one client thread keeps {top} appends in flight",
                            f"{top} in flight", f"max {mif}, mean {agg(s, 'mean_in_flight'):.0f}; process threads {thr}",
                            mif >= top))
    for b in backends:
        if b in loads:
            pts = loads[b]["points"]
            lens = sorted({p["events"] for p in pts})
            small = 100 if 100 in lens else lens[0]
            big = max(lens)
            on_small = next(p for p in pts if p["events"] == small and p["snapshots"])["median_ms"]
            on_big = next(p for p in pts if p["events"] == big and p["snapshots"])["median_ms"]
            r = ratio(on_big, on_small)
            targets.append((f"{names[b].split(' (')[0]}: load with snapshots, {big:,} / {small} events", "<= 2",
                            f"{r:.2f}" if r else "–", r is not None and r <= 2))
    if "scylla" in loads:
        ceiling = dict(replay_over_raw(loads["scylla"]))
        n = 10000 if 10000 in ceiling else max(ceiling, default=None)
        if n:
            targets.append((f"Cluster: full replay of {n:,} events, `AggregateStore::load` / raw paged read",
                            "<= 1.1", f"{ceiling[n]:.2f}", ceiling[n] <= 1.1))
    if "sqlite" in backends:
        # 1 in flight: the raw loop is one thread making blocking calls; the store's like of it is
        # one thread calling append(). 16 in flight: the store from one thread, asynchronously.
        for c, op, want in ((1, ">=", 1.0), (16, ">", 1.0)):
            s, w = curve.get(("sqlite", "store", c), []), curve.get(("sqlite", "raw", c), [])
            r_async = paired(s, w, "ops_per_s")
            r_blocking = paired(blocking.get(c, []), w, "ops_per_s")
            r = r_blocking if c == 1 else r_async
            if r is None:
                continue
            ok = r >= want if op == ">=" else r > want
            if c == 1:
                got = f"{r:.2f} (one thread calling `append()`; asynchronously from one thread: {r_async:.2f})"
                name = "SQLite appends: store / raw loop at 1 in flight (one thread, blocking calls)"
            else:
                got = f"{r:.2f}" + (f" (16 threads calling `append()`: {r_blocking:.2f})" if r_blocking else "")
                name = f"SQLite appends: store / raw loop at {c} in flight (one client thread, asynchronous)"
            targets.append((name, f"{op} 1", got, ok))

    for b in backends:
        on, off = sink_runs.get(("metrics-sink", b), []), sink_runs.get(("metrics-none", b), [])
        cpu = paired(on, off, "cpu_us_per_op")
        if cpu is not None:
            targets.append((f"{names[b].split(' (')[0]}: client CPU per append with a metrics sink / without",
                            "<= 1.03", f"{cpu:.3f}", cpu <= 1.03))
    m = machine()
    load_file = os.path.join(os.path.dirname(a.results), "loadavg-start")
    load_start = open(load_file).read().strip() if os.path.exists(load_file) else "?"
    cs = cassandra_settings() if "scylla" in backends else {}
    commit_file = os.path.join(os.path.dirname(a.results), "commit")
    if os.path.exists(commit_file):  # recorded by bench/run when the run started
        commit, _, state = open(commit_file).read().strip().partition("\n")
        dirty = " (with uncommitted changes)" if state.strip() == "dirty" else ""
    else:
        commit = sh("git rev-parse --short HEAD")
        dirty = " (with uncommitted changes)" if sh("git status --porcelain -- src include tools rust") else ""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = []
    w = L.append
    w("# Benchmarks")
    w("")
    w("<!-- Generated by bench/run (make bench); edit bench/report.py or bench/analysis.md, not this file. -->")
    w("")
    w(f"Generated {now} by `{'make bench-quick' if a.quick == '1' else 'make bench'}` at commit `{commit}`{dirty}, "
      f"in {int(a.elapsed) // 60} min {int(a.elapsed) % 60} s. Every number below comes from that one run: "
      "the store and its ceiling were measured side by side, interleaved, on the same machine and server. "
      "Quote the **ratios**; absolute figures move with the machine.")
    w("")
    w("## Targets")
    w("")
    w("| target | wanted | this run | |")
    w("|---|---|---|---|")
    for name, want, got, ok in targets:
        w(f"| {name} | {want} | {got} | {'met' if ok else '**missed**'} |")
    w("")
    analysis = os.path.join(ROOT, "bench", "analysis.md")
    if os.path.exists(analysis):
        w(open(analysis).read().strip())
        w("")
    w("## Machine and servers")
    w("")
    w(f"- Machine: {m['nproc']} vCPUs ({m['cpu']}), {m['memory']} RAM, {m['os']}, Linux {m['kernel']}, "
      f"{m['fs']} file system; load average (1, 5, 15 min) at the start of the run: {load_start}, at the end: {m['load']}.")
    cache = os.path.join(os.path.dirname(os.path.dirname(a.eventstore)), "CMakeCache.txt")
    build_type = sh(f"sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' '{cache}'") or "?"
    w(f"- Client: `eventstore` built {build_type} with {m['compiler']}; "
      f"Rust bridge with {m['rustc']} (release profile); SQLite {m['sqlite']} (Debian).")
    if cs:
        w(f"- Cluster: Apache Cassandra {cs.get('version', '?')} ({cs.get('nodes', '?')} node(s), "
          f"scripts/local-cassandra) on the same machine as the client: {cs.get('jvm', '')}; "
          f"commitlog_sync {cs.get('commitlog_sync', '?')} ({cs.get('commitlog_sync_period', '?')}), "
          f"paxos_variant {cs.get('paxos_variant', '?')}, write_request_timeout {cs.get('write_request_timeout', '?')}, "
          f"cas_contention_timeout {cs.get('cas_contention_timeout', '?')}. Keyspace `{a.keyspace}`, "
          f"replication factor {a.rf}; the store's consistency QUORUM / SERIAL (with one replica: one node). "
          "Full settings: docs/local-cluster.md.")
    elif "scylla" in backends:
        w(f"- Cluster: `SCYLLA_HOSTS={os.environ.get('SCYLLA_HOSTS', '?')}`, keyspace `{a.keyspace}`.")
    warm_file = os.path.join(os.path.dirname(a.results), "server-warmup")
    if "scylla" in backends and os.path.exists(warm_file):
        warm_s, up_s = (open(warm_file).read().split() + ["?", "?"])[:2]
        w(f"- Before the first cluster measurement: {warm_s} s of appends at 64 in flight (a fresh node's cost per "
          f"append falls for over an hour: bench/analysis.md, \"The local node\"); the node had been up {up_s} s "
          "when the measurements began.")
    if "sqlite" in backends:
        w("- SQLite: a fresh file per run in the results directory, WAL mode, `synchronous=NORMAL` (the store's "
          "default: an acknowledged append survives a process crash), busy_timeout 5000 ms.")
    w("")
    w("## Method")
    w("")
    w(f"- Each point is its own `eventstore bench` process: {a.warmup} s warm-up, then {a.duration} s measured; "
      f"{a.repeats} run(s) per point, store and raw alternating which goes first; the tables show the median of "
      "the runs' figures, and each ratio is the median of the ratios of the runs made back to back in each "
      "repetition (a node still warming up moves that far less than the ratio of two medians).")
    w("- **One client thread** issues every request with the asynchronous API (`EventStore::append_async`; raw: "
      "the bridge call with a function-pointer completion). Completions are handed back to that thread, which "
      "records the latency (issue to callback) and issues the next request. No thread per request: the `threads` "
      "column is the whole process (the client thread, the driver's tokio workers or the SQLite writer).")
    w("- **Blocking** (`--blocking`, SQLite at 1 and 16 in flight): N threads each calling the store's blocking "
      "`append()` in a loop, the form of the raw loop.")
    w("- **SQLite store**: commits groups of queued appends in one transaction; WAL checkpoints run on a thread "
      "of their own instead of inside a commit (docs/sqlite.md). The raw loop uses SQLite's defaults: "
      "automatic checkpoints inside the commit that crosses 1,000 WAL pages.")
    w(f"- Appends: one event of 100 bytes of JSON, to {1000} streams, at most one append in flight per stream, "
      "with the exact expected version the bench tracks per stream (so conflicts must be 0).")
    w("- `cpu µs/op` = getrusage(RUSAGE_SELF) user + system time of the whole client process during the "
      "measured window, divided by the appends completed in it. `server µs/op` (cluster, local node only): the "
      "Cassandra process's user + system time from /proc over the same window, divided likewise (`--server-pid`); "
      "it includes the node's background work (flushes, compactions) of that window.")
    w("- **Cluster raw** (`--raw`): the same prepared conditional batch (`UPDATE stream_version ... IF` + "
      "`INSERT ... IF NOT EXISTS`) and the same paged read, through the same Rust bridge session "
      "(`tools/eventstore/bench_scylla_raw.cc`, not in libeventstore), without the store: no validation, no "
      "`Result`/`std::function` callbacks, no retry logic. The raw client still draws a random event id and "
      "a timestamp per event, like any writer must.")
    w("- **SQLite raw** (`--raw`): a plain loop over sqlite3 with the store's file, schema, statements and "
      "pragmas: `BEGIN IMMEDIATE`, the head query, one `INSERT` per event, `COMMIT`. SQLite calls block, so N "
      "in flight = N threads with one connection each (1 in flight = a single-threaded loop).")
    w("")
    for b in backends:
        w(f"## Appends by concurrency: {names[b]}")
        w("")
        w("| in flight | store appends/s | raw appends/s | store / raw | store p50 ms | store p99 ms | raw p99 ms "
          "| store cpu µs/op | raw cpu µs/op | cpu store / raw | cores busy store / raw | store max in flight "
          "| store threads | errors store / raw |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for c in sorted({k[2] for k in curve if k[0] == b}):
            s, r = curve.get((b, "store", c), []), curve.get((b, "raw", c), [])
            errs = "/".join(str(sum(sum(x["errors"].values()) + x["conflicts"] for x in side)) for side in (s, r))
            w(f"| {c} | {fmt(agg(s, 'ops_per_s'), 0)} | {fmt(agg(r, 'ops_per_s'), 0)} "
              f"| {fmt(paired(s, r, 'ops_per_s'), 2)} | {fmt(agg(s, 'p50_ms'), 2)} "
              f"| {fmt(agg(s, 'p99_ms'), 2)} | {fmt(agg(r, 'p99_ms'), 2)} | {fmt(agg(s, 'cpu_us_per_op'), 1)} "
              f"| {fmt(agg(r, 'cpu_us_per_op'), 1)} | {fmt(paired(s, r, 'cpu_us_per_op'), 2)} "
              f"| {fmt(agg(s, 'cpu_cores'), 2)} / {fmt(agg(r, 'cpu_cores'), 2)} "
              f"| {max((x['max_in_flight'] for x in s), default=0)} | {max((x['threads'] for x in s), default=0)} | {errs} |")
        runs = [x for k, v in curve.items() if k[0] == b for x in v]
        spread = []
        for k, v in curve.items():
            if k[0] == b and len(v) > 1:
                vals = [x["ops_per_s"] for x in v]
                spread.append((max(vals) - min(vals)) / statistics.median(vals))
        if spread:
            w("")
            w(f"Run-to-run spread of appends/s between the {a.repeats} runs of a point: median "
              f"{100 * statistics.median(spread):.0f}%, largest {100 * max(spread):.0f}%. Peak RSS of the client: "
              f"{min(x['peak_rss_mb'] for x in runs):.0f}–{max(x['peak_rss_mb'] for x in runs):.0f} MB.")
        w("")
    seed_points = sorted(c for (b, t, c) in curve if b == "scylla" and t == "seed")
    if seed_points:
        w("## What an append costs the server: the store against the seed library's statements")
        w("")
        w("The same appends three ways, alternating: the store; the raw loop with the store's batch (`UPDATE "
          "stream_version ... IF` + `INSERT ... IF NOT EXISTS`); and the raw loop with the seed library's "
          "(`--shape seed`: one `INSERT ... IF NOT EXISTS` per event, no static column, which keeps none of the "
          "store's guarantees: it writes gaps when its expected version is ahead). `server µs/op` is the "
          "Cassandra process's user + system CPU time (/proc) over the measured window, divided by the appends "
          "completed in it (`bench --server-pid`); the client runs on the same 2 cores.")
        w("")
        w("| in flight | store appends/s | raw | seed shape | store / seed | store p99 ms | seed p99 ms "
          "| server µs/op store | raw | seed shape | server store / seed |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for c in seed_points:
            s, r, d = (curve.get(("scylla", t, c), []) for t in ("store", "raw", "seed"))
            w(f"| {c} | {fmt(agg(s, 'ops_per_s'), 0)} | {fmt(agg(r, 'ops_per_s'), 0)} | {fmt(agg(d, 'ops_per_s'), 0)} "
              f"| {fmt(paired(s, d, 'ops_per_s'), 2)} | {fmt(agg(s, 'p99_ms'), 2)} "
              f"| {fmt(agg(d, 'p99_ms'), 2)} | {fmt(agg(s, 'server_cpu_us_per_op'), 0)} "
              f"| {fmt(agg(r, 'server_cpu_us_per_op'), 0)} | {fmt(agg(d, 'server_cpu_us_per_op'), 0)} "
              f"| {fmt(paired(s, d, 'server_cpu_us_per_op'), 2)} |")
        w("")
    if blocking:
        w("## SQLite through the blocking API")
        w("")
        w("N threads, each calling `append()` in a loop, against the raw loop's N threads and the store "
          "driven asynchronously from one thread (the table above).")
        w("")
        w("| threads = in flight | blocking appends/s | raw appends/s | blocking / raw | async / raw "
          "| blocking p99 ms | blocking cpu µs/op | raw cpu µs/op |")
        w("|---|---|---|---|---|---|---|---|")
        for c in sorted(blocking):
            k, r, s = blocking[c], curve.get(("sqlite", "raw", c), []), curve.get(("sqlite", "store", c), [])
            w(f"| {c} | {fmt(agg(k, 'ops_per_s'), 0)} | {fmt(agg(r, 'ops_per_s'), 0)} "
              f"| {fmt(paired(k, r, 'ops_per_s'), 2)} "
              f"| {fmt(paired(s, r, 'ops_per_s'), 2)} | {fmt(agg(k, 'p99_ms'), 2)} "
              f"| {fmt(agg(k, 'cpu_us_per_op'), 1)} | {fmt(agg(r, 'cpu_us_per_op'), 1)} |")
        w("")
    if "throughput.png" in plots:
        w(f"![appends/s and p99 latency vs appends in flight]({plots['throughput.png']})")
        w("")
    extra = [(k, v) for k, v in other.items()]
    if extra:
        w("## Other mixes (store vs raw)")
        w("")
        w("| mix | backend | target | ops/s | events/s | p50 ms | p99 ms | cpu µs/op | cores busy | errors |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        desc = {"mixed": "50% appends, 50% reads of the latest 10 events; 16 in flight",
                "batch": "10 events (100 B each) per append; 64 in flight"}
        for (label, b, t), v in sorted(extra):
            errs = sum(sum(x["errors"].values()) + x["conflicts"] for x in v)
            w(f"| {desc.get(label, label)} | {b} | {t} | {fmt(agg(v, 'ops_per_s'), 0)} | {fmt(agg(v, 'events_per_s'), 0)} "
              f"| {fmt(agg(v, 'p50_ms'), 2)} | {fmt(agg(v, 'p99_ms'), 2)} | {fmt(agg(v, 'cpu_us_per_op'), 1)} "
              f"| {fmt(agg(v, 'cpu_cores'), 2)} | {errs} |")
        w("")
    if sink_runs:
        w("## The cost of a metrics sink")
        w("")
        w("Appends at 64 in flight with `--metrics` (the store opened with a `PrometheusMetrics` sink that "
          "aggregates every metric of docs/observability.md, not served) against none, alternating which goes "
          "first; the medians of the runs.")
        w("")
        w("| backend | appends/s with / without | client cpu µs/op with | without | with / without | p99 ms with "
          "| without |")
        w("|---|---|---|---|---|---|---|")
        for b in backends:
            on, off = sink_runs.get(("metrics-sink", b), []), sink_runs.get(("metrics-none", b), [])
            if not on or not off:
                continue
            w(f"| {b} | {fmt(paired(on, off, 'ops_per_s'), 3)} "
              f"| {fmt(agg(on, 'cpu_us_per_op'), 1)} | {fmt(agg(off, 'cpu_us_per_op'), 1)} "
              f"| {fmt(paired(on, off, 'cpu_us_per_op'), 3)} | {fmt(agg(on, 'p99_ms'), 2)} "
              f"| {fmt(agg(off, 'p99_ms'), 2)} |")
        w("")
    if feed:
        w("## The feed")
        w("")
        w("`bench feed` (docs/feed.md): the append ceiling of 64 blocking appenders, then a live "
          "Subscription's delay from each append's acknowledgement to its delivery while one thread appends "
          "at half that ceiling, then a Subscription reading the whole context against the store's paged "
          "feed read of it (A-B-B-A twice; on a cluster a relay runs in-process). On the cluster, appends at "
          "64 in flight with the feed's markers against `feed=false`, alternating.")
        w("")
        w("| backend | appends feed on / off | ceiling events/s | delivery at events/s | delivery p50 ms | p99 ms | max ms "
          "| missing | catch-up subscription / paged |")
        w("|---|---|---|---|---|---|---|---|---|")
        for b in ("scylla", "sqlite"):
            runs = feed.get(("feed", b))
            if not runs:
                continue
            on, off = feed.get(("feed-on", b), []), feed.get(("feed-off", b), [])
            onoff = fmt(paired(on, off, "ops_per_s"), 2) if on and off else "n/a (always on)"
            r = runs[-1]
            d = r["delivery"]
            w(f"| {b} | {onoff} | {fmt(r['ceiling_events_per_s'], 0)} | {fmt(r['rate_events_per_s'], 0)} "
              f"| {fmt(d['p50_ms'], 1)} | {fmt(d['p99_ms'], 1)} | {fmt(d['max_ms'], 1)} | {r['missing']} "
              f"| {fmt(r['subscription_to_paged'], 2)} |")
        w("")
        if "feed.png" in plots:
            w(f"![feed delivery delay by percentile, and the feed's ratios against their targets]({plots['feed.png']})")
            w("")
    if loads:
        any_load = next(iter(loads.values()))
        w("## Aggregate load time by stream length")
        w("")
        w(f"`AggregateStore::load` of a counter aggregate (one event type, {any_load['event_size']}-byte events, "
          f"pages of {any_load['page_size']} events). *Snapshots off*: the aggregate type has no JSON conversion, "
          "so the store replays the whole stream. *Snapshots on*: the same stream, with the snapshot the "
          f"`every_n_events({any_load['snapshot_every']})` policy leaves (at the last multiple of "
          f"{any_load['snapshot_every']}), so a load reads the snapshot and replays the tail after it. "
          f"{any_load['snapshot_every']} rather than the library default 100 so that every length has a tail to "
          "replay (a multiple of 100 would leave none). Each point: one untimed load, then up to the repeats "
          "shown, the two modes alternating.")
        w("")
        for b in ("scylla", "sqlite"):
            if b not in loads:
                continue
            w(f"**{names[b]}** (streams filled in {loads[b]['fill_s']:.1f} s)")
            w("")
            w("| events | snapshots | events replayed | page | loads | median ms | p95 ms |")
            w("|---|---|---|---|---|---|---|")
            for p in loads[b]["points"]:
                mode = "raw paged read" if p.get("raw") else "on" if p["snapshots"] else "off"
                w(f"| {p['events']:,} | {mode} | {p['replayed']:,} "
                  f"| {p.get('page_size', loads[b]['page_size']):,} | {p['loads']} "
                  f"| {p['median_ms']:.3f} | {p['p95_ms']:.3f} |")
            w("")
            full = [p for p in loads[b]["points"] if not p["snapshots"] and not p.get("raw")]
            pages = sorted({p.get("page_size", loads[b]["page_size"]) for p in full})
            if len(pages) == 2:
                per_length = []
                for n in sorted({p["events"] for p in full}):
                    by_page = {p.get("page_size"): p["median_ms"] for p in full if p["events"] == n}
                    r = ratio(by_page.get(loads[b]["page_size"]), by_page.get(next(x for x in pages if x != loads[b]["page_size"])))
                    per_length.append(f"{n:,}: {r:.2f}" if r else f"{n:,}: –")
                other = next(x for x in pages if x != loads[b]["page_size"])
                w(f"Full replay with pages of {loads[b]['page_size']:,} / pages of {other:,} (median, the two "
                  f"alternating A-B-B-A): {'; '.join(per_length)}.")
                w("")
            ceiling = replay_over_raw(loads[b])
            if ceiling:
                w("Full replay, `AggregateStore::load` / the raw paged read of the same rows through the driver "
                  "bridge (same page size, no decoding or apply; median, alternating): "
                  + "; ".join(f"{n:,}: {r:.2f}" for n, r in ceiling) + ".")
                w("")
        if "load.png" in plots:
            w(f"![load time vs stream length]({plots['load.png']})")
            w("")
    w("## Exact commands")
    w("")
    w("Regenerate everything (builds, starts a local Cassandra node unless `SCYLLA_HOSTS` is set or one runs, "
      "stops it after if it started it):")
    w("")
    w("```sh")
    w("make bench          # this file and docs/bench/*.png; about 35 minutes")
    w("make bench-quick    # a sanity run in under 3 minutes; writes build/bench/quick/BENCHMARKS.md")
    w("```")
    w("")
    w("The runs, in order (`eventstore` is `build/bin/eventstore`; the cluster URI comes from the "
      "`SCYLLA_*` variables; each prints one JSON line with `--json`, collected in the results file):")
    w("")
    w("```sh")
    with open(a.commands) as f:
        cmds = [c.strip() for c in f if c.strip()]
    seen = []
    for c in cmds:
        c = re.sub(r"sqlite:\S*/run-\d+\.db", "sqlite:RUN.db", c)
        if c not in seen:
            seen.append(c)
    for c in seen:
        w(c + " --json")
    w("```")
    w("")
    with open(a.doc, "w") as f:
        f.write("\n".join(L))
    print(f"report: {len(rows)} results -> {a.doc}")


if __name__ == "__main__":
    main()
