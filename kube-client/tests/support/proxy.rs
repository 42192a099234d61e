//! A fault-injecting HTTP proxy on 127.0.0.1 in front of the reference apiserver.
//!
//! By default it forwards every request to the apiserver and streams the response back
//! unchanged, recording what it saw. Knobs inject what only a broken network or an overloaded
//! apiserver does: canned failures ([`Fault`]: 429/503 with `Retry-After`, non-`Status` bodies),
//! 401 for a wrong bearer token, watch bodies cut into tiny chunks, and watch connections
//! dropped in the middle of an event. Everything else the client sees is the real server's.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, RETRY_AFTER, TRANSFER_ENCODING,
};
use http::{HeaderMap, Method, StatusCode};
use kube_core::Status;
use kube_core::status::{StatusDetails, reason};
use tokio::sync::watch;

/// Request bodies the proxy reads before forwarding (the apiserver itself refuses > 3 MiB).
const MAX_BODY: usize = 64 << 20;

/// A canned failure answered instead of the apiserver's response.
#[derive(Debug, Clone)]
pub struct Fault {
    method: Option<Method>,
    path: Option<String>,
    times: usize,
    code: u16,
    retry_after: Option<u64>,
    raw: Option<(String, String)>,
    after_forwarding: bool,
}

impl Fault {
    /// Answer once with `code` and a Kubernetes `Status` body, to any request.
    pub fn status(code: u16) -> Self {
        Self {
            method: None,
            path: None,
            times: 1,
            code,
            retry_after: None,
            raw: None,
            after_forwarding: false,
        }
    }

    /// Answer once with `code` and this body (not a `Status`).
    pub fn raw(code: u16, content_type: &str, body: &str) -> Self {
        Self {
            raw: Some((content_type.into(), body.into())),
            ..Self::status(code)
        }
    }

    /// Add `Retry-After: secs` (and `details.retryAfterSeconds`).
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Answer the next `n` matching requests.
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    /// Only requests with this method and path (without query).
    pub fn on(mut self, method: Method, path: &str) -> Self {
        self.method = Some(method);
        self.path = Some(path.into());
        self
    }

    /// Let the request reach the apiserver first, then answer the failure instead of its
    /// response (a gateway that gave up after the server acted).
    pub fn after_forwarding(mut self) -> Self {
        self.after_forwarding = true;
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.times > 0
            && self.method.as_ref().is_none_or(|m| m == method)
            && self.path.as_deref().is_none_or(|p| p == path)
    }

    fn response(&self) -> Response {
        let code = StatusCode::from_u16(self.code).expect("valid code");
        let mut resp = match &self.raw {
            Some((content_type, body)) => {
                (code, [(CONTENT_TYPE, content_type.clone())], body.clone()).into_response()
            }
            None => {
                // The messages kube-apiserver and its front proxies use.
                let (why, message) = match self.code {
                    429 => (
                        reason::TOO_MANY_REQUESTS,
                        "Too many requests, please try again later.",
                    ),
                    503 => (
                        reason::SERVICE_UNAVAILABLE,
                        "the server is currently unable to handle the request",
                    ),
                    504 => (
                        reason::TIMEOUT,
                        "the server was unable to return a response in the time allotted, but may still be processing the request",
                    ),
                    _ => (
                        reason::INTERNAL_ERROR,
                        "an error on the server has prevented the request from succeeding",
                    ),
                };
                let mut status = Status::failure(self.code, why, message);
                status.details = self.retry_after.map(|secs| StatusDetails {
                    retry_after_seconds: Some(secs as u32),
                    ..Default::default()
                });
                status_response(&status)
            }
        };
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(RETRY_AFTER, secs.into());
        }
        resp
    }
}

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
}

/// How watch lines are cut into HTTP chunks.
#[derive(Debug, Clone, Copy, Default)]
struct Chunking {
    /// Chunk size in bytes; 0 passes the apiserver's chunks through.
    size: usize,
    /// A pause before each chunk.
    delay: Option<Duration>,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    faults: Mutex<Vec<Fault>>,
    log: Mutex<Vec<Seen>>,
    token: Mutex<Option<String>>,
    chunking: Mutex<Chunking>,
    /// Bumped to drop every open watch in its next event.
    breaks: watch::Sender<u64>,
}

/// Lock, ignoring poisoning (a panicking test thread must not hide the first failure).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running proxy. It stops with the test's runtime.
pub struct FaultProxy {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Start on a random loopback port, forwarding to `upstream` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let upstream_config = kube_client::Config::new(upstream.parse().expect("valid URL"));
        let tls = kube_client::client::tls::rustls_config(&upstream_config, None).expect("TLS config");
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .tcp_nodelay(true)
            .build()
            .expect("proxy's HTTP client");
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http,
            faults: Mutex::default(),
            log: Mutex::default(),
            token: Mutex::default(),
            chunking: Mutex::default(),
            breaks: watch::Sender::new(0),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("proxy serves") });
        Self { addr, shared }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer matching requests with a failure instead (first matching fault wins).
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Withdraw every injected fault not used up yet.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.shared.log).clone()
    }

    /// How many `method` requests reached `path` (query ignored).
    pub fn count(&self, method: &Method, path: &str) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|s| s.method == *method && s.path == path)
            .count()
    }

    /// Forget the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Answer 401 to requests without `Authorization: Bearer <token>` (`None`: no check).
    pub fn require_token(&self, token: Option<&str>) {
        *lock(&self.shared.token) = token.map(str::to_string);
    }

    /// Cut the lines of watches started from now on into chunks of `size` bytes, pausing
    /// `delay` before each.
    pub fn chunk_watches(&self, size: usize, delay: Option<Duration>) {
        *lock(&self.shared.chunking) = Chunking { size, delay };
    }

    /// Drop every open watch connection halfway through the next event it carries.
    pub fn break_watches(&self) {
        self.shared.breaks.send_modify(|n| *n += 1);
    }
}

