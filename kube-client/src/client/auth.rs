//! Authentication: bearer tokens, token files, basic auth, exec plugins, client certificates.
//!
//! [`Auth`] turns a kubeconfig user ([`AuthInfo`]) into what a request needs, following
//! client-go's `transport` package:
//!
//! - `token`: a static `Authorization: Bearer` header;
//! - `tokenFile`: the file is re-read when it changes (its modification time and size are
//!   checked at most once a second, and it is re-read at least every minute, like
//!   `NewCachedFileTokenSource`); if it cannot be read the last good token, then `token`, is
//!   used;
//! - `username`/`password`: `Authorization: Basic`;
//! - `exec`: the plugin's token is cached until its `expirationTimestamp` (minus
//!   [`EXEC_EXPIRY_LEEWAY`]) or until [`Auth::invalidate`]; a client certificate it returns
//!   is served to TLS through [`Auth::client_cert_resolver`]. As in client-go, the plugin is
//!   not used when the user also has a token, basic auth or a client certificate;
//! - `client-certificate(-data)` / `client-key(-data)`: served through
//!   [`Auth::client_cert_resolver`], alongside any header;
//! - `as`, `as-uid`, `as-groups`, `as-user-extra`: impersonation headers
//!   ([`Auth::impersonate`]) on top of whichever of the above authenticates, as client-go's
//!   impersonating round tripper adds them.
//!
//! ```no_run
//! # async fn run(config: kube_client::Config, mut request: reqwest::Request)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! use kube_client::client::auth::Auth;
//! let auth = Auth::new(&config.auth_info)?;
//! if let Some(value) = auth.authorization().await? {
//!     request.headers_mut().insert(http::header::AUTHORIZATION, value);
//! }
//! // ... send; on 401: `if auth.invalidate() { /* retry once */ }`
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use http::HeaderValue;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use tokio::time::Instant;

use super::tls::{self, ClientCertStore, TlsError};
use crate::config::exec::{self, ExecError};
use crate::config::{AuthInfo, ExecConfig};

/// How often a token file's modification time is checked.
pub const TOKEN_FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How often a token file is re-read even if it looks unchanged.
pub const TOKEN_FILE_REREAD_INTERVAL: Duration = Duration::from_secs(60);
/// An exec credential is refreshed this long before its `expirationTimestamp`.
pub const EXEC_EXPIRY_LEEWAY: Duration = Duration::from_secs(10);

