//! Our side of the informer benchmark (`scripts/bench-informer` runs it beside kube-rs's
//! reflector and prints the ratios).
//!
//! ```text
//! cargo bench -p kube-runtime --bench informer_sync -- --bench --kubeconfig PATH [--decoded]
//! ```
//!
//! Syncs a shared informer over all pods with the default configuration (compact store, the
//! managedFields transform) and prints one line:
//! `impl=ours objects=N synced_ms=X rss_kib=Y hwm_kib=Z base_rss_kib=B`. `synced_ms` runs from
//! the informer's start to its store being synced; the memory figures are VmRSS and VmHWM then,
//! and VmRSS at process start. Without `--bench` (as `cargo test` runs benches) it syncs 200
//! pods from an in-process apiserver as a smoke test.

use std::time::Instant;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use kube_client::config::Kubeconfig;
use kube_client::{Api, Client, Config};
use kube_core::params::PostParams;
use kube_runtime::informer::{InformerOptions, SharedInformerFactory};
use reference_apiserver::testing::TestServer;

fn rss_hwm_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn sync(client: Client, decoded: bool, base_rss: u64) -> (usize, f64) {
    let factory = SharedInformerFactory::new(client);
    let mut options = InformerOptions::default();
    if decoded {
        options = options.decoded();
    }
    let pods = factory.informer::<Pod>(options);
    let started = Instant::now();
    factory.start();
    assert!(factory.wait_for_cache_sync().await, "synced");
    let took = started.elapsed().as_secs_f64() * 1000.0;
    let n = pods.store().len();
    let (rss, hwm) = rss_hwm_kib();
    println!(
        "impl=ours{} objects={n} synced_ms={took:.1} rss_kib={rss} hwm_kib={hwm} base_rss_kib={base_rss}",
        if decoded { "-decoded" } else { "" }
    );
    factory.shutdown().await;
    (n, took)
}

async fn smoke() {
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().expect("url"));
    config.qps = None;
    let client = Client::new(config).expect("client");
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..200 {
        let mut pod = Pod::default();
        pod.metadata.name = Some(format!("p{i}"));
        pod.spec = Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        api.create(&PostParams::default(), &pod)
            .await
            .expect("pod created");
    }
    for decoded in [false, true] {
        let (n, _) = sync(client.clone(), decoded, 0).await;
        assert_eq!(n, 200);
    }
}

#[tokio::main]
async fn main() {
    let base_rss = rss_hwm_kib().0;
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        smoke().await;
        return;
    }
    let kubeconfig = args
        .iter()
        .position(|a| a == "--kubeconfig")
        .and_then(|i| args.get(i + 1))
        .expect("--kubeconfig PATH");
    let decoded = args.iter().any(|a| a == "--decoded");
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    let client = Client::new(config).expect("client");
    sync(client, decoded, base_rss).await;
}
