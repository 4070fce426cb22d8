//! Converting sensor logs into a NetworkSessions lake (`OUT/date=YYYY-MM-DD/*.parquet`) that
//! every query reads as it is. Uses: `output` (atomic Parquet files), `schema`, `error`.

pub mod records;
pub mod zeek;
