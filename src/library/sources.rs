//! Source parsers: one SQL view per source format (`parsers/*.sql`, compiled in), mapping the
//! source's own fields onto ASIM NetworkSession columns, as ASIM's `_Im_NetworkSession` parsers
//! do. The header (TOML in SQL comments, like a query's) says what the parser reads and fills,
//! how its files are recognised (`[detect]`) and the flat typed raw tables its SQL selects from
//! (`[raw.NAME]`: file-name globs, pinned columns, required columns).
//! Uses: `lake` (raw table types), `schema`, `error`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::raw::{RawColumn, RawTable, RawType};

/// The parsers in the repository's `parsers/` folder, compiled in, in the order detection tries
/// them (the ASIM pass-through last: it accepts any file with an ASIM column).
pub const BUILTIN: &[(&str, &str)] = &[
    ("zeek", include_str!("../../parsers/zeek.sql")),
    ("vpcflow", include_str!("../../parsers/vpcflow.sql")),
    ("ocsf", include_str!("../../parsers/ocsf.sql")),
    ("suricata", include_str!("../../parsers/suricata.sql")),
    ("asim", include_str!("../../parsers/asim.sql")),
];

/// The parser of lakes already in ASIM columns: its table is the files as they are.
pub const ASIM: &str = "asim";

#[derive(Debug, Clone)]
pub struct SourceParser {
    pub name: String,
    pub title: String,
    pub vendor: String,
    pub product: String,
    pub description: String,
    pub formats: Vec<String>,
    pub layouts: Vec<String>,
    pub fills: Vec<String>,
    /// The ASIM parser whose mapping this one follows, and where it is.
    pub asim: String,
    pub reference: Option<String>,
    /// A file is this source's when it has every one of these columns (Parquet) or fields
    /// (the first record of a text log).
    pub detect: Vec<String>,
    pub raw: Vec<RawTable>,
    /// The whole file text.
    pub text: String,
    /// The SQL of the view.
    pub body: String,
}

