//! `EmbeddedStorage` durability: acknowledged writes survive `kill -9` of the writing process,
//! and history, revisions and the compaction point survive a reopen.
//!
//! The kill test re-executes this test binary as the writer (selected by an environment
//! variable), because the kill must take down a whole process, not a task.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use reference_apiserver::storage::{
    EmbeddedStorage, Error, Event, EventKind, ListOptions, Revision, Storage,
};

/// Set in the child: the data directory it writes to.
const WRITER_DIR: &str = "STORAGE_DURABILITY_WRITER_DIR";
const WRITERS: usize = 16;

fn value_of(key: &str, n: u64) -> String {
    format!("{key}#{n}#{}", "x".repeat(512))
}

/// Not a test by itself: in the child process it writes as fast as it can, printing
/// `ACK <key> <revision> <value>` for every acknowledged write, until it is killed.
#[test]
fn durability_writer_child() {
    let Some(dir) = std::env::var_os(WRITER_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = Arc::new(EmbeddedStorage::open(&dir).unwrap());
        let ack = |key: &str, revision: Revision, value: &str| {
            let mut out = std::io::stdout().lock();
            writeln!(out, "ACK {key} {revision} {value}").unwrap();
            out.flush().unwrap();
        };
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    // Creates, plus a counter per writer updated by compare-and-swap.
                    let counter = format!("/registry/durability/counter-{w}");
                    let value = value_of(&counter, 0);
                    let mut at = store.create(&counter, Bytes::from(value.clone())).await.unwrap();
                    ack(&counter, at.mod_revision, &value);
                    for n in 1u64.. {
                        let key = format!("/registry/durability/w{w}/{n:08}");
                        let value = value_of(&key, n);
                        let kv = store.create(&key, Bytes::from(value.clone())).await.unwrap();
                        ack(&key, kv.mod_revision, &value);
                        if n % 4 == 0 {
                            let value = value_of(&counter, n);
                            let bytes = Bytes::from(value.clone());
                            at = store.update(&counter, bytes, at.mod_revision).await.unwrap();
                            ack(&counter, at.mod_revision, &value);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

struct Ack {
    key: String,
    revision: Revision,
    value: String,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut parts = line.strip_prefix("ACK ")?.splitn(3, ' ');
    Some(Ack {
        key: parts.next()?.to_owned(),
        revision: parts.next()?.parse().ok()?,
        value: parts.next()?.to_owned(),
    })
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var_os(WRITER_DIR).is_some() {
        return; // we are the child
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "durability_writer_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_DIR, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = Vec::new();
    while acks.len() < 500 {
        let line = lines.next().expect("the writer ended early").unwrap();
        acks.extend(parse_ack(&line));
    }
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, no clean close
    child.wait().unwrap();
    // Acknowledgements still in the pipe were given before the kill: they count too.
    acks.extend(lines.map_while(Result::ok).filter_map(|l| parse_ack(&l)));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = EmbeddedStorage::open(dir.path()).unwrap();
        let current = store.revision().await.unwrap();
        let last_acked = acks.iter().map(|a| a.revision).max().unwrap();
        assert!(
            current >= last_acked,
            "store at {current}, acknowledged {last_acked}"
        );

        // Every acknowledged write is in the event log at its revision, with its value.
        let mut history = store.watch("/registry/durability/", 0).await.unwrap();
        let mut events: BTreeMap<Revision, Event> = BTreeMap::new();
        while events.len() < (current - 1) as usize {
            let event = tokio::time::timeout(Duration::from_secs(10), history.next())
                .await
                .expect("history replays at once")
                .unwrap()
                .unwrap();
            events.insert(event.revision(), event);
        }
        let mut latest: BTreeMap<&str, &Ack> = BTreeMap::new();
        for ack in &acks {
            let event = &events[&ack.revision];
            assert_eq!(event.kv.key, ack.key, "revision {}", ack.revision);
            assert_eq!(event.kv.value, ack.value.as_bytes(), "revision {}", ack.revision);
            let newest = latest.entry(&ack.key).or_insert(ack);
            if ack.revision > newest.revision {
                *newest = ack;
            }
        }
        // And its latest acknowledged value is current, unless a later write landed (one that
        // was committed but not yet printed when the kill came).
        for (key, ack) in latest {
            let kv = store
                .get(key)
                .await
                .unwrap()
                .expect("acknowledged key is present");
            assert!(kv.mod_revision >= ack.revision, "{key} went back in time");
            if kv.mod_revision == ack.revision {
                assert_eq!(kv.value, ack.value.as_bytes());
            }
        }
        eprintln!(
            "{} acknowledged writes verified; the store is at {current}, the last \
             acknowledged write at {last_acked}",
            acks.len()
        );
        let next = store
            .create("/registry/durability/after", "x".into())
            .await
            .unwrap();
        assert_eq!(next.mod_revision, current + 1);
        assert!(next.mod_revision > last_acked);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_preserves_history_revision_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = "/registry/reopen/";
    let (a, a2, b, b_gone, c) = {
        let store = EmbeddedStorage::open(dir.path()).unwrap();
        assert_eq!(
            store.revision().await.unwrap(),
            1,
            "an empty store is at revision 1"
        );
        let a = store.create("/registry/reopen/a", "a1".into()).await.unwrap();
        let b = store.create("/registry/reopen/b", "b1".into()).await.unwrap();
        let a2 = store.update(&a.key, "a2".into(), a.mod_revision).await.unwrap();
        let b_gone = store.delete(&b.key, None).await.unwrap();
        let c = store.create("/registry/reopen/c", "c1".into()).await.unwrap();
        assert_eq!(c.mod_revision, 6);
        (a, a2, b, b_gone, c)
    };

    let store = EmbeddedStorage::open(dir.path()).unwrap();
    assert_eq!(store.revision().await.unwrap(), 6);
    // A watcher resuming from its last revision after the restart misses nothing.
    let mut watch = store.watch(prefix, 1).await.unwrap();
    let mut replay = Vec::new();
    for _ in 0..5 {
        replay.push(watch.next().await.unwrap().unwrap());
    }
    let expect = [
        (EventKind::Create, &a, None),
        (EventKind::Create, &b, None),
        (EventKind::Update, &a2, Some(&a)),
        (EventKind::Delete, &b_gone, Some(&b)),
        (EventKind::Create, &c, None),
    ];
    for (event, (kind, kv, prev)) in replay.iter().zip(expect) {
        assert_eq!((event.kind, &event.kv, event.prev.as_ref()), (kind, kv, prev));
    }
    // Lists at older revisions work on the rebuilt history.
    let at = |revision| ListOptions {
        revision: Some(revision),
        ..ListOptions::default()
    };
    let at_3 = store.list(prefix, &at(3)).await.unwrap();
    assert_eq!(at_3.items, [a.clone(), b.clone()]);
    // Revisions continue; the live watch sees the new write.
    let d = store.create("/registry/reopen/d", "d1".into()).await.unwrap();
    assert_eq!(d.mod_revision, 7);
    assert_eq!(watch.next().await.unwrap().unwrap().kv, d);

    store.compact(4).await.unwrap();
    drop(watch);
    drop(store);

    let store = EmbeddedStorage::open(dir.path()).unwrap();
    assert_eq!(store.revision().await.unwrap(), 7);
    assert!(matches!(
        store.watch(prefix, 3).await,
        Err(Error::Expired {
            requested: 3,
            compacted: 4
        })
    ));
    // The state at the compaction point is kept (b lived from 3 to 5).
    assert_eq!(store.list(prefix, &at(4)).await.unwrap().items, [a2.clone(), b]);
    let mut watch = store.watch(prefix, 4).await.unwrap();
    assert_eq!(watch.next().await.unwrap().unwrap().kv, b_gone);
    assert_eq!(watch.next().await.unwrap().unwrap().kv, c);
    assert_eq!(watch.next().await.unwrap().unwrap().kv, d);
    let now = store.list(prefix, &ListOptions::default()).await.unwrap();
    assert_eq!(now.items, [a2, c, d]);
    let e = store.create("/registry/reopen/e", "e1".into()).await.unwrap();
    assert_eq!(e.mod_revision, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_group_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStorage::open(dir.path()).unwrap());
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create(&format!("/registry/group/{i}"), "v".into())
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.writes, 64);
    assert!(stats.commits < 64, "no write shared a commit: {stats:?}");

    // Compare-and-swaps on one key inside one group: exactly one wins, the others see it.
    let counter = store.create("/registry/group/counter", "0".into()).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let key = counter.key.clone();
            tokio::spawn(async move {
                store
                    .update(&key, i.to_string().into(), counter.mod_revision)
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(kv) => winners.push(kv),
            Err(Error::Conflict { actual, .. }) => assert!(actual > counter.mod_revision),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(store.get(&counter.key).await.unwrap(), winners.pop());
}
