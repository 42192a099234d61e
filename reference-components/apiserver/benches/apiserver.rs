//! End-to-end benchmarks of the reference apiserver: kube-client clients against the server over
//! loopback.
//!
//! `cargo bench -p reference-apiserver --bench apiserver` measures:
//!
//! 1. **Create throughput**: 10,000 pods of about 2 KB from 16 concurrent clients against an
//!    in-process server on memory storage and on embedded (durable) storage, and against a
//!    `ref-apiserver` child process on embedded storage (so that the server's CPU is measured on
//!    its own), compared with the bare-etcd anchor: `ETCD_ANCHOR_WRITES_PER_SEC` (what
//!    `scripts/bench-etcd-anchor` prints for this machine), else 5,900 writes/s (`etcdctl check
//!    perf --load=l` on the reference machine); and with `ETCD_ANCHOR_2K_PUTS_PER_SEC` (the
//!    script's 16-client 2 KiB put benchmark) when given. Three interleaved rounds, each row
//!    reported by its median round. Then the CPU cost of each step of the create path, measured
//!    on one thread.
//! 2. **List latency** of those 10,000 pods: full lists, `resourceVersion=0` lists, paged lists
//!    (limit 500) and typed `Api::<Pod>::list`, next to the client-side decoding of the same
//!    bytes, so that the server's share is visible.
//! 3. **Watch fan-out**: 1,000 watchers of a `ref-apiserver` child process, then ConfigMap
//!    updates at a steady pace (1,000 at 20/s, then 500 at 100/s); the latency from each write's
//!    acknowledgement to each watcher's receipt, and the server process's RSS.
//! 4. **Memory**: the RSS of a `ref-apiserver` child holding 100,000 small ConfigMaps, on memory
//!    and on embedded storage, and of the embedded one restarted on the same data; and how much
//!    of it the storage engine and the watch cache each take.
//!
//! `APISERVER_BENCH_SECTIONS=create,list,watch,memory` runs only some parts (e.g. under `perf
//! record`). Everything runs on 127.0.0.1. Without `--bench` (`cargo test --benches`) it does a
//! tiny smoke run of every part that checks the results and takes a few seconds.

mod apiserver_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver_support::{
    Backend, Percentiles, ProcessUsage, ServerProcess, client, dir_size, mib, ms, open_files_limit, pod,
    self_cpu, self_rss, self_threads_cpu, small_configmap, us,
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

/// The allocator `ref-apiserver` runs with, so that the in-process rows compare with the child
/// process's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Rounds of the create benchmark (memory, embedded and child process each), reported by
    /// their median: one run's throughput on a shared 2-core machine moves by ±10 %.
    create_rounds: usize,
    fsync_probes: usize,
    watchers: usize,
    watch_clients: usize,
    /// Watch benchmark phases: (updates, updates per second).
    phases: &'static [(usize, f64)],
    /// Pause after each phase for the last deliveries.
    settle: Duration,
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
    create_rounds: 3,
    fsync_probes: 200,
    watchers: 1_000,
    watch_clients: 8,
    phases: &[(1_000, 20.0), (500, 100.0)],
    settle: Duration::from_secs(2),
    configmaps: 100_000,
};

const SMOKE: Sizes = Sizes {
    pods: 24,
    clients: 4,
    lists: 2,
    typed_lists: 2,
    paged_walks: 2,
    page: 10,
    profile_iterations: 3,
    create_rounds: 1,
    fsync_probes: 5,
    watchers: 8,
    watch_clients: 3,
    phases: &[(6, 400.0), (4, 400.0)],
    settle: Duration::from_millis(100),
    configmaps: 40,
};

/// Which parts run: `APISERVER_BENCH_SECTIONS=create,list,watch,memory` (default: all), e.g. to
/// profile one part with `perf record`.
struct Sections {
    create: bool,
    list: bool,
    watch: bool,
    memory: bool,
}

