//! The scheduler against the in-process apiserver: real informers, real bindings, real events.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube_client::{Api, Client};
use kube_core::params::{DeleteParams, ListParams};
use reference_scheduler::{KubeSchedulerConfiguration, Scheduler};
use serde_json::json;
use support::{bound_node, eventually, node, node_of, pod, server};
use tokio_util::sync::CancellationToken;

/// Runs a scheduler with `config` until the returned token is cancelled (or dropped with the
/// runtime).
fn start(client: &Client, config: &KubeSchedulerConfiguration) -> CancellationToken {
    let scheduler = Scheduler::new(client.clone(), config).unwrap();
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move { scheduler.run(token).await });
    stop
}

/// The notes of the events with `reason` about pod `name`.
async fn events(client: &Client, name: &str, reason: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                && e.reason.as_deref() == Some(reason)
        })
        .map(|e| {
            assert_eq!(e.reporting_controller.as_deref(), Some("default-scheduler"));
            e.note.unwrap_or_default()
        })
        .collect()
}

/// The pod's `PodScheduled` condition: (status, reason, message).
async fn scheduled_condition(client: &Client, name: &str) -> Option<(String, String, String)> {
    let pod = Api::<Pod>::namespaced(client.clone(), "default")
        .get(name)
        .await
        .ok()?;
    let c = pod
        .status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == "PodScheduled")?;
    Some((
        c.status,
        c.reason.unwrap_or_default(),
        c.message.unwrap_or_default(),
    ))
}

#[tokio::test]
async fn pods_go_where_their_selectors_tolerations_and_resources_allow() {
    let (_server, client) = server().await;
    node(&client, "plain", "2", "4Gi", 110, json!({})).await;
    node(
        &client,
        "ssd",
        "2",
        "4Gi",
        110,
        json!({"metadata": {"labels": {"disk": "ssd"}}}),
    )
    .await;
    node(
        &client,
        "gpu",
        "8",
        "16Gi",
        110,
        json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
    )
    .await;
    node(
        &client,
        "cordoned",
        "8",
        "16Gi",
        110,
        json!({"spec": {"unschedulable": true}}),
    )
    .await;
    let _stop = start(&client, &KubeSchedulerConfiguration::default()).drop_guard();

    pod(
        &client,
        "wants-ssd",
        "100m",
        json!({"spec": {"nodeSelector": {"disk": "ssd"}}}),
    )
    .await;
    let tolerates_gpu = json!({"spec": {
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["gpu"]}]}
        ]}}},
    }});
    pod(&client, "on-gpu", "100m", tolerates_gpu).await;
    let prefers_plain = json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["plain"]}]}}
    ]}}}});
    pod(&client, "prefers-plain", "100m", prefers_plain).await;
    pod(
        &client,
        "elsewhere",
        "100m",
        json!({"spec": {"schedulerName": "another-scheduler"}}),
    )
    .await;

    assert_eq!(bound_node(&client, "wants-ssd").await, "ssd");
    assert_eq!(bound_node(&client, "on-gpu").await, "gpu");
    assert_eq!(bound_node(&client, "prefers-plain").await, "plain");
    // Plain pods never land on the tainted or the cordoned node.
    for i in 0..6 {
        pod(&client, &format!("web-{i}"), "250m", json!({})).await;
    }
    for i in 0..6 {
        let node = bound_node(&client, &format!("web-{i}")).await;
        assert!(node == "plain" || node == "ssd", "web-{i} on {node}");
    }
    // Scheduled: the event, and the condition the binding sets.
    let notes = eventually("the Scheduled event", || async {
        Some(events(&client, "wants-ssd", "Scheduled").await).filter(|n| !n.is_empty())
    })
    .await;
    assert_eq!(notes, ["Successfully assigned default/wants-ssd to ssd"]);
    assert_eq!(scheduled_condition(&client, "wants-ssd").await.unwrap().0, "True");
    // A pod for another scheduler is left alone.
    assert_eq!(node_of(&client, "elsewhere").await, None);
    assert!(events(&client, "elsewhere", "FailedScheduling").await.is_empty());
}