/// Why credentials could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token file could not be read.
    #[error("failed to read tokenFile {}: {source}", path.display())]
    ReadTokenFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The token file is empty.
    #[error("tokenFile {} is empty", path.display())]
    EmptyTokenFile {
        /// The file.
        path: PathBuf,
    },
    /// A credential contains characters not allowed in an HTTP header.
    #[error("{0} contains characters that are not allowed in an HTTP header")]
    InvalidHeader(&'static str),
    /// The user entry mixes methods that cannot be combined.
    #[error("more than one authentication method: {0}")]
    Conflict(&'static str),
    /// The exec plugin failed.
    #[error(transparent)]
    Exec(Box<ExecError>),
    /// The client certificate or key is unusable.
    #[error("client certificate: {0}")]
    ClientCertificate(#[source] TlsError),
    /// Impersonation of a uid, groups or extra fields without a user name (kube-apiserver
    /// requires `Impersonate-User` with any of them).
    #[error("requesting uid, groups or user-extra without impersonating a user (set `as`)")]
    ImpersonationWithoutUser,
}

impl From<ExecError> for AuthError {
    fn from(err: ExecError) -> Self {
        AuthError::Exec(Box::new(err))
    }
}

/// Credentials for requests to one apiserver. Cheap to clone (an `Arc` inside); clones share
/// caches.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    method: Method,
    certs: Option<Arc<ClientCertStore>>,
    /// `Impersonate-*` headers for every request (empty without `as`).
    impersonation: http::HeaderMap,
}

#[derive(Debug, Default)]
enum Method {
    #[default]
    None,
    Static(HeaderValue),
    TokenFile(TokenFile),
    Exec(ExecAuth),
}

impl Auth {
    /// Credentials for the kubeconfig user `auth_info`. Reads the token file and the client
    /// certificate now (so a missing file fails early); the exec plugin runs on first use.
    pub fn new(auth_info: &AuthInfo) -> Result<Self, AuthError> {
        let token = auth_info
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let token_file = auth_info
            .token_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty());
        let username = auth_info.username.as_deref().filter(|u| !u.is_empty());
        let password = auth_info.password.as_deref().filter(|p| !p.is_empty());
        let has_basic = username.is_some() || password.is_some();
        if (token.is_some() || token_file.is_some()) && has_basic {
            return Err(AuthError::Conflict(
                "a token and username/password cannot be used together",
            ));
        }

        let static_cert = tls::load_client_certificate(auth_info).map_err(AuthError::ClientCertificate)?;
        let has_static_cert = static_cert.is_some();
        let mut certs = static_cert.map(|key| Arc::new(ClientCertStore::new(Some(key))));

        let static_token = token.map(bearer).transpose()?;
        let method = if let Some(path) = token_file {
            Method::TokenFile(TokenFile::new(path.to_path_buf(), static_token)?)
        } else if let Some(value) = static_token {
            Method::Static(value)
        } else if has_basic {
            Method::Static(basic(username.unwrap_or_default(), password.unwrap_or_default())?)
        } else if let Some(config) = auth_info.exec.as_ref().filter(|_| !has_static_cert) {
            exec::validate(config)?;
            let store = Arc::new(ClientCertStore::default());
            certs = Some(store.clone());
            Method::Exec(ExecAuth {
                config: config.clone(),
                cached: tokio::sync::Mutex::new(None),
                stale: AtomicBool::new(false),
                certs: store,
            })
        } else {
            Method::None
        };
        if auth_info.exec.is_some() && !matches!(method, Method::Exec(_)) {
            tracing::debug!("user has a token, basic auth or client certificate: exec plugin not used");
        }
        Ok(Self {
            inner: Arc::new(Inner {
                method,
                certs,
                impersonation: impersonation_headers(auth_info)?,
            }),
        })
    }

    /// Add the impersonation headers of the user entry to `headers`, unless they already name
    /// a user to impersonate (a request that impersonates on its own keeps its headers, as in
    /// client-go).
    pub fn impersonate(&self, headers: &mut http::HeaderMap) {
        let own = &self.inner.impersonation;
        if own.is_empty() || headers.contains_key(IMPERSONATE_USER) {
            return;
        }
        for (name, value) in own {
            headers.append(name, value.clone());
        }
    }

    /// The value of the `Authorization` header for the next request, or `None` when the
    /// user authenticates by client certificate only (or not at all). Runs the exec plugin
    /// when its credential is missing or expired.
    pub async fn authorization(&self) -> Result<Option<HeaderValue>, AuthError> {
        match &self.inner.method {
            Method::None => Ok(None),
            Method::Static(value) => Ok(Some(value.clone())),
            Method::TokenFile(file) => file.current().map(Some),
            Method::Exec(exec) => exec.current().await,
        }
    }

    /// Drops cached credentials after the server answered 401. Returns `true` if calling
    /// [`authorization`](Self::authorization) again may yield a different credential
    /// (token file, exec plugin), i.e. if retrying the request is worthwhile.
    pub fn invalidate(&self) -> bool {
        match &self.inner.method {
            Method::None | Method::Static(_) => false,
            Method::TokenFile(file) => {
                file.invalidate();
                true
            }
            Method::Exec(exec) => {
                exec.stale.store(true, Ordering::SeqCst);
                true
            }
        }
    }

    /// The client certificate source to install in the TLS configuration
    /// ([`tls::rustls_config`]), when the user has a certificate or an exec plugin (which
    /// may return one). The certificate it serves follows exec plugin refreshes.
    pub fn client_cert_resolver(&self) -> Option<Arc<dyn ResolvesClientCert>> {
        self.inner
            .certs
            .clone()
            .map(|store| store as Arc<dyn ResolvesClientCert>)
    }

    /// The client certificate presented now, after running the exec plugin if its
    /// credential is missing or expired.
    pub async fn client_certificate(&self) -> Result<Option<Arc<CertifiedKey>>, AuthError> {
        if let Method::Exec(exec) = &self.inner.method {
            exec.current().await?;
        }
        Ok(self.inner.certs.as_ref().and_then(|store| store.get()))
    }

    /// Counts client certificate changes (exec plugin rotations). Pooled connections keep
    /// the certificate they were opened with, so a client that sees this move may rebuild
    /// its connection pool (client-go closes all connections then).
    pub fn client_certificate_generation(&self) -> u64 {
        self.inner.certs.as_ref().map_or(0, |store| store.generation())
    }
}

