//! The example binaries as their users run them: separate processes with `KUBECONFIG` pointing at
//! the in-process apiserver, stopped with SIGTERM.
//!
//! - `leader_election`, for every lock kind: exactly the three lines the example promises, one
//!   leader at a time, and a released lock taken over within about one retry period.
//! - `configmapgen run` with the `--leader-elect*` flags: two replicas, one reconciling; SIGTERM
//!   to it hands the Lease over and the other one carries on.
//!
//! The programs are `examples/examples/*.rs` built as binaries of this package
//! (`src/bin/*.rs` include them), which cargo builds fresh before these tests.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use examples::configmapgen::{ConfigMapGenerator, ConfigMapGeneratorSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::Api;
use kube_core::params::PostParams;
use kube_core::{Patch, PatchParams};
use reference_apiserver::testing::TestServer;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

mod support;
use support::{eventually_within, server_with_crd};

const TIMEOUT: Duration = Duration::from_secs(20);
/// The timings both binaries run with here: lease 2s, renew deadline 1.5s, retry period 0.5s.
const RETRY: Duration = Duration::from_millis(500);
const SLACK: Duration = Duration::from_millis(1500);

/// The example program `name`, as cargo built it for this test run.
fn example(name: &str) -> PathBuf {
    match name {
        "leader_election" => env!("CARGO_BIN_EXE_leader_election").into(),
        "configmapgen" => env!("CARGO_BIN_EXE_configmapgen").into(),
        other => panic!("no binary for the example {other}"),
    }
}

/// A running example, its stdout lines arriving on a channel.
struct Process {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Process {
    fn spawn(binary: &str, args: &[&str], kubeconfig: &std::path::Path) -> Self {
        let mut child = Command::new(example(binary))
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the example");
        let (tx, lines) = mpsc::unbounded_channel();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait for the line `want`; the time it took.
    async fn expect(&mut self, want: &str, within: Duration) -> Duration {
        let start = tokio::time::Instant::now();
        loop {
            let line = tokio::time::timeout_at(start + within, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no {want:?} within {within:?}; printed {:?}", self.seen))
                .unwrap_or_else(|| panic!("exited before printing {want:?}; printed {:?}", self.seen));
            self.seen.push(line.clone());
            if line == want {
                return start.elapsed();
            }
        }
    }

    /// SIGTERM, then the exit code (within the timeout) and everything else it printed.
    async fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        let pid = self.child.id().expect("still running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill(1)");
        assert!(sent.success());
        let status = tokio::time::timeout(TIMEOUT, self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .expect("wait");
        while let Some(line) = self.lines.recv().await {
            self.seen.push(line);
        }
        (status.code(), self.seen)
    }
}

fn kubeconfig(server: &TestServer) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), server.kubeconfig()).expect("write kubeconfig");
    file
}

