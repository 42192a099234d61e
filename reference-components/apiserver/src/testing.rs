//! An in-process apiserver for tests: memory storage, a random loopback port, ready in
//! milliseconds. Every crate's integration tests use it instead of mocks.
//!
//! ```no_run
//! # async fn run() {
//! let server = reference_apiserver::testing::TestServer::start().await;
//! println!("apiserver at {}", server.url());
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server::{ApiState, ServerConfig, router};
use crate::storage::{self, Storage, StorageKind};

/// A running in-process apiserver. Stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<ApiState>,
    stop: CancellationToken,
}

impl TestServer {
    /// Start one on memory storage.
    pub async fn start() -> Self {
        let storage = storage::open(StorageKind::Memory, Path::new("")).expect("memory storage opens");
        Self::start_with(storage, ServerConfig::default()).await
    }

    /// Start one over the given storage.
    pub async fn start_with(storage: Arc<dyn Storage>, mut config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        config.advertise = addr;
        let state = ApiState::new(storage, config).await.expect("apiserver state");
        let stop = CancellationToken::new();
        let app = router(state.clone());
        let token = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await;
        });
        Self { addr, state, stop }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server state (storage, cache, registry) for white-box checks.
    pub fn state(&self) -> &Arc<ApiState> {
        &self.state
    }

    /// A kubeconfig for kubectl and clients.
    pub fn kubeconfig(&self) -> String {
        kubeconfig_yaml(&self.url())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        self.stop.cancel();
    }
}

/// A kubeconfig pointing at `server` with no credentials (the reference server accepts anonymous
/// requests).
pub fn kubeconfig_yaml(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: reference\n  cluster:\n    server: {server}\n\
         users:\n- name: reference\n  user: {{}}\ncontexts:\n- name: reference\n  context:\n    cluster: reference\n    user: reference\n    namespace: default\n\
         current-context: reference\npreferences: {{}}\n"
    )
}

/// Polls `probe` every 20 ms until it returns `Some`, for at most `timeout`; panics naming
/// `what` when time runs out. The tests' way to wait for something to happen (never a bare
/// sleep).
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
