//! Where the cluster is and who we are: kubeconfig files, in-cluster service accounts.
//!
//! [`Config::infer`] tries the kubeconfig (`$KUBECONFIG`, else `~/.kube/config`) and then the
//! in-cluster service account (like controller-runtime's `GetConfig` without flags).
//! [`Config::from_kubeconfig`] follows client-go's `clientcmd`: choose the context (or the
//! one named in [`KubeconfigOptions`]), then its cluster and user; relative file paths are
//! resolved against the kubeconfig file that holds them.
//!
//! ```no_run
//! # async fn run() -> Result<(), kube_client::config::Error> {
//! use kube_client::config::{Config, KubeconfigOptions};
//! let options = KubeconfigOptions { context: Some("staging".into()), ..Default::default() };
//! let config = Config::from_kubeconfig(&options).await?;
//! println!("{} in namespace {}", config.cluster_url, config.default_namespace);
//! # Ok(())
//! # }
//! ```

pub mod exec;
pub mod incluster;
pub mod kubeconfig;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;

pub use exec::ExecError;
pub use kubeconfig::{
    AuthInfo, Cluster, Context, ExecClusterInfo, ExecConfig, ExecEnvVar, ExecInteractiveMode, Kubeconfig,
    KubeconfigOptions, NamedAuthInfo, NamedCluster, NamedContext,
};

use crate::client::tls::{self, TlsError};

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
    /// Client-side rate limit: sustained queries per second. `None` or a negative value turns
    /// rate limiting off; `0` means [`DEFAULT_QPS`].
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

impl Config {
    /// Loads the kubeconfig (`$KUBECONFIG`, merged, else `~/.kube/config`) and builds the
    /// configuration of the context `options` chooses (default `current-context`).
    pub async fn from_kubeconfig(options: &KubeconfigOptions) -> Result<Self, Error> {
        let kubeconfig = Kubeconfig::from_env()?;
        Self::from_custom_kubeconfig(kubeconfig, options).await
    }

    /// Builds the configuration of the context `options` chooses from an already loaded
    /// kubeconfig. Paths still relative (a kubeconfig parsed from a string) are resolved
    /// against the current directory.
    pub async fn from_custom_kubeconfig(
        kubeconfig: Kubeconfig,
        options: &KubeconfigOptions,
    ) -> Result<Self, Error> {
        build_from_kubeconfig(&kubeconfig, options)
    }

    /// The in-cluster configuration: `KUBERNETES_SERVICE_HOST`/`_PORT` and the service
    /// account mounted at `/var/run/secrets/kubernetes.io/serviceaccount`.
    pub fn incluster() -> Result<Self, Error> {
        incluster::incluster_from(Path::new(incluster::SERVICE_ACCOUNT_DIR), |name| {
            std::env::var(name).ok()
        })
    }

    /// The kubeconfig's current context if there is a kubeconfig, else the in-cluster
    /// configuration. When both fail, the error carries both causes.
    pub async fn infer() -> Result<Self, Error> {
        let kubeconfig_err = match Self::from_kubeconfig(&KubeconfigOptions::default()).await {
            Ok(config) => return Ok(config),
            Err(err) => err,
        };
        match Self::incluster() {
            Ok(config) => {
                if matches!(kubeconfig_err, Error::NoKubeconfig { .. }) {
                    tracing::debug!(error = %kubeconfig_err, "no kubeconfig, using the in-cluster config");
                } else {
                    tracing::warn!(error = %kubeconfig_err, "unusable kubeconfig, using the in-cluster config");
                }
                Ok(config)
            }
            Err(incluster_err) => Err(Error::Infer {
                kubeconfig: Box::new(kubeconfig_err),
                incluster: Box::new(incluster_err),
            }),
        }
    }
}

