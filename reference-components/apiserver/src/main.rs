//! `ref-apiserver`: the reference Kubernetes apiserver.
//!
//! ```sh
//! ref-apiserver --listen 127.0.0.1:6443 --storage embedded --data-dir ./data --write-kubeconfig ./kubeconfig
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use reference_apiserver::server::{ApiState, ServerConfig, router};
use reference_apiserver::storage::{self, StorageKind};
use reference_apiserver::testing::kubeconfig_yaml;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Backend {
    /// Durable, in one data directory (the default).
    Embedded,
    /// In memory, gone with the process.
    Memory,
}

/// The reference Kubernetes apiserver.
#[derive(Debug, Parser)]
#[command(name = "ref-apiserver", version)]
struct Args {
    /// Address to listen on (loopback addresses only).
    #[arg(long, default_value = "127.0.0.1:6443", env = "REF_APISERVER_LISTEN")]
    listen: SocketAddr,
    /// Storage backend.
    #[arg(long, value_enum, default_value_t = Backend::Embedded)]
    storage: Backend,
    /// Data directory of the embedded store.
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Write a kubeconfig for this server here.
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// Cluster IP range of services.
    #[arg(long, default_value = "127.96.0.0/16")]
    service_cluster_ip_range: String,
    /// Concurrent non-watch requests before answering 429.
    #[arg(long, default_value_t = 400)]
    max_requests_inflight: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,reference_apiserver=info".into()),
        )
        .init();
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {}: the reference apiserver binds loopback addresses only",
            args.listen
        )
        .into());
    }
    let kind = match args.storage {
        Backend::Embedded => StorageKind::Embedded,
        Backend::Memory => StorageKind::Memory,
    };
    if matches!(kind, StorageKind::Embedded) {
        std::fs::create_dir_all(&args.data_dir)
            .map_err(|e| format!("cannot create data directory {}: {e}", args.data_dir.display()))?;
    }
    let storage = storage::open(kind, &args.data_dir)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let config = ServerConfig {
        advertise: addr,
        service_cidr: args.service_cluster_ip_range.parse()?,
        max_inflight: args.max_requests_inflight,
        ..ServerConfig::default()
    };
    let state = ApiState::new(storage, config).await.map_err(|s| s.message)?;
    if let Some(path) = &args.write_kubeconfig {
        std::fs::write(path, kubeconfig_yaml(&format!("http://{addr}")))
            .map_err(|e| format!("cannot write kubeconfig {}: {e}", path.display()))?;
    }
    tracing::info!(%addr, storage = ?args.storage, "ref-apiserver listening");
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down: ending watches, finishing requests");
        shutdown.cancel();
    });
    let stopping = state.shutdown.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stopping.cancelled_owned())
        .await?;
    Ok(())
}
