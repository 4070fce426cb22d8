#!/usr/bin/env python3
"""Differential check of the library's Sentinel ports: each query run by nethunt and by DuckDB
SQL written here from the original KQL (not from nethunt's SQL files), on the same lake, with
parameters low enough that every query returns rows; every difference is reported.

  bench/.venv/bin/python bench/compare_library.py --data LAKE [--nethunt BIN]

Needs: pip install duckdb (bench/.venv). Exit status 0 when DuckDB agrees on every query.

How the KQL is read here, independently of the SQL files:
  * ipv4_is_private: a strict dotted quad (no leading zeros), 10/8, 172.16/12, 192.168/16; NULL
    for anything else, so `== false` and `not(...)` drop IPv6 and junk.
  * tostring(port) has_any ("3389"): the port's decimal text is one term, so the test is text
    equality with one of the listed numbers.
  * strings are never null in KQL: '' for a NULL in group keys and in != / !in tests.
  * bin(t, 5m): DuckDB's time_bucket (its origin is aligned to 5 minutes, as the epoch is).
  * make_set: compared as sorted sets (KQL promises no order); sum(EventCount) counts a NULL
    as 1 (ASIM's meaning of EventCount).
"""
import argparse
import datetime as dt
import json
import os
import subprocess
import sys

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

MACROS = r"""
CREATE MACRO oct(s, i) AS TRY_CAST(split_part(s, '.', i) AS INTEGER);
CREATE MACRO is_v4(s) AS regexp_full_match(s,
    '(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})')
    AND oct(s, 1) <= 255 AND oct(s, 2) <= 255 AND oct(s, 3) <= 255 AND oct(s, 4) <= 255;
CREATE MACRO private4(s) AS CASE WHEN s IS NULL OR NOT is_v4(s) THEN NULL
    ELSE oct(s, 1) = 10 OR (oct(s, 1) = 172 AND oct(s, 2) BETWEEN 16 AND 31)
         OR (oct(s, 1) = 192 AND oct(s, 2) = 168) END;
CREATE MACRO bin5(t) AS time_bucket(INTERVAL '5 minutes', t);
CREATE MACRO set_of(x) AS list_sort(list(DISTINCT x) FILTER (WHERE x IS NOT NULL));
"""

