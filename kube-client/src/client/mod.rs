//! The HTTP client: sends requests built by `kube_core::request`, with authentication,
//! client-side rate limiting, retries and tracing.
//!
//! Every request goes through the same steps, in this order:
//!
//! 1. wait for a token from the client-side rate limiter ([`rate_limit`]), shared by all clones;
//! 2. add the `Authorization` header ([`auth`]);
//! 3. send it over reqwest with rustls ([`tls`]): HTTP/2 when the server offers it, else
//!    HTTP/1.1, with connect and request timeouts (no request timeout on watches);
//! 4. on `401`, refresh credentials once if they can change (exec plugins, token files);
//! 5. on `429`, `503`, `504` or a connection error, retry as [`retry`] says;
//! 6. turn an error response into [`Error::Api`] carrying the server's `Status`.
//!
//! Each request runs in a `tracing` span with its verb, path, status and duration.

pub mod auth;
pub mod decode;
pub mod rate_limit;
pub mod retry;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use either::Either;
use futures::{Stream, TryStreamExt};
use http::header::{AUTHORIZATION, RETRY_AFTER};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::config::Config;
use crate::error::{Error, Result, status_from_response};
use kube_core::request::HttpRequest;
use kube_core::{Status, WatchEvent};

use self::auth::Auth;
use self::rate_limit::TokenBucket;
use self::retry::{Failure, RetryPolicy};

/// A client for one apiserver. Cheap to clone; clones share connections, credentials and the
/// rate limiter.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    /// The HTTP client and the client-certificate generation its connections were opened with.
    http: parking_lot::RwLock<(u64, reqwest::Client)>,
    /// Builds a fresh HTTP client (a new connection pool) with the same settings.
    build_http: Box<dyn Fn() -> Result<reqwest::Client> + Send + Sync>,
    base: String,
    /// `base` parsed once; each request only sets its path and query on a copy.
    base_url: reqwest::Url,
    default_namespace: String,
    auth: Auth,
    limiter: Option<TokenBucket>,
    retry: RetryPolicy,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base)
            .field("default_namespace", &self.inner.default_namespace)
            .finish_non_exhaustive()
    }
}

impl TryFrom<Config> for Client {
    type Error = Error;

    fn try_from(config: Config) -> Result<Self> {
        Client::new(config)
    }
}

