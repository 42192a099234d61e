//! kube-rs's side of the informer benchmark (`scripts/bench-informer`), and its pod loader.
//!
//! ```text
//! kube-rs-reflector --kubeconfig PATH [--namespace NS]
//!     Syncs kube-rs's idiomatic reflector (default watcher configuration) over pods and prints
//!     one line:
//!     impl=kube-rs objects=N synced_ms=X rss_kib=Y hwm_kib=Z base_rss_kib=B
//!
//! kube-rs-reflector load --kubeconfig PATH [--count 10000] [--namespaces 10] [--concurrency 32]
//!     Creates the namespaces bench-0..bench-<namespaces-1> and <count> realistic pods spread
//!     over them (with a status, through pods/status), then lists them once and prints the
//!     average size of one pod as served in a list.
//! ```
//!
//! `synced_ms` runs from just before the watcher stream is first polled to the store being
//! ready (the initial list applied). `rss_kib`/`hwm_kib` are VmRSS/VmHWM of /proc/self/status
//! when synced; `base_rss_kib` is VmRSS at process start, before the client is built.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::{
    Api, Client, Config,
    api::{Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{WatchStreamExt, reflector, watcher},
};

fn usage() -> &'static str {
    "usage:\n  kube-rs-reflector --kubeconfig PATH [--namespace NS]\n  \
     kube-rs-reflector load --kubeconfig PATH [--count N] [--namespaces N] [--concurrency N]"
}

/// VmRSS and VmHWM of this process, in KiB.
fn rss_hwm_kib() -> Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("no {name} in /proc/self/status"))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("bad {line:?}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

async fn client(kubeconfig: &str) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig).with_context(|| format!("reading {kubeconfig}"))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

struct Args {
    load: bool,
    kubeconfig: Option<String>,
    namespace: Option<String>,
    count: usize,
    namespaces: usize,
    concurrency: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        load: false,
        kubeconfig: None,
        namespace: None,
        count: 10_000,
        namespaces: 10,
        concurrency: 32,
    };
    let mut it = std::env::args().skip(1).peekable();
    if it.peek().map(String::as_str) == Some("load") {
        args.load = true;
        it.next();
    }
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{flag} needs a value\n{}", usage()))
        };
        match flag.as_str() {
            "--kubeconfig" => args.kubeconfig = Some(value()?),
            "--namespace" if !args.load => args.namespace = Some(value()?),
            "--count" if args.load => args.count = value()?.parse()?,
            "--namespaces" if args.load => args.namespaces = value()?.parse()?,
            "--concurrency" if args.load => args.concurrency = value()?.parse()?,
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{}", usage()),
        }
    }
    if args.kubeconfig.is_none() {
        bail!("--kubeconfig is required\n{}", usage());
    }
    if args.namespaces == 0 || args.concurrency == 0 {
        bail!("--namespaces and --concurrency must be at least 1");
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<()> {
    let (base_rss, _) = rss_hwm_kib()?;
    let args = parse_args()?;
    let kubeconfig = args.kubeconfig.as_deref().unwrap_or_default();
    if args.load {
        return load(kubeconfig, args.count, args.namespaces, args.concurrency).await;
    }

    let client = client(kubeconfig).await?;
    let api: Api<Pod> = match &args.namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };

    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    let start = Instant::now();
    let driver = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                eprintln!("kube-rs-reflector: watch error: {e}");
            }
        }
    });
    reader
        .wait_until_ready()
        .await
        .context("the reflector stopped before it was ready")?;
    let synced = start.elapsed();
    let (rss, hwm) = rss_hwm_kib()?;
    let objects = reader.state().len();
    println!(
        "impl=kube-rs objects={objects} synced_ms={:.1} rss_kib={rss} hwm_kib={hwm} base_rss_kib={base_rss}",
        synced.as_secs_f64() * 1000.0
    );
    driver.abort();
    std::process::exit(0);
}

