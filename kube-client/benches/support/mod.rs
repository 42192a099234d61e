//! Helpers shared by the kube-client bench binaries: realistic pods, a loopback HTTP/1.1
//! server on its own thread, interleaved timing and table printing.
//!
//! Every bench binary has two modes. `cargo bench` passes `--bench`: measure for real.
//! `cargo test --all-targets` runs the binary without it: do a tiny smoke run that checks the
//! results and exits within a second or two.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

/// `true` when run by `cargo bench` (with `--bench`), `false` in the smoke mode of `cargo test`.
pub fn bench_mode() -> bool {
    std::env::args().skip(1).any(|a| a == "--bench")
}

/// reqwest is built with `rustls-no-provider`: a bare `reqwest::Client` (the baseline) panics
/// unless a default crypto provider is installed. Our `Client` brings its own TLS config.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn hex(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap()
        })
        .collect()
}

fn uid(seed: u64) -> String {
    let h = hex(seed, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A realistic running StatefulSet pod `web-<i>` (about 3.5 KB of JSON): labels, annotations,
/// an owner reference, one container with ports, env, resources, probes and mounts, projected
/// service-account volume, tolerations, and a full status with five conditions.
pub fn pod(i: usize) -> Pod {
    let name = format!("web-{i}");
    let node = i % 50;
    let ip = format!("127.{}.{}.{}", 10 + (i >> 16) % 200, (i >> 8) % 256, i % 256);
    let host_ip = format!("127.1.0.{}", node + 1);
    let t0 = "2025-03-14T09:26:53Z";
    let t1 = "2025-03-14T09:26:55Z";
    let t2 = "2025-03-14T09:27:04Z";
    let value = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": "web-",
            "namespace": "default",
            "uid": uid(i as u64),
            "resourceVersion": (100_000 + i).to_string(),
            "creationTimestamp": t0,
            "labels": {
                "app": "web",
                "tier": "frontend",
                "controller-revision-hash": "web-7c5ddbdf54",
                "statefulset.kubernetes.io/pod-name": name,
                "apps.kubernetes.io/pod-index": i.to_string(),
            },
            "annotations": {
                "kubectl.kubernetes.io/restartedAt": "2025-03-14T09:20:00Z",
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9090",
            },
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "name": "web",
                "uid": uid(7),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "containers": [{
                "name": "nginx",
                "image": "registry.k8s.io/nginx-slim:0.27",
                "imagePullPolicy": "IfNotPresent",
                "ports": [
                    {"name": "http", "containerPort": 80, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                ],
                "env": [
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                    {"name": "LOG_LEVEL", "value": "info"},
                ],
                "resources": {
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                },
                "volumeMounts": [
                    {"name": "www", "mountPath": "/usr/share/nginx/html"},
                    {"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true},
                ],
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP"},
                    "initialDelaySeconds": 10, "timeoutSeconds": 1, "periodSeconds": 10,
                    "successThreshold": 1, "failureThreshold": 3,
                },
                "readinessProbe": {
                    "httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"},
                    "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3,
                },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "nodeName": format!("node-{node}"),
            "hostname": name,
            "subdomain": "web",
            "securityContext": {"runAsNonRoot": true, "runAsUser": 101, "fsGroup": 101},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
            "volumes": [
                {"name": "www", "persistentVolumeClaim": {"claimName": format!("www-{name}")}},
                {"name": "kube-api-access-x7k2p", "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                    ],
                    "defaultMode": 420,
                }},
            ],
            "priority": 0,
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": t1},
                {"type": "Initialized", "status": "True", "lastTransitionTime": t0},
                {"type": "Ready", "status": "True", "lastTransitionTime": t2},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": t2},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": t0},
            ],
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": t0,
            "containerStatuses": [{
                "name": "nginx",
                "state": {"running": {"startedAt": t1}},
                "lastState": {},
                "ready": true,
                "restartCount": 0,
                "image": "registry.k8s.io/nginx-slim:0.27",
                "imageID": format!("registry.k8s.io/nginx-slim@sha256:{}", hex(99, 64)),
                "containerID": format!("containerd://{}", hex(1000 + i as u64, 64)),
                "started": true,
            }],
            "qosClass": "Burstable",
        },
    });
    serde_json::from_value(value).expect("the pod template is a valid Pod")
}

