//! Object stores: `s3://`, `gs://`, `az://` / `abfss://` and `http(s)://` URLs for lakes, tables
//! and batch output. A store is built per bucket on first use (DataFusion's core does not build
//! stores from URLs), with credentials found the way each cloud's own tools find them.
//!
//! Secrets (keys, tokens) never reach output: every one nethunt is given or finds is recorded with
//! [`crate::error::add_secret`], and every error line is redacted before it is printed.
//! Uses: `error`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use datafusion::error::DataFusionError;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::aws::AmazonS3Builder;
use object_store::aws::AwsCredential;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::{BackoffConfig, ClientOptions, CredentialProvider, ObjectStore, RetryConfig};
use url::Url;

use crate::error::add_secret;

/// How to reach object stores (from `--profile`, `--region`, `--endpoint`, ...).
#[derive(Clone)]
pub struct StoreOptions {
    /// AWS shared-config profile (`--profile`, else `AWS_PROFILE`).
    pub profile: Option<String>,
    pub region: Option<String>,
    /// S3-compatible endpoint, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// Allow plain-HTTP endpoints.
    pub allow_http: bool,
    /// Send unsigned requests (public buckets).
    pub anonymous: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Retries of a failed request (5xx, timeouts, dropped connections).
    pub retries: usize,
    /// Time limit on one request, including its retries.
    pub timeout: Duration,
}

impl std::fmt::Debug for StoreOptions {
    // Hand-written so that no key or token can be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("profile", &self.profile)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("allow_http", &self.allow_http)
            .field("anonymous", &self.anonymous)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            profile: None,
            region: None,
            endpoint: None,
            allow_http: false,
            anonymous: false,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            retries: 3,
            timeout: Duration::from_secs(30),
        }
    }
}

impl StoreOptions {
    fn client(&self) -> ClientOptions {
        let http_endpoint = self
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        ClientOptions::new()
            .with_allow_http(self.allow_http || http_endpoint)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(self.timeout)
    }

    fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: self.retries,
            retry_timeout: self.timeout,
        }
    }
}

/// Does this look like an object-store URL (as opposed to a local path)?
pub fn is_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
    })
}

/// `[section]` → key → value of an INI file (AWS's dialect: `#`/`;` comments, `key = value`).
pub fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

fn aws_file(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws").join(name))
}

/// The sections of profile `name` in the shared files: `[name]` of the credentials file,
/// `[profile name]` (or `[default]`) of the config file. Only whether it exists and its
/// `region` are read here; credentials come from the AWS SDK ([`SdkCredentials`]).
fn profile_sections(name: &str) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    if let Some(path) = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        && let Ok(text) = std::fs::read_to_string(&path)
        && let Some(sec) = parse_ini(&text).remove(name)
    {
        out.push(sec);
    }
    if let Some(path) = aws_file("AWS_CONFIG_FILE", "config")
        && let Ok(text) = std::fs::read_to_string(&path)
    {
        let key = if name == "default" {
            "default".to_string()
        } else {
            format!("profile {name}")
        };
        if let Some(sec) = parse_ini(&text).remove(&key) {
            out.push(sec);
        }
    }
    out
}

/// AWS credentials from the AWS SDK for Rust (`aws-config`), as the AWS CLI finds them: the
/// profile named with `--profile` alone (static keys, SSO, `role_arn` + `source_profile`,
/// `credential_process`, web identity), else the default chain (environment, `AWS_PROFILE` or
/// the default profile, web identity, container credentials, instance metadata). A credential
/// is kept until five minutes before it expires, so long batch runs get fresh ones. Every
/// secret it hands out is recorded for redaction.
struct SdkCredentials {
    profile: Option<String>,
    provider: tokio::sync::OnceCell<aws_credential_types::provider::SharedCredentialsProvider>,
    cached: std::sync::Mutex<Option<(Arc<AwsCredential>, Option<std::time::SystemTime>)>>,
}

impl std::fmt::Debug for SdkCredentials {
    // No key or token may be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkCredentials")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// A failure of the SDK's credential providers, as one line with its causes.
#[derive(Debug)]
struct CredentialsError(String);

impl std::fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CredentialsError {}

#[async_trait::async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
        let fresh_until = std::time::SystemTime::now() + Duration::from_secs(300);
        if let Some((c, expiry)) = self
            .cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && expiry.is_none_or(|e| e > fresh_until)
        {
            return Ok(c.clone());
        }
        let provider = self
            .provider
            .get_or_init(|| async {
                match &self.profile {
                    Some(p) => SharedCredentialsProvider::new(
                        aws_config::profile::ProfileFileCredentialsProvider::builder()
                            .profile_name(p)
                            .build(),
                    ),
                    None => SharedCredentialsProvider::new(
                        aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                            .build()
                            .await,
                    ),
                }
            })
            .await;
        let c = provider.provide_credentials().await.map_err(|e| {
            let mut msg = format!("AWS credentials: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                msg.push_str(&format!(": {c}"));
                cause = c.source();
            }
            object_store::Error::Generic {
                store: "S3",
                source: Box::new(CredentialsError(msg)),
            }
        })?;
        add_secret(c.secret_access_key());
        if let Some(t) = c.session_token() {
            add_secret(t);
        }
        let credential = Arc::new(AwsCredential {
            key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        });
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((credential.clone(), c.expiry()));
        Ok(credential)
    }
}

