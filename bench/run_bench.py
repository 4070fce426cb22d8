#!/usr/bin/env python3
"""Side-by-side benchmark of both seed queries: nethunt (release build) vs DuckDB, chDB and
DataFusion-python running the peer SQL from ../shared/peers over the same Parquet files.

  python3 bench/run_bench.py [--rows 1000000,10000000] [--huge] [--runs 5] [--memory-limit SIZE]
                             [--nethunt BIN] [--peers DIR] [--work DIR] [--engines ...]

It creates bench/.venv with duckdb, chdb, datafusion and pyarrow on first use and re-runs itself
there. For each size it generates a lake with `nethunt generate` (realistic cardinalities: about
N/8 public IPs and N/50 registrable domains), flattens it to one sessions.parquet (the peers read
one file) plus domains.parquet, checks that every engine returns the same rows as nethunt (the
normalisation of bench/compare_peers.py), and only then times: one warm-up per engine, then
--runs rounds, the engines in rotating order within each round. Every measurement is a fresh
process, so peak RSS (from wait4) is per engine and per run. Times: the peers' query time is
measured inside their process (import and connect excluded); nethunt's is the time it reports
itself (table registration, footer reads, planning, execution, output); process wall time is
also recorded. Results go to bench/RESULTS.md, with the UDF micro-benchmarks from criterion
(`cargo bench --workspace --bench kernels`) when their estimates exist.
"""
import argparse
import datetime as dt
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUERIES = ["non_standard_ports", "uncommon_domains"]
PEERS = ["duckdb", "chdb", "datafusion"]


def ensure_venv():
    venv = os.path.join(HERE, ".venv")
    py = os.path.join(venv, "bin", "python")
    try:
        import chdb, datafusion, duckdb, pyarrow  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.abspath(sys.executable) == os.path.abspath(py):
        sys.exit("bench/.venv lacks duckdb/chdb/datafusion/pyarrow")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "-q", "duckdb", "chdb", "datafusion", "pyarrow"])
    os.execv(py, [py] + sys.argv)


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def default_nethunt():
    return os.path.join(target_dir(), "release", "nethunt")


# ---------------------------------------------------------------------------------------------
# worker mode: run one peer query once in this process and report its time


def worker(engine, query, data, peers):
    sys.path.insert(0, peers)
    import run_peers

    sql = open(os.path.join(peers, f"{query}.{engine}.sql"), encoding="utf-8").read()
    os.chdir(data)
    t = time.perf_counter()
    tbl = run_peers.RUNNERS[engine](sql, data)
    el = time.perf_counter() - t
    print(json.dumps({"seconds": el, "rows": tbl.num_rows, "rss": vm_hwm()}))


