//! End-to-end benchmarks of the reference apiserver: kube-client clients against the server over
//! loopback.
//!
//! `cargo bench -p reference-apiserver --bench apiserver` measures:
//!
//! 1. **Create throughput**: 10,000 pods of about 2 KB from 16 concurrent clients against an
//!    in-process server on memory storage and on embedded (durable) storage, compared with the
//!    bare-etcd anchor: `ETCD_ANCHOR_WRITES_PER_SEC` (what `scripts/bench-etcd-anchor` prints
//!    for this machine), else 5,900 writes/s (`etcdctl check perf --load=l` on the reference
//!    machine). Then the CPU cost of each step of the create path, measured on one thread.
//! 2. **List latency** of those 10,000 pods: full lists, `resourceVersion=0` lists, paged lists
//!    (limit 500) and typed `Api::<Pod>::list`, next to the client-side decoding of the same
//!    bytes, so that the server's share is visible.
//! 3. **Watch fan-out**: 1,000 watchers of a `ref-apiserver` child process, then 1,000 ConfigMap
//!    updates at a steady pace; the latency from each write to each watcher's receipt, and the
//!    server process's RSS.
//! 4. **Memory**: the RSS of a `ref-apiserver` child holding 100,000 small ConfigMaps, on memory
//!    and on embedded storage, and of the embedded one restarted on the same data.
//!
//! Everything runs on 127.0.0.1. Without `--bench` (`cargo test --benches`) it does a tiny smoke
//! run of every part that checks the results and takes a few seconds.

mod apiserver_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver_support::{
    Backend, Percentiles, ServerProcess, client, dir_size, mib, ms, open_files_limit, pod, self_cpu,
    self_rss, self_threads_cpu, small_configmap, us,
};
use bytes::Bytes;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube_client::{Api, Client};
use kube_core::params::{ListParams, PatchParams, PostParams, WatchParams};
use kube_core::{ObjectList, Patch, ResourceExt, WatchEvent};
use reference_apiserver::server::{ApiState, ServerConfig};
use reference_apiserver::storage::{self, CompactionPolicy, EmbeddedStorage, Storage, StorageKind};
use reference_apiserver::testing::TestServer;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

/// The namespace every benchmark object lives in.
const NS: &str = "bench";
/// `etcdctl check perf --load=l` on the machine of the issue.
const DEFAULT_ETCD_ANCHOR: f64 = 5900.0;

/// How much of everything.
struct Sizes {
    pods: usize,
    clients: usize,
    lists: usize,
    typed_lists: usize,
    paged_walks: usize,
    page: u32,
    profile_iterations: usize,
    fsync_probes: usize,
    watchers: usize,
    watch_clients: usize,
    events: usize,
    events_per_second: f64,
    configmaps: usize,
}

const FULL: Sizes = Sizes {
    pods: 10_000,
    clients: 16,
    lists: 50,
    typed_lists: 10,
    paged_walks: 10,
    page: 500,
    profile_iterations: 2_000,
    fsync_probes: 200,
    watchers: 1_000,
    watch_clients: 8,
    events: 1_000,
    events_per_second: 100.0,
    configmaps: 100_000,
};

const SMOKE: Sizes = Sizes {
    pods: 48,
    clients: 4,
    lists: 3,
    typed_lists: 2,
    paged_walks: 2,
    page: 20,
    profile_iterations: 3,
    fsync_probes: 5,
    watchers: 12,
    watch_clients: 3,
    events: 10,
    events_per_second: 200.0,
    configmaps: 100,
};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full { FULL } else { SMOKE };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    runtime.block_on(async {
        println!("reference apiserver benchmark ({}; {} CPUs; kube-client over loopback HTTP/1.1)",
            if full { "full run" } else { "smoke run: `cargo bench` for figures" },
            std::thread::available_parallelism().map_or(0, |n| n.get()));
        println!("(clients and in-process servers share one 2-worker tokio runtime; other work on the machine may run too:\n compare ratios measured in the same run)\n");
        let anchor = anchor();
        create_and_list(&sizes, anchor).await;
        watch_fanout(&sizes).await;
        memory(&sizes).await;
    });
    println!("\ntotal time {:.1?}", started.elapsed());
    // The in-process servers' background tasks hold their stores; do not wait for them.
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// The bare-etcd figure to compare create throughput with, and where it comes from.
fn anchor() -> (f64, &'static str) {
    match std::env::var("ETCD_ANCHOR_WRITES_PER_SEC")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        Some(v) if v > 0.0 => (
            v,
            "ETCD_ANCHOR_WRITES_PER_SEC, from scripts/bench-etcd-anchor on this machine",
        ),
        _ => (
            DEFAULT_ETCD_ANCHOR,
            "etcdctl check perf --load=l of the issue; run scripts/bench-etcd-anchor and pass ETCD_ANCHOR_WRITES_PER_SEC for this machine's",
        ),
    }
}

