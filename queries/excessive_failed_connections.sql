-- ---
-- id = "4902eddb-34f7-44a8-ac94-8486366e9494"
-- name = "excessive_failed_connections"
-- title = "Excessive number of failed connections from a single source"
-- description = "One source with more than $threshold failed connections within one time bin: a flood, a misconfiguration or a brute-force tool."
-- mitre = ["T1499"]
-- tactics = ["Impact"]
-- severity = "medium"
-- source = "Microsoft Sentinel analytic rule 'Excessive number of failed connections from a single source (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Analytic Rules/ExcessiveHTTPFailuresFromSource.yaml (version 1.2.4)"
-- reference = "https://github.com/Azure/Azure-Sentinel/blob/master/Solutions/Network%20Session%20Essentials/Analytic%20Rules/ExcessiveHTTPFailuresFromSource.yaml"
--
-- [params.threshold]
-- type = "int"
-- default = 5000
-- doc = "a source fires with more failures than this in one bin"
--
-- [params.bin]
-- type = "interval"
-- default = "5m"
-- doc = "bin width, from the Unix epoch in UTC (KQL bin(TimeGenerated, 5m))"
-- ---
--
-- KQL → SQL notes:
-- * _Im_NetworkSession(eventresult='Failure'): EventResult == "Failure", case-sensitive.
-- * summarize count() by SrcIpAddr: KQL strings are never NULL, so a session without a source
--   counts in the group '' (trap 1): coalesce(SrcIpAddr, '').
-- * extend timestamp = TimeGenerated, threshold: both kept as output columns.
-- * The rule's 1h query period is --from/--to here.
SELECT coalesce("SrcIpAddr", '') AS "SrcIpAddr",
       date_bin($bin, "TimeGenerated", TIMESTAMP '1970-01-01T00:00:00Z') AS "TimeGenerated",
       count(*) AS "Count",
       date_bin($bin, "TimeGenerated", TIMESTAMP '1970-01-01T00:00:00Z') AS "timestamp",
       $threshold AS "threshold"
FROM "NetworkSessions"
WHERE "EventResult" = 'Failure'
GROUP BY coalesce("SrcIpAddr", ''), date_bin($bin, "TimeGenerated", TIMESTAMP '1970-01-01T00:00:00Z')
HAVING count(*) > $threshold
ORDER BY "Count" DESC, "SrcIpAddr", "TimeGenerated"
