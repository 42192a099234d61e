//! Shared helpers: a client for the in-process apiserver, a TCP proxy that can cut it off, and
//! candidates whose leadership windows are recorded.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube_client::{Client, Config};
use kube_leaderelection::{LeaderElectionConfig, LeaderElector, LockKind};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Lease 2s, renew deadline 1.5s, retry period 0.5s.
pub const LEASE: Duration = Duration::from_secs(2);
pub const RENEW: Duration = Duration::from_millis(1500);
pub const RETRY: Duration = Duration::from_millis(500);
/// Allowance for HTTP round trips and scheduling on a loaded machine.
pub const SLACK: Duration = Duration::from_millis(700);

pub const NS: &str = "default";

pub fn client(url: &str) -> Client {
    let mut config = Config::new(url.parse().expect("valid url"));
    config.qps = None;
    Client::new(config).expect("client")
}

/// Poll `cond` every 20ms until it holds; the time it took, or a panic after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Who leads right now, and the most that ever led at once.
#[derive(Clone, Default)]
pub struct Leading(Arc<Mutex<(BTreeSet<String>, usize)>>);

impl Leading {
    pub fn enter(&self, id: &str) {
        let mut g = self.0.lock().unwrap();
        g.0.insert(id.to_string());
        g.1 = g.1.max(g.0.len());
    }
    pub fn leave(&self, id: &str) {
        self.0.lock().unwrap().0.remove(id);
    }
    pub fn current(&self) -> BTreeSet<String> {
        self.0.lock().unwrap().0.clone()
    }
    pub fn max_concurrent(&self) -> usize {
        self.0.lock().unwrap().1
    }
    /// The one leader, if exactly one leads.
    pub fn single(&self) -> Option<String> {
        let cur = self.current();
        (cur.len() == 1).then(|| cur.into_iter().next().unwrap())
    }
}

/// A candidate running `LeaderElector::run` in a task.
pub struct Candidate {
    pub id: String,
    pub elector: Arc<LeaderElector>,
    pub shutdown: CancellationToken,
    killed: CancellationToken,
    pub task: JoinHandle<()>,
    leading: Leading,
}

impl Candidate {
    pub fn spawn(
        client: Client,
        kind: LockKind,
        name: &str,
        id: &str,
        release: bool,
        leading: &Leading,
    ) -> Self {
        let lock = kind.build(client, NS, name, id);
        let config = LeaderElectionConfig {
            lock,
            lease_duration: LEASE,
            renew_deadline: RENEW,
            retry_period: RETRY,
            release_on_cancel: release,
            name: name.to_string(),
        };
        let killed = CancellationToken::new();
        let (work_leading, work_killed, work_id) = (leading.clone(), killed.clone(), id.to_string());
        let elector = Arc::new(
            LeaderElector::new(config)
                .expect("valid config")
                .on_started_leading(move |token| {
                    let (leading, killed, id) = (work_leading.clone(), work_killed.clone(), work_id.clone());
                    async move {
                        leading.enter(&id);
                        tokio::select! {
                            _ = token.cancelled() => {}
                            _ = killed.cancelled() => {}
                        }
                        leading.leave(&id);
                    }
                }),
        );
        let shutdown = CancellationToken::new();
        let task = tokio::spawn({
            let (elector, shutdown) = (elector.clone(), shutdown.clone());
            async move { elector.run(shutdown).await }
        });
        Self {
            id: id.to_string(),
            elector,
            shutdown,
            killed,
            task,
            leading: leading.clone(),
        }
    }

    /// Stop the process dead: no release, no more renewals, its work gone.
    pub fn kill(&self) {
        self.task.abort();
        self.killed.cancel();
        self.leading.leave(&self.id);
    }
}

/// A TCP proxy in front of the apiserver that can refuse and cut all connections.
pub struct Proxy {
    addr: SocketAddr,
    blocked: Arc<Mutex<(bool, Vec<tokio::task::AbortHandle>)>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let blocked: Arc<Mutex<(bool, Vec<tokio::task::AbortHandle>)>> = Arc::default();
        let state = blocked.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut g = state.lock().unwrap();
                if g.0 {
                    continue; // dropping the socket refuses the request
                }
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                g.1.push(conn.abort_handle());
            }
        });
        Self {
            addr,
            blocked,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cut every open connection and refuse new ones.
    pub fn block(&self) {
        let mut g = self.blocked.lock().unwrap();
        g.0 = true;
        for c in g.1.drain(..) {
            c.abort();
        }
    }

    pub fn unblock(&self) {
        self.blocked.lock().unwrap().0 = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.block();
        self.accept.abort();
    }
}