impl Sections {
    fn from_env() -> Self {
        let value = std::env::var("APISERVER_BENCH_SECTIONS").unwrap_or_default();
        let on = |name: &str| value.trim().is_empty() || value.split(',').any(|s| s.trim() == name);
        Self {
            create: on("create"),
            list: on("list"),
            watch: on("watch"),
            memory: on("memory"),
        }
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full { FULL } else { SMOKE };
    let sections = Sections::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    runtime.block_on(async {
        println!(
            "reference apiserver benchmark ({}; {} CPUs; kube-client over loopback HTTP/1.1)",
            if full {
                "full run"
            } else {
                "smoke run: `cargo bench` for figures"
            },
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!(
            "(clients and in-process servers share one 2-worker tokio runtime; other work on the machine may"
        );
        println!(" run too: compare ratios measured in the same run)");
        println!();
        if sections.create || sections.list {
            create_and_list(&sizes, anchor(), &sections).await;
        }
        if sections.watch {
            watch_fanout(&sizes).await;
        }
        if sections.memory {
            memory(&sizes).await;
        }
    });
    println!();
    println!("total time {:.1?}", started.elapsed());
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
    label: &'static str,
    pods: usize,
    elapsed: Duration,
    latency: Percentiles,
    /// CPU of this process (the clients, and the server when it is in-process).
    cpu: Duration,
    /// CPU of the server process, when it is a child.
    server_cpu: Option<Duration>,
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

async fn scrape_metrics(client: &Client) -> String {
    let req = http::Request::get("/metrics").body(Vec::new()).expect("request");
    client.request_text(req).await.expect("metrics")
}

/// `sizes.pods` pods from `sizes.clients` clients, each with one request in flight, against
/// the server at `url` (`child`: it is a child process, whose CPU is measured).
async fn create_pods(
    url: &str,
    round: usize,
    sizes: &Sizes,
    label: &'static str,
    embedded: Option<&EmbeddedStorage>,
    child: Option<&ServerProcess>,
) -> CreateRun {
    let setup = client(url);
    // Each round in namespaces of its own (round 0 in `NS`, which the list benchmark reads).
    let (ns, warmup) = match round {
        0 => (NS.to_string(), "warmup".to_string()),
        r => (format!("{NS}-{r}"), format!("warmup-{r}")),
    };
    ensure_namespace(&setup, &ns).await;
    ensure_namespace(&setup, &warmup).await;
    let template = pod("template");
    let apis: Vec<Client> = (0..sizes.clients).map(|_| client(url)).collect();
    // Warm-up: a connection per client and the first-use costs, outside the measurement.
    for (c, cl) in apis.iter().enumerate() {
        let api: Api<Pod> = Api::namespaced(cl.clone(), &warmup);
        let mut p = template.clone();
        p.metadata.name = Some(format!("warm-{c}"));
        api.create(&PostParams::default(), &p)
            .await
            .expect("warm-up create");
    }
    let metrics_before = scrape_metrics(&setup).await;
    let stats_before = embedded.map(EmbeddedStorage::stats);
    let (cpu0, writer0) = (self_cpu(), self_threads_cpu("storage-writer"));
    let server_cpu0 = child.map(ServerProcess::cpu);
    let start = Instant::now();
    let tasks: Vec<_> = apis
        .into_iter()
        .enumerate()
        .map(|(c, cl)| {
            let (clients, total) = (sizes.clients, sizes.pods);
            let template = template.clone();
            let ns = ns.clone();
            tokio::spawn(async move {
                let api: Api<Pod> = Api::namespaced(cl, &ns);
                let mut latencies = Vec::with_capacity(total / clients + 1);
                for i in (c..total).step_by(clients) {
                    let mut p = template.clone();
                    p.metadata.name = Some(format!("checkout-{i:06}"));
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
    let server_cpu = child.zip(server_cpu0).map(|(c, before)| c.cpu() - before);
    let metrics_after = scrape_metrics(&setup).await;
    assert_eq!(latencies.len(), sizes.pods);
    let commits = embedded.zip(stats_before).map(|(e, b)| {
        let a = e.stats();
        (a.commits - b.commits, a.writes - b.writes)
    });
    CreateRun {
        label,
        pods: sizes.pods,
        elapsed,
        latency: Percentiles::of(&mut latencies),
        cpu,
        server_cpu,
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

async fn create_and_list(sizes: &Sizes, (anchor, anchor_source): (f64, &str), sections: &Sections) {
    let memory_store = storage::open(StorageKind::Memory, std::path::Path::new("")).expect("memory storage");
    let memory_server = TestServer::start_with(memory_store, ServerConfig::default()).await;
    let profile_state = memory_server.state().clone();
    let dir = scratch();
    let embedded_store = Arc::new(EmbeddedStorage::open(dir.path()).expect("embedded storage"));
    let as_dyn: Arc<dyn Storage> = embedded_store.clone();
    storage::spawn_compactor(Arc::downgrade(&as_dyn), CompactionPolicy::default());
    let embedded_server = TestServer::start_with(as_dyn, ServerConfig::default()).await;

    let mut runs = Vec::new();
    if sections.create {
        // Rounds interleaved, each row reported by its median round.
        let mut rounds: Vec<Vec<CreateRun>> = Vec::new();
        for round in 0..sizes.create_rounds {
            let mut this = Vec::new();
            this.push(create_pods(&memory_server.url(), round, sizes, "memory", None, None).await);
            this.push(
                create_pods(
                    &embedded_server.url(),
                    round,
                    sizes,
                    "embedded",
                    Some(&embedded_store),
                    None,
                )
                .await,
            );
            // The same against a ref-apiserver child process (a fresh one, on a fresh data
            // directory, each round): the server's CPU on its own.
            let child_dir = scratch();
            let mut child = ServerProcess::start_logging(Backend::Embedded, child_dir.path(), "warn").await;
            this.push(
                create_pods(
                    &child.url(),
                    round,
                    sizes,
                    "embedded, child process",
                    None,
                    Some(&child),
                )
                .await,
            );
            child.kill();
            rounds.push(this);
        }
        let mut by_row: Vec<Vec<CreateRun>> = rounds[0].iter().map(|_| Vec::new()).collect();
        for round in rounds {
            for (row, run) in by_row.iter_mut().zip(round) {
                row.push(run);
            }
        }
        let mut each = Vec::new();
        for row in &mut by_row {
            row.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
            let figures: Vec<String> = row.iter().map(|r| format!("{:.0}", r.per_second())).collect();
            each.push(format!("{}: {}", row[0].label, figures.join(", ")));
        }
        runs = by_row
            .into_iter()
            .map(|mut row| row.swap_remove(row.len() / 2))
            .collect();
        print_creates(sizes, &runs, anchor, anchor_source, dir.path());
        if sizes.create_rounds > 1 {
            println!(
                "   (each row is the median of {} interleaved rounds; pods/s of every round, sorted:",
                sizes.create_rounds
            );
            println!("    {})", each.join("; "));
            println!();
        }
    } else {
        // The list benchmark needs the pods.
        create_pods(&embedded_server.url(), 0, sizes, "embedded", None, None).await;
    }
    if sections.list {
        list_latencies(&embedded_server, sizes).await;
    }
    if sections.create {
        let iterations = sizes.profile_iterations;
        tokio::task::spawn_blocking(move || create_path_profile(&profile_state, iterations, &runs))
            .await
            .expect("profile");
    }
}

fn print_creates(sizes: &Sizes, runs: &[CreateRun], anchor: f64, anchor_source: &str, dir: &std::path::Path) {
    println!(
        "1. create throughput: {} pods (~2 KB each as sent), {} concurrent kube-client clients (one request in flight each)",
        sizes.pods, sizes.clients
    );
    println!(
        "   {:<24} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "server, storage",
        "pods/s",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "max ms",
        "bench CPU",
        "srv CPU",
        "srv ms",
        "store ms",
        "w/fsync"
    );
    for r in runs {
        println!(
            "   {:<24} {:>7.0} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7}",
            if r.server_cpu.is_some() {
                r.label.to_string()
            } else {
                format!("in-process, {}", r.label)
            },
            r.per_second(),
            ms(r.latency.mean),
            ms(r.latency.p50),
            ms(r.latency.p99),
            ms(r.latency.max),
            us(r.cpu / r.pods as u32),
            r.server_cpu.map_or("-".into(), |c| us(c / r.pods as u32)),
            r.server_mean.map_or("-".into(), ms),
            r.storage_mean.map_or("-".into(), ms),
            r.writes_per_commit.map_or("-".into(), |w| format!("{w:.1}"))
        );
    }
    println!(
        "   (bench CPU: us per pod of this process: the clients, plus the server when in-process; srv CPU: us per pod"
    );
    println!(
        "    of the child server process; srv ms: mean time in the server's request path (from the metrics);"
    );
    println!("    store ms: mean storage create: for embedded, waiting for the group commit and its fsync)");
    let by = |label: &str| runs.iter().find(|r| r.label == label);
    let (Some(memory), Some(embedded)) = (by("memory"), by("embedded")) else {
        return;
    };
    if let Some(f) = embedded.fsyncs_per_second {
        println!(
            "   in-process embedded: {f:.0} commits (fsyncs)/s; storage-writer thread CPU {:.2?} ({} us/pod)",
            embedded.writer_cpu,
            us(embedded.writer_cpu / embedded.pods as u32)
        );
    }
    let fsync = fsync_latency(dir, sizes.fsync_probes);
    println!(
        "   fsync of this disk (4 KiB append + fdatasync, {} times): p50 {} ms, p99 {} ms; with one write in flight",
        fsync.n,
        ms(fsync.p50),
        ms(fsync.p99)
    );
    println!(
        "   per client, any store that fsyncs before acknowledging does at most {} / fsync p50 = {:.0} writes/s",
        sizes.clients,
        sizes.clients as f64 / fsync.p50.as_secs_f64()
    );
    println!(
        "   ratio embedded / memory (in-process):   {:>6.2}x",
        embedded.per_second() / memory.per_second()
    );
    println!(
        "   ratio embedded / bare etcd:             {:>6.2}x  (etcd: {anchor:.0} writes/s: {anchor_source})",
        embedded.per_second() / anchor
    );
    if let Some(child) = by("embedded, child process") {
        println!(
            "   ratio embedded child process / etcd:    {:>6.2}x",
            child.per_second() / anchor
        );
    }
    if let Some(puts) = std::env::var("ETCD_ANCHOR_2K_PUTS_PER_SEC")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        println!(
            "   same shape as this benchmark (16 clients, 2 KiB values, HTTP/JSON gateway; ETCD_ANCHOR_2K_PUTS_PER_SEC):"
        );
        println!(
            "   etcd {puts:.0} puts/s; ratio in-process embedded / it {:.2}x",
            embedded.per_second() / puts
        );
        if let Some(child) = by("embedded, child process") {
            println!(
                "   ratio embedded child process / it {:.2}x",
                child.per_second() / puts
            );
        }
    }
    let best = runs
        .iter()
        .filter(|r| r.label != "memory")
        .map(CreateRun::per_second)
        .fold(0.0, f64::max);
    println!(
        "   goal (embedded >= bare etcd):           {}",
        if best >= anchor { "met" } else { "MISSED" }
    );
    println!();
}

/// Decodes a list body, returning how many items it has.
type Decoder = dyn Fn(&[u8]) -> usize;

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

    // Typed, as kube-client callers see it, and the client-side decoding of the same bytes with no
    // server involved; interleaved, so that other load on the machine affects all alike.
    let api: Api<Pod> = Api::namespaced(client.clone(), NS);
    let decoders: [(&str, &Decoder); 3] = [
        ("decode only: ObjectList<Pod> (typed)", &|b| {
            serde_json::from_slice::<ObjectList<Pod>>(b)
                .expect("pods")
                .items
                .len()
        }),
        ("decode only: serde_json::Value", &|b| {
            serde_json::from_slice::<Value>(b).expect("json")["items"]
                .as_array()
                .map_or(0, Vec::len)
        }),
        ("scan only: IgnoredAny items", &|b| count_items(b).items.len()),
    ];
    let mut typed = Vec::new();
    let mut decoded: Vec<Vec<Duration>> = vec![Vec::new(); decoders.len()];
    for _ in 0..sizes.typed_lists {
        let t = Instant::now();
        let list = api.list(&ListParams::default()).await.expect("typed list");
        typed.push(t.elapsed());
        assert_eq!(list.items.len(), n);
        drop(list);
        for ((_, decode), lat) in decoders.iter().zip(&mut decoded) {
            let t = Instant::now();
            let items = decode(&full);
            lat.push(t.elapsed());
            assert_eq!(items, n);
        }
    }
    rows.push((
        "Api::<Pod>::list (fetch + typed decode)".into(),
        Percentiles::of(&mut typed),
        None,
    ));
    for ((label, _), mut lat) in decoders.iter().zip(decoded) {
        rows.push((label.to_string(), Percentiles::of(&mut lat), None));
    }

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
        "   full list fetch's share of Api::<Pod>::list p50:    {:.0}%  (the rest is the client's typed decoding)",
        100.0 * fetch_full.as_secs_f64() / typed_p50.as_secs_f64()
    );
    println!(
        "   (fetch = request until the last body byte arrived: the server's work plus loopback transfer)"
    );
    println!();
}

/// The create path taken apart: each step of the handler on the benchmark pod, timed on one
/// thread with the public functions the handler calls.
fn create_path_profile(state: &ApiState, iterations: usize, runs: &[CreateRun]) {
    let def = state
        .registry
        .load()
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
    // One pass: the body straight into the typed Pod (its unknown fields noted on the way),
    // encoded to the canonical JSON value the handler works on.
    time("body -> Pod (unknown fields noted) -> Value", true, &mut || {
        std::hint::black_box((codec.from_body)(&body).expect("typed"));
    });
    // The object as the handler has it after decoding: identity and server-set metadata.
    let (mut typed, unknown) = (codec.from_body)(&body).expect("typed");
    assert!(unknown.is_empty(), "the benchmark pod has no unknown fields");
    {
        let meta = typed["metadata"].as_object_mut().expect("metadata");
        meta.insert("namespace".into(), NS.into());
        meta.insert("uid".into(), reference_apiserver::object::new_uid().into());
        meta.insert(
            "creationTimestamp".into(),
            reference_apiserver::object::now_rfc3339().into(),
        );
        typed["status"] = json!({"phase": "Pending"});
    }
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
    // What a create compares the pod with for its managed fields: the zero value of the Go type.
    let zero = json!({"spec": {"containers": null}, "status": {}});
    let pod_ty = reference_apiserver::apply::Ty::builtin("v1", "Pod");
    // As the create handler does it: fieldsV1 as JSON text, spliced into the stored bytes.
    time(
        "managed fields: fieldsV1 of the create, as text",
        true,
        &mut || {
            std::hint::black_box(reference_apiserver::apply::created::fields_v1_json(
                &zero, &defaulted, pod_ty,
            ));
        },
    );
    let fields =
        reference_apiserver::apply::created::fields_v1_json(&zero, &defaulted, pod_ty).expect("a valid pod");
    let placeholder = reference_apiserver::object::FIELDS_V1_PLACEHOLDER.clone();
    defaulted["metadata"]["managedFields"] = json!([{
        "manager": "bench", "operation": "Update", "apiVersion": "v1", "time": "2026-01-01T00:00:00Z",
        "fieldsType": "FieldsV1", "fieldsV1": placeholder,
    }]);
    time(
        "to storage bytes, fieldsV1 spliced in (incl. clone)",
        true,
        &mut || {
            std::hint::black_box(reference_apiserver::object::to_storage_with_fields(
                defaulted.clone(),
                &fields,
            ));
        },
    );
    let stored = reference_apiserver::object::to_storage_with_fields(defaulted.clone(), &fields);
    time("response: stored bytes + resourceVersion", true, &mut || {
        std::hint::black_box(reference_apiserver::object::served_bytes(&stored, 42).expect("stored json"));
    });
    let key = def.key(Some(NS), "checkout-profile");
    // The handler describes the object to the cache, which then does not parse the event.
    time("watch cache: the handler describes the object", true, &mut || {
        std::hint::black_box(state.cache.describe(&key, &defaulted));
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
    let share =
        |steps: Duration, measured: Duration| 100.0 * steps.as_secs_f64() / measured.as_secs_f64().max(1e-9);
    for r in runs {
        let per_pod = r.cpu / r.pods as u32;
        match r.server_cpu {
            None => println!(
                "   measured, in-process {:<9} clients + server: {:>6} us/pod CPU; the steps above are {:.0}% of it",
                r.label,
                us(per_pod),
                share(server + client_side, per_pod)
            ),
            Some(server_cpu) => {
                let server_per_pod = server_cpu / r.pods as u32;
                println!(
                    "   measured, {}: server {} us/pod CPU (server steps above: {:.0}%), clients {} us/pod",
                    r.label,
                    us(server_per_pod),
                    share(server, server_per_pod),
                    us(per_pod)
                );
                println!(
                    "   (client steps above: {:.0}%); the rest: HTTP (hyper, reqwest, syscalls), routing, metrics, storage,",
                    share(client_side, per_pod)
                );
                println!("   task wake-ups and allocation");
            }
        }
    }
    println!(
        "   JSON passes over the object per create on the server: typed decode straight from the body (unknown"
    );
    println!(
        "   fields noted on the way) + encode to a value, storage encode (the response is the stored bytes; the"
    );
    println!(
        "   watch cache holds those very bytes and takes the handler's description of the object instead of"
    );
    println!("   parsing them)");
    println!();
}

// ------------------------------------------------------------------------------------------
// 3. Watch fan-out
// ------------------------------------------------------------------------------------------

/// The namespace of the watch benchmark's ConfigMaps.
const WATCH_NS: &str = "fanout";
/// How many ConfigMaps the writer updates round-robin (concurrent writes of one object would
/// only retry each other's compare-and-swap).
const WATCH_OBJECTS: usize = 16;
/// Writes in flight at most; past it the writer falls behind its pace (and says so).
const WATCH_WRITES_IN_FLIGHT: usize = 64;

/// What one watcher saw: `(seq, received at)` per event, in arrival order, and why it stopped
/// early, if it did.
type Receipts = (Vec<(u32, u64)>, Option<String>);

async fn watcher(
    api: Api<ConfigMap>,
    rv: String,
    gate: Arc<tokio::sync::Semaphore>,
    ready: tokio::sync::mpsc::Sender<()>,
    events: usize,
    epoch: Instant,
    deadline: tokio::time::Instant,
) -> Receipts {
    let stream = {
        let _permit = gate.acquire().await.expect("gate");
        api.watch(&WatchParams::default(), &rv).await.expect("watch")
    };
    let _ = ready.send(()).await;
    let mut stream = std::pin::pin!(stream);
    let mut got: Vec<(u32, u64)> = Vec::with_capacity(events);
    let mut last_rv = 0u64;
    let mut failure = None;
    while got.len() < events && failure.is_none() {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(WatchEvent::Modified(cm)))) => {
                let at = epoch.elapsed().as_nanos() as u64;
                let rv: u64 = cm.resource_version().and_then(|v| v.parse().ok()).unwrap_or(0);
                if rv <= last_rv {
                    failure = Some(format!("resourceVersion {rv} after {last_rv}"));
                }
                last_rv = rv;
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
    }
    (got, failure)
}

/// What one phase of the watch benchmark measured.
struct Phase {
    events: usize,
    rate: f64,
    took: Duration,
    from_ack: Percentiles,
    from_sent: Percentiles,
    write: Percentiles,
    last_watcher: Percentiles,
    server_cpu: Duration,
    bench_cpu: Duration,
    delivered: usize,
}

type Stamps = Arc<Vec<std::sync::atomic::AtomicU64>>;

fn stamps(n: usize) -> Stamps {
    Arc::new((0..n).map(|_| Default::default()).collect())
}

async fn watch_fanout(sizes: &Sizes) {
    use std::sync::atomic::Ordering::Relaxed;
    let limit = open_files_limit();
    // One connection per watch (HTTP/1.1) in this process and one in the server, plus headroom.
    let watchers = sizes.watchers.min(limit.saturating_sub(256) as usize).max(1);
    let events: usize = sizes.phases.iter().map(|p| p.0).sum();
    let dir = scratch();
    let mut server = ServerProcess::start_logging(Backend::Memory, dir.path(), "warn").await;
    let url = server.url();
    let setup = client(&url);
    ensure_namespace(&setup, WATCH_NS).await;
    let objects: Api<ConfigMap> = Api::namespaced(setup.clone(), WATCH_NS);
    for i in 0..WATCH_OBJECTS {
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": format!("fanout-{i:02}")}, "data": {"seq": "0"}}),
        )
        .expect("cm");
        objects
            .create(&PostParams::default(), &cm)
            .await
            .expect("create configmap");
    }
    let listed = objects.list(&ListParams::default()).await.expect("list");
    let rv = listed.metadata.resource_version.expect("list resourceVersion");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_idle = server.rss();
    let bench_rss_idle = self_rss();

    let epoch = Instant::now();
    let clients: Vec<Client> = (0..sizes.watch_clients).map(|_| client(&url)).collect();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(watchers);
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let run_for: f64 = sizes.phases.iter().map(|(n, rate)| *n as f64 / rate).sum();
    // Generous: a saturated writer runs far behind its schedule.
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(120) + Duration::from_secs_f64(run_for * 4.0);
    let tasks: Vec<_> = (0..watchers)
        .map(|w| {
            let api: Api<ConfigMap> = Api::namespaced(clients[w % clients.len()].clone(), WATCH_NS);
            tokio::spawn(watcher(
                api,
                rv.clone(),
                gate.clone(),
                ready_tx.clone(),
                events,
                epoch,
                deadline,
            ))
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

    // The writer: one merge patch per tick, sent without waiting for the previous ones (an open
    // loop, so that the pace is the asked one), each carrying its sequence number.
    let (sent, acked) = (stamps(events + 1), stamps(events + 1));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(WATCH_WRITES_IN_FLIGHT));
    let mut marks = Vec::new(); // (first seq, last seq, took, server CPU, bench CPU) per phase
    let mut seq = 0;
    for &(count, rate) in sizes.phases {
        let (server_cpu0, bench_cpu0) = (server.cpu(), self_cpu());
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let start = Instant::now();
        let first = seq + 1;
        let mut writes = Vec::with_capacity(count);
        for _ in 0..count {
            seq += 1;
            tick.tick().await;
            let permit = in_flight.clone().acquire_owned().await.expect("in-flight gate");
            let (objects, acked) = (objects.clone(), acked.clone());
            sent[seq].store(epoch.elapsed().as_nanos() as u64, Relaxed);
            writes.push(tokio::spawn(async move {
                let patch = Patch::Merge(json!({"data": {"seq": seq.to_string()}}));
                let name = format!("fanout-{:02}", seq % WATCH_OBJECTS);
                objects
                    .patch(&name, &PatchParams::default(), &patch)
                    .await
                    .expect("patch");
                acked[seq].store(epoch.elapsed().as_nanos() as u64, Relaxed);
                drop(permit);
            }));
        }
        for w in writes {
            w.await.expect("write task");
        }
        let took = start.elapsed();
        // Let the deliveries of this phase finish before the next one starts.
        tokio::time::sleep(sizes.settle).await;
        marks.push((
            first,
            seq,
            took,
            server.cpu() - server_cpu0,
            self_cpu() - bench_cpu0,
        ));
    }
    let mut results = Vec::with_capacity(watchers);
    for t in tasks {
        results.push(t.await.expect("watcher task"));
    }
    let rss_after = server.rss();
    let rss_peak = server.peak_rss();
    let sent: Vec<u64> = sent.iter().map(|v| v.load(Relaxed)).collect();
    let acked: Vec<u64> = acked.iter().map(|v| v.load(Relaxed)).collect();

    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut duplicates = 0;
    // Receipt times of each event over all watchers.
    let mut receipts: Vec<Vec<u64>> = vec![Vec::new(); events + 1];
    for (got, failure) in &results {
        if let Some(f) = failure {
            *failures.entry(f.clone()).or_default() += 1;
        }
        let mut seen = vec![false; events + 1];
        for &(s, at) in got {
            let s = s as usize;
            if s == 0 || s > events || std::mem::replace(&mut seen[s], true) {
                duplicates += 1;
                continue;
            }
            receipts[s].push(at);
        }
    }
    let phases: Vec<Phase> = marks
        .iter()
        .zip(sizes.phases)
        .map(|(&(first, last, took, server_cpu, bench_cpu), &(count, rate))| {
            let range = first..=last;
            let mut from_sent = Vec::new();
            let mut from_ack = Vec::new();
            let mut last_watcher = Vec::new();
            for s in range.clone() {
                from_sent.extend(receipts[s].iter().map(|at| at.saturating_sub(sent[s])));
                from_ack.extend(receipts[s].iter().map(|at| at.saturating_sub(acked[s])));
                if let Some(max) = receipts[s].iter().max() {
                    last_watcher.push(max.saturating_sub(acked[s]));
                }
            }
            let mut write: Vec<u64> = range.map(|s| acked[s] - sent[s]).collect();
            Phase {
                events: count,
                rate,
                took,
                delivered: from_sent.len(),
                from_ack: Percentiles::of_nanos(&mut from_ack),
                from_sent: Percentiles::of_nanos(&mut from_sent),
                write: Percentiles::of_nanos(&mut write),
                last_watcher: Percentiles::of_nanos(&mut last_watcher),
                server_cpu,
                bench_cpu,
            }
        })
        .collect();
    let delivered: usize = phases.iter().map(|p| p.delivered).sum();

    println!(
        "3. watch fan-out: {watchers} watchers of a namespace of {WATCH_OBJECTS} ConfigMaps (ref-apiserver child process, memory"
    );
    println!(
        "   storage: the watch cache serves the fan-out whatever the backend, and the disk's fsync latency would only"
    );
    println!(
        "   pace the writer); {} clients, one HTTP/1.1 connection per watch, open-files limit {limit}; a writer patches",
        clients.len()
    );
    println!(
        "   the ConfigMaps round-robin at a steady pace (open loop, at most {WATCH_WRITES_IN_FLIGHT} writes in flight)"
    );
    println!(
        "   watchers connected in {connect_time:.2?}; delivered {delivered} of {} events{}",
        watchers * events,
        if duplicates > 0 {
            format!(", {duplicates} duplicates")
        } else {
            String::new()
        }
    );
    for (f, count) in &failures {
        println!("   watchers that stopped early: {count} ({f})");
    }
    for (i, p) in phases.iter().enumerate() {
        let achieved = p.events as f64 / p.took.as_secs_f64();
        println!(
            "   phase {}: {} updates at {:.0}/s asked, {achieved:.0}/s achieved ({:.0} deliveries/s), took {:.1?}",
            i + 1,
            p.events,
            p.rate,
            achieved * watchers as f64,
            p.took
        );
        println!(
            "      {:<55} {:>8} {:>8} {:>8} {:>8}",
            "latency", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for (label, q) in [
            ("write acknowledged -> watcher received", p.from_ack),
            ("write acknowledged -> the last watcher received", p.last_watcher),
            ("write sent -> watcher received (incl. the write)", p.from_sent),
            ("write sent -> acknowledged (the write alone)", p.write),
        ] {
            println!(
                "      {:<55} {:>8} {:>8} {:>8} {:>8}",
                label,
                ms(q.p50),
                ms(q.p90),
                ms(q.p99),
                ms(q.max)
            );
        }
        println!(
            "      CPU: server {:.2?} ({} us per delivery), clients {:.2?} ({} us per delivery)",
            p.server_cpu,
            us(p.server_cpu / p.delivered.max(1) as u32),
            p.bench_cpu,
            us(p.bench_cpu / p.delivered.max(1) as u32)
        );
        println!(
            "      goal p99 < 100 ms (acknowledged -> received): {}",
            if p.from_ack.p99 < Duration::from_millis(100) {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    println!(
        "   (received = when kube-client yielded the decoded event, so the client's decoding is included;"
    );
    println!("    a watcher that receives an event before the writer has its acknowledgement counts 0)");
    println!(
        "   server RSS: idle {} MiB, with {watchers} watchers {} MiB ({:.1} KiB per watcher), after the events {} MiB,",
        mib(rss_idle),
        mib(rss_watchers),
        rss_watchers.saturating_sub(rss_idle) as f64 / 1024.0 / watchers as f64,
        mib(rss_after)
    );
    println!(
        "   peak {} MiB; bench process (the clients): {} MiB idle, {} MiB with the watchers",
        mib(rss_peak),
        mib(bench_rss_idle),
        mib(bench_rss_watchers)
    );
    println!();
    assert!(
        failures.is_empty() && duplicates == 0 && delivered == watchers * events,
        "every watcher receives every event once, in resourceVersion order: {failures:?}"
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
    let mut served = Value::Null;
    for backend in [Backend::Memory, Backend::Embedded] {
        let dir = scratch();
        let mut server = ServerProcess::start_logging(backend, dir.path(), "warn").await;
        let startup = server.startup();
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
            served = serde_json::to_value(&one).expect("json");
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
            let mut server = ServerProcess::start_logging(backend, dir.path(), "warn").await;
            let startup = server.startup();
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
    // On a thread of its own, so that its allocations come from a fresh malloc arena rather than
    // memory the earlier parts freed.
    let (engine, cache) = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(memory_breakdown(n, &served))
    })
    .join()
    .expect("memory breakdown");
    let memory_run = runs[0].rss_after.saturating_sub(runs[0].rss_before) as f64 / n as f64;
    println!(
        "   where it goes (rebuilt in this process, RSS growth / object): storage engine (live keys + event history) {engine:.0},"
    );
    println!(
        "   watch cache (cached objects: key, labels, field values, key map; their bytes are the engine's) {cache:.0}; the rest of the memory"
    );
    println!(
        "   server's {memory_run:.0}: {:.0} (allocator slack, buffers)",
        memory_run - engine - cache
    );
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

/// The memory a server keeps for every object, each part measured on its own in this process: a
/// storage engine holding `n` ConfigMaps (and the history of their creation, as a server keeps it
/// for minutes), and the watch cache's objects with their key map (which share the engine's
/// bytes). Returns bytes per object of each.
async fn memory_breakdown(n: usize, served: &Value) -> (f64, f64) {
    let stored = |i: usize| {
        let mut v = served.clone();
        v["metadata"]["name"] = format!("cm-{i:07}").into();
        v["data"]["index"] = i.to_string().into();
        reference_apiserver::object::to_storage(v)
    };
    let key = |i: usize| format!("/registry/configmaps/{NS}/cm-{i:07}");
    let rss0 = self_rss();
    let engine = reference_apiserver::storage::MemoryStorage::new();
    for i in 0..n {
        engine.create(&key(i), stored(i)).await.expect("create");
    }
    let rss1 = self_rss();
    let server = TestServer::start().await;
    let cache = &server.state().cache;
    let listed = engine
        .list("/registry/configmaps/", &Default::default())
        .await
        .expect("list");
    let rss2 = self_rss();
    let mut objects = BTreeMap::new();
    for kv in &listed.items {
        let obj = cache
            .decode("/registry/configmaps/", &kv.key, &kv.value, kv.mod_revision)
            .expect("decodes");
        objects.insert(kv.key.clone(), obj);
    }
    let rss3 = self_rss();
    assert_eq!(objects.len(), n);
    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / n as f64;
    (per(rss0, rss1), per(rss2, rss3))
}
