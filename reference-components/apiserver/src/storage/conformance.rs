//! The storage conformance suite: what every backend must do, whatever it is built on.
//!
//! Each case takes a fresh, empty store and panics (like a test) if the store misbehaves. A
//! backend runs them all with [`run_all`]:
//!
//! ```
//! # use std::sync::Arc;
//! # use reference_apiserver::storage::{conformance, MemoryStorage, Storage};
//! # #[tokio::main]
//! # async fn main() {
//! conformance::run_all(|| Arc::new(MemoryStorage::new()) as Arc<dyn Storage>).await;
//! # }
//! ```
//!
//! The cases assume nobody else writes to the store while they run, but not that the store
//! starts at revision 1 (an etcd may have history). Keys live under `/registry/`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;

use super::{Error, Event, EventKind, KeyValue, ListOptions, Revision, Storage, WatchStream};

/// One conformance case: given a fresh, empty store, panics if the store misbehaves.
pub type Case = fn(Arc<dyn Storage>) -> BoxFuture<'static, ()>;

/// Every case, with its name.
pub fn cases() -> Vec<(&'static str, Case)> {
    vec![
        ("revision_is_monotonic", |s| revision_is_monotonic(s).boxed()),
        ("create_and_get", |s| create_and_get(s).boxed()),
        ("update_is_compare_and_swap", |s| {
            update_is_compare_and_swap(s).boxed()
        }),
        ("delete_with_and_without_expected", |s| {
            delete_with_and_without_expected(s).boxed()
        }),
        ("list_prefix_boundaries", |s| list_prefix_boundaries(s).boxed()),
        ("list_paging", |s| list_paging(s).boxed()),
        ("list_at_older_revision", |s| list_at_older_revision(s).boxed()),
        ("future_revisions", |s| future_revisions(s).boxed()),
        ("watch_replays_then_streams", |s| {
            watch_replays_then_streams(s).boxed()
        }),
        ("watch_prefix_filter", |s| watch_prefix_filter(s).boxed()),
        ("compaction_expires_history", |s| {
            compaction_expires_history(s).boxed()
        }),
        ("concurrent_cas_increments", |s| {
            concurrent_cas_increments(s).boxed()
        }),
        ("watch_sees_every_revision_once", |s| {
            watch_sees_every_revision_once(s).boxed()
        }),
        ("watch_started_during_writes", |s| {
            watch_started_during_writes(s).boxed()
        }),
    ]
}

/// Runs every case, each on a store from `make`. Needs a tokio runtime (several worker threads
/// make the concurrency cases meaningful). Panics naming the first case that fails.
pub async fn run_all(make: impl Fn() -> Arc<dyn Storage>) {
    for (name, case) in cases() {
        tracing::info!(case = name, "storage conformance");
        if let Err(error) = tokio::spawn(case(make())).await {
            panic!("storage conformance case `{name}` failed: {error}");
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(20);

fn val(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn keys(items: &[KeyValue]) -> Vec<&str> {
    items.iter().map(|kv| kv.key.as_str()).collect()
}

fn at(revision: Revision) -> ListOptions {
    ListOptions {
        revision: Some(revision),
        ..ListOptions::default()
    }
}

async fn next_event(watch: &mut WatchStream) -> Event {
    match tokio::time::timeout(TIMEOUT, watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(error))) => panic!("watch failed: {error}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no watch event within {TIMEOUT:?}"),
    }
}

/// Reads events until one at `last` or later, returning all of them.
async fn events_through(watch: &mut WatchStream, last: Revision) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let event = next_event(watch).await;
        let done = event.revision() >= last;
        events.push(event);
        if done {
            return events;
        }
    }
}

fn assert_event(event: &Event, kind: EventKind, kv: &KeyValue, prev: Option<&KeyValue>) {
    assert_eq!(event.kind, kind, "kind of {event:?}");
    assert_eq!(&event.kv, kv, "kv of {event:?}");
    assert_eq!(event.prev.as_ref(), prev, "prev of {event:?}");
}

