//! Leader election for component binaries: the component configuration's `leaderElection`
//! stanza, the `--leader-elect*` flags, and `ComponentElection::run` against the in-process
//! apiserver.

mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use kube_client::Api;
use kube_core::params::ListParams;
use kube_leaderelection::component::{ComponentElection, ComponentError, LeaderElectionConfiguration};
use kube_leaderelection::{CancellationToken, ConfigError, LockKind};
use reference_apiserver::testing::TestServer;
use support::*;
use tokio::task::JoinHandle;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchedulerConfiguration {
    leader_election: LeaderElectionConfiguration,
}

#[test]
fn configuration_reads_the_component_config_stanza() {
    let yaml = r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: true
  resourceNamespace: kube-system
  resourceName: kube-scheduler
  leaseDuration: 1m30s
  renewDeadline: 45.5s
  retryPeriod: 500ms
  resourceLock: endpointsleases
"#;
    let c: SchedulerConfiguration = yaml_serde::from_str(yaml).unwrap();
    assert_eq!(
        c.leader_election,
        LeaderElectionConfiguration {
            leader_elect: true,
            lease_duration: Duration::from_secs(90),
            renew_deadline: Duration::from_millis(45_500),
            retry_period: Duration::from_millis(500),
            resource_lock: LockKind::EndpointsLeases,
            resource_name: "kube-scheduler".into(),
            resource_namespace: "kube-system".into(),
        }
    );

    // Left out: the defaults of kube-scheduler and kube-controller-manager.
    let c: SchedulerConfiguration =
        yaml_serde::from_str("leaderElection:\n  resourceName: my-operator\n").unwrap();
    assert_eq!(
        c.leader_election,
        LeaderElectionConfiguration::for_component("my-operator")
    );

    // Written back in the shape Go reads.
    assert_eq!(
        serde_json::to_string(&LeaderElectionConfiguration::for_component("kube-scheduler")).unwrap(),
        r#"{"leaderElect":true,"leaseDuration":"15s","renewDeadline":"10s","retryPeriod":"2s","resourceLock":"leases","resourceName":"kube-scheduler","resourceNamespace":"kube-system"}"#
    );

    for (bad, says) in [
        ("leaderElection:\n  leaseDuration: 15\n", "missing unit"),
        ("leaderElection:\n  renewDeadline: 10d\n", "unknown unit"),
        (
            "leaderElection:\n  resourceLock: zookeeper\n",
            "unknown lock kind",
        ),
        ("leaderElection:\n  leaderElect: maybe\n", "bool"),
    ] {
        let e = yaml_serde::from_str::<SchedulerConfiguration>(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad:?} accepted"))
            .to_string();
        assert!(e.contains(says), "{bad:?}: {e}");
    }
}

