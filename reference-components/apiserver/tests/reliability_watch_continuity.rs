//! Watch continuity across apiserver restarts: a watcher that resumes from the last
//! resourceVersion it saw misses nothing and sees nothing twice, even when the server was
//! killed in between; and history that is gone answers 410 Expired, never a silent gap.
//!
//! The restart test runs the real binary on embedded storage. One writer creates, updates and
//! deletes ConfigMaps one at a time and records every write the server acknowledged; one
//! watcher, started from a list's resourceVersion, records every event. The server is killed
//! twice while both run (SIGKILL, then SIGTERM) and restarted on the same data directory; both
//! clients move to the new server, the watcher with a new watch from its last resourceVersion.
//! At the end the watcher's events must be exactly the writes, in order: same resourceVersions,
//! objects and contents, no gap, no duplicate.
//!
//! A write whose answer was lost in a kill is settled after the restart: if the new server has
//! it, it counts as a write (it was committed, so the watch must show it), else it is sent again.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::{Api, Client};
use kube_core::params::{DeleteParams, ListParams, PostParams, WatchParams};
use kube_core::{ResourceExt, WatchEvent};
use parking_lot::Mutex;
use reference_apiserver::server::ServerConfig;
use reference_apiserver::storage::{self, StorageKind};
use reference_apiserver::testing::TestServer;
use serde_json::json;
use support::{Backend, ServerProcess, rv_of};
use tokio::sync::watch;

const NAMESPACE: &str = "default";
/// Writes in the whole run.
const WRITES: usize = 360;

/// One change, as the writer made it or as the watcher saw it. `rv` is `None` for a delete
/// whose answer was lost in a kill (a delete answers no resourceVersion the writer could read
/// back afterwards); `tag` is the write's mark in the object's data (`None` for deletes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    rv: Option<u64>,
    kind: &'static str,
    name: String,
    tag: Option<String>,
}

impl Change {
    fn matches(&self, seen: &Change) -> bool {
        (self.kind, &self.name, &self.tag) == (seen.kind, &seen.name, &seen.tag)
            && self.rv.is_none_or(|rv| Some(rv) == seen.rv)
    }
}

/// The script: op `i` of the writer.
enum Op {
    Create(String),
    Update(String),
    Delete(String),
}

fn script(i: usize) -> Op {
    let j = i / 6;
    match i % 6 {
        0 => Op::Create(format!("o{j}")),
        1..=3 => Op::Update(format!("o{j}")),
        4 if j.is_multiple_of(2) => Op::Delete(format!("o{j}")),
        4 => Op::Update(format!("o{j}")),
        _ => Op::Create(format!("keep{j}")),
    }
}

/// The server the clients should use: (generation, client). A new generation after a restart.
type Current = watch::Receiver<(u32, Client)>;

async fn next_server(current: &mut Current, after: u32) -> Result<(), String> {
    let wait = current.wait_for(|(generation, _)| *generation > after);
    match tokio::time::timeout(Duration::from_secs(60), wait).await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(format!("no server after generation {after} within 60 s")),
    }
}

fn tag_of(cm: &ConfigMap) -> Option<String> {
    cm.data.as_ref().and_then(|d| d.get("tag")).cloned()
}

fn cm(name: &str, tag: &str, rv: Option<u64>) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "resourceVersion": rv.map(|r| r.to_string())},
        "data": {"tag": tag},
    }))
    .unwrap()
}

