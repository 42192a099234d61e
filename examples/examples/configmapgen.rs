//! The `configmapgen` operator: keeps an owned ConfigMap for every `ConfigMapGenerator`.
//!
//! ```sh
//! cargo run -p examples --example configmapgen -- crd | kubectl apply -f -
//! cargo run -p examples --example configmapgen -- run
//! ```
//!
//! `crd` prints the CustomResourceDefinition (generated from the Rust types); `run` runs the
//! operator with `Config::infer()` until SIGINT/SIGTERM. See `examples/src/configmapgen.rs`.
//!
//! `run` takes the `--leader-elect*` flags of Kubernetes components: by default replicas compete
//! for the Lease `kube-system/configmapgen` and only the leader reconciles; a replica that loses
//! leadership exits with an error, and one stopped by a signal hands the Lease over at once.
//! `--leader-elect=false` runs without election.

use clap::{Parser, Subcommand};
use examples::configmapgen::{self, ConfigMapGeneratorSpec};
use kube_client::{Client, Config};
use kube_core::CustomResource;
use kube_leaderelection::component::{ComponentElection, LeaderElectionFlags};
use tokio_util::sync::CancellationToken;

/// The configmapgen operator.
#[derive(Parser, Debug)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the CustomResourceDefinition as YAML.
    Crd,
    /// Run the operator until SIGINT or SIGTERM.
    Run {
        #[command(flatten)]
        leader_election: LeaderElectionFlags,
    },
}

/// Run the program (`pub`: `src/bin/configmapgen.rs` builds it as a binary of the package too).
#[tokio::main]
pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Args::parse().command {
        Command::Crd => {
            print!("{}", yaml_serde::to_string(&ConfigMapGeneratorSpec::crd())?);
            Ok(())
        }
        Command::Run { leader_election } => {
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
            let election = leader_election.configuration("configmapgen");
            ComponentElection::new(election, client.clone(), "configmapgen")
                .run(shutdown, move |leading| {
                    configmapgen::run(client.clone(), leading)
                })
                .await?;
            Ok(())
        }
    }
}