#[cfg(feature = "clap")]
#[test]
fn flags_parse_as_the_go_components_flags_do() {
    use clap::Parser;
    use kube_leaderelection::component::LeaderElectionFlags;

    #[derive(Parser, Debug)]
    struct Args {
        #[command(flatten)]
        leader_election: LeaderElectionFlags,
    }
    let parse = |args: &[&str]| {
        Args::try_parse_from(std::iter::once("component").chain(args.iter().copied()))
            .map(|a| a.leader_election.configuration("kube-controller-manager"))
    };

    assert_eq!(
        parse(&[]).unwrap(),
        LeaderElectionConfiguration::for_component("kube-controller-manager")
    );
    assert!(parse(&["--leader-elect"]).unwrap().leader_elect);
    assert!(!parse(&["--leader-elect=false"]).unwrap().leader_elect);
    // Go's boolean flags take their value only after `=`.
    assert!(parse(&["--leader-elect", "false"]).is_err());

    let c = parse(&[
        "--leader-elect-lease-duration=1m",
        "--leader-elect-renew-deadline",
        "40s",
        "--leader-elect-retry-period=1.5s",
        "--leader-elect-resource-lock=configmaps",
        "--leader-elect-resource-name=cm",
        "--leader-elect-resource-namespace=ops",
    ])
    .unwrap();
    assert_eq!(
        c,
        LeaderElectionConfiguration {
            leader_elect: true,
            lease_duration: Duration::from_secs(60),
            renew_deadline: Duration::from_secs(40),
            retry_period: Duration::from_millis(1500),
            resource_lock: LockKind::ConfigMaps,
            resource_name: "cm".into(),
            resource_namespace: "ops".into(),
        }
    );

    let e = parse(&["--leader-elect-retry-period=2"]).unwrap_err().to_string();
    assert!(e.contains("missing unit"), "{e}");
    let e = parse(&["--leader-elect-resource-lock=etcd"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown lock kind"), "{e}");
}

#[cfg(feature = "clap")]
#[test]
fn flags_given_on_the_command_line_override_the_configuration_file() {
    use clap::{CommandFactory, FromArgMatches, Parser};
    use kube_leaderelection::component::LeaderElectionFlags;

    #[derive(Parser, Debug)]
    struct Args {
        #[command(flatten)]
        leader_election: LeaderElectionFlags,
    }
    // What a KubeSchedulerConfiguration file said.
    let file = LeaderElectionConfiguration {
        leader_elect: true,
        lease_duration: Duration::from_secs(30),
        renew_deadline: Duration::from_secs(20),
        retry_period: Duration::from_secs(4),
        resource_lock: LockKind::ConfigMapsLeases,
        resource_name: "from-file".into(),
        resource_namespace: "file-ns".into(),
    };
    let apply = |args: &[&str]| {
        let matches = Args::command()
            .try_get_matches_from(std::iter::once("component").chain(args.iter().copied()))
            .unwrap();
        let parsed = Args::from_arg_matches(&matches).unwrap();
        let mut config = file.clone();
        parsed.leader_election.apply_explicit(&matches, &mut config);
        config
    };
    // No flags: the file stands, although every flag has a default.
    assert_eq!(apply(&[]), file);
    // Given flags win, even when they repeat a flag's default value.
    let c = apply(&[
        "--leader-elect=false",
        "--leader-elect-retry-period=2s",
        "--leader-elect-resource-name=from-flag",
    ]);
    assert_eq!(
        c,
        LeaderElectionConfiguration {
            leader_elect: false,
            retry_period: Duration::from_secs(2),
            resource_name: "from-flag".into(),
            ..file.clone()
        }
    );
    let c = apply(&[
        "--leader-elect-lease-duration=8s",
        "--leader-elect-renew-deadline=6s",
        "--leader-elect-resource-lock=leases",
        "--leader-elect-resource-namespace=kube-system",
    ]);
    assert_eq!(
        (
            c.lease_duration,
            c.renew_deadline,
            c.resource_lock,
            c.resource_namespace.as_str(),
            c.resource_name.as_str()
        ),
        (
            Duration::from_secs(8),
            Duration::from_secs(6),
            LockKind::Leases,
            "kube-system",
            "from-file"
        )
    );
}

/// Test timings (2s / 1.5s / 0.5s) and a lock of its own per test.
fn config(name: &str) -> LeaderElectionConfiguration {
    LeaderElectionConfiguration {
        lease_duration: LEASE,
        renew_deadline: RENEW,
        retry_period: RETRY,
        resource_namespace: NS.into(),
        ..LeaderElectionConfiguration::for_component(name)
    }
}

/// A replica running `ComponentElection::run`, its main loop recorded in `leading`.
struct Replica {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ComponentError>>,
}

fn replica(election: ComponentElection, leading: &Leading) -> Replica {
    let id = election.holder_identity().to_string();
    let shutdown = CancellationToken::new();
    let leading = leading.clone();
    let task = tokio::spawn(election.run(shutdown.clone(), move |token: CancellationToken| {
        let (leading, id) = (leading.clone(), id.clone());
        async move {
            leading.enter(&id);
            token.cancelled().await;
            leading.leave(&id);
        }
    }));
    Replica { shutdown, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_loop_runs_only_while_leading_and_shutdown_hands_over() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    let leading = Leading::default();
    let replicas: Vec<Replica> = ["a", "b"]
        .iter()
        .map(|id| {
            let election =
                ComponentElection::new(config("my-scheduler"), client.clone(), "my-scheduler").identity(id);
            replica(election, &leading)
        })
        .collect();
    wait_until("a leader", LEASE * 3, || leading.single().is_some()).await;
    let leader = leading.single().unwrap();

    let lease = Api::<Lease>::namespaced(client.clone(), NS)
        .get("my-scheduler")
        .await
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(leader.as_str()));
    assert_eq!(spec.lease_duration_seconds, Some(2));
    let events = Api::<Event>::namespaced(client.clone(), NS);
    let became = format!("{leader} became leader");
    let recorded = async {
        loop {
            let list = events.list(&ListParams::default()).await.unwrap();
            if list.items.iter().any(|e| {
                e.reason.as_deref() == Some("LeaderElection")
                    && e.message.as_deref() == Some(became.as_str())
                    && e.source.as_ref().and_then(|s| s.component.as_deref()) == Some("my-scheduler")
            }) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), recorded)
        .await
        .expect("an Event about the lock, from the component");

    // Shutdown: the loop stops, the lock is released, the other replica leads within about one
    // retry period, and `run` reports a clean exit.
    let (stopping, other) = if leader == "a" {
        (&replicas[0], &replicas[1])
    } else {
        (&replicas[1], &replicas[0])
    };
    stopping.shutdown.cancel();
    let took = wait_until("hand-over", RETRY.mul_f64(2.2) + SLACK, || {
        leading.single().is_some_and(|l| l != leader)
    })
    .await;
    assert!(took < RETRY.mul_f64(2.2) + SLACK, "hand-over took {took:?}");
    wait_until("run returns", Duration::from_secs(2), || {
        stopping.task.is_finished()
    })
    .await;
    assert_eq!(leading.max_concurrent(), 1, "two main loops at once");
    other.shutdown.cancel();
    for r in replicas {
        assert_eq!(r.task.await.unwrap(), Ok(()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_leadership_stops_the_loop_and_is_an_error() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr()).await;
    let client = client(&proxy.url());
    let leading = Leading::default();
    let r = replica(
        ComponentElection::new(config("lost"), client, "lost").identity("only"),
        &leading,
    );
    wait_until("leading", LEASE * 3, || leading.single().is_some()).await;
    proxy.block();
    wait_until("the loop stops", RETRY + RENEW + SLACK, || {
        leading.current().is_empty()
    })
    .await;
    // Then the release is tried, bounded by the renew deadline as client-go bounds it.
    wait_until("run returns", RENEW + SLACK, || r.task.is_finished()).await;
    assert_eq!(
        r.task.await.unwrap(),
        Err(ComponentError::LeadershipLost {
            lock: format!("{NS}/lost"),
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_fails_while_a_stuck_loop_keeps_leading_without_renewals() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr()).await;
    let election = ComponentElection::new(config("stuck"), client(&proxy.url()), "stuck")
        .identity("stuck-1")
        .health_tolerance(Duration::ZERO);
    let monitor = election.monitor();
    assert!(
        monitor.check().is_ok() && monitor.metrics().is_none(),
        "healthy before the start"
    );
    // A main loop that ignores its token until the test lets it go.
    let (started, unstick) = (CancellationToken::new(), CancellationToken::new());
    let task = tokio::spawn(election.run(CancellationToken::new(), {
        let (started, unstick) = (started.clone(), unstick.clone());
        move |_leading: CancellationToken| {
            let (started, unstick) = (started.clone(), unstick.clone());
            async move {
                started.cancel();
                unstick.cancelled().await;
            }
        }
    }));
    tokio::time::timeout(LEASE * 3, started.cancelled())
        .await
        .expect("leading");
    assert!(monitor.is_leader());
    assert!(monitor.metrics().unwrap().is_leading());
    tokio::time::sleep(LEASE + RETRY).await;
    assert!(monitor.check().is_ok(), "renewing: healthy");

    proxy.block();
    let unhealthy = wait_until("unhealthy", LEASE + RETRY * 2 + SLACK, || {
        monitor.check().is_err()
    })
    .await;
    assert!(
        unhealthy >= LEASE - RETRY,
        "unhealthy after {unhealthy:?}, before a lease without renewal"
    );
    let e = monitor.check().unwrap_err();
    assert_eq!(e.name, "stuck");
    assert!(monitor.is_leader(), "the loop still holds the term");

    unstick.cancel();
    let result = tokio::time::timeout(RENEW + SLACK * 2, task)
        .await
        .expect("run returns");
    assert_eq!(
        result.unwrap(),
        Err(ComponentError::LeadershipLost {
            lock: format!("{NS}/stuck")
        })
    );
    assert!(
        monitor.check().is_ok() && !monitor.is_leader(),
        "stopped: healthy again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_that_returns_ends_the_term_and_releases_the_lock() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    // No resourceName: the lock is named after the component.
    let unnamed = LeaderElectionConfiguration {
        resource_name: String::new(),
        ..config("ignored")
    };
    let election = ComponentElection::new(unnamed, client.clone(), "brief").identity("brief-1");
    let result = tokio::time::timeout(
        LEASE * 3,
        election.run(CancellationToken::new(), |_leading: CancellationToken| async {}),
    )
    .await
    .expect("run returns once the loop has");
    assert_eq!(result, Ok(()));
    let spec = Api::<Lease>::namespaced(client, NS)
        .get("brief")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(""), "released");
    assert_eq!(spec.lease_duration_seconds, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_election_the_loop_runs_at_once_and_no_lock_is_written() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    let config = LeaderElectionConfiguration {
        leader_elect: false,
        ..config("solo")
    };
    let election = ComponentElection::new(config, client.clone(), "solo");
    assert!(election.elector().unwrap().is_none());
    let shutdown = CancellationToken::new();
    let started = CancellationToken::new();
    let task = tokio::spawn(election.run(shutdown.clone(), {
        let started = started.clone();
        move |token: CancellationToken| {
            let started = started.clone();
            async move {
                started.cancel();
                token.cancelled().await;
            }
        }
    }));
    tokio::time::timeout(Duration::from_secs(1), started.cancelled())
        .await
        .expect("the loop starts without waiting for a lock");
    shutdown.cancel();
    assert_eq!(task.await.unwrap(), Ok(()));
    let e = Api::<Lease>::namespaced(client, NS)
        .get("solo")
        .await
        .unwrap_err();
    assert!(
        matches!(e, kube_client::Error::Api(s) if s.code == 404),
        "a lock was written"
    );
}

#[tokio::test]
async fn a_configuration_that_cannot_elect_fails_before_any_request() {
    // Nothing listens on port 9 of loopback: any request would fail differently.
    let client = client("http://127.0.0.1:9");
    let run = |config: LeaderElectionConfiguration| {
        ComponentElection::new(config, client.clone(), "c").run(
            CancellationToken::new(),
            |_t: CancellationToken| async {
                panic!("the loop must not run");
            },
        )
    };
    let bad = LeaderElectionConfiguration {
        renew_deadline: Duration::from_secs(15),
        ..LeaderElectionConfiguration::for_component("c")
    };
    assert_eq!(
        run(bad).await,
        Err(ComponentError::Config(ConfigError::LeaseNotAboveRenew {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(15),
        }))
    );
    let e = ComponentElection::new(LeaderElectionConfiguration::default(), client.clone(), "")
        .run(CancellationToken::new(), |_t: CancellationToken| async {
            panic!("the loop must not run");
        })
        .await;
    assert_eq!(e, Err(ComponentError::NoResourceName));
    assert!(e.unwrap_err().to_string().contains("resourceName"));
}

#[test]
fn identities_name_the_host_and_differ_per_process() {
    let (a, b) = (
        kube_leaderelection::component::default_identity(),
        kube_leaderelection::component::default_identity(),
    );
    assert_ne!(a, b);
    let (host, id) = a.rsplit_once('_').unwrap();
    assert!(!host.is_empty());
    assert_eq!(id.len(), 36, "{a}");
}
