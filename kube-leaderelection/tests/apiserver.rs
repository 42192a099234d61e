//! Leader election against the in-process apiserver, for every lock kind.

mod support;

use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints};
use kube_client::{Api, Client};
use kube_core::params::DeleteParams;
use kube_leaderelection::{LockKind, Phase};
use reference_apiserver::testing::TestServer;
use support::*;
use tokio::time::Instant;

async fn three(client: &Client, kind: LockKind, name: &str, release: bool) -> (Vec<Candidate>, Leading) {
    let leading = Leading::default();
    let cands = (0..3)
        .map(|i| {
            Candidate::spawn(
                client.clone(),
                kind,
                name,
                &format!("{name}-{i}"),
                release,
                &leading,
            )
        })
        .collect();
    wait_until(&format!("{kind:?}: a leader"), LEASE * 3, || {
        leading.single().is_some()
    })
    .await;
    (cands, leading)
}

fn name(kind: LockKind) -> String {
    format!("{kind:?}").to_lowercase()
}

async fn kill_the_leader(client: Client, kind: LockKind) {
    let (cands, leading) = three(&client, kind, &name(kind), false).await;
    // Nobody else takes over while the leader renews.
    tokio::time::sleep(LEASE * 2).await;
    let leader = leading.single().expect("still exactly one leader");
    let killed = cands.iter().find(|c| c.id == leader).unwrap();
    killed.kill();
    let bound = LEASE + RETRY.mul_f64(2.0 * 2.2) + SLACK;
    let took = wait_until(&format!("{kind:?}: failover"), bound, || {
        leading.single().is_some_and(|l| l != leader)
    })
    .await;
    assert!(
        took >= LEASE - RETRY * 2,
        "{kind:?}: took over after {took:?}, before the lease could expire"
    );
    assert_eq!(leading.max_concurrent(), 1, "{kind:?}: two leaders at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_leader_is_replaced_within_lease_duration() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    join_all(LockKind::ALL.map(|k| kill_the_leader(client.clone(), k))).await;
}

async fn cancel_with_release(client: Client, kind: LockKind) {
    let (cands, leading) = three(&client, kind, &name(kind), true).await;
    let leader = leading.single().unwrap();
    let c = cands.iter().find(|c| c.id == leader).unwrap();
    c.shutdown.cancel();
    // The work stops and the empty holder is written at once...
    let released = wait_until("release", RETRY, || c.task.is_finished()).await;
    // ...and the next attempt of another candidate (at most 2.2 retry periods away) takes over.
    let took = wait_until(
        &format!("{kind:?}: handover after release (which took {released:?})"),
        RETRY.mul_f64(2.2) + SLACK,
        || leading.single().is_some_and(|l| l != leader),
    )
    .await;
    assert!(took < LEASE, "{kind:?}: handover took {took:?}");
    assert_eq!(leading.max_concurrent(), 1, "{kind:?}: two leaders at once");
    assert_eq!(c.elector.phase(), Phase::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_lock_is_taken_within_a_retry_period() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    join_all(LockKind::ALL.map(|k| cancel_with_release(client.clone(), k))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_steps_down_when_apiserver_is_unreachable() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr()).await;
    let client = client(&proxy.url());
    let runs = join_all(LockKind::ALL.map(|kind| {
        let client = client.clone();
        async move { (kind, three(&client, kind, &name(kind), false).await) }
    }))
    .await;
    proxy.block();
    let bound = RETRY + RENEW + SLACK;
    for (kind, (cands, leading)) in &runs {
        wait_until(&format!("{kind:?}: step down"), bound, || {
            leading.current().is_empty()
        })
        .await;
        let leader = cands
            .iter()
            .find(|c| c.elector.metrics().transitions() == 1)
            .unwrap();
        wait_until("run returns", Duration::from_secs(2), || {
            leader.task.is_finished()
        })
        .await;
        assert!(
            leader.elector.check(Duration::ZERO).is_ok(),
            "a stopped elector is healthy"
        );
    }
    // Nobody leads while the apiserver is unreachable.
    tokio::time::sleep(LEASE).await;
    for (kind, (_, leading)) in &runs {
        assert!(
            leading.current().is_empty(),
            "{kind:?}: led without the apiserver"
        );
        assert_eq!(leading.max_concurrent(), 1);
    }
    proxy.unblock();
    for (kind, (_, leading)) in &runs {
        wait_until(&format!("{kind:?}: a new leader"), LEASE * 4, || {
            leading.single().is_some()
        })
        .await;
    }
}

async fn delete_lock(client: Client, kind: LockKind) {
    let name = name(kind);
    let (_cands, leading) = three(&client, kind, &name, false).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), NS);
    let dp = DeleteParams::default();
    match kind {
        LockKind::Leases => drop(leases.delete(&name, &dp).await.unwrap()),
        LockKind::ConfigMaps => drop(cms.delete(&name, &dp).await.unwrap()),
        LockKind::Endpoints => drop(eps.delete(&name, &dp).await.unwrap()),
        LockKind::ConfigMapsLeases => {
            cms.delete(&name, &dp).await.unwrap();
            leases.delete(&name, &dp).await.unwrap();
        }
        LockKind::EndpointsLeases => {
            eps.delete(&name, &dp).await.unwrap();
            leases.delete(&name, &dp).await.unwrap();
        }
    }
    let start = Instant::now();
    loop {
        let exists = match kind {
            LockKind::Leases => leases.get_opt(&name).await.unwrap().is_some(),
            LockKind::ConfigMaps => cms.get_opt(&name).await.unwrap().is_some(),
            LockKind::Endpoints => eps.get_opt(&name).await.unwrap().is_some(),
            LockKind::ConfigMapsLeases => {
                cms.get_opt(&name).await.unwrap().is_some() && leases.get_opt(&name).await.unwrap().is_some()
            }
            LockKind::EndpointsLeases => {
                eps.get_opt(&name).await.unwrap().is_some() && leases.get_opt(&name).await.unwrap().is_some()
            }
        };
        if exists {
            break;
        }
        assert!(
            start.elapsed() < RETRY * 3 + SLACK,
            "{kind:?}: lock not recreated"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_until(
        &format!("{kind:?}: one leader after recreation"),
        LEASE * 3,
        || leading.single().is_some(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_lock_is_recreated() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    join_all(LockKind::ALL.map(|k| delete_lock(client.clone(), k))).await;
}

/// Migration: candidates on the old ConfigMap lock and on the `configmapsleases` MultiLock
/// exclude each other through the ConfigMap, and hand over in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multilock_and_single_lock_exclude_each_other() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    let leading = Leading::default();
    let old = Candidate::spawn(
        client.clone(),
        LockKind::ConfigMaps,
        "migrate",
        "old",
        false,
        &leading,
    );
    wait_until("the old candidate leads", LEASE * 2, || {
        leading.single().as_deref() == Some("old")
    })
    .await;
    let new = Candidate::spawn(
        client.clone(),
        LockKind::ConfigMapsLeases,
        "migrate",
        "new",
        false,
        &leading,
    );
    tokio::time::sleep(LEASE * 2).await;
    assert_eq!(
        leading.single().as_deref(),
        Some("old"),
        "the MultiLock candidate took a held lock"
    );
    old.kill();
    wait_until(
        "the MultiLock candidate takes over",
        LEASE + RETRY.mul_f64(2.0 * 2.2) + SLACK,
        || leading.single().as_deref() == Some("new"),
    )
    .await;
    let lease = Api::<Lease>::namespaced(client.clone(), NS)
        .get("migrate")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("new"),
        "the secondary Lease is written"
    );
    let old2 = Candidate::spawn(
        client.clone(),
        LockKind::ConfigMaps,
        "migrate",
        "old-2",
        false,
        &leading,
    );
    tokio::time::sleep(LEASE * 2).await;
    assert_eq!(
        leading.single().as_deref(),
        Some("new"),
        "the single-lock candidate took a held MultiLock"
    );
    new.kill();
    wait_until(
        "the single-lock candidate takes over",
        LEASE + RETRY.mul_f64(2.0 * 2.2) + SLACK,
        || leading.single().as_deref() == Some("old-2"),
    )
    .await;
    assert_eq!(leading.max_concurrent(), 1);
    drop(old2);
}
