-- ---
-- id = "767b8f6d-8029-4c92-afe1-282167d9d49a"
-- name = "omi_ports"
-- title = "Connection from an external IP to OMI ports"
-- description = "Sessions that were not failures from a public IPv4 address to the Open Management Infrastructure ports 5985, 5986 or 1270: attempts on the OMIGOD vulnerability (CVE-2021-38647)."
-- mitre = ["T1595", "T1190"]
-- tactics = ["Reconnaissance", "InitialAccess"]
-- optional_columns = ["EventProduct"]
-- severity = "high"
-- source = "Microsoft Sentinel hunting query 'Connection from external IP to OMI related Ports', Azure/Azure-Sentinel: Solutions/Legacy IOC based Threat Protection/Hunting Queries/NetworkConnectiontoOMIPorts.yaml (version 1.0.1), its imNetworkSession branch"
-- reference = "https://techcommunity.microsoft.com/t5/azure-sentinel/hunting-for-omi-vulnerability-exploitation-with-azure-sentinel/ba-p/2764093"
--
-- [params.ports]
-- type = "int[]"
-- default = [5985, 5986, 1270]
-- doc = "the OMI management ports (KQL dynamic([\"5985\",\"5986\",\"1270\"]))"
-- ---
--
-- KQL → SQL notes:
-- * union isfuzzy=true over four tables: only the imNetworkSession branch reads network
--   sessions; the VMConnection, AzureNetworkAnalytics_CL and AzureDiagnostics branches read
--   Azure tables nethunt does not have.
-- * ipv4_is_private(SrcIpAddr) == 0: false for public IPv4, NULL (dropped) for IPv6 and junk.
-- * DstPortNumber in (Port), Port a list of strings and DstPortNumber an int: Kusto's coercion
--   here is undocumented; the hunt's intent, the port numbers, is kept as integers.
-- * EventResult != 'Failure': a NULL result is '' and stays (traps 1, 2).
-- * project: Type, Dvc and the SrcGeo* columns are left out (most lakes have none, and the hunt
--   does not test them); the others keep the original's names.
SELECT "TimeGenerated", "EventProduct", "EventResult",
       "SrcIpAddr" AS "SourceIp", "DstIpAddr" AS "DestinationIp",
       "DstPortNumber" AS "DestinationPort", "SrcPortNumber",
       "NetworkProtocol" AS "Protocol",
       "TimeGenerated" AS "Timestamp", "SrcIpAddr" AS "IPCustomEntity"
FROM "NetworkSessions"
WHERE ipv4_is_private("SrcIpAddr") = false
  AND "SrcIpAddr" <> '127.0.0.1'
  AND array_has($ports, CAST("DstPortNumber" AS BIGINT))
  AND coalesce("EventResult", '') <> 'Failure'
ORDER BY "TimeGenerated", "SourceIp", "DestinationIp", "DestinationPort"
