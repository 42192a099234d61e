//! The server: state, the request path as layers, and the router.
//!
//! Every request passes, in order: the in-flight limit (429 with `Retry-After` past it; watches
//! are long-running and not counted), authentication ([`Authenticator`]), authorization
//! ([`Authorizer`]), then the handler, whose writes run admission (defaults, validation) before
//! storage. The default authenticator accepts everyone as `system:anonymous` and the default
//! authorizer allows everything; TLS and access control slot in by replacing them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode};
use kube_core::Status;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::allocator::{Cidr, ServiceAllocator};
use crate::handlers::{self, Ctx, RequestInfo, bytes_response, status_response};
use crate::metrics::{InstrumentedStorage, Metrics};
use crate::registry::{Registry, SharedRegistry};
use crate::storage::Storage;
use crate::watch_cache::WatchCache;
use crate::{discovery, object};

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// Groups.
    pub groups: Vec<String>,
}

/// Decides who a request is from.
pub trait Authenticator: Send + Sync + 'static {
    /// The user, or a 401 `Status`.
    fn authenticate(&self, headers: &HeaderMap) -> Result<UserInfo, Status>;
}

/// Decides whether a user may do what a request asks.
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok` to allow, a 403 `Status` to deny.
    fn authorize(&self, user: &UserInfo, info: &RequestInfo) -> Result<(), Status>;
}

/// Accepts everyone as `system:anonymous` (with `system:masters`: this server is a local
/// reference, not a hardened one).
#[derive(Debug, Default)]
pub struct AllowAnonymous;

impl Authenticator for AllowAnonymous {
    fn authenticate(&self, _headers: &HeaderMap) -> Result<UserInfo, Status> {
        Ok(UserInfo {
            name: "system:anonymous".into(),
            groups: vec!["system:masters".into()],
        })
    }
}

/// Allows everything.
#[derive(Debug, Default)]
pub struct AlwaysAllow;

impl Authorizer for AlwaysAllow {
    fn authorize(&self, _user: &UserInfo, _info: &RequestInfo) -> Result<(), Status> {
        Ok(())
    }
}

/// Server options.
#[derive(Clone)]
pub struct ServerConfig {
    /// The address clients use (for `/api`'s `serverAddressByClientCIDRs`).
    pub advertise: SocketAddr,
    /// Cluster IP range of services.
    pub service_cidr: Cidr,
    /// Concurrent non-watch requests before 429.
    pub max_inflight: usize,
    /// Events per resource the watch cache keeps for watchers that resume.
    pub watch_history: usize,
    /// Who requests are from (default [`AllowAnonymous`]).
    pub authn: Arc<dyn Authenticator>,
    /// What they may do (default [`AlwaysAllow`]).
    pub authz: Arc<dyn Authorizer>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("advertise", &self.advertise)
            .field("service_cidr", &self.service_cidr)
            .field("max_inflight", &self.max_inflight)
            .field("watch_history", &self.watch_history)
            .finish_non_exhaustive()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            advertise: "127.0.0.1:6443".parse().expect("valid address"),
            service_cidr: "127.96.0.0/16".parse().expect("valid CIDR"),
            max_inflight: 400,
            watch_history: crate::watch_cache::HISTORY_PER_RESOURCE,
            authn: Arc::new(AllowAnonymous),
            authz: Arc::new(AlwaysAllow),
        }
    }
}

/// Everything the handlers share.
pub struct ApiState {
    /// Storage (instrumented).
    pub storage: Arc<dyn Storage>,
    /// The watch cache.
    pub cache: WatchCache,
    /// Served resources (built-in, and custom ones as CRDs come and go).
    pub registry: SharedRegistry,
    /// Service IP and port allocation.
    pub services: ServiceAllocator,
    /// Metrics.
    pub metrics: Metrics,
    /// The in-flight limit.
    pub inflight: Arc<Semaphore>,
    /// Authentication.
    pub authn: Arc<dyn Authenticator>,
    /// Authorization.
    pub authz: Arc<dyn Authorizer>,
    /// Options.
    pub config: ServerConfig,
    /// Cancelled when the server shuts down: long-running requests (watches) end.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The namespaces that exist from the start.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

impl ApiState {
    /// Build the state over `storage`: start the watch cache, restore allocations, serve the
    /// established CustomResourceDefinitions, create the system namespaces, and start the CRD
    /// loop (see [`crate::apiextensions`]).
    pub async fn new(storage: Arc<dyn Storage>, config: ServerConfig) -> Result<Arc<Self>, Status> {
        let metrics = Metrics::default();
        let storage: Arc<dyn Storage> = Arc::new(InstrumentedStorage::new(storage, metrics.clone()));
        let builtin = Registry::builtin();
        let cache = WatchCache::start(storage.clone(), &builtin, config.watch_history)
            .await
            .map_err(handlers::internal)?;
        let registry = SharedRegistry::new(builtin);
        let lifetimes = crate::apiextensions::restore(&storage, &registry)
            .await
            .map_err(handlers::internal)?;
        let services = ServiceAllocator::new(config.service_cidr);
        let (_, existing) = cache
            .list("/registry/services/", "/registry/services/")
            .map_err(handlers::internal)?;
        for svc in existing {
            if let Ok(v) = serde_json::from_slice(&svc.served()) {
                services.restore(&v);
            }
        }
        for ns in SYSTEM_NAMESPACES {
            let key = format!("/registry/namespaces/{ns}");
            if storage.get(&key).await.map_err(handlers::internal)?.is_none() {
                let obj = json!({
                    "kind": "Namespace", "apiVersion": "v1",
                    "metadata": {"name": ns, "uid": object::new_uid(), "creationTimestamp": object::now_rfc3339(),
                                 "labels": {"kubernetes.io/metadata.name": ns}},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                });
                match storage.create(&key, object::to_storage(obj)).await {
                    Ok(_) | Err(crate::storage::Error::AlreadyExists { .. }) => {}
                    Err(e) => return Err(handlers::internal(e)),
                }
            }
        }
        let state = Arc::new(Self {
            storage,
            cache,
            registry,
            services,
            metrics,
            inflight: Arc::new(Semaphore::new(config.max_inflight)),
            authn: config.authn.clone(),
            authz: config.authz.clone(),
            config,
            shutdown: tokio_util::sync::CancellationToken::new(),
        });
        crate::apiextensions::start(&state, lifetimes);
        Ok(state)
    }
}

/// The router.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new().fallback(serve).with_state(state)
}

fn query_map(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn ok_text(text: &'static str) -> Response {
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn not_found_path(path: &str) -> Status {
    Status::failure(
        404,
        kube_core::status::reason::NOT_FOUND,
        format!("the server could not find the requested resource ({path})"),
    )
}

async fn serve(State(state): State<Arc<ApiState>>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = query_map(parts.uri.query());
    let info = handlers::parse_request_info(&parts.method, &path, &query);
    let long_running = info.as_ref().is_some_and(|i| i.verb == handlers::Verb::Watch);
    let _permit = if long_running {
        None
    } else {
        match state.inflight.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                let mut s = Status::failure(
                    429,
                    kube_core::status::reason::TOO_MANY_REQUESTS,
                    "Too many requests, please try again later.",
                );
                s.details = Some(kube_core::status::StatusDetails {
                    retry_after_seconds: Some(1),
                    ..Default::default()
                });
                return status_response(&s);
            }
        }
    };
    let user = match state.authn.authenticate(&parts.headers) {
        Ok(u) => u,
        Err(s) => return status_response(&s),
    };
    let Some(info) = info else {
        let resp = non_resource(&state, &parts.method, &path, &parts.headers).await;
        state.metrics.request(
            &parts.method.as_str().to_ascii_lowercase(),
            "",
            resp.status().as_u16(),
            started,
        );
        return resp;
    };
    if let Err(s) = state.authz.authorize(&user, &info) {
        return status_response(&s);
    }
    let registry = state.registry.load();
    let Some(def) = registry.get(&info.group, &info.version, &info.resource).cloned() else {
        // An unserved group-version is not an API at all: kube-apiserver's plain-text 404.
        let served = registry
            .all()
            .iter()
            .any(|d| d.group == info.group && d.version == info.version);
        if !served {
            let mut r = Response::new(Body::from("404 page not found\n"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return r;
        }
        return status_response(&not_found_path(&path));
    };
    if info.subresource.is_none() && !def.allows(info.verb.as_str()) {
        return status_response(&Status::failure(
            405,
            kube_core::status::reason::METHOD_NOT_ALLOWED,
            format!(
                "the server does not allow this method on the requested resource ({})",
                def.qualified_plural()
            ),
        ));
    }
    let unscoped = def.namespaced
        && info.namespace.is_none()
        && !matches!(
            info.verb,
            handlers::Verb::List | handlers::Verb::Watch | handlers::Verb::DeleteCollection
        );
    // A cluster-scoped resource has no namespaced path.
    if unscoped || (!def.namespaced && info.namespace.is_some()) {
        return status_response(&not_found_path(&path));
    }
    let body = match axum::body::to_bytes(body, handlers::MAX_BODY + 1).await {
        Ok(b) if b.len() <= handlers::MAX_BODY => b,
        _ => {
            return status_response(&Status::failure(
                413,
                kube_core::status::reason::REQUEST_ENTITY_TOO_LARGE,
                "Request entity too large: limit is 3145728",
            ));
        }
    };
    let verb = info.verb.as_str();
    let resource = def.qualified_plural();
    let ctx = Ctx {
        state: state.clone(),
        info,
        def,
        query,
        headers: parts.headers,
        body,
    };
    let resp = handlers::dispatch(ctx).await;
    state
        .metrics
        .request(verb, &resource, resp.status().as_u16(), started);
    tracing::debug!(verb, %resource, code = resp.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    resp
}

/// `/readyz`: `ok` while storage answers a revision read within 2 seconds; otherwise 500 with
/// kube-apiserver's check listing (`[-]etcd failed: ...`, `readyz check failed`), so that a
/// load balancer sends requests to the apiservers whose storage is reachable.
async fn readyz(state: &ApiState) -> Response {
    let name = state.storage.health_check_name();
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), state.storage.revision()).await;
    let failure = match check {
        Ok(Ok(_)) => return ok_text("ok"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 2s".to_owned(),
    };
    let mut r = Response::new(Body::from(format!(
        "[+]ping ok\n[-]{name} failed: {failure}\nreadyz check failed\n"
    )));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn non_resource(state: &ApiState, method: &Method, path: &str, headers: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return status_response(&Status::failure(
            405,
            kube_core::status::reason::METHOD_NOT_ALLOWED,
            "the server does not allow this method on the requested resource",
        ));
    }
    let registry = state.registry.load();
    let trimmed = path.trim_end_matches('/');
    let parts: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    let doc = match parts.as_slice() {
        ["healthz"] | ["livez"] => return ok_text("ok"),
        ["readyz"] => return readyz(state).await,
        ["metrics"] => {
            let mut r = bytes_response(StatusCode::OK, state.metrics.encode());
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            return r;
        }
        ["version"] => Some(discovery::version()),
        ["api"] => return discovery::root(&registry, headers, true, &state.config.advertise.to_string()),
        ["api", v] => discovery::resource_list(&registry, "", v),
        ["apis"] => return discovery::root(&registry, headers, false, ""),
        ["openapi", "v3"] => return crate::openapi::index(&registry),
        ["openapi", "v3", rest @ ..] => return crate::openapi::document(&registry, &rest.join("/")),
        ["apis", g] => discovery::group(&registry, g),
        ["apis", g, v] => discovery::resource_list(&registry, g, v),
        _ => None,
    };
    match doc {
        Some(d) => handlers::json(StatusCode::OK, &d),
        None => status_response(&not_found_path(path)),
    }
}