/// Every write gets a higher revision; the store revision is the latest write's; failed writes
/// do not move it.
pub async fn revision_is_monotonic(store: Arc<dyn Storage>) {
    let r0 = store.revision().await.unwrap();
    let a = store.create("/registry/rev/a", val("1")).await.unwrap();
    assert!(a.mod_revision > r0);
    assert_eq!(a.create_revision, a.mod_revision);
    assert_eq!(store.revision().await.unwrap(), a.mod_revision);
    let a2 = store
        .update("/registry/rev/a", val("2"), a.mod_revision)
        .await
        .unwrap();
    assert!(a2.mod_revision > a.mod_revision);
    let b = store.create("/registry/rev/b", val("1")).await.unwrap();
    assert!(b.mod_revision > a2.mod_revision);
    let deleted = store.delete("/registry/rev/a", None).await.unwrap();
    assert!(deleted.mod_revision > b.mod_revision);
    let current = store.revision().await.unwrap();
    assert_eq!(current, deleted.mod_revision);

    assert!(store.create("/registry/rev/b", val("x")).await.is_err());
    assert!(
        store
            .update("/registry/rev/b", val("x"), b.mod_revision + 100)
            .await
            .is_err()
    );
    assert!(store.delete("/registry/rev/a", None).await.is_err());
    assert_eq!(
        store.revision().await.unwrap(),
        current,
        "failed writes changed the revision"
    );
}

/// Create stores a value that get returns; creating an existing key fails.
pub async fn create_and_get(store: Arc<dyn Storage>) {
    let key = "/registry/pods/default/web-0";
    assert_eq!(store.get(key).await.unwrap(), None);
    let kv = store.create(key, val("{\"a\":1}")).await.unwrap();
    assert_eq!(kv.key, key);
    assert_eq!(kv.value, val("{\"a\":1}"));
    assert_eq!(store.get(key).await.unwrap(), Some(kv.clone()));
    assert_eq!(
        store.create(key, val("other")).await,
        Err(Error::AlreadyExists { key: key.into() })
    );
    assert_eq!(
        store.get(key).await.unwrap(),
        Some(kv),
        "a failed create changed the value"
    );
    assert_eq!(store.get("/registry/pods/default/web").await.unwrap(), None);
}

/// Update succeeds at the expected revision and fails with the actual one otherwise.
pub async fn update_is_compare_and_swap(store: Arc<dyn Storage>) {
    let key = "/registry/cas/k";
    let v1 = store.create(key, val("v1")).await.unwrap();
    let v2 = store.update(key, val("v2"), v1.mod_revision).await.unwrap();
    assert_eq!(v2.create_revision, v1.create_revision);
    assert!(v2.mod_revision > v1.mod_revision);
    assert_eq!(v2.value, val("v2"));
    assert_eq!(store.get(key).await.unwrap(), Some(v2.clone()));
    assert_eq!(
        store.update(key, val("v3"), v1.mod_revision).await,
        Err(Error::Conflict {
            key: key.into(),
            expected: v1.mod_revision,
            actual: v2.mod_revision,
        })
    );
    assert_eq!(
        store.get(key).await.unwrap(),
        Some(v2),
        "a failed update changed the value"
    );
    assert_eq!(
        store
            .update("/registry/cas/missing", val("x"), v1.mod_revision)
            .await,
        Err(Error::NotFound {
            key: "/registry/cas/missing".into()
        })
    );
}

/// Delete checks the expected revision when given, returns the last value at the deleting
/// revision, and fails on a missing key.
pub async fn delete_with_and_without_expected(store: Arc<dyn Storage>) {
    let key = "/registry/del/a";
    let a = store.create(key, val("a")).await.unwrap();
    let wrong = a.mod_revision + 1000;
    assert_eq!(
        store.delete(key, Some(wrong)).await,
        Err(Error::Conflict {
            key: key.into(),
            expected: wrong,
            actual: a.mod_revision,
        })
    );
    let deleted = store.delete(key, Some(a.mod_revision)).await.unwrap();
    assert!(deleted.mod_revision > a.mod_revision);
    assert_eq!(
        (deleted.key.as_str(), &deleted.value, deleted.create_revision),
        (key, &a.value, a.create_revision)
    );
    assert_eq!(store.get(key).await.unwrap(), None);
    let not_found = Err(Error::NotFound { key: key.into() });
    assert_eq!(store.delete(key, None).await, not_found);
    assert_eq!(store.delete(key, Some(a.mod_revision)).await, not_found);

    store.create("/registry/del/b", val("b")).await.unwrap();
    let b = store.delete("/registry/del/b", None).await.unwrap();
    assert_eq!(b.value, val("b"));
    let again = store.create(key, val("again")).await.unwrap();
    assert!(
        again.create_revision > deleted.mod_revision,
        "a re-created key is new"
    );
}

