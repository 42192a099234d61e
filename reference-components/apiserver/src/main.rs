//! `ref-apiserver`: the reference Kubernetes apiserver.
//!
//! ```sh
//! ref-apiserver --listen 127.0.0.1:6443 --storage embedded --data-dir ./data --write-kubeconfig ./kubeconfig
//! # several of these can serve one cluster (built with `--features etcd`):
//! ref-apiserver --listen 127.0.0.1:6443 --storage etcd --etcd-servers http://127.0.0.1:2379
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use reference_apiserver::server::{ApiState, ServerConfig, router};
use reference_apiserver::storage::{self, StorageKind};
use reference_apiserver::testing::kubeconfig_yaml;

/// mimalloc: the create path allocates a few hundred small blocks per request, and glibc's
/// malloc took a fifth of the server's CPU under load (see the book's performance chapter).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Backend {
    /// Durable, in one data directory (the default).
    Embedded,
    /// In memory, gone with the process.
    Memory,
    /// A real etcd cluster (`--etcd-servers`); several apiservers may share it. Needs a build
    /// with the `etcd` feature.
    Etcd,
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
    #[command(flatten)]
    etcd: EtcdArgs,
}

/// The flags of `--storage etcd`, named as kube-apiserver's.
#[derive(Debug, clap::Args)]
#[cfg_attr(not(feature = "etcd"), allow(dead_code))]
struct EtcdArgs {
    /// etcd client URLs, comma-separated (`--storage etcd`).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    etcd_servers: Vec<String>,
    /// Prefix of every key in etcd (`/registry/...` keys are stored under it). Empty: none.
    #[arg(long, default_value = "")]
    etcd_prefix: String,
    /// CA file that signed etcd's certificate (for `https://` servers).
    #[arg(long)]
    etcd_cafile: Option<PathBuf>,
    /// Client certificate for etcd.
    #[arg(long)]
    etcd_certfile: Option<PathBuf>,
    /// Client key for etcd.
    #[arg(long)]
    etcd_keyfile: Option<PathBuf>,
    /// How often to compact etcd's history, keeping one interval of it (`0`: never), as
    /// kube-apiserver's flag: `300s`, `5m`, `1h`.
    #[arg(long, default_value = "5m", value_parser = kube_core::duration::parse)]
    etcd_compaction_interval: std::time::Duration,
    /// How long an etcd request may take before the apiserver answers 503.
    #[arg(long, default_value = "5s", value_parser = kube_core::duration::parse)]
    etcd_request_timeout: std::time::Duration,
}

#[cfg(feature = "etcd")]
async fn open_etcd(
    args: &EtcdArgs,
) -> Result<std::sync::Arc<dyn storage::Storage>, Box<dyn std::error::Error>> {
    use storage::etcd::{EtcdConfig, EtcdTls};
    let tls = (args.etcd_cafile.is_some() || args.etcd_certfile.is_some()).then(|| EtcdTls {
        ca_file: args.etcd_cafile.clone(),
        cert_file: args.etcd_certfile.clone(),
        key_file: args.etcd_keyfile.clone(),
    });
    let config = EtcdConfig {
        endpoints: args.etcd_servers.clone(),
        prefix: args.etcd_prefix.clone(),
        request_timeout: args.etcd_request_timeout,
        tls,
        ..EtcdConfig::default()
    };
    let compaction = storage::etcd::compaction_policy(args.etcd_compaction_interval);
    Ok(storage::etcd::open(config, compaction).await?)
}

#[cfg(not(feature = "etcd"))]
async fn open_etcd(_: &EtcdArgs) -> Result<std::sync::Arc<dyn storage::Storage>, Box<dyn std::error::Error>> {
    Err(
        "--storage etcd: this ref-apiserver was built without the `etcd` feature \
         (cargo build -p reference-apiserver --features etcd)"
            .into(),
    )
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
        Backend::Embedded => Some(StorageKind::Embedded),
        Backend::Memory => Some(StorageKind::Memory),
        Backend::Etcd => None,
    };
    if matches!(kind, Some(StorageKind::Embedded)) {
        std::fs::create_dir_all(&args.data_dir)
            .map_err(|e| format!("cannot create data directory {}: {e}", args.data_dir.display()))?;
    }
    let storage = match kind {
        Some(kind) => storage::open(kind, &args.data_dir)?,
        None => open_etcd(&args.etcd).await?,
    };
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