#[tokio::test]
async fn an_unschedulable_pod_says_why_and_is_placed_once_a_node_fits() {
    let (_server, client) = server().await;
    node(&client, "small-a", "1", "2Gi", 110, json!({})).await;
    node(&client, "small-b", "1", "2Gi", 110, json!({})).await;
    node(
        &client,
        "tainted",
        "16",
        "32Gi",
        110,
        json!({"spec": {"taints": [{"key": "team", "value": "infra", "effect": "NoSchedule"}]}}),
    )
    .await;
    let _stop = start(&client, &KubeSchedulerConfiguration::default()).drop_guard();
    pod(&client, "big", "4", json!({})).await;

    let want = "0/3 nodes are available: 1 node(s) had untolerated taint {team: infra}, 2 Insufficient cpu.";
    let condition = eventually("PodScheduled=False", || scheduled_condition(&client, "big")).await;
    assert_eq!(condition, ("False".into(), "Unschedulable".into(), want.into()));
    let notes = eventually("the FailedScheduling event", || async {
        Some(events(&client, "big", "FailedScheduling").await).filter(|n| !n.is_empty())
    })
    .await;
    assert_eq!(notes, [want]);

    // While nothing changes the pod waits: past its first backoff (1 s) it is not tried again
    // (a second attempt would have made the event a series of two).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(node_of(&client, "big").await, None);
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let failed: Vec<Event> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].series.is_none(),
        "retried without a cluster change: {:?}",
        failed[0].series
    );
    // A node heartbeat (conditions only) is not a change that could help.
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let heartbeat =
        json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
    nodes
        .patch_status(
            "small-a",
            &kube_core::params::PatchParams::default(),
            &kube_core::Patch::Strategic(&heartbeat),
        )
        .await
        .unwrap();

    // A node that fits appears: the pod is placed there.
    node(&client, "large", "8", "16Gi", 110, json!({})).await;
    assert_eq!(bound_node(&client, "big").await, "large");
    let condition = eventually("PodScheduled=True", || async {
        scheduled_condition(&client, "big")
            .await
            .filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(condition.0, "True");
}

#[tokio::test]
async fn assumed_pods_hold_their_room_and_freed_room_is_used() {
    let (_server, client) = server().await;
    node(&client, "only", "1", "2Gi", 110, json!({})).await;
    let _stop = start(&client, &KubeSchedulerConfiguration::default()).drop_guard();
    // Created together: the second and third are scheduled before the first binding is seen
    // by the informer, so only the cache's assumed pods keep them from overcommitting.
    for name in ["a", "b", "c"] {
        pod(&client, name, "400m", json!({})).await;
    }
    let waiting = eventually("one pod to be reported unschedulable", || async {
        for name in ["a", "b", "c"] {
            if let Some((status, _, message)) = scheduled_condition(&client, name).await
                && status == "False"
            {
                assert_eq!(message, "0/1 nodes are available: 1 Insufficient cpu.");
                return Some(name);
            }
        }
        None
    })
    .await;
    let bound: Vec<&str> = ["a", "b", "c"].into_iter().filter(|n| *n != waiting).collect();
    for name in &bound {
        assert_eq!(bound_node(&client, name).await, "only");
    }
    assert_eq!(node_of(&client, waiting).await, None);

    // Deleting a bound pod frees its room: the waiting one takes it.
    Api::<Pod>::namespaced(client.clone(), "default")
        .delete(bound[0], &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert_eq!(bound_node(&client, waiting).await, "only");
}

#[tokio::test]
async fn host_ports_and_pod_counts_are_respected() {
    let (_server, client) = server().await;
    node(&client, "one", "4", "8Gi", 2, json!({})).await;
    let _stop = start(&client, &KubeSchedulerConfiguration::default()).drop_guard();
    let port = json!({"spec": {"containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}});
    pod(&client, "port-1", "", port.clone()).await;
    assert_eq!(bound_node(&client, "port-1").await, "one");
    pod(&client, "port-2", "", port).await;
    let c = eventually("port-2 to be unschedulable", || {
        scheduled_condition(&client, "port-2")
    })
    .await;
    assert_eq!(
        c.2,
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."
    );
    pod(&client, "fills", "", json!({})).await;
    assert_eq!(bound_node(&client, "fills").await, "one");
    pod(&client, "one-too-many", "", json!({})).await;
    let c = eventually("one-too-many to be unschedulable", || {
        scheduled_condition(&client, "one-too-many")
    })
    .await;
    assert_eq!(c.2, "0/1 nodes are available: 1 Too many pods.");
}

#[tokio::test]
async fn profiles_spread_or_pack_as_configured() {
    let (_server, client) = server().await;
    node(&client, "n1", "4", "8Gi", 110, json!({})).await;
    node(&client, "n2", "4", "8Gi", 110, json!({})).await;
    let config = KubeSchedulerConfiguration::parse(
        r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: packing
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
"#,
    )
    .unwrap();
    let _stop = start(&client, &config).drop_guard();
    // The default profile spreads: the second pod goes to the emptier node.
    pod(&client, "spread-1", "1", json!({})).await;
    let first = bound_node(&client, "spread-1").await;
    pod(&client, "spread-2", "1", json!({})).await;
    assert_ne!(bound_node(&client, "spread-2").await, first);
    // The packing profile fills one node before the other.
    let mut placed = BTreeMap::<String, usize>::new();
    for i in 0..3 {
        let name = format!("pack-{i}");
        pod(
            &client,
            &name,
            "500m",
            json!({"spec": {"schedulerName": "packing"}}),
        )
        .await;
        *placed.entry(bound_node(&client, &name).await).or_default() += 1;
    }
    assert_eq!(placed.len(), 1, "packed pods spread: {placed:?}");
}

#[tokio::test]
async fn gated_pods_wait_for_their_gates_to_go() {
    let (_server, client) = server().await;
    node(&client, "n1", "4", "8Gi", 110, json!({})).await;
    let _stop = start(&client, &KubeSchedulerConfiguration::default()).drop_guard();
    pod(
        &client,
        "gated",
        "100m",
        json!({"spec": {"schedulingGates": [{"name": "example.com/quota"}]}}),
    )
    .await;
    pod(&client, "free", "100m", json!({})).await;
    // The ungated pod created after it is placed; the gated one is neither bound nor reported.
    assert_eq!(bound_node(&client, "free").await, "n1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(node_of(&client, "gated").await, None);
    assert!(events(&client, "gated", "FailedScheduling").await.is_empty());
    // Removing the gate (a spec change) lets it in.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let ungate = json!([{"op": "remove", "path": "/spec/schedulingGates"}]);
    pods.patch(
        "gated",
        &kube_core::params::PatchParams::default(),
        &kube_core::Patch::<()>::Json(serde_json::from_value(ungate).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(bound_node(&client, "gated").await, "n1");
}

#[tokio::test]
async fn higher_priority_pods_are_scheduled_first() {
    let (_server, client) = server().await;
    node(&client, "one-slot", "1", "8Gi", 110, json!({})).await;
    // Both wait before the scheduler starts (listed in name order, so first come would be the
    // ordinary one); the node takes only one of them.
    pod(&client, "a-ordinary", "600m", json!({})).await;
    pod(
        &client,
        "z-critical",
        "600m",
        json!({"spec": {"priorityClassName": "system-cluster-critical"}}),
    )
    .await;
    let _stop = start(&client, &KubeSchedulerConfiguration::default()).drop_guard();
    assert_eq!(bound_node(&client, "z-critical").await, "one-slot");
    let c = eventually("the ordinary pod to be unschedulable", || {
        scheduled_condition(&client, "a-ordinary")
    })
    .await;
    assert_eq!(c.2, "0/1 nodes are available: 1 Insufficient cpu.");
    assert_eq!(node_of(&client, "a-ordinary").await, None);
}

#[tokio::test]
async fn a_node_that_holds_the_image_is_preferred() {
    let (_server, client) = server().await;
    let big_image = json!({"status": {"images": [{"names": ["registry.example/model-server:2.1"], "sizeBytes": 3_000_000_000u64}]}});
    node(&client, "cold", "4", "8Gi", 110, json!({})).await;
    node(&client, "warm", "4", "8Gi", 110, big_image).await;
    let _stop = start(&client, &KubeSchedulerConfiguration::default()).drop_guard();
    let with_image = |name: &str| json!({"spec": {"containers": [{"name": name, "image": "registry.example/model-server:2.1"}]}});
    for i in 0..3 {
        let name = format!("model-{i}");
        pod(&client, &name, "", with_image(&name)).await;
        assert_eq!(bound_node(&client, &name).await, "warm");
    }
}
