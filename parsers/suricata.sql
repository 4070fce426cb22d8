-- ---
-- name = "suricata"
-- title = "Suricata EVE JSON flow events, with hostnames from http and tls events"
-- vendor = "OISF"
-- product = "Suricata"
-- description = "One session per `flow` event of eve.json; other events only lend hostnames: UrlHostname is the hostname of the flow's first http event, else the SNI of its tls event (joined on flow_id). Times are the flow's start and end, not the event's timestamp (written when the flow was logged)."
-- formats = ["EVE JSON lines (eve.json), plain or gzip; timestamps with +0200 offsets read as written"]
-- layouts = ["a folder of eve*.json files, or date folders of them"]
-- fills = ["TimeGenerated", "EventCount", "EventType", "EventResult", "EventResultDetails", "EventProduct", "EventVendor", "NetworkProtocol", "NetworkProtocolVersion", "NetworkApplicationProtocol", "SrcIpAddr", "SrcPortNumber", "DstIpAddr", "DstPortNumber", "SrcBytes", "DstBytes", "SrcPackets", "DstPackets", "NetworkDuration", "EventStartTime", "EventEndTime", "UrlHostname", "EventOriginalUid", "TcpFlagsSyn", "TcpFlagsAck", "TcpFlagsRst", "TcpFlagsFin", "TcpFlagsPsh"]
-- asim = "ASIM has no Suricata NetworkSession parser: the mapping follows the ASIM field definitions; EventResult is Failure when the server never answered (no packet to the client), as Zeek's S0/REJ are"
-- reference = "https://docs.suricata.io/en/latest/output/eve/eve-json-format.html"
--
-- [detect]
-- columns = ["event_type", "timestamp"]
--
-- [raw.eve]
-- files = ["*"]
-- required = ["event_type"]
-- [raw.eve.columns]
-- timestamp = "time"
-- flow_id = "string"
-- event_type = "string"
-- src_ip = "string"
-- src_port = "port"
-- dest_ip = "string"
-- dest_port = "port"
-- proto = "string"
-- app_proto = "string"
-- "flow.pkts_toserver" = "int"
-- "flow.pkts_toclient" = "int"
-- "flow.bytes_toserver" = "int"
-- "flow.bytes_toclient" = "int"
-- "flow.start" = "time"
-- "flow.end" = "time"
-- "flow.state" = "string"
-- "flow.reason" = "string"
-- "tcp.syn" = "bool"
-- "tcp.ack" = "bool"
-- "tcp.rst" = "bool"
-- "tcp.fin" = "bool"
-- "tcp.psh" = "bool"
-- "http.hostname" = "string"
-- "tls.sni" = "string"
-- ---
--
-- Suricata's "client" is the flow's initiator as it judged it: SrcBytes is bytes_toserver.
-- app_proto "failed" (detection failed) is no application protocol.
WITH http_host AS (
    SELECT flow_id, first_value("http.hostname" ORDER BY "timestamp") AS host
    FROM eve WHERE event_type = 'http' AND "http.hostname" <> '' GROUP BY flow_id
),
tls_sni AS (
    SELECT flow_id, first_value("tls.sni" ORDER BY "timestamp") AS sni
    FROM eve WHERE event_type = 'tls' AND "tls.sni" <> '' GROUP BY flow_id
)
SELECT
    coalesce(f."flow.start", f."timestamp") AS "TimeGenerated",
    1 AS "EventCount",
    'NetworkSession' AS "EventType",
    CASE WHEN f."flow.pkts_toclient" > 0 THEN 'Success' WHEN f."flow.pkts_toclient" = 0 THEN 'Failure' END AS "EventResult",
    f."flow.state" AS "EventResultDetails",
    'Suricata' AS "EventProduct",
    'OISF' AS "EventVendor",
    upper(f.proto) AS "NetworkProtocol",
    CASE WHEN strpos(f.src_ip, ':') > 0 THEN 'IPv6' WHEN f.src_ip IS NOT NULL THEN 'IPv4' END AS "NetworkProtocolVersion",
    CASE WHEN f.app_proto NOT IN ('', 'failed') THEN f.app_proto END AS "NetworkApplicationProtocol",
    f.src_ip AS "SrcIpAddr",
    f.src_port AS "SrcPortNumber",
    f.dest_ip AS "DstIpAddr",
    f.dest_port AS "DstPortNumber",
    f."flow.bytes_toserver" AS "SrcBytes",
    f."flow.bytes_toclient" AS "DstBytes",
    f."flow.pkts_toserver" AS "SrcPackets",
    f."flow.pkts_toclient" AS "DstPackets",
    CAST((CAST(f."flow.end" AS BIGINT) - CAST(f."flow.start" AS BIGINT)) / 1000 AS INT) AS "NetworkDuration",
    f."flow.start" AS "EventStartTime",
    f."flow.end" AS "EventEndTime",
    coalesce(h.host, s.sni) AS "UrlHostname",
    f.flow_id AS "EventOriginalUid",
    f."tcp.syn" AS "TcpFlagsSyn",
    f."tcp.ack" AS "TcpFlagsAck",
    f."tcp.rst" AS "TcpFlagsRst",
    f."tcp.fin" AS "TcpFlagsFin",
    f."tcp.psh" AS "TcpFlagsPsh"
FROM eve f
LEFT JOIN http_host h ON h.flow_id = f.flow_id
LEFT JOIN tls_sni s ON s.flow_id = f.flow_id
WHERE f.event_type = 'flow'
