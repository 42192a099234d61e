//! The `configmapgen` operator: keeps an owned ConfigMap for every `ConfigMapGenerator`.
//!
//! ```sh
//! cargo run -p examples --example configmapgen -- crd | kubectl apply -f -
//! cargo run -p examples --example configmapgen -- run
//! ```
//!
//! `crd` prints the CustomResourceDefinition (generated from the Rust types); `run` runs the
//! operator with `Config::infer()` until SIGINT/SIGTERM. See `examples/src/configmapgen.rs`.

use examples::configmapgen::{self, ConfigMapGeneratorSpec};
use kube_client::{Client, Config};
use kube_core::CustomResource;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1).as_deref() {
        Some("crd") => {
            print!("{}", yaml_serde::to_string(&ConfigMapGeneratorSpec::crd())?);
            Ok(())
        }
        Some("run") => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
                )
                .init();
            let client = Client::try_from(Config::infer().await?)?;
            let shutdown = CancellationToken::new();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                stop.cancel();
            });
            configmapgen::run(client, shutdown).await;
            Ok(())
        }
        _ => Err("usage: configmapgen crd|run".into()),
    }
}
