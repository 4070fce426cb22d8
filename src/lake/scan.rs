//! What a query read: files, bytes and row groups per Parquet file, from DataFusion's scan
//! metrics, set against the whole lake so that pruning by `--from/--to` is visible. Uses: `lake`.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::MetricValue;

use super::Lake;

/// What was read of one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileScan {
    /// Bytes fetched (footer, page index and data pages).
    pub bytes: u64,
    /// Row groups whose pages were read (not pruned by statistics, bloom filters or a limit).
    pub row_groups: usize,
}

/// Per-file scan figures of one executed plan, keyed by object-store path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanMetrics {
    pub files: BTreeMap<String, FileScan>,
}

impl ScanMetrics {
    /// Sum the Parquet scan metrics of every scan node in `plan` (live while it runs, final after).
    pub fn of(plan: &Arc<dyn ExecutionPlan>) -> ScanMetrics {
        let mut out = ScanMetrics::default();
        let mut stack = vec![plan.clone()];
        while let Some(node) = stack.pop() {
            stack.extend(node.children().into_iter().cloned());
            let Some(metrics) = node.metrics() else {
                continue;
            };
            // One node's figures; several nodes may read the same file (a CTE used twice).
            let mut here: BTreeMap<String, FileScan> = BTreeMap::new();
            for m in metrics.iter() {
                let Some(file) = m
                    .labels()
                    .iter()
                    .find(|l| l.name() == "filename")
                    .map(|l| l.value().to_string())
                else {
                    continue;
                };
                let entry = here.entry(file).or_default();
                match m.value() {
                    MetricValue::Count { name, count } if name == "bytes_scanned" => {
                        entry.bytes += count.value() as u64;
                    }
                    // Row groups left after statistics and bloom-filter pruning...
                    MetricValue::PruningMetrics {
                        name,
                        pruning_metrics,
                    } if name == "row_groups_pruned_bloom_filter" => {
                        entry.row_groups += pruning_metrics.matched();
                    }
                    // ... less those a LIMIT made unnecessary.
                    MetricValue::PruningMetrics {
                        name,
                        pruning_metrics,
                    } if name == "limit_pruned_row_groups" => {
                        entry.row_groups =
                            entry.row_groups.saturating_sub(pruning_metrics.pruned());
                    }
                    _ => {}
                }
            }
            // Bytes add up over nodes; a row group read by two nodes is still one row group.
            for (file, f) in here {
                let entry = out.files.entry(file).or_default();
                entry.bytes += f.bytes;
                entry.row_groups = entry.row_groups.max(f.row_groups);
            }
        }
        out.files.retain(|_, f| f.bytes > 0 || f.row_groups > 0);
        out
    }

    pub fn bytes(&self) -> u64 {
        self.files.values().map(|f| f.bytes).sum()
    }

    /// Files whose data pages were read.
    pub fn files_read(&self) -> usize {
        self.files.values().filter(|f| f.row_groups > 0).count()
    }

    pub fn row_groups(&self) -> usize {
        self.files.values().map(|f| f.row_groups).sum()
    }

    /// Of the lake's files, those the query read, as user-facing locations.
    pub fn input_files(&self, lake: &Lake) -> Vec<String> {
        lake.files
            .iter()
            .filter(|f| {
                self.files
                    .get(&f.object_path)
                    .is_some_and(|s| s.row_groups > 0)
            })
            .map(|f| f.location.clone())
            .collect()
    }

    /// `scanned: 1 of 2 files, 2 of 4 row groups, 520.1 KiB of 1.1 MiB (532582 of 1153433 bytes)`
    /// (bytes read include footers, so a file pruned by its statistics still costs a few KiB).
    pub fn summary(&self, lake: &Lake) -> String {
        let total_bytes: u64 = lake.files.iter().map(|f| f.size).sum();
        let total_rg: usize = lake.files.iter().map(|f| f.row_groups).sum();
        format!(
            "scanned: {} of {} files, {} of {} row groups, {} of {} ({} of {} bytes){}",
            self.files_read(),
            lake.files.len(),
            self.row_groups(),
            total_rg,
            human_bytes(self.bytes()),
            human_bytes(total_bytes),
            self.bytes(),
            total_bytes,
            if lake.listed_window {
                " in the window's folders"
            } else {
                ""
            }
        ) + &match lake
            .files
            .iter()
            .filter(|f| !super::raw::is_parquet(&f.location))
            .count()
        {
            0 => String::new(),
            n => format!(
                "; the {n} text log{} of the lake are read whole when scanned and not counted here",
                if n == 1 { "" } else { "s" }
            ),
        }
    }
}

/// 1536 → "1.5 KiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
