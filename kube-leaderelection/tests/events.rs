//! Leader election transitions as Kubernetes Events about the lock object.

mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use kube_client::Api;
use kube_core::params::ListParams;
use kube_leaderelection::{
    CancellationToken, ConfigMapLock, LeaderElectionConfig, LeaderElector, LeaseLock, LockEvents,
    ResourceLock,
};
use reference_apiserver::testing::TestServer;

async fn messages(events: &Api<Event>, kind: &str) -> Vec<String> {
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some(kind) && e.reason.as_deref() == Some("LeaderElection")
        })
        .filter_map(|e| e.message)
        .collect()
}

async fn elect_and_release(lock: impl ResourceLock + 'static) {
    let mut config = LeaderElectionConfig::new(lock);
    config.lease_duration = Duration::from_secs(2);
    config.renew_deadline = Duration::from_secs(1);
    config.retry_period = Duration::from_millis(200);
    config.release_on_cancel = true;
    let stop = CancellationToken::new();
    let s = stop.clone();
    // Lead briefly, then step down.
    let elector =
        LeaderElector::new(config)
            .unwrap()
            .on_started_leading(move |_leading: CancellationToken| {
                let s = s.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    s.cancel();
                }
            });
    tokio::time::timeout(Duration::from_secs(10), elector.run(stop))
        .await
        .expect("the election ends");
}

#[tokio::test]
async fn transitions_are_recorded_on_the_lock_object() {
    let server = TestServer::start().await;
    let client = support::client(&server.url());
    let events: Api<Event> = Api::namespaced(client.clone(), "default");

    let lease = LeaseLock::new(client.clone(), "default", "sched", "node-a")
        .with_events(LockEvents::new(client.clone(), "kube-scheduler"));
    elect_and_release(lease).await;
    let cm = ConfigMapLock::new(client.clone(), "default", "cm-lock", "node-b")
        .with_events(LockEvents::new(client.clone(), "kube-controller-manager"));
    elect_and_release(cm).await;
    // Without LockEvents: logged only.
    elect_and_release(LeaseLock::new(client.clone(), "default", "quiet", "node-c")).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let lease_msgs = messages(&events, "Lease").await;
        let cm_msgs = messages(&events, "ConfigMap").await;
        if lease_msgs.len() >= 2 && cm_msgs.len() >= 2 {
            assert!(
                lease_msgs.contains(&"node-a became leader".to_string()),
                "{lease_msgs:?}"
            );
            assert!(
                lease_msgs.contains(&"node-a stopped leading".to_string()),
                "{lease_msgs:?}"
            );
            assert!(
                cm_msgs.contains(&"node-b became leader".to_string()),
                "{cm_msgs:?}"
            );
            assert!(lease_msgs.iter().all(|m| !m.contains("node-c")), "{lease_msgs:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "events: {lease_msgs:?} {cm_msgs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The events point at the lock objects, with their uid.
    let lease: Lease = Api::namespaced(client.clone(), "default")
        .get("sched")
        .await
        .unwrap();
    let list = events.list(&ListParams::default()).await.unwrap();
    let on_lease = list
        .items
        .iter()
        .find(|e| e.involved_object.name.as_deref() == Some("sched"))
        .unwrap();
    assert_eq!(on_lease.involved_object.uid, lease.metadata.uid);
    assert_eq!(
        on_lease.source.as_ref().unwrap().component.as_deref(),
        Some("kube-scheduler")
    );
    assert_eq!(on_lease.type_.as_deref(), Some("Normal"));
}
