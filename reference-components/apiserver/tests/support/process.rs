//! The real `ref-apiserver` binary as a child process: started on a free loopback port, ready
//! once `/healthz` answers, killed with SIGKILL or signalled. Shared by the integration tests
//! (`tests/support`) and the apiserver benchmark (`benches/apiserver_support`).

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use http::Request;
use kube_client::{Client, Config};
use tokio::time::Instant;

/// The server binary of this package, built by cargo for integration tests and benchmarks.
pub const BINARY: &str = env!("CARGO_BIN_EXE_ref-apiserver");

/// How long a start may take before the caller fails (loading 100,000 objects included).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `--storage` of a started binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `--storage memory`.
    Memory,
    /// `--storage embedded`: durable in `--data-dir`.
    Embedded,
}

impl Backend {
    /// The flag value (and the name in benchmark tables).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Embedded => "embedded",
        }
    }
}

/// A running `ref-apiserver` process. Killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    /// stdout and stderr of the process (its tracing log).
    logs: tempfile::TempDir,
    /// From spawning the process to its first `ok` from `/healthz`.
    startup: Duration,
}

/// A port that was free a moment ago (the kernel picks it; the process binds it next).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("bound address").port()
}

impl ServerProcess {
    /// Start the binary on `backend` (`data_dir` is its `--data-dir`), logging at `info`, and
    /// wait until `/healthz` answers (it has loaded its storage and built its watch cache by
    /// then). A port taken between choosing and binding it is retried on another port.
    pub async fn start(backend: Backend, data_dir: &Path) -> Self {
        Self::start_logging(backend, data_dir, "info").await
    }

    /// [`start`](Self::start) with `RUST_LOG=log`.
    pub async fn start_logging(backend: Backend, data_dir: &Path, log: &str) -> Self {
        for _ in 0..5 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let logs = tempfile::tempdir().expect("log directory");
            let file = std::fs::File::create(logs.path().join("ref-apiserver.log")).expect("log file");
            let started = Instant::now();
            let child = Command::new(BINARY)
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--storage")
                .arg(backend.name())
                .arg("--data-dir")
                .arg(data_dir)
                .env("RUST_LOG", log)
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("log file handle"))
                .stderr(file)
                .spawn()
                .expect("spawn ref-apiserver");
            let mut server = ServerProcess {
                child,
                addr,
                logs,
                startup: Duration::ZERO,
            };
            match server.wait_ready().await {
                Ok(()) => {
                    server.startup = started.elapsed();
                    return server;
                }
                Err(status) if server.log().contains("cannot listen") => {
                    eprintln!("port {} was taken ({status}); trying another", addr.port());
                }
                Err(status) => panic!(
                    "ref-apiserver exited with {status} before it was ready:\n{}",
                    server.log()
                ),
            }
        }
        panic!("ref-apiserver could not bind a free loopback port in 5 attempts");
    }

    /// Poll `/healthz` until it answers `ok`; `Err` if the process exits first.
    async fn wait_ready(&mut self) -> Result<(), ExitStatus> {
        let client = client(&self.url());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return Err(status);
            }
            if healthz(&client).await {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "ref-apiserver did not answer /healthz within {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How long it took to answer `/healthz` after it was spawned.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client for it (see [`client`]).
    pub fn client(&self) -> Client {
        client(&self.url())
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("ref-apiserver.log")).unwrap_or_default()
    }

    /// SIGKILL (`kill -9`: no destructor, no flush, no clean close) and reap it.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL ref-apiserver");
        self.child.wait().expect("reap ref-apiserver")
    }

    /// Send `signal` (`TERM`, `INT`, ...) and wait up to `timeout` for the process to exit.
    /// `None`: still running after `timeout` (it is then left running; drop kills it).
    pub async fn signal(&mut self, signal: &str, timeout: Duration) -> Option<ExitStatus> {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill(1)");
        assert!(sent.success(), "kill -{signal} {} failed", self.pid());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("poll the child").is_none()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client for `url` that does what the test says and nothing more: no client-side rate limit,
/// no retries (a retried write would blur which writes were acknowledged), short connect timeout.
pub fn client(url: &str) -> Client {
    let mut config = Config::new(url.parse().expect("server URL"));
    config.qps = None;
    config.max_retries = 0;
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(30));
    Client::new(config).expect("client")
}

/// Whether `/healthz` answers `ok` (within 5 seconds).
pub async fn healthz(client: &Client) -> bool {
    let req = Request::get("/healthz").body(Vec::new()).expect("request");
    matches!(
        tokio::time::timeout(Duration::from_secs(5), client.request_text(req)).await,
        Ok(Ok(text)) if text == "ok"
    )
}
