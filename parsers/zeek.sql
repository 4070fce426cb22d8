-- ---
-- name = "zeek"
-- title = "Zeek conn logs, with hostnames from the http and ssl logs beside them"
-- vendor = "Corelight"
-- product = "Zeek"
-- description = "Zeek's conn.log read in place, one session per connection; UrlHostname is the Host header of the connection's first HTTP request (http.log, without a :port), else the SNI of its TLS session (ssl.log), joined on uid. The mapping is the one `nethunt import zeek` writes (a test compares the two row for row)."
-- formats = ["JSON lines as Zeek's JSON writer makes them (dotted keys such as id.orig_h, or nested id objects), plain or gzip", "TSV with the #separator/#fields header, plain or gzip", "Parquet with Zeek's field names (id.orig_h as a column, or an id struct)"]
-- layouts = ["a folder of Zeek logs: conn*, http* and ssl* files are read, the other logs are skipped", "date=YYYY-MM-DD/[hour=HH/] or YYYY/MM/DD folders of them"]
-- fills = ["TimeGenerated", "EventCount", "EventType", "EventResult", "EventResultDetails", "EventProduct", "EventVendor", "NetworkProtocol", "NetworkProtocolVersion", "NetworkApplicationProtocol", "NetworkDirection", "SrcIpAddr", "SrcPortNumber", "DstIpAddr", "DstPortNumber", "SrcBytes", "DstBytes", "SrcPackets", "DstPackets", "NetworkDuration", "EventStartTime", "EventEndTime", "UrlHostname", "EventOriginalUid", "SrcMacAddr", "DstMacAddr", "ZeekConnState"]
-- asim = "ASimNetworkSessionCorelightZeek (Azure-Sentinel Parsers/ASimNetworkSession/Parsers/ASimNetworkSessionCorelightZeek.yaml), with conn_state → EventResult as ../shared/data/real/README.md gives it"
-- reference = "https://docs.zeek.org/en/master/scripts/base/protocols/conn/main.zeek.html"
--
-- [detect]
-- columns = ["uid", "id.orig_h", "id.resp_h"]
--
-- [raw.conn]
-- files = ["conn*"]
-- required = ["ts", "id.orig_h", "id.resp_h"]
-- [raw.conn.columns]
-- ts = "time"
-- uid = "string"
-- "id.orig_h" = "string"
-- "id.orig_p" = "port"
-- "id.resp_h" = "string"
-- "id.resp_p" = "port"
-- proto = "string"
-- service = "string"
-- duration = "float"
-- orig_bytes = "int"
-- resp_bytes = "int"
-- conn_state = "string"
-- local_orig = "bool"
-- local_resp = "bool"
-- orig_pkts = "int"
-- resp_pkts = "int"
-- orig_l2_addr = "string"
-- resp_l2_addr = "string"
--
-- [raw.http]
-- files = ["http*"]
-- required = ["uid"]
-- [raw.http.columns]
-- ts = "time"
-- uid = "string"
-- host = "string"
--
-- [raw.ssl]
-- files = ["ssl*"]
-- required = ["uid"]
-- [raw.ssl.columns]
-- ts = "time"
-- uid = "string"
-- server_name = "string"
-- ---
--
-- conn_state SF, S1, OTH are connections that were answered: Success. S0, REJ, S2, S3, RSTO,
-- RSTR, RSTOS0, RSTRH, SH, SHR never were, or were torn down: Failure. Anything else: NULL, the
-- state itself kept in EventResultDetails and ZeekConnState. Zeek observes and does not act:
-- DvcAction stays NULL. NetworkDuration is in milliseconds, as ASIM wants.
WITH http_host AS (
    -- A Host header may carry a port (a proxy's CONNECT host:443): the hostname is without it.
    SELECT uid, first_value(regexp_replace(host, '^([^:]+):[0-9]+$', '\1') ORDER BY ts) AS host
    FROM http WHERE host <> '' GROUP BY uid
),
tls_sni AS (
    SELECT uid, first_value(server_name ORDER BY ts) AS sni
    FROM ssl WHERE server_name <> '' GROUP BY uid
)
SELECT
    c.ts AS "TimeGenerated",
    1 AS "EventCount",
    'NetworkSession' AS "EventType",
    CASE
        WHEN c.conn_state IN ('SF', 'S1', 'OTH') THEN 'Success'
        WHEN c.conn_state IN ('S0', 'REJ', 'S2', 'S3', 'RSTO', 'RSTR', 'RSTOS0', 'RSTRH', 'SH', 'SHR') THEN 'Failure'
    END AS "EventResult",
    c.conn_state AS "EventResultDetails",
    'Zeek' AS "EventProduct",
    'Corelight' AS "EventVendor",
    upper(c.proto) AS "NetworkProtocol",
    CASE WHEN strpos(c."id.orig_h", ':') > 0 THEN 'IPv6' WHEN c."id.orig_h" IS NOT NULL THEN 'IPv4' END AS "NetworkProtocolVersion",
    nullif(c.service, '') AS "NetworkApplicationProtocol",
    CASE
        WHEN c.local_orig AND NOT c.local_resp THEN 'Outbound'
        WHEN NOT c.local_orig AND c.local_resp THEN 'Inbound'
        WHEN c.local_orig AND c.local_resp THEN 'Local'
        WHEN NOT c.local_orig AND NOT c.local_resp THEN 'External'
    END AS "NetworkDirection",
    c."id.orig_h" AS "SrcIpAddr",
    c."id.orig_p" AS "SrcPortNumber",
    c."id.resp_h" AS "DstIpAddr",
    c."id.resp_p" AS "DstPortNumber",
    c.orig_bytes AS "SrcBytes",
    c.resp_bytes AS "DstBytes",
    c.orig_pkts AS "SrcPackets",
    c.resp_pkts AS "DstPackets",
    -- (greatest/least skip NULLs: an unset duration must stay NULL, not become 0)
    CASE WHEN c.duration IS NOT NULL THEN CAST(least(greatest(round(c.duration * 1000.0), 0.0), 2147483647.0) AS INT) END AS "NetworkDuration",
    c.ts AS "EventStartTime",
    to_timestamp_micros(CAST(c.ts AS BIGINT) + CAST(round(coalesce(c.duration, 0.0) * 1000000.0) AS BIGINT)) AS "EventEndTime",
    coalesce(h.host, s.sni) AS "UrlHostname",
    c.uid AS "EventOriginalUid",
    c.orig_l2_addr AS "SrcMacAddr",
    c.resp_l2_addr AS "DstMacAddr",
    c.conn_state AS "ZeekConnState"
FROM conn c
LEFT JOIN http_host h ON h.uid = c.uid
LEFT JOIN tls_sni s ON s.uid = c.uid
