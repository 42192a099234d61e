//! Controller cold start: 10,000 primary objects, each owning one object, all in sync; how long
//! from `run` until every primary has been reconciled and the queue is idle.
//!
//! ```text
//! cargo bench -p kube-runtime --bench controller -- --bench [--objects 10000]
//! ```
//!
//! The baseline, measured in the same process against the same apiserver, is the least any
//! controller must do: list both collections (pages of 500) and run the same check for every
//! primary in a plain loop. The ratio is ours / baseline. Without `--bench` (as `cargo test`
//! runs benches) it does the same with 100 objects as a smoke test.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube_client::{Api, Client, Config};
use kube_core::ResourceExt;
use kube_core::params::{ListParams, PostParams};
use kube_runtime::controller::{self, Action, Controller};
use kube_runtime::informer::{InformerOptions, SharedInformerFactory};
use kube_runtime::reflector::{ObjectKey, Store};
use reference_apiserver::testing::TestServer;
use tokio_util::sync::CancellationToken;

const NAMESPACE: &str = "default";

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Whether the primary's owned secret is in sync: the check every reconcile makes.
fn in_sync(cm: &ConfigMap, secret: Option<&Secret>) -> bool {
    secret.is_some_and(|s| {
        s.owner_references()
            .iter()
            .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == cm.metadata.uid.as_deref())
    })
}

async fn load(client: &Client, n: usize) {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let chunks: Vec<Vec<usize>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(n.div_ceil(16))
        .map(<[usize]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (cms, secrets) = (cms.clone(), secrets.clone());
        tasks.push(tokio::spawn(async move {
            for i in chunk {
                let mut cm = ConfigMap::default();
                cm.metadata.name = Some(format!("parent-{i:05}"));
                cm.data = Some([("replicas".to_string(), "1".to_string())].into());
                let cm = cms
                    .create(&PostParams::default(), &cm)
                    .await
                    .expect("create parent");
                let mut secret = Secret::default();
                secret.metadata.name = cm.metadata.name.clone();
                secret.metadata.owner_references = Some(vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: cm.name_any(),
                    uid: cm.uid().expect("uid"),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]);
                secrets
                    .create(&PostParams::default(), &secret)
                    .await
                    .expect("create owned");
            }
        }));
    }
    for t in tasks {
        t.await.expect("loader");
    }
}

async fn baseline(client: &Client) -> (Duration, usize) {
    let started = Instant::now();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let owned: HashMap<String, Secret> = secrets
        .list_stream(&ListParams::default())
        .map_ok(|s| (s.name_any(), s))
        .try_collect()
        .await
        .expect("list secrets");
    let primaries: Vec<ConfigMap> = cms
        .list_stream(&ListParams::default())
        .try_collect()
        .await
        .expect("list");
    let synced = primaries
        .iter()
        .filter(|cm| in_sync(cm, owned.get(&cm.name_any())))
        .count();
    (started.elapsed(), synced)
}

struct Ctx {
    secrets: Store<Secret>,
    reconciled: AtomicUsize,
    in_sync: AtomicUsize,
}

async fn reconcile(cm: Arc<ConfigMap>, ctx: Arc<Ctx>) -> Result<Action, std::convert::Infallible> {
    let key = ObjectKey::namespaced(NAMESPACE, cm.name_any());
    if in_sync(&cm, ctx.secrets.get(&key).as_deref()) {
        ctx.in_sync.fetch_add(1, Ordering::Relaxed);
    }
    ctx.reconciled.fetch_add(1, Ordering::Relaxed);
    Ok(Action::await_change())
}

async fn ours(client: &Client, n: usize, workers: usize) -> (Duration, usize, usize) {
    let started = Instant::now();
    let factory = SharedInformerFactory::new(client.clone());
    let secrets = factory.informer::<Secret>(InformerOptions::default().namespace(NAMESPACE));
    let ctx = Arc::new(Ctx {
        secrets: secrets.store(),
        reconciled: AtomicUsize::new(0),
        in_sync: AtomicUsize::new(0),
    });
    let controller = Controller::new(
        Api::<ConfigMap>::namespaced(client.clone(), NAMESPACE),
        controller::Config::default().workers(workers).factory(&factory),
    )
    .owns(
        Api::<Secret>::namespaced(client.clone(), NAMESPACE),
        InformerOptions::default(),
    );
    let queue = controller.queue().clone();
    let stop = CancellationToken::new();
    let run = tokio::spawn(controller.run(reconcile, ctx.clone(), stop.clone()));
    // Idle: every primary reconciled (each once: the owned objects' initial adds collapse
    // into the same keys) and nothing queued.
    let deadline = Instant::now() + Duration::from_secs(300);
    while ctx.reconciled.load(Ordering::Relaxed) < n || !queue.is_empty() {
        assert!(Instant::now() < deadline, "controller did not go idle");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let took = started.elapsed();
    stop.cancel();
    run.await.expect("controller stops");
    factory.shutdown().await;
    (
        took,
        ctx.reconciled.load(Ordering::Relaxed),
        ctx.in_sync.load(Ordering::Relaxed),
    )
}

#[tokio::main]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = arg("--objects").map_or(if bench { 10_000 } else { 100 }, |v| {
        v.parse().expect("--objects N")
    });
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().expect("url"));
    config.qps = None;
    let client = Client::new(config).expect("client");
    let t = Instant::now();
    load(&client, n).await;
    println!(
        "loaded {n} primaries and {n} owned objects in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let rounds = if bench { 3 } else { 1 };
    for workers in [1, 4] {
        let mut base = Vec::new();
        let mut mine = Vec::new();
        let mut extra = 0;
        for _ in 0..rounds {
            let (b, synced) = baseline(&client).await;
            assert_eq!(synced, n, "baseline saw every primary in sync");
            base.push(b);
            let (o, reconciles, synced) = ours(&client, n, workers).await;
            assert_eq!(synced, reconciles, "every reconcile saw its primary in sync");
            assert!(reconciles >= n, "every primary reconciled");
            extra = extra.max(reconciles - n);
            mine.push(o);
        }
        base.sort();
        mine.sort();
        let (b, o) = (base[rounds / 2], mine[rounds / 2]);
        println!(
            "controller cold start: {n} primaries + {n} owned, {workers} worker(s): time to idle {:.0} ms; \
             baseline (list both + loop) {:.0} ms; ratio {:.2}; repeated reconciles at most {extra}",
            o.as_secs_f64() * 1000.0,
            b.as_secs_f64() * 1000.0,
            o.as_secs_f64() / b.as_secs_f64()
        );
    }
}