impl Client {
    /// A client for `config`.
    pub fn new(config: Config) -> Result<Self> {
        let auth = Auth::new(&config.auth_info)?;
        let build_http = {
            let config = config.clone();
            let resolver = auth.client_cert_resolver();
            move || http_client(&config, resolver.clone())
        };
        let http = build_http()?;
        let base = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let base_url = reqwest::Url::parse(&base).map_err(|e| Error::InvalidUrl {
            url: base.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http: parking_lot::RwLock::new((auth.client_certificate_generation(), http)),
                build_http: Box::new(build_http),
                base,
                base_url,
                default_namespace: config.default_namespace.clone(),
                auth,
                limiter: rate_limiter(config.qps, config.burst),
                retry: RetryPolicy {
                    max_retries: config.max_retries,
                    ..RetryPolicy::default()
                },
                read_timeout: config.read_timeout,
            }),
        })
    }

    /// A client from [`Config::infer`].
    pub async fn try_default() -> Result<Self> {
        Self::new(Config::infer().await?)
    }

    /// The HTTP client to send with: rebuilt (a fresh connection pool) when an exec plugin has
    /// rotated the client certificate since, because pooled connections keep the certificate
    /// they were opened with (client-go closes all connections then).
    fn http(&self) -> Result<reqwest::Client> {
        let generation = self.inner.auth.client_certificate_generation();
        {
            let current = self.inner.http.read();
            if current.0 == generation {
                return Ok(current.1.clone());
            }
        }
        let mut current = self.inner.http.write();
        if current.0 != generation {
            tracing::debug!(generation, "client certificate rotated: opening new connections");
            *current = (generation, (self.inner.build_http)()?);
        }
        Ok(current.1.clone())
    }

    /// The namespace `Api::default_namespaced` uses.
    pub fn default_namespace(&self) -> &str {
        &self.inner.default_namespace
    }

    /// The URL of a request: the base URL with the request's path (after the base's own path,
    /// if any) and query. Setting them on a copy of the parsed base skips parsing the scheme
    /// and host again for every request.
    fn url_for(&self, uri: &http::Uri) -> reqwest::Url {
        let mut url = self.inner.base_url.clone();
        let base_path = url.path().trim_end_matches('/');
        if base_path.is_empty() {
            url.set_path(uri.path());
        } else {
            let path = format!("{base_path}{}", uri.path());
            url.set_path(&path);
        }
        url.set_query(uri.query());
        url
    }

    /// The apiserver's base URL.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// Send a request and return the successful response; error statuses become
    /// [`Error::Api`]. `streaming` turns the request timeout off (watches, log follows).
    pub async fn send(&self, request: HttpRequest, streaming: bool) -> Result<reqwest::Response> {
        let (parts, body) = request.into_parts();
        let body = Bytes::from(body);
        let url = self.url_for(&parts.uri);
        let span = tracing::debug_span!(
            "kube_request",
            verb = %parts.method,
            path = %parts.uri.path(),
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = tokio::time::Instant::now();
        // Boxed: the retry loop's future is large, and moving it through the layers above costs more
        // than one allocation.
        let result = Box::pin(self.send_with_retries(&parts, &url, body, streaming))
            .instrument(span.clone())
            .await;
        span.record("duration_ms", started.elapsed().as_millis() as u64);
        match &result {
            Ok(resp) => span.record("status", resp.status().as_u16()),
            Err(Error::Api(s)) => span.record("status", s.code),
            Err(_) => span.record("status", 0),
        };
        let resp = result?;
        // As client-go's default warning handler: every `Warning` the server sends is logged.
        for text in resp
            .headers()
            .get_all(http::header::WARNING)
            .iter()
            .filter_map(warning_text)
        {
            tracing::warn!(target: "kube_client::warnings", verb = %parts.method, path = %parts.uri.path(), "{text}");
        }
        let code = resp.status().as_u16();
        if code >= 400 {
            let bytes = resp
                .bytes()
                .await
                .map_err(|source| http_error(&parts.method, url.as_str(), source))?;
            return Err(Error::Api(Box::new(status_from_response(code, &bytes))));
        }
        Ok(resp)
    }

    async fn send_with_retries(
        &self,
        parts: &http::request::Parts,
        url: &reqwest::Url,
        body: Bytes,
        streaming: bool,
    ) -> Result<reqwest::Response> {
        let mut retries = self.inner.retry.start();
        let mut reauthenticated = false;
        loop {
            if let Some(limiter) = &self.inner.limiter {
                limiter.acquire().await;
            }
            // A `reqwest::Request` built directly: no builder, no second header map to merge into.
            let mut req = reqwest::Request::new(parts.method.clone(), url.clone());
            *req.headers_mut() = parts.headers.clone();
            if let Some(value) = self.inner.auth.authorization().await? {
                req.headers_mut().insert(AUTHORIZATION, value);
            }
            self.inner.auth.impersonate(req.headers_mut());
            let http = self.http()?;
            if let (false, Some(t)) = (streaming, self.inner.read_timeout) {
                *req.timeout_mut() = Some(t);
            }
            if !body.is_empty() {
                *req.body_mut() = Some(body.clone().into());
            }
            let failure = match http.execute(req).await {
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    if code == 401 && !reauthenticated && self.inner.auth.invalidate() {
                        tracing::debug!("401 Unauthorized: refreshing credentials and retrying once");
                        reauthenticated = true;
                        continue;
                    }
                    if !matches!(code, 429 | 503 | 504) {
                        tracing::Span::current().record("attempts", retries.attempts() + 1);
                        return Ok(resp);
                    }
                    let after = resp.headers().get(RETRY_AFTER).and_then(retry::parse_retry_after);
                    match retries.next_delay(&parts.method, Failure::Status(code, after)) {
                        Some(delay) => {
                            tracing::debug!(code, delay_ms = delay.as_millis() as u64, "retrying");
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                        None => return Ok(resp),
                    }
                }
                Err(e) => e,
            };
            let kind = if failure.is_connect() {
                Failure::Connect
            } else {
                Failure::Transport
            };
            match (failure.is_timeout(), retries.next_delay(&parts.method, kind)) {
                (false, Some(delay)) => {
                    tracing::debug!(error = %failure, delay_ms = delay.as_millis() as u64, "retrying");
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(http_error(&parts.method, url.as_str(), failure)),
            }
        }
    }

    /// Send a request and decode the JSON response as `T`.
    pub async fn request<T: DeserializeOwned>(&self, request: HttpRequest) -> Result<T> {
        let label = Label::of(&request);
        let resp = self.send(request, false).await?;
        let bytes = resp.bytes().await.map_err(|source| Error::Http {
            url: label.to_string(),
            source,
        })?;
        decode(&label, &bytes)
    }

    /// Send a request whose successful response is either a `T` or a `Status` (deletes).
    pub async fn request_status<T: DeserializeOwned>(
        &self,
        request: HttpRequest,
    ) -> Result<Either<T, Status>> {
        let label = Label::of(&request);
        let resp = self.send(request, false).await?;
        let bytes = resp.bytes().await.map_err(|source| Error::Http {
            url: label.to_string(),
            source,
        })?;
        let kind = serde_json::from_slice::<KindOnly>(&bytes)
            .map(|k| k.kind)
            .unwrap_or_default();
        if kind == "Status" {
            Ok(Either::Right(decode(&label, &bytes)?))
        } else {
            Ok(Either::Left(decode(&label, &bytes)?))
        }
    }

    /// Send a request and return the body as text (logs, `/healthz`).
    pub async fn request_text(&self, request: HttpRequest) -> Result<String> {
        let label = Label::of(&request);
        let resp = self.send(request, false).await?;
        resp.text().await.map_err(|source| Error::Http {
            url: label.to_string(),
            source,
        })
    }

    /// Send a request and stream the body (log follows, raw watches). No request timeout.
    pub async fn request_stream(
        &self,
        request: HttpRequest,
    ) -> Result<impl Stream<Item = Result<Bytes>> + use<>> {
        let label = Label::of(&request);
        let resp = self.send(request, true).await?;
        Ok(resp.bytes_stream().map_err(move |e| Error::Stream {
            url: label.to_string(),
            reason: e.to_string(),
        }))
    }

    /// Send a watch request and decode its events as they arrive.
    pub async fn request_events<T: DeserializeOwned + Send + 'static>(
        &self,
        request: HttpRequest,
    ) -> Result<impl Stream<Item = Result<WatchEvent<T>>> + Send + use<T>> {
        let label = Label::of(&request);
        let resp = self.send(request, true).await?;
        Ok(decode::watch_events(
            label.to_string(),
            Box::pin(resp.bytes_stream()),
        ))
    }

    /// `GET /version`.
    pub async fn apiserver_version(&self) -> Result<k8s_openapi::apimachinery::pkg::version::Info> {
        self.request(get("/version")?).await
    }
}

