//! No lost updates: optimistic concurrency holds under contention.
//!
//! 50 clients (each its own kube-client `Client`, so its own connections) increment one counter
//! kept in a ConfigMap's data by read-modify-write: get, add one, write back carrying the
//! resourceVersion that was read, and on 409 Conflict start over. If the server ever accepted
//! a write based on a stale read, two writes would store the same count and the final count
//! would fall short of the number of successful writes. Checked on memory and embedded storage,
//! with full replaces (PUT) and with merge patches whose `metadata.resourceVersion` is the
//! precondition.
//!
//! Beyond the final count, every successful write must have stored a distinct count, exactly
//! 1..=50*N, and the resourceVersions of the writes must increase with the count (the writes
//! are serialised in resourceVersion order).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::Api;
use kube_core::params::{PatchParams, PostParams};
use kube_core::{Patch, ResourceExt};
use reference_apiserver::server::ServerConfig;
use reference_apiserver::storage::{self, StorageKind};
use reference_apiserver::testing::TestServer;
use serde_json::json;
use support::rv_of;

const CLIENTS: usize = 50;
/// Increments per client.
const INCREMENTS: usize = 4;
/// Attempts one increment may take before the test gives up (a livelock would be a bug too).
const MAX_ATTEMPTS: usize = 5_000;
const NAME: &str = "counter";

#[derive(Debug, Clone, Copy)]
enum Write {
    /// `PUT` of the whole object with the resourceVersion read.
    Replace,
    /// `PATCH` (merge) with `metadata.resourceVersion` as precondition.
    MergePatch,
}

fn count_of(cm: &ConfigMap) -> u64 {
    cm.data
        .as_ref()
        .and_then(|d| d.get("count"))
        .expect("a count")
        .parse()
        .expect("a number")
}

/// One client's increments: the (count, resourceVersion) of each successful write, and how many
/// conflicts it met.
async fn increment(api: Api<ConfigMap>, how: Write) -> (Vec<(u64, u64)>, usize) {
    let mut done = Vec::with_capacity(INCREMENTS);
    let mut conflicts = 0;
    for _ in 0..INCREMENTS {
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(
                attempts <= MAX_ATTEMPTS,
                "no increment succeeded in {MAX_ATTEMPTS} attempts"
            );
            let current = api.get(NAME).await.expect("get the counter");
            let rv = current.resource_version().expect("a resourceVersion");
            let next = count_of(&current) + 1;
            let result = match how {
                Write::Replace => {
                    let mut new = current.clone();
                    new.data
                        .get_or_insert_default()
                        .insert("count".into(), next.to_string());
                    api.replace(NAME, &PostParams::default(), &new).await
                }
                Write::MergePatch => {
                    let patch =
                        json!({"metadata": {"resourceVersion": rv}, "data": {"count": next.to_string()}});
                    api.patch(NAME, &PatchParams::default(), &Patch::Merge(patch))
                        .await
                }
            };
            match result {
                Ok(written) => {
                    assert_eq!(count_of(&written), next, "the answer shows what was written");
                    let written_rv = rv_of(written.resource_version().as_deref());
                    assert!(
                        written_rv > rv_of(Some(&rv)),
                        "a write moves the resourceVersion forward"
                    );
                    done.push((next, written_rv));
                    break;
                }
                Err(e) if e.is_conflict() => conflicts += 1,
                Err(e) => panic!("increment to {next}: {e}"),
            }
        }
    }
    (done, conflicts)
}

async fn no_lost_updates(server: TestServer, how: Write) {
    let started = Instant::now();
    let admin: Api<ConfigMap> = Api::namespaced(support::client(&server.url()), "default");
    let counter: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": NAME}, "data": {"count": "0"}})).unwrap();
    admin.create(&PostParams::default(), &counter).await.unwrap();

    // All clients start together.
    let barrier = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let api: Api<ConfigMap> = Api::namespaced(support::client(&server.url()), "default");
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                increment(api, how).await
            })
        })
        .collect();
    let mut writes = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let (done, c) = tokio::time::timeout(Duration::from_secs(50), task)
            .await
            .expect("the clients finish in time")
            .expect("client task");
        assert_eq!(done.len(), INCREMENTS);
        writes.extend(done);
        conflicts += c;
    }
    let successful = writes.len() as u64;
    assert_eq!(successful, (CLIENTS * INCREMENTS) as u64);
    let last = admin.get(NAME).await.unwrap();
    assert_eq!(
        count_of(&last),
        successful,
        "{successful} successful increments, but the counter is {}",
        count_of(&last)
    );

    // Each successful write stored its own count, 1..=successful, in resourceVersion order.
    writes.sort();
    let counts: Vec<u64> = writes.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        counts,
        (1..=successful).collect::<Vec<_>>(),
        "two writes stored the same count: an update was lost"
    );
    assert!(
        writes.windows(2).all(|w| w[0].1 < w[1].1),
        "resourceVersions do not follow the counts: {writes:?}"
    );
    assert_eq!(
        rv_of(last.resource_version().as_deref()),
        writes.last().unwrap().1
    );
    eprintln!(
        "{how:?}: {successful} increments, {conflicts} conflicts retried, {:?}",
        started.elapsed()
    );
}

async fn memory_server() -> TestServer {
    TestServer::start().await
}

async fn embedded_server(dir: &std::path::Path) -> TestServer {
    let storage = storage::open(StorageKind::Embedded, dir).expect("embedded storage opens");
    TestServer::start_with(storage, ServerConfig::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_with_resource_version_loses_no_update_on_memory_storage() {
    no_lost_updates(memory_server().await, Write::Replace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_with_resource_version_loses_no_update_on_embedded_storage() {
    let dir = tempfile::tempdir().unwrap();
    no_lost_updates(embedded_server(dir.path()).await, Write::Replace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_patch_with_resource_version_loses_no_update_on_memory_storage() {
    no_lost_updates(memory_server().await, Write::MergePatch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_patch_with_resource_version_loses_no_update_on_embedded_storage() {
    let dir = tempfile::tempdir().unwrap();
    no_lost_updates(embedded_server(dir.path()).await, Write::MergePatch).await;
}