/// How long an fdatasync of a small append takes in `dir`.
fn fsync_latency(dir: &std::path::Path, times: usize) -> Percentiles {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).expect("probe file");
    let block = [0u8; 4096];
    let mut lat = Vec::with_capacity(times);
    for _ in 0..times {
        file.write_all(&block).expect("write");
        let t = Instant::now();
        file.sync_data().expect("fdatasync");
        lat.push(t.elapsed());
    }
    drop(file);
    let _ = std::fs::remove_file(path);
    Percentiles::of(&mut lat)
}

/// The scratch directory of durable stores: the target directory, so that fsyncs hit the disk
/// the store would live on.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir")
}

async fn ensure_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(e) if e.is_already_exists() => {}
        Err(e) => panic!("create namespace {name}: {e}"),
    }
}

/// One value of a metric of the text exposition, summed over the series whose labels include
/// all of `labels`.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .filter(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Mean of a histogram between two scrapes.
fn histogram_mean(before: &str, after: &str, name: &str, labels: &[(&str, &str)]) -> Option<Duration> {
    let sum = metric(after, &format!("{name}_sum"), labels) - metric(before, &format!("{name}_sum"), labels);
    let count =
        metric(after, &format!("{name}_count"), labels) - metric(before, &format!("{name}_count"), labels);
    (count > 0.0).then(|| Duration::from_secs_f64(sum / count))
}

// ------------------------------------------------------------------------------------------
// 1. Create throughput, and 2. list latency
// ------------------------------------------------------------------------------------------

struct CreateRun {
    backend: &'static str,
    pods: usize,
    elapsed: Duration,
    latency: Percentiles,
    cpu: Duration,
    writer_cpu: Duration,
    server_mean: Option<Duration>,
    storage_mean: Option<Duration>,
    writes_per_commit: Option<f64>,
    fsyncs_per_second: Option<f64>,
}

impl CreateRun {
    fn per_second(&self) -> f64 {
        self.pods as f64 / self.elapsed.as_secs_f64()
    }
}

