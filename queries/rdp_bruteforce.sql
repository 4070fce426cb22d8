-- ---
-- id = "b7dc801e-1e79-48bb-91e8-2229a8e6d40b"
-- name = "rdp_bruteforce"
-- title = "Remote desktop network brute force"
-- description = "A public source with at least $threshold failed RDP (port 3389) events to a destination port within one time bin, not blocked by the device: password guessing over RDP."
-- mitre = ["T1110"]
-- tactics = ["CredentialAccess"]
-- optional_columns = ["DvcAction", "EventCount", "EventVendor"]
-- severity = "medium"
-- source = "Microsoft Sentinel analytic rule 'Remote Desktop Network Brute force (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Analytic Rules/Remote Desktop Network Brute force (ASIM Network Session schema).yaml (version 1.0.1; the older 'Bruteforce' copy lists LateralMovement, T1021 and T1021.001)"
-- reference = "https://github.com/Azure/Azure-Sentinel/tree/master/Solutions/Network%20Session%20Essentials/Analytic%20Rules"
--
-- [params.threshold]
-- type = "int"
-- default = 25
-- doc = "a group fires with at least this many events (sum of EventCount)"
--
-- [params.bin]
-- type = "interval"
-- default = "5m"
-- doc = "bin width, from the Unix epoch in UTC"
-- ---
--
-- KQL → SQL notes:
-- * not(ipv4_is_private(SrcIpAddr)): NULL for IPv6 and junk, so those are dropped (trap 4).
-- * tostring(DstPortNumber) has_any ("3389"): kql_has_any, a whole-term match, so 33890 and
--   13389 do not match as LIKE '%3389%' would; a NULL port is '' in KQL and matches nothing.
-- * SrcIpAddr != DstIpAddr: both non-NULL here (the source passed the IPv4 test; a NULL
--   destination would be '' in KQL, which differs from any address): coalesce keeps it so.
-- * DvcAction !in ("Deny", "Drop"): a NULL DvcAction is '' in KQL, which is not in the list, so
--   the row stays; SQL's NULL NOT IN (...) would drop it (trap 2): coalesce(DvcAction, '').
--   Sensors that do not act (Zeek, Suricata) leave DvcAction NULL and are kept.
-- * dcount(DstIpAddr): a NULL destination counts as the value '' (trap 1).
-- * sum(EventCount): ASIM defines EventCount as the events a record stands for, 1 for a single
--   event; a NULL EventCount, or a lake without the column, counts as 1 (Kusto would skip a
--   NULL, which ASIM data does not have): sum(coalesce(EventCount, 1)).
-- * make_set(EventVendor, 10): nethunt's make_set. KQL puts the by-columns first.
-- * The rule's 1h query period is --from/--to here.
WITH attempts AS (
    SELECT "SrcIpAddr" AS src, "DstPortNumber" AS port, "EventResult" AS result,
           date_bin($bin, "TimeGenerated", TIMESTAMP '1970-01-01T00:00:00Z') AS bin_start,
           "TimeGenerated" AS t, coalesce("DstIpAddr", '') AS dst, "EventCount" AS n,
           "EventVendor" AS vendor
    FROM "NetworkSessions"
    WHERE "EventResult" = 'Failure'
      AND NOT ipv4_is_private("SrcIpAddr")
      AND kql_has_any(CAST("DstPortNumber" AS VARCHAR), '3389')
      AND "SrcIpAddr" <> coalesce("DstIpAddr", '')
      AND coalesce("DvcAction", '') NOT IN ('Deny', 'Drop')
)
SELECT src AS "SrcIpAddr", port AS "DstPortNumber", result AS "EventResult",
       bin_start AS "TimeGenerated",
       min(t) AS "Starttime", max(t) AS "EndTime",
       COUNT(DISTINCT dst) AS "TargettedIPs",
       sum(coalesce(n, 1)) AS "Eventscount",
       make_set(vendor, 10) AS "EventVendors"
FROM attempts
GROUP BY src, port, result, bin_start
HAVING sum(coalesce(n, 1)) >= $threshold
ORDER BY "Eventscount" DESC, "SrcIpAddr", "TimeGenerated"