/// A prefix matches exactly the keys that start with it.
pub async fn list_prefix_boundaries(store: Arc<dyn Storage>) {
    for key in [
        "/registry/pod",
        "/registry/pods",
        "/registry/pods.",
        "/registry/pods/default/a",
        "/registry/pods/default/b",
        "/registry/pods/kube-system/c",
        "/registry/pods0",
        "/registry/podsx/default/d",
    ] {
        store.create(key, val(key)).await.unwrap();
    }
    let list = |prefix: &'static str| {
        let store = store.clone();
        async move { store.list(prefix, &ListOptions::default()).await.unwrap() }
    };
    let pods = list("/registry/pods/").await;
    assert_eq!(
        keys(&pods.items),
        [
            "/registry/pods/default/a",
            "/registry/pods/default/b",
            "/registry/pods/kube-system/c"
        ]
    );
    assert_eq!(pods.remaining, 0);
    assert_eq!(pods.revision, store.revision().await.unwrap());
    assert_eq!(pods.items[0].value, val("/registry/pods/default/a"));
    let default = list("/registry/pods/default/").await;
    assert_eq!(
        keys(&default.items),
        ["/registry/pods/default/a", "/registry/pods/default/b"]
    );
    assert_eq!(
        keys(&list("/registry/pods/default/a").await.items),
        ["/registry/pods/default/a"]
    );
    assert!(list("/registry/pods/nothing/").await.items.is_empty());
    assert_eq!(list("/registry/").await.items.len(), 8);
}

/// Limit and start_after page through a prefix; `remaining` counts what is left.
pub async fn list_paging(store: Arc<dyn Storage>) {
    let prefix = "/registry/items/";
    let all: Vec<String> = (0..10).map(|i| format!("{prefix}k{i:02}")).collect();
    for key in &all {
        store.create(key, val("v")).await.unwrap();
    }
    store.create("/registry/itemsx/z", val("v")).await.unwrap();
    let page = |limit: Option<usize>, start_after: Option<&str>| {
        let store = store.clone();
        let opts = ListOptions {
            limit,
            start_after: start_after.map(str::to_owned),
            revision: None,
        };
        async move { store.list(prefix, &opts).await.unwrap() }
    };

    let mut seen = Vec::new();
    let mut remainders = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let p = page(Some(3), after.as_deref()).await;
        assert!(p.items.len() <= 3);
        seen.extend(p.items.iter().map(|kv| kv.key.clone()));
        remainders.push(p.remaining);
        if p.remaining == 0 {
            break;
        }
        after = p.items.last().map(|kv| kv.key.clone());
    }
    assert_eq!(seen, all);
    assert_eq!(remainders, [7, 4, 1, 0]);

    for limit in [None, Some(0), Some(10), Some(50)] {
        let p = page(limit, None).await;
        assert_eq!((p.items.len(), p.remaining), (10, 0), "limit {limit:?}");
    }
    let p = page(Some(2), Some("/registry/items/k04")).await;
    assert_eq!(keys(&p.items), ["/registry/items/k05", "/registry/items/k06"]);
    assert_eq!(p.remaining, 3);
    let p = page(None, Some("/registry/a")).await;
    assert_eq!(
        p.items.len(),
        10,
        "a start before the prefix starts at the prefix"
    );
    let p = page(Some(5), Some("/registry/items/k09")).await;
    assert_eq!((p.items.len(), p.remaining), (0, 0));
}

