//! `Api::watch` against the reference apiserver: every event type, how the stream ends, and,
//! through the fault-injecting proxy in `support`, events cut at awkward chunk boundaries, a
//! multi-megabyte event and a connection dropped mid-event.

mod support;

use std::fmt::Debug;
use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube_client::{Api, Error};
use kube_core::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, Resource, ResourceExt, WatchEvent, WatchParams,
};
use reference_apiserver::server::ServerConfig;
use serde::de::DeserializeOwned;
use serde_json::json;
use support::{Server, configmap, labelled, within};

type Events<K = ConfigMap> = Pin<Box<dyn Stream<Item = kube_client::Result<WatchEvent<K>>> + Send>>;

async fn watch<K>(api: &Api<K>, wp: &WatchParams, rv: &str) -> Events<K>
where
    K: Clone + DeserializeOwned + Debug + Send + 'static,
{
    Box::pin(
        within("watch request", api.watch(wp, rv))
            .await
            .expect("watch starts"),
    )
}

/// The next event, which must arrive and be `Ok`.
async fn next_any<K>(events: &mut Events<K>) -> WatchEvent<K> {
    within("next watch event", events.next())
        .await
        .expect("an event, not the end")
        .expect("an event, not an error")
}

/// The next event other than the progress bookmarks the server sends every few seconds.
async fn next<K>(events: &mut Events<K>) -> WatchEvent<K> {
    loop {
        match next_any(events).await {
            WatchEvent::Bookmark(b) if !b.is_initial_events_end() => continue,
            ev => return ev,
        }
    }
}

/// `TYPE name` of an event (`BOOKMARK rv` for bookmarks).
fn describe<K: Resource>(ev: &WatchEvent<K>) -> String {
    match ev {
        WatchEvent::Bookmark(b) => format!("BOOKMARK {}", b.metadata.resource_version),
        WatchEvent::Error(s) => format!("ERROR {}", s.code),
        ev => format!("{} {}", ev.type_name(), ev.object().unwrap().name_any()),
    }
}

fn rv_of(ev: &WatchEvent<ConfigMap>) -> u64 {
    ev.object().unwrap().resource_version().unwrap().parse().unwrap()
}

fn pp() -> PostParams {
    PostParams::default()
}

#[tokio::test]
async fn decodes_added_modified_deleted_and_bookmark() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    cms.create(&pp(), &configmap("a", &[("k", "1")])).await.unwrap();
    let list = cms.list(&ListParams::default()).await.unwrap();
    let mut events = watch(&cms, &WatchParams::default(), list.resource_version().unwrap()).await;

    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .unwrap();
    cms.create(&pp(), &configmap("b", &[])).await.unwrap();
    cms.delete("a", &DeleteParams::default()).await.unwrap();

    let modified = next(&mut events).await;
    assert_eq!(describe(&modified), "MODIFIED a");
    assert_eq!(modified.object().unwrap().data.as_ref().unwrap()["k"], "2");
    let added = next(&mut events).await;
    assert_eq!(describe(&added), "ADDED b");
    let deleted = next(&mut events).await;
    assert_eq!(describe(&deleted), "DELETED a");
    assert_eq!(
        deleted.object().unwrap().data.as_ref().unwrap()["k"],
        "2",
        "a DELETED event carries the last state"
    );
    let rvs = [rv_of(&modified), rv_of(&added), rv_of(&deleted)];
    assert!(
        rvs.is_sorted() && rvs[0] < rvs[2],
        "resource versions grow: {rvs:?}"
    );

    // With nothing else happening, the server reports progress with a bookmark (every 5s).
    let bookmark = next_any(&mut events).await;
    assert_eq!(describe(&bookmark), format!("BOOKMARK {}", rvs[2]));
    match bookmark {
        WatchEvent::Bookmark(b) => {
            assert_eq!((b.kind.as_str(), b.metadata.annotations.len()), ("ConfigMap", 0))
        }
        ev => panic!("{ev:?}"),
    }

    let query = server
        .proxy
        .requests()
        .into_iter()
        .find(|r| r.query.contains("watch=true"))
        .unwrap()
        .query;
    assert!(query.contains("allowWatchBookmarks=true"), "{query}");
}

