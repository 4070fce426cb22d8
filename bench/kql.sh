#!/usr/bin/env bash
# The seed queries as KQL against their SQL files (issue 17's performance target: the seed's KQL
# runs within 1.1x the time of its SQL file on 10M generated rows).
#
#   bench/kql.sh [ROWS] [RUNS]        (defaults: 10000000 5; NETHUNT=path/to/release/nethunt)
#
# One generated lake and domain list; each seed runs RUNS times as SQL (queries/*.sql) and as
# KQL (queries/*_kql.kql, the published text), alternating within each round, after one warm-up
# run of each; the time is the one nethunt reports (registration, footers, planning, execution,
# output). Prints a Markdown table of medians and ratios.
set -euo pipefail
ROWS=${1:-10000000}
RUNS=${2:-5}
NH=${NETHUNT:-target/release/nethunt}
WORK=${WORK:-$(mktemp -d /tmp/nethunt-kql-XXXX)}
mkdir -p "$WORK"
if [ ! -d "$WORK/lake" ]; then
  "$NH" generate --rows "$ROWS" --out "$WORK/lake" --domains-out "$WORK/top.csv" >/dev/null
fi

. "$(dirname "$0")/lib.sh"
timed() { timed_run "$1" "$WORK/lake" "$WORK/top.csv"; }

echo "| rows | query | SQL median s | KQL median s | KQL / SQL |"
echo "|---|---|---|---|---|"
for query in non_standard_ports uncommon_domains; do
  : > "$WORK/t.sql"; : > "$WORK/t.kql"
  timed "$query" >/dev/null; timed "${query}_kql" >/dev/null
  for _ in $(seq "$RUNS"); do
    timed "$query" >> "$WORK/t.sql"
    timed "${query}_kql" >> "$WORK/t.kql"
  done
  s=$(median < "$WORK/t.sql"); k=$(median < "$WORK/t.kql")
  awk -v r="$ROWS" -v q="$query" -v s="$s" -v k="$k" \
    'BEGIN { printf "| %s | %s | %.3f | %.3f | %.2f |\n", r, q, s, k, k / s }'
done
