//! Losing etcd under write load: two apiservers on one etcd while writers create ConfigMaps
//! through both and a watcher follows them. etcd is first paused (SIGSTOP: connections stay
//! open, nothing answers), then killed (SIGKILL: connections refused) and restarted on its data
//! directory. Requests during the outage must fail fast with 503/504 (never hang), `/readyz`
//! must report the failing `etcd` check, and afterwards the same apiserver instances (not
//! restarted) must serve again, with every acknowledged write stored and seen exactly once by
//! the watcher, which resumes from its last resourceVersion as client-go would.

#![cfg(feature = "etcd")]

mod support;

#[path = "support/etcd.rs"]
mod etcd;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use http::Request;
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::{Api, Client};
use kube_core::params::{ListParams, PostParams, WatchParams};
use kube_core::{ResourceExt, WatchEvent};
use parking_lot::Mutex;
use reference_apiserver::server::ServerConfig;
use reference_apiserver::testing::TestServer;
use serde_json::json;

use etcd::EtcdProcess;
use support::{client, eventually, rv_of};

/// The request timeout of the apiservers' etcd calls.
const ETCD_TIMEOUT: Duration = Duration::from_secs(1);
/// The slowest a failed request may be: the etcd timeout plus generous scheduling slack.
const FAIL_FAST: Duration = Duration::from_secs(4);

/// What the writers saw.
#[derive(Default)]
struct Record {
    /// Acknowledged creates: name → resourceVersion, and which writer.
    acked: HashMap<String, (u64, usize)>,
    /// Failed requests: HTTP code (0: no response) and how long they took.
    failed: Vec<(u16, Duration)>,
}

