//! A real etcd for tests: Debian's `/usr/bin/etcd` (package `etcd-server`, installed by
//! `scripts/install-test-deps`) on two free loopback ports with a temporary data directory,
//! killed and deleted when dropped. It can be killed and restarted on the same ports and data
//! (acknowledged writes must survive), or paused (SIGSTOP: a peer that stops answering without
//! closing its connections) and resumed.
//!
//! Without `/usr/bin/etcd`, [`EtcdProcess::start`] returns `None` and the test skips with a
//! message, except under CI (`CI` set), where a missing etcd fails the test.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reference_apiserver::storage::Storage;
use reference_apiserver::storage::etcd::{EtcdConfig, EtcdStorage, EtcdTls};

/// The etcd binary.
pub const ETCD: &str = "/usr/bin/etcd";
/// The etcdctl binary.
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

/// A running etcd. Killed (SIGKILL), and its data deleted, when dropped.
#[derive(Debug)]
pub struct EtcdProcess {
    child: Option<Child>,
    client_port: u16,
    peer_port: u16,
    dir: tempfile::TempDir,
    paused: bool,
    /// Serving over TLS, requiring client certificates (see [`start_tls`](Self::start_tls)).
    tls: bool,
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("bound address").port()
}

impl EtcdProcess {
    /// Starts etcd and waits until it answers. `None` (with a message) if etcd is not installed
    /// and this is not CI.
    pub async fn start() -> Option<Self> {
        Self::start_with(false).await
    }

    /// [`start`](Self::start), serving `https://` with certificates made by `openssl` (a CA,
    /// etcd's serving certificate for 127.0.0.1, and a client certificate that etcd requires):
    /// [`config`](Self::config) carries the CA and the client certificate.
    pub async fn start_tls() -> Option<Self> {
        Self::start_with(true).await
    }

    async fn start_with(tls: bool) -> Option<Self> {
        if !std::path::Path::new(ETCD).exists() {
            if std::env::var_os("CI").is_some() {
                panic!("{ETCD} is missing under CI: scripts/install-test-deps installs etcd-server");
            }
            eprintln!(
                "SKIPPED: {ETCD} is not installed (apt-get install etcd-server, or scripts/install-test-deps)"
            );
            return None;
        }
        let client_port = free_port();
        let mut peer_port = free_port();
        while peer_port == client_port {
            peer_port = free_port();
        }
        let mut etcd = EtcdProcess {
            child: None,
            client_port,
            peer_port,
            dir: tempfile::tempdir().expect("etcd data directory"),
            paused: false,
            tls,
        };
        if tls {
            etcd.make_certificates();
        }
        etcd.spawn().await;
        Some(etcd)
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("etcd log file");
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(ETCD);
        if self.tls {
            command
                .arg("--cert-file")
                .arg(self.file("server.crt"))
                .arg("--key-file")
                .arg(self.file("server.key"))
                .arg("--trusted-ca-file")
                .arg(self.file("ca.crt"))
                .arg("--client-cert-auth");
        }
        let child = command
            .arg("--name")
            .arg("test")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .arg("--initial-cluster")
            .arg(format!("test={peer}"))
            .args(["--initial-cluster-state", "new"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn etcd");
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Waits until etcd answers a read (30 s at most).
    async fn wait_ready(&mut self) {
        let store = self.storage_with(Duration::from_millis(500)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if store.revision().await.is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().expect("poll etcd")) {
                panic!("etcd exited with {status}:\n{}", self.log());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "etcd did not answer within 30s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The client URL, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// A file of the temporary directory (the certificates live there).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn make_certificates(&self) {
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .current_dir(self.dir.path())
                .args(args)
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let ca = [
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=test-ca",
            "-days",
            "1",
        ];
        openssl(&[&["req", "-x509"], &key[..], &ca[..]].concat());
        for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
            let (key_file, csr, crt) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
            );
            openssl(
                &[
                    &["req"],
                    &key[..],
                    &[
                        "-keyout",
                        &key_file,
                        "-out",
                        &csr,
                        "-subj",
                        &format!("/CN={name}"),
                    ],
                ]
                .concat(),
            );
            let ext = format!("{name}.ext");
            std::fs::write(
                self.file(&ext),
                format!("subjectAltName=IP:127.0.0.1\nextendedKeyUsage={usage}\n"),
            )
            .expect("extension file");
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "1",
                "-extfile",
                &ext,
            ]);
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// What etcd logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A config for this etcd with fast failure detection (tests wait on outages), and a
    /// request timeout that a loaded test machine does not hit (outage tests shorten it with
    /// [`storage_with`](Self::storage_with)).
    pub fn config(&self) -> EtcdConfig {
        EtcdConfig {
            endpoints: vec![self.url()],
            request_timeout: Duration::from_secs(10),
            dial_timeout: Duration::from_millis(500),
            // Short enough to notice a paused etcd within seconds, long enough that a loaded test
            // machine answering a ping late does not break a healthy connection.
            keepalive: (Duration::from_secs(2), Duration::from_secs(5)),
            tls: self.tls.then(|| EtcdTls {
                ca_file: Some(self.file("ca.crt")),
                cert_file: Some(self.file("client.crt")),
                key_file: Some(self.file("client.key")),
            }),
            ..EtcdConfig::default()
        }
    }

    /// A storage on this etcd (its own connection), with [`config`](Self::config).
    pub async fn storage(&self) -> EtcdStorage {
        EtcdStorage::connect(self.config()).await.expect("etcd storage")
    }

    /// A storage with another request timeout.
    pub async fn storage_with(&self, request_timeout: Duration) -> EtcdStorage {
        EtcdStorage::connect(EtcdConfig {
            request_timeout,
            ..self.config()
        })
        .await
        .expect("etcd storage")
    }

    /// The storage as the apiserver takes it.
    pub async fn shared(&self) -> Arc<dyn Storage> {
        Arc::new(self.storage().await)
    }

    /// `etcdctl <args>` against this etcd; its stdout.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let mut command = Command::new(ETCDCTL);
        if self.tls {
            command
                .arg("--cacert")
                .arg(self.file("ca.crt"))
                .arg("--cert")
                .arg(self.file("client.crt"))
                .arg("--key")
                .arg(self.file("client.key"));
        }
        let out = command
            .env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(self.url())
            .arg("--command-timeout=5s")
            .args(args)
            .output()
            .expect("run etcdctl");
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("etcdctl prints UTF-8")
    }

    /// SIGKILL etcd (its data stays for [`restart`](Self::restart)).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    /// Starts etcd again on the same ports and data directory, and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("etcd is running").id();
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill(1)");
        assert!(sent.success(), "kill -{signal} {pid} failed");
    }

    /// SIGSTOP: etcd keeps its connections open and answers nothing.
    pub fn pause(&mut self) {
        self.signal("STOP");
        self.paused = true;
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&mut self) {
        self.signal("CONT");
        self.paused = false;
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
