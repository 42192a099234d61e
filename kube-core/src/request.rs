//! HTTP requests for every verb, built without sending them.
//!
//! A [`Request`] is a collection URL (`/api/v1/namespaces/default/pods`); its methods add the
//! object name, subresource, query string, method, content type and body. `kube-client` sends
//! what these return; anything else (a test, a proxy) can too.

use http::header::{ACCEPT, CONTENT_TYPE};
use serde::Serialize;

use crate::params::{DeleteParams, GetParams, ListParams, ParamsError, PatchParams, PostParams, WatchParams};
use crate::patch::Patch;

/// `Content-Type` for JSON bodies.
pub const JSON: &str = "application/json";

/// Why a request could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options do not go together.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// An object name (or subresource) is empty or contains `/`.
    #[error("invalid name {0:?}: names must be non-empty and may not contain '/'")]
    InvalidName(String),
    /// The body could not be serialised.
    #[error("failed to serialise the request body: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The pieces do not form an HTTP request.
    #[error("failed to build the HTTP request: {0}")]
    Http(#[source] http::Error),
}

/// The built request: method, URI (path and query), headers and body.
pub type HttpRequest = http::Request<Vec<u8>>;

/// Builds requests for one collection URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The collection path, e.g. `/apis/apps/v1/namespaces/default/deployments`.
    pub url_path: String,
}

fn check_name(name: &str) -> Result<&str, Error> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        Err(Error::InvalidName(name.into()))
    } else {
        Ok(name)
    }
}

fn with_query(path: String, query: &str) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

fn build(
    method: http::Method,
    uri: String,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<HttpRequest, Error> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(ACCEPT, JSON);
    if let Some(ct) = content_type {
        b = b.header(CONTENT_TYPE, ct);
    }
    b.body(body).map_err(Error::Http)
}

impl Request {
    /// Requests for the collection at `url_path`.
    pub fn new(url_path: impl Into<String>) -> Self {
        Self {
            url_path: url_path.into(),
        }
    }

    fn object_path(&self, name: &str, subresource: Option<&str>) -> Result<String, Error> {
        let mut p = format!("{}/{}", self.url_path, check_name(name)?);
        if let Some(sub) = subresource {
            p.push('/');
            p.push_str(check_name(sub)?);
        }
        Ok(p)
    }

    /// `GET` the collection.
    pub fn list(&self, lp: &ListParams) -> Result<HttpRequest, Error> {
        build(
            http::Method::GET,
            with_query(self.url_path.clone(), &lp.to_query()?),
            None,
            vec![],
        )
    }

    /// `GET ...?watch=true` from `resource_version`.
    pub fn watch(&self, wp: &WatchParams, resource_version: &str) -> Result<HttpRequest, Error> {
        build(
            http::Method::GET,
            with_query(self.url_path.clone(), &wp.to_query(resource_version)?),
            None,
            vec![],
        )
    }

    /// `GET` one object.
    pub fn get(&self, name: &str, gp: &GetParams) -> Result<HttpRequest, Error> {
        build(
            http::Method::GET,
            with_query(self.object_path(name, None)?, &gp.to_query()),
            None,
            vec![],
        )
    }

    /// `POST` a new object to the collection.
    pub fn create(&self, pp: &PostParams, body: Vec<u8>) -> Result<HttpRequest, Error> {
        build(
            http::Method::POST,
            with_query(self.url_path.clone(), &pp.to_query()?),
            Some(JSON),
            body,
        )
    }

    /// `PUT` a whole object (compare-and-swap when it carries a resourceVersion).
    pub fn replace(&self, name: &str, pp: &PostParams, body: Vec<u8>) -> Result<HttpRequest, Error> {
        build(
            http::Method::PUT,
            with_query(self.object_path(name, None)?, &pp.to_query()?),
            Some(JSON),
            body,
        )
    }