/// Run the script, one write at a time, moving to the next server when one goes away.
async fn writer(
    mut current: Current,
    done: Arc<Mutex<Vec<Change>>>,
    progress: Arc<AtomicUsize>,
) -> Result<usize, String> {
    let mut rvs: HashMap<String, u64> = HashMap::new();
    let mut settled_after_restart = 0;
    for i in 0..WRITES {
        let op = script(i);
        let tag = format!("write-{i}");
        for attempt in 0.. {
            if attempt == 10 {
                return Err(format!("write {i} failed 10 times"));
            }
            let (generation, client) = current.borrow().clone();
            let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
            let result = match &op {
                Op::Create(name) => api
                    .create(&PostParams::default(), &cm(name, &tag, None))
                    .await
                    .map(|o| {
                        let rv = rv_of(o.resource_version().as_deref());
                        (
                            Change {
                                rv: Some(rv),
                                kind: "ADDED",
                                name: name.clone(),
                                tag: Some(tag.clone()),
                            },
                            Some(rv),
                        )
                    }),
                Op::Update(name) => api
                    .replace(name, &PostParams::default(), &cm(name, &tag, Some(rvs[name])))
                    .await
                    .map(|o| {
                        let rv = rv_of(o.resource_version().as_deref());
                        (
                            Change {
                                rv: Some(rv),
                                kind: "MODIFIED",
                                name: name.clone(),
                                tag: Some(tag.clone()),
                            },
                            Some(rv),
                        )
                    }),
                Op::Delete(name) => {
                    let dp = DeleteParams::default().precondition_resource_version(&rvs[name].to_string());
                    api.delete(name, &dp).await.map(|_| {
                        (
                            Change {
                                rv: None,
                                kind: "DELETED",
                                name: name.clone(),
                                tag: None,
                            },
                            None,
                        )
                    })
                }
            };
            let (change, rv) = match result {
                Ok(ok) => ok,
                Err(kube_client::Error::Api(s)) => {
                    return Err(format!("write {i}: {} {}: {}", s.code, s.reason, s.message));
                }
                Err(_) => {
                    // No answer: the server went away. Settle the write on the next one.
                    next_server(&mut current, generation).await?;
                    let api: Api<ConfigMap> = Api::namespaced(current.borrow().1.clone(), NAMESPACE);
                    let now = api
                        .get_opt(name_of(&op))
                        .await
                        .map_err(|e| format!("settle write {i}: {e}"))?;
                    let committed = match (&op, &now) {
                        (Op::Delete(_), None) => true,
                        (Op::Create(_) | Op::Update(_), Some(o)) => {
                            tag_of(o).as_deref() == Some(tag.as_str())
                        }
                        _ => false,
                    };
                    if !committed {
                        continue;
                    }
                    settled_after_restart += 1;
                    let rv = now.as_ref().map(|o| rv_of(o.resource_version().as_deref()));
                    let kind = match op {
                        Op::Create(_) => "ADDED",
                        Op::Update(_) => "MODIFIED",
                        Op::Delete(_) => "DELETED",
                    };
                    let tag = rv.map(|_| tag.clone());
                    (
                        Change {
                            rv,
                            kind,
                            name: name_of(&op).to_string(),
                            tag,
                        },
                        rv,
                    )
                }
            };
            match rv {
                Some(rv) => rvs.insert(change.name.clone(), rv),
                None => rvs.remove(&change.name),
            };
            done.lock().push(change);
            progress.fetch_add(1, Ordering::SeqCst);
            break;
        }
    }
    Ok(settled_after_restart)
}

fn name_of(op: &Op) -> &str {
    match op {
        Op::Create(n) | Op::Update(n) | Op::Delete(n) => n,
    }
}

fn change_of(kind: &'static str, o: &ConfigMap) -> Change {
    let tag = if kind == "DELETED" { None } else { tag_of(o) };
    Change {
        rv: Some(rv_of(o.resource_version().as_deref())),
        kind,
        name: o.name_any(),
        tag,
    }
}

