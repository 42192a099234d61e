//! Durability of the real binary: every write the apiserver acknowledged survives `kill -9`.
//!
//! `ref-apiserver --storage embedded` runs as a child process while concurrent kube-client
//! writers create, update and delete ConfigMaps, each recording what the server acknowledged.
//! After a few hundred acknowledgements the server is killed with SIGKILL while writes are in
//! flight, restarted on the same data directory, and what it serves is compared with what was
//! acknowledged. Three kill/restart cycles; each cycle's writers continue from the state the
//! previous check established.
//!
//! What a user may rely on, precisely. For every object, let *A* be the last state the server
//! acknowledged (data and resourceVersion; or "deleted"; or nothing if its create was never
//! acknowledged), and *P* the one write of it that was sent but got no answer (each object has
//! one writer, which stops at its first unanswered write, so there is at most one). After the
//! restart the object is:
//! - with no *P*: exactly *A* (same data, same resourceVersion; absent if *A* is "deleted");
//! - with *P* = create or update to data *d*: either exactly *A*, or data *d* with a
//!   resourceVersion greater than *A*'s (the unanswered write was committed);
//! - with *P* = delete: either exactly *A*, or absent.
//!
//! No other object exists, and the first write after the restart gets a resourceVersion greater
//! than every resourceVersion ever acknowledged (revisions never go back).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::{Api, Client};
use kube_core::ResourceExt;
use kube_core::params::{DeleteParams, ListParams, PostParams};
use serde_json::json;
use support::{Backend, ServerProcess, error_chain, rv_of};

const WRITERS: usize = 8;
const CYCLES: usize = 3;
/// Acknowledged writes per cycle before the kill.
const ACKS_PER_CYCLE: usize = 300;
/// Each writer stops by itself after this many writes per cycle (the kill comes long before).
const MAX_WRITES_PER_CYCLE: usize = 5_000;
const NAMESPACE: &str = "default";

type Data = BTreeMap<String, String>;

/// An acknowledged state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Acked {
    /// Its create was never acknowledged.
    Never,
    /// Present with this data at this resourceVersion.
    Present { data: Data, rv: u64 },
    /// Deleted.
    Deleted,
}

/// A write that was sent and never answered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unanswered {
    /// A create or an update to this data.
    Write(Data),
    /// A delete.
    Delete,
}

#[derive(Debug, Clone)]
struct Object {
    acked: Acked,
    unanswered: Option<Unanswered>,
}

/// What one writer did in one cycle.
#[derive(Debug, Default)]
struct WriterLog {
    /// Its objects (it alone writes them).
    objects: BTreeMap<String, Object>,
    acked_writes: usize,
    /// The error of its unanswered write, if any.
    stopped_by: Option<String>,
}

fn data(writer: usize, cycle: usize, op: usize) -> Data {
    let mut d = Data::new();
    d.insert("write".into(), format!("w{writer}-c{cycle}-op{op}"));
    // Values of varied sizes, so that commits are not all alike.
    d.insert("payload".into(), "x".repeat(64 + (op * 37) % 900));
    d
}

fn config_map(name: &str, data: &Data, rv: Option<u64>) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "resourceVersion": rv.map(|r| r.to_string())},
        "data": data,
    }))
    .expect("a ConfigMap")
}

fn acked_present(cm: &ConfigMap) -> Acked {
    Acked::Present {
        data: cm.data.clone().unwrap_or_default(),
        rv: rv_of(cm.resource_version().as_deref()),
    }
}