/// A list at an older revision sees the store as it was: old values, keys deleted since,
/// without keys created since; paging at that revision stays consistent.
pub async fn list_at_older_revision(store: Arc<dyn Storage>) {
    let prefix = "/registry/old/";
    let mut originals = Vec::new();
    for i in 1..=5 {
        originals.push(store.create(&format!("{prefix}k{i}"), val("v1")).await.unwrap());
    }
    let r = store.revision().await.unwrap();
    let k1 = store
        .update(&originals[0].key, val("v2"), originals[0].mod_revision)
        .await
        .unwrap();
    let r1 = store.revision().await.unwrap();
    store.delete(&originals[1].key, None).await.unwrap();
    store.create(&format!("{prefix}k6"), val("v1")).await.unwrap();

    let old = store.list(prefix, &at(r)).await.unwrap();
    assert_eq!(old.revision, r);
    assert_eq!(old.items, originals);
    assert_eq!(old.remaining, 0);

    let mid = store.list(prefix, &at(r1)).await.unwrap();
    assert_eq!(keys(&mid.items).len(), 5);
    assert_eq!(mid.items[0], k1);

    // Paging at the first page's revision, as a continue token does.
    let first = store
        .list(
            prefix,
            &ListOptions {
                limit: Some(2),
                ..at(r)
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (keys(&first.items), first.remaining),
        (vec!["/registry/old/k1", "/registry/old/k2"], 3)
    );
    let opts = ListOptions {
        limit: Some(2),
        start_after: Some(first.items[1].key.clone()),
        revision: Some(first.revision),
    };
    let second = store.list(prefix, &opts).await.unwrap();
    assert_eq!(
        (keys(&second.items), second.remaining),
        (vec!["/registry/old/k3", "/registry/old/k4"], 1)
    );

    let now = store.list(prefix, &ListOptions::default()).await.unwrap();
    assert_eq!(
        keys(&now.items),
        [
            "/registry/old/k1",
            "/registry/old/k3",
            "/registry/old/k4",
            "/registry/old/k5",
            "/registry/old/k6"
        ]
    );
    assert_eq!(now.items[0].value, val("v2"));
}

/// Reading or watching at a revision newer than the store's fails.
pub async fn future_revisions(store: Arc<dyn Storage>) {
    store.create("/registry/future/a", val("a")).await.unwrap();
    let current = store.revision().await.unwrap();
    let future = current + 10;
    assert_eq!(
        store.list("/registry/future/", &at(future)).await,
        Err(Error::FutureRevision {
            requested: future,
            current
        })
    );
    assert!(matches!(
        store.watch("/registry/future/", future).await,
        Err(Error::FutureRevision { requested, .. }) if requested == future
    ));
    assert!(store.watch("/registry/future/", current).await.is_ok());
}

/// A watch from a revision replays the later events, then streams live ones.
pub async fn watch_replays_then_streams(store: Arc<dyn Storage>) {
    let prefix = "/registry/w/";
    let r0 = store.revision().await.unwrap();
    let a = store.create("/registry/w/a", val("a1")).await.unwrap();
    let b = store.create("/registry/w/b", val("b1")).await.unwrap();
    let a2 = store
        .update("/registry/w/a", val("a2"), a.mod_revision)
        .await
        .unwrap();
    let b_gone = store.delete("/registry/w/b", None).await.unwrap();

    let mut all = store.watch(prefix, r0).await.unwrap();
    let replay = events_through(&mut all, b_gone.mod_revision).await;
    assert_eq!(replay.len(), 4);
    assert_event(&replay[0], EventKind::Create, &a, None);
    assert_event(&replay[1], EventKind::Create, &b, None);
    assert_event(&replay[2], EventKind::Update, &a2, Some(&a));
    assert_event(&replay[3], EventKind::Delete, &b_gone, Some(&b));

    let mut later = store.watch(prefix, a2.mod_revision).await.unwrap();
    let mut live = store
        .watch(prefix, store.revision().await.unwrap())
        .await
        .unwrap();
    assert_event(
        &next_event(&mut later).await,
        EventKind::Delete,
        &b_gone,
        Some(&b),
    );

    let c = store.create("/registry/w/c", val("c1")).await.unwrap();
    for watch in [&mut all, &mut later, &mut live] {
        assert_event(&next_event(watch).await, EventKind::Create, &c, None);
    }
}

/// A watch sees only its prefix.
pub async fn watch_prefix_filter(store: Arc<dyn Storage>) {
    let r0 = store.revision().await.unwrap();
    let mut live = store.watch("/registry/pods/", r0).await.unwrap();
    for key in [
        "/registry/podsx/a",
        "/registry/pods/a",
        "/registry/pod/a",
        "/registry/pods",
        "/registry/pods/b",
        "/registry/podsx/b",
        "/registry/pods/c",
    ] {
        store.create(key, val(key)).await.unwrap();
    }
    let mut replayed = store.watch("/registry/pods/", r0).await.unwrap();
    let expected = ["/registry/pods/a", "/registry/pods/b", "/registry/pods/c"];
    for watch in [&mut live, &mut replayed] {
        for key in expected {
            assert_eq!(next_event(watch).await.kv.key, key);
        }
    }
}

/// After compaction, older revisions answer Expired; the latest values remain.
pub async fn compaction_expires_history(store: Arc<dyn Storage>) {
    let prefix = "/registry/compact/";
    let a = store.create("/registry/compact/a", val("a1")).await.unwrap();
    let a2 = store.update(&a.key, val("a2"), a.mod_revision).await.unwrap();
    store.create("/registry/compact/b", val("b1")).await.unwrap();
    store.delete("/registry/compact/b", None).await.unwrap();
    let c = store.create("/registry/compact/c", val("c1")).await.unwrap();
    let point = store.revision().await.unwrap();
    let d = store.create("/registry/compact/d", val("d1")).await.unwrap();
    let a3 = store.update(&a.key, val("a3"), a2.mod_revision).await.unwrap();

    store.compact(point).await.unwrap();
    assert!(matches!(
        store.watch(prefix, point - 1).await,
        Err(Error::Expired { requested, compacted }) if requested == point - 1 && compacted == point
    ));
    assert!(matches!(
        store.list(prefix, &at(point - 1)).await,
        Err(Error::Expired { requested, .. }) if requested == point - 1
    ));
    let then = store.list(prefix, &at(point)).await.unwrap();
    assert_eq!(
        then.items,
        [a2, c.clone()],
        "the state at the compaction point is kept"
    );
    let mut watch = store.watch(prefix, point).await.unwrap();
    assert_event(&next_event(&mut watch).await, EventKind::Create, &d, None);
    assert_eq!(next_event(&mut watch).await.kv, a3);
    let now = store.list(prefix, &ListOptions::default()).await.unwrap();
    assert_eq!(now.items, [a3, c, d]);

    assert!(matches!(
        store.compact(point).await,
        Ok(()) | Err(Error::Expired { .. })
    ));
    let current = store.revision().await.unwrap();
    assert!(matches!(
        store.compact(current + 10).await,
        Err(Error::FutureRevision { .. })
    ));
}

/// 50 tasks increment one counter with compare-and-swap, retrying on conflict: no increment is
/// lost.
pub async fn concurrent_cas_increments(store: Arc<dyn Storage>) {
    const TASKS: u64 = 50;
    const INCREMENTS: u64 = 4;
    let key = "/registry/counter/c";
    store.create(key, val("0")).await.unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut done = 0;
                while done < INCREMENTS {
                    let kv = store.get(key).await.unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                    match store
                        .update(key, val(&(n + 1).to_string()), kv.mod_revision)
                        .await
                    {
                        Ok(_) => done += 1,
                        Err(Error::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(e) => panic!("update failed: {e}"),
                    }
                }
                done
            })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        successes += task.await.unwrap();
    }
    let value = store.get(key).await.unwrap().unwrap().value;
    assert_eq!(value, val(&successes.to_string()));
    assert_eq!(successes, TASKS * INCREMENTS);
}

