-- ---
-- id = "8717e498-7b5d-4e23-9e7c-fa4913dbfd79"
-- name = "smb_anomaly"
-- title = "Anomaly in SMB traffic"
-- description = "Internal sources whose SMB (139, 445) connections in the last day differ from their baseline (the 13 days before) by more than $threshold of it: lateral movement over file shares, or ransomware touching them."
-- mitre = ["T1021", "T1021.002"]
-- tactics = ["LateralMovement"]
-- severity = "medium"
-- source = "Microsoft Sentinel analytic rule 'Anomaly in SMB Traffic (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Analytic Rules/Anomaly in SMB Traffic(ASIM Network Session schema).yaml (version 1.0.1)"
-- reference = "https://github.com/Azure/Azure-Sentinel/tree/master/Solutions/Network%20Session%20Essentials/Analytic%20Rules"
--
-- [params.threshold]
-- type = "float"
-- default = 0.5
-- doc = "a source fires when |recent - baseline| / baseline is above this"
--
-- [params.baseline]
-- type = "interval"
-- default = "14d"
-- doc = "how far back the baseline starts (KQL starttime = ago(14d))"
--
-- [params.recent]
-- type = "interval"
-- default = "1d"
-- doc = "the recent period, and where the baseline ends (KQL endtime = ago(1d))"
-- ---
--
-- KQL → SQL notes:
-- * ago(...): nethunt hunts archives, so "now" is the newest session of NetworkSessions (after
--   --from/--to); the baseline is [now - 14d, now - 1d] and the recent period [now - 1d, now],
--   both including their ends as the ASIM parsers filter (a session at exactly now - 1d is in
--   both, as in the original).
-- * ipv4_is_private(SrcIpAddr): internal IPv4 sources only; SrcIpAddr != DstIpAddr (a NULL
--   destination is '' in KQL and differs from any source: coalesce).
-- * tostring(DstPortNumber) has_any (SMBPorts): whole terms, so 4450 and 1390 are not SMB.
-- * summarize Count = count() by SrcIpAddr, DstPortNumber | summarize AvgCount = avg(Count) by
--   the same keys: each group holds one count, so AvgCount is the baseline's whole count, not
--   a daily average. Kept as written: the rule compares a day with 13 days' total.
-- * join kind=inner on SrcIpAddr, DstPortNumber: a source without a baseline is not shown.
-- * Deviation = abs(RecentCount - AvgCount) / AvgCount, a real.
WITH smb AS (
    SELECT "TimeGenerated" AS t, "SrcIpAddr" AS src, "DstPortNumber" AS port
    FROM "NetworkSessions"
    WHERE ipv4_is_private("SrcIpAddr")
      AND kql_has_any(CAST("DstPortNumber" AS VARCHAR), '139', '445')
      AND "SrcIpAddr" <> coalesce("DstIpAddr", '')
),
now AS (SELECT max("TimeGenerated") AS now FROM "NetworkSessions"),
baseline AS (
    SELECT src, port, CAST(count(*) AS DOUBLE) AS avg_count
    FROM smb CROSS JOIN now
    WHERE t >= now - CAST($baseline AS INTERVAL) AND t <= now - CAST($recent AS INTERVAL)
    GROUP BY src, port
),
recent AS (
    SELECT src, port, min(t) AS start_utc, max(t) AS end_utc, count(*) AS recent_count
    FROM smb CROSS JOIN now
    WHERE t >= now - CAST($recent AS INTERVAL)
    GROUP BY src, port
)
SELECT r.src AS "SrcIpAddr", r.port AS "DstPortNumber",
       abs(r.recent_count - b.avg_count) / b.avg_count AS "Deviation",
       r.recent_count AS "Count"
FROM baseline b JOIN recent r ON b.src = r.src AND b.port = r.port
WHERE abs(r.recent_count - b.avg_count) / b.avg_count > $threshold
ORDER BY "Deviation" DESC, "SrcIpAddr", "DstPortNumber"
