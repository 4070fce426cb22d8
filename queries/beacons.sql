-- ---
-- id = "0b7e3c52-9d41-4f6a-8a0e-5c2d7b19e604"
-- name = "beacons"
-- title = "Beacons: regular connections between two hosts (RITA's score)"
-- description = "Source/destination pairs with more than $min_connections connections, scored from 0 to 1 by how regular their intervals and their sizes are and how often they connect, as RITA (Real Intelligence Threat Analytics) scores beacons: command-and-control implants call home on a timer with small, similar requests."
-- mitre = ["T1071", "T1573"]
-- tactics = ["CommandAndControl"]
-- severity = "medium"
-- source = "activecm/rita (rita-legacy): pkg/beacon/analyzer.go (the scoring) and pkg/beacon/dissector.go (which pairs are scored); a port of the method, not of a KQL rule"
-- reference = "https://github.com/activecm/rita-legacy/tree/master/pkg/beacon"
--
-- [params.min_connections]
-- type = "int"
-- default = 20
-- doc = "a pair is scored when it has more connections than this (RITA's DefaultConnectionThresh)"
--
-- [params.strobe_limit]
-- type = "int"
-- default = 86400
-- doc = "pairs with more connections than this are strobes, not beacons, and are left out"
--
-- [params.min_score]
-- type = "float"
-- default = 0.0
-- doc = "show pairs scoring at least this"
-- ---
--
-- The score, as RITA computes it (rita-legacy pkg/beacon/analyzer.go), per (SrcIpAddr, DstIpAddr)
-- pair with more than min_connections connections and more than 3 distinct timestamps:
--   times: t_i = TimeGenerated in whole seconds, sorted; intervals d_i = t_(i+1) - t_i, sorted.
--   quartiles: Q_k = element round(k/4 * (n - 1)) of the sorted list (0-based, round half up).
--   Bowley skew = (Q1 + Q3 - 2 Q2) / (Q3 - Q1), taken as 0 when Q3 = Q1, Q2 = Q1 or Q2 = Q3.
--   dispersion (MAD) = the median (same rule) of |d_i - Q2|.
--   TsSkewScore = 1 - |skew|; TsMadScore = max(0, 1 - MAD / 30 s);
--   TsConnScore = min(1, connections / ((last - first time of the whole data) / 10 s)).
--   sizes: SrcBytes of each connection (NULL as 0), sorted: the same skew and MAD, with
--   DsMadScore = max(0, 1 - MAD / 32 bytes) and DsSmallnessScore = max(0, 1 - mode / 65535),
--   mode = the most frequent size (the smallest of equally frequent ones).
--   TsScore = ceil(mean of the 3 ts parts, to 0.001), DsScore likewise, Score = ceil(mean of
--   all 6 parts, to 0.001).
-- RITA reads Zeek conn logs; here any NetworkSessions source: SrcBytes is Zeek's orig_bytes.
-- The newer RITA (v5) scores coverage of the window with a histogram; this is the legacy
-- formula, whose coverage measure is the connection count against the data's span.
-- Cost: each scored pair's connections are sorted and read several times (intervals, sizes,
-- their deviations, the size mode), and DataFusion computes `pairs` (every pair of the lake
-- grouped) once for each use; at 10M generated rows about 23 s, 15x uncommon_domains
-- (bench/RESULTS.md). The joins name the scored pairs first: DataFusion hashes a join's left
-- side, and with the sessions there it hashed 10M rows per join (36 s, 7.3 GB resident; now
-- 1.5 GB). RITA scores a day of logs at a time: give --from/--to. (Splitting it into more
-- steps made the plan too deep for Ballista's plan decoder, and no faster.)
WITH conns AS (
    SELECT "SrcIpAddr" AS src, "DstIpAddr" AS dst,
           to_unixtime("TimeGenerated") AS ts,
           coalesce(CAST("SrcBytes" AS BIGINT), 0) AS bytes
    FROM "NetworkSessions"
    WHERE "SrcIpAddr" IS NOT NULL AND "DstIpAddr" IS NOT NULL
),
span AS (SELECT CAST(max(ts) - min(ts) AS DOUBLE) AS seconds FROM conns),
pairs AS (
    SELECT src, dst, count(*) AS n, sum(bytes) AS total
    FROM conns GROUP BY src, dst
    HAVING count(*) > $min_connections AND count(*) <= $strobe_limit
       AND count(DISTINCT ts) > 3
),
deltas AS (
    SELECT c.src, c.dst,
           c.ts - lag(c.ts) OVER (PARTITION BY c.src, c.dst ORDER BY c.ts) AS d
    FROM pairs p JOIN conns c ON c.src = p.src AND c.dst = p.dst
),
ts_sorted AS (
    SELECT src, dst, array_agg(d ORDER BY d) AS ds
    FROM deltas WHERE d IS NOT NULL GROUP BY src, dst
),
ts_q AS (
    SELECT src, dst,
           CAST(ds[CAST(floor(0.25 * (array_length(ds) - 1) + 0.5) AS BIGINT) + 1] AS DOUBLE) AS q1,
           CAST(ds[CAST(floor(0.50 * (array_length(ds) - 1) + 0.5) AS BIGINT) + 1] AS DOUBLE) AS q2,
           CAST(ds[CAST(floor(0.75 * (array_length(ds) - 1) + 0.5) AS BIGINT) + 1] AS DOUBLE) AS q3
    FROM ts_sorted
),
ts_mad AS (
    SELECT q.src, q.dst, array_agg(abs(CAST(d.d AS DOUBLE) - q.q2) ORDER BY abs(CAST(d.d AS DOUBLE) - q.q2)) AS devs
    FROM ts_q q JOIN deltas d ON d.src = q.src AND d.dst = q.dst
    WHERE d.d IS NOT NULL GROUP BY q.src, q.dst
),
ds_sorted AS (
    SELECT c.src, c.dst, array_agg(c.bytes ORDER BY c.bytes) AS bs
    FROM pairs p JOIN conns c ON c.src = p.src AND c.dst = p.dst GROUP BY c.src, c.dst
),
ds_q AS (
    SELECT src, dst,
           CAST(bs[CAST(floor(0.25 * (array_length(bs) - 1) + 0.5) AS BIGINT) + 1] AS DOUBLE) AS q1,
           CAST(bs[CAST(floor(0.50 * (array_length(bs) - 1) + 0.5) AS BIGINT) + 1] AS DOUBLE) AS q2,
           CAST(bs[CAST(floor(0.75 * (array_length(bs) - 1) + 0.5) AS BIGINT) + 1] AS DOUBLE) AS q3
    FROM ds_sorted
),
ds_mad AS (
    SELECT q.src, q.dst, array_agg(abs(CAST(c.bytes AS DOUBLE) - q.q2) ORDER BY abs(CAST(c.bytes AS DOUBLE) - q.q2)) AS devs
    FROM ds_q q JOIN conns c ON c.src = q.src AND c.dst = q.dst GROUP BY q.src, q.dst
),
ds_mode AS (
    SELECT src, dst, first_value(bytes ORDER BY k DESC, bytes ASC) AS mode
    FROM (SELECT c.src, c.dst, c.bytes, count(*) AS k
          FROM pairs p JOIN conns c ON c.src = p.src AND c.dst = p.dst
          GROUP BY c.src, c.dst, c.bytes)
    GROUP BY src, dst
),
parts AS (
    SELECT p.src, p.dst, p.n, p.total,
           CASE WHEN t.q3 <> t.q1 AND t.q2 <> t.q1 AND t.q2 <> t.q3
                THEN (t.q1 + t.q3 - 2 * t.q2) / (t.q3 - t.q1) ELSE 0.0 END AS ts_skew,
           tm.devs[CAST(floor(0.5 * (array_length(tm.devs) - 1) + 0.5) AS BIGINT) + 1] AS ts_mad,
           CASE WHEN s.seconds > 0 THEN least(1.0, p.n / (s.seconds / 10.0)) ELSE 1.0 END AS ts_conn,
           CASE WHEN b.q3 <> b.q1 AND b.q2 <> b.q1 AND b.q2 <> b.q3
                THEN (b.q1 + b.q3 - 2 * b.q2) / (b.q3 - b.q1) ELSE 0.0 END AS ds_skew,
           bm.devs[CAST(floor(0.5 * (array_length(bm.devs) - 1) + 0.5) AS BIGINT) + 1] AS ds_mad,
           m.mode AS ds_mode
    FROM pairs p
    JOIN ts_q t ON t.src = p.src AND t.dst = p.dst
    JOIN ts_mad tm ON tm.src = p.src AND tm.dst = p.dst
    JOIN ds_q b ON b.src = p.src AND b.dst = p.dst
    JOIN ds_mad bm ON bm.src = p.src AND bm.dst = p.dst
    JOIN ds_mode m ON m.src = p.src AND m.dst = p.dst
    CROSS JOIN span s
),
scored AS (
    SELECT *,
           (1.0 - abs(ts_skew)) + greatest(0.0, 1.0 - ts_mad / 30.0) + ts_conn AS ts_sum,
           (1.0 - abs(ds_skew)) + greatest(0.0, 1.0 - ds_mad / 32.0)
             + greatest(0.0, 1.0 - ds_mode / 65535.0) AS ds_sum
    FROM parts
)
SELECT src AS "SrcIpAddr", dst AS "DstIpAddr", n AS "ConnectionCount",
       total / n AS "AvgBytes",
       ceil((ts_sum + ds_sum) / 6.0 * 1000.0) / 1000.0 AS "Score",
       ceil(ts_sum / 3.0 * 1000.0) / 1000.0 AS "TsScore",
       ceil(ds_sum / 3.0 * 1000.0) / 1000.0 AS "DsScore",
       ts_skew AS "TsSkew", ts_mad AS "TsDispersion", ts_conn AS "TsConnScore",
       ds_skew AS "DsSkew", ds_mad AS "DsDispersion", ds_mode AS "DsMode"
FROM scored
WHERE ceil((ts_sum + ds_sum) / 6.0 * 1000.0) / 1000.0 >= $min_score
ORDER BY "Score" DESC, "SrcIpAddr", "DstIpAddr"
