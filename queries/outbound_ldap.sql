-- ---
-- id = "5dca6047-24ed-4eb7-b44e-ec7f1bf42621"
-- name = "outbound_ldap"
-- title = "Outbound LDAP traffic"
-- description = "LDAP (389) or LDAPS (636) from an internal address to a public one: LDAP should not leave the perimeter, and attackers abuse it (JNDI callbacks, exposed directories)."
-- mitre = ["T1071", "T1059"]
-- tactics = ["InitialAccess", "Execution"]
-- optional_columns = ["EventCount", "EventVendor"]
-- severity = "medium"
-- source = "Microsoft Sentinel hunting query 'Detect Outbound LDAP Traffic (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Hunting Queries/Detect Outbound LDAP Traffic(ASIM Network Session schema).yaml (version 1.0.0)"
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
-- * tostring(DstPortNumber) has_any ("389", "636"): whole terms (3890 does not match).
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
  AND kql_has_any(CAST("DstPortNumber" AS VARCHAR), '389', '636')
GROUP BY "SrcIpAddr", "DstIpAddr", "DstPortNumber", coalesce("NetworkProtocol", ''), "EventResult"
ORDER BY "Eventscount" DESC, "SrcIpAddr", "DstIpAddr", "DstPortNumber"