/// The client-side rate limiter for a configured QPS, as client-go reads it: `None` or a negative
/// value turns limiting off, `0` means the default.
fn rate_limiter(qps: Option<f32>, burst: u32) -> Option<TokenBucket> {
    match qps {
        Some(q) if q > 0.0 && q.is_finite() => Some(TokenBucket::new(q, burst)),
        Some(0.0) => Some(TokenBucket::new(crate::config::DEFAULT_QPS, burst.max(1))),
        _ => None,
    }
}

#[derive(serde::Deserialize)]
struct KindOnly {
    #[serde(default)]
    kind: String,
}

/// A bodiless `GET` of `path` (discovery, `/version`).
pub(crate) fn get(path: &str) -> Result<HttpRequest> {
    http::Request::get(path)
        .header(http::header::ACCEPT, "application/json")
        .body(vec![])
        .map_err(|e| Error::BuildRequest(kube_core::request::Error::Http(e)))
}

/// Method and URI of a request, for error messages; formatted only when an error needs it.
struct Label {
    method: http::Method,
    uri: http::Uri,
}

impl Label {
    fn of(request: &HttpRequest) -> Self {
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.uri)
    }
}

fn http_error(method: &http::Method, url: &str, source: reqwest::Error) -> Error {
    Error::Http {
        url: format!("{method} {url}"),
        source,
    }
}

