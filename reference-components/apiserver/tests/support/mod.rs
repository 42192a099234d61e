//! Helpers shared by the reliability tests: the real `ref-apiserver` binary as a child process
//! (started on a free loopback port, ready once `/healthz` answers, killed with SIGKILL or
//! signalled), clients that never retry behind a test's back, raw requests that keep the
//! server's `Status` and `Warning` headers, and polling with a deadline.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use http::Request;
use kube_client::{Client, Config};
use kube_core::Status;
use serde_json::Value;
use tokio::time::Instant;

/// The server binary of this package, built by cargo for integration tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_ref-apiserver");

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The `--storage` of a started binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `--storage memory`.
    Memory,
    /// `--storage embedded`: durable in `--data-dir`.
    Embedded,
}

impl Backend {
    fn arg(self) -> &'static str {
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
}

/// A port that was free a moment ago (the kernel picks it; the process binds it next).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("bound address").port()
}

impl ServerProcess {
    /// Start the binary on `backend` (`data_dir` is its `--data-dir`) and wait until `/healthz`
    /// answers. A port taken between choosing and binding it is retried on another port.
    pub async fn start(backend: Backend, data_dir: &Path) -> Self {
        for _ in 0..5 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let logs = tempfile::tempdir().expect("log directory");
            let log = std::fs::File::create(logs.path().join("ref-apiserver.log")).expect("log file");
            let child = Command::new(BINARY)
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--storage")
                .arg(backend.arg())
                .arg("--data-dir")
                .arg(data_dir)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file handle"))
                .stderr(log)
                .spawn()
                .expect("spawn ref-apiserver");
            let mut server = ServerProcess { child, addr, logs };
            match server.wait_ready().await {
                Ok(()) => return server,
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
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

/// Poll `probe` until it returns `Some`, at most `timeout`; panics naming `what` on timeout.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a raw request got.
#[derive(Debug)]
pub enum Reply {
    /// A 2xx response: its code, `Warning` headers and JSON body.
    Success {
        /// HTTP status code.
        code: u16,
        /// `Warning` header values.
        warnings: Vec<String>,
        /// The body.
        body: Value,
    },
    /// An error response (as the `Status` the server sent).
    Failure(Box<Status>),
    /// No response: the connection failed or broke (the error with its causes).
    Transport(String),
}

/// An error and its chain of causes, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Send `method path` with `body` (and `content_type`, if any) through kube-client, keeping
/// whatever came back.
pub async fn raw(
    client: &Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        req = req.header(http::header::CONTENT_TYPE, ct);
    }
    let req = req.body(body).expect("request");
    match client.send(req, false).await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let warnings = resp
                .headers()
                .get_all(http::header::WARNING)
                .iter()
                .map(|v| v.to_str().unwrap_or_default().to_string())
                .collect();
            match resp.bytes().await {
                Ok(bytes) => Reply::Success {
                    code,
                    warnings,
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                },
                Err(e) => Reply::Transport(error_chain(&e)),
            }
        }
        Err(kube_client::Error::Api(status)) => Reply::Failure(status),
        Err(e) => Reply::Transport(error_chain(&e)),
    }
}

/// A resourceVersion as a number.
pub fn rv_of(rv: Option<&str>) -> u64 {
    rv.expect("a resourceVersion")
        .parse()
        .expect("resourceVersions are integers")
}