fn bearer(token: &str) -> Result<HeaderValue, AuthError> {
    sensitive(format!("Bearer {}", token.trim()), "token")
}

fn basic(username: &str, password: &str) -> Result<HeaderValue, AuthError> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    sensitive(format!("Basic {encoded}"), "username/password")
}

fn sensitive(value: String, what: &'static str) -> Result<HeaderValue, AuthError> {
    let mut value = HeaderValue::try_from(value).map_err(|_| AuthError::InvalidHeader(what))?;
    value.set_sensitive(true);
    Ok(value)
}

/// A bearer token read from a file that may be rotated (projected service account tokens).
#[derive(Debug)]
struct TokenFile {
    path: PathBuf,
    fallback: Option<HeaderValue>,
    state: Mutex<FileState>,
}

#[derive(Debug, Default)]
struct FileState {
    token: Option<HeaderValue>,
    /// Modification time and size when last read.
    stamp: Option<(Option<SystemTime>, u64)>,
    checked_at: Option<Instant>,
    read_at: Option<Instant>,
}

impl TokenFile {
    fn new(path: PathBuf, fallback: Option<HeaderValue>) -> Result<Self, AuthError> {
        let file = Self {
            path,
            fallback,
            state: Mutex::new(FileState::default()),
        };
        match file.current() {
            Ok(_) => Ok(file),
            // A static token covers for an unreadable file, as in client-go.
            Err(_) if file.fallback.is_some() => Ok(file),
            Err(err) => Err(err),
        }
    }

    fn current(&self) -> Result<HeaderValue, AuthError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if state
            .checked_at
            .is_none_or(|at| now.duration_since(at) >= TOKEN_FILE_CHECK_INTERVAL)
        {
            state.checked_at = Some(now);
            let stamp = std::fs::metadata(&self.path)
                .ok()
                .map(|m| (m.modified().ok(), m.len()));
            let stale = state.token.is_none()
                || stamp.is_none()
                || stamp != state.stamp
                || state
                    .read_at
                    .is_none_or(|at| now.duration_since(at) >= TOKEN_FILE_REREAD_INTERVAL);
            if stale {
                match read_token(&self.path) {
                    Ok(token) => {
                        state.token = Some(token);
                        state.stamp = stamp;
                        state.read_at = Some(now);
                    }
                    Err(err) => match state.token.clone().or_else(|| self.fallback.clone()) {
                        Some(previous) => {
                            tracing::warn!(error = %err, "cannot re-read tokenFile, keeping the previous token");
                            return Ok(previous);
                        }
                        None => return Err(err),
                    },
                }
            }
        }
        match state.token.clone().or_else(|| self.fallback.clone()) {
            Some(token) => Ok(token),
            None => Err(AuthError::EmptyTokenFile {
                path: self.path.clone(),
            }),
        }
    }

    fn invalidate(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.checked_at = None;
        state.read_at = None;
    }
}

fn read_token(path: &Path) -> Result<HeaderValue, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::ReadTokenFile {
        path: path.to_path_buf(),
        source,
    })?;
    if text.trim().is_empty() {
        return Err(AuthError::EmptyTokenFile {
            path: path.to_path_buf(),
        });
    }
    bearer(&text)
}

/// An exec plugin and its cached credential.
#[derive(Debug)]
struct ExecAuth {
    config: ExecConfig,
    /// Held while the plugin runs, so concurrent requests run it once.
    cached: tokio::sync::Mutex<Option<ExecCached>>,
    /// Set by `invalidate`; the cache is dropped on the next use.
    stale: AtomicBool,
    certs: Arc<ClientCertStore>,
}

#[derive(Debug)]
struct ExecCached {
    token: Option<HeaderValue>,
    expiration: Option<jiff::Timestamp>,
}