#[tokio::test]
async fn watch_from_zero_starts_with_the_current_objects() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    for name in ["a", "b"] {
        cms.create(&pp(), &configmap(name, &[])).await.unwrap();
    }
    let mut events = watch(&cms, &WatchParams::default(), "0").await;
    assert_eq!(describe(&next(&mut events).await), "ADDED a");
    assert_eq!(describe(&next(&mut events).await), "ADDED b");

    let mut events = watch(&cms, &WatchParams::default().initial_events(), "").await;
    assert_eq!(describe(&next(&mut events).await), "ADDED a");
    assert_eq!(describe(&next(&mut events).await), "ADDED b");
    match next(&mut events).await {
        WatchEvent::Bookmark(b) => assert!(b.is_initial_events_end(), "{b:?}"),
        ev => panic!("expected the end-of-initial-events bookmark, got {ev:?}"),
    }
    cms.create(&pp(), &configmap("c", &[])).await.unwrap();
    assert_eq!(describe(&next(&mut events).await), "ADDED c", "then the changes");
}

#[tokio::test]
async fn a_compacted_resource_version_gives_an_expired_error_event() {
    // A watch cache holding one event per resource, so that older revisions come from storage.
    let server = Server::start_with(ServerConfig {
        watch_history: 1,
        ..ServerConfig::default()
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let old = cms
        .create(&pp(), &configmap("a", &[]))
        .await
        .unwrap()
        .resource_version()
        .unwrap();
    for v in ["1", "2"] {
        cms.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": v}})),
        )
        .await
        .unwrap();
    }
    server.compact().await;

    let mut events = watch(&cms, &WatchParams::default(), &old).await;
    match next(&mut events).await {
        WatchEvent::Error(s) => {
            assert!(s.is_gone(), "{s:?}");
            assert_eq!((s.code, s.reason.as_str()), (410, "Expired"));
            assert!(
                s.message
                    .starts_with(&format!("too old resource version: {old} (")),
                "{}",
                s.message
            );
        }
        ev => panic!("expected an ERROR event, got {ev:?}"),
    }
    assert!(
        within("end of stream", events.next()).await.is_none(),
        "the server ends the watch after the error"
    );

    // A watch the server refuses outright is an error of the call itself.
    let err = cms
        .watch(&WatchParams::default(), "not-a-number")
        .await
        .err()
        .expect("refused");
    assert_eq!(err.status().map(|s| s.code), Some(400), "{err:?}");
}

#[tokio::test]
async fn events_split_at_1_and_7_byte_chunk_boundaries() {
    for (size, delay) in [(1, None), (7, Some(Duration::from_micros(200)))] {
        let server = Server::start().await;
        server.proxy.chunk_watches(size, delay);
        let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
        // Multi-byte UTF-8 so that chunk boundaries also fall inside characters.
        let data = [("greeting", "grüße, 世界 ✓"), ("empty", "")];
        cms.create(&pp(), &configmap("a", &data)).await.unwrap();
        let mut events = watch(&cms, &WatchParams::default(), "0").await;
        cms.create(&pp(), &configmap("b", &data)).await.unwrap();
        cms.patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"empty": "now ☃"}})),
        )
        .await
        .unwrap();
        cms.delete("a", &DeleteParams::default()).await.unwrap();

        let mut seen = Vec::new();
        for _ in 0..4 {
            let ev = next(&mut events).await;
            assert_eq!(
                ev.object().unwrap().data.as_ref().unwrap()["greeting"],
                "grüße, 世界 ✓",
                "chunk size {size}"
            );
            seen.push(describe(&ev));
        }
        assert_eq!(
            seen,
            ["ADDED a", "ADDED b", "MODIFIED b", "DELETED a"],
            "chunk size {size}"
        );
    }
}

