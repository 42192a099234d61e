//! The apiserver on etcd, next to the embedded store and to bare etcd, in one run.
//!
//! `cargo bench -p reference-apiserver --features etcd --bench etcd` (or `scripts/bench-etcd`,
//! which also runs `etcdctl check perf` first) starts Debian's etcd on loopback ports with a
//! fresh data directory (on the disk of the target directory, as the embedded store's) and
//! measures:
//!
//! 1. **Writes**: 2 KiB puts straight to etcd from 16 concurrent tasks (the bare-etcd anchor
//!    in the shape of the apiserver's creates); the same count of `EtcdStorage::create` calls
//!    (the storage layer's transaction, no HTTP); and the apiserver benchmark's create
//!    throughput (10,000 pods of about 2 KB from 16 kube-client clients) against an in-process
//!    apiserver on embedded storage and on etcd. Ratios: etcd / embedded, and apiserver on
//!    etcd / bare etcd puts.
//! 2. **Lists** of those 10,000 pods on both: consistent full lists, `resourceVersion=0`
//!    lists, and paged walks (limit 500), as ratios etcd / embedded.
//! 3. **Reads with two apiservers**: `ref-apiserver --storage etcd` child processes; 16 clients
//!    GET pods (a consistent read: one etcd range each) and LIST a 100-pod namespace, first all
//!    against one apiserver, then split over two. Ratio: two / one.
//!
//! Every loop is bounded by a count or a duration; everything runs on 127.0.0.1. Without
//! `--bench` (`cargo test --benches --features etcd`) it is a smoke run of a few seconds that
//! checks the results.

#[allow(dead_code)]
mod apiserver_support;
#[path = "../tests/support/etcd.rs"]
mod etcd;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver_support::{Percentiles, client, ms, pod};
use bytes::Bytes;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube_client::{Api, Client};
use kube_core::params::PostParams;
use reference_apiserver::server::ServerConfig;
use reference_apiserver::storage::{CompactionPolicy, EmbeddedStorage, Storage, spawn_compactor};
use reference_apiserver::testing::TestServer;
use serde_json::json;

use etcd::EtcdProcess;

struct Sizes {
    pods: usize,
    clients: usize,
    lists: usize,
    paged_walks: usize,
    page: usize,
    read_pods: usize,
    read_for: Duration,
}

const FULL: Sizes = Sizes {
    pods: 10_000,
    clients: 16,
    lists: 20,
    paged_walks: 5,
    page: 500,
    read_pods: 100,
    read_for: Duration::from_secs(5),
};

const SMOKE: Sizes = Sizes {
    pods: 24,
    clients: 4,
    lists: 2,
    paged_walks: 1,
    page: 10,
    read_pods: 5,
    read_for: Duration::from_millis(300),
};

const NS: &str = "bench";

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
        let Some(etcd) = EtcdProcess::start().await else {
            return;
        };
        println!(
            "apiserver on etcd ({}; {} CPUs shared by etcd, the apiservers and the clients; {})",
            if full {
                "full run"
            } else {
                "smoke run: `cargo bench` for figures"
            },
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            etcd_version()
        );
        println!();
        let writes = writes(&etcd, &sizes).await;
        let (embedded, on_etcd) = creates(&etcd, &sizes).await;
        print_writes(&writes, &embedded, &on_etcd, sizes.clients);
        lists(&embedded.server, &on_etcd.server, &sizes).await;
        drop((embedded, on_etcd));
        reads(&etcd, &sizes).await;
    });
    println!();
    println!("total time {:.1?}", started.elapsed());
    runtime.shutdown_timeout(Duration::from_secs(5));
}

fn etcd_version() -> String {
    Command::new(etcd::ETCD)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "etcd".to_owned())
}

/// A rate and its latencies.
struct Rate {
    label: String,
    count: usize,
    elapsed: Duration,
    latency: Percentiles,
}

