#!/usr/bin/env python3
"""Sentinel's published KQL, run verbatim by `nethunt kql`, against nethunt's SQL port of it.

Each Sentinel port in queries/*.sql names its original (the `source` line of its header: a
path in Azure/Azure-Sentinel). This script runs that original KQL text unchanged with
`nethunt kql` and the SQL port with `nethunt run`, both with the same `--now` (the original's
ago()/now() windows are turned into the SQL file's $start/$end), and compares header and rows
(as multisets: neither language promises an order here; an array cell such as make_set's is
compared as a set, since Kusto's make_set has no order and the SQL ports sort theirs). It
repeats this for many instants. smb_anomaly's SQL takes "now" to be the newest session of the
lake, so it is compared at that instant only.

The originals are not part of nethunt (they are Microsoft's): give either
  --sentinel DIR   a checkout of https://github.com/Azure/Azure-Sentinel (the `query: |` block
                   of each YAML file is read), or
  --kql-dir DIR    a folder holding NAME.kql, the query text of the file NAME's header names.

    bench/sentinel_kql.py --sentinel ~/Azure-Sentinel --nethunt target/release/nethunt
"""

import argparse
import collections
import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)

# query -> (SQL parameters as a function of now, extra options for both runs). The windows
# are the originals' (their starttime/endtime or TimeGenerated filters), written as the SQL
# file's parameters say they are read.
CASES = {
    "port_scan": (lambda n: {}, []),
    "port_sweep_external": (lambda n: {"start": n - H, "end": n}, []),
    "excessive_failed_connections": (lambda n: {}, []),
    "users_sharing_mac": (lambda n: {"start": n - H, "end": n}, []),
    "app_port_mismatch": (lambda n: {"start": n - D, "end": n}, []),
    "beaconing_sentinel": (lambda n: {"start": n - 2 * D, "end": n - D}, []),
    "smb_anomaly": (None, []),
    "rdp_bruteforce": (lambda n: {}, []),
    "cleartext_auth_protocols": (lambda n: {"start": n - D}, []),
    "outbound_ldap": (lambda n: {"start": n - D}, []),
    "rdp_traffic": (lambda n: {"start": n - D}, []),
    "ti_map_ip": (
        lambda n: {"start": n - H},
        ["--table", "ThreatIntelligenceIndicator=" + os.path.join(ROOT, "data/tables/ti_indicators.csv")],
    ),
    "port_misuse_static": (
        lambda n: {"start": bin20(n - 20 * dt.timedelta(minutes=1)), "end": bin20(n)},
        [
            "--table",
            "NetworkSession_Monitor_Configuration="
            + os.path.join(ROOT, "data/tables/port_monitor.csv"),
        ],
    ),
    "omi_ports": (lambda n: {}, []),
}


# Published texts Kusto itself rejects: nethunt must reject them too, saying where.
INVALID = {
    # eventresult='Failure") opens a string with ' and never closes it
    "outbound_ldap": "1:51: syntax error: a string is not closed on its line",
    "rdp_traffic": "2:51: syntax error: a string is not closed on its line",
    # the last operand is a bare AzureDiagnostics, so `| where Category == ...` applies to the
    # whole union (KQL's grammar); a workspace without AzureDiagnostics (isfuzzy leaves it out)
    # has no Category column to filter on
    "omi_ports": "30:9: unknown column or name 'Category'",
}