/// `sizes.pods` pods from `sizes.clients` clients, each with one request in flight.
async fn create_pods(
    server: &TestServer,
    sizes: &Sizes,
    backend: &'static str,
    embedded: Option<&EmbeddedStorage>,
) -> CreateRun {
    let url = server.url();
    let setup = client(&url);
    ensure_namespace(&setup, NS).await;
    ensure_namespace(&setup, "warmup").await;
    let apis: Vec<Client> = (0..sizes.clients).map(|_| client(&url)).collect();
    // Warm-up: a connection per client and the first-use costs, outside the measurement.
    for (c, cl) in apis.iter().enumerate() {
        let api: Api<Pod> = Api::namespaced(cl.clone(), "warmup");
        api.create(&PostParams::default(), &pod(&format!("warm-{c}")))
            .await
            .expect("warm-up create");
    }
    let metrics_before = String::from_utf8_lossy(&server.state().metrics.encode()).into_owned();
    let stats_before = embedded.map(EmbeddedStorage::stats);
    let (cpu0, writer0) = (self_cpu(), self_threads_cpu("storage-writer"));
    let start = Instant::now();
    let tasks: Vec<_> = apis
        .into_iter()
        .enumerate()
        .map(|(c, cl)| {
            let (clients, total) = (sizes.clients, sizes.pods);
            tokio::spawn(async move {
                let api: Api<Pod> = Api::namespaced(cl, NS);
                let mut latencies = Vec::with_capacity(total / clients + 1);
                for i in (c..total).step_by(clients) {
                    let p = pod(&format!("checkout-{i:06}"));
                    let t = Instant::now();
                    let created = api.create(&PostParams::default(), &p).await.expect("create pod");
                    latencies.push(t.elapsed());
                    assert!(created.uid().is_some() && created.resource_version().is_some());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(sizes.pods);
    for t in tasks {
        latencies.extend(t.await.expect("client task"));
    }
    let elapsed = start.elapsed();
    let (cpu, writer_cpu) = (self_cpu() - cpu0, self_threads_cpu("storage-writer") - writer0);
    let metrics_after = String::from_utf8_lossy(&server.state().metrics.encode()).into_owned();
    assert_eq!(latencies.len(), sizes.pods);
    let commits = embedded.zip(stats_before).map(|(e, b)| {
        let a = e.stats();
        (a.commits - b.commits, a.writes - b.writes)
    });
    CreateRun {
        backend,
        pods: sizes.pods,
        elapsed,
        latency: Percentiles::of(&mut latencies),
        cpu,
        writer_cpu,
        server_mean: histogram_mean(
            &metrics_before,
            &metrics_after,
            "apiserver_request_duration_seconds",
            &[("verb", "create"), ("resource", "pods")],
        ),
        storage_mean: histogram_mean(
            &metrics_before,
            &metrics_after,
            "apiserver_storage_duration_seconds",
            &[("operation", "create")],
        ),
        writes_per_commit: commits.map(|(c, w)| w as f64 / c.max(1) as f64),
        fsyncs_per_second: commits.map(|(c, _)| c as f64 / elapsed.as_secs_f64()),
    }
}

async fn create_and_list(sizes: &Sizes, (anchor, anchor_source): (f64, &str)) {
    let memory_store = storage::open(StorageKind::Memory, std::path::Path::new("")).expect("memory storage");
    let memory_server = TestServer::start_with(memory_store, ServerConfig::default()).await;
    let memory = create_pods(&memory_server, sizes, "memory", None).await;
    let profile_state = memory_server.state().clone();

    let dir = scratch();
    let embedded_store = Arc::new(EmbeddedStorage::open(dir.path()).expect("embedded storage"));
    let as_dyn: Arc<dyn Storage> = embedded_store.clone();
    storage::spawn_compactor(Arc::downgrade(&as_dyn), CompactionPolicy::default());
    let embedded_server = TestServer::start_with(as_dyn, ServerConfig::default()).await;
    let embedded = create_pods(&embedded_server, sizes, "embedded", Some(&embedded_store)).await;

    println!(
        "1. create throughput: {} pods (~2 KB each as sent), {} concurrent kube-client clients, in-process server",
        sizes.pods, sizes.clients
    );
    println!(
        "   {:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>12}",
        "storage",
        "pods/s",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU us/pod",
        "server ms",
        "storage ms",
        "writes/fsync"
    );
    for r in [&memory, &embedded] {
        println!(
            "   {:<10} {:>9.0} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>12}",
            r.backend,
            r.per_second(),
            ms(r.latency.mean),
            ms(r.latency.p50),
            ms(r.latency.p99),
            ms(r.latency.max),
            us(r.cpu / r.pods as u32),
            r.server_mean.map_or("-".into(), ms),
            r.storage_mean.map_or("-".into(), ms),
            r.writes_per_commit.map_or("-".into(), |w| format!("{w:.1}"))
        );
    }
    println!(
        "   (CPU us/pod: this whole process, clients and server; server ms: mean in the server's create handler path;"
    );
    println!("    storage ms: mean storage create, i.e. waiting for the group commit and its fsync)");
    if let Some(f) = embedded.fsyncs_per_second {
        println!(
            "   embedded: {f:.0} commits (fsyncs)/s; storage-writer thread CPU {:.2?} ({} us/pod)",
            embedded.writer_cpu,
            us(embedded.writer_cpu / embedded.pods as u32)
        );
    }
    let fsync = fsync_latency(dir.path(), sizes.fsync_probes);
    println!(
        "   fsync of this disk (4 KiB append + fdatasync, {} times): p50 {} ms, p99 {} ms: with one write in flight per",
        fsync.n,
        ms(fsync.p50),
        ms(fsync.p99)
    );
    println!(
        "   client, a store that fsyncs before it acknowledges does at most {} clients / fsync = {:.0} writes/s",
        sizes.clients,
        sizes.clients as f64 / fsync.p50.as_secs_f64()
    );
    println!(
        "   ratio embedded / memory:          {:>6.2}x",
        embedded.per_second() / memory.per_second()
    );
    println!(
        "   ratio embedded / bare etcd:       {:>6.2}x  (etcd: {anchor:.0} writes/s, {anchor_source})",
        embedded.per_second() / anchor
    );
    println!(
        "   goal (embedded >= bare etcd):     {}",
        if embedded.per_second() >= anchor {
            "met"
        } else {
            "MISSED"
        }
    );
    println!();

    list_latencies(&embedded_server, sizes).await;
    let iterations = sizes.profile_iterations;
    tokio::task::spawn_blocking(move || create_path_profile(&profile_state, iterations, &memory, &embedded))
        .await
        .expect("profile");
    drop(dir);
}

#[derive(Deserialize)]
struct ListPage {
    metadata: kube_core::ListMeta,
    items: Vec<IgnoredAny>,
}

async fn fetch(client: &Client, path: &str) -> (Bytes, Duration) {
    let t = Instant::now();
    let req = http::Request::get(path).body(Vec::new()).expect("request");
    let resp = client.send(req, false).await.expect("list");
    let bytes = resp.bytes().await.expect("list body");
    (bytes, t.elapsed())
}

fn count_items(bytes: &[u8]) -> ListPage {
    serde_json::from_slice(bytes).expect("a list")
}

async fn list_latencies(server: &TestServer, sizes: &Sizes) {
    let client = client(&server.url());
    let path = format!("/api/v1/namespaces/{NS}/pods");
    let n = sizes.pods;
    let mut rows: Vec<(String, Percentiles, Option<usize>)> = Vec::new();

    let mut run = async |label: &str, query: &str, times: usize| -> Bytes {
        let (first, _) = fetch(&client, &format!("{path}{query}")).await; // warm-up
        assert_eq!(count_items(&first).items.len(), n, "{label}: every pod");
        let mut lat = Vec::with_capacity(times);
        for _ in 0..times {
            let (_, d) = fetch(&client, &format!("{path}{query}")).await;
            lat.push(d);
        }
        rows.push((label.to_string(), Percentiles::of(&mut lat), Some(first.len())));
        first
    };
    let full = run("full list (no resourceVersion)", "", sizes.lists).await;
    run("resourceVersion=0 list", "?resourceVersion=0", sizes.lists).await;

    // Paged: every page of a walk, and the walks.
    let mut pages = Vec::new();
    let mut walks = Vec::new();
    let mut page_bytes = 0;
    for _ in 0..sizes.paged_walks {
        let mut token: Option<String> = None;
        let mut seen = 0;
        let mut walk = Duration::ZERO;
        loop {
            let query = match &token {
                None => format!("?limit={}", sizes.page),
                Some(t) => format!("?limit={}&continue={t}", sizes.page),
            };
            let (bytes, d) = fetch(&client, &format!("{path}{query}")).await;
            pages.push(d);
            walk += d;
            page_bytes = page_bytes.max(bytes.len());
            let page = count_items(&bytes);
            seen += page.items.len();
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, n, "a paged walk returns every pod once");
        walks.push(walk);
    }
    let pages_per_walk = pages.len() / sizes.paged_walks.max(1);
    rows.push((
        format!("paged limit={}: one page", sizes.page),
        Percentiles::of(&mut pages),
        Some(page_bytes),
    ));
    rows.push((
        format!("paged limit={}: whole walk ({pages_per_walk} pages)", sizes.page),
        Percentiles::of(&mut walks),
        None,
    ));

    // Typed, as kube-client callers see it.
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let mut typed = Vec::new();
    for _ in 0..sizes.typed_lists {
        let t = Instant::now();
        let list = api.list(&ListParams::default()).await.expect("typed list");
        typed.push(t.elapsed());
        assert_eq!(list.items.len(), n);
    }
    rows.push((
        "Api::<Pod>::list (fetch + typed decode)".into(),
        Percentiles::of(&mut typed),
        None,
    ));

    // Client-side decoding of the same bytes, no server involved.
    let mut decode = |label: &str, f: &dyn Fn(&[u8]) -> usize| {
        let mut lat = Vec::new();
        for _ in 0..sizes.typed_lists {
            let t = Instant::now();
            let items = f(&full);
            lat.push(t.elapsed());
            assert_eq!(items, n);
        }
        rows.push((label.to_string(), Percentiles::of(&mut lat), None));
    };
    decode("decode only: ObjectList<Pod> (typed)", &|b| {
        serde_json::from_slice::<ObjectList<Pod>>(b)
            .expect("pods")
            .items
            .len()
    });
    decode("decode only: serde_json::Value", &|b| {
        serde_json::from_slice::<Value>(b).expect("json")["items"]
            .as_array()
            .map_or(0, Vec::len)
    });
    decode("scan only: IgnoredAny items", &|b| count_items(b).items.len());

    println!(
        "2. list latency, {n} pods in one namespace (embedded storage; full-list body {} MiB, {} bytes/pod served)",
        mib(full.len() as u64),
        full.len() / n.max(1)
    );
    println!(
        "   {:<48} {:>5} {:>9} {:>9} {:>9} {:>9}",
        "request", "n", "p50 ms", "p99 ms", "max ms", "body MiB"
    );
    for (label, p, size) in &rows {
        println!(
            "   {:<48} {:>5} {:>9} {:>9} {:>9} {:>9}",
            label,
            p.n,
            ms(p.p50),
            ms(p.p99),
            ms(p.max),
            size.map_or("-".into(), |s| mib(s as u64))
        );
    }
    let get = |prefix: &str| {
        rows.iter()
            .find(|(l, _, _)| l.starts_with(prefix))
            .map(|(_, p, _)| p.p50)
            .unwrap_or_default()
    };
    let (fetch_full, fetch_rv0) = (get("full list"), get("resourceVersion=0"));
    let (typed_p50, decode_typed) = (get("Api::<Pod>"), get("decode only: ObjectList"));
    println!(
        "   full list fetch / typed decode of the same bytes:   {:.2}x  (rv=0: {:.2}x)",
        fetch_full.as_secs_f64() / decode_typed.as_secs_f64(),
        fetch_rv0.as_secs_f64() / decode_typed.as_secs_f64()
    );
    println!(
        "   typed decode's share of Api::<Pod>::list p50:      {:.0}%",
        100.0 * decode_typed.as_secs_f64() / typed_p50.as_secs_f64()
    );
    println!(
        "   (fetch = request until the last body byte arrived: the server's work plus loopback transfer)"
    );
    println!();
}

/// The create path taken apart: each step of the handler on the benchmark pod, timed on one
/// thread with the public functions the handler calls.
fn create_path_profile(state: &ApiState, iterations: usize, memory: &CreateRun, embedded: &CreateRun) {
    let def = state
        .registry
        .get("", "v1", "pods")
        .expect("pods are registered")
        .clone();
    let codec = def.codec.expect("pods have a typed codec");
    let p = pod("checkout-profile");
    let n = iterations.max(1);
    let mut rows: Vec<(&str, Duration, bool)> = Vec::new();
    let mut time = |label: &'static str, server: bool, f: &mut dyn FnMut()| {
        f(); // warm
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        rows.push((label, t.elapsed() / n as u32, server));
    };

    let body = serde_json::to_vec(&p).expect("pod serialises");
    time("client: serialise Pod to JSON", false, &mut || {
        std::hint::black_box(serde_json::to_vec(std::hint::black_box(&p)).expect("json"));
    });
    time("parse body to serde_json::Value", true, &mut || {
        std::hint::black_box(serde_json::from_slice::<Value>(&body).expect("json"));
    });
    // The object as the handler has it before decoding: identity and server-set metadata.
    let mut obj: Value = serde_json::from_slice(&body).expect("json");
    {
        let meta = obj["metadata"].as_object_mut().expect("metadata");
        meta.insert("namespace".into(), NS.into());
        meta.insert("uid".into(), reference_apiserver::object::new_uid().into());
        meta.insert(
            "creationTimestamp".into(),
            reference_apiserver::object::now_rfc3339().into(),
        );
        obj["status"] = json!({"phase": "Pending"});
    }
    time("typed round trip (Value -> Pod -> Value)", true, &mut || {
        std::hint::black_box(codec(&obj).expect("typed"));
    });
    let typed = codec(&obj).expect("typed");
    time(
        "clone of the object (cost inside the next rows)",
        true,
        &mut || {
            std::hint::black_box(typed.clone());
        },
    );
    time("defaults (incl. clone)", true, &mut || {
        let mut o = typed.clone();
        reference_apiserver::defaults::default("", "Pod", &mut o);
        std::hint::black_box(o);
    });
    let mut defaulted = typed.clone();
    reference_apiserver::defaults::default("", "Pod", &mut defaulted);
    let errors = reference_apiserver::validation::validate("", "Pod", true, &defaulted, None);
    assert!(errors.is_empty(), "the benchmark pod is valid: {errors:?}");
    time("validation", true, &mut || {
        std::hint::black_box(reference_apiserver::validation::validate(
            "", "Pod", true, &defaulted, None,
        ));
    });
    time("to storage bytes (incl. clone)", true, &mut || {
        std::hint::black_box(reference_apiserver::object::to_storage(defaulted.clone()));
    });
    let stored = reference_apiserver::object::to_storage(defaulted.clone());
    time("response: parse stored bytes + serialise", true, &mut || {
        let v = reference_apiserver::object::from_storage(&stored, 42).expect("stored json");
        std::hint::black_box(serde_json::to_vec(&v).expect("json"));
    });
    let key = def.key(Some(NS), "checkout-profile");
    time("watch cache: decode the event", true, &mut || {
        std::hint::black_box(state.cache.decode(&def.key_prefix(), &key, &stored, 42));
    });
    let response = serde_json::to_vec(&reference_apiserver::object::from_storage(&stored, 42).expect("json"))
        .expect("json");
    time("client: decode the response into Pod", false, &mut || {
        std::hint::black_box(serde_json::from_slice::<Pod>(&response).expect("pod"));
    });

    let clone = rows
        .iter()
        .find(|r| r.0.starts_with("clone"))
        .map_or(Duration::ZERO, |r| r.1);
    let net = |label: &str, d: Duration| {
        if label.contains("incl. clone") {
            d.saturating_sub(clone)
        } else {
            d
        }
    };
    let server: Duration = rows
        .iter()
        .filter(|r| r.2 && !r.0.starts_with("clone"))
        .map(|r| net(r.0, r.1))
        .sum::<Duration>()
        + clone * 2;
    let client_side: Duration = rows.iter().filter(|r| !r.2).map(|r| r.1).sum();
    println!(
        "1b. create path, CPU per pod by step (one thread, {n} iterations; body {} bytes as sent, {} stored, {} served)",
        body.len(),
        stored.len(),
        response.len()
    );
    println!("   {:<50} {:>9}", "step", "us/pod");
    for (label, d, _) in &rows {
        println!("   {:<50} {:>9}", label, us(*d));
    }
    println!(
        "   {:<50} {:>9}",
        "server steps above (clones counted once each)",
        us(server)
    );
    println!("   {:<50} {:>9}", "client steps above", us(client_side));
    for r in [memory, embedded] {
        let per_pod = r.cpu / r.pods as u32;
        println!(
            "   measured {:<8} whole process: {:>7} us/pod CPU -> {:.0}% in the steps above; the rest is HTTP (hyper/reqwest),",
            r.backend,
            us(per_pod),
            100.0 * (server + client_side).as_secs_f64() / per_pod.as_secs_f64()
        );
        println!("            routing, metrics, storage, tasks and allocation");
    }
    println!(
        "   JSON (de)serialisations per create on the server: body parse, typed decode + encode, storage encode,"
    );
    println!("   response parse + encode, watch-cache parse + encode: 7 passes over the object");
    println!();
}

// ------------------------------------------------------------------------------------------
// 3. Watch fan-out
// ------------------------------------------------------------------------------------------

async fn watch_fanout(sizes: &Sizes) {
    let limit = open_files_limit();
    // One connection per watch (HTTP/1.1) in this process and one in the server, plus headroom.
    let watchers = sizes.watchers.min(limit.saturating_sub(256) as usize).max(1);
    let events = sizes.events;
    let dir = scratch();
    let (server, _) = ServerProcess::start(Backend::Embedded, dir.path()).await;
    let url = server.url();
    let setup = client(&url);
    ensure_namespace(&setup, NS).await;
    let writer: Api<ConfigMap> = Api::namespaced(setup.clone(), NS);
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "fanout"}, "data": {"seq": "0"}})).expect("cm");
    let created = writer
        .create(&PostParams::default(), &cm)
        .await
        .expect("create configmap");
    let rv = created.resource_version().expect("resourceVersion");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_idle = server.rss();
    let bench_rss_idle = self_rss();

    let epoch = Instant::now();
    let clients: Vec<Client> = (0..sizes.watch_clients).map(|_| client(&url)).collect();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(watchers);
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let run_for = Duration::from_secs_f64(events as f64 / sizes.events_per_second);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120) + run_for + Duration::from_secs(30);
    let tasks: Vec<_> = (0..watchers)
        .map(|w| {
            let api: Api<ConfigMap> = Api::namespaced(clients[w % clients.len()].clone(), NS);
            let (gate, ready, rv) = (gate.clone(), ready_tx.clone(), rv.clone());
            tokio::spawn(async move {
                let stream = {
                    let _permit = gate.acquire().await.expect("gate");
                    api.watch(&WatchParams::default().fields("metadata.name=fanout"), &rv)
                        .await
                        .expect("watch")
                };
                let _ = ready.send(()).await;
                let mut stream = std::pin::pin!(stream);
                let mut got: Vec<(u32, u64)> = Vec::with_capacity(events);
                let mut failure = None;
                while got.len() < events {
                    match tokio::time::timeout_at(deadline, stream.next()).await {
                        Ok(Some(Ok(WatchEvent::Modified(cm)))) => {
                            let at = epoch.elapsed().as_nanos() as u64;
                            let seq = cm
                                .data
                                .as_ref()
                                .and_then(|d| d.get("seq"))
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(0);
                            got.push((seq, at));
                        }
                        Ok(Some(Ok(WatchEvent::Bookmark(_)))) => {}
                        Ok(Some(Ok(other))) => failure = Some(format!("unexpected event {other:?}")),
                        Ok(Some(Err(e))) => failure = Some(format!("stream error {e}")),
                        Ok(None) => failure = Some("stream ended".into()),
                        Err(_) => failure = Some("deadline".into()),
                    }
                    if failure.is_some() {
                        break;
                    }
                }
                (got, failure)
            })
        })
        .collect();
    drop(ready_tx);
    let connect = Instant::now();
    for _ in 0..watchers {
        tokio::time::timeout(Duration::from_secs(120), ready_rx.recv())
            .await
            .expect("watchers connect within 120 s")
            .expect("a watcher task failed to connect");
    }
    let connect_time = connect.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_watchers = server.rss();
    let bench_rss_watchers = self_rss();

    // The writer: one merge patch per tick, each carrying its sequence number.
    let (server_cpu0, bench_cpu0) = (server.cpu(), self_cpu());
    let mut sent = vec![0u64; events + 1];
    let mut acked = vec![0u64; events + 1];
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / sizes.events_per_second));
    let writes_start = Instant::now();
    for seq in 1..=events {
        tick.tick().await;
        sent[seq] = epoch.elapsed().as_nanos() as u64;
        let patch = Patch::Merge(json!({"data": {"seq": seq.to_string()}}));
        writer
            .patch("fanout", &PatchParams::default(), &patch)
            .await
            .expect("patch");
        acked[seq] = epoch.elapsed().as_nanos() as u64;
    }
    let writes_elapsed = writes_start.elapsed();
    let mut results = Vec::with_capacity(watchers);
    for t in tasks {
        results.push(t.await.expect("watcher task"));
    }
    let delivered_in = writes_start.elapsed();
    let (server_cpu, bench_cpu) = (server.cpu() - server_cpu0, self_cpu() - bench_cpu0);
    let rss_after = server.rss();
    let rss_peak = server.peak_rss();

    let mut from_sent = Vec::with_capacity(watchers * events);
    let mut from_ack = Vec::with_capacity(watchers * events);
    let mut last_per_event = vec![0u64; events + 1];
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut out_of_order = 0;
    for (got, failure) in &results {
        if let Some(f) = failure {
            *failures.entry(f.clone()).or_default() += 1;
        }
        let mut previous = 0;
        for &(seq, at) in got {
            let seq = seq as usize;
            if seq <= previous || seq > events {
                out_of_order += 1;
                continue;
            }
            previous = seq;
            from_sent.push(at.saturating_sub(sent[seq]));
            from_ack.push(at.saturating_sub(acked[seq]));
            last_per_event[seq] = last_per_event[seq].max(at);
        }
    }
    let delivered = from_sent.len();
    let mut complete: Vec<u64> = (1..=events)
        .map(|s| last_per_event[s].saturating_sub(sent[s]))
        .collect();
    let mut write_latency: Vec<u64> = (1..=events).map(|s| acked[s] - sent[s]).collect();
    let p_sent = Percentiles::of_nanos(&mut from_sent);
    let p_ack = Percentiles::of_nanos(&mut from_ack);
    let p_complete = Percentiles::of_nanos(&mut complete);
    let p_write = Percentiles::of_nanos(&mut write_latency);

    println!(
        "3. watch fan-out: {watchers} watchers (ref-apiserver child process, embedded storage; {} clients, one HTTP/1.1",
        clients.len()
    );
    println!(
        "   connection per watch; open-files limit {limit}), {events} ConfigMap updates at {:.0}/s (took {:.1?})",
        sizes.events_per_second, writes_elapsed
    );
    println!(
        "   watchers connected in {connect_time:.2?}; delivered {delivered} of {} events in {delivered_in:.1?}{}",
        watchers * events,
        if out_of_order > 0 {
            format!(", {out_of_order} out of order")
        } else {
            String::new()
        }
    );
    for (f, count) in &failures {
        println!("   watchers that stopped early: {count} ({f})");
    }
    println!(
        "   {:<56} {:>8} {:>8} {:>8} {:>8}",
        "latency", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (label, p) in [
        ("write sent -> watcher received (incl. the write itself)", p_sent),
        ("write acknowledged -> watcher received", p_ack),
        ("write sent -> acknowledged (the write)", p_write),
        ("write sent -> the last of the watchers received", p_complete),
    ] {
        println!(
            "   {:<56} {:>8} {:>8} {:>8} {:>8}",
            label,
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.max)
        );
    }
    println!("   (received = when kube-client yielded the decoded event: includes the client's decoding)");
    println!(
        "   goal p99 < 100 ms (write sent -> received): {}",
        if p_sent.p99 < Duration::from_millis(100) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "   server RSS: idle {} MiB, with {watchers} watchers {} MiB ({:.1} KiB per watcher), after the events {} MiB, peak {} MiB",
        mib(rss_idle),
        mib(rss_watchers),
        rss_watchers.saturating_sub(rss_idle) as f64 / 1024.0 / watchers as f64,
        mib(rss_after),
        mib(rss_peak)
    );
    println!(
        "   bench process (the clients) RSS: {} MiB idle, {} MiB with the watchers",
        mib(bench_rss_idle),
        mib(bench_rss_watchers)
    );
    println!(
        "   CPU during the events: server {server_cpu:.2?} ({} us per delivered event), clients {bench_cpu:.2?} ({} us per event)",
        us(server_cpu / delivered.max(1) as u32),
        us(bench_cpu / delivered.max(1) as u32)
    );
    println!();
    assert!(
        failures.is_empty() && out_of_order == 0 && delivered == watchers * events,
        "every watcher receives every event, in order: {failures:?}"
    );
    server.kill();
}

