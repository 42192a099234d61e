//! Decoding throughput: lists and watch streams of pods, our types and framing against
//! serde_json decoding the same bytes into the same k8s-openapi types directly.
//!
//! Goal: candidate time / baseline time ≤ 1.05 for the in-memory decodes (the main figures);
//! the end-to-end figures over a loopback server are reported alongside.
//!
//! `cargo bench -p kube-client --bench decode` measures; without `--bench` (as under
//! `cargo test --all-targets`) it does a short smoke run on a few pods and checks the results.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube_client::{Api, Client, Config};
use kube_core::params::{ListParams, WatchParams};
use kube_core::{ObjectList, WatchEvent};
use serde::Deserialize;

const PODS: usize = 10_000;
const SMOKE_PODS: usize = 20;
const CHUNK: usize = 16 * 1024;
const ROUNDS: usize = 7;
const GOAL: f64 = 1.05;
const LIST_PATH: &str = "/api/v1/namespaces/default/pods";

/// The most direct decoding of a watch line: no tag dispatch, no buffering.
#[derive(Deserialize)]
struct Ev {
    #[serde(rename = "type")]
    type_: String,
    object: Pod,
}

type OpenapiWatchEvent = k8s_openapi::apimachinery::pkg::apis::meta::v1::WatchEvent<Pod>;

struct Data {
    list: Bytes,
    watch: Bytes,
    chunks: Vec<Bytes>,
}

fn chunked(body: &Bytes) -> Vec<Bytes> {
    (0..body.len())
        .step_by(CHUNK)
        .map(|at| body.slice(at..(at + CHUNK).min(body.len())))
        .collect()
}

// ---- in-memory decoders ----

fn list_baseline(d: &Data) -> Vec<Pod> {
    serde_json::from_slice::<k8s_openapi::List<Pod>>(&d.list)
        .expect("baseline list")
        .items
}

fn list_candidate(d: &Data) -> Vec<Pod> {
    serde_json::from_slice::<ObjectList<Pod>>(&d.list)
        .expect("candidate list")
        .items
}

fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|b| *b == b'\n').filter(|l| !l.is_empty())
}

fn watch_baseline_direct(d: &Data) -> Vec<Ev> {
    lines(&d.watch)
        .map(|l| serde_json::from_slice::<Ev>(l).expect("baseline event"))
        .collect()
}

fn watch_baseline_openapi(d: &Data) -> Vec<OpenapiWatchEvent> {
    lines(&d.watch)
        .map(|l| serde_json::from_slice::<OpenapiWatchEvent>(l).expect("openapi event"))
        .collect()
}

fn watch_candidate(d: &Data) -> Vec<WatchEvent<Pod>> {
    let body = futures::stream::iter(d.chunks.clone().into_iter().map(Ok::<_, Infallible>));
    let events = kube_client::client::decode::watch_events::<Pod, _, _>("GET watch".into(), body);
    futures::executor::block_on(events.map(|e| e.expect("candidate event")).collect())
}

// ---- end to end over loopback ----

struct Remote {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    list_url: String,
    watch_url: String,
    api: Api<Pod>,
    _server: support::Server,
}

impl Remote {
    fn new(d: &Data) -> Self {
        support::install_crypto_provider();
        let (list, watch) = (d.list.clone(), d.watch.clone());
        let server = support::serve(Arc::new(move |method, uri| {
            let is_watch = uri
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true"));
            match (method == http::Method::GET, uri.path() == LIST_PATH, is_watch) {
                (true, true, false) => support::json_response(list.clone()),
                (true, true, true) => support::streamed_response(watch.clone(), CHUNK),
                _ => support::not_found(),
            }
        }));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("bare reqwest client");
        let mut config = Config::new(server.base_url().parse().expect("server url"));
        config.qps = None;
        let api = Api::namespaced(Client::new(config).expect("client"), "default");
        Self {
            rt,
            http,
            list_url: format!("{}{LIST_PATH}", server.base_url()),
            watch_url: format!("{}{LIST_PATH}?watch=true", server.base_url()),
            api,
            _server: server,
        }
    }

    fn list_baseline(&self) -> Vec<Pod> {
        self.rt.block_on(async {
            let resp = self.http.get(&self.list_url).send().await.expect("baseline GET");
            assert!(resp.status().is_success());
            let bytes = resp.bytes().await.expect("baseline body");
            serde_json::from_slice::<k8s_openapi::List<Pod>>(&bytes)
                .expect("baseline list")
                .items
        })
    }