    /// `PATCH` one object.
    pub fn patch<P: Serialize>(
        &self,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<HttpRequest, Error> {
        self.patch_at(self.object_path(name, None)?, pp, patch)
    }

    fn patch_at<P: Serialize>(
        &self,
        path: String,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<HttpRequest, Error> {
        pp.validate(patch)?;
        let body = patch.serialize().map_err(Error::Serialize)?;
        build(
            http::Method::PATCH,
            with_query(path, &pp.to_query()),
            Some(patch.content_type()),
            body,
        )
    }

    /// `DELETE` one object.
    pub fn delete(&self, name: &str, dp: &DeleteParams) -> Result<HttpRequest, Error> {
        build(
            http::Method::DELETE,
            self.object_path(name, None)?,
            Some(JSON),
            dp.to_body(),
        )
    }

    /// `DELETE` the collection (every object matching the list selectors).
    pub fn delete_collection(&self, dp: &DeleteParams, lp: &ListParams) -> Result<HttpRequest, Error> {
        build(
            http::Method::DELETE,
            with_query(self.url_path.clone(), &lp.to_query()?),
            Some(JSON),
            dp.to_body(),
        )
    }

    /// `GET` a subresource (`status`, `scale`, ...).
    pub fn get_subresource(&self, subresource: &str, name: &str) -> Result<HttpRequest, Error> {
        build(
            http::Method::GET,
            self.object_path(name, Some(subresource))?,
            None,
            vec![],
        )
    }

    /// `POST` to a subresource (`binding`, `eviction`).
    pub fn create_subresource(
        &self,
        subresource: &str,
        name: &str,
        pp: &PostParams,
        body: Vec<u8>,
    ) -> Result<HttpRequest, Error> {
        let path = with_query(self.object_path(name, Some(subresource))?, &pp.to_query()?);
        build(http::Method::POST, path, Some(JSON), body)
    }

    /// `PUT` a subresource.
    pub fn replace_subresource(
        &self,
        subresource: &str,
        name: &str,
        pp: &PostParams,
        body: Vec<u8>,
    ) -> Result<HttpRequest, Error> {
        let path = with_query(self.object_path(name, Some(subresource))?, &pp.to_query()?);
        build(http::Method::PUT, path, Some(JSON), body)
    }

    /// `PATCH` a subresource.
    pub fn patch_subresource<P: Serialize>(
        &self,
        subresource: &str,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<HttpRequest, Error> {
        self.patch_at(self.object_path(name, Some(subresource))?, pp, patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(r: &HttpRequest) -> String {
        format!("{} {}", r.method(), r.uri())
    }

    #[test]
    fn verbs_paths_and_headers() {
        let r = Request::new("/api/v1/namespaces/ns/pods");
        assert_eq!(
            line(&r.list(&ListParams::default().limit(2)).unwrap()),
            "GET /api/v1/namespaces/ns/pods?limit=2"
        );
        assert_eq!(
            line(&r.watch(&WatchParams::default(), "5").unwrap()),
            "GET /api/v1/namespaces/ns/pods?allowWatchBookmarks=true&resourceVersion=5&watch=true"
        );
        assert_eq!(
            line(&r.get("p", &GetParams::default()).unwrap()),
            "GET /api/v1/namespaces/ns/pods/p"
        );
        let c = r.create(&PostParams::default(), b"{}".to_vec()).unwrap();
        assert_eq!(line(&c), "POST /api/v1/namespaces/ns/pods");
        assert_eq!(c.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            line(&r.replace("p", &PostParams::default(), vec![]).unwrap()),
            "PUT /api/v1/namespaces/ns/pods/p"
        );
        let p = r
            .patch(
                "p",
                &PatchParams::default(),
                &Patch::Strategic(serde_json::json!({"a": 1})),
            )
            .unwrap();
        assert_eq!(line(&p), "PATCH /api/v1/namespaces/ns/pods/p");
        assert_eq!(
            p.headers()[CONTENT_TYPE],
            "application/strategic-merge-patch+json"
        );
        assert_eq!(p.body(), br#"{"a":1}"#);
        let d = r.delete("p", &DeleteParams::background()).unwrap();
        assert_eq!(line(&d), "DELETE /api/v1/namespaces/ns/pods/p");
        assert!(String::from_utf8_lossy(d.body()).contains("Background"));
        assert_eq!(
            line(
                &r.delete_collection(&DeleteParams::default(), &ListParams::default().labels("a=b"))
                    .unwrap()
            ),
            "DELETE /api/v1/namespaces/ns/pods?labelSelector=a%3Db"
        );
        assert_eq!(
            line(&r.get_subresource("status", "p").unwrap()),
            "GET /api/v1/namespaces/ns/pods/p/status"
        );
        assert_eq!(
            line(
                &r.create_subresource("binding", "p", &PostParams::default(), vec![])
                    .unwrap()
            ),
            "POST /api/v1/namespaces/ns/pods/p/binding"
        );
        let apply = r
            .patch_subresource(
                "status",
                "p",
                &PatchParams::apply("me").force(),
                &Patch::Apply(serde_json::json!({})),
            )
            .unwrap();
        assert_eq!(
            line(&apply),
            "PATCH /api/v1/namespaces/ns/pods/p/status?fieldManager=me&force=true"
        );
        assert_eq!(apply.headers()[CONTENT_TYPE], "application/apply-patch+yaml");
    }

    #[test]
    fn bad_names_and_params_are_errors() {
        let r = Request::new("/api/v1/pods");
        assert!(matches!(
            r.get("", &GetParams::default()),
            Err(Error::InvalidName(_))
        ));
        assert!(matches!(
            r.get("a/b", &GetParams::default()),
            Err(Error::InvalidName(_))
        ));
        let m = Patch::Merge(serde_json::json!({}));
        assert!(matches!(
            r.patch("x", &PatchParams::default().force(), &m),
            Err(Error::Params(_))
        ));
    }
}
