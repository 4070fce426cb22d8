-- ---
-- id = "5c0e8a31-9d27-4f6b-a4c3-71e2b9d05f18"
-- name = "port_misuse_static"
-- title = "Port misuse by static threshold"
-- description = "Destination ports carrying more sessions than the static threshold a port-monitoring watchlist (table port_monitor) sets for them, by protocol, direction and device action."
-- mitre = ["T1095", "T1190", "T1059", "T1203"]
-- tactics = ["CommandAndControl", "InitialAccess", "Execution"]
-- optional_columns = ["DvcAction", "NetworkDirection", "NetworkProtocol"]
-- severity = "medium"
-- source = "Microsoft Sentinel hunting query 'Detect port misuse by static threshold (ASIM Network Session schema)', Azure/Azure-Sentinel: Solutions/Network Session Essentials/Hunting Queries/DetectPortMisuseByStaticThresholdHunting.yaml (the analytic rule DetectPortMisuseByStaticThreshold.yaml is the same query over rows of Type Detection: -p type=Detection)"
-- reference = "https://github.com/Azure/Azure-Sentinel/tree/master/Solutions/Network%20Session%20Essentials/Hunting%20Queries"
--
-- [params.type]
-- type = "string"
-- default = "Hunting"
-- doc = "the watchlist rows used: Hunting (this hunting query) or Detection (the analytic rule)"
--
-- [params.start]
-- type = "timestamp"
-- default = "1970-01-01"
-- doc = "sessions after this instant (KQL TimeGenerated > bin(now(-20m), 20m)); --from sets it"
--
-- [params.end]
-- type = "timestamp"
-- default = "2200-01-01"
-- doc = "last instant, included (KQL endtime=bin(now(), 20m)); --to sets it"
--
-- # The original reads the watchlist NetworkSession_Monitor_Configuration of the Network Session
-- # Essentials solution. Here it is a declared input in the watchlist's columns: your watchlist
-- # exported as CSV (--table port_monitor=PATH), else the bundled example (nethunt's own rows).
-- [tables.port_monitor]
-- example = "port_monitor"
-- columns = ["Ports:string", "App:string", "Protocol:string", "Direction:string", "Action:string", "Type:string", "ThresholdType:string", "Threshold:int", "Severity:string", "Tactic:string", "Name:string", "Description:string"]
-- ---
--
-- KQL → SQL notes:
-- * _GetWatchlist(...) | where Type == "Hunting" and ThresholdType == "Static" and Severity !=
--   "Disabled": == is case-sensitive; an empty Severity is not "Disabled" (coalesce).
-- * split(Ports, ",") | mv-expand, for Ports, Protocol, Direction and Action: one row per
--   combination (a cross product), each CTE below expanding one list. A value is not trimmed:
--   " 636" stays as it is, and `has` still finds the term 636 in it. An empty field is one
--   empty value (KQL's split("", ",") is [""], string_to_array's is []). App is expanded in the original too, but nothing reads it afterwards and the final
--   summarize removes the duplicates it makes, so it is left out.
-- * toint(Threshold): an empty or non-numeric threshold is NULL, and Sum > NULL never holds.
-- * The original unions its summary tables (NetworkSummary_Protocol_CL and the custom
--   analytics tables) with the raw sessions when they exist; nethunt reads the sessions.
-- * summarize Count = count() by NetworkProtocol, DstPortNumber, DstAppName, NetworkDirection,
--   DvcAction, bin(TimeGenerated, 20m), then Sum = sum(Count) by DstPortNumber,
--   NetworkProtocol, NetworkDirection, DvcAction: that is the number of sessions by those four
--   keys (count(), not EventCount). NULL strings group as '' (KQL's strings are never NULL);
--   isnotempty(DstPortNumber) drops a NULL port.
-- * join kind=inner mapping where Ports has tostring(DstPortNumber): every pair of a count and a
--   watchlist row whose port term is the session's port as a whole term (kql_has: 445 is not
--   found in 4450).
-- * (Protocol == "*" or Protocol has NetworkProtocol), likewise Direction and Action: has is
--   case-insensitive (TCP has tcp); an empty value (a sensor that does not report it) is found
--   in any text, as Kusto finds an empty term.
-- * make_set_if(x, isnotempty(x), n): make_set over CASE WHEN x <> '' THEN x END, capped at n.
--   KQL puts the by-columns first. A set's order is undefined in KQL; here it is sorted, so
--   that every run (and a cluster's) shows the same.
WITH watchlist AS (
    SELECT coalesce("Ports", '') AS ports, coalesce("Protocol", '') AS protocol,
           coalesce("Direction", '') AS direction, coalesce("Action", '') AS action,
           "Threshold" AS threshold, coalesce("Severity", '') AS severity,
           coalesce("Tactic", '') AS tactic, coalesce("Name", '') AS name,
           coalesce("Description", '') AS description
    FROM port_monitor
    WHERE "Type" = $type AND "ThresholdType" = 'Static' AND coalesce("Severity", '') <> 'Disabled'
),
by_port AS (
    SELECT unnest(CASE WHEN ports = '' THEN make_array('') ELSE string_to_array(ports, ',') END) AS port_term,
           protocol, direction, action, threshold, severity, tactic, name, description
    FROM watchlist
),
by_protocol AS (
    SELECT port_term, unnest(CASE WHEN protocol = '' THEN make_array('') ELSE string_to_array(protocol, ',') END) AS protocol,
           direction, action, threshold, severity, tactic, name, description
    FROM by_port
),
by_direction AS (
    SELECT port_term, protocol, unnest(CASE WHEN direction = '' THEN make_array('') ELSE string_to_array(direction, ',') END) AS direction,
           action, threshold, severity, tactic, name, description
    FROM by_protocol
),
mapping AS (
    SELECT port_term, protocol, direction, unnest(CASE WHEN action = '' THEN make_array('') ELSE string_to_array(action, ',') END) AS action,
           threshold, severity, tactic, name, description
    FROM by_direction
),
counts AS (
    SELECT "DstPortNumber" AS port, coalesce("NetworkProtocol", '') AS protocol,
           coalesce("NetworkDirection", '') AS direction, coalesce("DvcAction", '') AS action,
           count(*) AS total
    FROM "NetworkSessions"
    WHERE "TimeGenerated" > $start AND "TimeGenerated" <= $end
      AND "DstPortNumber" IS NOT NULL
    GROUP BY "DstPortNumber", coalesce("NetworkProtocol", ''), coalesce("NetworkDirection", ''),
             coalesce("DvcAction", '')
),
matches AS (
    SELECT m.name, m.severity, m.tactic, c.port, m.description,
           c.protocol, c.direction, c.action
    FROM counts c
    JOIN mapping m ON kql_has(m.port_term, CAST(c.port AS VARCHAR))
    WHERE c.total > m.threshold
      AND (m.protocol = '*' OR kql_has(m.protocol, c.protocol))
      AND (m.direction = '*' OR kql_has(m.direction, c.direction))
      AND (m.action = '*' OR kql_has(m.action, c.action))
)
SELECT name AS "Name", severity AS "Severity", tactic AS "Tactic", port AS "DstPortNumber",
       description AS "Description",
       array_sort(make_set(CASE WHEN protocol <> '' THEN protocol END, 20)) AS "NetworkProtocols",
       array_sort(make_set(CASE WHEN direction <> '' THEN direction END, 5)) AS "NetworkDirections",
       array_sort(make_set(CASE WHEN action <> '' THEN action END, 10)) AS "DvcActions"
FROM matches
GROUP BY name, severity, tactic, port, description
ORDER BY "DstPortNumber", "Name", "Severity", "Tactic", "Description"