async fn load(kubeconfig: &str, count: usize, namespaces: usize, concurrency: usize) -> Result<()> {
    let client = client(kubeconfig).await?;
    let ns_api: Api<Namespace> = Api::all(client.clone());
    for n in 0..namespaces {
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("bench-{n}")}
        }))?;
        match ns_api.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e).context("creating namespace"),
        }
    }

    let start = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let client = client.clone();
            async move {
                let ns = format!("bench-{}", i % namespaces);
                let api: Api<Pod> = Api::namespaced(client, &ns);
                let (pod, status) = pod(i, &ns);
                let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                let pod: Pod = serde_json::from_value(pod)?;
                match api.create(&PostParams::default(), &pod).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(e) => return Err(anyhow::Error::from(e).context(format!("creating {ns}/{name}"))),
                }
                let patch = Patch::Merge(serde_json::json!({ "status": status }));
                api.patch_status(&name, &PatchParams::default(), &patch)
                    .await
                    .with_context(|| format!("setting the status of {ns}/{name}"))?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<()>()
        .await?;
    let took = start.elapsed();

    // One list of everything, as the apiserver serves it (what a reflector's initial list reads,
    // in one page instead of 500-pod pages).
    let req = http::Request::get("/api/v1/pods").body(Vec::new())?;
    let body = client.request_text(req).await.context("listing pods")?;
    let list: serde_json::Value = serde_json::from_str(&body)?;
    let items = list["items"].as_array().context("no items in the pod list")?;
    let per_pod: Vec<usize> = items
        .iter()
        .map(|p| serde_json::to_vec(p).map(|v| v.len()))
        .collect::<Result<_, _>>()?;
    let n = items.len().max(1);
    let avg_body = body.len() as f64 / n as f64;
    let avg_item = per_pod.iter().sum::<usize>() as f64 / n as f64;
    println!(
        "loaded count={count} namespaces={namespaces} in {:.1}s; served list: pods={} body_bytes={} avg_bytes_per_pod={avg_body:.0} (items alone {avg_item:.0}, min {}, max {})",
        took.as_secs_f64(),
        items.len(),
        body.len(),
        per_pod.iter().min().unwrap_or(&0),
        per_pod.iter().max().unwrap_or(&0),
    );
    Ok(())
}

/// The `i`-th benchmark pod: a replica of one of 50 Deployments, with an app container (env from
/// values and the downward API, requests and limits, a port, mounts of a configMap, a secret and
/// an emptyDir, a liveness probe) and a sidecar, on one of 100 nodes, with the default
/// toleration; and its status (Running, with IPs), set through pods/status. Sized so that one pod
/// as the reference apiserver serves it in a list (with its defaults: imagePullPolicy,
/// terminationMessage*, probe thresholds, dnsPolicy, schedulerName, ...) is about 2 KB of JSON.
fn pod(i: usize, ns: &str) -> (serde_json::Value, serde_json::Value) {
    let app = format!("svc-{:02}", i % 50);
    let hash = format!("{:010x}", (i % 50) as u64 * 0x9e37_79b9);
    let rs = format!("{app}-{hash}");
    let name = format!("{rs}-{:05}", i);
    let node = format!("node-{:03}", i % 100);
    let ip = format!("127.{}.{}.{}", 64 + (i >> 16) % 32, (i >> 8) & 0xff, i & 0xff);
    let host_ip = format!("127.1.0.{}", i % 100 + 1);
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"app": app, "pod-template-hash": &hash},
            "annotations": {"prometheus.io/scrape": "true"},
        },
        "spec": {
            "nodeName": node,
            "serviceAccountName": app,
            "containers": [
                {
                    "name": "app",
                    "image": format!("example/{app}:1.8.3"),
                    "ports": [{"containerPort": 8080}],
                    "env": [
                        {"name": "APP_ENV", "value": "prod"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    ],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "500m", "memory": "512Mi"},
                    },
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/app", "readOnly": true},
                        {"name": "tls", "mountPath": "/etc/tls", "readOnly": true},
                        {"name": "cache", "mountPath": "/cache"},
                    ],
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                },
                {
                    "name": "proxy",
                    "image": "example/proxy:2.1.0",
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                },
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": format!("{app}-config")}},
                {"name": "tls", "secret": {"secretName": format!("{app}-tls")}},
                {"name": "cache", "emptyDir": {}},
            ],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
        },
    });
    let status = serde_json::json!({
        "phase": "Running",
        "hostIP": host_ip,
        "podIP": ip,
        "startTime": "2026-01-12T10:00:00Z",
        "qosClass": "Burstable",
    });
    (pod, status)
}
