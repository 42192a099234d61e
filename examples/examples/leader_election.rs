//! Compete for a leader election lock and print each transition.
//!
//! ```sh
//! cargo run -p examples --example leader_election -- \
//!     --lock lease --namespace default --name demo --identity "$(hostname)"
//! ```
//!
//! Prints exactly one line per transition: `started leading`, `stopped leading` and
//! `new leader: <identity>`. SIGINT or SIGTERM stops it and releases the lock, so another
//! instance takes over within about one retry period.

use std::time::Duration;

use clap::Parser;
use kube_client::{Client, Config};
use kube_leaderelection::{CancellationToken, LeaderElectionConfig, LeaderElector, LockKind};

/// Command-line options.
#[derive(Parser, Debug)]
struct Args {
    /// Lock kind: lease, configmap, endpoints, configmapsleases or endpointsleases.
    #[arg(long, default_value = "lease")]
    lock: LockKind,
    /// Namespace of the lock object.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Name of the lock object.
    #[arg(long)]
    name: String,
    /// This candidate's identity.
    #[arg(long)]
    identity: String,
    /// How long others wait before taking over an unrenewed lock.
    #[arg(long, default_value = "15s", value_parser = kube_core::duration::parse)]
    lease_duration: Duration,
    /// How long the leader retries renewing before it steps down.
    #[arg(long, default_value = "10s", value_parser = kube_core::duration::parse)]
    renew_deadline: Duration,
    /// Time between attempts.
    #[arg(long, default_value = "2s", value_parser = kube_core::duration::parse)]
    retry_period: Duration,
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Run the program (`pub`: `src/bin/leader_election.rs` builds it as a binary of the package too).
#[tokio::main]
pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let client = Client::new(Config::infer().await?)?;
    let lock = args
        .lock
        .build(client, &args.namespace, &args.name, &args.identity);
    let config = LeaderElectionConfig {
        name: lock.describe(),
        lock,
        lease_duration: args.lease_duration,
        renew_deadline: args.renew_deadline,
        retry_period: args.retry_period,
        release_on_cancel: true,
    };
    let elector = LeaderElector::new(config)?
        .on_started_leading(|leading: CancellationToken| async move {
            println!("started leading");
            // The leader's work goes here; it must stop when `leading` fires.
            leading.cancelled().await;
        })
        .on_stopped_leading(|| println!("stopped leading"))
        .on_new_leader(|identity| println!("new leader: {identity}"));

    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
        }
    });
    // Run again after losing leadership, until a signal arrives.
    while !shutdown.is_cancelled() {
        elector.run(shutdown.clone()).await;
    }
    Ok(())
}
