-- ---
-- id = "6a2f8d14-3b7c-4e95-a1d0-8c5e2f7b3a91"
-- name = "long_connections"
-- title = "Long connections between two hosts"
-- description = "Source/destination pairs whose connections add up to at least $min_seconds seconds: tunnels, reverse shells and C2 channels that stay open, in the manner of RITA's long-connection analysis."
-- mitre = ["T1071", "T1572"]
-- tactics = ["CommandAndControl"]
-- optional_columns = ["NetworkDuration"]
-- severity = "low"
-- source = "activecm/rita: long connections (total duration per host pair); a port of the method, not of a KQL rule"
-- reference = "https://github.com/activecm/rita"
--
-- [params.min_seconds]
-- type = "int"
-- default = 3600
-- doc = "a pair is shown when its connections last this many seconds in all"
-- ---
--
-- NetworkDuration is milliseconds (ASIM); a connection without one counts 0 (open connections
-- that were never closed have none in Zeek), and a lake without the column has no long
-- connections to show (optional_columns). The pair's ports and protocols are listed as
-- "port/protocol" (RITA shows port:protocol:service), its longest single connection beside the
-- total.
SELECT "SrcIpAddr", "DstIpAddr",
       count(*) AS "ConnectionCount",
       sum(coalesce(CAST("NetworkDuration" AS BIGINT), 0)) / 1000.0 AS "TotalSeconds",
       max(coalesce(CAST("NetworkDuration" AS BIGINT), 0)) / 1000.0 AS "LongestSeconds",
       make_set(concat(CAST("DstPortNumber" AS VARCHAR), '/', "NetworkProtocol"), 20) AS "PortProtocols",
       min("TimeGenerated") AS "FirstSeen", max("TimeGenerated") AS "LastSeen"
FROM "NetworkSessions"
WHERE "SrcIpAddr" IS NOT NULL AND "DstIpAddr" IS NOT NULL
GROUP BY "SrcIpAddr", "DstIpAddr"
HAVING sum(coalesce(CAST("NetworkDuration" AS BIGINT), 0)) >= $min_seconds * 1000
ORDER BY "TotalSeconds" DESC, "SrcIpAddr", "DstIpAddr"