fn build_from_kubeconfig(kubeconfig: &Kubeconfig, options: &KubeconfigOptions) -> Result<Config, Error> {
    let origin = kubeconfig.origin();
    let non_empty = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned();

    let context_name =
        non_empty(options.context.as_ref()).or_else(|| non_empty(kubeconfig.current_context.as_ref()));
    let context = match &context_name {
        Some(name) => Some(kubeconfig.context(name).ok_or_else(|| Error::ContextNotFound {
            context: name.clone(),
            kubeconfig: origin.clone(),
        })?),
        None => None,
    };
    let context_label = context_name.clone().unwrap_or_else(|| "<none>".into());

    let cluster_name = non_empty(options.cluster.as_ref())
        .or_else(|| context.and_then(|c| non_empty(c.cluster.as_ref())))
        .ok_or_else(|| match &context_name {
            None => Error::NoContext {
                kubeconfig: origin.clone(),
            },
            Some(name) => Error::NoClusterInContext {
                context: name.clone(),
                kubeconfig: origin.clone(),
            },
        })?;
    let cluster = kubeconfig
        .cluster(&cluster_name)
        .ok_or_else(|| Error::ClusterNotFound {
            cluster: cluster_name.clone(),
            context: context_label.clone(),
            kubeconfig: origin.clone(),
        })?;

    let user_name =
        non_empty(options.user.as_ref()).or_else(|| context.and_then(|c| non_empty(c.user.as_ref())));
    let mut auth_info = match &user_name {
        Some(name) => kubeconfig
            .auth_info(name)
            .cloned()
            .ok_or_else(|| Error::UserNotFound {
                user: name.clone(),
                context: context_label.clone(),
                kubeconfig: origin.clone(),
            })?,
        None => AuthInfo::default(),
    };
    let cwd = kubeconfig::absolute(Path::new("."));
    auth_info.resolve_paths(&cwd);
    let user_label = user_name.unwrap_or_else(|| "<none>".into());

    let cluster_owner = format!("cluster {cluster_name:?}");
    let ca_file = cluster.certificate_authority.as_deref().map(kubeconfig::absolute);
    if cluster.certificate_authority_data.is_some() && ca_file.is_some() {
        tracing::warn!(cluster = %cluster_name, "certificate-authority-data and certificate-authority are both set; using certificate-authority-data");
    }
    let ca_pem = tls::read_data_or_file(
        cluster.certificate_authority_data.as_deref(),
        "certificate-authority-data",
        ca_file.as_deref(),
        "certificate-authority",
    )
    .map_err(|source| Error::Tls {
        owner: cluster_owner.clone(),
        source,
    })?;
    let root_cert = match &ca_pem {
        Some(pem) => {
            let field = if cluster.certificate_authority_data.is_some() {
                "certificate-authority-data"
            } else {
                "certificate-authority"
            };
            let certs = tls::pem_certificates(pem, field).map_err(|source| Error::Tls {
                owner: cluster_owner.clone(),
                source,
            })?;
            Some(certs.into_iter().map(|c| c.to_vec()).collect::<Vec<_>>())
        }
        None => None,
    };
    if cluster.insecure_skip_tls_verify && root_cert.is_some() {
        tracing::warn!(cluster = %cluster_name, "insecure-skip-tls-verify is set: the certificate authority is ignored");
    }

    let has_client_cert =
        auth_info.client_certificate.is_some() || auth_info.client_certificate_data.is_some();
    let default_tls = root_cert.is_some() || has_client_cert || cluster.insecure_skip_tls_verify;
    let server = cluster
        .server
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::NoServer {
            cluster: cluster_name.clone(),
        })?;
    let cluster_url = parse_url(server, default_tls).map_err(|reason| Error::InvalidServerUrl {
        cluster: cluster_name.clone(),
        url: server.to_string(),
        reason,
    })?;
    let proxy_url = match cluster.proxy_url.as_deref().filter(|s| !s.is_empty()) {
        Some(proxy) => Some(parse_url(proxy, false).map_err(|reason| Error::InvalidProxyUrl {
            cluster: cluster_name.clone(),
            url: proxy.to_string(),
            reason,
        })?),
        None => None,
    };

    validate_auth_info(&auth_info, &user_label)?;
    if let Some(exec) = &mut auth_info.exec
        && exec.provide_cluster_info
    {
        exec.cluster = Some(ExecClusterInfo {
            server: if server.contains("://") {
                server.to_string()
            } else {
                cluster_url.to_string().trim_end_matches('/').to_string()
            },
            tls_server_name: cluster.tls_server_name.clone(),
            insecure_skip_tls_verify: cluster.insecure_skip_tls_verify,
            certificate_authority_data: ca_pem
                .as_ref()
                .map(|pem| base64::engine::general_purpose::STANDARD.encode(pem)),
            proxy_url: cluster.proxy_url.clone(),
            disable_compression: cluster.disable_compression,
        });
    }

    let mut config = Config::new(cluster_url);
    config.default_namespace = context
        .and_then(|c| non_empty(c.namespace.as_ref()))
        .unwrap_or_else(|| "default".into());
    config.root_cert = root_cert;
    config.accept_invalid_certs = cluster.insecure_skip_tls_verify;
    config.tls_server_name = cluster.tls_server_name.clone().filter(|s| !s.is_empty());
    config.proxy_url = proxy_url;
    config.auth_info = auth_info;
    Ok(config)
}

