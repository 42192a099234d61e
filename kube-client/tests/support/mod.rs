//! Test support: a small fake apiserver on 127.0.0.1 and helpers for the tests that use it.
//!
//! [`FakeServer`] is an axum app over a real in-memory store of JSON objects (pods,
//! configmaps, namespaces, deployments, and any resource a test adds): one resourceVersion
//! counter, compare-and-swap writes, Kubernetes-shaped `Status` errors, paged lists with label
//! and field selectors, the three patch types, delete and deletecollection, the `status`
//! subresource, discovery documents, and chunked watches. Knobs let a test inject failures
//! ([`Fault`]), require a bearer token, cut watch output into awkward chunks, and close, break
//! or expire watches. It stands in for the in-process reference apiserver until that exists.
//!
//! Request bodies up to 64 MiB are accepted (kube-apiserver's limit is 3 MiB) so that tests
//! can push very large objects through watches.
// Each test crate uses part of this module; the fake's errors are `Status` values, as on the wire.
#![allow(dead_code, clippy::result_large_err)]

mod fake_http;
mod fake_resources;
mod fake_store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt;
use http::Method;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_client::{Client, Config};
use serde_json::Value;

pub use fake_http::{Chunking, Fault, Seen};
pub use fake_resources::ResourceDef;

use fake_http::{Shared, lock};

/// How long any single wait in a test may take before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A running fake apiserver. It stops with the test's runtime.
pub struct FakeServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeServer {
    /// Start on a random loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared::new(addr));
        let app = Router::new()
            .fallback(fake_http::handle)
            .layer(DefaultBodyLimit::max(64 << 20))
            .with_state(shared.clone());
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake apiserver") });
        Self { addr, shared }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A default configuration for this server (plain HTTP, no credentials).
    pub fn config(&self) -> Config {
        Config::new(self.url().parse().expect("valid URL"))
    }

    /// A client with the default configuration.
    pub fn client(&self) -> Client {
        Client::new(self.config()).expect("client")
    }

    /// A client without client-side rate limiting, for tests that send many requests.
    pub fn unthrottled_client(&self) -> Client {
        let mut config = self.config();
        config.qps = None;
        Client::new(config).expect("client")
    }

    /// Answer matching requests with a failure instead (first matching fault wins).
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
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

    /// End every open watch cleanly.
    pub fn close_watches(&self) {
        lock(&self.shared.store).close_watches();
    }

    /// Break every open watch connection in the middle of an event.
    pub fn break_watches(&self) {
        lock(&self.shared.store).break_watches();
    }

    /// Send a BOOKMARK to every watch that allows them.
    pub fn send_bookmarks(&self) {
        lock(&self.shared.store).send_bookmarks();
    }

    /// Forget history: older watch resourceVersions and continue tokens get 410 Expired.
    pub fn compact(&self) {
        lock(&self.shared.store).compact();
    }

    /// Open watches.
    pub fn watcher_count(&self) -> usize {
        lock(&self.shared.store).watcher_count()
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.store).resource_version()
    }

    /// Serve another resource (possibly in a new group or version), as installing a CRD would.
    pub fn add_resource(&self, def: ResourceDef) {
        lock(&self.shared.store).defs.push(def);
    }

    /// An object as stored, read without going through HTTP.
    pub fn object(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let store = lock(&self.shared.store);
        let def = store.def(group, version, plural)?;
        store.object(&def, namespace, name)
    }
}

/// Await `fut`, failing the test if it takes longer than [`TIMEOUT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {TIMEOUT:?}: {what}"))
}

/// Wait until `condition` holds, failing the test after [`TIMEOUT`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    within(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// A pod with one container.
pub fn pod(name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("app:1".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

/// A configmap with `data`.
pub fn configmap(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..ConfigMap::default()
    }
}

/// A namespace.
pub fn namespace(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// Set a label.
pub fn labelled<K: kube_core::Resource>(mut object: K, key: &str, value: &str) -> K {
    object
        .meta_mut()
        .labels
        .get_or_insert_with(Default::default)
        .insert(key.into(), value.into());
    object
}
