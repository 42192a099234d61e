//! Scheduling throughput of the reference scheduler against the in-process apiserver.
//!
//! `cargo bench -p reference-scheduler --bench scheduling` creates `SCHED_BENCH_NODES` nodes
//! (default 1,000) and measures, in one process:
//!
//! 1. **Baseline: bindings alone.** `SCHED_BENCH_PODS` pending pods (default 2,000) bound by 16
//!    concurrent clients straight to nodes chosen round-robin: the rate at which this apiserver
//!    accepts bindings, the ceiling of any scheduler on it.
//! 2. **The decision alone.** `algorithm::schedule` for each of those pods on a snapshot of the
//!    nodes, on one thread, no I/O: filter until `percentageOfNodesToScore` (adaptive) of the
//!    nodes fit, score those.
//! 3. **The scheduler.** As many pods again, created while no scheduler runs; then a
//!    `Scheduler` starts (informers, cache sync, cycles, bindings, events) and the time until
//!    every pod is bound gives its pods per second, printed as a ratio of the baseline.
//!
//! Without `--bench` (`cargo test --benches`) it runs a tiny size that checks every pod is bound
//! and takes about a second. Everything runs on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube_client::{Api, Client, Config};
use kube_core::params::PostParams;
use reference_apiserver::testing::TestServer;
use reference_scheduler::framework::{NodeInfo, PodInfo, Snapshot};
use reference_scheduler::metrics::Outcome;
use reference_scheduler::{KubeSchedulerConfiguration, Scheduler, algorithm};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const CLIENTS: usize = 16;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client(server: &TestServer) -> Client {
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    Client::new(config).unwrap()
}

fn node(i: usize) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": format!("node-{i:05}"), "labels": {"kubernetes.io/hostname": format!("node-{i:05}"), "zone": format!("zone-{}", i % 3)}},
        "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}, "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"}},
    }))
    .unwrap()
}

/// A pod like scheduler_perf's default: one container with small requests.
fn pod(name: &str, scheduler: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "bench"}},
        "spec": {
            "schedulerName": scheduler,
            "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}],
        },
    }))
    .unwrap()
}

/// Runs `f(i)` for `0..n` on [`CLIENTS`] concurrent tasks.
async fn concurrently<F, Fut>(n: usize, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    futures::stream::iter(0..n)
        .map(f)
        .buffer_unordered(CLIENTS)
        .collect::<()>()
        .await;
}

async fn create_nodes(client: &Client, n: usize) -> Vec<Node> {
    let nodes: Api<Node> = Api::all(client.clone());
    let created = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(n)));
    concurrently(n, |i| {
        let (nodes, created) = (nodes.clone(), created.clone());
        async move {
            let want = node(i);
            let mut made = nodes.create(&PostParams::default(), &want).await.unwrap();
            made.status = want.status;
            let name = made.metadata.name.clone().unwrap();
            let made = nodes
                .replace_status(&name, &PostParams::default(), &made)
                .await
                .unwrap();
            created.lock().push(made);
        }
    })
    .await;
    let mut out = std::mem::take(&mut *created.lock());
    out.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    out
}

async fn create_pods(client: &Client, prefix: &str, scheduler: &str, n: usize) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let created = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(n)));
    concurrently(n, |i| {
        let (pods, created) = (pods.clone(), created.clone());
        let name = format!("{prefix}-{i:06}");
        async move {
            let made = pods
                .create(&PostParams::default(), &pod(&name, scheduler))
                .await
                .unwrap();
            created.lock().push(made);
        }
    })
    .await;
    std::mem::take(&mut *created.lock())
}

