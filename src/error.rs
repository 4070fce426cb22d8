//! Typed errors of the nethunt library. Every message is one line that names the thing at fault
//! (file, column, parameter, query, URL) and the cause; `main` prints it and exits 2. Also the
//! one-line forms of outside errors (DataFusion's, object stores') and the redaction of secrets
//! from every line printed. Uses: nothing of nethunt's.

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

    /// A Ballista cluster that cannot be reached or used (`--cluster`, `nethunt cluster ...`).
    #[error("cluster {address}: {msg}")]
    Cluster { address: String, msg: String },

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
        // nethunt's own errors raised inside a scan (a text log's bad line) say it all.
        DataFusionError::External(e) => e.to_string(),
        other => other.to_string(),
    };
    missing_function(&text)
        .or_else(|| rejected_task(&text))
        .unwrap_or_else(|| explain(&text.split_whitespace().collect::<Vec<_>>().join(" ")))
}

/// A Ballista scheduler or executor that lacks a function reports it deep inside a job failure;
/// say which function and what to do.
fn missing_function(text: &str) -> Option<String> {
    // Planning (scheduler) and decoding (executor) say it in different words.
    let name = [
        "There is no UDF named \"",
        "is not provided for scalar function ",
    ]
    .iter()
    .find_map(|before| {
        let rest = &text[text.find(before)? + before.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        Some(&rest[..end])
    })
    .filter(|n| !n.is_empty())?;
    Some(format!(
        "function {name} is not available on the cluster: run its scheduler and executors with \
         `nethunt cluster scheduler` / `nethunt cluster executor` (the stock Ballista binaries \
         lack nethunt's functions)"
    ))
}

/// An executor that cannot decode a task (a function it lacks, a different version) makes the
/// scheduler fail the job with a bare sentence; add the usual cause and where the detail is.
fn rejected_task(text: &str) -> Option<String> {
    let at = text.find("task could not be prepared or was rejected by executor")?;
    let job = text[..at].trim_end_matches([' ', ':']);
    let job = job
        .rsplit_once("Job ")
        .map(|(_, j)| j.trim_end_matches(" failed"))
        .unwrap_or("");
    Some(format!(
        "job {job} failed: an executor could not prepare a task (its log says why); executors \
         without nethunt's functions do this: run them with `nethunt cluster executor`, the same \
         version as this client"
    ))
}

/// A short, actionable version of an object-store error message: the S3 error code in words, or
/// "cannot reach" with the endpoint for transport failures; other messages pass through.
pub fn explain(text: &str) -> String {
    let between = |a: &str, b: &str| {
        let i = text.find(a)? + a.len();
        let j = text[i..].find(b)? + i;
        Some(text[i..j].to_string())
    };
    let endpoint = text
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| {
            format!(
                "{}://{}",
                u.scheme(),
                &u[url::Position::BeforeHost..url::Position::AfterPort]
            )
        });
    let retries = between("after ", " retries")
        .map(|n| format!(", after {n} retries"))
        .unwrap_or_default();
    if let Some(code) = between("<Code>", "</Code>") {
        let what = match code.as_str() {
            "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "AccessDenied"
            | "InvalidToken"
            | "ExpiredToken"
            | "AuthorizationHeaderMalformed"
            | "NotSignedUp" => {
                "access denied: check the credentials (--profile, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and the region"
            }
            "NoSuchBucket" => "the bucket does not exist",
            "NoSuchKey" => "no such object",
            _ => "the object store refused the request",
        };
        return format!("{what} ({code})");
    }
    if text.contains("error sending request") || text.contains("Connection refused") {
        return format!(
            "cannot reach the object store{} (connection failed{retries})",
            endpoint.map(|e| format!(" at {e}")).unwrap_or_default()
        );
    }
    if text.contains("403 Forbidden") {
        return "access denied (403): check the credentials".into();
    }
    if text.contains("404 Not Found") {
        return "not found (404)".into();
    }
    text.to_string()
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

/// `text` with every recorded secret replaced by `***`, and the query string of every URL in it
/// too (presigned S3 URLs and Azure SAS tokens carry their signatures there). Every error line,
/// and every source shown in a listing or a manifest, goes through this before it is printed.
pub fn redact(text: &str) -> String {
    let s = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for secret in s.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    hide_url_queries(&out)
}

/// Every `scheme://...?query` in `text` as `scheme://...?***` (the fragment goes too). A URL
/// ends at whitespace, a quote or a closing bracket; punctuation at its end (`:` before an
/// error's message, say) stays.
fn hide_url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || "\"'`<>)]}".contains(c))
            .unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches([':', ',', ';', '.']);
        match url.find(['?', '#']) {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?***");
            }
            None => out.push_str(url),
        }
        rest = &tail[url.len()..];
    }
    out.push_str(rest);
    out
}

/// clap's usage error (several lines: the error, a tip or the possible values, the usage, a
/// pointer to --help) as one line, like every other nethunt error.
pub fn usage_line(rendered: &str) -> String {
    let parts: Vec<String> = rendered
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let line = parts.join("; ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explained() {
        let t = "Generic S3 error: Error performing list request: Error performing GET http://127.0.0.1:9123/bkt?list-type=2 in 2ms - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code></Error>";
        assert!(explain(t).starts_with("access denied"), "{}", explain(t));
        let t = "Error performing GET http://127.0.0.1:9124/bkt?list-type=2 in 484ms, after 3 retries, max_retries: 3, retry_timeout: 30s - HTTP error: error sending request";
        assert_eq!(
            explain(t),
            "cannot reach the object store at http://127.0.0.1:9124 (connection failed, after 3 retries)"
        );
        assert_eq!(explain("plain"), "plain");
    }

    #[test]
    fn url_queries_are_hidden() {
        let presigned = "table NetworkSessions: https://b.s3.amazonaws.com/x.parquet?X-Amz-Signature=abc123&X-Amz-Credential=AKIA: HTTP 403";
        assert_eq!(
            redact(presigned),
            "table NetworkSessions: https://b.s3.amazonaws.com/x.parquet?***: HTTP 403"
        );
        let sas = "az://c/p/?sv=2022&sig=SIGSIG (\"https://a.blob.core.windows.net/c?sig=X\") done";
        assert_eq!(
            redact(sas),
            "az://c/p/?*** (\"https://a.blob.core.windows.net/c?***\") done"
        );
        assert_eq!(redact("no url? here"), "no url? here");
        assert_eq!(redact("s3://b/k#frag"), "s3://b/k?***");
    }

    #[test]
    fn missing_functions_are_named() {
        let scheduler = r#"Status { code: InvalidArgument, message: "Could not parse plan: Plan(\"DataFusion error: NotImplemented(\\\"LogicalExtensionCodec is not provided for scalar function ipv4_is_private\\\")\")" }"#;
        let executor = r#"Task failed: Internal error: There is no UDF named "second_level_domain" in the TaskContext"#;
        for (text, name) in [
            (scheduler, "ipv4_is_private"),
            (executor, "second_level_domain"),
        ] {
            let m = missing_function(text).unwrap();
            assert!(
                m.starts_with(&format!("function {name} is not available on the cluster")),
                "{m}"
            );
        }
        assert!(missing_function("Execution error: something else").is_none());
        let m = rejected_task(
            "Execution error: Job 038H095HD8000 failed: task could not be prepared or was rejected by executor",
        )
        .unwrap();
        assert!(
            m.starts_with("job 038H095HD8000 failed: an executor could not prepare a task"),
            "{m}"
        );
    }
}
