//! Where the cluster is and who we are: kubeconfig files, in-cluster service accounts.
//!
//! [`Config::infer`] tries the kubeconfig (`$KUBECONFIG`, else `~/.kube/config`) and then the
//! in-cluster service account, the same order as client-go's `BuildConfigFromFlags("", "")`
//! followed by `InClusterConfig()`.

pub mod exec;
pub mod incluster;
pub mod kubeconfig;

use std::time::Duration;

pub use kubeconfig::{AuthInfo, ExecConfig, Kubeconfig, KubeconfigOptions};

/// Everything a [`Client`](crate::Client) needs to reach and authenticate to one apiserver.
///
/// Like client-go's `rest.Config`: build it from a kubeconfig or the in-cluster environment,
/// then adjust fields (timeouts, rate limits) before creating the client.
#[derive(Debug, Clone)]
pub struct Config {
    /// The apiserver's base URL, e.g. `https://127.0.0.1:6443`.
    pub cluster_url: http::Uri,
    /// The namespace `Api::default_namespaced` uses.
    pub default_namespace: String,
    /// Extra trusted CA certificates (DER). When set, only these (not the web roots) are trusted.
    pub root_cert: Option<Vec<Vec<u8>>>,
    /// Skip verification of the server's certificate (`insecure-skip-tls-verify`).
    pub accept_invalid_certs: bool,
    /// The name to verify the server certificate against, instead of the URL's host.
    pub tls_server_name: Option<String>,
    /// Timeout for establishing a connection.
    pub connect_timeout: Option<Duration>,
    /// Timeout for a whole request and its response. Never applied to watches.
    pub read_timeout: Option<Duration>,
    /// Credentials from the kubeconfig user entry (or the in-cluster token file).
    pub auth_info: AuthInfo,
    /// An HTTP(S) proxy to send requests through.
    pub proxy_url: Option<http::Uri>,
    /// The `User-Agent` header; defaults to `kube-client/<version>`.
    pub user_agent: Option<String>,
    /// Client-side rate limit: sustained queries per second. `None` turns rate limiting off.
    pub qps: Option<f32>,
    /// Client-side rate limit: burst size.
    pub burst: u32,
    /// How many times an idempotent request is retried after 429, 503, 504 or a connection error.
    pub max_retries: u32,
}

/// Default client-side rate limit, in queries per second (higher than client-go's 5, which
/// is too low for controllers).
pub const DEFAULT_QPS: f32 = 50.0;
/// Default client-side burst.
pub const DEFAULT_BURST: u32 = 100;
/// Default number of retries for idempotent requests.
pub const DEFAULT_MAX_RETRIES: u32 = 5;

impl Config {
    /// A configuration for `cluster_url` with no credentials and default settings.
    pub fn new(cluster_url: http::Uri) -> Self {
        Self {
            cluster_url,
            default_namespace: "default".into(),
            root_cert: None,
            accept_invalid_certs: false,
            tls_server_name: None,
            connect_timeout: Some(Duration::from_secs(30)),
            read_timeout: Some(Duration::from_secs(295)),
            auth_info: AuthInfo::default(),
            proxy_url: None,
            user_agent: None,
            qps: Some(DEFAULT_QPS),
            burst: DEFAULT_BURST,
            max_retries: DEFAULT_MAX_RETRIES,
        }
    }
}

/// Why a configuration could not be loaded. Each variant names the file, context or field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Placeholder while the loaders are written.
    #[error("{0}")]
    Other(String),
}