// ------------------------------------------------------------------------------------------
// 4. Memory
// ------------------------------------------------------------------------------------------

struct MemoryRun {
    backend: &'static str,
    startup: Duration,
    rss_before: u64,
    rss_after: u64,
    peak: u64,
    creates_per_second: f64,
    server_cpu_per_object: Duration,
    disk: Option<u64>,
    restart: Option<(Duration, u64)>,
}

async fn create_configmaps(url: &str, sizes: &Sizes) -> Duration {
    let setup = client(url);
    ensure_namespace(&setup, NS).await;
    let start = Instant::now();
    let tasks: Vec<_> = (0..sizes.clients)
        .map(|c| {
            let api: Api<ConfigMap> = Api::namespaced(client(url), NS);
            let (clients, total) = (sizes.clients, sizes.configmaps);
            tokio::spawn(async move {
                for i in (c..total).step_by(clients) {
                    api.create(&PostParams::default(), &small_configmap(&format!("cm-{i:07}"), i))
                        .await
                        .expect("create configmap");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("client task");
    }
    start.elapsed()
}

async fn count_configmaps(url: &str) -> usize {
    let api: Api<ConfigMap> = Api::namespaced(client(url), NS);
    let page = api.list(&ListParams::default().limit(1)).await.expect("list");
    page.items.len() + page.metadata.remaining_item_count.unwrap_or(0) as usize
}

async fn memory(sizes: &Sizes) {
    let n = sizes.configmaps;
    let mut runs = Vec::new();
    let mut stored_size = 0;
    for backend in [Backend::Memory, Backend::Embedded] {
        let dir = scratch();
        let (server, startup) = ServerProcess::start(backend, dir.path()).await;
        let url = server.url();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_before = server.rss();
        let cpu0 = server.cpu();
        let elapsed = create_configmaps(&url, sizes).await;
        let cpu = server.cpu() - cpu0;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rss_after, peak) = (server.rss(), server.peak_rss());
        assert_eq!(
            count_configmaps(&url).await,
            n,
            "{}: every ConfigMap stored",
            backend.name()
        );
        if stored_size == 0 {
            let one = Api::<ConfigMap>::namespaced(client(&url), NS)
                .get("cm-0000001")
                .await
                .expect("get");
            stored_size = serde_json::to_vec(&one).expect("json").len();
        }
        let mut run = MemoryRun {
            backend: backend.name(),
            startup,
            rss_before,
            rss_after,
            peak,
            creates_per_second: n as f64 / elapsed.as_secs_f64(),
            server_cpu_per_object: cpu / n as u32,
            disk: None,
            restart: None,
        };
        server.kill();
        if backend == Backend::Embedded {
            run.disk = Some(dir_size(dir.path()));
            // Restarted on the same data (after kill -9): load time and RSS of the loaded store.
            let (server, startup) = ServerProcess::start(backend, dir.path()).await;
            assert_eq!(
                count_configmaps(&server.url()).await,
                n,
                "every ConfigMap survives the restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            run.restart = Some((startup, server.rss()));
            server.kill();
        }
        runs.push(run);
    }
    println!(
        "4. memory: ref-apiserver child process with {n} small ConfigMaps ({stored_size} bytes each as served), created by {} clients",
        sizes.clients
    );
    println!(
        "   {:<10} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10}",
        "storage",
        "start ms",
        "RSS0 MiB",
        "RSS MiB",
        "peak MiB",
        "bytes/obj",
        "creates/s",
        "CPU us",
        "disk MiB"
    );
    for r in &runs {
        println!(
            "   {:<10} {:>9} {:>10} {:>10} {:>10} {:>10.0} {:>10.0} {:>9} {:>10}",
            r.backend,
            ms(r.startup),
            mib(r.rss_before),
            mib(r.rss_after),
            mib(r.peak),
            r.rss_after.saturating_sub(r.rss_before) as f64 / n as f64,
            r.creates_per_second,
            us(r.server_cpu_per_object),
            r.disk.map_or("-".into(), mib)
        );
        if let Some((startup, rss)) = r.restart {
            println!(
                "   {:<10} {:>9} {:>10} {:>10} {:>10} {:>10.0}",
                "  restart",
                ms(startup),
                "-",
                mib(rss),
                "-",
                rss.saturating_sub(runs[0].rss_before) as f64 / n as f64
            );
        }
    }
    println!(
        "   (bytes/obj: RSS growth / objects; CPU us: server CPU per create; restart: kill -9, start on the same data,"
    );
    println!("    ready when /healthz answers, bytes/obj against the empty memory server's RSS)");
    let worst = runs
        .iter()
        .map(|r| r.rss_after.max(r.restart.map_or(0, |x| x.1)))
        .max()
        .unwrap_or(0);
    println!(
        "   goal RSS < 1 GiB with {n} objects: {} (largest {} MiB)",
        if worst < 1 << 30 { "met" } else { "MISSED" },
        mib(worst)
    );
}
