//! The bundled sample: a small synthetic lake and domain list (`data/`, made by `nethunt
//! generate`), compiled into the binary and written to the cache folder on first use, so that an
//! installed `nethunt` works from any folder and after its checkout is gone. The folder is named
//! by a hash of the contents, so a binary with another sample never reads a stale copy.
//! Uses: `output` (temporary folders), `error`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The files, relative to the sample folder. `every_file_of_data_is_embedded` checks this list
/// against `data/`.
const FILES: &[(&str, &[u8])] = &[
    (
        "lake/date=2024-07-30/part-00000.parquet",
        include_bytes!("../../data/lake/date=2024-07-30/part-00000.parquet"),
    ),
    (
        "lake/date=2024-07-31/part-00000.parquet",
        include_bytes!("../../data/lake/date=2024-07-31/part-00000.parquet"),
    ),
    (
        "top1m-sample.csv",
        include_bytes!("../../data/top1m-sample.csv"),
    ),
    (
        "tables/ti_indicators.csv",
        include_bytes!("../../data/tables/ti_indicators.csv"),
    ),
    (
        "tables/port_monitor.csv",
        include_bytes!("../../data/tables/port_monitor.csv"),
    ),
];

/// The bundled example tables (`data/tables/NAME.csv`): what a query's `[tables.NAME]` with
/// `example = "NAME"` reads when the user gives no `--table NAME=PATH`.
pub const EXAMPLES: &[&str] = &["ti_indicators", "port_monitor"];

/// The sample-relative file of bundled example table `name`.
pub fn example(name: &str) -> Option<String> {
    EXAMPLES
        .contains(&name)
        .then(|| format!("tables/{name}.csv"))
}

/// What a run on the sample lake prints on stderr (unless `--quiet`).
pub const NOTICE: &str = "nethunt: note: NetworkSessions is the bundled sample lake (synthetic \
    sessions, not your traffic); give --data PATH|URL to hunt in your own logs";

/// Where the sample is on disk.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The lake folder (hive-partitioned by `date`).
    pub lake: PathBuf,
    /// The domain list (`rank,domain` CSV).
    pub domains: PathBuf,
    /// The folder everything is in.
    pub root: PathBuf,
}

impl Sample {
    /// The file of bundled example table `name` (see [`EXAMPLES`]).
    pub fn example(&self, name: &str) -> Option<PathBuf> {
        example(name).map(|f| self.root.join(f))
    }
}

fn folder_name() -> String {
    let mut h = Sha256::new();
    for (name, bytes) in FILES {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn complete(dir: &Path) -> bool {
    FILES.iter().all(|(name, bytes)| {
        std::fs::metadata(dir.join(name)).is_ok_and(|m| m.len() == bytes.len() as u64)
    })
}

/// Write the files into a fresh folder beside `dir`, then rename it to `dir`: a reader never
/// sees a half-written sample, and two processes doing this at once both end with a whole one.
fn write_into(dir: &Path) -> std::io::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let tmp = crate::output::TempFolder::new(".nethunt-sample-", Some(parent))?;
    for (name, bytes) in FILES {
        let path = tmp.path().join(name);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, bytes)?;
    }
    if dir.exists() {
        // An incomplete copy (files removed by hand): replace it.
        std::fs::remove_dir_all(dir)?;
    }
    match std::fs::rename(tmp.path(), dir) {
        Ok(()) => {
            // Renamed away: nothing left to remove.
            tmp.keep();
            Ok(())
        }
        // Another process put a whole copy there first.
        Err(_) if complete(dir) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The sample on disk under `cache` (`<cache>/sample/<hash>/`), written on first use. When the
/// cache folder cannot be written, the system's temporary folder serves instead.
pub fn materialize(cache: &Path) -> Result<Sample> {
    let name = folder_name();
    let mut last = None;
    for root in [
        cache.join("sample"),
        std::env::temp_dir().join("nethunt-sample"),
    ] {
        let dir = root.join(&name);
        if complete(&dir) {
            return Ok(at(&dir));
        }
        match write_into(&dir) {
            Ok(()) => return Ok(at(&dir)),
            Err(e) => last = Some((dir, e)),
        }
    }
    let (dir, e) = last.expect("two attempts");
    Err(Error::Config(format!(
        "cannot write the bundled sample to {}: {e} (give --data and --domains, or --cache-dir DIR)",
        dir.display()
    )))
}

fn at(dir: &Path) -> Sample {
    Sample {
        lake: dir.join("lake"),
        domains: dir.join("top1m-sample.csv"),
        root: dir.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `data/` is embedded, byte for byte (a regenerated sample with another
    /// layout must update [`FILES`]).
    #[test]
    fn every_file_of_data_is_embedded() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let mut found = Vec::new();
        let mut stack = vec![data.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    let rel = e.path().strip_prefix(&data).unwrap().display().to_string();
                    found.push((rel, std::fs::read(e.path()).unwrap()));
                }
            }
        }
        found.sort();
        let mut embedded: Vec<(String, Vec<u8>)> = FILES
            .iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect();
        embedded.sort();
        assert_eq!(
            found.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            embedded.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
        assert!(found == embedded, "the embedded bytes differ from data/");
    }

    #[test]
    fn written_once_and_repaired() {
        let cache = tempfile::tempdir().unwrap();
        let s = materialize(cache.path()).unwrap();
        assert!(s.lake.join("date=2024-07-30/part-00000.parquet").is_file());
        assert_eq!(std::fs::read(&s.domains).unwrap(), FILES[2].1);
        // A removed file is put back; nothing else is left in the cache's sample folder.
        std::fs::remove_file(s.lake.join("date=2024-07-31/part-00000.parquet")).unwrap();
        let again = materialize(cache.path()).unwrap();
        assert_eq!(again.lake, s.lake);
        assert!(complete(s.lake.parent().unwrap()));
        let entries: Vec<_> = std::fs::read_dir(cache.path().join("sample"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
    }
}
