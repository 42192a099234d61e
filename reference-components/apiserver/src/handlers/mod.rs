//! The generic REST handlers: one per verb, serving every registered resource.
//!
//! A request is first turned into a [`RequestInfo`] (verb, group, version, namespace, resource,
//! name, subresource) the way kube-apiserver's `RequestInfoFactory` does, then dispatched.
//! Handlers work on JSON (`serde_json::Value`); the registry entry supplies what differs
//! between resources.

mod create;
mod delete;
mod get;
mod list;
mod patch;
mod subresource;
mod update;
mod watch;
mod write;

pub use write::MAX_BODY;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use kube_core::Status;
use serde_json::Value;

use crate::registry::ResourceDef;
use crate::server::ApiState;
use crate::storage;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `GET` of one object.
    Get,
    /// `GET` of a collection.
    List,
    /// `GET` of a collection with `watch=true`.
    Watch,
    /// `POST`.
    Create,
    /// `PUT`.
    Update,
    /// `PATCH`.
    Patch,
    /// `DELETE` of one object.
    Delete,
    /// `DELETE` of a collection.
    DeleteCollection,
}

impl Verb {
    /// The verb's name, as in discovery and RBAC.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// A parsed resource request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The verb.
    pub verb: Verb,
    /// API group; empty for `/api`.
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Resource (plural).
    pub resource: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource.
    pub subresource: Option<String>,
}

/// Parse a resource path (`/api/v1/namespaces/ns/pods/name/status`, `/apis/apps/v1/...`,
/// the legacy `/api/v1/watch/...`). `None` for anything that is not a resource request.
pub fn parse_request_info(
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
) -> Option<RequestInfo> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, mut rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => (String::new(), v.to_string(), rest.to_vec()),
        ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest.to_vec()),
        _ => return None,
    };
    let mut legacy_watch = false;
    if rest.first() == Some(&"watch") {
        legacy_watch = true;
        rest.remove(0);
    }
    let mut namespace = None;
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest.drain(..2);
        }
    }
    let resource = rest.first().filter(|r| !r.is_empty())?.to_string();
    let name = rest.get(1).map(|s| s.to_string());
    let subresource = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 {
        return None;
    }
    // `/api/v1/namespaces/{name}` names the namespace itself.
    let namespace = if resource == "namespaces" && group.is_empty() {
        None
    } else {
        namespace
    };
    let watch_param = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match (method.as_str(), name.is_some()) {
        _ if legacy_watch => Verb::Watch,
        ("GET" | "HEAD", true) if watch_param => Verb::Watch,
        ("GET" | "HEAD", true) => Verb::Get,
        ("GET" | "HEAD", false) if watch_param => Verb::Watch,
        ("GET" | "HEAD", false) => Verb::List,
        ("POST", _) => Verb::Create,
        ("PUT", _) => Verb::Update,
        ("PATCH", _) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::DeleteCollection,
        _ => return None,
    };
    Some(RequestInfo {
        verb,
        group,
        version,
        namespace,
        resource,
        name,
        subresource,
    })
}

/// The handler's view of one request.
pub struct Ctx {
    /// Server state.
    pub state: Arc<ApiState>,
    /// What is asked.
    pub info: RequestInfo,
    /// The resource.
    pub def: Arc<ResourceDef>,
    /// Query parameters (last value wins).
    pub query: HashMap<String, String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
}

impl Ctx {
    /// A query parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Whether `dryRun=All` was asked for.
    pub fn dry_run(&self) -> bool {
        self.param("dryRun") == Some("All")
    }

    /// The namespace of the request, for namespaced resources.
    pub fn namespace(&self) -> Option<&str> {
        self.info.namespace.as_deref().filter(|_| self.def.namespaced)
    }

    /// The object name from the path.
    pub fn name(&self) -> &str {
        self.info.name.as_deref().unwrap_or_default()
    }

    /// The storage key of the named object.
    pub fn key(&self) -> String {
        self.def.key(self.namespace(), self.name())
    }
}

/// What handlers return: a response, or a `Status` to send as the error.
pub type HandlerResult = Result<Response, Status>;

/// A JSON response.
pub fn json(code: StatusCode, body: &Value) -> Response {
    bytes_response(
        code,
        Bytes::from(serde_json::to_vec(body).expect("JSON values serialise")),
    )
}