/// Write until the first write that gets no answer (the server is gone) or `MAX_WRITES_PER_CYCLE`.
/// Creates new objects, updates (with the acknowledged resourceVersion as precondition) and
/// deletes existing ones. Any error answer is a failure: nothing else writes these objects.
async fn writer(
    w: usize,
    cycle: usize,
    client: Client,
    mut log: WriterLog,
    acks: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
) -> Result<WriterLog, String> {
    let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    let mut next_new = log.objects.len();
    for op in 0..MAX_WRITES_PER_CYCLE {
        let present: Vec<(String, u64)> = log
            .objects
            .iter()
            .filter_map(|(n, o)| match &o.acked {
                Acked::Present { rv, .. } => Some((n.clone(), *rv)),
                _ => None,
            })
            .collect();
        // Mostly creates and updates; some deletes.
        let choice = if present.len() < 3 { 0 } else { op % 6 };
        let d = data(w, cycle, op);
        in_flight.fetch_add(1, Ordering::SeqCst);
        let (name, unanswered, result) = match choice {
            0..=2 => {
                let name = format!("w{w}-{next_new}");
                next_new += 1;
                log.objects.insert(
                    name.clone(),
                    Object {
                        acked: Acked::Never,
                        unanswered: None,
                    },
                );
                let r = api
                    .create(&PostParams::default(), &config_map(&name, &d, None))
                    .await;
                (name, Unanswered::Write(d.clone()), r.map(|cm| acked_present(&cm)))
            }
            3 | 4 => {
                let (name, rv) = present[(op * 7 + w) % present.len()].clone();
                let r = api
                    .replace(&name, &PostParams::default(), &config_map(&name, &d, Some(rv)))
                    .await;
                (name, Unanswered::Write(d.clone()), r.map(|cm| acked_present(&cm)))
            }
            _ => {
                let (name, rv) = present[(op * 5 + w) % present.len()].clone();
                let dp = DeleteParams::default().precondition_resource_version(&rv.to_string());
                let r = api.delete(&name, &dp).await.map(|_| Acked::Deleted);
                (name, Unanswered::Delete, r)
            }
        };
        in_flight.fetch_sub(1, Ordering::SeqCst);
        let object = log.objects.get_mut(&name).expect("the object is in the log");
        match result {
            Ok(state) => {
                if let (Acked::Present { data: got, rv: new }, Acked::Present { rv: old, .. }) =
                    (&state, &object.acked)
                    && new <= old
                {
                    return Err(format!(
                        "writer {w}: {name} updated at resourceVersion {new}, not above {old} ({got:?})"
                    ));
                }
                if let Acked::Present { data: got, .. } = &state
                    && got != &d
                {
                    return Err(format!(
                        "writer {w}: {name}: wrote {:?}, the answer has {:?}",
                        d["write"],
                        got.get("write")
                    ));
                }
                object.acked = state;
                log.acked_writes += 1;
                acks.fetch_add(1, Ordering::SeqCst);
            }
            Err(kube_client::Error::Api(status)) => {
                return Err(format!(
                    "writer {w}: {name}: the server answered {} {}: {}",
                    status.code, status.reason, status.message
                ));
            }
            Err(e) => {
                object.unanswered = Some(unanswered);
                log.stopped_by = Some(error_chain(&e));
                return Ok(log);
            }
        }
    }
    Ok(log)
}

/// Check what the restarted server serves against the writers' logs (see the module
/// documentation); returns the objects with their state now known, and how many unanswered
/// writes turned out committed.
async fn check(client: &Client, logs: Vec<WriterLog>) -> (Vec<WriterLog>, usize, usize) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let list = api
        .list(&ListParams::default())
        .await
        .expect("list after the restart");
    let mut stored: BTreeMap<String, (Data, u64)> = list
        .items
        .iter()
        .map(|cm| {
            (
                cm.name_any(),
                (
                    cm.data.clone().unwrap_or_default(),
                    rv_of(cm.resource_version().as_deref()),
                ),
            )
        })
        .collect();
    let mut problems = Vec::new();
    let (mut unanswered_count, mut committed) = (0, 0);
    let mut out = Vec::new();
    for mut log in logs {
        for (name, object) in log.objects.iter_mut() {
            let now = stored.remove(name);
            let acked_matches = match (&object.acked, &now) {
                (Acked::Never | Acked::Deleted, None) => true,
                (Acked::Present { data, rv }, Some((d, r))) => data == d && rv == r,
                _ => false,
            };
            let unanswered_matches = match (&object.unanswered, &object.acked, &now) {
                (Some(Unanswered::Write(want)), Acked::Present { rv, .. }, Some((d, r))) => {
                    want == d && r > rv
                }
                (Some(Unanswered::Write(want)), Acked::Never, Some((d, _))) => want == d,
                (Some(Unanswered::Delete), Acked::Present { .. }, None) => true,
                _ => false,
            };
            if object.unanswered.is_some() {
                unanswered_count += 1;
            }
            if unanswered_matches && !acked_matches {
                committed += 1;
            }
            if !acked_matches && !unanswered_matches {
                problems.push(format!(
                    "{name}: acknowledged {:?}, unanswered {:?}, but the server has {:?}",
                    brief(&object.acked),
                    object.unanswered.as_ref().map(|u| match u {
                        Unanswered::Write(d) => d["write"].clone(),
                        Unanswered::Delete => "delete".into(),
                    }),
                    now.as_ref().map(|(d, r)| (d.get("write").cloned(), *r)),
                ));
            }
            object.acked = match now {
                Some((data, rv)) => Acked::Present { data, rv },
                // A create that was never committed: the name stays unused.
                None if object.acked == Acked::Never => Acked::Never,
                None => Acked::Deleted,
            };
            object.unanswered = None;
        }
        out.push(log);
    }
    for (name, (d, rv)) in &stored {
        problems.push(format!(
            "{name}: no writer wrote it, yet it exists ({:?} at {rv})",
            d.get("write")
        ));
    }
    assert!(
        problems.is_empty(),
        "after the restart, {} objects are wrong:\n{}",
        problems.len(),
        problems.join("\n")
    );
    (out, unanswered_count, committed)
}

