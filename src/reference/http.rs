//! Downloading a reference table over HTTP(S): conditional GET against the cached copy, retries
//! with backoff on transient failures, size limits, and a refusal of HTML error pages.
//! Uses: `error`.

use std::time::Duration;

use super::Meta;
use super::decode::Limits;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// Longest wait for any bytes of the response (a stalled server fails after this).
    pub read_timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    /// Draw a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(500),
            progress: true,
        }
    }
}

pub(super) enum Body {
    NotModified,
    Bytes {
        data: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// One attempt's failure: whether trying again may help.
struct AttemptError {
    retry: bool,
    msg: String,
}

fn describe(e: &reqwest::Error, opts: &HttpOptions) -> AttemptError {
    let msg = if e.is_timeout() {
        format!(
            "timed out (no data for {}s)",
            opts.read_timeout.as_secs_f64()
        )
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_body() || e.is_decode() {
        "the connection closed before the whole body arrived".to_string()
    } else {
        // innermost cause, one line
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        cause.to_string()
    };
    AttemptError { retry: true, msg }
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    prev: Option<&Meta>,
    limits: &Limits,
    opts: &HttpOptions,
) -> std::result::Result<Body, AttemptError> {
    let mut req = client.get(url);
    if let Some(m) = prev {
        if let Some(e) = &m.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e);
        }
        if let Some(l) = &m.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, l);
        }
    }
    let mut resp = req.send().await.map_err(|e| describe(&e, opts))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED && prev.is_some() {
        return Ok(Body::NotModified);
    }
    if !status.is_success() {
        return Err(AttemptError {
            retry: status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS,
            msg: format!("HTTP {status}"),
        });
    }
    if let Some(len) = resp.content_length()
        && len > limits.max_download
    {
        return Err(AttemptError {
            retry: false,
            msg: format!(
                "the body is {len} bytes, over the {} byte limit",
                limits.max_download
            ),
        });
    }
    let header = |h| {
        resp.headers()
            .get(h)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header(reqwest::header::ETAG);
    let last_modified = header(reqwest::header::LAST_MODIFIED);
    let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();

    let bar = if opts.progress {
        let b = indicatif::ProgressBar::with_draw_target(
            resp.content_length(),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}",
        ) {
            b.set_style(style);
        }
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut data =
        Vec::with_capacity(resp.content_length().unwrap_or(0).min(limits.max_download) as usize);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                data.extend_from_slice(&chunk);
                bar.set_position(data.len() as u64);
                if data.len() as u64 > limits.max_download {
                    bar.finish_and_clear();
                    return Err(AttemptError {
                        retry: false,
                        msg: format!("the body exceeds the {} byte limit", limits.max_download),
                    });
                }
            }
            Ok(None) => break,
            Err(e) => {
                bar.finish_and_clear();
                return Err(describe(&e, opts));
            }
        }
    }
    bar.finish_and_clear();
    let head = String::from_utf8_lossy(&data[..data.len().min(512)])
        .trim_start()
        .to_ascii_lowercase();
    if content_type.starts_with("text/html")
        || head.starts_with("<!doctype html")
        || head.starts_with("<html")
    {
        return Err(AttemptError {
            retry: false,
            msg: "the server sent an HTML page, not the data (an error or login page?)".into(),
        });
    }
    Ok(Body::Bytes {
        data,
        etag,
        last_modified,
    })
}

pub(super) async fn download(
    url: &str,
    prev: Option<&Meta>,
    limits: &Limits,
    opts: &HttpOptions,
) -> Result<Body> {
    let fail = |msg: String| Error::Fetch {
        url: url.to_string(),
        msg,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(opts.connect_timeout)
        .read_timeout(opts.read_timeout)
        .user_agent(concat!("nethunt/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(format!("cannot build an HTTP client: {e}")))?;
    let mut delay = opts.backoff;
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt(&client, url, prev, limits, opts).await {
            Ok(b) => return Ok(b),
            Err(e) if e.retry && tries <= opts.retries => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                let after = if tries > 1 {
                    format!(" (after {tries} attempts)")
                } else {
                    String::new()
                };
                return Err(fail(format!("{}{after}", e.msg)));
            }
        }
    }
}