impl Rate {
    fn per_second(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `count` calls of `op(i)` from `tasks` concurrent tasks.
async fn concurrently<F, Fut>(label: &str, count: usize, tasks: usize, op: F) -> Rate
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                for i in (t..count).step_by(tasks) {
                    let at = Instant::now();
                    op(i).await;
                    lat.push(at.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for h in handles {
        latencies.extend(h.await.expect("task"));
    }
    Rate {
        label: label.to_owned(),
        count,
        elapsed: start.elapsed(),
        latency: Percentiles::of(&mut latencies),
    }
}

// 1. Writes ---------------------------------------------------------------------------------

/// Bare etcd puts and storage-layer creates. They run before any apiserver watches this etcd:
/// an apiserver's consistent reads wait for writes outside its `/registry/` to show up.
async fn writes(etcd: &EtcdProcess, sizes: &Sizes) -> Vec<Rate> {
    let value = vec![b'x'; 2048];
    let client = etcd_client::Client::connect([etcd.url()], None)
        .await
        .expect("etcd client");
    let puts = concurrently(
        "bare etcd puts (etcd-client, 2 KiB)",
        sizes.pods,
        sizes.clients,
        {
            let (client, value) = (client.clone(), value.clone());
            move |i| {
                let (mut kv, value) = (client.kv_client(), value.clone());
                async move {
                    kv.put(format!("/bench/puts/{i:06}"), value, None)
                        .await
                        .expect("put");
                }
            }
        },
    )
    .await;
    let store = etcd.storage().await.with_prefix("/bench-storage").unwrap();
    let value = Bytes::from(value);
    let creates = concurrently("EtcdStorage::create (txn, 2 KiB)", sizes.pods, sizes.clients, {
        move |i| {
            let (store, value) = (store.clone(), value.clone());
            async move {
                store
                    .create(&format!("/registry/things/t{i:06}"), value)
                    .await
                    .expect("create");
            }
        }
    })
    .await;
    vec![puts, creates]
}

/// An apiserver with its pods created.
struct Loaded {
    server: TestServer,
    rate: Rate,
    _dir: Option<tempfile::TempDir>,
}

async fn ensure_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(e) if e.is_already_exists() => {}
        Err(e) => panic!("create namespace {name}: {e}"),
    }
}

async fn create_pods(server: &TestServer, sizes: &Sizes, label: &str) -> Rate {
    let setup = client(&server.url());
    ensure_namespace(&setup, NS).await;
    let apis: Vec<Api<Pod>> = (0..sizes.clients)
        .map(|_| Api::namespaced(client(&server.url()), NS))
        .collect();
    for (c, api) in apis.iter().enumerate() {
        // Warm-up: a connection per client, outside the measurement.
        let mut p = pod("template");
        p.metadata.name = Some(format!("warm-{c}"));
        api.create(&PostParams::default(), &p).await.expect("warm-up");
    }
    let apis = Arc::new(apis);
    let clients = sizes.clients;
    concurrently(label, sizes.pods, clients, move |i| {
        let apis = apis.clone();
        async move {
            let mut p = pod("template");
            p.metadata.name = Some(format!("checkout-{i:06}"));
            apis[i % clients]
                .create(&PostParams::default(), &p)
                .await
                .expect("create pod");
        }
    })
    .await
}

async fn creates(etcd: &EtcdProcess, sizes: &Sizes) -> (Loaded, Loaded) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let store: Arc<dyn Storage> = Arc::new(EmbeddedStorage::open(dir.path()).expect("embedded"));
    spawn_compactor(Arc::downgrade(&store), CompactionPolicy::default());
    let server = TestServer::start_with(store, ServerConfig::default()).await;
    let rate = create_pods(&server, sizes, "apiserver creates, embedded").await;
    let embedded = Loaded {
        server,
        rate,
        _dir: Some(dir),
    };
    let server = TestServer::start_with(etcd.shared().await, ServerConfig::default()).await;
    let rate = create_pods(&server, sizes, "apiserver creates, etcd").await;
    let on_etcd = Loaded {
        server,
        rate,
        _dir: None,
    };
    (embedded, on_etcd)
}

