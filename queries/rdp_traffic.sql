-- ---
-- id = "6fd69768-fdf1-4cfd-805f-b243be3f0c6d"
-- name = "rdp_traffic"
-- title = "Remote desktop network traffic"
-- description = "Remote desktop (TCP/3389) from an internal address to a public one: RDP is common inside a network, rare and risky across its edge."
-- mitre = ["T1021", "T1021.001"]
-- tactics = ["LateralMovement"]
-- optional_columns = ["EventCount", "EventVendor"]
-- severity = "medium"
-- source = "Microsoft Sentinel hunting query 'Remote Desktop Network Traffic (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Hunting Queries/Remote Desktop Network Traffic(ASIM Network Session schema).yaml (version 1.0.0)"
-- reference = "https://github.com/Azure/Azure-Sentinel/tree/master/Solutions/Network%20Session%20Essentials/Hunting%20Queries"
--
-- [params.eventresult]
-- type = "string"
-- default = "Failure"
-- doc = "the parser's eventresult filter; the stored KQL writes eventresult='Failure\" (mismatched quotes, not valid KQL): its value is taken as written"
--
-- [params.start]
-- type = "timestamp"
-- default = "1970-01-01"
-- doc = "first instant (KQL starttime=ago(1d)); --from sets it"
--
-- [params.end]
-- type = "timestamp"
-- default = "2200-01-01"
-- doc = "last instant, included; --to sets it"
-- ---
--
-- KQL → SQL notes:
-- * ipv4_is_private(SrcIpAddr) and not(ipv4_is_private(DstIpAddr)): both IPv4 (NULL otherwise,
--   which drops the row in both languages, trap 4).
-- * tostring(DstPortNumber) has_any ("3389"): whole terms (33890 does not match).
-- * summarize ... by SrcIpAddr, DstIpAddr, DstPortNumber, NetworkProtocol, EventResult: a NULL
--   NetworkProtocol is the group '' (strings are never NULL, trap 1).
-- * sum(EventCount): a NULL EventCount, or a lake without the column, counts as one event, as
--   ASIM defines it (sum(coalesce(EventCount, 1))). extend IP_0_Address = SrcIpAddr is kept.
SELECT "SrcIpAddr", "DstIpAddr", "DstPortNumber",
       coalesce("NetworkProtocol", '') AS "NetworkProtocol",
       "EventResult",
       min("TimeGenerated") AS "Starttime", max("TimeGenerated") AS "EndTime",
       sum(coalesce("EventCount", 1)) AS "Eventscount",
       make_set("EventVendor", 10) AS "EventVendors",
       "SrcIpAddr" AS "IP_0_Address"
FROM "NetworkSessions"
WHERE "TimeGenerated" >= $start AND "TimeGenerated" <= $end
  AND "EventResult" = $eventresult
  AND ipv4_is_private("SrcIpAddr") AND NOT ipv4_is_private("DstIpAddr")
  AND "SrcIpAddr" <> "DstIpAddr"
  AND kql_has_any(CAST("DstPortNumber" AS VARCHAR), '3389')
GROUP BY "SrcIpAddr", "DstIpAddr", "DstPortNumber", coalesce("NetworkProtocol", ''), "EventResult"
ORDER BY "Eventscount" DESC, "SrcIpAddr", "DstIpAddr", "DstPortNumber"
