#!/usr/bin/env python3
"""Differential check: run both seed queries through nethunt and through the peer SQL files
(DuckDB, chDB, DataFusion-python) on the same data, and report every difference.

  python bench/compare_peers.py --data LAKE_OR_FILE --domains LIST [--peers DIR] [--nethunt BIN]
                                [--engines duckdb,chdb,datafusion] [--keep DIR]

--data     a Parquet file, or a folder / hive-partitioned lake (it is flattened into one file
           for the peers; partition columns are dropped)
--domains  the popularity list: headerless rank,domain CSV, a zip of such CSVs, or Parquet
--peers    the folder holding <query>.<engine>.sql and run_peers.py (default ../shared/peers)
--nethunt  the nethunt binary (default: $CARGO_TARGET_DIR or ./target, release then debug)

Needs: pip install duckdb chdb datafusion pyarrow.

Comparison rules (the peers compute plain SQL; nethunt computes KQL's semantics):
  * KQL's sum() over only NULLs is 0, the peers' SQL SUM gives NULL: NULL byte sums from the peers
    are read as 0 before comparing (semantics sheet, trap 8). The peers then sort such rows last
    (NULLS LAST) while nethunt sorts 0 by value, so the peer rows are re-sorted with nethunt's key
    (TotalBytes desc, SndLevelDomain, BytesSent desc, UrlHostname) after that substitution.
  * KQL strings are never null: a NULL SrcIpAddr group of the peers is compared as '' (trap 1).
  * Column order differs (peers: sld, UrlHostname, HostBytes, TotalBytes); rows are compared
    as (SndLevelDomain, UrlHostname, BytesSent, TotalBytes) and as
    (SrcIpAddr, TimeGenerated, PortCount), timestamps as integer microseconds UTC.
  * Known, deliberate difference: nethunt accepts Kusto's a.b.c.d/nn prefix notation in
    ipv4_is_private, the peers treat it as invalid. The real and sample data hold no such values;
    if they ever do, this script reports the rows.
Exit status: 0 when every engine agrees with nethunt on every query, 1 otherwise.
"""
import argparse
import glob
import io
import os
import subprocess
import sys
import tempfile
import zipfile

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUERIES = ["non_standard_ports", "uncommon_domains"]


def find_nethunt():
    targets = [os.environ.get("CARGO_TARGET_DIR"), os.path.join(ROOT, "target")]
    for t in targets:
        if not t:
            continue
        for profile in ("release", "debug"):
            p = os.path.join(t, profile, "nethunt")
            if os.path.exists(p):
                return p
    return "nethunt"


def flatten_sessions(data, out):
    if os.path.isdir(data):
        files = sorted(glob.glob(os.path.join(data, "**", "*.parquet"), recursive=True))
        if not files:
            sys.exit(f"{data}: no .parquet files")
        tables = [pq.read_table(f) for f in files]  # one file at a time: no partition columns
        tbl = pa.concat_tables(tables, promote_options="default")
    else:
        tbl = pq.read_table(data)
    pq.write_table(tbl, out)
    return tbl.num_rows


def domains_table(path):
    low = path.lower()
    if low.endswith(".parquet"):
        tbl = pq.read_table(path)
        name = next(n for n in tbl.column_names if n.lower() == "domain")
        return pa.table({"Domain": tbl.column(name).cast(pa.string())})
    if low.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            data = b"".join(z.read(n) for n in z.namelist() if n.endswith(".csv"))
    else:
        with open(path, "rb") as f:
            data = f.read()
    opts = pacsv.ReadOptions(column_names=["Position", "Domain"])
    conv = pacsv.ConvertOptions(column_types={"Position": pa.string(), "Domain": pa.string()})
    tbl = pacsv.read_csv(io.BytesIO(data), read_options=opts, convert_options=conv)
    return pa.table({"Domain": tbl.column("Domain")})


def run_nethunt(binary, query, sessions, domains, workdir):
    out = os.path.join(workdir, f"{query}.nethunt.parquet")
    cmd = [binary, "--quiet", "run", query, "--data", sessions, "--domains", domains,
           "--format", "parquet", "--output", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"nethunt failed ({r.returncode}): {r.stderr.strip()}")
    return pq.read_table(out)


def key_q2(r):
    sld, host, bytes_, total = r
    return (-(total or 0), sld, -(bytes_ or 0), host)


def normalise(query, rows, engine):
    if query == "non_standard_ports":
        return [("" if r[0] is None else r[0], r[1], r[2]) for r in rows]
    if engine == "nethunt":  # SndLevelDomain, TotalBytes, UrlHostname, BytesSent
        return [(r[0], r[2], r[3], r[1]) for r in rows]
    # peers: sld, UrlHostname, HostBytes, TotalBytes; NULL sums are KQL's 0
    fixed = [(r[0], r[1], 0 if r[2] is None else r[2], 0 if r[3] is None else r[3]) for r in rows]
    return sorted(fixed, key=key_q2)


def peer_rows(run_peers, peers_dir, query, engine, data_dir):
    """Run <query>.<engine>.sql from peers_dir in data_dir (its relative paths resolve there) and
    return the normalised rows."""
    sql = open(os.path.join(peers_dir, f"{query}.{engine}.sql"), encoding="utf-8").read()
    cwd = os.getcwd()
    os.chdir(data_dir)
    try:
        return normalise(query, run_peers.rows_of(run_peers.RUNNERS[engine](sql, data_dir)), engine)
    finally:
        os.chdir(cwd)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--domains", required=True)
    ap.add_argument("--peers", default=os.path.join(ROOT, "..", "shared", "peers"))
    ap.add_argument("--nethunt", default=find_nethunt())
    ap.add_argument("--engines", default="duckdb,chdb,datafusion")
    ap.add_argument("--keep", help="keep the flattened inputs and results in this folder")
    a = ap.parse_args()

    sys.path.insert(0, os.path.abspath(a.peers))
    import run_peers  # the peers' own runners and value normalisation

    workdir = a.keep or tempfile.mkdtemp(prefix="nethunt-compare-")
    os.makedirs(workdir, exist_ok=True)
    sessions = os.path.join(workdir, "sessions.parquet")
    n = flatten_sessions(a.data, sessions)
    pq.write_table(domains_table(a.domains), os.path.join(workdir, "domains.parquet"))
    domains = os.path.join(workdir, "domains.parquet")
    print(f"data: {a.data} ({n} rows); domains: {a.domains}; nethunt: {a.nethunt}")

    ok = True
    for q in QUERIES:
        ours = normalise(q, run_peers.rows_of(run_nethunt(a.nethunt, q, sessions, domains, workdir)), "nethunt")
        print(f"[{q}] nethunt: {len(ours)} rows")
        for eng in a.engines.split(","):
            theirs = peer_rows(run_peers, a.peers, q, eng, workdir)
            if theirs == ours:
                print(f"[{q}] {eng}: {len(theirs)} rows, identical to nethunt (same order)")
                continue
            ok = False
            same_set = sorted(map(repr, theirs)) == sorted(map(repr, ours))
            print(f"[{q}] {eng}: {len(theirs)} rows, " + ("same rows, different order" if same_set else "DIFFERENT rows"))
            a_, b_ = set(ours), set(theirs)
            for r in sorted(a_ - b_, key=repr)[:10]:
                print(f"    only in nethunt: {r}")
            for r in sorted(b_ - a_, key=repr)[:10]:
                print(f"    only in {eng}: {r}")
    print("ALL AGREE" if ok else "DIFFERENCES FOUND")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
