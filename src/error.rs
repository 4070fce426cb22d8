//! Typed errors of the nethunt library. Every message is one line that names the thing at fault
//! (file, column, parameter, query, URL) and the cause; `main` prints it and exits 2.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command-line or environment configuration.
    #[error("{0}")]
    Config(String),

    /// A query file that cannot be used: bad header, bad SQL, undeclared parameter.
    #[error("{}{}: {msg}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    QueryFile {
        path: PathBuf,
        line: Option<usize>,
        msg: String,
    },

    /// A `--param` that is unknown or does not parse as its declared type.
    #[error("parameter '{name}': {msg}")]
    Param { name: String, msg: String },

    /// `run NAME` where NAME is not in the library.
    #[error("unknown query '{name}' (known: {})", known.join(", "))]
    UnknownQuery { name: String, known: Vec<String> },

    /// A table source that cannot be used: missing file, corrupt Parquet, missing or mistyped column.
    #[error("table {table}: {location}: {msg}")]
    Table {
        table: String,
        location: String,
        msg: String,
    },

    /// Fetching an external table failed (download, unzip, parse or cache).
    #[error("{url}: {msg}")]
    Fetch { url: String, msg: String },

    /// Writing results failed.
    #[error("output {}: {msg}", path.display())]
    Output { path: PathBuf, msg: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// An error raised by DataFusion while planning or running SQL.
    #[error("{context}: {}", one_line(source))]
    DataFusion {
        context: String,
        source: DataFusionError,
    },
}

impl Error {
    pub fn datafusion(context: impl Into<String>, source: DataFusionError) -> Self {
        Error::DataFusion {
            context: context.into(),
            source,
        }
    }
    pub fn table(table: &str, location: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Table {
            table: table.to_string(),
            location: location.into(),
            msg: msg.into(),
        }
    }
    pub fn param(name: &str, msg: impl Into<String>) -> Self {
        Error::Param {
            name: name.to_string(),
            msg: msg.into(),
        }
    }
}

/// DataFusion errors nest context and sometimes span lines; users get the innermost cause on one
/// line.
pub fn one_line(e: &DataFusionError) -> String {
    let inner = e.find_root();
    let text = match inner {
        DataFusionError::ArrowError(a, _) => a.to_string(),
        DataFusionError::ParquetError(p) => p.to_string(),
        DataFusionError::ObjectStore(o) => o.to_string(),
        DataFusionError::IoError(io) => io.to_string(),
        other => other.to_string(),
    };
    crate::store::explain(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Secrets (keys, tokens) that must never be printed; see [`redact`].
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Remember a secret so that [`redact`] hides it. Very short values are ignored (they would hide
/// ordinary text and are no secret anyway).
pub fn add_secret(secret: &str) {
    if secret.len() < 6 {
        return;
    }
    let mut s = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    if !s.iter().any(|x| x == secret) {
        s.push(secret.to_string());
    }
}

/// `text` with every recorded secret replaced by `***`. Every error line goes through this before
/// it is printed.
pub fn redact(text: &str) -> String {
    let s = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for secret in s.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}