/// A JSON response from ready bytes.
pub fn bytes_response(code: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A `Status` as a response, with its code.
pub fn status_response(status: &Status) -> Response {
    let code = StatusCode::from_u16(status.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = bytes_response(
        code,
        Bytes::from(serde_json::to_vec(status).expect("Status serialises")),
    );
    if let Some(after) = status.details.as_ref().and_then(|d| d.retry_after_seconds) {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(after));
    }
    resp
}

/// Map a watch cache error to the `Status` Kubernetes answers with.
pub fn cache_status(e: crate::watch_cache::CacheError) -> Status {
    use crate::watch_cache::CacheError;
    match e {
        CacheError::TooLarge { requested, current } => too_large_rv(requested, current),
        CacheError::Expired { requested, oldest } => {
            Status::expired(format!("too old resource version: {requested} ({oldest})"))
        }
        CacheError::Storage(storage::Error::Unavailable(msg)) => unavailable(msg),
        other => internal(other),
    }
}

/// Map a storage error to the `Status` Kubernetes answers with.
pub fn storage_status(def: &ResourceDef, name: &str, err: storage::Error) -> Status {
    let resource = def.qualified_plural();
    match err {
        storage::Error::NotFound { .. } => Status::not_found(&resource, name),
        storage::Error::AlreadyExists { .. } => Status::already_exists(&resource, name),
        storage::Error::Conflict { .. } => Status::conflict(
            &resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ),
        storage::Error::Expired { requested, compacted } => Status::expired(format!(
            "The resourceVersion for the provided list is too old. ({requested} < {compacted})"
        )),
        storage::Error::FutureRevision { requested, current } => too_large_rv(requested, current),
        storage::Error::Backend(msg) => internal(msg),
        storage::Error::Unavailable(msg) => unavailable(msg),
    }
}

/// 503 ServiceUnavailable with `Retry-After: 1`: storage cannot be reached (etcd is down).
pub fn unavailable(msg: impl std::fmt::Display) -> Status {
    let mut s = Status::failure(
        503,
        kube_core::status::reason::SERVICE_UNAVAILABLE,
        format!("storage is unavailable: {msg}"),
    );
    s.details = Some(kube_core::status::StatusDetails {
        retry_after_seconds: Some(1),
        ..Default::default()
    });
    s
}

/// 500 InternalError.
pub fn internal(msg: impl std::fmt::Display) -> Status {
    Status::failure(
        500,
        kube_core::status::reason::INTERNAL_ERROR,
        format!("Internal error occurred: {msg}"),
    )
}

/// 504 Timeout for a resourceVersion the server has not reached.
pub fn too_large_rv(requested: u64, current: u64) -> Status {
    let mut s = Status::failure(
        504,
        kube_core::status::reason::TIMEOUT,
        format!("Too large resource version: {requested}, current: {current}"),
    );
    s.details = Some(kube_core::status::StatusDetails {
        causes: vec![kube_core::status::StatusCause {
            reason: "ResourceVersionTooLarge".into(),
            message: "Too large resource version".into(),
            field: String::new(),
        }],
        retry_after_seconds: Some(1),
        ..Default::default()
    });
    s
}

/// Parse a resourceVersion parameter.
pub fn parse_rv(rv: &str) -> Result<u64, Status> {
    rv.parse::<u64>().map_err(|_| {
        Status::bad_request(format!(
            "invalid resource version \"{rv}\": must be a non-negative integer"
        ))
    })
}

/// 422 for a `dryRun` value other than `All` (kube-apiserver's `ValidateCreateOptions` and its
/// siblings): an unknown value must never be taken for a real write.
pub fn unsupported_dry_run(options_kind: &str, value: &str) -> Status {
    Status::invalid(
        &format!("{options_kind}.meta.k8s.io"),
        "",
        vec![kube_core::status::StatusCause {
            reason: "FieldValueNotSupported".into(),
            message: format!("Unsupported value: \"{value}\": supported values: \"All\""),
            field: "dryRun".into(),
        }],
    )
}

fn check_dry_run(ctx: &Ctx) -> Result<(), Status> {
    let options_kind = match ctx.info.verb {
        Verb::Create => "CreateOptions",
        Verb::Update => "UpdateOptions",
        Verb::Patch => "PatchOptions",
        Verb::Delete | Verb::DeleteCollection => "DeleteOptions",
        Verb::Get | Verb::List | Verb::Watch => return Ok(()),
    };
    match ctx.param("dryRun") {
        Some(value) if value != "All" => Err(unsupported_dry_run(options_kind, value)),
        _ => Ok(()),
    }
}

/// Serve one resource request.
pub async fn dispatch(ctx: Ctx) -> Response {
    let deprecation = ctx.def.deprecation.clone();
    let mut resp = dispatch_resource(ctx).await;
    let Some(warning) = deprecation else {
        return resp;
    };
    // First, as kube-apiserver records it before the handler adds its own warnings.
    let headers = resp.headers_mut();
    let others: Vec<_> = headers.get_all(http::header::WARNING).iter().cloned().collect();
    headers.remove(http::header::WARNING);
    let mut resp = write::with_warnings(resp, &[warning.into_owned()]);
    for v in others {
        resp.headers_mut().append(http::header::WARNING, v);
    }
    resp
}

async fn dispatch_resource(mut ctx: Ctx) -> Response {
    if let Err(s) = check_dry_run(&ctx) {
        return status_response(&s);
    }
    // Protobuf bodies (kubectl's typed create commands) become JSON.
    if let Err(s) = crate::protobuf::json_body(&mut ctx) {
        return status_response(&s);
    }
    // Tables and PartialObjectMetadata, when the `Accept` header asks for them.
    let view = match crate::table::View::of(&ctx) {
        Ok(view) => view,
        Err(s) => return status_response(&s),
    };
    let result = match (ctx.info.verb, ctx.info.subresource.as_deref()) {
        (_, Some(sub)) => subresource::handle(&ctx, sub).await,
        (Verb::Get, None) => get::get(&ctx).await,
        (Verb::List, None) => list::list(&ctx).await,
        (Verb::Watch, None) => {
            let resp = watch::watch(ctx).await;
            return match view {
                Some(view) => view.respond_watch(resp),
                None => resp,
            };
        }
        (Verb::Create, None) => create::create(&ctx).await,
        (Verb::Update, None) => update::update(&ctx).await,
        (Verb::Patch, None) => patch::patch(&ctx).await,
        (Verb::Delete, None) => delete::delete(&ctx).await,
        (Verb::DeleteCollection, None) => delete::delete_collection(&ctx).await,
    };
    match (result, view) {
        (Ok(resp), Some(view)) => view.respond(resp).await,
        (result, _) => result.unwrap_or_else(|s| status_response(&s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, path: &str, watch: bool) -> Option<RequestInfo> {
        let mut q = HashMap::new();
        if watch {
            q.insert("watch".to_string(), "true".to_string());
        }
        parse_request_info(&method, path, &q)
    }

    #[test]
    fn parses_paths_like_kube_apiserver() {
        let i = info(Method::GET, "/api/v1/namespaces/ns/pods/p/status", false).unwrap();
        assert_eq!(
            (
                i.verb,
                i.group.as_str(),
                i.namespace.as_deref(),
                i.resource.as_str(),
                i.name.as_deref(),
                i.subresource.as_deref()
            ),
            (Verb::Get, "", Some("ns"), "pods", Some("p"), Some("status"))
        );
        let i = info(Method::GET, "/apis/apps/v1/deployments", true).unwrap();
        assert_eq!(
            (i.verb, i.group.as_str(), i.namespace),
            (Verb::Watch, "apps", None)
        );
        let i = info(Method::GET, "/api/v1/namespaces/kube-system", false).unwrap();
        assert_eq!(
            (i.resource.as_str(), i.name.as_deref(), i.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let i = info(Method::PUT, "/api/v1/namespaces/x/finalize", false).unwrap();
        assert_eq!(
            (i.resource.as_str(), i.name.as_deref(), i.subresource.as_deref()),
            ("namespaces", Some("x"), Some("finalize"))
        );
        let i = info(Method::GET, "/api/v1/watch/namespaces/ns/pods", false).unwrap();
        assert_eq!((i.verb, i.namespace.as_deref()), (Verb::Watch, Some("ns")));
        let i = info(Method::DELETE, "/api/v1/namespaces/ns/configmaps", false).unwrap();
        assert_eq!(i.verb, Verb::DeleteCollection);
        assert!(info(Method::GET, "/healthz", false).is_none());
        assert!(info(Method::GET, "/api/v1", false).is_none());
    }
}