fn decode<T: DeserializeOwned>(label: &Label, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| Error::Decode {
        url: label.to_string(),
        body: String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).into_owned(),
        source,
    })
}

/// The HTTP client for `config`: TLS with `client_cert` as the certificate source, the user
/// agent, timeouts and proxy.
fn http_client(
    config: &Config,
    client_cert: Option<Arc<dyn rustls::client::ResolvesClientCert>>,
) -> Result<reqwest::Client> {
    let tls = tls::rustls_config(config, client_cert)?;
    let user_agent = config
        .user_agent
        .clone()
        .unwrap_or_else(|| format!("kube-client/{}", env!("CARGO_PKG_VERSION")));
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(user_agent)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90));
    if let Some(t) = config.connect_timeout {
        builder = builder.connect_timeout(t);
    }
    builder = match &config.proxy_url {
        Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy.to_string()).map_err(Error::BuildClient)?),
        None => builder.no_proxy(),
    };
    builder.build().map_err(Error::BuildClient)
}

/// The text of a `Warning: 299 - "text"` header (RFC 7234 warn-code 299, agent `-`, quoted
/// text with `\` escapes), as kube-apiserver writes it; other codes and malformed values are
/// skipped, as client-go skips them.
fn warning_text(value: &http::HeaderValue) -> Option<String> {
    let rest = value.to_str().ok()?.strip_prefix("299 ")?;
    let (_agent, quoted) = rest.split_once(' ')?;
    let inner = quoted.strip_prefix('"')?;
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.push(chars.next()?),
            '"' => return Some(text),
            c => text.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_headers_read_as_kube_apiserver_writes_them() {
        let text = |v: &str| warning_text(&http::HeaderValue::from_str(v).unwrap());
        assert_eq!(
            text(r#"299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice""#)
                .as_deref(),
            Some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice")
        );
        assert_eq!(
            text(r#"299 - "unknown field \"spec.bogus\"""#).as_deref(),
            Some(r#"unknown field "spec.bogus""#)
        );
        assert_eq!(text(r#"199 - "other code""#), None);
        assert_eq!(text(r#"299 - "unterminated"#), None);
        assert_eq!(text("299 -"), None);
    }

    fn client(base: &str) -> Client {
        let mut config = Config::new(base.parse().unwrap());
        config.qps = None;
        Client::new(config).unwrap()
    }

    #[test]
    fn urls_keep_the_base_path_and_the_encoded_query() {
        let uri: http::Uri =
            "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb%2Ctier%20in%20(a)&limit=5"
                .parse()
                .unwrap();
        let plain = client("http://127.0.0.1:6443");
        assert_eq!(
            plain.url_for(&uri).as_str(),
            "http://127.0.0.1:6443/api/v1/namespaces/default/pods?labelSelector=app%3Dweb%2Ctier%20in%20(a)&limit=5"
        );
        for base in [
            "https://proxy.example:8443/k8s/clusters/c-1",
            "https://proxy.example:8443/k8s/clusters/c-1/",
        ] {
            assert_eq!(
                client(base).url_for(&"/version".parse().unwrap()).as_str(),
                "https://proxy.example:8443/k8s/clusters/c-1/version"
            );
        }
        assert_eq!(
            plain.url_for(&"/api".parse().unwrap()).as_str(),
            "http://127.0.0.1:6443/api"
        );
    }
}
