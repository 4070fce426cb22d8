-- ---
-- id = "96f9fdd1-bb5b-4d32-8790-666457dc00c0"
-- name = "cleartext_auth_protocols"
-- title = "Protocols passing authentication in cleartext"
-- description = "Sessions from an internal address to a public one over telnet (23), IMAP (143), POP3 (110) or non-anonymous FTP (21), which were not failures: credentials that may cross the network in cleartext."
-- mitre = ["T1071"]
-- tactics = ["CommandAndControl"]
-- optional_columns = ["EventCount", "EventVendor", "SrcUsername"]
-- severity = "medium"
-- source = "Microsoft Sentinel hunting query 'Protocols passing authentication in cleartext (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Hunting Queries/Protocols passing authentication in cleartext (ASIM Network Session schema).yaml (version 1.0.0)"
-- reference = "https://github.com/Azure/Azure-Sentinel/tree/master/Solutions/Network%20Session%20Essentials/Hunting%20Queries"
--
-- [params.start]
-- type = "timestamp"
-- default = "1970-01-01"
-- doc = "sessions after this instant, excluded (KQL TimeGenerated > ago(1d)); --from sets it"
--
-- [params.end]
-- type = "timestamp"
-- default = "2200-01-01"
-- doc = "last instant, included; --to sets it"
-- ---
--
-- KQL → SQL notes:
-- * TimeGenerated > ago(1d): strictly after $start.
-- * EventResult != "Failure": a NULL result is '' in KQL, which is not "Failure", so the row
--   stays; SQL's NULL <> would drop it (traps 1 and 2): coalesce(EventResult, '').
-- * tostring(DstPortNumber) has_any ("23", "143", "110"): whole terms (230 does not match).
-- * tostring(DstPortNumber) == "21" and SrcUsername != "anonymous": a NULL user is '', not
--   "anonymous", so it stays; the comparison is case-sensitive ("Anonymous" stays too).
-- * The by-columns come first; a NULL NetworkProtocol or EventResult is the group ''.
-- * sum(EventCount): a NULL EventCount, or a lake without it, counts as one event (ASIM).
-- * A lake without SrcUsername reads it as NULL ('' in KQL): every FTP session then counts.
-- * case(DstPortNumber == 23, "Telnet", ...): the first true branch, else "Other".
SELECT "SrcIpAddr", "DstIpAddr", "DstPortNumber",
       coalesce("NetworkProtocol", '') AS "NetworkProtocol",
       coalesce("EventResult", '') AS "EventResult",
       min("TimeGenerated") AS "Starttime", max("TimeGenerated") AS "EndTime",
       sum(coalesce("EventCount", 1)) AS "Eventscount",
       make_set("EventVendor", 10) AS "EventVendors",
       CASE "DstPortNumber" WHEN 23 THEN 'Telnet' WHEN 143 THEN 'IMAP' WHEN 110 THEN 'POP3'
                            WHEN 21 THEN 'FTP' ELSE 'Other' END AS "PortUsage",
       "SrcIpAddr" AS "IP_0_SrcIpAddr"
FROM "NetworkSessions"
WHERE "TimeGenerated" > $start AND "TimeGenerated" <= $end
  AND coalesce("EventResult", '') <> 'Failure'
  AND ipv4_is_private("SrcIpAddr") AND NOT ipv4_is_private("DstIpAddr")
  AND (kql_has_any(CAST("DstPortNumber" AS VARCHAR), '23', '143', '110')
       OR (CAST("DstPortNumber" AS VARCHAR) = '21' AND coalesce("SrcUsername", '') <> 'anonymous'))
GROUP BY "SrcIpAddr", "DstIpAddr", "DstPortNumber", coalesce("NetworkProtocol", ''),
         coalesce("EventResult", '')
ORDER BY "Eventscount" DESC, "SrcIpAddr", "DstIpAddr", "DstPortNumber"