fn brief(a: &Acked) -> String {
    match a {
        Acked::Never => "never".into(),
        Acked::Present { data, rv } => format!("{} at {rv}", data["write"]),
        Acked::Deleted => "deleted".into(),
    }
}

fn max_acked_rv(logs: &[WriterLog]) -> u64 {
    logs.iter()
        .flat_map(|l| l.objects.values())
        .filter_map(|o| match o.acked {
            Acked::Present { rv, .. } => Some(rv),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_of_the_apiserver() {
    let started = Instant::now();
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(Backend::Embedded, data_dir.path()).await;
    let mut logs: Vec<WriterLog> = (0..WRITERS).map(|_| WriterLog::default()).collect();
    // The highest resourceVersion acknowledged so far (deletes answer a Status without one).
    let mut highest_acked = 0u64;
    for cycle in 0..CYCLES {
        let client = server.client();
        let acks = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = logs
            .drain(..)
            .enumerate()
            .map(|(w, mut log)| {
                log.acked_writes = 0;
                log.stopped_by = None;
                tokio::spawn(writer(
                    w,
                    cycle,
                    client.clone(),
                    log,
                    acks.clone(),
                    in_flight.clone(),
                ))
            })
            .collect();
        // Kill once enough writes are acknowledged, while the writers keep writing.
        let deadline = Instant::now() + Duration::from_secs(40);
        while acks.load(Ordering::SeqCst) < ACKS_PER_CYCLE {
            assert!(
                Instant::now() < deadline,
                "only {} writes acknowledged in 40 s",
                acks.load(Ordering::SeqCst)
            );
            assert!(
                !tasks.iter().any(|t| t.is_finished()),
                "a writer stopped before the kill"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let in_flight_at_kill = in_flight.load(Ordering::SeqCst);
        let status = server.kill();
        assert!(!status.success(), "killed, yet exited with {status}");
        for task in tasks {
            let log = tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("writers stop once the server is gone")
                .expect("writer task")
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                log.stopped_by.is_some(),
                "a writer finished {MAX_WRITES_PER_CYCLE} writes before the kill"
            );
            logs.push(log);
        }
        let acked_this_cycle: usize = logs.iter().map(|l| l.acked_writes).sum();
        highest_acked = highest_acked.max(max_acked_rv(&logs));

        server = ServerProcess::start(Backend::Embedded, data_dir.path()).await;
        let client = server.client();
        let (checked, unanswered, committed) = check(&client, std::mem::take(&mut logs)).await;
        logs = checked;

        // Revisions never go back: a new write is above everything acknowledged.
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
        let probe = api
            .create(
                &PostParams::default(),
                &config_map(&format!("probe-{cycle}"), &Data::new(), None),
            )
            .await
            .expect("a write after the restart");
        let probe_rv = rv_of(probe.resource_version().as_deref());
        let highest_now = highest_acked.max(max_acked_rv(&logs));
        assert!(
            probe_rv > highest_now,
            "new write at {probe_rv}, but {highest_now} was acknowledged before"
        );
        api.delete(&probe.name_any(), &DeleteParams::default())
            .await
            .expect("delete the probe");
        highest_acked = probe_rv;
        eprintln!(
            "cycle {cycle}: {acked_this_cycle} writes acknowledged, {in_flight_at_kill} in flight at SIGKILL, \
             {unanswered} unanswered ({committed} of them committed); {} objects checked; {:?} elapsed",
            logs.iter().map(|l| l.objects.len()).sum::<usize>(),
            started.elapsed()
        );
    }
    // The last restart, checked once more by a plain read of every object.
    let api: Api<ConfigMap> = Api::namespaced(server.client(), NAMESPACE);
    let names: BTreeSet<String> = logs
        .iter()
        .flat_map(|l| l.objects.iter())
        .filter(|(_, o)| matches!(o.acked, Acked::Present { .. }))
        .map(|(n, _)| n.clone())
        .collect();
    for name in &names {
        api.get(name).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