/// Spawns `tasks` writers that create, update and delete their own keys under `prefix`,
/// recording every acknowledged revision.
fn spawn_writers(
    store: &Arc<dyn Storage>,
    prefix: &'static str,
    tasks: usize,
    keys_each: usize,
    acked: &Arc<Mutex<Vec<Revision>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..tasks)
        .map(|t| {
            let (store, acked) = (store.clone(), acked.clone());
            tokio::spawn(async move {
                for i in 0..keys_each {
                    let key = format!("{prefix}t{t}-{i}");
                    let kv = store.create(&key, val("1")).await.unwrap();
                    acked.lock().push(kv.mod_revision);
                    // Let the other writers and the watcher in, even on a store that never
                    // waits.
                    tokio::task::yield_now().await;
                    let kv = store.update(&key, val("2"), kv.mod_revision).await.unwrap();
                    acked.lock().push(kv.mod_revision);
                    if i % 2 == 0 {
                        let kv = store.delete(&key, Some(kv.mod_revision)).await.unwrap();
                        acked.lock().push(kv.mod_revision);
                    }
                }
            })
        })
        .collect()
}

/// Checks that `watch` delivers exactly the revisions in `expected`, in order.
async fn assert_sees_exactly(watch: &mut WatchStream, expected: &BTreeSet<Revision>) {
    let last = *expected.last().expect("some writes");
    let mut revisions = Vec::new();
    while revisions.last().is_none_or(|r| r < &last) {
        match tokio::time::timeout(TIMEOUT, watch.next()).await {
            Ok(Some(Ok(event))) => revisions.push(event.revision()),
            Ok(Some(Err(error))) => panic!("watch failed: {error}"),
            Ok(None) => panic!("watch ended"),
            Err(_) => {
                let seen: BTreeSet<Revision> = revisions.iter().copied().collect();
                let missing: Vec<_> = expected.difference(&seen).take(10).collect();
                panic!("no watch event within {TIMEOUT:?}; missing revisions {missing:?}...");
            }
        }
    }
    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "out of order: {revisions:?}"
    );
    let seen: BTreeSet<Revision> = revisions.iter().copied().collect();
    assert_eq!(&seen, expected, "missing or extra events");
}