impl ExecCached {
    fn is_fresh(&self) -> bool {
        let leeway = jiff::SignedDuration::try_from(EXEC_EXPIRY_LEEWAY).unwrap_or_default();
        self.expiration
            .is_none_or(|expiration| expiration.duration_since(jiff::Timestamp::now()) > leeway)
    }
}

impl ExecAuth {
    async fn current(&self) -> Result<Option<HeaderValue>, AuthError> {
        let mut cached = self.cached.lock().await;
        if self.stale.swap(false, Ordering::SeqCst) {
            *cached = None;
        }
        if let Some(creds) = cached.as_ref().filter(|c| c.is_fresh()) {
            return Ok(creds.token.clone());
        }
        let creds = exec::run(&self.config).await?;
        let token = creds.token.as_deref().map(bearer).transpose()?;
        if self.certs.set(creds.client_certificate) {
            tracing::debug!(command = %self.config.command, "exec plugin rotated the client certificate");
        }
        *cached = Some(ExecCached {
            token: token.clone(),
            expiration: creds.expiration,
        });
        Ok(token)
    }
}

const IMPERSONATE_USER: &str = "impersonate-user";

/// The `Impersonate-*` headers of a user entry: `Impersonate-User`, `Impersonate-Uid`, one
/// `Impersonate-Group` per group and one `Impersonate-Extra-<key>` per value, the key
/// %-escaped where it is not a header token (and `%` itself), as client-go writes it.
fn impersonation_headers(auth_info: &AuthInfo) -> Result<http::HeaderMap, AuthError> {
    let mut headers = http::HeaderMap::new();
    let user = auth_info.impersonate.as_deref().filter(|u| !u.is_empty());
    let uid = auth_info.impersonate_uid.as_deref().filter(|u| !u.is_empty());
    let groups = auth_info.impersonate_groups.as_deref().unwrap_or_default();
    let extra = auth_info.impersonate_user_extra.as_ref();
    let Some(user) = user else {
        if uid.is_some() || !groups.is_empty() || extra.is_some_and(|e| !e.is_empty()) {
            return Err(AuthError::ImpersonationWithoutUser);
        }
        return Ok(headers);
    };
    let value = |v: &str, what| HeaderValue::try_from(v).map_err(|_| AuthError::InvalidHeader(what));
    headers.insert(IMPERSONATE_USER, value(user, "as")?);
    if let Some(uid) = uid {
        headers.insert("impersonate-uid", value(uid, "as-uid")?);
    }
    for group in groups {
        headers.append("impersonate-group", value(group, "as-groups")?);
    }
    for (key, values) in extra.into_iter().flatten() {
        let name = http::HeaderName::try_from(format!("impersonate-extra-{}", escape_extra_key(key)))
            .map_err(|_| AuthError::InvalidHeader("as-user-extra"))?;
        for v in values {
            headers.append(&name, value(v, "as-user-extra")?);
        }
    }
    Ok(headers)
}

