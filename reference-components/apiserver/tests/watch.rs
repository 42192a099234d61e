//! Watches end to end: resourceVersion semantics, bookmarks, initial events, selectors.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::{Api, Client, Config};
use kube_core::params::{DeleteParams, ListParams, PatchParams, PostParams, WatchParams};
use kube_core::{Patch, ResourceExt, WatchEvent};
use reference_apiserver::testing::TestServer;
use serde_json::json;

async fn setup() -> (TestServer, Api<ConfigMap>) {
    setup_with(reference_apiserver::server::ServerConfig::default()).await
}

async fn setup_with(config: reference_apiserver::server::ServerConfig) -> (TestServer, Api<ConfigMap>) {
    let storage = reference_apiserver::storage::open(
        reference_apiserver::storage::StorageKind::Memory,
        std::path::Path::new(""),
    )
    .unwrap();
    let server = TestServer::start_with(storage, config).await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    let client = Client::new(config).unwrap();
    (server, Api::namespaced(client, "default"))
}

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

fn summary(ev: &WatchEvent<ConfigMap>) -> String {
    match ev {
        WatchEvent::Added(o) => format!("ADDED {}", o.name_any()),
        WatchEvent::Modified(o) => format!("MODIFIED {}", o.name_any()),
        WatchEvent::Deleted(o) => format!("DELETED {}", o.name_any()),
        WatchEvent::Bookmark(b) => format!("BOOKMARK {}", b.is_initial_events_end()),
        WatchEvent::Error(s) => format!("ERROR {}", s.code),
    }
}

async fn next_n<S>(stream: &mut S, n: usize) -> Vec<String>
where
    S: futures::Stream<Item = kube_client::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    let mut out = Vec::new();
    while out.len() < n {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("event in time");
        let ev = ev.expect("stream open").expect("event decodes");
        if matches!(&ev, WatchEvent::Bookmark(b) if !b.is_initial_events_end()) {
            continue;
        }
        out.push(summary(&ev));
    }
    out
}

#[tokio::test]
async fn watch_from_a_list_sees_every_change_in_order() {
    let (_s, cms) = setup().await;
    cms.create(&PostParams::default(), &cm("before", json!({})))
        .await
        .unwrap();
    let list = cms.list(&ListParams::default()).await.unwrap();
    let rv = list.resource_version().unwrap().to_string();
    let mut w = cms.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    cms.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(next_n(&mut w, 3).await, ["ADDED a", "MODIFIED a", "DELETED a"]);

    // Resuming from the first event's revision replays what followed.
    let mut again = cms.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    assert_eq!(
        next_n(&mut again, 3).await,
        ["ADDED a", "MODIFIED a", "DELETED a"]
    );

    // Unset and "0": the current state first.
    let mut from_zero = cms.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    assert_eq!(next_n(&mut from_zero, 1).await, ["ADDED before"]);
}

#[tokio::test]
async fn send_initial_events_ends_with_a_marked_bookmark() {
    let (_s, cms) = setup().await;
    for n in ["x", "y"] {
        cms.create(&PostParams::default(), &cm(n, json!({})))
            .await
            .unwrap();
    }
    let mut w = cms
        .watch(&WatchParams::default().initial_events(), "")
        .await
        .unwrap()
        .boxed();
    let mut got = next_n(&mut w, 3).await;
    assert_eq!(got.pop().unwrap(), "BOOKMARK true");
    got.sort();
    assert_eq!(got, ["ADDED x", "ADDED y"]);
    cms.create(&PostParams::default(), &cm("z", json!({})))
        .await
        .unwrap();
    assert_eq!(next_n(&mut w, 1).await, ["ADDED z"]);
}

#[tokio::test]
async fn selectors_turn_transitions_into_adds_and_deletes() {
    let (_s, cms) = setup().await;
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .resource_version()
        .unwrap()
        .to_string();
    let mut w = cms
        .watch(&WatchParams::default().labels("app=web"), &rv)
        .await
        .unwrap()
        .boxed();
    cms.create(&PostParams::default(), &cm("m", json!({"app": "db"})))
        .await
        .unwrap();
    cms.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
    )
    .await
    .unwrap();
    cms.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "b"}})),
    )
    .await
    .unwrap();
    cms.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
    )
    .await
    .unwrap();
    cms.delete("m", &DeleteParams::default()).await.unwrap();
    assert_eq!(next_n(&mut w, 3).await, ["ADDED m", "MODIFIED m", "DELETED m"]);
}

#[tokio::test]
async fn bookmarks_and_timeouts() {
    let (_s, cms) = setup().await;
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .resource_version()
        .unwrap()
        .to_string();
    let w = cms.watch(&WatchParams::default().timeout(7), &rv).await.unwrap();
    let events: Vec<_> = tokio::time::timeout(Duration::from_secs(20), w.try_collect::<Vec<_>>())
        .await
        .unwrap()
        .unwrap();
    assert!(
        events.iter().any(|e| matches!(e, WatchEvent::Bookmark(_))),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_compacted_revision_is_gone() {
    let config = reference_apiserver::server::ServerConfig {
        watch_history: 2,
        ..Default::default()
    };
    let (s, cms) = setup_with(config).await;
    for i in 0..5 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let rv = s.state().storage.revision().await.unwrap();
    s.state().storage.compact(rv).await.unwrap();
    // Older than the watch cache's history and compacted in storage: an ERROR event with 410.
    let mut w = cms.watch(&WatchParams::default(), "1").await.unwrap().boxed();
    let ev = tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match ev {
        WatchEvent::Error(status) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
        }
        other => panic!("expected 410, got {}", summary(&other)),
    }
    let err = cms
        .list(&ListParams::default().match_exact("2"))
        .await
        .unwrap_err();
    assert!(err.is_gone(), "{err}");
}