/// A controller revision carrying `data`.
fn revision(name: &str, data: serde_json::Value) -> ControllerRevision {
    let mut rev = ControllerRevision {
        data: Some(RawExtension(data)),
        revision: 1,
        ..ControllerRevision::default()
    };
    rev.metadata.name = Some(name.into());
    rev
}

#[tokio::test]
async fn a_2_9_mb_event_arrives_whole() {
    // The apiserver takes request bodies up to 3 MiB, and limits ConfigMap data to 1 MiB; a
    // ControllerRevision's data has no limit of its own.
    let server = Server::start().await;
    server.proxy.chunk_watches(65_537, None);
    let revs: Api<ControllerRevision> = Api::namespaced(server.unthrottled_client(), "default");
    let list = revs.list(&ListParams::default()).await.unwrap();
    let mut events = watch(&revs, &WatchParams::default(), list.resource_version().unwrap()).await;

    let payload = "x".repeat(2_900_000);
    revs.create(&pp(), &revision("big", json!({"blob": payload})))
        .await
        .unwrap();
    revs.create(&pp(), &revision("small", json!({}))).await.unwrap();

    let big = next(&mut events).await;
    assert_eq!(describe(&big), "ADDED big");
    let data = &big.object().unwrap().data.as_ref().unwrap().0;
    assert_eq!(data["blob"].as_str().map(str::len), Some(payload.len()));
    assert_eq!(
        describe(&next(&mut events).await),
        "ADDED small",
        "the event after it is intact"
    );
}

#[tokio::test]
async fn the_stream_ends_cleanly_when_the_server_ends_the_watch() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    cms.create(&pp(), &configmap("a", &[])).await.unwrap();

    // The server's own timeout (timeoutSeconds) ends the response without an error.
    let mut events = watch(&cms, &WatchParams::default().timeout(1), "0").await;
    assert_eq!(describe(&next(&mut events).await), "ADDED a");
    assert!(within("end of stream", events.next()).await.is_none());
    assert!(
        server
            .proxy
            .requests()
            .iter()
            .any(|r| r.query.contains("timeoutSeconds=1"))
    );
}

#[tokio::test]
async fn a_connection_dropped_mid_event_is_an_error() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let mut events = watch(&cms, &WatchParams::default(), "0").await;
    cms.create(&pp(), &configmap("a", &[])).await.unwrap();
    assert_eq!(describe(&next(&mut events).await), "ADDED a");

    // The proxy forwards half of the next event, then drops the connection.
    server.proxy.break_watches();
    cms.create(&pp(), &configmap("b", &[])).await.unwrap();
    let err = within("the error", events.next())
        .await
        .expect("an error, not the end")
        .expect_err("an error");
    assert!(matches!(err, Error::Stream { .. }), "{err:?}");
    assert!(
        within("end of stream", events.next()).await.is_none(),
        "nothing after the error"
    );
}

#[tokio::test]
async fn a_label_selector_limits_what_the_watch_sees() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let mut events = watch(&cms, &WatchParams::default().labels("app=web"), "0").await;
    cms.create(&pp(), &configmap("other", &[])).await.unwrap();
    cms.create(&pp(), &labelled(configmap("web", &[]), "app", "web"))
        .await
        .unwrap();
    cms.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
    )
    .await
    .unwrap();

    assert_eq!(describe(&next(&mut events).await), "ADDED web");
    assert_eq!(
        describe(&next(&mut events).await),
        "DELETED web",
        "leaving the selection looks like a delete"
    );
    let query = server
        .proxy
        .requests()
        .into_iter()
        .find(|r| r.query.contains("watch=true"))
        .unwrap()
        .query;
    assert!(query.contains("labelSelector=app%3Dweb"), "{query}");
}
