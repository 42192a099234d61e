//! The etcd storage backend against a real etcd: the storage conformance suite (each case in a
//! fresh key prefix of one etcd), and what only etcd shows: the keys and JSON values that
//! `etcdctl` sees, compaction shared by several clients, and calls that fail fast with
//! `Unavailable` while etcd is stopped.

#![cfg(feature = "etcd")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reference_apiserver::storage::{Error, ListOptions, Storage, conformance};

#[path = "support/etcd.rs"]
mod etcd;

use etcd::EtcdProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_storage_conforms() {
    let Some(etcd) = EtcdProcess::start().await else {
        return;
    };
    let base = etcd.storage().await;
    let case = AtomicUsize::new(0);
    conformance::run_all(|| {
        let prefix = format!("/conformance-{}", case.fetch_add(1, Ordering::Relaxed));
        Arc::new(base.with_prefix(&prefix).expect("a valid prefix")) as Arc<dyn Storage>
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_values_are_what_etcdctl_shows() {
    let Some(etcd) = EtcdProcess::start().await else {
        return;
    };
    let store = etcd.storage().await;
    let pod = r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web","namespace":"default"}}"#;
    let kv = store
        .create("/registry/pods/default/web", pod.into())
        .await
        .unwrap();
    store
        .create("/registry/pods/other/db", "{}".into())
        .await
        .unwrap();
    let shown = etcd.etcdctl(&["get", "--prefix", "/registry/pods/default/"]);
    assert_eq!(shown, format!("/registry/pods/default/web\n{pod}\n"));
    // resourceVersion is etcd's mod revision.
    let json = etcd.etcdctl(&["get", "/registry/pods/default/web", "-w", "json"]);
    assert!(
        json.contains(&format!("\"mod_revision\":{}", kv.mod_revision)),
        "{json}"
    );

    // With a prefix, the same key lives under it and nothing leaks outside.
    let prefixed = store.with_prefix("/cluster-b").unwrap();
    prefixed
        .create("/registry/pods/default/web", "{}".into())
        .await
        .unwrap();
    let keys = etcd.etcdctl(&["get", "--prefix", "--keys-only", "/cluster-b/"]);
    assert_eq!(keys.trim(), "/cluster-b/registry/pods/default/web");
    let listed = prefixed
        .list("/registry/pods/", &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].key, "/registry/pods/default/web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_larger_than_a_page_are_read_at_one_revision() {
    let Some(etcd) = EtcdProcess::start().await else {
        return;
    };
    let store = etcd.storage().await;
    let small = reference_apiserver::storage::etcd::EtcdStorage::connect(
        reference_apiserver::storage::etcd::EtcdConfig {
            page_size: 7,
            ..etcd.config()
        },
    )
    .await
    .unwrap();
    for i in 0..50 {
        store
            .create(&format!("/registry/things/t{i:03}"), "{}".into())
            .await
            .unwrap();
    }
    let at = store.revision().await.unwrap();
    store.delete("/registry/things/t000", None).await.unwrap();
    store.create("/registry/things/t999", "{}".into()).await.unwrap();
    let all = small
        .list(
            "/registry/things/",
            &ListOptions {
                revision: Some(at),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((all.items.len(), all.revision, all.remaining), (50, at, 0));
    assert_eq!(all.items[0].key, "/registry/things/t000");
    let page = small
        .list(
            "/registry/things/",
            &ListOptions {
                limit: Some(20),
                ..ListOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.remaining), (20, 30));
    assert_eq!(page.items[0].key, "/registry/things/t001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_compacting_one_etcd_agree() {
    let Some(etcd) = EtcdProcess::start().await else {
        return;
    };
    let (a, b) = (etcd.storage().await, etcd.storage().await);
    let first = a.create("/registry/c/x", "1".into()).await.unwrap();
    let second = a
        .update("/registry/c/x", "2".into(), first.mod_revision)
        .await
        .unwrap();
    a.compact(second.mod_revision).await.unwrap();
    // The second apiserver's compactor reaches the same point later: done, not an error.
    assert!(matches!(
        b.compact(second.mod_revision).await,
        Ok(()) | Err(Error::Expired { .. })
    ));
    assert!(matches!(
        b.watch("/registry/c/", first.mod_revision).await,
        Err(Error::Expired { compacted, .. }) if compacted == second.mod_revision
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_fast_while_etcd_is_stopped_and_work_again_after() {
    let Some(mut etcd) = EtcdProcess::start().await else {
        return;
    };
    let store = etcd.storage_with(Duration::from_secs(1)).await;
    let kv = store.create("/registry/f/a", "{}".into()).await.unwrap();
    let mut watch = store.watch("/registry/f/", kv.mod_revision).await.unwrap();

    // Paused: connections stay open and nothing answers; the timeout bounds every call.
    etcd.pause();
    let started = Instant::now();
    let result = store.create("/registry/f/b", "{}".into()).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(store.revision().await, Err(Error::Unavailable(_))));
    // The keepalive gives up on the silent connection: the watch ends with an error.
    let ended = tokio::time::timeout(Duration::from_secs(15), watch.next())
        .await
        .expect("the watch noticed that etcd stopped answering");
    assert!(matches!(ended, Some(Err(Error::Unavailable(_)))), "{ended:?}");

    // Killed: the connection is refused, calls fail at once.
    etcd.kill();
    let started = Instant::now();
    assert!(matches!(
        store.get("/registry/f/a").await,
        Err(Error::Unavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(3));

    // Back: the same client works again, nothing acknowledged was lost.
    etcd.restart().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match store.get("/registry/f/a").await {
            Ok(found) => {
                assert_eq!(found, Some(kv.clone()));
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "etcd did not come back: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut watch = store.watch("/registry/f/", kv.mod_revision).await.unwrap();
    let c = store.create("/registry/f/c", "{}".into()).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The create that timed out while etcd was paused may or may not have been applied.
    if next.kv.key == "/registry/f/b" {
        let next = watch.next().await.unwrap().unwrap();
        assert_eq!(next.kv, c);
    } else {
        assert_eq!(next.kv, c);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_etcd_with_a_client_certificate() {
    let Some(etcd) = EtcdProcess::start_tls().await else {
        return;
    };
    let store = etcd.storage().await;
    let kv = store
        .create("/registry/secrets/default/s", "{}".into())
        .await
        .unwrap();
    assert_eq!(store.get(&kv.key).await.unwrap(), Some(kv));
    assert_eq!(
        etcd.etcdctl(&["get", "--prefix", "--keys-only", "/registry/"])
            .trim(),
        "/registry/secrets/default/s"
    );
    // Without the client certificate etcd refuses the connection.
    let mut config = etcd.config();
    config.request_timeout = Duration::from_secs(2);
    if let Some(tls) = &mut config.tls {
        tls.cert_file = None;
        tls.key_file = None;
    }
    let anonymous = reference_apiserver::storage::etcd::EtcdStorage::connect(config)
        .await
        .unwrap();
    assert!(anonymous.revision().await.is_err());
}