    fn list_candidate(&self) -> Vec<Pod> {
        self.rt.block_on(async {
            self.api
                .list(&ListParams::default())
                .await
                .expect("candidate list")
                .items
        })
    }

    /// bytes_stream, split on b'\n' (scanning only new bytes), serde_json each line.
    fn watch_baseline(&self) -> Vec<Ev> {
        self.rt.block_on(async {
            let resp = self
                .http
                .get(&self.watch_url)
                .send()
                .await
                .expect("baseline watch");
            assert!(resp.status().is_success());
            let mut stream = resp.bytes_stream();
            let mut buf: Vec<u8> = Vec::new();
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.expect("baseline chunk");
                let mut scan = buf.len();
                buf.extend_from_slice(&chunk);
                let mut start = 0;
                while let Some(pos) = buf[scan..].iter().position(|b| *b == b'\n') {
                    let end = scan + pos;
                    if end > start {
                        out.push(serde_json::from_slice::<Ev>(&buf[start..end]).expect("baseline event"));
                    }
                    start = end + 1;
                    scan = start;
                }
                buf.drain(..start);
            }
            assert!(buf.iter().all(u8::is_ascii_whitespace), "trailing partial event");
            out
        })
    }

    fn watch_candidate(&self) -> Vec<WatchEvent<Pod>> {
        self.rt.block_on(async {
            let events = self
                .api
                .watch(&WatchParams::default(), "1")
                .await
                .expect("candidate watch");
            events.map(|e| e.expect("candidate event")).collect().await
        })
    }
}

fn names<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Vec<&'a str> {
    pods.into_iter()
        .map(|p| p.metadata.name.as_deref().unwrap_or(""))
        .collect()
}

fn smoke(d: &Data, expected: &[Pod]) {
    let remote = Remote::new(d);
    assert_eq!(list_baseline(d), expected);
    assert_eq!(list_candidate(d), expected);
    assert_eq!(remote.list_baseline(), expected);
    assert_eq!(remote.list_candidate(), expected);

    let direct = watch_baseline_direct(d);
    assert!(direct.iter().all(|e| e.type_ == "MODIFIED"));
    assert_eq!(
        direct.iter().map(|e| &e.object).collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    let openapi = watch_baseline_openapi(d);
    let openapi_pods: Vec<&Pod> = openapi
        .iter()
        .map(|e| match e {
            OpenapiWatchEvent::Modified(p) => p,
            _ => panic!("expected MODIFIED"),
        })
        .collect();
    assert_eq!(openapi_pods, expected.iter().collect::<Vec<_>>());
    for events in [watch_candidate(d), remote.watch_candidate()] {
        assert!(events.iter().all(|e| matches!(e, WatchEvent::Modified(_))));
        assert_eq!(
            events.iter().filter_map(WatchEvent::object).collect::<Vec<_>>(),
            expected.iter().collect::<Vec<_>>()
        );
    }
    let remote_direct = remote.watch_baseline();
    assert_eq!(names(remote_direct.iter().map(|e| &e.object)), names(expected));
    println!(
        "decode: smoke run ok on {} pods (run with --bench to measure)",
        expected.len()
    );
}

/// Time one decode: wall time and this thread's CPU time. The result is dropped after the
/// clock stops (the same for everyone).
fn measure<T>(f: impl FnOnce() -> Vec<T>, expect_len: usize) -> (Duration, Duration) {
    let cpu = support::thread_cpu();
    let start = Instant::now();
    let out = std::hint::black_box(f());
    let elapsed = start.elapsed();
    let cpu = support::thread_cpu() - cpu;
    assert_eq!(out.len(), expect_len);
    drop(out);
    (elapsed, cpu)
}

struct Case {
    name: &'static str,
    contender: &'static str,
    bytes: usize,
    wall: Vec<f64>,
    cpu: Vec<f64>,
    baseline: bool,
    main: bool,
}

type Contender<'a> = (&'static str, Box<dyn FnMut() -> (Duration, Duration) + 'a>);

/// Run a group of contenders interleaved and record their samples.
fn group(
    cases: &mut Vec<Case>,
    name: &'static str,
    bytes: usize,
    main: bool,
    contenders: Vec<Contender<'_>>,
) {
    let cpu = std::cell::RefCell::new(vec![Vec::new(); contenders.len()]);
    let cpu_ref = &cpu;
    let labels: Vec<&'static str> = contenders.iter().map(|(l, _)| *l).collect();
    let mut fns: Vec<Box<dyn FnMut() -> Duration + '_>> = contenders
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut f))| {
            Box::new(move || {
                let (wall, c) = f();
                cpu_ref.borrow_mut()[i].push(c.as_secs_f64());
                wall
            }) as Box<dyn FnMut() -> Duration + '_>
        })
        .collect();
    let walls = support::interleaved(ROUNDS, &mut fns);
    drop(fns);
    for ((label, wall), cpu) in labels.into_iter().zip(walls).zip(cpu.into_inner()) {
        let baseline = label.starts_with("baseline");
        cases.push(Case {
            name,
            contender: label,
            bytes,
            wall,
            cpu,
            baseline,
            main,
        });
    }
}