/// Watch from `from`, resuming from the last resourceVersion seen whenever the watch ends,
/// until a change at or past the target arrives. While `hold` is true it stays disconnected (a
/// client cut off during an outage). Returns where it (re)started: (generation, resourceVersion).
async fn watcher(
    mut current: Current,
    mut from: u64,
    mut target: watch::Receiver<Option<u64>>,
    mut hold: watch::Receiver<bool>,
    seen: Arc<Mutex<Vec<Change>>>,
) -> Result<Vec<(u32, u64)>, String> {
    let mut starts = Vec::new();
    let reached =
        |from: u64, target: &watch::Receiver<Option<u64>>| target.borrow().is_some_and(|t| from >= t);
    for _ in 0..50 {
        if reached(from, &target) {
            return Ok(starts);
        }
        if *hold.borrow_and_update() {
            let released = tokio::time::timeout(Duration::from_secs(60), hold.wait_for(|h| !*h)).await;
            if !matches!(released, Ok(Ok(_))) {
                return Err("held for more than 60 s".into());
            }
        }
        let (generation, client) = current.borrow().clone();
        let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
        let stream = match api.watch(&WatchParams::default(), &from.to_string()).await {
            Ok(s) => s,
            Err(kube_client::Error::Api(s)) => {
                return Err(format!(
                    "watch from {from}: {} {}: {}",
                    s.code, s.reason, s.message
                ));
            }
            Err(_) => {
                // The server is gone: wait for the next one.
                next_server(&mut current, generation).await?;
                continue;
            }
        };
        starts.push((generation, from));
        let mut stream = std::pin::pin!(stream);
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(WatchEvent::Added(o))) => seen.lock().push(change_of("ADDED", &o)),
                    Some(Ok(WatchEvent::Modified(o))) => seen.lock().push(change_of("MODIFIED", &o)),
                    Some(Ok(WatchEvent::Deleted(o))) => seen.lock().push(change_of("DELETED", &o)),
                    Some(Ok(WatchEvent::Bookmark(b))) => {
                        from = from.max(rv_of(Some(&b.metadata.resource_version)));
                        continue;
                    }
                    Some(Ok(WatchEvent::Error(s))) => {
                        return Err(format!("ERROR event in the watch from {from}: {} {}: {}", s.code, s.reason, s.message));
                    }
                    // The connection broke or the server ended the watch: resume.
                    Some(Err(_)) | None => break,
                },
                _ = target.changed() => {}
                _ = hold.changed() => if *hold.borrow() {
                    break;
                },
            }
            if let Some(last) = seen.lock().last() {
                from = from.max(last.rv.expect("events carry a resourceVersion"));
            }
            if reached(from, &target) {
                return Ok(starts);
            }
        }
    }
    Err("the watch was restarted 50 times".into())
}

/// Compare what the watcher saw with what the writer did.
fn assert_same(what: &str, writes: &[Change], seen: &[Change]) {
    let rvs: Vec<u64> = seen.iter().map(|c| c.rv.unwrap()).collect();
    if let Some(w) = rvs.windows(2).find(|w| w[0] >= w[1]) {
        panic!(
            "{what}: resourceVersion {} came after {}: a duplicate or out of order",
            w[1], w[0]
        );
    }
    for (i, (write, event)) in writes.iter().zip(seen).enumerate() {
        assert!(
            write.matches(event),
            "{what}: change {i}: the writer did {write:?}, the watch showed {event:?}"
        );
    }
    assert_eq!(
        seen.len(),
        writes.len(),
        "{what}: {} writes, {} events; first missing or extra: {:?}",
        writes.len(),
        seen.len(),
        if seen.len() > writes.len() {
            seen.get(writes.len())
        } else {
            writes.get(seen.len())
        }
    );
}

