-- ---
-- id = "cbe10c58-e96b-4827-853e-5c1f22fdcc74"
-- name = "users_sharing_mac"
-- title = "Several users with the same MAC address"
-- description = "A destination MAC address seen with two or more different user names: one device should have one user, so this may be MAC spoofing."
-- mitre = []
-- tactics = ["InitialAccess"]
-- optional_columns = ["DstMacAddr", "DstUsername"]
-- severity = "low"
-- source = "Microsoft Sentinel hunting query 'Detects several users with the same MAC address (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Hunting Queries/DetectsSeveralUsersWithTheSameMACAddress.yaml (the query names no technique)"
-- reference = "https://github.com/Azure/Azure-Sentinel/tree/master/Solutions/Network%20Session%20Essentials/Hunting%20Queries"
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
-- * isnotempty(x): neither NULL nor '' (KQL's empty string is its "null" for strings).
-- * make_set(DstUsername, 10) by DstMacAddr, then array_length(UserSet) >= 2: the set is capped
--   at 10; user names compare exactly, so 'Alice' and 'alice' are two users (make_set is
--   case-sensitive).
-- * A lake without DstMacAddr or DstUsername reads them as NULL: nothing to show.
SELECT "DstMacAddr",
       make_set("DstUsername", 10) AS "UserSet",
       array_length(make_set("DstUsername", 10)) AS "UniqueUsers"
FROM "NetworkSessions"
WHERE "TimeGenerated" >= $start AND "TimeGenerated" <= $end
  AND "DstMacAddr" IS NOT NULL AND "DstMacAddr" <> ''
  AND "DstUsername" IS NOT NULL AND "DstUsername" <> ''
GROUP BY "DstMacAddr"
HAVING array_length(make_set("DstUsername", 10)) >= 2
ORDER BY "UniqueUsers" DESC, "DstMacAddr"
