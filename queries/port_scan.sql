-- ---
-- id = "1da9853f-3dea-4ea9-b7e5-26730da3d537"
-- name = "port_scan"
-- title = "Port scan detected"
-- description = "A single public source tries more than $threshold distinct destination ports within one time bin: a port scanner looking for open services."
-- mitre = ["T1046"]
-- tactics = ["Discovery"]
-- optional_columns = ["EventVendor", "EventProduct"]
-- severity = "medium"
-- source = "Microsoft Sentinel analytic rule 'Port scan detected (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Analytic Rules/PortScan.yaml (version 1.0.6)"
-- reference = "https://github.com/Azure/Azure-Sentinel/blob/master/Solutions/Network%20Session%20Essentials/Analytic%20Rules/PortScan.yaml"
--
-- [params.threshold]
-- type = "int"
-- default = 50
-- doc = "a source fires when it tries more than this many distinct ports in one bin (PortScanThreshold)"
--
-- [params.bin]
-- type = "interval"
-- default = "5m"
-- doc = "bin width, from the Unix epoch in UTC (KQL bin(TimeGenerated, 5m))"
-- ---
--
-- KQL → SQL notes (the semantics sheet, section 0):
-- * ipv4_is_private(SrcIpAddr) == False: NULL for IPv6 and junk, and NULL == false drops the
--   row in KQL as in SQL, so only public IPv4 sources are counted (trap 4).
-- * SrcIpAddr !in ("127.0.0.1", "::1"): SrcIpAddr is never NULL past the first test, so SQL's
--   NOT IN with NULLs (trap 2) cannot arise.
-- * dcount(DstPortNumber): COUNT(DISTINCT ...); both ignore a NULL port. Kusto's dcount is exact
--   below about 1000 values at its default accuracy, so the threshold test is exact.
-- * make_set(DstPortNumber, 100), make_set(strcat(EventVendor, "/", EventProduct), 20): nethunt's
--   make_set; strcat of a NULL is an empty string in KQL, as concat() skips NULLs in SQL.
-- * by SrcIpAddr, bin(TimeGenerated, 5m): the bin is grouped under its own name and then shown
--   as TimeGenerated (alias shadowing, trap 9); KQL puts the by-columns first.
-- * The rule's 1h query period is --from/--to here. Rows come unordered in KQL; an order is
--   added so output is reproducible.
WITH probes AS (
    SELECT "SrcIpAddr" AS src,
           date_bin($bin, "TimeGenerated", TIMESTAMP '1970-01-01T00:00:00Z') AS bin_start,
           "DstPortNumber" AS port,
           concat("EventVendor", '/', "EventProduct") AS reporter
    FROM "NetworkSessions"
    WHERE ipv4_is_private("SrcIpAddr") = false
      AND "SrcIpAddr" NOT IN ('127.0.0.1', '::1')
)
SELECT src AS "SrcIpAddr",
       bin_start AS "TimeGenerated",
       COUNT(DISTINCT port) AS "AttemptedPortsCount",
       make_set(port, 100) AS "AttemptedPorts",
       make_set(reporter, 20) AS "ReportedBy"
FROM probes
GROUP BY src, bin_start
HAVING COUNT(DISTINCT port) > $threshold
ORDER BY "AttemptedPortsCount" DESC, "SrcIpAddr", "TimeGenerated"
