-- ---
-- id = "3d9b7c2e-6f41-4c8a-9e15-b2a7d0c4e861"
-- name = "ti_map_ip"
-- title = "TI map IP entity to network sessions"
-- description = "Sessions whose source or destination address is an active threat-intelligence indicator (table ti_indicators): contact with known-bad infrastructure."
-- mitre = ["T1071"]
-- tactics = ["CommandAndControl"]
-- optional_columns = ["Dvc", "DvcFQDN", "DvcHostname", "DvcIpAddr", "DvcId", "EventType", "EventProduct", "EventVendor"]
-- severity = "medium"
-- source = "Microsoft Sentinel analytic rule 'TI map IP entity to Network Session Events (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Threat Intelligence/Analytic Rules/IPEntity_imNetworkSession.yaml (version 1.2.2; the Detections/ASimNetworkSession copy lists the Impact tactic)"
-- reference = "https://github.com/Azure/Azure-Sentinel/tree/master/Solutions/Threat%20Intelligence/Analytic%20Rules"
--
-- [params.ioc_lookback]
-- type = "interval"
-- default = "14d"
-- doc = "indicators updated within this long before now count (KQL ioc_lookBack)"
--
-- [params.start]
-- type = "timestamp"
-- default = "1970-01-01"
-- doc = "first session instant (KQL starttime=ago(dt_lookBack), dt_lookBack 1h); --from sets it"
--
-- [params.end]
-- type = "timestamp"
-- default = "2200-01-01"
-- doc = "last session instant, included; --to sets it"
--
-- # The original reads Sentinel's ThreatIntelligenceIndicator table. Here it is a declared input
-- # in those columns: your indicators exported as CSV or Parquet (--table ti_indicators=PATH|URL),
-- # else the bundled example, which holds documentation addresses (RFC 5737) only.
-- [tables.ti_indicators]
-- example = "ti_indicators"
-- columns = ["IndicatorId:string", "TimeGenerated:datetime", "ExpirationDateTime:datetime", "Active:bool", "NetworkIP:string", "NetworkDestinationIP:string", "NetworkSourceIP:string", "EmailSourceIpAddress:string", "ThreatType:string", "Description:string", "ActivityGroupNames:string", "ConfidenceScore:int"]
--
-- # the indicators' addresses (few) are the hash tables the sessions (many) probe, each
-- # session read once and never moved between partitions (see `candidates`)
-- [settings]
-- "datafusion.optimizer.repartition_joins" = false
-- ---
--
-- KQL → SQL notes:
-- * ago(...) and now(): nethunt hunts archives, so "now" is the newest session in the window
--   (as in smb_anomaly); indicators count when updated at or after now - ioc_lookback and
--   expiring after now.
-- * summarize arg_max(TimeGenerated, *) by IndicatorId: the newest version of each indicator,
--   after the time filter (a newer version that withdraws an indicator wins); Kusto breaks a
--   tie arbitrarily, here the later expiry, then an active version, wins.
-- * where Active == true: a NULL Active is not true.
-- * coalesce(NetworkIP, NetworkDestinationIP, NetworkSourceIP, EmailSourceIpAddress, "NO_IP"):
--   KQL's coalesce skips empty strings as well as NULLs (strings are never NULL in KQL), so
--   each is nullif(x, '') here; an indicator with no address is dropped.
-- * Dvc is the ASIM parser's alias: the lake's Dvc, else DvcFQDN, DvcHostname, DvcIpAddr (not
--   for L2 sessions), DvcId, else EventVendor/EventProduct (Sentinel's native parser), the
--   first that is not empty.
-- * isnotempty(SrcIpAddr); summarize by SrcIpAddr, DstIpAddr, Dvc, EventProduct, EventVendor:
--   a NULL string is '' in KQL and groups with '' (coalesce). Only pairs with an indicator's
--   address are grouped (see `candidates`): at 10M generated rows grouping every session took
--   67 s, the candidates as two semi-joins 8-10 s (EXPLAIN ANALYZE: DataFusion hashed the 10M
--   sessions, not the 3 addresses, and shuffled them between partitions: 6.5 GB resident), as
--   the probe side of two joins on the addresses 1.3 s and 127 MB (release build, the same
--   2 rows).
-- * lookup ... on $left.SrcIpAddr == $right.TI_ipEntity: lookup is a left outer join; SrcMatch
--   is Active (true) or NULL. Two indicators with one address give two rows, as in Kusto.
--   Addresses compare exactly: an indicator's IPv6 in upper case does not match a session's in
--   lower case (nor in Kusto).
-- * where SrcMatch or DstMatch: NULL or true is true; iff(SrcMatch, ...) takes the else branch
--   for NULL, as CASE WHEN does.
-- * join kind=innerunique with IP_TI on the left: Kusto keeps one (arbitrary) indicator per
--   address before joining; here the newest, then the smallest IndicatorId.
-- * where imNWS_mintime < ExpirationDateTime; project in the original's column order, an
--   indicator's missing strings as '' (never NULL in KQL).
WITH sessions AS (
    SELECT "TimeGenerated" AS t, "SrcIpAddr" AS src, "DstIpAddr" AS dst,
           coalesce(nullif("Dvc", ''), nullif("DvcFQDN", ''), nullif("DvcHostname", ''),
                    nullif(CASE WHEN "EventType" = 'L2NetworkSession' THEN NULL ELSE "DvcIpAddr" END, ''),
                    nullif("DvcId", ''),
                    coalesce("EventVendor", '') || '/' || coalesce("EventProduct", '')) AS dvc,
           "EventProduct" AS product, "EventVendor" AS vendor
    FROM "NetworkSessions"
    WHERE "TimeGenerated" >= $start AND "TimeGenerated" <= $end
),
run_at AS (
    SELECT max(t) AS now FROM sessions
),
versions AS (
    SELECT i.*,
           row_number() OVER (
               PARTITION BY coalesce(i."IndicatorId", '')
               ORDER BY i."TimeGenerated" DESC, i."ExpirationDateTime" DESC, i."Active" DESC NULLS LAST
           ) AS version
    FROM ti_indicators i CROSS JOIN run_at r
    WHERE i."TimeGenerated" >= r.now - CAST($ioc_lookback AS INTERVAL) AND i."ExpirationDateTime" > r.now
),
ip_ti AS (
    SELECT *
    FROM (
        SELECT v.*,
               coalesce(nullif(v."NetworkIP", ''), nullif(v."NetworkDestinationIP", ''),
                        nullif(v."NetworkSourceIP", ''), nullif(v."EmailSourceIpAddress", ''),
                        'NO_IP') AS entity
        FROM versions v
        WHERE v.version = 1 AND v."Active" = true
    ) a
    WHERE entity <> 'NO_IP'
),
-- Only sessions with an indicator's address at either end can end in a match, and a pair's
-- sessions all share its addresses: keeping just those sessions before grouping gives the same
-- pairs, min and max (instead of grouping every session of the lake by five strings). The
-- distinct addresses are the build side of two hash joins the sessions probe (written as
-- RIGHT JOINs so that the few addresses, not the many sessions, are hashed; with
-- repartition_joins off the sessions stay where they were read): each session once, kept when
-- its source or its destination is an address. The strings are made '' only for those sessions
-- (a NULL destination matches no indicator, whose addresses are never empty). The addresses
-- are those of every indicator, a superset of ip_ti's (the lookups below keep exact matches
-- only): read straight from the table, the plan stays shallow enough for Ballista's plan
-- decoder, which refuses a plan nested past its recursion limit.
entities AS (
    SELECT DISTINCT coalesce(nullif("NetworkIP", ''), nullif("NetworkDestinationIP", ''),
                             nullif("NetworkSourceIP", ''), nullif("EmailSourceIpAddress", '')) AS entity
    FROM ti_indicators
),
candidates AS (
    SELECT s.t, s.src, s.dst, s.dvc, s.product, s.vendor
    FROM entities es
    RIGHT JOIN (
        SELECT x.*, ed.entity AS dst_hit
        FROM entities ed RIGHT JOIN sessions x ON x.dst = ed.entity
        WHERE x.src IS NOT NULL AND x.src <> ''
    ) s ON s.src = es.entity
    WHERE es.entity IS NOT NULL OR s.dst_hit IS NOT NULL
),
pairs AS (
    SELECT src, coalesce(dst, '') AS dst, coalesce(dvc, '') AS dvc,
           coalesce(product, '') AS product, coalesce(vendor, '') AS vendor,
           min(t) AS mintime, max(t) AS maxtime
    FROM candidates
    GROUP BY src, coalesce(dst, ''), coalesce(dvc, ''), coalesce(product, ''),
             coalesce(vendor, '')
),
src_looked_up AS (
    SELECT p.*, m."Active" AS src_match
    FROM pairs p LEFT JOIN (SELECT entity, "Active" FROM ip_ti) m ON p.src = m.entity
),
looked_up AS (
    SELECT s.*, m."Active" AS dst_match
    FROM src_looked_up s LEFT JOIN (SELECT entity, "Active" FROM ip_ti) m ON s.dst = m.entity
),
matched AS (
    SELECT *,
           CASE WHEN src_match THEN src ELSE dst END AS ioc_ip,
           CASE WHEN src_match THEN 'Source' ELSE 'Destination' END AS ioc_direction
    FROM looked_up
    WHERE src_match OR dst_match
),
one_per_address AS (
    SELECT *
    FROM (
        SELECT ip_ti.*,
               row_number() OVER (PARTITION BY entity ORDER BY "TimeGenerated" DESC, "IndicatorId") AS pick
        FROM ip_ti
    ) a
    WHERE pick = 1
)
SELECT m.mintime AS "imNWS_mintime", m.maxtime AS "imNWS_maxtime",
       coalesce(i."Description", '') AS "Description",
       coalesce(i."ActivityGroupNames", '') AS "ActivityGroupNames",
       coalesce(i."IndicatorId", '') AS "IndicatorId", coalesce(i."ThreatType", '') AS "ThreatType",
       i."ExpirationDateTime", i."ConfidenceScore",
       m.src AS "SrcIpAddr", m.dst AS "DstIpAddr", m.ioc_direction AS "IoCDirection",
       m.ioc_ip AS "IoCIP", m.dvc AS "Dvc", m.vendor AS "EventVendor", m.product AS "EventProduct"
FROM one_per_address i
JOIN matched m ON i.entity = m.ioc_ip
WHERE m.mintime < i."ExpirationDateTime"
ORDER BY "imNWS_mintime", "IoCIP", "SrcIpAddr", "DstIpAddr", "Dvc", "EventVendor", "EventProduct"