impl SourceParser {
    pub fn parse(text: &str, origin: &Path) -> Result<SourceParser> {
        let err = |msg: String| Error::QueryFile {
            path: origin.to_path_buf(),
            line: None,
            msg,
        };
        let (table, end) = super::header_table(text, origin)?;
        let string = |key: &str| -> Result<String> {
            match table.get(key) {
                Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                Some(other) => Err(err(format!(
                    "header field '{key}' must be a non-empty string, got {other}"
                ))),
                None => Err(err(format!("header field '{key}' is missing"))),
            }
        };
        let strings = |t: &toml::Table, key: &str| -> Result<Vec<String>> {
            super::string_list(t, key, |_| true, "strings", "a list of strings")
                .map(Option::unwrap_or_default)
                .map_err(|m| err(format!("header field {m}")))
        };
        let name = string("name")?;
        let mut raw = Vec::new();
        if let Some(tables) = table.get("raw") {
            let tables = tables
                .as_table()
                .ok_or_else(|| err("[raw] must hold [raw.NAME] tables".into()))?;
            for (tname, t) in tables {
                let t = t
                    .as_table()
                    .ok_or_else(|| err(format!("[raw.{tname}] must be a table")))?;
                let cols = t.get("columns").and_then(|c| c.as_table()).ok_or_else(|| {
                    err(format!(
                        "[raw.{tname}] needs columns = {{ name = \"type\", … }}"
                    ))
                })?;
                let columns = cols
                    .iter()
                    .map(|(c, ty)| {
                        ty.as_str()
                            .and_then(RawType::parse)
                            .map(|ty| RawColumn {
                                name: c.clone(),
                                ty,
                            })
                            .ok_or_else(|| {
                                err(format!(
                                    "[raw.{tname}] column {c}: type must be string, int, port, float, \
                                     bool or time, got {ty}"
                                ))
                            })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let required = strings(t, "required")?;
                if let Some(r) = required
                    .iter()
                    .find(|r| !columns.iter().any(|c| &c.name == *r))
                {
                    return Err(err(format!(
                        "[raw.{tname}] requires {r}, which is not a column"
                    )));
                }
                let mut files = strings(t, "files")?;
                if files.is_empty() {
                    files.push("*".into());
                }
                raw.push(RawTable {
                    name: tname.clone(),
                    files,
                    columns,
                    required,
                });
            }
        }
        let detect = match table.get("detect").and_then(|d| d.as_table()) {
            Some(d) => strings(d, "columns")?,
            None => vec![],
        };
        if detect.is_empty() {
            return Err(err("[detect] columns = [...] is missing".into()));
        }
        if raw.is_empty() && name != ASIM {
            return Err(err(
                "a source parser declares at least one [raw.NAME] table".into(),
            ));
        }
        let lines: Vec<&str> = text.lines().collect();
        let body = lines[end + 1..].join("\n");
        if body.trim().is_empty() {
            return Err(err("no SQL after the header".into()));
        }
        Ok(SourceParser {
            title: string("title")?,
            vendor: string("vendor")?,
            product: string("product")?,
            description: string("description")?,
            formats: strings(&table, "formats")?,
            layouts: strings(&table, "layouts")?,
            fills: strings(&table, "fills")?,
            asim: string("asim")?,
            reference: table
                .get("reference")
                .and_then(|r| r.as_str())
                .map(str::to_string),
            name,
            detect,
            raw,
            text: text.to_string(),
            body,
        })
    }

    /// Whether a file with these columns (or first-record fields) is this source's.
    pub fn matches(&self, keys: &[String]) -> bool {
        if self.name == ASIM {
            return keys.iter().any(|k| crate::schema::family(k).is_some());
        }
        self.detect.iter().all(|d| keys.contains(d))
    }
}

/// Every built-in source parser.
pub fn parsers() -> Result<Vec<SourceParser>> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            SourceParser::parse(text, &PathBuf::from(format!("builtin:parsers/{name}.sql")))
        })
        .collect()
}

/// A parser by name; an unknown name lists the known ones.
pub fn parser(name: &str) -> Result<SourceParser> {
    let all = parsers()?;
    let known: Vec<String> = all.iter().map(|p| p.name.clone()).collect();
    all.into_iter().find(|p| p.name == name).ok_or_else(|| {
        Error::Config(format!(
            "unknown source '{name}' (known: {})",
            known.join(", ")
        ))
    })
}

/// The `sources` listing: name, title, formats, what detection looks for.
pub fn listing() -> Result<String> {
    let mut s = String::new();
    for p in parsers()? {
        s.push_str(&format!(
            "{}\n    {} ({} {})\n",
            p.name, p.title, p.vendor, p.product
        ));
        for f in &p.formats {
            s.push_str(&format!("    reads: {f}\n"));
        }
        s.push_str(&format!("    detected by: {}\n", p.detect.join(", ")));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parser_parses() {
        let all = parsers().unwrap();
        assert_eq!(all.len(), BUILTIN.len());
        for p in &all {
            assert!(!p.fills.is_empty() || p.name == ASIM, "{}", p.name);
            assert!(p.text.starts_with("-- ---"), "{}", p.name);
        }
        assert!(
            parser("nope")
                .unwrap_err()
                .to_string()
                .contains("known: zeek")
        );
    }

    #[test]
    fn detection_needs_every_listed_column() {
        let zeek = parser("zeek").unwrap();
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(zeek.matches(&keys(&["ts", "uid", "id.orig_h", "id.resp_h", "proto"])));
        assert!(!zeek.matches(&keys(&["ts", "uid"])));
        let asim = parser(ASIM).unwrap();
        assert!(asim.matches(&keys(&["SrcIpAddr", "x"])));
        assert!(!asim.matches(&keys(&["srcaddr"])));
    }
}