fn spawn_writer(
    api: Api<ConfigMap>,
    writer: usize,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let name = format!("w{writer}-{i}");
            i += 1;
            let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
            let started = Instant::now();
            match api.create(&PostParams::default(), &cm).await {
                Ok(cm) => {
                    let rv = rv_of(cm.resource_version().as_deref());
                    record.lock().acked.insert(name, (rv, writer));
                }
                Err(e) => {
                    let code = match &e {
                        kube_client::Error::Api(s) => s.code,
                        _ => 0,
                    };
                    record.lock().failed.push((code, started.elapsed()));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

/// Follows ConfigMaps from `rv`, re-watching from the last resourceVersion whenever a watch
/// ends or fails, as the SDK's watcher does. Records name → resourceVersion of every ADDED.
fn spawn_watcher(
    api: Api<ConfigMap>,
    mut rv: String,
    seen: Arc<Mutex<Vec<(String, u64)>>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let Ok(watch) = api.watch(&WatchParams::default().timeout(30), &rv).await else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let mut watch = watch.boxed();
            loop {
                let next = tokio::time::timeout(Duration::from_millis(500), watch.next()).await;
                match next {
                    Err(_) if stop.load(Ordering::Relaxed) => return,
                    Err(_) => continue,
                    Ok(Some(Ok(WatchEvent::Added(cm)))) => {
                        let at = rv_of(cm.resource_version().as_deref());
                        rv = at.to_string();
                        seen.lock().push((cm.name_any(), at));
                    }
                    Ok(Some(Ok(WatchEvent::Bookmark(b)))) => rv = b.metadata.resource_version,
                    Ok(Some(Ok(WatchEvent::Error(e)))) => {
                        assert_ne!(e.code, 410, "the watch lost its history: {e:?}");
                        break;
                    }
                    Ok(Some(Ok(_))) => {}
                    Ok(Some(Err(_)) | None) => break,
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

async fn readyz(client: &Client) -> (u16, String) {
    let req = Request::get("/readyz").body(Vec::new()).unwrap();
    match tokio::time::timeout(Duration::from_secs(5), client.send(req, false)).await {
        Ok(Ok(resp)) => {
            let code = resp.status().as_u16();
            (code, resp.text().await.unwrap_or_default())
        }
        Ok(Err(kube_client::Error::Api(s))) => (s.code, s.message.clone()),
        other => panic!("/readyz did not answer: {other:?}"),
    }
}

/// Waits until each writer has had `more` acknowledgements beyond what it has now.
async fn writes_flow(record: &Arc<Mutex<Record>>, more: usize, what: &str) {
    let count = |r: &Record, w| r.acked.values().filter(|(_, by)| *by == w).count();
    let before: Vec<usize> = (0..2).map(|w| count(&record.lock(), w)).collect();
    eventually(Duration::from_secs(30), what, || {
        let ok = (0..2).all(|w| count(&record.lock(), w) >= before[w] + more);
        async move { ok.then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiservers_ride_out_an_etcd_outage_without_losing_acknowledged_writes() {
    let Some(mut etcd) = EtcdProcess::start().await else {
        return;
    };
    let mut servers = Vec::new();
    for _ in 0..2 {
        let storage = Arc::new(etcd.storage_with(ETCD_TIMEOUT).await);
        servers.push(TestServer::start_with(storage, ServerConfig::default()).await);
    }
    let clients: Vec<Client> = servers.iter().map(|s| client(&s.url())).collect();
    let apis: Vec<Api<ConfigMap>> = clients
        .iter()
        .map(|c| Api::namespaced(c.clone(), "default"))
        .collect();
    let rv0 = apis[0].list(&ListParams::default()).await.unwrap();
    let rv0 = rv0.metadata.resource_version.unwrap();

    let record = Arc::new(Mutex::new(Record::default()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop_writers = Arc::new(AtomicBool::new(false));
    let stop_watcher = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| spawn_writer(apis[w].clone(), w, record.clone(), stop_writers.clone()))
        .collect();
    let watcher = spawn_watcher(apis[0].clone(), rv0, seen.clone(), stop_watcher.clone());
    writes_flow(&record, 10, "writes before the outage").await;

    // 1. etcd stops answering.
    etcd.pause();
    let failed_before = record.lock().failed.len();
    for c in &clients {
        eventually(Duration::from_secs(10), "/readyz to report etcd", || async {
            let (code, body) = readyz(c).await;
            (code == 500 && body.contains("[-]etcd failed")).then_some(())
        })
        .await;
    }
    eventually(Duration::from_secs(10), "failed writes while paused", || {
        let n = record.lock().failed.len();
        async move { (n >= failed_before + 4).then_some(()) }
    })
    .await;
    let started = Instant::now();
    let err = apis[1].get("w0-0").await.unwrap_err();
    assert!(
        matches!(&err, kube_client::Error::Api(s) if s.code == 503 || s.code == 504),
        "{err}"
    );
    assert!(
        started.elapsed() < FAIL_FAST,
        "a get took {:?}",
        started.elapsed()
    );
    // A consistent list asks etcd for its revision first: it fails as fast, with 503.
    let started = Instant::now();
    let err = apis[0].list(&ListParams::default()).await.unwrap_err();
    assert!(
        matches!(&err, kube_client::Error::Api(s) if s.code == 503 || s.code == 504),
        "{err}"
    );
    assert!(
        started.elapsed() < FAIL_FAST,
        "a list took {:?}",
        started.elapsed()
    );
    // A watch from a resourceVersion the cache has is served from the cache while the cache
    // still follows etcd, and refused with 503 once its storage watch has failed; never a hang.
    let rv = record.lock().acked.values().map(|(rv, _)| *rv).max().unwrap();
    let (params, rv) = (WatchParams::default().timeout(1), rv.to_string());
    let watch = tokio::time::timeout(FAIL_FAST, apis[0].watch(&params, &rv)).await;
    match watch {
        Ok(Ok(_)) => {}
        Ok(Err(kube_client::Error::Api(s))) if s.code == 503 => {}
        Ok(Err(e)) => panic!("a watch from {rv} while etcd is paused: {e}"),
        Err(_) => panic!("a watch from {rv} hung while etcd is paused"),
    }
    etcd.resume();
    writes_flow(&record, 5, "writes after etcd resumed").await;

    // 2. etcd dies and comes back on its data directory.
    etcd.kill();
    let failed_before = record.lock().failed.len();
    eventually(
        Duration::from_secs(10),
        "failed writes while etcd is down",
        || {
            let n = record.lock().failed.len();
            async move { (n >= failed_before + 4).then_some(()) }
        },
    )
    .await;
    let (code, body) = readyz(&clients[1]).await;
    assert_eq!(code, 500, "{body}");
    // With etcd gone the watch cache loses its storage watch: open watches end with a 503
    // error event (the watcher above resumes after the restart) and new ones get 503 at once.
    eventually(Duration::from_secs(10), "watches refused with 503", || async {
        let rv = record
            .lock()
            .acked
            .values()
            .map(|(rv, _)| *rv)
            .max()
            .unwrap()
            .to_string();
        match apis[0].watch(&WatchParams::default().timeout(1), &rv).await {
            Err(kube_client::Error::Api(s)) if s.code == 503 => Some(()),
            _ => None,
        }
    })
    .await;
    etcd.restart().await;
    writes_flow(&record, 10, "writes through both apiservers after etcd restarted").await;
    for c in &clients {
        eventually(Duration::from_secs(10), "/readyz ok again", || async {
            (readyz(c).await.0 == 200).then_some(())
        })
        .await;
    }
    stop_writers.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }

    let record = std::mem::take(&mut *record.lock());
    assert!(!record.failed.is_empty(), "the outages failed no request");
    for (code, took) in &record.failed {
        assert!(
            *code == 503 || *code == 504,
            "a request during the outage got {code}"
        );
        assert!(*took < FAIL_FAST, "a request during the outage took {took:?}");
    }
    // Every acknowledged write is stored, as acknowledged, and visible through both.
    for api in &apis {
        let stored: HashMap<String, u64> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|cm| (cm.name_any(), rv_of(cm.resource_version().as_deref())))
            .collect();
        for (name, (rv, _)) in &record.acked {
            assert_eq!(stored.get(name), Some(rv), "acknowledged write {name} at {rv}");
        }
    }
    // The watcher, moved along by its resumes, saw each acknowledged write exactly once.
    let last = record.acked.values().map(|(rv, _)| *rv).max().unwrap();
    eventually(Duration::from_secs(20), "the watcher to catch up", || {
        let done = seen.lock().iter().any(|(_, rv)| *rv >= last);
        async move { done.then_some(()) }
    })
    .await;
    stop_watcher.store(true, Ordering::Relaxed);
    watcher.await.unwrap();
    let seen = seen.lock().clone();
    let mut by_name: HashMap<&str, u64> = HashMap::new();
    for (name, rv) in &seen {
        assert!(by_name.insert(name, *rv).is_none(), "{name} seen twice");
    }
    for (name, (rv, _)) in &record.acked {
        assert_eq!(by_name.get(name.as_str()), Some(rv), "the watcher missed {name}");
    }
    eprintln!(
        "{} writes acknowledged, {} failed fast during the outages (slowest {:?})",
        record.acked.len(),
        record.failed.len(),
        record.failed.iter().map(|(_, t)| *t).max().unwrap()
    );
}
