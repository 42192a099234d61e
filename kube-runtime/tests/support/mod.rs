//! Shared helpers for kube-runtime's integration tests: an in-process apiserver with a client
//! for it, and namespaces.
#![allow(dead_code)]

/// The fault-injecting proxy of kube-client's tests (dropped watch connections, 429/503...),
/// shared rather than copied.
#[path = "../../../kube-client/tests/support/proxy.rs"]
pub mod proxy;

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube_client::{Api, Client, Config};
use kube_core::params::PostParams;
use reference_apiserver::testing::TestServer;

/// A running in-process apiserver and a client for it. The server stops when this is dropped.
pub struct Env {
    /// The server (keep it alive for as long as the client is used).
    pub server: TestServer,
    /// A client for it, without client-side rate limiting.
    pub client: Client,
}

/// Start an apiserver on memory storage and build a client for it.
pub async fn start() -> Env {
    let server = TestServer::start().await;
    let client = client(&server.url());
    Env { server, client }
}

/// An apiserver with the given options behind a fault-injecting proxy, and a client that goes
/// through the proxy.
pub struct Proxied {
    /// The server.
    pub server: TestServer,
    /// The proxy in front of it.
    pub proxy: proxy::FaultProxy,
    /// A client for the proxy, without client-side rate limiting.
    pub client: Client,
}

/// Start an apiserver with `config` on memory storage, a proxy in front of it, and a client.
pub async fn start_proxied(config: reference_apiserver::server::ServerConfig) -> Proxied {
    let storage = reference_apiserver::storage::open(
        reference_apiserver::storage::StorageKind::Memory,
        std::path::Path::new(""),
    )
    .expect("memory storage");
    let server = TestServer::start_with(storage, config).await;
    let proxy = proxy::FaultProxy::start(&server.url()).await;
    let client = client(&proxy.url());
    Proxied {
        server,
        proxy,
        client,
    }
}

/// A client for the apiserver at `url`, without client-side rate limiting.
pub fn client(url: &str) -> Client {
    let mut config = Config::new(url.parse().expect("valid url"));
    config.qps = None;
    Client::new(config).expect("client")
}

/// A ConfigMap named `name` with these labels and the data `{k: v}`.
pub fn configmap(name: &str, labels: &[(&str, &str)]) -> k8s_openapi::api::core::v1::ConfigMap {
    let mut cm = k8s_openapi::api::core::v1::ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    cm.data = Some([("k".to_string(), "v".to_string())].into());
    cm
}

/// Create the namespace `name`.
pub async fn create_namespace(client: &Client, name: &str) {
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.into());
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
}

/// Poll `cond` every 20ms until it holds, or panic after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