/// client-go's `headerKeyEscape`: bytes that are not an HTTP token character, and `%`, become
/// `%XX` (the server unescapes the key with `url.PathUnescape`).
fn escape_extra_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        let token = b.is_ascii_alphanumeric() || b"!#$&'*+-.^_`|~".contains(&b);
        if token {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(auth: &Option<HeaderValue>) -> &str {
        auth.as_ref().map(|v| v.to_str().unwrap()).unwrap_or("<none>")
    }

    #[test]
    fn extra_keys_are_escaped_as_client_go_escapes_them() {
        assert_eq!(escape_extra_key("scopes"), "scopes");
        assert_eq!(escape_extra_key("Team_A.b-c~"), "Team_A.b-c~");
        assert_eq!(escape_extra_key("example.org/team"), "example.org%2Fteam");
        assert_eq!(escape_extra_key("100%"), "100%25");
        assert_eq!(escape_extra_key("a b:c"), "a%20b%3Ac");
        assert_eq!(escape_extra_key("\u{e9}"), "%C3%A9");
    }

    #[test]
    fn impersonation_headers_are_added_once_and_never_over_a_request_of_its_own() {
        let auth = Auth::new(&AuthInfo {
            impersonate: Some("alice".into()),
            impersonate_groups: Some(vec!["a".into(), "b".into()]),
            ..AuthInfo::default()
        })
        .unwrap();
        let mut headers = http::HeaderMap::new();
        auth.impersonate(&mut headers);
        assert_eq!(headers.len(), 3);
        assert_eq!(headers.get_all("impersonate-group").iter().count(), 2);
        // Its own `Impersonate-User` keeps the request as it is.
        let mut own = http::HeaderMap::new();
        own.insert("impersonate-user", HeaderValue::from_static("bob"));
        auth.impersonate(&mut own);
        assert_eq!(own.len(), 1);
        // Without `as` nothing is added.
        let mut plain = http::HeaderMap::new();
        Auth::new(&AuthInfo::default()).unwrap().impersonate(&mut plain);
        assert!(plain.is_empty());
    }

    #[tokio::test]
    async fn static_methods() {
        assert_eq!(
            Auth::new(&AuthInfo::default())
                .unwrap()
                .authorization()
                .await
                .unwrap(),
            None
        );
        let token = AuthInfo {
            token: Some("abc".into()),
            ..Default::default()
        };
        let auth = Auth::new(&token).unwrap();
        let value = auth.authorization().await.unwrap();
        assert_eq!(header(&value), "Bearer abc");
        assert!(value.unwrap().is_sensitive());
        assert!(!auth.invalidate());
        let basic = AuthInfo {
            username: Some("me".into()),
            password: Some("pw".into()),
            ..Default::default()
        };
        let value = Auth::new(&basic).unwrap().authorization().await.unwrap();
        assert_eq!(header(&value), "Basic bWU6cHc=");
    }

    #[test]
    fn conflicting_and_invalid_credentials_are_rejected() {
        let both = AuthInfo {
            token: Some("t".into()),
            username: Some("u".into()),
            ..Default::default()
        };
        assert!(matches!(Auth::new(&both), Err(AuthError::Conflict(_))));
        let bad = AuthInfo {
            token: Some("a\nb".into()),
            ..Default::default()
        };
        assert_eq!(
            Auth::new(&bad).unwrap_err().to_string(),
            "token contains characters that are not allowed in an HTTP header"
        );
        let missing = AuthInfo {
            token_file: Some("/nonexistent/token".into()),
            ..Default::default()
        };
        assert!(
            Auth::new(&missing)
                .unwrap_err()
                .to_string()
                .starts_with("failed to read tokenFile /nonexistent/token: ")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn token_file_is_rechecked_at_most_once_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "one\n").unwrap();
        let auth = Auth::new(&AuthInfo {
            token_file: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(header(&auth.authorization().await.unwrap()), "Bearer one");
        std::fs::write(&path, "second").unwrap();
        assert_eq!(
            header(&auth.authorization().await.unwrap()),
            "Bearer one",
            "checked too early"
        );
        tokio::time::advance(TOKEN_FILE_CHECK_INTERVAL).await;
        assert_eq!(header(&auth.authorization().await.unwrap()), "Bearer second");
        std::fs::remove_file(&path).unwrap();
        tokio::time::advance(TOKEN_FILE_CHECK_INTERVAL).await;
        assert_eq!(
            header(&auth.authorization().await.unwrap()),
            "Bearer second",
            "keeps the last good token"
        );
    }

    #[tokio::test]
    async fn token_file_falls_back_to_the_static_token() {
        let info = AuthInfo {
            token: Some("static".into()),
            token_file: Some("/nonexistent/token".into()),
            ..Default::default()
        };
        let auth = Auth::new(&info).unwrap();
        assert_eq!(header(&auth.authorization().await.unwrap()), "Bearer static");
        assert!(auth.invalidate());
    }

    #[test]
    fn exec_is_not_used_alongside_a_token() {
        let info = AuthInfo {
            token: Some("t".into()),
            exec: Some(ExecConfig {
                command: "x".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let auth = Auth::new(&info).unwrap();
        assert!(matches!(auth.inner.method, Method::Static(_)));
        assert!(auth.client_cert_resolver().is_none());
    }

    #[test]
    fn expiry_leeway() {
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(5);
        assert!(
            !ExecCached {
                token: None,
                expiration: Some(soon)
            }
            .is_fresh()
        );
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60);
        assert!(
            ExecCached {
                token: None,
                expiration: Some(later)
            }
            .is_fresh()
        );
        assert!(
            ExecCached {
                token: None,
                expiration: None
            }
            .is_fresh()
        );
    }
}