/// Wait until `at` writes are done (or a client stopped).
async fn reach(at: usize, progress: &AtomicUsize, stopped: &dyn Fn() -> bool) {
    support::eventually(Duration::from_secs(40), &format!("{at} writes"), || {
        let done = progress.load(Ordering::SeqCst) >= at || stopped();
        async move { done.then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_watch_sees_every_write_once_across_restarts() {
    let started = Instant::now();
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(Backend::Embedded, data_dir.path()).await;
    let (publish, current) = watch::channel((0u32, server.client()));
    let api: Api<ConfigMap> = Api::namespaced(server.client(), NAMESPACE);
    let from = rv_of(api.list(&ListParams::default()).await.unwrap().resource_version());

    let writes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let progress = Arc::new(AtomicUsize::new(0));
    let (set_target, target) = watch::channel(None);
    let (set_hold, hold) = watch::channel(false);
    let watch_task = tokio::spawn(watcher(current.clone(), from, target, hold, seen.clone()));
    let write_task = tokio::spawn(writer(current.clone(), writes.clone(), progress.clone()));

    let mut restarts = Vec::new();
    let mut rv_at_kill = 0;
    let stopped = || write_task.is_finished() || watch_task.is_finished();
    for (generation, signal) in [(1u32, "KILL"), (2, "TERM")] {
        let at = generation as usize * WRITES / 3;
        if generation == 1 {
            // Before the first kill the watcher disconnects for 30 writes: it must resume
            // from a resourceVersion the restarted server has in its history only.
            reach(at - 30, &progress, &stopped).await;
            set_hold.send_replace(true);
        }
        reach(at, &progress, &stopped).await;
        assert!(
            !write_task.is_finished() && !watch_task.is_finished(),
            "a client stopped early"
        );
        let seen_before = seen.lock().len();
        let exit = server
            .signal(signal, Duration::from_secs(10))
            .await
            .expect("the server exits");
        let written = writes.lock().len();
        if generation == 1 {
            rv_at_kill = writes.lock().iter().filter_map(|c| c.rv).max().unwrap();
        }
        server = ServerProcess::start(Backend::Embedded, data_dir.path()).await;
        publish.send_replace((generation, server.client()));
        set_hold.send_replace(false);
        restarts.push(format!(
            "SIG{signal} ({exit}) after {written} writes, {seen_before} events seen"
        ));
    }

    let settled = tokio::time::timeout(Duration::from_secs(60), write_task)
        .await
        .expect("the writer finishes")
        .unwrap()
        .unwrap_or_else(|e| panic!("writer: {e}"));
    let writes = writes.lock().clone();
    let last = writes
        .last()
        .and_then(|c| c.rv)
        .expect("the last write was acknowledged");
    set_target.send_replace(Some(last));
    let starts = tokio::time::timeout(Duration::from_secs(30), watch_task)
        .await
        .expect("the watcher reaches the last write")
        .unwrap()
        .unwrap_or_else(|e| panic!("watcher: {e}"));
    assert_same("the resumed watch", &writes, &seen.lock());
    let resumed = starts
        .iter()
        .find(|(generation, _)| *generation == 1)
        .expect("a watch on the second server");
    assert!(
        resumed.1 < rv_at_kill,
        "the watcher was held, yet resumed at {} >= {rv_at_kill}",
        resumed.1
    );
    assert!(
        starts.iter().any(|(generation, _)| *generation == 2),
        "the watch never resumed on the last server: {starts:?}"
    );

    // A watch from the very first resourceVersion, on the twice-restarted server, replays the
    // whole history from the store: the same sequence again.
    let api: Api<ConfigMap> = Api::namespaced(server.client(), NAMESPACE);
    let mut replay = api
        .watch(&WatchParams::default(), &from.to_string())
        .await
        .unwrap()
        .boxed();
    let mut replayed = Vec::new();
    while replayed.last().is_none_or(|c: &Change| c.rv < Some(last)) {
        let ev = tokio::time::timeout(Duration::from_secs(10), replay.next())
            .await
            .expect("history replays at once")
            .expect("the stream stays open")
            .expect("an event");
        match ev {
            WatchEvent::Added(o) => replayed.push(change_of("ADDED", &o)),
            WatchEvent::Modified(o) => replayed.push(change_of("MODIFIED", &o)),
            WatchEvent::Deleted(o) => replayed.push(change_of("DELETED", &o)),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(s) => panic!("replay from {from}: {} {}", s.code, s.message),
        }
    }
    assert_same("the replay from the start", &writes, &replayed);
    eprintln!(
        "{} writes ({settled} settled after a restart), {} events; watch (re)started at {starts:?}; {}; {:?}",
        writes.len(),
        seen.lock().len(),
        restarts.join("; "),
        started.elapsed()
    );
}

/// History older than the compaction point is gone: a watch from there gets an ERROR event
/// with 410 Expired, a list at exactly that revision gets 410, and a client that relists and
/// watches from the new list misses nothing after it. A watch from the compaction point itself
/// still replays everything after it. In process, over embedded storage: the binary has no
/// knob for a short history, so the test compacts through the storage handle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_resource_version_answers_410_expired() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage::open(StorageKind::Embedded, dir.path()).unwrap();
    // A small watch cache history, so that old revisions go to the store.
    let server = TestServer::start_with(
        storage,
        ServerConfig {
            watch_history: 8,
            ..ServerConfig::default()
        },
    )
    .await;
    let api: Api<ConfigMap> = Api::namespaced(support::client(&server.url()), NAMESPACE);
    let start = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .resource_version()
        .unwrap()
        .to_string();
    let mut obj = api
        .create(&PostParams::default(), &cm("c", "0", None))
        .await
        .unwrap();
    let mut rvs = vec![rv_of(obj.resource_version().as_deref())];
    for n in 1..=40 {
        obj = api
            .replace(
                "c",
                &PostParams::default(),
                &cm("c", &n.to_string(), Some(rvs[n - 1])),
            )
            .await
            .unwrap();
        rvs.push(rv_of(obj.resource_version().as_deref()));
    }
    let compacted = rvs[20];
    server.state().storage.compact(compacted).await.unwrap();

    // Older than the compaction point: 410 in the watch, and on an exact list.
    for from in [start.clone(), rvs[10].to_string(), (compacted - 1).to_string()] {
        let mut w = api.watch(&WatchParams::default(), &from).await.unwrap().boxed();
        match tokio::time::timeout(Duration::from_secs(10), w.next())
            .await
            .unwrap()
        {
            Some(Ok(WatchEvent::Error(s))) => {
                assert_eq!(
                    (s.code, s.reason.as_str()),
                    (410, "Expired"),
                    "watch from {from}: {}",
                    s.message
                )
            }
            other => panic!("watch from {from} (compacted at {compacted}): expected 410, got {other:?}"),
        }
        let err = api
            .list(&ListParams::default().match_exact(&from))
            .await
            .unwrap_err();
        match err {
            kube_client::Error::Api(s) => {
                assert_eq!(
                    (s.code, s.reason.as_str()),
                    (410, "Expired"),
                    "list at {from}: {}",
                    s.message
                )
            }
            other => panic!("list at {from}: {other}"),
        }
    }
    // At the compaction point: the list shows the object as it was then, the watch replays
    // every later write.
    let list = api
        .list(&ListParams::default().match_exact(&compacted.to_string()))
        .await
        .unwrap();
    assert_eq!(
        list.items.iter().map(tag_of).collect::<Vec<_>>(),
        [Some("20".to_string())]
    );
    let mut w = api
        .watch(&WatchParams::default(), &compacted.to_string())
        .await
        .unwrap()
        .boxed();
    for (n, rv) in rvs.iter().enumerate().skip(21) {
        match tokio::time::timeout(Duration::from_secs(10), w.next())
            .await
            .unwrap()
        {
            Some(Ok(WatchEvent::Modified(o))) => {
                assert_eq!(
                    (tag_of(&o), rv_of(o.resource_version().as_deref())),
                    (Some(n.to_string()), *rv)
                )
            }
            other => panic!("replay after {compacted}: expected write {n}, got {other:?}"),
        }
    }
    // What a client does after 410: relist, then watch from the list's resourceVersion.
    let relist = api.list(&ListParams::default()).await.unwrap();
    let rv = relist.resource_version().unwrap().to_string();
    assert_eq!(rv_of(Some(&rv)), rvs[40]);
    let mut w = api.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    api.replace("c", &PostParams::default(), &cm("c", "41", Some(rvs[40])))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), w.next())
            .await
            .unwrap()
        {
            Some(Ok(WatchEvent::Bookmark(_))) => continue,
            Some(Ok(WatchEvent::Modified(o))) => {
                assert_eq!(tag_of(&o).as_deref(), Some("41"));
                break;
            }
            other => panic!("after the relist: {other:?}"),
        }
    }
}

/// Ctrl-C (SIGINT) starts a graceful shutdown: the server must stop within a few seconds even
/// with a watch open, as kube-apiserver closes its watches when it shuts down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_the_server_even_with_a_watch_open() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(Backend::Embedded, data_dir.path()).await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), NAMESPACE);
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .resource_version()
        .unwrap()
        .to_string();
    let _watch = api.watch(&WatchParams::default(), &rv).await.unwrap();
    let exit = server.signal("INT", Duration::from_secs(10)).await;
    assert!(
        exit.is_some(),
        "ref-apiserver still running 10 s after SIGINT with one watch open"
    );
}