fn rate_row(r: &Rate) {
    println!(
        "  {:<42} {:>9.0} {:>8} {:>8} {:>8}",
        r.label,
        r.per_second(),
        ms(r.latency.p50),
        ms(r.latency.p99),
        ms(r.latency.max)
    );
}

fn print_writes(writes: &[Rate], embedded: &Loaded, on_etcd: &Loaded, clients: usize) {
    println!(
        "1. writes: {} of about 2 KiB each, {clients} concurrent clients",
        on_etcd.rate.count
    );
    println!(
        "  {:<42} {:>9} {:>8} {:>8} {:>8}",
        "", "writes/s", "p50 ms", "p99 ms", "max ms"
    );
    for r in writes.iter().chain([&embedded.rate, &on_etcd.rate]) {
        rate_row(r);
    }
    let bare = writes[0].per_second();
    println!(
        "  ratios: apiserver on etcd / on embedded {:.2}; apiserver on etcd / bare etcd puts {:.2}; \
         storage creates / bare puts {:.2}",
        on_etcd.rate.per_second() / embedded.rate.per_second(),
        on_etcd.rate.per_second() / bare,
        writes[1].per_second() / bare
    );
    if let Some(anchor) = std::env::var("ETCD_ANCHOR_WRITES_PER_SEC")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
    {
        println!(
            "  etcdctl check perf (ETCD_ANCHOR_WRITES_PER_SEC) {anchor:.0} writes/s: apiserver on etcd / that {:.2}",
            on_etcd.rate.per_second() / anchor
        );
    }
    println!();
}

// 2. Lists ----------------------------------------------------------------------------------

async fn fetch(client: &Client, path: &str) -> (serde_json::Value, Duration) {
    let at = Instant::now();
    let req = http::Request::get(path).body(Vec::new()).unwrap();
    let text = client.request_text(req).await.expect("list");
    let elapsed = at.elapsed();
    (serde_json::from_str(&text).expect("JSON"), elapsed)
}