/// Checks a user entry like client-go's `validateAuthInfo`, loading its client certificate.
fn validate_auth_info(auth_info: &AuthInfo, user: &str) -> Result<(), Error> {
    let has_token = auth_info.token.as_deref().is_some_and(|t| !t.is_empty());
    let has_basic = auth_info.username.as_deref().is_some_and(|u| !u.is_empty())
        || auth_info.password.as_deref().is_some_and(|p| !p.is_empty());
    if has_token && has_basic {
        return Err(Error::InvalidUser {
            user: user.into(),
            reason:
                "more than one authentication method found (token and username/password); only one is allowed"
                    .into(),
        });
    }
    tls::load_client_certificate(auth_info).map_err(|source| Error::Tls {
        owner: format!("user {user:?}"),
        source,
    })?;
    if let Some(exec) = &auth_info.exec {
        exec::validate(exec).map_err(|source| Error::Exec {
            user: user.into(),
            source,
        })?;
    }
    Ok(())
}

/// Parses a server or proxy URL; a URL without a scheme gets `https://` when `default_tls`
/// (client-go's `DefaultServerURL`), else `http://`.
fn parse_url(text: &str, default_tls: bool) -> Result<http::Uri, String> {
    let full = if text.contains("://") {
        text.to_string()
    } else {
        format!("{}://{text}", if default_tls { "https" } else { "http" })
    };
    let uri = full.parse::<http::Uri>().map_err(|e| e.to_string())?;
    match uri.scheme_str() {
        Some("https" | "http" | "socks5" | "socks5h") => {}
        Some(other) => return Err(format!("unsupported scheme {other:?}")),
        None => return Err("missing scheme".into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("missing host".into());
    }
    Ok(uri)
}

/// Why a configuration could not be loaded. Each variant names the file, context, cluster,
/// user or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A kubeconfig file could not be read.
    #[error("failed to read kubeconfig {}: {source}", path.display())]
    ReadKubeconfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A kubeconfig is not valid YAML or has fields of the wrong type.
    #[error("failed to parse kubeconfig {path}: {source}")]
    ParseKubeconfig {
        /// The file, or `<in-memory>`.
        path: String,
        /// The YAML error (with line and column).
        #[source]
        source: yaml_serde::Error,
    },
    /// None of the kubeconfig files exists.
    #[error("no kubeconfig found (looked for {})", display_paths(paths))]
    NoKubeconfig {
        /// The files looked for.
        paths: Vec<PathBuf>,
    },
    /// Neither a context nor a cluster was chosen, and `current-context` is empty.
    #[error("no context chosen and current-context is not set in kubeconfig {kubeconfig}")]
    NoContext {
        /// The kubeconfig's files.
        kubeconfig: String,
    },
    /// The chosen context does not exist.
    #[error("context {context:?} not found in kubeconfig {kubeconfig}")]
    ContextNotFound {
        /// The context.
        context: String,
        /// The kubeconfig's files.
        kubeconfig: String,
    },
    /// The chosen context names no cluster.
    #[error("context {context:?} has no cluster in kubeconfig {kubeconfig}")]
    NoClusterInContext {
        /// The context.
        context: String,
        /// The kubeconfig's files.
        kubeconfig: String,
    },
    /// The chosen cluster does not exist.
    #[error("cluster {cluster:?} (context {context:?}) not found in kubeconfig {kubeconfig}")]
    ClusterNotFound {
        /// The cluster.
        cluster: String,
        /// The context that named it.
        context: String,
        /// The kubeconfig's files.
        kubeconfig: String,
    },
    /// The chosen user does not exist.
    #[error("user {user:?} (context {context:?}) not found in kubeconfig {kubeconfig}")]
    UserNotFound {
        /// The user.
        user: String,
        /// The context that named it.
        context: String,
        /// The kubeconfig's files.
        kubeconfig: String,
    },
    /// The cluster has no `server`.
    #[error("cluster {cluster:?} has no server URL")]
    NoServer {
        /// The cluster.
        cluster: String,
    },
    /// The cluster's `server` is not a usable URL.
    #[error("cluster {cluster:?} has invalid server URL {url:?}: {reason}")]
    InvalidServerUrl {
        /// The cluster.
        cluster: String,
        /// The URL as written.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The cluster's `proxy-url` is not a usable URL.
    #[error("cluster {cluster:?} has invalid proxy-url {url:?}: {reason}")]
    InvalidProxyUrl {
        /// The cluster.
        cluster: String,
        /// The URL as written.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file named by the configuration could not be read.
    #[error("{owner}: failed to read {field} file {}: {source}", path.display())]
    ReadFile {
        /// Whose file, e.g. `in-cluster config`.
        owner: String,
        /// What the file holds.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate, key or CA of a cluster or user is unusable.
    #[error("{owner}: {source}")]
    Tls {
        /// Whose, e.g. `cluster "c1"` or `user "admin"`.
        owner: String,
        /// What is wrong.
        #[source]
        source: TlsError,
    },
    /// A user entry combines credentials that cannot be used together.
    #[error("user {user:?}: {reason}")]
    InvalidUser {
        /// The user.
        user: String,
        /// What is wrong.
        reason: String,
    },
    /// A user's exec plugin entry is unusable.
    #[error("user {user:?}: {source}")]
    Exec {
        /// The user.
        user: String,
        /// What is wrong.
        #[source]
        source: ExecError,
    },
    /// The in-cluster environment variables are missing.
    #[error("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")]
    NotInCluster,
    /// The in-cluster environment variables do not form a URL.
    #[error("invalid in-cluster apiserver URL {url:?}: {reason}")]
    InvalidInClusterUrl {
        /// The URL built from the environment.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// [`Config::infer`] found neither a usable kubeconfig nor an in-cluster environment.
    #[error("no usable configuration: kubeconfig: {kubeconfig}; in-cluster: {incluster}")]
    Infer {
        /// Why the kubeconfig failed.
        #[source]
        kubeconfig: Box<Error>,
        /// Why the in-cluster configuration failed.
        incluster: Box<Error>,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no path: $HOME is not set".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str, options: &KubeconfigOptions) -> Result<Config, Error> {
        build_from_kubeconfig(&Kubeconfig::from_yaml(yaml).unwrap(), options)
    }

    const BASE: &str = r#"
current-context: dev
clusters:
- name: c1
  cluster: {server: "https://10.0.0.1:6443", tls-server-name: api.internal, proxy-url: "http://127.0.0.1:3128"}
- name: plain
  cluster: {server: "10.0.0.2:8080"}
- name: bad
  cluster: {server: "https://exa mple"}
- name: empty
  cluster: {}
users:
- name: u1
  user: {token: abc, tokenFile: rel/tok}
- name: both
  user: {token: abc, username: me, password: pw}
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: team}
- name: nouser
  context: {cluster: c1}
- name: noserver
  context: {cluster: empty}
"#;

    #[test]
    fn picks_the_current_context() {
        let config = load(BASE, &KubeconfigOptions::default()).unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://10.0.0.1:6443/");
        assert_eq!(config.default_namespace, "team");
        assert_eq!(config.tls_server_name.as_deref(), Some("api.internal"));
        assert_eq!(config.proxy_url.unwrap().to_string(), "http://127.0.0.1:3128/");
        assert_eq!(config.auth_info.token.as_deref(), Some("abc"));
        let token_file = config.auth_info.token_file.unwrap();
        assert!(
            token_file.is_absolute() && token_file.ends_with("rel/tok"),
            "{token_file:?}"
        );
    }

    #[test]
    fn options_override_context_cluster_and_user() {
        let options = KubeconfigOptions {
            context: Some("nouser".into()),
            cluster: Some("plain".into()),
            user: None,
        };
        let config = load(BASE, &options).unwrap();
        assert_eq!(config.cluster_url.to_string(), "http://10.0.0.2:8080/");
        assert_eq!(config.default_namespace, "default");
        assert_eq!(config.auth_info, AuthInfo::default());
    }

    #[test]
    fn errors_name_the_culprit() {
        let opts = |context: &str, cluster: Option<&str>, user: Option<&str>| KubeconfigOptions {
            context: Some(context.into()),
            cluster: cluster.map(Into::into),
            user: user.map(Into::into),
        };
        let err = |o: KubeconfigOptions| load(BASE, &o).unwrap_err().to_string();
        assert_eq!(
            err(opts("prod", None, None)),
            r#"context "prod" not found in kubeconfig <in-memory>"#
        );
        assert_eq!(
            err(opts("dev", Some("c9"), None)),
            r#"cluster "c9" (context "dev") not found in kubeconfig <in-memory>"#
        );
        assert_eq!(
            err(opts("dev", None, Some("u9"))),
            r#"user "u9" (context "dev") not found in kubeconfig <in-memory>"#
        );
        assert_eq!(
            err(opts("noserver", None, None)),
            r#"cluster "empty" has no server URL"#
        );
        assert!(
            err(opts("dev", Some("bad"), None))
                .starts_with(r#"cluster "bad" has invalid server URL "https://exa mple": "#)
        );
        assert!(
            err(opts("dev", None, Some("both")))
                .starts_with(r#"user "both": more than one authentication method"#)
        );
        let no_context = load("clusters: []", &KubeconfigOptions::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            no_context,
            "no context chosen and current-context is not set in kubeconfig <in-memory>"
        );
    }

    #[test]
    fn url_defaults_follow_client_go() {
        assert_eq!(parse_url("k:6443", true).unwrap().to_string(), "https://k:6443/");
        assert_eq!(parse_url("k:8080", false).unwrap().to_string(), "http://k:8080/");
        assert_eq!(parse_url("https://k/prefix", false).unwrap().path(), "/prefix");
        assert_eq!(
            parse_url("ftp://k", false).unwrap_err(),
            r#"unsupported scheme "ftp""#
        );
    }
}
