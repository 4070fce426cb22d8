-- ---
-- name = "ocsf"
-- title = "Amazon Security Lake: OCSF Network Activity (class 4001)"
-- vendor = "AWS"
-- product = "Security Lake"
-- description = "OCSF Network Activity records as Amazon Security Lake writes them, source version 1 (OCSF 1.0.0-rc.2) and 2 (OCSF 1.1.0): the nested objects are flattened by a pinned schema (a file that lacks a nested field reads it as NULL; integer widths may differ), other classes (DNS Activity 4003, ...) are skipped, and VPC NODATA/SKIPDATA records dropped. UrlHostname is the HTTP request's hostname, else the TLS SNI."
-- formats = ["Parquet (Avro-written or not; GZIP, ZSTD or Snappy)"]
-- layouts = ["ext/SOURCE/region=REGION/accountId=ACCOUNT/eventDay=YYYYMMDD/ (Iceberg metadata/ folders beside the data are never read)"]
-- fills = ["TimeGenerated", "EventCount", "EventType", "EventResult", "EventResultDetails", "EventProduct", "EventVendor", "DvcAction", "NetworkProtocol", "NetworkProtocolVersion", "NetworkDirection", "SrcIpAddr", "SrcPortNumber", "DstIpAddr", "DstPortNumber", "SrcBytes", "DstBytes", "SrcPackets", "DstPackets", "NetworkBytes", "NetworkPackets", "NetworkDuration", "EventStartTime", "EventEndTime", "UrlHostname", "EventOriginalUid", "NetworkApplicationProtocol", "DvcInboundInterface"]
-- asim = "no ASIM parser reads OCSF: the mapping follows the ASIM NetworkSession field definitions and OCSF 1.1.0's Network Activity class (action_id / disposition_id 1 Allowed → Success/Allow, 2 → Failure/Deny; activity 4 Fail and 5 Refuse → Failure, 6 Traffic → Success)"
-- reference = "https://schema.ocsf.io/1.1.0/classes/network_activity"
--
-- [detect]
-- columns = ["class_uid", "src_endpoint", "dst_endpoint"]
--
-- [raw.activity]
-- files = ["*"]
-- required = ["class_uid", "time"]
-- [raw.activity.columns]
-- time = "int"
-- start_time = "int"
-- end_time = "int"
-- start_time_dt = "time"
-- end_time_dt = "time"
-- class_uid = "int"
-- activity_id = "int"
-- status_code = "string"
-- action_id = "int"
-- disposition_id = "int"
-- app_name = "string"
-- "src_endpoint.ip" = "string"
-- "src_endpoint.port" = "port"
-- "src_endpoint.interface_uid" = "string"
-- "dst_endpoint.ip" = "string"
-- "dst_endpoint.port" = "port"
-- "connection_info.protocol_num" = "int"
-- "connection_info.protocol_name" = "string"
-- "connection_info.protocol_ver" = "string"
-- "connection_info.direction_id" = "int"
-- "connection_info.uid" = "string"
-- "traffic.bytes_out" = "int"
-- "traffic.bytes_in" = "int"
-- "traffic.bytes" = "int"
-- "traffic.packets_out" = "int"
-- "traffic.packets_in" = "int"
-- "traffic.packets" = "int"
-- "http_request.url.hostname" = "string"
-- "url.hostname" = "string"
-- "tls.sni" = "string"
-- "metadata.product.name" = "string"
-- "metadata.product.vendor_name" = "string"
-- "metadata.version" = "string"
-- "cloud.account_uid" = "string"
-- "cloud.account.uid" = "string"
-- "cloud.region" = "string"
-- ---
--
-- `time` and the version-1 `start_time`/`end_time` are epoch milliseconds; version 2 has only
-- `start_time_dt`/`end_time_dt`. Version 1 says allowed/blocked with disposition_id, version 2
-- with action_id. traffic.bytes_out is what the source sent (SrcBytes), bytes_in what it got.
SELECT
    to_timestamp_micros(a."time" * 1000) AS "TimeGenerated",
    1 AS "EventCount",
    'NetworkSession' AS "EventType",
    CASE
        WHEN coalesce(a.action_id, a.disposition_id) = 1 THEN 'Success'
        WHEN coalesce(a.action_id, a.disposition_id) = 2 THEN 'Failure'
        WHEN a.activity_id IN (4, 5) THEN 'Failure'
        WHEN a.activity_id = 6 THEN 'Success'
    END AS "EventResult",
    a.status_code AS "EventResultDetails",
    coalesce(a."metadata.product.name", 'Security Lake') AS "EventProduct",
    coalesce(a."metadata.product.vendor_name", 'AWS') AS "EventVendor",
    CASE coalesce(a.action_id, a.disposition_id) WHEN 1 THEN 'Allow' WHEN 2 THEN 'Deny' END AS "DvcAction",
    coalesce(
        upper(nullif(a."connection_info.protocol_name", '')),
        CASE a."connection_info.protocol_num"
            WHEN 1 THEN 'ICMP' WHEN 6 THEN 'TCP' WHEN 17 THEN 'UDP' WHEN 47 THEN 'GRE'
            WHEN 50 THEN 'ESP' WHEN 58 THEN 'IPv6-ICMP' WHEN 132 THEN 'SCTP'
        END
    ) AS "NetworkProtocol",
    CASE WHEN strpos(a."src_endpoint.ip", ':') > 0 THEN 'IPv6' WHEN a."src_endpoint.ip" IS NOT NULL THEN 'IPv4' END AS "NetworkProtocolVersion",
    CASE a."connection_info.direction_id" WHEN 1 THEN 'Inbound' WHEN 2 THEN 'Outbound' WHEN 3 THEN 'Local' END AS "NetworkDirection",
    a."src_endpoint.ip" AS "SrcIpAddr",
    a."src_endpoint.port" AS "SrcPortNumber",
    a."dst_endpoint.ip" AS "DstIpAddr",
    a."dst_endpoint.port" AS "DstPortNumber",
    a."traffic.bytes_out" AS "SrcBytes",
    a."traffic.bytes_in" AS "DstBytes",
    a."traffic.packets_out" AS "SrcPackets",
    a."traffic.packets_in" AS "DstPackets",
    coalesce(a."traffic.bytes", a."traffic.bytes_out" + a."traffic.bytes_in") AS "NetworkBytes",
    coalesce(a."traffic.packets", a."traffic.packets_out" + a."traffic.packets_in") AS "NetworkPackets",
    CAST(coalesce(CAST(a.end_time_dt AS BIGINT) / 1000 - CAST(a.start_time_dt AS BIGINT) / 1000, a.end_time - a.start_time) AS INT) AS "NetworkDuration",
    coalesce(a.start_time_dt, to_timestamp_micros(a.start_time * 1000)) AS "EventStartTime",
    coalesce(a.end_time_dt, to_timestamp_micros(a.end_time * 1000)) AS "EventEndTime",
    coalesce(nullif(a."http_request.url.hostname", ''), nullif(a."url.hostname", ''), nullif(a."tls.sni", '')) AS "UrlHostname",
    a."connection_info.uid" AS "EventOriginalUid",
    nullif(a.app_name, '') AS "NetworkApplicationProtocol",
    a."src_endpoint.interface_uid" AS "DvcInboundInterface",
    a."metadata.version" AS "OcsfVersion",
    coalesce(a."cloud.account.uid", a."cloud.account_uid") AS "AwsAccountId",
    a."cloud.region" AS "AwsRegion"
FROM activity a
WHERE a.class_uid = 4001
  AND (a.status_code IS NULL OR a.status_code NOT IN ('NODATA', 'SKIPDATA'))
