//! Print every change to pods, from a shared informer.
//!
//! ```sh
//! cargo run -p examples --example pod_informer -- [NAMESPACE]
//! ```
//!
//! Prints `added`, `updated` and `deleted` lines with `namespace/name`, the pod's phase and node.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube_client::{Client, Config};
use kube_core::ResourceExt;
use kube_runtime::informer::{HandlerFns, HandlerOptions, InformerOptions, SharedInformerFactory};

fn describe(pod: &Pod) -> String {
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("-");
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("-");
    format!(
        "{}/{} phase={phase} node={node}",
        pod.namespace().unwrap_or_default(),
        pod.name_any()
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::try_from(Config::infer().await?)?;
    let mut options = InformerOptions::default();
    if let Some(ns) = std::env::args().nth(1) {
        options = options.namespace(&ns);
    }
    let factory = SharedInformerFactory::new(client);
    let pods = factory.informer::<Pod>(options);
    pods.add_handler(
        HandlerFns::new()
            .on_add(|pod: &Arc<Pod>, initial| {
                let when = if initial { " (initial list)" } else { "" };
                println!("added {}{when}", describe(pod));
            })
            .on_update(|old: &Arc<Pod>, new: &Arc<Pod>| {
                if old.resource_version() != new.resource_version() {
                    println!("updated {}", describe(new));
                }
            })
            .on_delete(|pod: &Arc<Pod>, unknown| {
                let how = if unknown {
                    " (missed while disconnected)"
                } else {
                    ""
                };
                println!("deleted {}{how}", describe(pod));
            }),
        HandlerOptions::default(),
    );
    factory.start();
    factory.wait_for_cache_sync().await;
    eprintln!("synced: {} pods", pods.store().len());
    tokio::signal::ctrl_c().await?;
    factory.shutdown().await;
    Ok(())
}