fn env_nonempty(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// Record the secrets the environment holds so that they are redacted from any output.
pub fn record_env_secrets() {
    for k in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_STORAGE_SAS_KEY",
        "AZURE_STORAGE_TOKEN",
        "AZURE_CLIENT_SECRET",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
    ] {
        if let Some(v) = env_nonempty(k) {
            add_secret(&v);
        }
    }
}

fn build_s3(url: &Url, o: &StoreOptions) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    let bucket = url.host_str().unwrap_or_default();
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_client_options(o.client())
        .with_retry(o.retry());
    // Credentials: --access-key-id/--secret-access-key as given, else the AWS SDK's providers
    // (SdkCredentials), in the AWS CLI's order.
    let mut region = o.region.clone();
    if o.anonymous {
        b = b.with_skip_signature(true);
    } else if let (Some(k), Some(s)) = (&o.access_key_id, &o.secret_access_key) {
        b = b.with_access_key_id(k).with_secret_access_key(s);
        if let Some(t) = &o.session_token {
            b = b.with_token(t);
        }
    } else {
        // A profile the user named must exist; the SDK would only say so at the first request.
        let named = o.profile.clone().or_else(|| env_nonempty("AWS_PROFILE"));
        let sections = profile_sections(named.as_deref().unwrap_or("default"));
        if let Some(name) = &named
            && sections.is_empty()
        {
            return Err(format!(
                "AWS profile '{name}' not found in ~/.aws/credentials or ~/.aws/config"
            ));
        }
        if region.is_none() && env_nonempty("AWS_REGION").is_none() {
            region = sections.iter().find_map(|s| s.get("region").cloned());
        }
        b = b.with_credentials(Arc::new(SdkCredentials {
            profile: o.profile.clone(),
            provider: tokio::sync::OnceCell::new(),
            cached: std::sync::Mutex::new(None),
        }));
    }
    if let Some(r) = region {
        b = b.with_region(r);
    }
    if let Some(e) = &o.endpoint {
        b = b.with_endpoint(e);
    }
    b.build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| e.to_string())
}

/// Build the store serving `url` (its scheme and bucket).
pub fn build_store(
    url: &Url,
    o: &StoreOptions,
) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "s3" | "s3a" => return build_s3(url, o),
        "gs" | "gcs" => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .with_skip_signature(o.anonymous)
                .with_client_options(o.client())
                .with_retry(o.retry())
                .build()
                .map_err(|e| e.to_string())?,
        ),
        "az" | "azure" | "abfs" | "abfss" | "adl" => Arc::new(
            MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .with_skip_signature(o.anonymous)
                .with_client_options(o.client())
                .with_retry(o.retry())
                .build()
                .map_err(|e| e.to_string())?,
        ),
        "http" | "https" => {
            let base = format!(
                "{}://{}",
                url.scheme(),
                &url[url::Position::BeforeHost..url::Position::AfterPort]
            );
            Arc::new(
                HttpBuilder::new()
                    .with_url(base)
                    .with_client_options(o.client().with_allow_http(true))
                    .with_retry(o.retry())
                    .build()
                    .map_err(|e| e.to_string())?,
            )
        }
        other => {
            return Err(format!(
                "unsupported URL scheme '{other}' (s3, gs, az, abfss, http and https are)"
            ));
        }
    };
    Ok(store)
}

/// DataFusion's registry plus lazy construction: the first URL of a bucket builds its store.
#[derive(Debug)]
pub struct StoreRegistry {
    inner: DefaultObjectStoreRegistry,
    opts: StoreOptions,
}

impl StoreRegistry {
    pub fn new(opts: StoreOptions) -> StoreRegistry {
        if let Some(s) = &opts.secret_access_key {
            add_secret(s);
        }
        if let Some(t) = &opts.session_token {
            add_secret(t);
        }
        record_env_secrets();
        StoreRegistry {
            inner: DefaultObjectStoreRegistry::new(),
            opts,
        }
    }
}

impl ObjectStoreRegistry for StoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        if let Ok(s) = self.inner.get_store(url) {
            return Ok(s);
        }
        let store = build_store(url, &self.opts).map_err(|m| {
            DataFusionError::Configuration(format!(
                "{}://{}: {m}",
                url.scheme(),
                url.host_str().unwrap_or_default()
            ))
        })?;
        self.inner.register_store(url, store.clone());
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini() {
        let t = "# c\n[default]\naws_access_key_id = A\naws_secret_access_key=B\n\n[profile x]\nregion = eu-west-1\n";
        let ini = parse_ini(t);
        assert_eq!(ini["default"]["aws_access_key_id"], "A");
        assert_eq!(ini["default"]["aws_secret_access_key"], "B");
        assert_eq!(ini["profile x"]["region"], "eu-west-1");
    }

    #[test]
    fn urls() {
        assert!(is_url("s3://b/p/"));
        assert!(is_url("https://x/y"));
        assert!(!is_url("data/lake"));
        assert!(!is_url("/abs/path"));
        assert!(!is_url("://x"));
    }

    #[test]
    fn debug_hides_keys() {
        let o = StoreOptions {
            access_key_id: Some("AKIAEXAMPLE".into()),
            secret_access_key: Some("sekrit".into()),
            ..StoreOptions::default()
        };
        let d = format!("{o:?}");
        assert!(!d.contains("sekrit") && !d.contains("AKIAEXAMPLE"), "{d}");
    }
}
