//! What the scheduler's tests share: the in-process apiserver, nodes and pods in a few lines,
//! and polling with a deadline.

#![allow(dead_code)] // each test binary uses its own part

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube_client::{Api, Client, Config};
use kube_core::params::PostParams;
use reference_apiserver::testing::TestServer;
use serde_json::{Value, json};

/// How long any one wait may take.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Poll `check` until it returns `Some`, or fail after `within`.
pub async fn eventually_within<T, F, Fut>(within: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    reference_apiserver::testing::eventually(within, what, check).await
}

/// Poll `check` until it returns `Some`, or fail after [`TIMEOUT`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(TIMEOUT, what, check).await
}

/// An in-process apiserver and an unthrottled client for it.
pub async fn server() -> (TestServer, Client) {
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    (server, Client::new(config).unwrap())
}

/// Creates a ready node offering `cpu` and `memory` for at most `pods` pods; `extra` is merged
/// into it (labels, taints, `spec.unschedulable`).
pub async fn node(client: &Client, name: &str, cpu: &str, memory: &str, pods: u32, extra: Value) -> Node {
    let mut node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": pods.to_string()},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods.to_string()},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    });
    merge(&mut node, extra);
    let node: Node = serde_json::from_value(node).unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let created = nodes.create(&PostParams::default(), &node).await.unwrap();
    // Status is ignored on create: write it through the status subresource, as a kubelet does.
    let name = created.metadata.name.clone().unwrap();
    let mut with_status = created;
    with_status.status = node.status;
    nodes
        .replace_status(&name, &PostParams::default(), &with_status)
        .await
        .unwrap()
}

/// Creates a pod in `default` with one container requesting `cpu` (none when empty); `extra` is
/// merged into it.
pub async fn pod(client: &Client, name: &str, cpu: &str, extra: Value) -> Pod {
    let requests = if cpu.is_empty() {
        json!({})
    } else {
        json!({"cpu": cpu})
    };
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {"requests": requests}}]},
    });
    merge(&mut pod, extra);
    let pod: Pod = serde_json::from_value(pod).unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap()
}

/// Waits until the pod is bound; its node.
pub async fn bound_node(client: &Client, name: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    eventually(&format!("pod {name} to be bound"), || {
        let pods = pods.clone();
        async move {
            pods.get(name)
                .await
                .ok()?
                .spec?
                .node_name
                .filter(|n| !n.is_empty())
        }
    })
    .await
}

/// The pod's node, if it is bound now.
pub async fn node_of(client: &Client, name: &str) -> Option<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.get(name)
        .await
        .unwrap()
        .spec?
        .node_name
        .filter(|n| !n.is_empty())
}

/// Merges `patch` into `target`: objects key by key, anything else replaced.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}
