#!/usr/bin/env bash
# Source parsers against converted ASIM Parquet (issue 15's performance target: a seed query over
# VPC Flow Parquet or OCSF Parquet through its parser takes at most 1.3x the time over the same
# sessions already converted to ASIM Parquet).
#
#   bench/parsers.sh [ROWS] [RUNS]        (defaults: 10000000 5; NETHUNT=path/to/release/nethunt)
#
# Made here, with nethunt itself: a generated ASIM lake of ROWS sessions; from it a VPC Flow Logs
# Parquet file (AWS's column names and types, one record per session) and an OCSF 1.1.0 Network
# Activity file (nested src_endpoint/dst_endpoint/connection_info/traffic structs, epoch-ms time);
# then each of those read through its parser and written back out as ASIM Parquet, which is the
# baseline: the same sessions, converted. Each query runs RUNS times per input, the inputs
# alternating within each round; the time is the one nethunt reports (registration, footers,
# planning, execution, output). Prints a Markdown table of medians and ratios.
set -euo pipefail
ROWS=${1:-10000000}
RUNS=${2:-5}
NH=${NETHUNT:-target/release/nethunt}
WORK=${WORK:-$(mktemp -d /tmp/nethunt-parsers-XXXX)}
mkdir -p "$WORK"
q() { "$NH" -q "$@"; }

if [ ! -d "$WORK/asim" ]; then
  "$NH" generate --rows "$ROWS" --out "$WORK/asim" --domains-out "$WORK/domains.csv" >/dev/null
fi
if [ ! -f "$WORK/vpcflow/flows.parquet" ]; then
  mkdir -p "$WORK/vpcflow"
  q sql --data "$WORK/asim" --output "$WORK/vpcflow/flows.parquet" "
    SELECT CAST(2 AS INT) AS version, '123456789012' AS account_id, 'eni-0a1b2c3d' AS interface_id,
           SrcIpAddr AS srcaddr, DstIpAddr AS dstaddr, SrcPortNumber AS srcport,
           DstPortNumber AS dstport,
           CAST(CASE NetworkProtocol WHEN 'TCP' THEN 6 WHEN 'UDP' THEN 17 WHEN 'ICMP' THEN 1 END AS INT) AS protocol,
           coalesce(SrcPackets, 1) AS packets, SrcBytes AS bytes,
           CAST(TimeGenerated AS BIGINT) / 1000000 AS start,
           CAST(TimeGenerated AS BIGINT) / 1000000 + 60 AS \"end\",
           CASE EventResult WHEN 'Success' THEN 'ACCEPT' ELSE 'REJECT' END AS action,
           'OK' AS log_status
    FROM NetworkSessions"
fi
if [ ! -f "$WORK/ocsf/activity.parquet" ]; then
  mkdir -p "$WORK/ocsf"
  q sql --data "$WORK/asim" --output "$WORK/ocsf/activity.parquet" "
    SELECT named_struct('product', named_struct('name', 'Zeek', 'vendor_name', 'Corelight'), 'version', '1.1.0') AS metadata,
           CAST(TimeGenerated AS BIGINT) / 1000 AS time,
           named_struct('ip', SrcIpAddr, 'port', SrcPortNumber) AS src_endpoint,
           named_struct('ip', DstIpAddr, 'port', DstPortNumber) AS dst_endpoint,
           named_struct('protocol_name', lower(NetworkProtocol)) AS connection_info,
           named_struct('bytes_out', SrcBytes, 'bytes_in', DstBytes) AS traffic,
           named_struct('sni', UrlHostname) AS tls,
           CASE EventResult WHEN 'Success' THEN 6 ELSE 4 END AS activity_id,
           CASE EventResult WHEN 'Success' THEN 1 ELSE 2 END AS action_id,
           4001 AS class_uid
    FROM NetworkSessions"
fi
for src in vpcflow ocsf; do
  if [ ! -f "$WORK/asim_$src/sessions.parquet" ]; then
    mkdir -p "$WORK/asim_$src"
    q sql --data "$src=$WORK/$src" --output "$WORK/asim_$src/sessions.parquet" \
      "SELECT * FROM NetworkSessions"
  fi
done

. "$(dirname "$0")/lib.sh"
timed() { timed_run "$1" "$2" "$WORK/domains.csv"; }

echo "| rows | query | source | parser view median s | converted ASIM median s | ratio |"
echo "|---|---|---|---|---|---|"
for query in non_standard_ports uncommon_domains; do
  for src in vpcflow ocsf; do
    : > "$WORK/t.view"; : > "$WORK/t.asim"
    timed "$query" "$src=$WORK/$src" >/dev/null; timed "$query" "$WORK/asim_$src" >/dev/null
    for _ in $(seq "$RUNS"); do
      timed "$query" "$src=$WORK/$src" >> "$WORK/t.view"
      timed "$query" "$WORK/asim_$src" >> "$WORK/t.asim"
    done
    v=$(median < "$WORK/t.view"); a=$(median < "$WORK/t.asim")
    awk -v r="$ROWS" -v q="$query" -v s="$src" -v v="$v" -v a="$a" \
      'BEGIN { printf "| %s | %s | %s | %.3f | %.3f | %.2f |\n", r, q, s, v, a, v / a }'
  done
done