fn rate(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (nodes_n, pods_n) = if full {
        (env("SCHED_BENCH_NODES", 1000), env("SCHED_BENCH_PODS", 2000))
    } else {
        (20, 40)
    };
    let server = TestServer::start().await;
    let client = client(&server);
    let t = Instant::now();
    let nodes = create_nodes(&client, nodes_n).await;
    println!(
        "{nodes_n} nodes created in {:.1} s; {pods_n} pods per row, {CLIENTS} clients",
        t.elapsed().as_secs_f64()
    );

    // 1. Bindings alone, to nodes chosen round-robin.
    let direct = create_pods(&client, "direct", "nobody", pods_n).await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let names: Vec<String> = direct.iter().map(|p| p.metadata.name.clone().unwrap()).collect();
    let t = Instant::now();
    concurrently(pods_n, |i| {
        let api = api.clone();
        let (name, node) = (
            names[i].clone(),
            nodes[i % nodes.len()].metadata.name.clone().unwrap(),
        );
        async move {
            api.bind(&name, &node).await.unwrap();
        }
    })
    .await;
    let bind_took = t.elapsed();
    let bind_rate = rate(pods_n, bind_took);
    println!("baseline: {pods_n} bindings from {CLIENTS} clients  {bind_rate:>8.0} pods/s");

    // 2. The decision alone, on a snapshot of the nodes (with the bound pods on them).
    let profile = KubeSchedulerConfiguration::default()
        .profiles()
        .unwrap()
        .remove(0);
    let mut infos: Vec<NodeInfo> = nodes
        .iter()
        .map(|n| {
            let mut info = NodeInfo::default();
            info.set_node(Arc::new(n.clone()));
            info
        })
        .collect();
    for (i, p) in direct.iter().enumerate() {
        infos[i % nodes_n].add_pod(Arc::new(PodInfo::new(Arc::new(p.clone()))));
    }
    let snapshot = Snapshot::of(infos.into_iter().map(Arc::new).collect());
    let candidates: Vec<PodInfo> = (0..pods_n.min(500))
        .map(|i| PodInfo::new(Arc::new(pod(&format!("c-{i}"), "default-scheduler"))))
        .collect();
    let mut rng = rand::rng();
    let mut next = 0;
    let t = Instant::now();
    for c in &candidates {
        algorithm::schedule(&profile, c, &snapshot, &mut next, &mut rng).unwrap();
    }
    let decide = t.elapsed() / candidates.len() as u32;
    println!(
        "decision: filter until {} of {nodes_n} nodes fit, score them  {:>6.0} µs per pod ({:.0} pods/s on one core)",
        algorithm::num_feasible_nodes_to_find(None, nodes_n),
        decide.as_secs_f64() * 1e6,
        1.0 / decide.as_secs_f64()
    );

    // 3. The scheduler, from start to the last binding.
    create_pods(&client, "sched", "default-scheduler", pods_n).await;
    let scheduler = Scheduler::new(client.clone(), &KubeSchedulerConfiguration::default()).unwrap();
    let metrics = scheduler.metrics();
    let stop = CancellationToken::new();
    let t = Instant::now();
    let run = tokio::spawn({
        let stop = stop.clone();
        async move { scheduler.run(stop).await }
    });
    let deadline = t + Duration::from_secs(600);
    while metrics.attempts("default-scheduler", Outcome::Scheduled) < pods_n as u64 {
        assert!(Instant::now() < deadline, "the scheduler did not bind every pod");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = t.elapsed();
    stop.cancel();
    run.await.unwrap();
    let sched_rate = rate(pods_n, took);
    println!(
        "scheduler: {pods_n} pods in {:.2} s        {sched_rate:>8.0} pods/s  = {:.2} x the baseline",
        took.as_secs_f64(),
        sched_rate / bind_rate
    );
    assert_eq!(metrics.attempts("default-scheduler", Outcome::Unschedulable), 0);
    // Every pod bound, and spread: no node holds more than its share plus one.
    let all = api.list(&Default::default()).await.unwrap().items;
    let mut per_node = std::collections::HashMap::<String, usize>::new();
    for p in all.iter().filter(|p| {
        p.metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("sched-"))
    }) {
        let node = p.spec.as_ref().and_then(|s| s.node_name.clone()).expect("bound");
        *per_node.entry(node).or_default() += 1;
    }
    assert_eq!(per_node.values().sum::<usize>(), pods_n);
    let most = per_node.values().max().copied().unwrap_or(0);
    println!(
        "spread: {} nodes used, at most {most} scheduled pods on one",
        per_node.len()
    );
}
