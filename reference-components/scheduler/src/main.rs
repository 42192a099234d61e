//! `ref-scheduler`: the reference scheduler as a program, with kube-scheduler's flags.
//!
//! ```sh
//! ref-scheduler --kubeconfig ./kubeconfig                      # elects on kube-system/kube-scheduler
//! ref-scheduler --config scheduler.yaml --leader-elect=false   # one replica, no election
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use clap::{CommandFactory, FromArgMatches, Parser};
use kube_client::config::{Kubeconfig, KubeconfigOptions};
use kube_client::{Client, Config};
use kube_leaderelection::CancellationToken;
use kube_leaderelection::component::{ComponentElection, ElectionMonitor, LeaderElectionFlags};
use reference_scheduler::metrics::SchedulerMetrics;
use reference_scheduler::{KubeSchedulerConfiguration, Scheduler};

/// The name the scheduler elects under and reports as (its lock is the Lease
/// `kube-system/kube-scheduler` unless configured otherwise).
const COMPONENT: &str = "kube-scheduler";

/// The reference Kubernetes scheduler.
#[derive(Parser, Debug)]
#[command(name = "ref-scheduler", version)]
struct Args {
    /// A KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1). The `--leader-elect*`
    /// flags given on the command line override its `leaderElection`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The kubeconfig of the apiserver (overrides `clientConnection.kubeconfig`; default:
    /// `$KUBECONFIG`, `~/.kube/config`, then in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Client-side requests per second to the apiserver (overrides `clientConnection.qps`;
    /// default 50).
    #[arg(long = "kube-api-qps")]
    qps: Option<f32>,
    /// Client-side burst (overrides `clientConnection.burst`; default 100).
    #[arg(long = "kube-api-burst")]
    burst: Option<u32>,
    /// Where to serve `/healthz` (with the leader election check), `/readyz` and `/metrics`
    /// over plain HTTP; a loopback address, or `off`.
    #[arg(long, default_value = "127.0.0.1:10259")]
    health_address: String,
    #[command(flatten)]
    leader_election: LeaderElectionFlags,
}

/// What the health server reads.
#[derive(Clone)]
struct Health {
    election: ElectionMonitor,
    scheduler: Arc<SchedulerMetrics>,
}

async fn healthz(State(h): State<Health>) -> (StatusCode, String) {
    match h.election.check() {
        Ok(()) => (StatusCode::OK, "ok".into()),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("[-]leaderElection failed: {err}\nhealthz check failed\n"),
        ),
    }
}

async fn metrics(State(h): State<Health>) -> String {
    let mut out = h.scheduler.render();
    if let Some(election) = h.election.metrics() {
        out.push_str(&election.render());
    }
    out
}

/// Binds the health server (loopback only) and serves it until `shutdown` fires.
async fn serve_health(
    address: &str,
    health: Health,
    shutdown: CancellationToken,
) -> Result<(), Box<dyn std::error::Error>> {
    if address == "off" {
        return Ok(());
    }
    let address: SocketAddr = address
        .parse()
        .map_err(|e| format!("--health-address {address}: {e}"))?;
    if !address.ip().is_loopback() {
        return Err(format!(
            "--health-address {address}: the reference scheduler binds loopback addresses only"
        )
        .into());
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("--health-address {address}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving /healthz, /readyz and /metrics");
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(health);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
        {
            tracing::error!(error = %err, "health server failed");
        }
    });
    Ok(())
}

async fn shutdown_signal(token: CancellationToken) {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    token.cancel();
}

async fn client(
    args: &Args,
    config: &KubeSchedulerConfiguration,
) -> Result<Client, Box<dyn std::error::Error>> {
    let path = args.kubeconfig.clone().or_else(|| {
        Some(PathBuf::from(&config.client_connection.kubeconfig)).filter(|p| !p.as_os_str().is_empty())
    });
    let mut client_config = match path {
        Some(path) => {
            Config::from_custom_kubeconfig(Kubeconfig::read_from(&path)?, &KubeconfigOptions::default())
                .await?
        }
        None => Config::infer().await?,
    };
    client_config.qps = Some(args.qps.or(config.client_connection.qps).unwrap_or(50.0));
    client_config.burst = args.burst.or(config.client_connection.burst).unwrap_or(100);
    Ok(Client::new(client_config)?)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let matches = Args::command().get_matches();
    let args = Args::from_arg_matches(&matches)?;
    let mut config = match &args.config {
        Some(path) => KubeSchedulerConfiguration::read(path)?,
        None => KubeSchedulerConfiguration::default(),
    };
    args.leader_election
        .apply_explicit(&matches, &mut config.leader_election);
    let client = client(&args, &config).await?;
    let scheduler = Scheduler::new(client.clone(), &config)?;
    let shutdown = CancellationToken::new();
    tokio::spawn(shutdown_signal(shutdown.clone()));
    let election = ComponentElection::new(config.leader_election.clone(), client, COMPONENT);
    let health = Health {
        election: election.monitor(),
        scheduler: scheduler.metrics(),
    };
    serve_health(&args.health_address, health, shutdown.clone()).await?;
    election
        .run(shutdown, move |leading| {
            let scheduler = scheduler.clone();
            async move { scheduler.run(leading).await }
        })
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("ref-scheduler: {err}");
            ExitCode::FAILURE
        }
    }
}
