//! Prometheus metrics, served at `/metrics`: requests by verb, resource and code with latency;
//! open watches by resource; storage latency by operation.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Instant;

use bytes::Bytes;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::registry::ResourceDef;
use crate::storage::{self, KeyValue, ListOptions, ListResult, Revision, Storage, WatchStream};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    resource: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    verb: String,
    resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The apiserver's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    watchers: Family<ResourceLabels, Gauge<i64, AtomicI64>>,
    storage: Family<OperationLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let watchers = Family::<ResourceLabels, Gauge<i64, AtomicI64>>::default();
        let storage =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "apiserver_request",
            "Requests by verb, resource and HTTP code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Request latency by verb and resource (watches: until the stream starts)",
            latency.clone(),
        );
        registry.register(
            "apiserver_registered_watchers",
            "Open watches by resource",
            watchers.clone(),
        );
        registry.register(
            "apiserver_storage_duration_seconds",
            "Storage operation latency",
            storage.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            watchers,
            storage,
        }
    }
}

/// Decrements the open-watch gauge when dropped.
#[derive(Debug)]
pub struct WatchGuard(Gauge<i64, AtomicI64>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// Record one request.
    pub fn request(&self, verb: &str, resource: &str, code: u16, started: Instant) {
        self.requests
            .get_or_create(&RequestLabels {
                verb: verb.into(),
                resource: resource.into(),
                code: code.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                verb: verb.into(),
                resource: resource.into(),
            })
            .observe(started.elapsed().as_secs_f64());
    }

    /// Count an open watch until the guard drops.
    pub fn watchers(&self, def: &ResourceDef) -> WatchGuard {
        let g = self
            .watchers
            .get_or_create(&ResourceLabels {
                resource: def.qualified_plural(),
            })
            .clone();
        g.inc();
        WatchGuard(g)
    }

    /// The text exposition format.
    pub fn encode(&self) -> Bytes {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        Bytes::from(out)
    }

    fn observe_storage(&self, op: &str, started: Instant) {
        self.storage
            .get_or_create(&OperationLabels { operation: op.into() })
            .observe(started.elapsed().as_secs_f64());
    }
}

/// A storage backend that records the latency of every operation.
pub struct InstrumentedStorage {
    inner: Arc<dyn Storage>,
    metrics: Metrics,
}

impl InstrumentedStorage {
    /// Wrap `inner`.
    pub fn new(inner: Arc<dyn Storage>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait::async_trait]
impl Storage for InstrumentedStorage {
    async fn get(&self, key: &str) -> storage::Result<Option<KeyValue>> {
        let t = Instant::now();
        let r = self.inner.get(key).await;
        self.metrics.observe_storage("get", t);
        r
    }
    async fn list(&self, prefix: &str, opts: &ListOptions) -> storage::Result<ListResult> {
        let t = Instant::now();
        let r = self.inner.list(prefix, opts).await;
        self.metrics.observe_storage("list", t);
        r
    }
    async fn create(&self, key: &str, value: Bytes) -> storage::Result<KeyValue> {
        let t = Instant::now();
        let r = self.inner.create(key, value).await;
        self.metrics.observe_storage("create", t);
        r
    }
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> storage::Result<KeyValue> {
        let t = Instant::now();
        let r = self.inner.update(key, value, expected).await;
        self.metrics.observe_storage("update", t);
        r
    }
    async fn delete(&self, key: &str, expected: Option<Revision>) -> storage::Result<KeyValue> {
        let t = Instant::now();
        let r = self.inner.delete(key, expected).await;
        self.metrics.observe_storage("delete", t);
        r
    }
    async fn watch(&self, prefix: &str, from: Revision) -> storage::Result<WatchStream> {
        self.inner.watch(prefix, from).await
    }
    async fn revision(&self) -> storage::Result<Revision> {
        self.inner.revision().await
    }
    async fn compact(&self, revision: Revision) -> storage::Result<()> {
        let t = Instant::now();
        let r = self.inner.compact(revision).await;
        self.metrics.observe_storage("compact", t);
        r
    }
    fn health_check_name(&self) -> &'static str {
        self.inner.health_check_name()
    }
}