fn status_response(status: &Status) -> Response {
    let code = StatusCode::from_u16(status.code).expect("valid code");
    let body = serde_json::to_vec(status).expect("Status serialises");
    (code, [(CONTENT_TYPE, "application/json")], body).into_response()
}

fn header(headers: &HeaderMap, name: http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn strip_hop_headers(headers: &mut HeaderMap) {
    for name in [HOST, CONTENT_LENGTH, CONNECTION, TRANSFER_ENCODING] {
        headers.remove(name);
    }
}

/// Every request comes through here.
async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    lock(&shared.log).push(Seen {
        method: parts.method.clone(),
        path: path.clone(),
        query: query.clone(),
        content_type: header(&parts.headers, CONTENT_TYPE),
        authorization: header(&parts.headers, AUTHORIZATION),
    });
    let fault = {
        let mut faults = lock(&shared.faults);
        faults
            .iter_mut()
            .find(|f| f.matches(&parts.method, &path))
            .map(|f| {
                f.times -= 1;
                f.clone()
            })
    };
    if let Some(fault) = &fault
        && !fault.after_forwarding
    {
        return fault.response();
    }
    if let Some(token) = lock(&shared.token).as_ref()
        && header(&parts.headers, AUTHORIZATION) != Some(format!("Bearer {token}"))
    {
        return status_response(&Status::failure(401, reason::UNAUTHORIZED, "Unauthorized"));
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large for the proxy",
        )
            .into_response();
    };
    let mut headers = parts.headers.clone();
    strip_hop_headers(&mut headers);
    let url = format!(
        "{}{}",
        shared.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let upstream = shared
        .http
        .request(parts.method.clone(), url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let upstream = match upstream {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
    };
    if let Some(fault) = fault {
        // The server acted; its answer is lost on the way back.
        drop(upstream);
        return fault.response();
    }
    let is_watch = query.split('&').any(|kv| kv == "watch=true" || kv == "watch=1");
    let mut resp = Response::builder().status(upstream.status());
    let mut headers = upstream.headers().clone();
    strip_hop_headers(&mut headers);
    if let Some(h) = resp.headers_mut() {
        *h = headers;
    }
    let body = if is_watch && upstream.status().is_success() {
        let chunking = *lock(&shared.chunking);
        Body::from_stream(watch_body(
            upstream.bytes_stream(),
            chunking,
            shared.breaks.subscribe(),
        ))
    } else {
        Body::from_stream(upstream.bytes_stream())
    };
    resp.body(body).expect("valid response")
}

struct WatchBody<S> {
    upstream: S,
    buf: BytesMut,
    pending: std::collections::VecDeque<Bytes>,
    chunking: Chunking,
    breaks: watch::Receiver<u64>,
    broken: bool,
    done: bool,
}

impl<S> WatchBody<S> {
    /// Queue `bytes` cut into chunks.
    fn queue(&mut self, bytes: Bytes) {
        let size = if self.chunking.size == 0 {
            bytes.len().max(1)
        } else {
            self.chunking.size
        };
        let mut at = 0;
        while at < bytes.len() {
            let end = (at + size).min(bytes.len());
            self.pending.push_back(bytes.slice(at..end));
            at = end;
        }
    }
}

/// A watch body as the apiserver sends it, re-framed into lines so that each line can be cut
/// into chunks or dropped halfway.
fn watch_body<S>(
    upstream: S,
    chunking: Chunking,
    breaks: watch::Receiver<u64>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    S: Stream<Item = reqwest::Result<Bytes>> + Send + Unpin + 'static,
{
    let state = WatchBody {
        upstream,
        buf: BytesMut::new(),
        pending: Default::default(),
        chunking,
        breaks,
        broken: false,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(chunk) = st.pending.pop_front() {
                if let Some(d) = st.chunking.delay {
                    tokio::time::sleep(d).await;
                }
                return Some((Ok(chunk), st));
            }
            if st.done {
                return None;
            }
            if st.broken {
                st.done = true;
                let err = std::io::Error::other("the proxy dropped the watch mid-event");
                return Some((Err(err), st));
            }
            if let Some(pos) = st.buf.iter().position(|b| *b == b'\n') {
                let line = st.buf.split_to(pos + 1).freeze();
                if st.breaks.has_changed().unwrap_or(false) {
                    st.broken = true;
                    st.queue(line.slice(..line.len() / 2));
                } else {
                    st.queue(line);
                }
                continue;
            }
            match st.upstream.next().await {
                Some(Ok(bytes)) => st.buf.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(std::io::Error::other(e)), st));
                }
                None => {
                    st.done = true;
                    let rest = st.buf.split().freeze();
                    st.queue(rest);
                }
            }
        }
    })
}