/// `pod(i)` serialised as the apiserver would send it.
pub fn pod_json(i: usize) -> Vec<u8> {
    serde_json::to_vec(&pod(i)).expect("pods serialise")
}

/// A `PodList` of `pods`, serialised once.
pub fn pod_list_json(pods: &[Vec<u8>]) -> Vec<u8> {
    let mut out =
        br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":["#.to_vec();
    for (i, p) in pods.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(p);
    }
    out.extend_from_slice(b"]}");
    out
}

/// A watch body: one `{"type":"MODIFIED","object":...}` line per pod.
pub fn watch_body(pods: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pods.iter().map(|p| p.len() + 32).sum());
    for p in pods {
        out.extend_from_slice(br#"{"type":"MODIFIED","object":"#);
        out.extend_from_slice(p);
        out.extend_from_slice(b"}\n");
    }
    out
}

/// CPU time the calling thread has used (`/proc/thread-self/schedstat`, nanoseconds), or zero
/// where that is unavailable. Unlike wall time it does not include waiting for wake-ups, which
/// on a small VM vary from run to run far more than the code under test.
pub fn thread_cpu() -> Duration {
    cpu_of("/proc/thread-self/schedstat")
}

fn cpu_of(path: &str) -> Duration {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// The id of the calling thread (Linux), from the `/proc/thread-self` link.
fn thread_id() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// Answers one request: method, URI → response.
pub type Handler = Arc<dyn Fn(&http::Method, &http::Uri) -> http::Response<Body> + Send + Sync>;

/// A loopback HTTP/1.1 server (hyper) on its own thread and single-threaded tokio runtime, so
/// that the client under test and the server each get one of the machine's cores. Stops when
/// dropped.
pub struct Server {
    /// Where it listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    tid: Option<String>,
}

impl Server {
    /// CPU time the server thread has used so far (zero where unavailable).
    pub fn cpu(&self) -> Duration {
        self.tid.as_ref().map_or(Duration::ZERO, |tid| {
            cpu_of(&format!("/proc/self/task/{tid}/schedstat"))
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Start a server answering every request with `handler`.
pub fn serve(handler: Handler) -> Server {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (shutdown_tx, mut shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("bench-apiserver".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                addr_tx
                    .send((listener.local_addr().expect("local addr"), thread_id()))
                    .expect("send addr");
                loop {
                    let (stream, _) = tokio::select! {
                        _ = &mut shutdown_rx => break,
                        accepted = listener.accept() => match accepted {
                            Ok(conn) => conn,
                            Err(_) => continue,
                        },
                    };
                    let _ = stream.set_nodelay(true);
                    let handler = handler.clone();
                    tokio::spawn(async move {
                        let service =
                            hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                                let resp = handler(req.method(), req.uri());
                                async move { Ok::<_, Infallible>(resp) }
                            });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })
        .expect("spawn server thread");
    let (addr, tid) = addr_rx.recv().expect("server address");
    Server {
        addr,
        shutdown: Some(shutdown_tx),
        thread: Some(thread),
        tid,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `200 OK` JSON response with a fixed body (sent with a `Content-Length`).
pub fn json_response(body: bytes::Bytes) -> http::Response<Body> {
    http::Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("valid response")
}

/// A `200 OK` JSON response streamed in `chunk` byte pieces (chunked transfer encoding).
pub fn streamed_response(body: bytes::Bytes, chunk: usize) -> http::Response<Body> {
    let chunks: Vec<Result<bytes::Bytes, Infallible>> = (0..body.len())
        .step_by(chunk)
        .map(|at| Ok(body.slice(at..(at + chunk).min(body.len()))))
        .collect();
    http::Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .expect("valid response")
}

/// `404 Not Found`.
pub fn not_found() -> http::Response<Body> {
    http::Response::builder()
        .status(404)
        .body(Body::empty())
        .expect("valid response")
}

/// Runs each contender once per round, `rounds` times, rotating who goes first so that drift
/// (thermal, the other tenant of the machine) hits all of them alike. Returns each contender's
/// samples in seconds.
pub fn interleaved<'a>(rounds: usize, contenders: &mut [Box<dyn FnMut() -> Duration + 'a>]) -> Vec<Vec<f64>> {
    let n = contenders.len();
    let mut samples = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let idx = (round + k) % n;
            samples[idx].push(contenders[idx]().as_secs_f64());
        }
    }
    samples
}

/// Like [`interleaved`], but each round is split into `blocks` short blocks, alternating
/// between the contenders block by block; a contender's sample for the round is the sum of its
/// blocks. Finer interleaving keeps a burst of load from another process on this shared
/// machine from landing on one contender only.
pub fn interleaved_blocks<'a>(
    rounds: usize,
    blocks: usize,
    contenders: &mut [Box<dyn FnMut() -> Duration + 'a>],
) -> Vec<Vec<f64>> {
    let n = contenders.len();
    let mut samples = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        let mut sums = vec![0.0; n];
        for block in 0..blocks {
            for k in 0..n {
                let idx = (round + block + k) % n;
                sums[idx] += contenders[idx]().as_secs_f64();
            }
        }
        for (s, sum) in samples.iter_mut().zip(sums) {
            s.push(sum);
        }
    }
    samples
}

/// CPU time used on this machine by *other* processes while it runs: `/proc/stat` busy time
/// minus this process's own (`/proc/self/stat`). Linux only; `None` elsewhere.
pub struct ForeignLoad {
    start: Option<(u64, u64)>,
    wall: Instant,
}

fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = fields.iter().take(8).sum::<u64>() - fields.get(3)? - fields.get(4)?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_comm = &own[own.rfind(')')? + 2..];
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    let own_ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((busy, own_ticks))
}

impl ForeignLoad {
    /// Start measuring.
    pub fn start() -> Self {
        Self {
            start: cpu_ticks(),
            wall: Instant::now(),
        }
    }

    /// Average number of cores other processes kept busy since [`start`](Self::start).
    pub fn cores(&self) -> Option<f64> {
        let (b0, o0) = self.start?;
        let (b1, o1) = cpu_ticks()?;
        let ticks = (b1 - b0).saturating_sub(o1 - o0) as f64;
        Some(ticks / 100.0 / self.wall.elapsed().as_secs_f64())
    }

    /// A line for the report.
    pub fn describe(&self) -> String {
        match self.cores() {
            Some(c) if c > 0.15 => format!(
                "  WARNING: other processes kept {c:.2} of the {} cores busy during the measurement; \
                 figures are noisy",
                std::thread::available_parallelism().map_or(0, |n| n.get())
            ),
            Some(c) => format!("  other processes' load during the measurement: {c:.2} cores (quiet)"),
            None => "  (load of other processes unknown)".into(),
        }
    }
}

/// Time `f`.
pub fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

/// The median of `v`.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Median over rounds of candidate/baseline measured in the same round.
pub fn paired_ratio(base: &[f64], cand: &[f64]) -> f64 {
    let ratios: Vec<f64> = base.iter().zip(cand).map(|(b, c)| c / b).collect();
    median(&ratios)
}

/// min–max spread of `v` relative to its median, in percent.
pub fn spread_pct(v: &[f64]) -> f64 {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (max - min) / median(v) * 100.0
}

/// Prints a plain-text table with a header rule.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c == 0 {
                    format!("{s:<w$}", w = widths[c])
                } else {
                    format!("{s:>w$}", w = widths[c])
                }
            })
            .collect();
        println!("  {}", parts.join("  "));
    };
    line(header.to_vec());
    println!(
        "  {}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// `≤ goal` verdict for a ratio.
pub fn verdict(ratio: f64, goal: f64) -> String {
    if ratio <= goal {
        format!("met (≤ {goal:.2})")
    } else {
        format!("MISSED (> {goal:.2})")
    }
}