# query name → (nethunt --param assignments, DuckDB SQL, sort key of nethunt's output columns)
CASES = {
    "port_scan": (["threshold=2"], """
        SELECT SrcIpAddr, bin5(TimeGenerated) AS TimeGenerated,
               count(DISTINCT DstPortNumber) AS AttemptedPortsCount,
               set_of(DstPortNumber) AS AttemptedPorts,
               set_of(concat(coalesce(EventVendor, ''), '/', coalesce(EventProduct, ''))) AS ReportedBy
        FROM s WHERE private4(SrcIpAddr) = false AND SrcIpAddr NOT IN ('127.0.0.1', '::1')
        GROUP BY ALL HAVING count(DISTINCT DstPortNumber) > 2"""),
    "port_sweep_external": (["threshold=1"], """
        SELECT DstPortNumber, set_of(DstIpAddr) AS set_DstIpAddr
        FROM s WHERE NetworkDirection = 'Inbound'
        GROUP BY ALL HAVING count(DISTINCT DstIpAddr) > 1"""),
    "excessive_failed_connections": (["threshold=1"], """
        SELECT coalesce(SrcIpAddr, '') AS SrcIpAddr, bin5(TimeGenerated) AS TimeGenerated,
               count(*) AS Count, bin5(TimeGenerated) AS timestamp, 1 AS threshold
        FROM s WHERE EventResult = 'Failure'
        GROUP BY ALL HAVING count(*) > 1"""),
    "rdp_bruteforce": (["threshold=1"], """
        SELECT SrcIpAddr, DstPortNumber, EventResult, bin5(TimeGenerated) AS TimeGenerated,
               min(TimeGenerated) AS Starttime, max(TimeGenerated) AS EndTime,
               count(DISTINCT coalesce(DstIpAddr, '')) AS TargettedIPs,
               sum(coalesce(EventCount, 1)) AS Eventscount, set_of(EventVendor) AS EventVendors
        FROM s WHERE EventResult = 'Failure' AND NOT private4(SrcIpAddr)
          AND CAST(DstPortNumber AS VARCHAR) = '3389'
          AND SrcIpAddr <> coalesce(DstIpAddr, '')
          AND coalesce(DvcAction, '') NOT IN ('Deny', 'Drop')
        GROUP BY ALL HAVING sum(coalesce(EventCount, 1)) >= 1"""),
    "outbound_ldap": ([], """
        SELECT SrcIpAddr, DstIpAddr, DstPortNumber, coalesce(NetworkProtocol, '') AS NetworkProtocol,
               EventResult, min(TimeGenerated) AS Starttime, max(TimeGenerated) AS EndTime,
               sum(coalesce(EventCount, 1)) AS Eventscount, set_of(EventVendor) AS EventVendors,
               SrcIpAddr AS IP_0_Address
        FROM s WHERE EventResult = 'Failure' AND private4(SrcIpAddr) AND NOT private4(DstIpAddr)
          AND SrcIpAddr <> DstIpAddr AND CAST(DstPortNumber AS VARCHAR) IN ('389', '636')
        GROUP BY ALL"""),
    "rdp_traffic": (["eventresult=Success"], """
        SELECT SrcIpAddr, DstIpAddr, DstPortNumber, coalesce(NetworkProtocol, '') AS NetworkProtocol,
               EventResult, min(TimeGenerated) AS Starttime, max(TimeGenerated) AS EndTime,
               sum(coalesce(EventCount, 1)) AS Eventscount, set_of(EventVendor) AS EventVendors,
               SrcIpAddr AS IP_0_Address
        FROM s WHERE EventResult = 'Success' AND private4(SrcIpAddr) AND NOT private4(DstIpAddr)
          AND SrcIpAddr <> DstIpAddr AND CAST(DstPortNumber AS VARCHAR) = '3389'
        GROUP BY ALL"""),
    "omi_ports": ([], """
        SELECT TimeGenerated, EventProduct, EventResult, SrcIpAddr AS SourceIp,
               DstIpAddr AS DestinationIp, DstPortNumber AS DestinationPort, SrcPortNumber,
               NetworkProtocol AS Protocol, TimeGenerated AS Timestamp, SrcIpAddr AS IPCustomEntity
        FROM s WHERE private4(SrcIpAddr) = false AND SrcIpAddr <> '127.0.0.1'
          AND DstPortNumber IN (5985, 5986, 1270) AND coalesce(EventResult, '') <> 'Failure'"""),
}


def norm(v):
    """One comparable form for a value from either engine."""
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return int(v.timestamp() * 1_000_000)
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == "T":
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        return norm(t)
    if isinstance(v, list):
        return tuple(sorted(norm(x) for x in v))
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def nethunt_rows(binary, query, params, data):
    args = [binary, "run", query, "--data", data, "--format", "ndjson", "-q"]
    for p in params:
        args += ["--param", p]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"nethunt {query}: {out.stderr.strip()}")
    rows = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    return [tuple(norm(v) for v in r.values()) for r in rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="an ASIM lake folder or Parquet file")
    ap.add_argument("--nethunt", default=None)
    a = ap.parse_args()
    binary = a.nethunt or next(
        (p for p in (os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), prof, "nethunt")
                     for prof in ("release", "debug")) if os.path.exists(p)), "nethunt")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(MACROS)
    src = a.data if a.data.endswith(".parquet") else os.path.join(a.data, "**", "*.parquet")
    con.execute(f"CREATE VIEW s AS SELECT * FROM read_parquet('{src}', hive_partitioning = false)")
    bad = 0
    for q, (params, sql) in CASES.items():
        want = sorted(tuple(norm(v) for v in r) for r in con.execute(sql).fetchall())
        got = sorted(nethunt_rows(binary, q, params, a.data))
        ok = want == got
        bad += not ok
        print(f"{q}: {len(got)} rows from nethunt, {len(want)} from DuckDB: {'same' if ok else 'DIFFERENT'}")
        if not ok:
            for r in sorted(set(got) - set(want))[:5]:
                print("  only nethunt:", r)
            for r in sorted(set(want) - set(got))[:5]:
                print("  only DuckDB: ", r)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
