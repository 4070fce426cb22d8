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
