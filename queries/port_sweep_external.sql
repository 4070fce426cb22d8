-- ---
-- id = "cd8faa84-4464-4b4e-96dc-b22f50c27541"
-- name = "port_sweep_external"
-- title = "Network port sweep from an external network"
-- description = "One destination port reached, inbound, on more than $threshold distinct destination addresses: a sweep of one service across the network from outside."
-- mitre = []
-- tactics = ["Discovery"]
-- optional_columns = ["NetworkDirection"]
-- severity = "high"
-- source = "Microsoft Sentinel analytic rule 'Network Port Sweep from External Network (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Analytic Rules/NetworkPortSweepFromExternalNetwork.yaml (version 1.0.2; the rule names no technique)"
-- reference = "https://github.com/Azure/Azure-Sentinel/blob/master/Solutions/Network%20Session%20Essentials/Analytic%20Rules/NetworkPortSweepFromExternalNetwork.yaml"
--
-- [params.threshold]
-- type = "int"
-- default = 20
-- doc = "a port fires when more than this many distinct destinations were reached on it"
--
-- [params.start]
-- type = "timestamp"
-- default = "1970-01-01"
-- doc = "first instant (KQL starttime=ago(lookback), lookback 1h); --from sets it"
--
-- [params.end]
-- type = "timestamp"
-- default = "2200-01-01"
-- doc = "last instant, included (KQL endtime=now()); --to sets it"
-- ---
--
-- KQL → SQL notes:
-- * _Im_NetworkSession(starttime, endtime): TimeGenerated between them, both included, as the
--   ASIM parsers filter.
-- * NetworkDirection == "Inbound": case-sensitive equality (trap 6). A lake without the column
--   reads it as NULL (optional_columns): nothing is inbound, nothing fires.
-- * make_set(DstIpAddr, 100) by DstPortNumber, then array_length(set_DstIpAddr) > threshold: the
--   set is capped at 100 before it is counted, as in the original (a port reached on 150 hosts
--   has a set of 100). A NULL DstPortNumber is a group of its own in both languages; a NULL
--   DstIpAddr is not a member of the set.
SELECT "DstPortNumber",
       make_set("DstIpAddr", 100) AS "set_DstIpAddr"
FROM "NetworkSessions"
WHERE "TimeGenerated" >= $start AND "TimeGenerated" <= $end
  AND "NetworkDirection" = 'Inbound'
GROUP BY "DstPortNumber"
HAVING array_length(make_set("DstIpAddr", 100)) > $threshold
ORDER BY "DstPortNumber" NULLS FIRST
