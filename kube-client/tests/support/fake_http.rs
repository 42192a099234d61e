//! The fake apiserver's HTTP side: routing of Kubernetes URLs onto the store, Status error
//! responses, chunked watch responses, and the knobs tests turn (injected failures, a required
//! bearer token, watch chunking).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode, Uri};
use kube_core::Status;
use kube_core::status::reason;
use serde_json::{Value, json};
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::time::Instant;

use super::fake_resources::{self, ResourceDef};
use super::fake_store::{Selection, Store, Target, WatchMsg};

/// A canned failure answered instead of the real response.
#[derive(Debug, Clone)]
pub struct Fault {
    method: Option<Method>,
    path: Option<String>,
    times: usize,
    code: u16,
    retry_after: Option<u64>,
    raw: Option<(String, String)>,
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

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.times > 0
            && self.method.as_ref().is_none_or(|m| m == method)
            && self.path.as_deref().is_none_or(|p| p == path)
    }

    fn response(&self) -> Response {
        let mut resp = match &self.raw {
            Some((content_type, body)) => {
                let code = StatusCode::from_u16(self.code).expect("valid code");
                (code, [(CONTENT_TYPE, content_type.clone())], body.clone()).into_response()
            }
            None => {
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
                if let Some(secs) = self.retry_after {
                    status.details = Some(kube_core::status::StatusDetails {
                        retry_after_seconds: Some(secs as u32),
                        ..Default::default()
                    });
                }
                status_response(status)
            }
        };
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(RETRY_AFTER, secs.into());
        }
        resp
    }
}

/// One request the fake received.
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
pub struct Chunking {
    /// Chunk size in bytes; 0 sends each line as one chunk.
    pub size: usize,
    /// A pause before each chunk.
    pub delay: Option<Duration>,
}

/// State shared by the server task and the test.
pub struct Shared {
    pub store: Mutex<Store>,
    pub faults: Mutex<Vec<Fault>>,
    pub log: Mutex<Vec<Seen>>,
    pub token: Mutex<Option<String>>,
    pub chunking: Mutex<Chunking>,
    addr: SocketAddr,
}

/// Lock, ignoring poisoning (a panicking test thread must not hide the first failure).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            store: Mutex::new(Store::new()),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            token: Mutex::new(None),
            chunking: Mutex::new(Chunking::default()),
            addr,
        }
    }
}

fn json_response(code: u16, body: &Value) -> Response {
    let code = StatusCode::from_u16(code).expect("valid code");
    (
        code,
        [(CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).expect("JSON"),
    )
        .into_response()
}

fn status_response(status: Status) -> Response {
    let code = if status.code == 0 { 500 } else { status.code };
    json_response(code, &serde_json::to_value(status).expect("JSON"))
}

/// What kube-apiserver answers for a path it does not serve.
fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

fn method_not_allowed() -> Response {
    status_response(Status::failure(
        405,
        reason::METHOD_NOT_ALLOWED,
        "the server does not allow this method on the requested resource",
    ))
}

fn reply(result: Result<Value, Status>, code: u16) -> Response {
    match result {
        Ok(v) => json_response(code, &v),
        Err(s) => status_response(s),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, Status> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(format!("couldn't get version/kind; json parse error: {e}")))
}

/// Every request comes through here.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let path = uri.path().to_string();
    lock(&shared.log).push(Seen {
        method: method.clone(),
        path: path.clone(),
        query: uri.query().unwrap_or_default().to_string(),
        content_type: header(CONTENT_TYPE),
        authorization: header(AUTHORIZATION),
    });
    {
        let mut faults = lock(&shared.faults);
        if let Some(fault) = faults.iter_mut().find(|f| f.matches(&method, &path)) {
            fault.times -= 1;
            return fault.response();
        }
    }
    if let Some(token) = lock(&shared.token).as_ref()
        && header(AUTHORIZATION) != Some(format!("Bearer {token}"))
    {
        return status_response(Status::failure(401, reason::UNAUTHORIZED, "Unauthorized"));
    }
    let query: HashMap<String, String> = Query::try_from_uri(&uri).map(|Query(q)| q).unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let discovery = |doc: Option<Value>| match (&method, doc) {
        (&Method::GET, Some(doc)) => json_response(200, &doc),
        (_, Some(_)) => method_not_allowed(),
        (_, None) => page_not_found(),
    };
    let defs = lock(&shared.store).defs.clone();
    match segments.as_slice() {
        ["version"] => discovery(Some(fake_resources::version_info())),
        ["api"] => discovery(Some(fake_resources::api_versions(&shared.addr.to_string()))),
        ["apis"] => discovery(Some(fake_resources::api_group_list(&defs))),
        ["api", v] => discovery(fake_resources::api_resource_list(&defs, "", v)),
        ["apis", g, v] => discovery(fake_resources::api_resource_list(&defs, g, v)),
        ["api", v, rest @ ..] => resource(&shared, &defs, &method, "", v, rest, &query, &headers, &body),
        ["apis", g, v, rest @ ..] => resource(&shared, &defs, &method, g, v, rest, &query, &headers, &body),
        _ => page_not_found(),
    }
}

/// The resource, namespace, name and subresource a path addresses.
struct Route<'a> {
    def: ResourceDef,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    subresource: Option<&'a str>,
}

fn route<'a>(defs: &[ResourceDef], group: &str, version: &str, rest: &[&'a str]) -> Option<Route<'a>> {
    let find = |plural: &str| {
        defs.iter()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
    };
    let (def, namespace, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|d| d.namespaced) => {
            (find(plural)?, Some(*ns), tail)
        }
        [plural, tail @ ..] => {
            let def = find(plural)?;
            if def.namespaced && !tail.is_empty() {
                return None;
            }
            (def, None, tail)
        }
        _ => return None,
    };
    if tail.len() > 2 {
        return None;
    }
    Some(Route {
        def: def.clone(),
        namespace,
        name: tail.first().copied(),
        subresource: tail.get(1).copied(),
    })
}

