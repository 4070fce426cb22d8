-- ---
-- name = "vpcflow"
-- title = "AWS VPC Flow Logs, Parquet and text deliveries"
-- vendor = "AWS"
-- product = "VPC"
-- description = "One session per flow-log record (one direction of a flow within its aggregation window). ACCEPT is Success/Allow and REJECT Failure/Deny; NODATA and SKIPDATA records are dropped. Fields are bound by name (the text header's account-id is account_id), so the default format and custom formats of versions 2 to 5 read alike; fields a format lacks are NULL."
-- formats = ["Parquet as S3 delivery writes it (underscore names; INT32 or INT64 or double numbers, '-' strings)", "the default text format: space-separated .log or .log.gz with a header line, '-' for no value"]
-- layouts = ["AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD/ (text)", "aws-account-id=/aws-service=vpcflowlogs/aws-region=/year=/month=/day=/[hour=]/ (Parquet, Hive-style prefixes)"]
-- fills = ["TimeGenerated", "EventCount", "EventType", "EventResult", "EventResultDetails", "EventProduct", "EventVendor", "DvcAction", "NetworkProtocol", "NetworkProtocolVersion", "NetworkDirection", "SrcIpAddr", "SrcPortNumber", "DstIpAddr", "DstPortNumber", "SrcBytes", "SrcPackets", "NetworkBytes", "NetworkPackets", "NetworkDuration", "EventStartTime", "EventEndTime", "SrcNatIpAddr", "DstNatIpAddr", "TcpFlagsFin", "TcpFlagsSyn", "TcpFlagsRst", "TcpFlagsAck", "DvcInboundInterface", "EventProductVersion"]
-- asim = "ASimNetworkSessionAWSVPC (Azure-Sentinel Parsers/ASimNetworkSession/Parsers/ASimNetworkSessionAWSVPC.yaml): ActionLookup ACCEPT → Allow, REJECT → Deny; ProtocolLookup on the IANA number"
-- reference = "https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html"
--
-- [detect]
-- columns = ["srcaddr", "dstaddr", "log_status"]
--
-- [raw.flows]
-- files = ["*"]
-- required = ["start", "log_status"]
-- [raw.flows.columns]
-- version = "int"
-- account_id = "string"
-- interface_id = "string"
-- srcaddr = "string"
-- dstaddr = "string"
-- srcport = "port"
-- dstport = "port"
-- protocol = "int"
-- packets = "int"
-- bytes = "int"
-- start = "time"
-- end = "time"
-- action = "string"
-- log_status = "string"
-- vpc_id = "string"
-- subnet_id = "string"
-- instance_id = "string"
-- tcp_flags = "int"
-- type = "string"
-- pkt_srcaddr = "string"
-- pkt_dstaddr = "string"
-- region = "string"
-- az_id = "string"
-- flow_direction = "string"
-- traffic_path = "int"
-- ---
--
-- A record counts the bytes and packets its source sent to its destination in the window, so
-- they are SrcBytes/SrcPackets (and NetworkBytes/NetworkPackets); the reverse direction is its
-- own record, and DstBytes stays NULL. `start` (the window's first packet) is TimeGenerated.
-- pkt-srcaddr/pkt-dstaddr, where they differ from srcaddr/dstaddr, are the packet's addresses
-- behind NAT or an intermediate interface. tcp-flags is the OR of the window's flags (FIN 1,
-- SYN 2, RST 4, ACK 16).
SELECT
    f."start" AS "TimeGenerated",
    1 AS "EventCount",
    'NetworkSession' AS "EventType",
    CASE f.action WHEN 'ACCEPT' THEN 'Success' WHEN 'REJECT' THEN 'Failure' END AS "EventResult",
    f.log_status AS "EventResultDetails",
    'VPC' AS "EventProduct",
    'AWS' AS "EventVendor",
    CASE f.action WHEN 'ACCEPT' THEN 'Allow' WHEN 'REJECT' THEN 'Deny' END AS "DvcAction",
    CASE f.protocol
        WHEN 0 THEN 'HOPOPT' WHEN 1 THEN 'ICMP' WHEN 2 THEN 'IGMP' WHEN 4 THEN 'IPv4'
        WHEN 6 THEN 'TCP' WHEN 17 THEN 'UDP' WHEN 41 THEN 'IPv6' WHEN 47 THEN 'GRE'
        WHEN 50 THEN 'ESP' WHEN 51 THEN 'AH' WHEN 58 THEN 'IPv6-ICMP' WHEN 89 THEN 'OSPFIGP'
        WHEN 103 THEN 'PIM' WHEN 112 THEN 'VRRP' WHEN 115 THEN 'L2TP' WHEN 132 THEN 'SCTP'
        WHEN 136 THEN 'UDPLite'
    END AS "NetworkProtocol",
    CASE WHEN strpos(f.srcaddr, ':') > 0 THEN 'IPv6' WHEN f.srcaddr IS NOT NULL THEN 'IPv4' END AS "NetworkProtocolVersion",
    CASE f.flow_direction WHEN 'ingress' THEN 'Inbound' WHEN 'egress' THEN 'Outbound' END AS "NetworkDirection",
    f.srcaddr AS "SrcIpAddr",
    f.srcport AS "SrcPortNumber",
    f.dstaddr AS "DstIpAddr",
    f.dstport AS "DstPortNumber",
    f.bytes AS "SrcBytes",
    f.packets AS "SrcPackets",
    f.bytes AS "NetworkBytes",
    f.packets AS "NetworkPackets",
    CAST((CAST(f."end" AS BIGINT) - CAST(f."start" AS BIGINT)) / 1000 AS INT) AS "NetworkDuration",
    f."start" AS "EventStartTime",
    f."end" AS "EventEndTime",
    CASE WHEN f.pkt_srcaddr <> f.srcaddr THEN f.pkt_srcaddr END AS "SrcNatIpAddr",
    CASE WHEN f.pkt_dstaddr <> f.dstaddr THEN f.pkt_dstaddr END AS "DstNatIpAddr",
    (f.tcp_flags & 1) <> 0 AS "TcpFlagsFin",
    (f.tcp_flags & 2) <> 0 AS "TcpFlagsSyn",
    (f.tcp_flags & 4) <> 0 AS "TcpFlagsRst",
    (f.tcp_flags & 16) <> 0 AS "TcpFlagsAck",
    f.interface_id AS "DvcInboundInterface",
    CAST(f.version AS VARCHAR) AS "EventProductVersion",
    f.account_id AS "AwsAccountId",
    f.region AS "AwsRegion",
    f.vpc_id AS "AwsVpcId"
FROM flows f
WHERE f.log_status IS NULL OR f.log_status NOT IN ('NODATA', 'SKIPDATA')
