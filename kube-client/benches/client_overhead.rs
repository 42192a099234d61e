//! Per-request overhead of the client: `Api::<Pod>::get` against a bare `reqwest::Client`
//! doing the same `GET` and `serde_json::from_slice::<Pod>`, on a loopback HTTP/1.1 server.
//!
//! Goal: candidate time / baseline time ≤ 1.10, sequentially and 16-way concurrently.
//!
//! `cargo bench -p kube-client --bench client_overhead` measures;
//! `cargo bench -p kube-client --bench client_overhead -- --ablation` breaks the difference
//! down step by step. Without `--bench` (as under `cargo test --all-targets`) it does a short
//! smoke run that checks the decoded pods.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use k8s_openapi::api::core::v1::Pod;
use kube_client::{Api, Client, Config};
use kube_core::params::GetParams;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const PATH: &str = "/api/v1/namespaces/default/pods/web-0";
const N: usize = 5_000;
const TASKS: usize = 16;
const ROUNDS: usize = 7;
const BLOCKS: usize = 10;
const GOAL: f64 = 1.10;

/// One block of requests: wall time, the sum of the request latencies, and the CPU time the
/// client thread and the server thread used.
#[derive(Clone, Copy, Default)]
struct Run {
    wall: Duration,
    latency_sum: Duration,
    client_cpu: Duration,
    server_cpu: Duration,
}

impl std::ops::AddAssign for Run {
    fn add_assign(&mut self, o: Self) {
        self.wall += o.wall;
        self.latency_sum += o.latency_sum;
        self.client_cpu += o.client_cpu;
        self.server_cpu += o.server_cpu;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sequential,
    Concurrent,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Concurrent => "16-way concurrent",
        }
    }
}

async fn baseline_get(http: &reqwest::Client, url: &str) -> Pod {
    let resp = http.get(url).send().await.expect("baseline GET");
    assert!(resp.status().is_success(), "baseline status {}", resp.status());
    let bytes = resp.bytes().await.expect("baseline body");
    serde_json::from_slice::<Pod>(&bytes).expect("baseline decode")
}

async fn candidate_get(api: &Api<Pod>) -> Pod {
    api.get("web-0").await.expect("candidate get")
}

/// `n` GETs, one after another or spread over `TASKS` tasks. `get` is cloned per task only.
async fn drive<F, Fut>(mode: Mode, n: usize, get: F) -> (Duration, Duration)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Pod> + Send,
{
    let tasks = if mode == Mode::Sequential { 1 } else { TASKS };
    let start = Instant::now();
    let mut set = JoinSet::new();
    for task in 0..tasks {
        let count = n / tasks + usize::from(task < n % tasks);
        let get = get.clone();
        set.spawn(async move {
            let mut sum = Duration::ZERO;
            for _ in 0..count {
                let t = Instant::now();
                std::hint::black_box(get().await);
                sum += t.elapsed();
            }
            sum
        });
    }
    let mut latency_sum = Duration::ZERO;
    while let Some(sum) = set.join_next().await {
        latency_sum += sum.expect("task");
    }
    (start.elapsed(), latency_sum)
}

struct Setup {
    rt: Runtime,
    http: reqwest::Client,
    url: Arc<str>,
    api: Arc<Api<Pod>>,
    server: support::Server,
}

impl Setup {
    fn new(pod: Bytes) -> Self {
        support::install_crypto_provider();
        let server = support::serve(Arc::new(move |method, uri| {
            if method == http::Method::GET && uri.path() == PATH {
                support::json_response(pod.clone())
            } else {
                support::not_found()
            }
        }));
        // The client side gets one thread (the server has the other core).
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("bare reqwest client");
        let url: Arc<str> = format!("{}{PATH}", server.base_url()).into();
        let mut config = Config::new(server.base_url().parse().expect("server url"));
        config.qps = None;
        let api = Arc::new(Api::namespaced(Client::new(config).expect("client"), "default"));
        Self {
            rt,
            http,
            url,
            api,
            server,
        }
    }

