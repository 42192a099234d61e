//! `ref-scheduler` as operators run it: separate processes with `--kubeconfig` at the in-process
//! apiserver, `--leader-elect*` flags, stopped with SIGTERM. Two replicas: one schedules, the
//! other waits; SIGTERM to the leader releases the Lease and the other carries on.

mod support;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube_client::{Api, Client};
use reference_apiserver::testing::TestServer;
use serde_json::json;
use support::{bound_node, eventually, eventually_within, node, pod, server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// lease 2s, renew deadline 1.5s, retry period 0.5s.
const TIMINGS: [&str; 3] = [
    "--leader-elect-lease-duration=2s",
    "--leader-elect-renew-deadline=1.5s",
    "--leader-elect-retry-period=500ms",
];
const RETRY: Duration = Duration::from_millis(500);
const SLACK: Duration = Duration::from_millis(1500);

/// A running `ref-scheduler`, its log lines collected.
struct Replica {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Replica {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ref-scheduler"))
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn ref-scheduler");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, log }
    }

    /// Whether it logged binding `pod`.
    fn bound(&self, pod: &str) -> bool {
        let needle = format!("pod=default/{pod} ");
        self.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("bound pod") && l.contains(&needle))
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// GET `path` from its health server (started with `--health-address=127.0.0.1:0`): the
    /// status line and the body.
    async fn get(&self, path: &str) -> (String, String) {
        let address = eventually("the health server's address in the log", || async {
            self.log
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains("serving /healthz"))
                .and_then(|l| l.split("address=").nth(1))
                .map(|a| a.trim().to_owned())
        })
        .await;
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_owned(), body.to_owned())
    }

    /// SIGTERM; the exit code.
    async fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().expect("still running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill(1)");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .expect("wait");
        status.code()
    }
}

fn kubeconfig(server: &TestServer) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), server.kubeconfig()).expect("write kubeconfig");
    file
}

async fn lease(client: &Client) -> Option<Lease> {
    Api::<Lease>::namespaced(client.clone(), "kube-system")
        .get_opt("kube-scheduler")
        .await
        .unwrap()
}

fn holder(lease: &Lease) -> &str {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        .unwrap_or_default()
}

#[tokio::test]
async fn two_replicas_one_schedules_and_the_other_takes_over_on_sigterm() {
    let (server, client) = server().await;
    node(&client, "n1", "4", "8Gi", 110, json!({})).await;
    let kubeconfig = kubeconfig(&server);
    let path = kubeconfig.path().to_str().unwrap();
    let args: Vec<&str> = ["--kubeconfig", path, "--health-address=127.0.0.1:0"]
        .into_iter()
        .chain(TIMINGS)
        .collect();

    let a = Replica::spawn(&args);
    let first = eventually(
        "the first replica to take the Lease kube-system/kube-scheduler",
        || async {
            lease(&client)
                .await
                .map(|l| holder(&l).to_owned())
                .filter(|h| !h.is_empty())
        },
    )
    .await;
    let b = Replica::spawn(&args);
    pod(&client, "p1", "100m", json!({})).await;
    assert_eq!(bound_node(&client, "p1").await, "n1");
    eventually("the leader to log the binding", || async {
        a.bound("p1").then_some(())
    })
    .await;
    // The follower keeps waiting for the lock: it never schedules, the holder stays.
    tokio::time::sleep(3 * RETRY).await;
    assert!(!b.bound("p1"), "the follower scheduled:\n{}", b.log());
    assert_eq!(holder(&lease(&client).await.unwrap()), first);
    // Both are healthy; the metrics say who leads and what it did.
    for replica in [&a, &b] {
        assert_eq!(
            replica.get("/healthz").await,
            ("HTTP/1.1 200 OK".into(), "ok".into())
        );
    }
    let (_, leader) = a.get("/metrics").await;
    assert!(
        leader.contains("leader_election_master_status{name=\"kube-scheduler\"} 1"),
        "{leader}"
    );
    assert!(
        leader.contains(
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"} 1"
        ),
        "{leader}"
    );
    let (_, follower) = b.get("/metrics").await;
    assert!(
        follower.contains("leader_election_master_status{name=\"kube-scheduler\"} 0"),
        "{follower}"
    );
    assert!(
        follower.contains(
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"} 0"
        ),
        "{follower}"
    );

    // SIGTERM to the leader: it releases the Lease and exits 0; the follower takes over within
    // about one retry period (2.2 x with jitter) and schedules the next pod.
    assert_eq!(a.terminate().await, Some(0));
    let second = eventually_within(
        2 * RETRY + RETRY / 5 + SLACK,
        "the follower to take the released Lease",
        || async {
            lease(&client)
                .await
                .map(|l| holder(&l).to_owned())
                .filter(|h| !h.is_empty() && *h != first)
        },
    )
    .await;
    let l = lease(&client).await.unwrap();
    assert_eq!(l.spec.as_ref().unwrap().lease_transitions, Some(1));
    pod(&client, "p2", "100m", json!({})).await;
    assert_eq!(bound_node(&client, "p2").await, "n1");
    eventually("the new leader to log the binding", || async {
        b.bound("p2").then_some(())
    })
    .await;
    assert!(!second.is_empty());

    // The last replica releases the Lease on its way out.
    assert_eq!(b.terminate().await, Some(0));
    assert_eq!(holder(&lease(&client).await.unwrap()), "");
}

