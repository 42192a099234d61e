//! Test support: the in-process reference apiserver ([`TestServer`]) behind a fault-injecting
//! proxy ([`FaultProxy`]), and helpers for the tests that use them.
//!
//! Clients made here talk to the proxy, which forwards everything to the real apiserver and
//! records what it saw; a test turns the proxy's knobs only for what a healthy apiserver never
//! does (429/503, dropped connections, awkward chunking, a wrong token).
// Each test crate uses part of this module.
#![allow(dead_code)]

pub mod proxy;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_client::{Client, Config};
use reference_apiserver::server::ServerConfig;
use reference_apiserver::storage::{self, StorageKind};
use reference_apiserver::testing::TestServer;

use proxy::FaultProxy;

/// How long any single wait in a test may take before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The reference apiserver and the proxy in front of it. Both stop with the test.
pub struct Server {
    /// The apiserver, for white-box checks of what it stored.
    pub api: TestServer,
    /// The proxy every client made here goes through.
    pub proxy: FaultProxy,
}

impl Server {
    /// Start an apiserver on memory storage, and a proxy in front of it.
    pub async fn start() -> Self {
        Self::start_with(ServerConfig::default()).await
    }

    /// Start with server options (e.g. a short watch history).
    pub async fn start_with(config: ServerConfig) -> Self {
        let storage = storage::open(StorageKind::Memory, Path::new("")).expect("memory storage");
        let api = TestServer::start_with(storage, config).await;
        let proxy = FaultProxy::start(&api.url()).await;
        Self { api, proxy }
    }

    /// A default configuration for the proxy (plain HTTP, no credentials).
    pub fn config(&self) -> Config {
        Config::new(self.proxy.url().parse().expect("valid URL"))
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

    /// Whether storage holds `key` (`/registry/configmaps/default/cfg`), read without HTTP.
    pub async fn stored(&self, key: &str) -> Option<u64> {
        let kv = self.api.state().storage.get(key).await.expect("storage reads");
        kv.map(|kv| kv.mod_revision)
    }

    /// Compact storage up to its latest revision: older revisions (and continue tokens and
    /// watches from them, once out of the watch cache's history) are gone.
    pub async fn compact(&self) {
        let storage = &self.api.state().storage;
        let rv = storage.revision().await.expect("revision");
        storage.compact(rv).await.expect("compaction");
    }
}

/// Await `fut`, failing the test if it takes longer than [`TIMEOUT`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {TIMEOUT:?}: {what}"))
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