    /// Run `n` GETs with `get` and measure them.
    fn run<F, Fut>(&self, mode: Mode, n: usize, get: F) -> Run
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Pod> + Send,
    {
        let (c0, s0) = (support::thread_cpu(), self.server.cpu());
        let (wall, latency_sum) = self.rt.block_on(drive(mode, n, get));
        Run {
            wall,
            latency_sum,
            client_cpu: support::thread_cpu() - c0,
            server_cpu: self.server.cpu() - s0,
        }
    }

    fn baseline(&self, mode: Mode, n: usize) -> Run {
        let (http, url) = (self.http.clone(), self.url.clone());
        self.run(mode, n, move || {
            let (http, url) = (http.clone(), url.clone());
            async move { baseline_get(&http, &url).await }
        })
    }

    fn candidate(&self, mode: Mode, n: usize) -> Run {
        let api = self.api.clone();
        self.run(mode, n, move || {
            let api = api.clone();
            async move { candidate_get(&api).await }
        })
    }
}

fn smoke(setup: &Setup, expected: &Pod) {
    let check = |pod: Pod| assert_eq!(&pod, expected, "decoded pod differs from the one served");
    check(setup.rt.block_on(baseline_get(&setup.http, &setup.url)));
    check(setup.rt.block_on(candidate_get(&setup.api)));
    for mode in [Mode::Sequential, Mode::Concurrent] {
        for run in [setup.baseline(mode, 32), setup.candidate(mode, 32)] {
            assert!(run.wall > Duration::ZERO && run.latency_sum > Duration::ZERO);
        }
    }
    // A missing object is an error for the candidate, as it must be.
    let missing = setup.rt.block_on(setup.api.get("nope"));
    assert!(missing.is_err_and(|e| e.is_not_found()), "404 must be NotFound");
    println!("client_overhead: smoke run ok (run with --bench to measure)");
}

/// Per-round totals of the blocks in `runs` (BLOCKS blocks a round).
fn per_round(runs: &[Run]) -> Vec<Run> {
    runs.chunks(BLOCKS)
        .map(|blocks| {
            let mut total = Run::default();
            for b in blocks {
                total += *b;
            }
            total
        })
        .collect()
}

fn med(runs: &[Run], f: impl Fn(&Run) -> Duration) -> f64 {
    support::median(&runs.iter().map(|r| f(r).as_secs_f64()).collect::<Vec<_>>())
}

fn measure(setup: &Setup) {
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    let load = support::ForeignLoad::start();
    for mode in [Mode::Sequential, Mode::Concurrent] {
        let runs = std::cell::RefCell::new((Vec::new(), Vec::new()));
        let samples = support::interleaved_blocks(
            ROUNDS,
            BLOCKS,
            &mut [
                Box::new(|| {
                    let r = setup.baseline(mode, N / BLOCKS);
                    runs.borrow_mut().0.push(r);
                    r.wall
                }),
                Box::new(|| {
                    let r = setup.candidate(mode, N / BLOCKS);
                    runs.borrow_mut().1.push(r);
                    r.wall
                }),
            ],
        );
        let (base_runs, cand_runs) = runs.into_inner();
        let (base_rounds, cand_rounds) = (per_round(&base_runs), per_round(&cand_runs));
        let (b, c) = (support::median(&samples[0]), support::median(&samples[1]));
        let ratio = c / b;
        let paired = support::paired_ratio(&samples[0], &samples[1]);
        let cpu_ratio = med(&cand_rounds, |r| r.client_cpu) / med(&base_rounds, |r| r.client_cpu);
        for (who, t, s, rounds) in [
            ("baseline", b, &samples[0], &base_rounds),
            ("candidate", c, &samples[1], &cand_rounds),
        ] {
            let cand = who == "candidate";
            let us = |f: fn(&Run) -> Duration| format!("{:.1}", med(rounds, f) / N as f64 * 1e6);
            rows.push(vec![
                mode.label().to_string(),
                who.to_string(),
                format!("{:.1}", t * 1e3),
                format!("±{:.1}%", support::spread_pct(s) / 2.0),
                format!("{:.0}", N as f64 / t),
                us(|r| r.latency_sum),
                us(|r| r.client_cpu),
                us(|r| r.server_cpu),
                if cand {
                    format!("{ratio:.3}")
                } else {
                    String::new()
                },
                if cand {
                    format!("{paired:.3}")
                } else {
                    String::new()
                },
                if cand {
                    format!("{cpu_ratio:.3}")
                } else {
                    String::new()
                },
            ]);
        }
        verdicts.push(format!(
            "  {}: ratio {ratio:.3} -> {}",
            mode.label(),
            support::verdict(ratio, GOAL)
        ));
    }
    support::print_table(
        &[
            "mode",
            "client",
            "median ms/round",
            "spread",
            "req/s",
            "mean latency µs",
            "client CPU µs/req",
            "server CPU µs/req",
            "ratio",
            "paired",
            "client CPU ratio",
        ],
        &rows,
    );
    println!();
    println!("  ratio = median candidate time / median baseline time; paired = median of per-round ratios;");
    println!("  client CPU ratio = client-thread CPU time per request, candidate / baseline");
    for v in verdicts {
        println!("{v}");
    }
    println!("{}", load.describe());
}