#[allow(clippy::too_many_arguments)]
fn resource(
    shared: &Shared,
    defs: &[ResourceDef],
    method: &Method,
    group: &str,
    version: &str,
    rest: &[&str],
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let Some(Route {
        def,
        namespace: ns,
        name,
        subresource: sub,
    }) = route(defs, group, version, rest)
    else {
        return page_not_found();
    };
    let verb = |v: &str| def.allows(v);
    let mut store = lock(&shared.store);
    match (name, sub) {
        (None, _) => match *method {
            Method::GET
                if matches!(query.get("watch").map(String::as_str), Some("true" | "1")) && verb("watch") =>
            {
                drop(store);
                watch(shared, &def, ns, query)
            }
            Method::GET if verb("list") => {
                let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
                    Some(Err(_)) => {
                        return status_response(Status::bad_request("limit must be a non-negative integer"));
                    }
                    Some(Ok(l)) => Some(l),
                    None => None,
                };
                let result = Selection::parse(
                    &def,
                    query.get("labelSelector").map(String::as_str),
                    query.get("fieldSelector").map(String::as_str),
                )
                .and_then(|sel| store.list(&def, ns, &sel, limit, query.get("continue").map(String::as_str)));
                reply(result, 200)
            }
            Method::POST if verb("create") && (ns.is_some() || !def.namespaced) => {
                reply(parse_body(body).and_then(|b| store.create(&def, ns, b)), 201)
            }
            Method::DELETE if verb("deletecollection") => {
                let result = Selection::parse(
                    &def,
                    query.get("labelSelector").map(String::as_str),
                    query.get("fieldSelector").map(String::as_str),
                )
                .and_then(|sel| Ok((sel, parse_body(body)?)))
                .and_then(|(sel, options)| store.delete_collection(&def, ns, &sel, &options));
                reply(result, 200)
            }
            _ => method_not_allowed(),
        },
        (Some(name), sub @ (None | Some("status"))) => {
            if sub.is_some() && !def.status {
                return page_not_found();
            }
            let target = if sub.is_some() {
                Target::Status
            } else {
                Target::Main
            };
            match *method {
                Method::GET if verb("get") => reply(store.get(&def, ns, name), 200),
                Method::PUT if verb("update") => reply(
                    parse_body(body).and_then(|b| store.update(&def, ns, name, b, target)),
                    200,
                ),
                Method::PATCH if verb("patch") => {
                    let content_type = headers
                        .get(CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    reply(store.patch(&def, ns, name, content_type, body, target), 200)
                }
                Method::DELETE if verb("delete") && sub.is_none() => reply(
                    parse_body(body).and_then(|options| store.delete(&def, ns, name, &options)),
                    200,
                ),
                _ => method_not_allowed(),
            }
        }
        _ => page_not_found(),
    }
}

fn watch(shared: &Shared, def: &ResourceDef, ns: Option<&str>, query: &HashMap<String, String>) -> Response {
    let flag = |k: &str| query.get(k).is_some_and(|v| v == "true" || v == "1");
    let selection = match Selection::parse(
        def,
        query.get("labelSelector").map(String::as_str),
        query.get("fieldSelector").map(String::as_str),
    ) {
        Ok(s) => s,
        Err(s) => return status_response(s),
    };
    let rv = query
        .get("resourceVersion")
        .map(String::as_str)
        .unwrap_or_default();
    let (tx, rx) = mpsc::unbounded_channel();
    let started = lock(&shared.store).watch(
        def,
        ns,
        selection,
        rv,
        flag("allowWatchBookmarks"),
        flag("sendInitialEvents"),
        tx,
    );
    if let Err(s) = started {
        return status_response(s);
    }
    let deadline = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map(|t| Instant::now() + Duration::from_secs(t));
    let chunking = *lock(&shared.chunking);
    Response::builder()
        .status(200)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from_stream(watch_body(rx, chunking, deadline)))
        .expect("valid response")
}

struct WatchBody {
    rx: UnboundedReceiver<WatchMsg>,
    pending: VecDeque<Bytes>,
    chunking: Chunking,
    deadline: Option<Instant>,
    abort: bool,
    done: bool,
}

/// The body of a watch response: lines as the store queues them, cut into chunks.
fn watch_body(
    rx: UnboundedReceiver<WatchMsg>,
    chunking: Chunking,
    deadline: Option<Instant>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let state = WatchBody {
        rx,
        pending: VecDeque::new(),
        chunking,
        deadline,
        abort: false,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(chunk) = st.pending.pop_front() {
                if let Some(d) = st.chunking.delay {
                    tokio::time::sleep(d).await;
                }
                return Some((Ok(chunk), st));
            }
            if st.abort {
                st.done = true;
                return Some((
                    Err(std::io::Error::other("the fake apiserver broke the watch")),
                    st,
                ));
            }
            let msg = match st.deadline {
                Some(d) => tokio::time::timeout_at(d, st.rx.recv()).await.ok().flatten(),
                None => st.rx.recv().await,
            };
            let bytes = match msg {
                None | Some(WatchMsg::Close) => return None,
                Some(WatchMsg::Line(b)) => b,
                Some(WatchMsg::Abort(b)) => {
                    st.abort = true;
                    b
                }
            };
            let size = if st.chunking.size == 0 {
                bytes.len().max(1)
            } else {
                st.chunking.size
            };
            let mut at = 0;
            while at < bytes.len() {
                let end = (at + size).min(bytes.len());
                st.pending.push_back(bytes.slice(at..end));
                at = end;
            }
        }
    })
}
