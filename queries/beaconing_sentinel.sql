-- ---
-- id = "fcb9d75c-c3c1-4910-8697-f136bfef2363"
-- name = "beaconing_sentinel"
-- title = "Potential beaconing activity (Sentinel's method)"
-- description = "Within one hour, a source reaching one public destination port more than $total_events_threshold times where more than $percent_beacon_threshold % of the gaps to the source's next session have the same length (over $time_delta_threshold s): a callback on a timer."
-- mitre = ["T1071", "T1571"]
-- tactics = ["CommandAndControl"]
-- optional_columns = ["SrcBytes", "DstBytes"]
-- severity = "low"
-- source = "Microsoft Sentinel analytic rule 'Potential beaconing activity (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Analytic Rules/PossibleBeaconingActivity.yaml (version 1.1.3)"
-- reference = "https://github.com/Azure/Azure-Sentinel/blob/master/Solutions/Network%20Session%20Essentials/Analytic%20Rules/PossibleBeaconingActivity.yaml"
--
-- [params.time_delta_threshold]
-- type = "int"
-- default = 10
-- doc = "gaps of this many seconds or less are ignored (TimeDeltaThreshold)"
--
-- [params.total_events_threshold]
-- type = "int"
-- default = 15
-- doc = "an hour fires with more gaps than this (TotalEventsThreshold)"
--
-- [params.percent_beacon_threshold]
-- type = "int"
-- default = 80
-- doc = "and when more than this percentage of them have the most frequent length (PercentBeaconThreshold)"
--
-- [params.start]
-- type = "timestamp"
-- default = "1970-01-01"
-- doc = "first instant (KQL starttime=ago(2d)); --from sets it"
--
-- [params.end]
-- type = "timestamp"
-- default = "2200-01-01"
-- doc = "last instant, included (KQL endtime=ago(1d)); --to sets it"
-- ---
--
-- KQL → SQL notes:
-- * not(ipv4_is_private(DstIpAddr)) and not(ipv4_is_in_any_range(DstIpAddr, 169.254/16,
--   127/8)): public IPv4 destinations only (NULL for IPv6 and junk drops them, trap 4).
-- * sort by SrcIpAddr, TimeGenerated, DstIpAddr, DstPortNumber | serialize | next(...): the
--   next row of that one total order, over the whole result, so a gap is measured to the
--   source's next session whatever its destination. Only gaps within one source count (the
--   where below), so lead() over each source's sessions ordered by time, destination and port
--   (ascending, NULLs first as KQL sorts ascending) gives the same gaps, and lets each source
--   be sorted apart, in parallel, rather than all sessions in one sort. A NULL source is ''
--   (trap 1).
-- * datetime_diff('second', next, this): nethunt's datetime_diff, counting second boundaries.
-- * where SrcIpAddr == nextSrcIpAddr drops each source's last session.
-- * summarize count(), sum() by TimeDeltainSeconds, bin(TimeGenerated, 1h), ...: sums of
--   nothing but NULLs are 0 (trap 8); make_list is computed by the original but never shown.
-- * arg_max(count_, TimeDeltainSeconds): the most frequent gap; when two are as frequent
--   Kusto returns either, here the shorter (first_value ordered by count desc, gap asc).
-- * BeaconPercent = count / toreal(total) * 100, a real.
-- * Cost: every session is sorted by source and time and gets a gap (the original's
--   serialize); at 10M rows about 16 s, 12x uncommon_domains (bench/RESULTS.md). The rule reads
--   one day: give --from/--to.
WITH sessions AS (
    SELECT "TimeGenerated" AS t, coalesce("SrcIpAddr", '') AS src, "DstIpAddr" AS dst,
           "DstPortNumber" AS port, "SrcBytes" AS sb, "DstBytes" AS db
    FROM "NetworkSessions"
    WHERE "TimeGenerated" >= $start AND "TimeGenerated" <= $end
      AND NOT ipv4_is_private("DstIpAddr")
      AND NOT ipv4_is_in_any_range("DstIpAddr", '169.254.0.0/16', '127.0.0.0/8')
),
serialized AS (
    SELECT *,
           lead(t) OVER (PARTITION BY src ORDER BY t ASC NULLS FIRST, dst ASC NULLS FIRST, port ASC NULLS FIRST) AS next_t,
           lead(src) OVER (PARTITION BY src ORDER BY t ASC NULLS FIRST, dst ASC NULLS FIRST, port ASC NULLS FIRST) AS next_src
    FROM sessions
),
gaps AS (
    SELECT date_bin(INTERVAL '1 hour', t, TIMESTAMP '1970-01-01T00:00:00Z') AS hour, src, dst, port,
           datetime_diff('second', next_t, t) AS gap, sb, db
    FROM serialized
    WHERE src = next_src AND datetime_diff('second', next_t, t) > $time_delta_threshold
),
per_gap AS (
    SELECT hour, src, dst, port, gap, count(*) AS n,
           coalesce(sum(sb), 0) AS sb, coalesce(sum(db), 0) AS db
    FROM gaps GROUP BY hour, src, dst, port, gap
)
SELECT hour AS "TimeGenerated", src AS "SrcIpAddr", dst AS "DstIpAddr", port AS "DstPortNumber",
       max(n) AS "MostFrequentTimeDeltaCount",
       first_value(gap ORDER BY n DESC, gap ASC) AS "MostFrequentTimeDeltainSeconds",
       sum(n) AS "TotalEvents",
       sum(sb) AS "TotalSrcBytes",
       sum(db) AS "TotalDstBytes",
       max(n) / CAST(sum(n) AS DOUBLE) * 100 AS "BeaconPercent"
FROM per_gap
GROUP BY hour, src, dst, port
HAVING sum(n) > $total_events_threshold
   AND max(n) / CAST(sum(n) AS DOUBLE) * 100 > $percent_beacon_threshold
ORDER BY "BeaconPercent" DESC, "TotalEvents" DESC, "SrcIpAddr", "DstIpAddr", "DstPortNumber", "TimeGenerated"