type BoxGet = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Pod> + Send>> + Send + Sync>;

/// What each step of our client adds to a bare reqwest GET: the reqwest-level calls
/// `Client::send` makes, added one at a time, then the candidate; and the in-process cost of
/// the steps that do no I/O.
fn ablation(setup: &Setup) {
    let ours = reqwest::Client::builder()
        .no_proxy()
        .user_agent(format!("kube-client/{}", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    type Step = fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder;
    let none: Step = |r| r;
    let accept: Step = |r| r.header(http::header::ACCEPT, "application/json");
    let body: Step = |r| r.body(Bytes::new());
    let timeout: Step = |r| r.timeout(Duration::from_secs(295));
    let all: Step = |r| {
        r.header(http::header::ACCEPT, "application/json")
            .body(Bytes::new())
            .timeout(Duration::from_secs(295))
    };
    let reqwest_variant = |http: &reqwest::Client, step: Step| -> BoxGet {
        let (http, url) = (http.clone(), setup.url.clone());
        Arc::new(move || {
            let (http, url) = (http.clone(), url.clone());
            Box::pin(async move {
                let resp = step(http.get(&*url)).send().await.expect("GET");
                let bytes = resp.bytes().await.expect("body");
                serde_json::from_slice::<Pod>(&bytes).expect("decode")
            })
        })
    };
    let api = setup.api.clone();
    let candidate: BoxGet = Arc::new(move || {
        let api = api.clone();
        Box::pin(async move { candidate_get(&api).await })
    });
    let variants: Vec<(&str, BoxGet)> = vec![
        ("bare reqwest (baseline)", reqwest_variant(&setup.http, none)),
        ("+ Accept: application/json", reqwest_variant(&setup.http, accept)),
        ("+ .body(Bytes::new())", reqwest_variant(&setup.http, body)),
        ("+ .timeout(295 s)", reqwest_variant(&setup.http, timeout)),
        (
            "reqwest client built like ours (UA, idle, connect timeout)",
            reqwest_variant(&ours, none),
        ),
        (
            "that client + Accept + body + timeout",
            reqwest_variant(&ours, all),
        ),
        ("Api::<Pod>::get (candidate)", candidate),
    ];
    println!(
        "ablation: N = {N} per variant per round, {ROUNDS} rounds of {BLOCKS} rotating blocks, medians \
         (futures boxed for every variant alike)"
    );
    let load = support::ForeignLoad::start();
    let mut rows: Vec<Vec<String>> = variants.iter().map(|(l, _)| vec![l.to_string()]).collect();
    for mode in [Mode::Sequential, Mode::Concurrent] {
        for (_, get) in &variants {
            let get = get.clone();
            setup.run(mode, 500, move || get());
        }
        let runs = std::cell::RefCell::new(vec![Vec::new(); variants.len()]);
        let runs_ref = &runs;
        let mut fns: Vec<Box<dyn FnMut() -> Duration + '_>> = variants
            .iter()
            .enumerate()
            .map(|(i, (_, get))| {
                let get = get.clone();
                Box::new(move || {
                    let get = get.clone();
                    let r = setup.run(mode, N / BLOCKS, move || get());
                    runs_ref.borrow_mut()[i].push(r);
                    r.wall
                }) as Box<dyn FnMut() -> Duration + '_>
            })
            .collect();
        let samples = support::interleaved_blocks(ROUNDS, BLOCKS, &mut fns);
        drop(fns);
        let runs = runs.into_inner();
        let base_t = support::median(&samples[0]);
        let base_cpu = med(&per_round(&runs[0]), |r| r.client_cpu);
        for (i, s) in samples.iter().enumerate() {
            let t = support::median(s);
            let cpu = med(&per_round(&runs[i]), |r| r.client_cpu);
            rows[i].extend([
                format!("{:.1}", t / N as f64 * 1e6),
                format!("{:+.1}", (t - base_t) / N as f64 * 1e6),
                format!("{:.3}", t / base_t),
                format!("{:.2}", cpu / N as f64 * 1e6),
                format!("{:+.2}", (cpu - base_cpu) / N as f64 * 1e6),
            ]);
        }
    }
    support::print_table(
        &[
            "variant",
            "seq µs/req",
            "Δ",
            "ratio",
            "seq CPU µs",
            "Δ CPU",
            "conc µs/req",
            "Δ",
            "ratio",
            "conc CPU µs",
            "Δ CPU",
        ],
        &rows,
    );
    println!("  µs/req = wall time / N; CPU = client-thread CPU time / N");
    println!("{}", load.describe());
    println!();
    micro_steps(setup);
}

/// The in-process steps of `Api::get` → `Client::request` → `Client::send` that do no I/O,
/// each repeated on its own, to put a number on each.
fn micro_steps(setup: &Setup) {
    const ITERS: u32 = 200_000;
    let base = setup.server.base_url();
    let collection = kube_core::request::Request::new("/api/v1/namespaces/default/pods");
    let gp = GetParams::default();
    let request = collection.get("web-0", &gp).expect("request");
    let parts = collection.get("web-0", &gp).expect("request").into_parts().0;
    let url = format!("{base}{PATH}");
    let ours = reqwest::Client::builder()
        .no_proxy()
        .user_agent("kube-client/0.1.0")
        .build()
        .expect("client");
    let time = |f: &mut dyn FnMut()| {
        for _ in 0..ITERS / 10 {
            f();
        }
        let start = Instant::now();
        for _ in 0..ITERS {
            f();
        }
        start.elapsed().as_secs_f64() / f64::from(ITERS) * 1e9
    };
    let steps: Vec<(&str, f64)> = vec![
        (
            "kube_core Request::get (path, query, http::Request with Uri parse)",
            time(&mut || {
                std::hint::black_box(collection.get(std::hint::black_box("web-0"), &gp).expect("get"));
            }),
        ),
        (
            "describe(): format!(\"{method} {uri}\") label",
            time(&mut || {
                std::hint::black_box(format!("{} {}", request.method(), request.uri()));
            }),
        ),
        (
            "path_and_query().to_string() + format!(base, path)",
            time(&mut || {
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
                std::hint::black_box(format!("{base}{path}"));
            }),
        ),
        (
            "tracing::debug_span! + 3 × record (no subscriber installed)",
            time(&mut || {
                let span = tracing::debug_span!(
                    "kube_request",
                    verb = %parts.method,
                    path = %parts.uri.path(),
                    status = tracing::field::Empty,
                    attempts = tracing::field::Empty,
                    duration_ms = tracing::field::Empty,
                );
                span.record("attempts", 1);
                span.record("duration_ms", 1u64);
                span.record("status", 200u16);
                std::hint::black_box(span);
            }),
        ),
        (
            "parts.headers.clone() (Accept)",
            time(&mut || {
                std::hint::black_box(parts.headers.clone());
            }),
        ),
        (
            "bare: http.get(url).build()",
            time(&mut || {
                std::hint::black_box(setup.http.get(&url).build().expect("build"));
            }),
        ),
        (
            "ours: request(method, url).headers().timeout().body().build()",
            time(&mut || {
                std::hint::black_box(
                    ours.request(parts.method.clone(), &url)
                        .headers(parts.headers.clone())
                        .timeout(Duration::from_secs(295))
                        .body(Bytes::new())
                        .build()
                        .expect("build"),
                );
            }),
        ),
    ];
    let api_get = setup.api.get("web-0");
    let bare_get = baseline_get(&setup.http, &setup.url);
    println!(
        "future sizes (moved by value on every await boundary that wraps them): Api::get {} B, \
         bare reqwest GET + decode {} B",
        std::mem::size_of_val(&api_get),
        std::mem::size_of_val(&bare_get)
    );
    drop((api_get, bare_get));
    println!("in-process steps (no I/O), {ITERS} iterations each:");
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|(l, ns)| vec![l.to_string(), format!("{ns:.0}")])
        .collect();
    support::print_table(&["step", "ns/call"], &rows);
}

fn main() {
    let expected = support::pod(0);
    let body = Bytes::from(support::pod_json(0));
    let setup = Setup::new(body.clone());
    if !support::bench_mode() {
        smoke(&setup, &expected);
        return;
    }
    if std::env::args().any(|a| a == "--ablation") {
        ablation(&setup);
        return;
    }
    // `-- --profile baseline|candidate [count] [seq]`: one client only (16-way concurrent unless
    // `seq`), for `perf record` or `valgrind --tool=callgrind`.
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--profile") {
        let who = args.get(at + 1).map_or("candidate", String::as_str);
        let n = args.get(at + 2).and_then(|c| c.parse().ok()).unwrap_or(10 * N);
        let mode = if args.iter().any(|a| a == "seq") {
            Mode::Sequential
        } else {
            Mode::Concurrent
        };
        // Warm up (connections) first, so that a profile shows the steady state.
        let run = match who {
            "baseline" => {
                setup.baseline(mode, TASKS);
                setup.baseline(mode, n)
            }
            "candidate" => {
                setup.candidate(mode, TASKS);
                setup.candidate(mode, n)
            }
            other => panic!("--profile baseline|candidate, not {other}"),
        };
        println!(
            "{who}: {n} requests, {:.0} req/s, client CPU {:.2} µs/req",
            n as f64 / run.wall.as_secs_f64(),
            run.client_cpu.as_secs_f64() / n as f64 * 1e6
        );
        return;
    }
    println!(
        "client_overhead: GET {PATH} ({} B Pod JSON) over loopback HTTP/1.1",
        body.len()
    );
    println!(
        "  N = {N} requests per client per round (concurrent: {TASKS} tasks); {ROUNDS} rounds, each \
         interleaving the two clients in {BLOCKS} alternating blocks of {}; medians over rounds",
        N / BLOCKS
    );
    println!("  client: current-thread tokio runtime (1 core); server: hyper on its own thread (1 core)");
    println!("  baseline: reqwest::Client::builder().no_proxy() + serde_json::from_slice::<Pod>");
    println!("  candidate: Api::<Pod>::namespaced(Client{{qps: None}}, \"default\").get(\"web-0\")");
    println!();
    // Warm-up: connections, allocator, caches.
    for mode in [Mode::Sequential, Mode::Concurrent] {
        setup.baseline(mode, 1_000);
        setup.candidate(mode, 1_000);
    }
    measure(&setup);
}