def vm_hwm():
    """Peak RSS of this process's own address space. getrusage's ru_maxrss is no good here: a
    forked child starts with the parent's high-water mark."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def measure(cmd):
    """Run cmd; return (stdout, stderr, wall seconds, ru_maxrss bytes). The engines report their
    own peak RSS (VmHWM); ru_maxrss is kept only as a cross-check."""
    import tempfile

    with tempfile.TemporaryFile() as errf:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf)
        out = p.stdout.read()  # stderr goes to a file, so this read cannot deadlock
        _, status, ru = os.wait4(p.pid, 0)  # reap ourselves to get this child's own rusage
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed ({p.returncode}): {err[-500:]}")
    return out.decode(), err, wall, ru.ru_maxrss * 1024


def run_engine(engine, query, data, args, extra=()):
    if engine == "nethunt":
        cmd = [args.nethunt, "--stats", "run", query, "--data", os.path.join(data, "sessions.parquet"),
               "--domains", os.path.join(data, "domains.parquet"), "--format", "parquet",
               "--output", os.path.join(data, f"{query}.nethunt.parquet"), *extra]
        if args.memory_limit:
            cmd += ["--memory-limit", args.memory_limit]
        out, err, wall, _ = measure(cmd)
        m = re.search(r"(\d+) rows? written to .* in ([0-9.]+)s", err)
        r = re.search(r"peak_rss_bytes=(\d+)", err)
        if not m or not r:
            raise RuntimeError(f"unexpected nethunt stderr: {err}")
        return {"seconds": float(m.group(2)), "rows": int(m.group(1)), "wall": wall, "rss": int(r.group(1))}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, query, data, "--peers", args.peers]
    out, err, wall, _ = measure(cmd)
    r = json.loads(out.strip().splitlines()[-1])
    r.update(wall=wall)
    return r


# ---------------------------------------------------------------------------------------------


def prepare(rows, args):
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = os.path.join(args.work, f"rows-{rows}")
    sessions = os.path.join(d, "sessions.parquet")
    if os.path.exists(sessions) and os.path.exists(os.path.join(d, "domains.parquet")):
        return d
    os.makedirs(d, exist_ok=True)
    days = max(1, rows // 2_000_000)
    lake = os.path.join(d, "lake")
    # A finished generation (every day's file, then the list) is reused; each file is written
    # atomically, so a killed one leaves fewer files and is redone.
    done = len(glob.glob(os.path.join(lake, "*", "*.parquet"))) == days and os.path.exists(os.path.join(d, "top.csv"))
    if not done:
        subprocess.check_call([args.nethunt, "--quiet", "generate", "--rows", str(rows), "--days", str(days),
                               "--seed", "1", "--out", lake, "--domains-out", os.path.join(d, "top.csv")])
    files = sorted(glob.glob(os.path.join(lake, "*", "*.parquet")))
    schema = pq.read_schema(files[0])
    with pq.ParquetWriter(sessions + ".partial", schema, compression="zstd") as w:
        for f in files:
            pf = pq.ParquetFile(f)
            for i in range(pf.num_row_groups):
                w.write_table(pf.read_row_group(i), row_group_size=128 * 1024)
    os.replace(sessions + ".partial", sessions)
    domains = [line.split(",", 1)[1] for line in open(os.path.join(d, "top.csv"), encoding="utf-8").read().splitlines()]
    pq.write_table(pa.table({"Domain": pa.array(domains, pa.string())}), os.path.join(d, "domains.parquet"))
    return d


def check_answers(d, args):
    sys.path.insert(0, args.peers)
    sys.path.insert(0, HERE)
    import pyarrow.parquet as pq
    import run_peers
    from compare_peers import normalise, peer_rows

    for q in QUERIES:
        run_engine("nethunt", q, d, args)
        tbl = pq.read_table(os.path.join(d, f"{q}.nethunt.parquet"))
        ours = normalise(q, run_peers.rows_of(tbl), "nethunt")
        for eng in [e for e in args.engines if e != "nethunt"]:
            theirs = peer_rows(run_peers, args.peers, q, eng, d)
            if theirs != ours:
                sys.exit(f"[{d}] {q}: {eng} disagrees with nethunt ({len(theirs)} vs {len(ours)} rows); not timing")
        print(f"  {q}: all engines agree ({len(ours)} rows)")


def criterion_table():
    base = os.path.join(target_dir(), "criterion", "kernels_1M")
    rows = []
    # criterion turns the '/' of a benchmark name into '_' for its folder
    for est in sorted(glob.glob(os.path.join(base, "*", "new", "estimates.json"))):
        name = est.split(os.sep)[-3]
        e = json.load(open(est))
        rows.append((name, e["median"]["point_estimate"] / 1e6))
    return rows


KERNELS_HEADING = "## UDF kernels, 1M values"
SCALE_HEADING = "## Scale: nethunt alone under a memory limit"
CLUSTER_HEADING = "## Cluster: Ballista scheduler + 2 executors vs one process"


def replace_section(text, heading, new_lines):
    """Replace the section starting at `heading` (up to the next '## ') with new_lines, or insert
    it before the kernel section (else at the end)."""
    block = "\n".join(new_lines).rstrip() + "\n"
    if heading in text:
        before, rest = text.split(heading, 1)
        nxt = rest.find("\n## ")
        after = rest[nxt + 1:] if nxt >= 0 else ""
        return before + block + ("\n" + after if after else "")
    if heading != KERNELS_HEADING and KERNELS_HEADING in text:
        before, after = text.split(KERNELS_HEADING, 1)
        return before + block + "\n" + KERNELS_HEADING + after
    return text.rstrip() + "\n\n" + block


def scale(a):
    """nethunt alone at each size of --scale-rows, with --memory-limit: medians, peak RSS, and
    the time ratio of each size to the first (linear scaling is the ratio of the row counts)."""
    sizes = [int(x) for x in a.scale_rows.split(",")]
    a.engines = ["nethunt"]
    res = {}
    for n in sizes:
        print(f"== scale {n:,} rows, --memory-limit {a.memory_limit}")
        d = prepare(n, a)
        res[n] = {}
        for q in QUERIES:
            try:
                run_engine("nethunt", q, d, a)  # warm-up
                xs = [run_engine("nethunt", q, d, a) for _ in range(a.runs)]
            except RuntimeError as e:  # recorded, not hidden: a run that fails under the limit
                err = str(e).strip().splitlines()[-1]
                res[n][q] = err
                print(f"  {q:20s} FAILED: {err}")
                continue
            res[n][q] = xs
            s = [x["seconds"] for x in xs]
            print(f"  {q:20s} median {statistics.median(s):.3f}s  min {min(s):.3f}  max {max(s):.3f}  "
                  f"rss {max(x['rss'] for x in xs) / 2**20:.0f} MiB")
    base = sizes[0]
    lines = [SCALE_HEADING, "",
             f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with `python3 bench/run_bench.py --scale "
             f"--scale-rows {a.scale_rows} --memory-limit {a.memory_limit} --runs {a.runs}` "
             f"(nethunt {versions_nethunt()}).", "",
             "| rows | query | median s | min–max s | peak RSS MiB | rows out | time / time at first size |",
             "|---|---|---|---|---|---|---|"]
    for n in sizes:
        for q in QUERIES:
            xs = res[n][q]
            if isinstance(xs, str):
                lines.append(f"| {n:,} | {q} | failed | | | | `{xs[:300]}` |")
                continue
            s = [x["seconds"] for x in xs]
            first = res[base][q]
            ratio = statistics.median(s) / statistics.median([x["seconds"] for x in first]) if not isinstance(first, str) else float("nan")
            lines.append(f"| {n:,} | {q} | {statistics.median(s):.3f} | {min(s):.3f}–{max(s):.3f} | "
                         f"{max(x['rss'] for x in xs) / 2**20:.0f} | {xs[0]['rows']} | {ratio:.1f} |")
    lines.append("")
    text = open(a.results, encoding="utf-8").read() if os.path.exists(a.results) else "# Benchmark results\n"
    with open(a.results + ".partial", "w", encoding="utf-8") as f:
        f.write(replace_section(text, SCALE_HEADING, lines))
    os.replace(a.results + ".partial", a.results)
    print(f"wrote the scale section of {a.results}")


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cluster(a):
    """nethunt in one process vs the same binary's `--cluster` on a local Ballista cluster (a
    scheduler and two executors with one task slot each: two cores in all, like the single
    process), alternating, over the same lake. Answers are checked equal first."""
    import tempfile
    import urllib.request

    sizes = [int(x) for x in a.cluster_rows.split(",")]
    a.engines = ["nethunt"]
    work = tempfile.mkdtemp(prefix="nethunt-bench-cluster-")
    port = free_port()
    logs = open(os.path.join(work, "cluster.log"), "w")
    procs = [subprocess.Popen([a.nethunt, "cluster", "scheduler", "--bind", f"127.0.0.1:{port}",
                               "--min-executors", "2"], stdout=logs, stderr=logs)]
    for i in range(2):
        procs.append(subprocess.Popen(
            [a.nethunt, "cluster", "executor", "--scheduler", f"127.0.0.1:{port}", "--bind",
             f"127.0.0.1:{free_port()}", "--grpc-port", str(free_port()), "--slots", "1",
             "--work-dir", os.path.join(work, f"work{i}")] +
            (["--memory-limit", a.memory_limit] if a.memory_limit else []), stdout=logs, stderr=logs))
    try:
        until = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200:
                    break
            except Exception:
                pass
            if time.time() > until:
                raise RuntimeError(f"the cluster did not get ready; see {logs.name}")
            time.sleep(0.2)
        res = {}
        for n in sizes:
            print(f"== cluster {n:,} rows")
            d = prepare(n, a)
            res[n] = {}
            for q in QUERIES:
                modes = {"one process": [], "cluster": ["--cluster", f"df://127.0.0.1:{port}"]}
                outs = {}
                for m, extra in modes.items():  # warm-up, and the answers compared
                    run_engine("nethunt", q, d, a, extra)
                    outs[m] = read_rows(os.path.join(d, f"{q}.nethunt.parquet"))
                if outs["one process"] != outs["cluster"]:
                    raise RuntimeError(f"{q}: the cluster's rows differ from one process's")
                xs = {m: [] for m in modes}
                for r in range(a.runs):
                    order = list(modes) if r % 2 == 0 else list(modes)[::-1]
                    for m in order:
                        xs[m].append(run_engine("nethunt", q, d, a, modes[m]))
                res[n][q] = xs
                for m in modes:
                    s = [x["seconds"] for x in xs[m]]
                    print(f"  {q:20s} {m:12s} median {statistics.median(s):.3f}s  min {min(s):.3f}  max {max(s):.3f}")
        executors_rss = [peak_rss(p.pid) for p in procs[1:]]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    lines = [CLUSTER_HEADING, "",
             f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with `python3 bench/run_bench.py --cluster "
             f"--cluster-rows {a.cluster_rows} --runs {a.runs}` (nethunt {versions_nethunt()}): a "
             "`nethunt cluster scheduler` and two `nethunt cluster executor --slots 1` on 127.0.0.1, against "
             "`nethunt run` in one process with its default two threads; the rows were checked equal first. "
             "Times are what nethunt reports (registration, planning, execution, output); the cluster's "
             "include submitting the job, the shuffle between stages and fetching results over Arrow Flight.", "",
             "| rows | query | one process median s (min–max) | cluster median s (min–max) | cluster / one process |",
             "|---|---|---|---|---|"]
    for n in sizes:
        for q in QUERIES:
            one = [x["seconds"] for x in res[n][q]["one process"]]
            cl = [x["seconds"] for x in res[n][q]["cluster"]]
            lines.append(f"| {n:,} | {q} | {statistics.median(one):.3f} ({min(one):.3f}–{max(one):.3f}) | "
                         f"{statistics.median(cl):.3f} ({min(cl):.3f}–{max(cl):.3f}) | "
                         f"{statistics.median(cl) / statistics.median(one):.2f} |")
    lines += ["", "Peak RSS of the two executors over the whole run: " +
              ", ".join(f"{r / 2**20:.0f} MiB" for r in executors_rss) + ".", ""]
    text = open(a.results, encoding="utf-8").read() if os.path.exists(a.results) else "# Benchmark results\n"
    with open(a.results + ".partial", "w", encoding="utf-8") as f:
        f.write(replace_section(text, CLUSTER_HEADING, lines))
    os.replace(a.results + ".partial", a.results)
    print(f"wrote the cluster section of {a.results}")


def read_rows(path):
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    return sorted(map(tuple, zip(*[c.to_pylist() for c in t.columns])), key=repr)


def versions_nethunt():
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return f"0.1.0 ({rev}, release build)"


def kernel_lines():
    crit = criterion_table()
    if not crit:
        return []
    lines = [f"{KERNELS_HEADING} (criterion medians, `cargo bench --workspace --bench kernels`)", "",
             "| benchmark | median ms |", "|---|---|"]
    lines += [f"| {n} | {v:.1f} |" for n, v in crit]
    m = dict(crit)
    pairs = [("second_level_domain_utf8view", "regexp_match_utf8view", "second_level_domain vs regexp_match"),
             ("ipv4_is_private_utf8view", "ipv4_sql_expression_utf8view", "ipv4_is_private vs SQL expression"),
             ("kql_endswith_utf8view", "ends_with_lower_utf8view", "kql_endswith vs ends_with(lower(..))")]
    lines.append("")
    for a_, b_, label in pairs:
        if a_ in m and b_ in m:
            lines.append(f"- {label}: **{m[b_] / m[a_]:.1f}x** faster")
    lines.append("")
    return lines


def versions(args):
    import chdb, datafusion, duckdb, pyarrow

    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return {"nethunt": versions_nethunt(), "rustc": rustc, "duckdb": duckdb.__version__,
            "chdb": chdb.__version__, "datafusion-python": datafusion.__version__, "pyarrow": pyarrow.__version__}


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", nargs=3, metavar=("ENGINE", "QUERY", "DATA"), help=argparse.SUPPRESS)
    ap.add_argument("--rows", default="1000000,10000000")
    ap.add_argument("--huge", action="store_true", help="also 100M rows")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--memory-limit", help="passed to nethunt, e.g. 1G")
    ap.add_argument("--nethunt", default=default_nethunt())
    ap.add_argument("--peers", default=os.path.abspath(os.path.join(ROOT, "..", "shared", "peers")))
    ap.add_argument("--work", default=os.path.join(HERE, "out"))
    ap.add_argument("--engines", default="nethunt," + ",".join(PEERS))
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--append-kernels", action="store_true",
                    help="only (re)write the criterion section of an existing RESULTS.md, after `cargo bench --workspace --bench kernels`")
    ap.add_argument("--scale", action="store_true",
                    help="only (re)write the scale section: nethunt alone at --scale-rows under --memory-limit")
    ap.add_argument("--scale-rows", default="10000000,100000000")
    ap.add_argument("--cluster", action="store_true",
                    help="nethunt on a local Ballista cluster (scheduler + 2 executors) vs one process")
    ap.add_argument("--cluster-rows", default="10000000")
    a = ap.parse_args()
    if a.worker:
        return worker(*a.worker, a.peers)
    if a.append_kernels:
        text = open(a.results, encoding="utf-8").read()
        kernels = kernel_lines()
        if not kernels:
            sys.exit(f"no criterion estimates under {target_dir()}/criterion: run cargo bench --workspace --bench kernels first")
        with open(a.results + ".partial", "w", encoding="utf-8") as f:
            f.write(replace_section(text, KERNELS_HEADING, kernels))
        os.replace(a.results + ".partial", a.results)
        return print(f"wrote the kernel section of {a.results}")
    if a.cluster:
        ensure_venv()
        if not os.path.exists(a.nethunt):
            sys.exit(f"{a.nethunt}: build it first (cargo build --release)")
        return cluster(a)
    if a.scale:
        if not a.memory_limit:
            sys.exit("--scale needs --memory-limit (e.g. 1G)")
        if not os.path.exists(a.nethunt):
            sys.exit(f"{a.nethunt}: build it first (cargo build --release)")
        return scale(a)
    ensure_venv()
    a.engines = a.engines.split(",")
    sizes = [int(x) for x in a.rows.split(",")] + ([100_000_000] if a.huge else [])
    if not os.path.exists(a.nethunt):
        sys.exit(f"{a.nethunt}: build it first (cargo build --release)")

    report = {}
    for n in sizes:
        print(f"== {n:,} rows")
        d = prepare(n, a)
        check_answers(d, a)
        size = os.path.getsize(os.path.join(d, "sessions.parquet"))
        res = {}
        for q in QUERIES:
            for eng in a.engines:  # warm-up (page cache, first-run effects)
                run_engine(eng, q, d, a)
            samples = {e: [] for e in a.engines}
            for r in range(a.runs):
                order = a.engines[r % len(a.engines):] + a.engines[: r % len(a.engines)]
                for eng in order:
                    samples[eng].append(run_engine(eng, q, d, a))
            res[q] = samples
            for eng in a.engines:
                s = [x["seconds"] for x in samples[eng]]
                print(f"  {q:20s} {eng:11s} median {statistics.median(s):.3f}s  min {min(s):.3f}  max {max(s):.3f}  "
                      f"rss {max(x['rss'] for x in samples[eng]) / 2**20:.0f} MiB")
        report[n] = (size, res)

    lines = ["# Benchmark results", "",
             f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with `python3 bench/run_bench.py --rows {a.rows}"
             f"{' --huge' if a.huge else ''} --runs {a.runs}{' --memory-limit ' + a.memory_limit if a.memory_limit else ''}`.", "",
             f"Machine: {machine()} (shared; compare ratios within one run, not absolute times across runs).", "",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in versions(a).items()) + ".", "",
             "Method: see the docstring of bench/run_bench.py. Each engine's answer was checked equal to nethunt's",
             "before timing. Times are query seconds (median and min–max over the runs); RSS is the peak resident",
             "memory of the engine's process.", ""]
    for n, (size, res) in report.items():
        lines += [f"## {n:,} rows ({size / 2**20:.0f} MiB of Parquet)", "",
                  "| query | engine | median s | min–max s | peak RSS MiB | rows |", "|---|---|---|---|---|---|"]
        for q, samples in res.items():
            for eng, xs in samples.items():
                s = [x["seconds"] for x in xs]
                lines.append(f"| {q} | {eng} | {statistics.median(s):.3f} | {min(s):.3f}–{max(s):.3f} | "
                             f"{max(x['rss'] for x in xs) / 2**20:.0f} | {xs[0]['rows']} |")
        lines.append("")
        for q, samples in res.items():
            med = {e: statistics.median([x["seconds"] for x in xs]) for e, xs in samples.items()}
            peers = {e: v for e, v in med.items() if e != "nethunt"}
            if "nethunt" in med and peers:
                best = min(peers, key=peers.get)
                lines.append(f"- {q}: nethunt / fastest peer ({best}) = **{med['nethunt'] / peers[best]:.2f}**")
        lines.append("")
    text = "\n".join(lines)
    if os.path.exists(a.results):  # keep the sections of earlier --scale and --cluster runs
        old = open(a.results, encoding="utf-8").read()
        for heading in (SCALE_HEADING, CLUSTER_HEADING):
            if heading in old:
                sec = old.split(heading, 1)[1]
                nxt = sec.find("\n## ")
                text = text.rstrip() + "\n\n" + heading + (sec[:nxt + 1] if nxt >= 0 else sec)
    kernels = kernel_lines()
    if kernels:
        text = replace_section(text, KERNELS_HEADING, kernels)
    with open(a.results + ".partial", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(a.results + ".partial", a.results)
    print(f"wrote {a.results}")


if __name__ == "__main__":
    main()