/// Concurrent writers: a watch sees every acknowledged revision exactly once, in order.
pub async fn watch_sees_every_revision_once(store: Arc<dyn Storage>) {
    let prefix = "/registry/race/";
    let r0 = store.revision().await.unwrap();
    let mut watch = store.watch(prefix, r0).await.unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    for task in spawn_writers(&store, prefix, 8, 25, &acked) {
        task.await.unwrap();
    }
    let expected: BTreeSet<Revision> = acked.lock().iter().copied().collect();
    assert_eq!(expected.len(), acked.lock().len(), "two writes got one revision");
    assert_eq!(expected.len(), 8 * (25 * 2 + 13));
    assert_sees_exactly(&mut watch, &expected).await;
    let mut replay = store.watch(prefix, r0).await.unwrap();
    assert_sees_exactly(&mut replay, &expected).await;

    let sentinel = store.create("/registry/race/sentinel", val("s")).await.unwrap();
    assert_eq!(
        next_event(&mut watch).await.kv,
        sentinel,
        "events after the last write"
    );
}

/// A watch started while writes are in flight, from the revision read just before, sees
/// exactly the writes after that revision: no gap, no duplicate at the seam.
pub async fn watch_started_during_writes(store: Arc<dyn Storage>) {
    let prefix = "/registry/seam/";
    let r0 = store.revision().await.unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers = spawn_writers(&store, prefix, 8, 40, &acked);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while store.revision().await.unwrap() < r0 + 100 {
        assert!(tokio::time::Instant::now() < deadline, "writers made no progress");
        tokio::task::yield_now().await;
    }
    let from = store.revision().await.unwrap();
    let mut watch = store.watch(prefix, from).await.unwrap();
    for task in writers {
        task.await.unwrap();
    }
    let expected: BTreeSet<Revision> = acked.lock().iter().copied().filter(|r| *r > from).collect();
    assert!(
        !expected.is_empty(),
        "the writers finished before the watch started"
    );
    assert_sees_exactly(&mut watch, &expected).await;
}
