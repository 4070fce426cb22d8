-- ---
-- id = "a61e9fc1-dd9e-4588-a497-2a34a1d811bf"
-- name = "app_port_mismatch"
-- title = "Mismatch between destination application and destination port"
-- description = "Sessions whose destination application (dns, web-browsing, http, ssl, smtp) was seen on a standard port of another of those applications: a service on an unexpected port, or traffic dressed as another protocol."
-- mitre = []
-- tactics = ["Discovery"]
-- optional_columns = ["DstAppName", "EventStartTime", "EventEndTime"]
-- severity = "low"
-- source = "Microsoft Sentinel hunting query 'Mismatch between Destination App name and Destination Port (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Hunting Queries/MismatchBetweenDestinationAppNameAndDestinationPort.yaml (the query names no technique)"
-- reference = "https://github.com/Azure/Azure-Sentinel/tree/master/Solutions/Network%20Session%20Essentials/Hunting%20Queries"
--
-- [params.start]
-- type = "timestamp"
-- default = "1970-01-01"
-- doc = "first instant (KQL starttime=ago(1d)); --from sets it"
--
-- [params.end]
-- type = "timestamp"
-- default = "2200-01-01"
-- doc = "last instant, included (KQL endtime=now()); --to sets it"
-- ---
--
-- KQL → SQL notes:
-- * DstAppName in ("dns", "web-browsing", "http", "ssl", "smtp") is case-sensitive and comes
--   before tolower(DstAppName), so 'DNS' or 'HTTP' never match: kept as written (the
--   original's quirk; its tolower changes nothing).
-- * DstPortNumber in (53, 80, 8080, 8000, 443, 8443, 25): only sessions on one of these ports
--   are looked at; a web app on 9999 is no mismatch here.
-- * The four mismatch tests as in the original; summarize count(), min(EventStartTime),
--   max(EventEndTime) by SrcIpAddr, DstIpAddr, DstAppName, DstPortNumber (a NULL address is
--   the group '').
SELECT coalesce("SrcIpAddr", '') AS "SrcIpAddr", coalesce("DstIpAddr", '') AS "DstIpAddr",
       "DstAppName", "DstPortNumber",
       count(*) AS "Instances",
       min("EventStartTime") AS "EventStartTime", max("EventEndTime") AS "EventEndTime",
       coalesce("SrcIpAddr", '') AS "IP_0_Address", coalesce("DstIpAddr", '') AS "IP_1_Address"
FROM "NetworkSessions"
WHERE "TimeGenerated" >= $start AND "TimeGenerated" <= $end
  AND "DstAppName" IN ('dns', 'web-browsing', 'http', 'ssl', 'smtp')
  AND "DstPortNumber" IN (53, 80, 8080, 8000, 443, 8443, 25)
  AND (("DstAppName" = 'dns' AND NOT ("DstPortNumber" = 53))
    OR ("DstAppName" IN ('web-browsing', 'http') AND NOT ("DstPortNumber" IN (80, 8080, 8000)))
    OR ("DstAppName" = 'ssl' AND NOT ("DstPortNumber" IN (443, 8443)))
    OR ("DstAppName" = 'smtp' AND NOT ("DstPortNumber" = 25)))
GROUP BY coalesce("SrcIpAddr", ''), coalesce("DstIpAddr", ''), "DstAppName", "DstPortNumber"
ORDER BY "Instances" DESC, "SrcIpAddr", "DstIpAddr", "DstAppName", "DstPortNumber"
