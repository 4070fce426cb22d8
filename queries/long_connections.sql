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
-- Sessions are first counted per pair, port and protocol; the pairs long enough are chosen from
-- those counts, and only their few rows make the port/protocol set (sorted, for a stable
-- listing): a set built for every pair of a large lake (millions) cost 50 s at 10M rows.
-- Cost: every session is grouped by pair and port; at 10M generated rows (millions of pairs)
-- about 9 s, 7x uncommon_domains (bench/RESULTS.md).
WITH per_port AS (
    SELECT "SrcIpAddr" AS src, "DstIpAddr" AS dst,
           concat(CAST("DstPortNumber" AS VARCHAR), '/', "NetworkProtocol") AS port_protocol,
           count(*) AS n,
           sum(coalesce(CAST("NetworkDuration" AS BIGINT), 0)) AS total_ms,
           max(coalesce(CAST("NetworkDuration" AS BIGINT), 0)) AS longest_ms,
           min("TimeGenerated") AS first_seen, max("TimeGenerated") AS last_seen
    FROM "NetworkSessions"
    WHERE "SrcIpAddr" IS NOT NULL AND "DstIpAddr" IS NOT NULL
    GROUP BY "SrcIpAddr", "DstIpAddr", concat(CAST("DstPortNumber" AS VARCHAR), '/', "NetworkProtocol")
),
long_pairs AS (
    SELECT src, dst, sum(n) AS n, sum(total_ms) AS total_ms, max(longest_ms) AS longest_ms,
           min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM per_port
    GROUP BY src, dst
    HAVING sum(total_ms) >= $min_seconds * 1000
),
port_sets AS (
    SELECT p.src, p.dst, array_sort(make_set(pp.port_protocol, 20)) AS ports
    FROM long_pairs p JOIN per_port pp ON pp.src = p.src AND pp.dst = p.dst
    GROUP BY p.src, p.dst
)
SELECT p.src AS "SrcIpAddr", p.dst AS "DstIpAddr",
       p.n AS "ConnectionCount",
       p.total_ms / 1000.0 AS "TotalSeconds",
       p.longest_ms / 1000.0 AS "LongestSeconds",
       s.ports AS "PortProtocols",
       p.first_seen AS "FirstSeen", p.last_seen AS "LastSeen"
FROM long_pairs p JOIN port_sets s ON s.src = p.src AND s.dst = p.dst
ORDER BY "TotalSeconds" DESC, "SrcIpAddr", "DstIpAddr"