def bin20(t):
    return t.replace(minute=t.minute - t.minute % 20, second=0, microsecond=0)


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def source_path(name):
    """The Azure-Sentinel path named in queries/NAME.sql's header."""
    with open(os.path.join(ROOT, "queries", name + ".sql"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("-- source ="):
                m = re.search(r"Azure/Azure-Sentinel: (.+?\.yaml)", line)
                if m:
                    return m.group(1)
    raise SystemExit(f"queries/{name}.sql names no Azure-Sentinel file")


def yaml_query(path):
    """The `query: |` block of a Sentinel YAML file, its indentation removed."""
    lines = open(path, encoding="utf-8").read().splitlines()
    out, inside, indent = [], False, None
    for line in lines:
        if not inside:
            if re.match(r"^query:\s*\|", line):
                inside = True
            continue
        if line.strip() and not line.startswith(" "):
            break
        if indent is None and line.strip():
            indent = len(line) - len(line.lstrip(" "))
        out.append(line[indent or 0 :])
    if not out:
        raise SystemExit(f"{path}: no query: | block")
    return "\n".join(out).rstrip() + "\n"


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr.strip()


def cell(v):
    if v.startswith("[") and v.endswith("]"):
        return "[" + ", ".join(sorted(x.strip() for x in v[1:-1].split(","))) + "]"
    return v


def table(text):
    rows = list(csv.reader(io.StringIO(text)))
    body = (tuple(cell(v) for v in r) for r in rows[1:])
    return (rows[0] if rows else []), collections.Counter(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--sentinel", help="a checkout of Azure/Azure-Sentinel")
    src.add_argument("--kql-dir", help="a folder of NAME.kql query texts")
    ap.add_argument("--nethunt", default=os.path.join(ROOT, "target/release/nethunt"))
    ap.add_argument("--data", help="the lake (default: the bundled sample)")
    ap.add_argument(
        "--now",
        action="append",
        help="instants to replay at (repeatable; default: 10 past every hour of the sample's two days)",
    )
    a = ap.parse_args()
    nows = [dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in a.now or []]
    if not nows:
        start = dt.datetime(2024, 7, 30, 0, 10, tzinfo=dt.timezone.utc)
        nows = [start + k * H for k in range(49)]
    data = ["--data", a.data] if a.data else []
    code, out, err = run(
        [a.nethunt, "sql", 'SELECT max("TimeGenerated") AS t FROM "NetworkSessions"', "--format", "csv", "-q"]
        + data
    )
    if code != 0:
        raise SystemExit(err)
    lake_end = dt.datetime.fromisoformat(out.splitlines()[1].replace("Z", "+00:00"))

    failures = 0
    for name, (params, extra) in CASES.items():
        if a.sentinel:
            kql = yaml_query(os.path.join(a.sentinel, source_path(name)))
        else:
            with open(os.path.join(a.kql_dir, name + ".kql"), encoding="utf-8") as f:
                kql = f.read()
        kql_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nethunt-sentinel-{name}.kql")
        with open(kql_file, "w", encoding="utf-8") as f:
            f.write(kql)
        agree, rows, verdict = 0, 0, None
        if params is None:
            params = lambda n: {}  # noqa: E731 (the SQL's own now: the newest session)
            instants = [lake_end]
        else:
            instants = nows
        for now in instants:
            common = ["--now", stamp(now), "--format", "csv", "-q"] + data + extra
            kc, ko, ke = run([a.nethunt, "kql", "-f", kql_file] + common)
            if name in INVALID:
                if kc != 0 and INVALID[name] in ke:
                    verdict = "ok"
                    print(f"{name:30} rejected as Kusto rejects it: {ke}")
                else:
                    verdict = f"expected the error {INVALID[name]!r}, got exit {kc}: {ke}"
                break
            if kc != 0:
                verdict = f"KQL error: {ke}"
                break
            sql = [a.nethunt, "run", name] + common
            for k, v in params(now).items():
                sql += ["-p", f"{k}={stamp(v)}"]
            sc, so, se = run(sql)
            if sc != 0:
                verdict = f"SQL error: {se}"
                break
            (kh, kr), (sh, sr) = table(ko), table(so)
            if kh != sh:
                verdict = f"columns differ at {stamp(now)}: KQL {kh} / SQL {sh}"
                break
            if kr != sr:
                verdict = (
                    f"rows differ at {stamp(now)}: {sum(kr.values())} KQL, {sum(sr.values())} SQL, "
                    f"{sum((kr - sr).values())} only in KQL, {sum((sr - kr).values())} only in SQL"
                )
                break
            agree += 1
            rows += sum(kr.values())
        if verdict == "ok":
            pass
        elif verdict is None:
            print(f"{name:30} same rows at {agree} instants ({rows} rows in all)")
        else:
            failures += 1
            print(f"{name:30} {verdict}")
    print(f"{len(CASES) - failures} of {len(CASES)} as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