fn report(cases: &[Case]) {
    let mb = |b: usize| b as f64 / 1e6;
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    for case in cases {
        let t = support::median(&case.wall);
        let c = support::median(&case.cpu);
        let (mut ratios, mut paired, mut cpu_ratios) = (String::new(), String::new(), String::new());
        if !case.baseline {
            let bases: Vec<&Case> = cases
                .iter()
                .filter(|b| b.name == case.name && b.baseline)
                .collect();
            let join = |f: &dyn Fn(&Case) -> f64| {
                bases
                    .iter()
                    .map(|b| format!("{:.3}", f(b)))
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            ratios = join(&|b| t / support::median(&b.wall));
            paired = join(&|b| support::paired_ratio(&b.wall, &case.wall));
            cpu_ratios = join(&|b| c / support::median(&b.cpu));
            // Against the fastest baseline of the group.
            let strict = bases
                .iter()
                .map(|b| t / support::median(&b.wall))
                .fold(0.0, f64::max);
            let strict_cpu = bases
                .iter()
                .map(|b| c / support::median(&b.cpu))
                .fold(0.0, f64::max);
            let goal = if case.main {
                format!("goal ≤ {GOAL:.2}: {}", support::verdict(strict, GOAL))
            } else {
                "(reported, no goal)".into()
            };
            verdicts.push(format!(
                "  {}: ratio {strict:.3} (CPU-time ratio {strict_cpu:.3}) vs the fastest baseline -> {goal}",
                case.name
            ));
        }
        rows.push(vec![
            case.name.to_string(),
            case.contender.to_string(),
            format!("{:.1}", t * 1e3),
            format!("±{:.1}%", support::spread_pct(&case.wall) / 2.0),
            format!("{:.0}", mb(case.bytes) / t),
            format!("{:.1}", c * 1e3),
            ratios,
            paired,
            cpu_ratios,
        ]);
    }
    support::print_table(
        &[
            "case",
            "contender",
            "median ms",
            "spread",
            "MB/s",
            "CPU ms",
            "ratio",
            "paired",
            "CPU ratio",
        ],
        &rows,
    );
    println!();
    println!("  ratio = median candidate wall time / median baseline wall time (one figure per baseline, in");
    println!("  table order); paired = median of per-round ratios; CPU = this thread's CPU time (the client");
    println!("  thread for end-to-end), immune to preemption by other processes");
    for v in verdicts {
        println!("{v}");
    }
}

/// `-- --profile <case> [pods]`: run one decoder once, for `valgrind --tool=callgrind
/// --toggle-collect=decode::profile`.
#[inline(never)]
fn profile(d: &Data, n: usize, case: &str) {
    let (wall, cpu) = match case {
        "list-baseline" => measure(|| list_baseline(d), n),
        "list-candidate" => measure(|| list_candidate(d), n),
        "watch-direct" => measure(|| watch_baseline_direct(d), n),
        "watch-openapi" => measure(|| watch_baseline_openapi(d), n),
        "watch-candidate" => measure(|| watch_candidate(d), n),
        other => panic!("unknown case {other}"),
    };
    println!(
        "{case}: {n} pods, {:.1} ms wall, {:.1} ms CPU",
        wall.as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3
    );
}

fn main() {
    let bench = support::bench_mode();
    let args: Vec<String> = std::env::args().collect();
    let profile_case = args.iter().position(|a| a == "--profile").map(|i| {
        let case = args.get(i + 1).cloned().unwrap_or_default();
        (case, args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(PODS))
    });
    let n = match &profile_case {
        Some((_, n)) => *n,
        None if bench => PODS,
        None => SMOKE_PODS,
    };
    let pod_bytes: Vec<Vec<u8>> = (0..n).map(support::pod_json).collect();
    let list = Bytes::from(support::pod_list_json(&pod_bytes));
    let watch = Bytes::from(support::watch_body(&pod_bytes));
    let d = Data {
        chunks: chunked(&watch),
        list,
        watch,
    };
    drop(pod_bytes);

    if let Some((case, n)) = profile_case {
        profile(&d, n, &case);
        return;
    }
    if !bench {
        let expected: Vec<Pod> = (0..n).map(support::pod).collect();
        smoke(&d, &expected);
        return;
    }
    let remote = Remote::new(&d);
    let mb = |b: usize| b as f64 / 1e6;
    println!(
        "decode: {n} pods; PodList {:.1} MB; watch stream {:.1} MB ({n} MODIFIED lines, avg {} B), {} KiB chunks",
        mb(d.list.len()),
        mb(d.watch.len()),
        d.watch.len() / n,
        CHUNK / 1024
    );
    println!(
        "  sizes: Pod {} B, kube_core::WatchEvent<Pod> {} B, Result<WatchEvent<Pod>, kube_client::Error> {} B",
        std::mem::size_of::<Pod>(),
        std::mem::size_of::<WatchEvent<Pod>>(),
        std::mem::size_of::<kube_client::Result<WatchEvent<Pod>>>()
    );
    println!(
        "  {ROUNDS} interleaved rounds (order rotated each round), medians; results dropped off the clock"
    );
    println!("  end-to-end: hyper on its own thread (1 core), client on a current-thread runtime (1 core)");
    println!();

    // Warm-up: allocator, page faults, connections.
    for _ in 0..2 {
        measure(|| list_baseline(&d), n);
        measure(|| list_candidate(&d), n);
        measure(|| watch_baseline_direct(&d), n);
        measure(|| watch_baseline_openapi(&d), n);
        measure(|| watch_candidate(&d), n);
    }
    measure(|| remote.list_baseline(), n);
    measure(|| remote.list_candidate(), n);
    measure(|| remote.watch_baseline(), n);
    measure(|| remote.watch_candidate(), n);

    let load = support::ForeignLoad::start();
    let mut cases: Vec<Case> = Vec::new();
    group(
        &mut cases,
        "list, in memory",
        d.list.len(),
        true,
        vec![
            (
                "baseline: serde_json -> k8s_openapi::List<Pod>",
                Box::new(|| measure(|| list_baseline(&d), n)),
            ),
            (
                "candidate: serde_json -> kube_core::ObjectList<Pod>",
                Box::new(|| measure(|| list_candidate(&d), n)),
            ),
        ],
    );
    group(
        &mut cases,
        "watch, in memory",
        d.watch.len(),
        true,
        vec![
            (
                "baseline: split + serde_json -> struct {type, object: Pod}",
                Box::new(|| measure(|| watch_baseline_direct(&d), n)),
            ),
            (
                "baseline: split + serde_json -> k8s_openapi WatchEvent<Pod>",
                Box::new(|| measure(|| watch_baseline_openapi(&d), n)),
            ),
            (
                "candidate: decode::watch_events, 16 KiB chunks",
                Box::new(|| measure(|| watch_candidate(&d), n)),
            ),
        ],
    );
    group(
        &mut cases,
        "list, end to end",
        d.list.len(),
        false,
        vec![
            (
                "baseline: reqwest bytes + serde_json -> List<Pod>",
                Box::new(|| measure(|| remote.list_baseline(), n)),
            ),
            (
                "candidate: Api::<Pod>::list",
                Box::new(|| measure(|| remote.list_candidate(), n)),
            ),
        ],
    );
    group(
        &mut cases,
        "watch, end to end",
        d.watch.len(),
        false,
        vec![
            (
                "baseline: reqwest bytes_stream + split + serde_json",
                Box::new(|| measure(|| remote.watch_baseline(), n)),
            ),
            (
                "candidate: Api::<Pod>::watch",
                Box::new(|| measure(|| remote.watch_candidate(), n)),
            ),
        ],
    );
    report(&cases);
    println!("{}", load.describe());
}
