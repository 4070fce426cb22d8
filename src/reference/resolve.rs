//! Where a run's reference tables come from: `--domains` as given, a URL through the cache, the
//! cached list (refreshed when stale), or the bundled sample with a notice; `--offline` never
//! touches the network. Uses: `lake` (the bundled sample), `error`.

use std::path::{Path, PathBuf};

use super::{ExternalTable, HttpOptions, Limits};
use crate::error::{Error, Result};
use crate::schema::DOMAINS;

fn default_http(quiet: bool) -> HttpOptions {
    HttpOptions {
        progress: !quiet,
        ..Default::default()
    }
}

/// Where `top1m` comes from for a run: `domains` (`--domains`) as given when it is a path; a URL
/// through the cache (fetched when missing or stale); otherwise the cached list when there is one
/// (refreshed with a conditional GET once older than the declared refresh interval), else the
/// bundled sample list, with a notice when the run `needed` the list. `offline` never touches the
/// network and fails when a needed list is not cached.
pub async fn domains(
    domains: Option<&str>,
    offline: bool,
    declared: &ExternalTable,
    cache: &Path,
    needed: bool,
    quiet: bool,
) -> Result<String> {
    match domains {
        Some(d) if super::is_remote(d) => {
            let table = ExternalTable {
                url: d.to_string(),
                ..declared.clone()
            };
            Ok(declared_table(&table, cache, offline, quiet)
                .await?
                .display()
                .to_string())
        }
        Some(d) => Ok(d.to_string()),
        None => match super::cached(cache, DOMAINS) {
            Some((meta, file)) => {
                let stale = declared
                    .refresh
                    .is_some_and(|r| super::age(&meta).is_none_or(|a| a > r));
                if stale && !offline && super::is_remote(&meta.url) {
                    let table = ExternalTable {
                        url: meta.url.clone(),
                        zip_pattern: meta.zip_pattern.clone(),
                        ..declared.clone()
                    };
                    match super::fetch(&table, cache, &default_http(quiet), &Limits::default())
                        .await
                    {
                        Ok((current, f, super::Outcome::HeldAside)) => {
                            eprintln!("{}", super::held_aside_warning(cache, &current));
                            return Ok(f.display().to_string());
                        }
                        Ok((_, f, _)) => return Ok(f.display().to_string()),
                        Err(e) if !quiet => eprintln!(
                            "nethunt: warning: using the cached {DOMAINS} list: refresh failed: {e}"
                        ),
                        Err(_) => {}
                    }
                }
                Ok(file.display().to_string())
            }
            None if needed && offline => Err(Error::Config(format!(
                "--offline: no cached {DOMAINS} list in {}; run `nethunt domains fetch` first or give --domains PATH",
                cache.display()
            ))),
            None => {
                if needed && !quiet {
                    eprintln!(
                        "nethunt: note: {DOMAINS} is the bundled sample list; run `nethunt domains fetch` to cache the real top-1M list"
                    );
                }
                let sample = crate::lake::sample::materialize(cache)?;
                Ok(sample.domains.display().to_string())
            }
        },
    }
}

/// A declared external table: the cached copy when it is from the same source and fresh (any age
/// when `offline`), else fetched now.
pub async fn declared_table(
    table: &ExternalTable,
    cache: &Path,
    offline: bool,
    quiet: bool,
) -> Result<PathBuf> {
    if let Some((meta, file)) = super::cached(cache, &table.name)
        && meta.url == table.url
    {
        let fresh = table
            .refresh
            .is_none_or(|r| super::age(&meta).is_some_and(|a| a <= r));
        if offline || fresh {
            return Ok(file);
        }
    }
    if offline {
        return Err(Error::Fetch {
            url: table.url.clone(),
            msg: format!(
                "--offline: table {} is not cached from this source in {}; run `nethunt domains fetch --url {}` first",
                table.name,
                cache.display(),
                table.url
            ),
        });
    }
    let (_, file, _) = super::fetch(table, cache, &default_http(quiet), &Limits::default()).await?;
    Ok(file)
}