#[tokio::test]
async fn without_election_it_schedules_at_once_and_writes_no_lock() {
    let (server, client) = server().await;
    node(&client, "n1", "4", "8Gi", 110, json!({})).await;
    let kubeconfig = kubeconfig(&server);
    let config = tempfile::NamedTempFile::new().unwrap();
    // The file asks for election; the flag given on the command line wins.
    std::fs::write(
        config.path(),
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nleaderElection: {leaderElect: true}\n",
    )
    .unwrap();
    let replica = Replica::spawn(&[
        "--config",
        config.path().to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.path().to_str().unwrap(),
        "--leader-elect=false",
        "--health-address=off",
    ]);
    pod(&client, "p1", "100m", json!({})).await;
    assert_eq!(bound_node(&client, "p1").await, "n1");
    assert!(lease(&client).await.is_none());
    assert_eq!(replica.terminate().await, Some(0));
}

#[tokio::test]
async fn a_bad_configuration_file_is_a_clear_error() {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles: [{schedulerName: x, plugins: {score: {enabled: [{name: Magic}]}}}]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ref-scheduler"))
        .args(["--config", config.path().to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ref-scheduler: profile \"x\": plugin \"Magic\" does not exist"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_leader_cut_off_from_the_apiserver_stops_and_exits_non_zero() {
    let (server, client) = server().await;
    let kubeconfig = kubeconfig(&server);
    let args: Vec<&str> = [
        "--kubeconfig",
        kubeconfig.path().to_str().unwrap(),
        "--health-address=off",
    ]
    .into_iter()
    .chain(TIMINGS)
    .collect();
    let mut replica = Replica::spawn(&args);
    eventually("the replica to take the Lease", || async {
        lease(&client)
            .await
            .map(|l| holder(&l).to_owned())
            .filter(|h| !h.is_empty())
    })
    .await;
    // The apiserver goes away: renewals fail, and after the renew deadline (1.5 s) the leader
    // stops and the process exits 1, for its supervisor to restart it as a fresh candidate.
    drop(server);
    let status = tokio::time::timeout(Duration::from_secs(20), replica.child.wait())
        .await
        .expect("exits once leadership is lost")
        .expect("wait");
    assert_eq!(status.code(), Some(1), "{}", replica.log());
    eventually("the last words in the log", || async {
        replica.log().contains("leader election lost").then_some(())
    })
    .await;
}