/// Latencies of `times` runs of one list shape; checks that each returns every pod.
async fn list_shape(client: &Client, query: &str, sizes: &Sizes, times: usize) -> Percentiles {
    let path = format!("/api/v1/namespaces/{NS}/pods");
    let expected = sizes.pods + sizes.clients;
    let mut lat = Vec::new();
    for _ in 0..times {
        let mut token: Option<String> = None;
        let mut seen = 0;
        let mut took = Duration::ZERO;
        loop {
            let q = match &token {
                Some(t) => format!("{query}&continue={t}"),
                None => query.to_owned(),
            };
            let (list, d) = fetch(client, &format!("{path}{q}")).await;
            took += d;
            seen += list["items"].as_array().map_or(0, Vec::len);
            match list["metadata"]["continue"].as_str().filter(|c| !c.is_empty()) {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{query}: every pod");
        lat.push(took);
    }
    Percentiles::of(&mut lat)
}

async fn lists(embedded: &TestServer, on_etcd: &TestServer, sizes: &Sizes) {
    let (a, b) = (client(&embedded.url()), client(&on_etcd.url()));
    let shapes = [
        ("full list (consistent)", "?".to_owned(), sizes.lists),
        (
            "resourceVersion=0 list",
            "?resourceVersion=0".to_owned(),
            sizes.lists,
        ),
        (
            "paged walk (consistent)",
            format!("?limit={}", sizes.page),
            sizes.paged_walks,
        ),
    ];
    println!(
        "2. lists of {} pods: p50 ms (embedded, etcd) and etcd / embedded",
        sizes.pods + sizes.clients
    );
    for (label, query, times) in shapes {
        let _ = list_shape(&a, &query, sizes, 1).await; // warm-up
        let _ = list_shape(&b, &query, sizes, 1).await;
        let e = list_shape(&a, &query, sizes, times).await;
        let d = list_shape(&b, &query, sizes, times).await;
        println!(
            "  {label:<28} {:>8} {:>8}   x{:.2}",
            ms(e.p50),
            ms(d.p50),
            d.p50.as_secs_f64() / e.p50.as_secs_f64()
        );
    }
    println!();
}

// 3. Reads with one and two apiservers -------------------------------------------------------

/// A `ref-apiserver --storage etcd` child process; killed when dropped.
struct Apiserver {
    child: Child,
    url: String,
}

impl Drop for Apiserver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn apiserver_process(etcd: &EtcdProcess) -> Apiserver {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let child = Command::new(apiserver_support::BINARY)
        .args(["--listen", &addr.to_string(), "--storage", "etcd"])
        .args(["--etcd-servers", &etcd.url()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ref-apiserver");
    let mut server = Apiserver {
        child,
        url: format!("http://{addr}"),
    };
    let probe = client(&server.url);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.child.try_wait().expect("poll ref-apiserver") {
            panic!(
                "ref-apiserver exited with {status}: was {} built with `--features etcd`?",
                apiserver_support::BINARY
            );
        }
        let req = http::Request::get("/readyz").body(Vec::new()).unwrap();
        if matches!(probe.request_text(req).await.as_deref(), Ok("ok")) {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "ref-apiserver on etcd not ready in 60s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads for `sizes.read_for` from `sizes.clients` clients spread over `urls`: GETs of
/// random pods (`list: false`) or lists of the read namespace.
async fn read_rate(urls: &[String], sizes: &Sizes, list: bool) -> f64 {
    let deadline = Instant::now() + sizes.read_for;
    let n = sizes.read_pods;
    let tasks: Vec<_> = (0..sizes.clients)
        .map(|c| {
            let api: Api<Pod> = Api::namespaced(client(&urls[c % urls.len()]), "reads");
            tokio::spawn(async move {
                let mut done = 0u64;
                let mut i = c;
                while Instant::now() < deadline {
                    if list {
                        let pods = api.list(&Default::default()).await.expect("list");
                        assert_eq!(pods.items.len(), n);
                    } else {
                        api.get(&format!("r-{}", i % n)).await.expect("get");
                    }
                    done += 1;
                    i = i.wrapping_mul(31).wrapping_add(7);
                }
                done
            })
        })
        .collect();
    let start = Instant::now();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("reader");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

async fn reads(etcd: &EtcdProcess, sizes: &Sizes) {
    let one = apiserver_process(etcd).await;
    let two = apiserver_process(etcd).await;
    let setup = client(&one.url);
    ensure_namespace(&setup, "reads").await;
    let api: Api<Pod> = Api::namespaced(setup, "reads");
    for i in 0..sizes.read_pods {
        let mut p = pod("template");
        p.metadata.name = Some(format!("r-{i}"));
        api.create(&PostParams::default(), &p).await.expect("read pod");
    }
    println!(
        "3. reads for {:?} from {} clients: one ref-apiserver process vs two on the same etcd",
        sizes.read_for, sizes.clients
    );
    println!("  {:<34} {:>10} {:>10} {:>7}", "", "one /s", "two /s", "ratio");
    let urls_one = [one.url.clone()];
    let urls_two = [one.url.clone(), two.url.clone()];
    for (label, list) in [
        ("GET pod (consistent: etcd range)", false),
        ("LIST of the namespace (consistent)", true),
    ] {
        let r1 = read_rate(&urls_one, sizes, list).await;
        let r2 = read_rate(&urls_two, sizes, list).await;
        println!("  {label:<34} {r1:>10.0} {r2:>10.0} {:>7.2}", r2 / r1);
    }
}