/// Why an address is no place for a query file to fetch from over `scheme`, if it is not: over
/// https, loopback, link-local (cloud metadata services) and unspecified addresses; over plain
/// http, anything but a public address.
fn refused_address(scheme: &str, ip: std::net::IpAddr) -> Option<&'static str> {
    use std::net::IpAddr;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let (loopback, link_local, unspecified, private) = match ip {
        IpAddr::V4(a) => (
            a.is_loopback(),
            a.is_link_local(),
            a.is_unspecified(),
            a.is_private()
                || a.is_broadcast()
                || a.is_documentation()
                || a.octets()[0] == 0
                || (a.octets()[0] == 100 && (64..128).contains(&a.octets()[1])),
        ),
        IpAddr::V6(a) => (
            a.is_loopback(),
            a.is_unicast_link_local(),
            a.is_unspecified(),
            a.is_unique_local() || a.is_multicast(),
        ),
    };
    if loopback {
        Some("a loopback address")
    } else if link_local {
        Some("a link-local address (where cloud metadata services answer)")
    } else if unspecified {
        Some("an unspecified address")
    } else if scheme == "http" && private {
        Some("not a public address (plain http:// is allowed only to public ones)")
    } else {
        None
    }
}

/// Whether a query file may make nethunt fetch `url` for one of its declared tables: only
/// `https://` URLs, or `http://` ones at public addresses, and never loopback or link-local
/// targets (names are resolved and every address checked). Local paths and `file:` URLs are
/// refused too. The user lifts this with `--allow-local-tables`, or by giving the table on the
/// command line (`--table NAME=...`, `--domains`).
pub async fn check_declared_source(url: &str) -> std::result::Result<(), String> {
    let parsed = match url::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u,
        Ok(u) if u.scheme() == "file" => return Err("a file: URL".into()),
        Ok(u) if u.cannot_be_a_base() || u.scheme().len() == 1 => {
            return Err("a local path".into());
        }
        Ok(u) => {
            return Err(format!(
                "a {}: URL (only https:// and http:// are)",
                u.scheme()
            ));
        }
        Err(_) => return Err("a local path".into()),
    };
    let scheme = parsed.scheme().to_string();
    let host = match parsed.host() {
        Some(url::Host::Ipv4(a)) => return check_ips(&scheme, &[a.into()]),
        Some(url::Host::Ipv6(a)) => return check_ips(&scheme, &[a.into()]),
        Some(url::Host::Domain(d)) => d.to_string(),
        None => return Err("a URL without a host".into()),
    };
    let port = parsed.port_or_known_default().unwrap_or(443);
    // Names are checked by what they resolve to ("localhost", or a name pointed at 127.0.0.1).
    match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(addrs) => {
            let ips: Vec<std::net::IpAddr> = addrs.map(|a| a.ip()).collect();
            check_ips(&scheme, &ips)
        }
        // Unresolvable: the fetch itself fails with its own clear error.
        Err(_) => Ok(()),
    }
}

fn check_ips(scheme: &str, ips: &[std::net::IpAddr]) -> std::result::Result<(), String> {
    match ips
        .iter()
        .find_map(|ip| refused_address(scheme, *ip).map(|why| (ip, why)))
    {
        Some((ip, why)) => Err(format!("{ip} is {why}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_query_files_may_fetch() {
        for ok in [
            "https://example.com/ti.csv",
            "https://93.184.216.34/x.csv",
            "https://10.1.2.3/internal.csv",
            "http://93.184.216.34/x.csv",
        ] {
            assert_eq!(check_declared_source(ok).await, Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://169.254.169.254/x", "link-local"),
            ("https://[fe80::1]/x", "link-local"),
            ("http://127.0.0.1:8080/x", "loopback"),
            ("https://[::1]/x", "loopback"),
            ("https://[::ffff:127.0.0.1]/x", "loopback"),
            ("https://localhost/x", "loopback"),
            ("http://10.0.0.5/x", "not a public address"),
            ("http://192.168.1.1/x", "not a public address"),
            ("http://100.64.0.1/x", "not a public address"),
            ("https://0.0.0.0/x", "unspecified"),
            ("file:///etc/passwd", "file: URL"),
            ("/etc/passwd", "local path"),
            ("data/top1m-sample.csv", "local path"),
            ("C:/lists/x.csv", "local path"),
            ("s3://bucket/x.csv", "s3: URL"),
        ] {
            let e = check_declared_source(bad).await.unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