async fn leader_election_hands_over(server: &TestServer, lock: &str) {
    let kubeconfig = kubeconfig(server);
    let name = format!("demo-{lock}");
    let args = |id: &'static str| {
        [
            "--lock",
            lock,
            "--namespace",
            "default",
            "--name",
            &name,
            "--identity",
            id,
            "--lease-duration",
            "2s",
            "--renew-deadline",
            "1.5s",
            "--retry-period",
            "0.5s",
        ]
        .map(str::to_string)
    };
    let spawn = |id| {
        let args = args(id);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Process::spawn("leader_election", &args, kubeconfig.path())
    };
    let mut a = spawn("a");
    a.expect("new leader: a", TIMEOUT).await;
    a.expect("started leading", TIMEOUT).await;
    let mut b = spawn("b");
    b.expect("new leader: a", TIMEOUT).await;

    // SIGTERM: a stops leading and releases; b takes over within about one retry period.
    let (code, a_lines) = a.terminate().await;
    assert_eq!(code, Some(0), "{lock}: exit code; printed {a_lines:?}");
    assert_eq!(
        a_lines,
        ["new leader: a", "started leading", "stopped leading"],
        "{lock}: exactly these lines"
    );
    let took = b.expect("new leader: b", RETRY.mul_f64(2.2) + SLACK).await;
    b.expect("started leading", SLACK).await;
    let (code, b_lines) = b.terminate().await;
    assert_eq!(code, Some(0));
    assert_eq!(
        b_lines,
        [
            "new leader: a",
            "new leader: b",
            "started leading",
            "stopped leading"
        ],
        "{lock}: exactly these lines (took over after {took:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_prints_its_transitions_and_releases_on_sigterm() {
    let server = TestServer::start().await;
    futures::future::join_all(
        [
            "lease",
            "configmap",
            "endpoints",
            "configmapsleases",
            "endpointsleases",
        ]
        .map(|lock| leader_election_hands_over(&server, lock)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmapgen_replicas_elect_one_reconciler_and_hand_over_on_sigterm() {
    let (server, client) = server_with_crd().await;
    let generators: Api<ConfigMapGenerator> = Api::namespaced(client.clone(), "default");

    let kubeconfig = kubeconfig(&server);
    let args = [
        "run",
        "--leader-elect-lease-duration=2s",
        "--leader-elect-renew-deadline=1.5s",
        "--leader-elect-retry-period=0.5s",
        "--leader-elect-resource-namespace=default",
    ];
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let holder = || async {
        let lease = leases.get("configmapgen").await.ok()?;
        lease.spec?.holder_identity.filter(|h| !h.is_empty())
    };
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let data = |key: &'static str| {
        let configmaps = configmaps.clone();
        async move {
            let cm = configmaps.get("gen").await.ok()?;
            cm.data?.get(key).cloned()
        }
    };
    // The first replica leads; the second one waits.
    let first_replica = Process::spawn("configmapgen", &args, kubeconfig.path());
    let first = eventually_within(TIMEOUT, "the first replica to lead", holder).await;
    let second_replica = Process::spawn("configmapgen", &args, kubeconfig.path());
    let spec = ConfigMapGeneratorSpec {
        content: [("a".to_string(), "1".to_string())].into(),
    };
    generators
        .create(&PostParams::default(), &ConfigMapGenerator::new("gen", spec))
        .await
        .unwrap();
    eventually_within(TIMEOUT, "the ConfigMap", || async {
        (data("a").await.as_deref() == Some("1")).then_some(())
    })
    .await;
    tokio::time::sleep(RETRY * 3).await;
    assert_eq!(
        holder().await.as_deref(),
        Some(first.as_str()),
        "the leader keeps its Lease"
    );

    // SIGTERM to the leader: it exits 0 having released, and the other replica takes over
    // within about one retry period.
    let (code, _) = first_replica.terminate().await;
    assert_eq!(code, Some(0), "a replica stopped by SIGTERM exits 0");
    let second = eventually_within(RETRY.mul_f64(2.2) + SLACK, "the hand-over", || async {
        holder().await.filter(|h| *h != first)
    })
    .await;
    let lease = leases.get("configmapgen").await.unwrap().spec.unwrap();
    assert_eq!(lease.holder_identity.as_deref(), Some(second.as_str()));
    assert_eq!(lease.lease_transitions, Some(1), "one hand-over");

    // The survivor reconciles.
    let patch = serde_json::json!({"spec": {"content": {"a": "2"}}});
    generators
        .patch("gen", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually_within(TIMEOUT, "the survivor to reconcile", || async {
        (data("a").await.as_deref() == Some("2")).then_some(())
    })
    .await;
    let (code, _) = second_replica.terminate().await;
    assert_eq!(code, Some(0));
    let lease = leases.get("configmapgen").await.unwrap().spec.unwrap();
    assert_eq!(lease.holder_identity.as_deref(), Some(""), "released on SIGTERM");
}
