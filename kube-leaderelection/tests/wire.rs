//! Wire compatibility with client-go, and foreign holders.

mod support;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::{Api, Client};
use kube_core::params::PostParams;
use kube_core::{ApiResource, DynamicObject};
use kube_leaderelection::{
    ConfigMapLock, LEADER_ANNOTATION, LeaderElectionRecord, LeaseLock, LockKind, ResourceLock,
};
use reference_apiserver::testing::TestServer;
use serde_json::{Value, json};
use support::*;
use tokio::time::Instant;

fn dynamic<K: kube_core::Resource<DynamicType = ()>>(client: &Client) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), NS, &ApiResource::erase::<K>(&()))
}

async fn post_raw<K: kube_core::Resource<DynamicType = ()>>(client: &Client, body: Value) {
    let obj: DynamicObject = serde_json::from_value(body).unwrap();
    dynamic::<K>(client)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap();
}

#[tokio::test]
async fn reads_a_lease_written_by_client_go() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    post_raw::<Lease>(
        &client,
        json!({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
          "metadata":{"name":"golden","namespace":"default"},
          "spec":{"holderIdentity":"go-candidate_5f3e","leaseDurationSeconds":15,
            "acquireTime":"2024-05-06T07:08:09.123456Z","renewTime":"2024-05-06T07:08:19.654321Z",
            "leaseTransitions":4}}),
    )
    .await;
    let (record, _) = LeaseLock::new(client, NS, "golden", "me").get().await.unwrap();
    assert_eq!(
        record,
        LeaderElectionRecord {
            holder_identity: "go-candidate_5f3e".into(),
            lease_duration_seconds: 15,
            acquire_time: Some("2024-05-06T07:08:09.123456Z".parse().unwrap()),
            renew_time: Some("2024-05-06T07:08:19.654321Z".parse().unwrap()),
            leader_transitions: 4,
        }
    );
}

#[tokio::test]
async fn reads_a_configmap_annotation_written_by_client_go() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    let go = r#"{"holderIdentity":"go-candidate","leaseDurationSeconds":15,"acquireTime":"2024-05-06T07:08:09Z","renewTime":"2024-05-06T07:08:19Z","leaderTransitions":4}"#;
    post_raw::<ConfigMap>(
        &client,
        json!({"apiVersion":"v1","kind":"ConfigMap",
          "metadata":{"name":"golden","namespace":"default","annotations":{LEADER_ANNOTATION: go}}}),
    )
    .await;
    let (record, _) = ConfigMapLock::new(client, NS, "golden", "me")
        .get()
        .await
        .unwrap();
    assert_eq!(record.holder_identity, "go-candidate");
    assert_eq!(record.lease_duration_seconds, 15);
    assert_eq!(record.leader_transitions, 4);
    assert_eq!(record.renew_time, Some("2024-05-06T07:08:19Z".parse().unwrap()));
}

fn ours() -> LeaderElectionRecord {
    LeaderElectionRecord {
        holder_identity: "rust-candidate".into(),
        lease_duration_seconds: 15,
        acquire_time: Some("2024-05-06T07:08:09.123456789Z".parse().unwrap()),
        renew_time: Some("2024-05-06T07:08:19.000001999Z".parse().unwrap()),
        leader_transitions: 2,
    }
}

#[tokio::test]
async fn writes_a_lease_in_the_shape_go_reads() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    LeaseLock::new(client.clone(), NS, "ours", "rust-candidate")
        .create(&ours())
        .await
        .unwrap();
    let stored = dynamic::<Lease>(&client).get("ours").await.unwrap();
    assert_eq!(
        stored.data["spec"],
        json!({"holderIdentity":"rust-candidate","leaseDurationSeconds":15,
            "acquireTime":"2024-05-06T07:08:09.123456Z","renewTime":"2024-05-06T07:08:19.000001Z",
            "leaseTransitions":2})
    );
}

#[tokio::test]
async fn writes_a_configmap_annotation_in_the_shape_go_reads() {
    let server = TestServer::start().await;
    let client = client(&server.url());
    ConfigMapLock::new(client.clone(), NS, "ours", "rust-candidate")
        .create(&ours())
        .await
        .unwrap();
    let stored = dynamic::<ConfigMap>(&client).get("ours").await.unwrap();
    assert_eq!(
        stored.metadata.annotations.unwrap()[LEADER_ANNOTATION],
        r#"{"holderIdentity":"rust-candidate","leaseDurationSeconds":15,"acquireTime":"2024-05-06T07:08:09Z","renewTime":"2024-05-06T07:08:19Z","leaderTransitions":2}"#
    );
}

/// A foreign holder that renews every retry period with a renewTime far in the past (then far
/// in the future): it must never be taken; once it stops, only after a full lease duration.
async fn foreign_holder(kind: LockKind) {
    let server = TestServer::start().await;
    let client = client(&server.url());
    let foreign = kind.build(client.clone(), NS, "contested", "go-foreign");
    let stale = LeaderElectionRecord {
        holder_identity: "go-foreign".into(),
        lease_duration_seconds: LEASE.as_secs() as i64,
        acquire_time: Some("2001-01-01T00:00:00Z".parse().unwrap()),
        renew_time: Some("2001-01-01T00:00:00Z".parse().unwrap()),
        leader_transitions: 0,
    };
    foreign.create(&stale).await.unwrap();
    let leading = Leading::default();
    let _me = Candidate::spawn(client.clone(), kind, "contested", "me", false, &leading);

    let until = Instant::now() + LEASE * 3;
    let mut last_write_start = Instant::now();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let mut record = stale.clone();
        if n % 2 == 0 {
            record.renew_time = Some("2099-01-01T00:00:00Z".parse().unwrap());
        }
        foreign.get().await.unwrap();
        last_write_start = Instant::now();
        foreign.update(&record).await.unwrap();
        assert!(
            leading.current().is_empty(),
            "{kind:?}: took a lock that is being renewed"
        );
        tokio::time::sleep(RETRY).await;
    }
    assert_eq!(
        leading.max_concurrent(),
        0,
        "{kind:?}: took a lock that is being renewed"
    );

    wait_until(
        &format!("{kind:?}: takeover"),
        LEASE + RETRY.mul_f64(2.0 * 2.2) + SLACK,
        || leading.single().is_some(),
    )
    .await;
    let waited = last_write_start.elapsed();
    assert!(
        waited >= LEASE,
        "{kind:?}: took over {waited:?} after the last renewal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_holder_is_respected() {
    futures::future::join_all([LockKind::Leases, LockKind::ConfigMaps].map(foreign_holder)).await;
}
