//! The write path as the real kubectl 1.35 drives it (installed by `scripts/install-test-deps`):
//! client-side `apply` (three-way strategic merge patches and the last-applied annotation),
//! server-side `apply` with a conflict between two field managers and `--force-conflicts`,
//! `patch --type strategic`, `label`, `annotate` and `scale`. Each step checks what the user sees
//! (exit code, printed text) and the object's state.

#[path = "support/kubectl.rs"]
mod kubectl;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::{Api, Client, Config};
use kubectl::Clients;
use reference_apiserver::testing::TestServer;
use serde_json::Value;

async fn setup() -> (TestServer, Client, Clients) {
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    let client = Client::new(config).unwrap();
    let clients = Clients::new(&server.url());
    (server, client, clients)
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1
        ports:
        - containerPort: 80
      - name: log
        image: busybox:1
"#;

/// The managed fields entries of `obj` as (manager, operation, subresource).
fn managers(obj: &impl serde::Serialize) -> Vec<(String, String, String)> {
    let obj = serde_json::to_value(obj).unwrap();
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("manager"), s("operation"), s("subresource"))
        })
        .collect()
}

fn images(d: &Deployment) -> Vec<String> {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .map(|c| c.image.clone().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_creates_then_is_unchanged_then_configures() {
    let (_s, client, kubectl) = setup().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let manifest = kubectl.write("deploy.yaml", DEPLOYMENT);
    let manifest = manifest.to_str().unwrap();

    let out = kubectl.ok(&["apply", "-f", manifest]).await;
    assert_eq!(out.trim(), "deployment.apps/web created");
    let created = api.get("web").await.unwrap();
    let annotations = created.metadata.annotations.clone().unwrap_or_default();
    assert!(
        annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"),
        "{annotations:?}"
    );
    assert_eq!(
        managers(&created),
        [("kubectl-client-side-apply".into(), "Update".into(), String::new())]
    );

    let out = kubectl.ok(&["apply", "-f", manifest]).await;
    assert_eq!(out.trim(), "deployment.apps/web unchanged");
    let same = api.get("web").await.unwrap();
    assert_eq!(same.metadata.resource_version, created.metadata.resource_version);

    // A new image and one container less: kubectl's three-way patch deletes `log` by name.
    let changed = DEPLOYMENT
        .replace("nginx:1", "nginx:2")
        .replace("      - name: log\n        image: busybox:1\n", "");
    kubectl.write("deploy.yaml", &changed);
    let out = kubectl.ok(&["apply", "-f", manifest]).await;
    assert_eq!(out.trim(), "deployment.apps/web configured");
    let configured = api.get("web").await.unwrap();
    assert_eq!(images(&configured), ["nginx:2"]);
    assert_eq!(configured.spec.unwrap().replicas, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_between_managers_and_force_conflicts() {
    let (_s, client, kubectl) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm = |color: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\ndata:\n  color: {color}\n  size: big\n"
        )
    };
    let alice = kubectl.write("alice.yaml", &cm("red"));
    let bob = kubectl.write("bob.yaml", &cm("blue"));
    let (alice, bob) = (alice.to_str().unwrap(), bob.to_str().unwrap());

    let out = kubectl
        .ok(&["apply", "--server-side", "--field-manager=alice", "-f", alice])
        .await;
    assert_eq!(out.trim(), "configmap/shared serverside-applied");

    let out = kubectl
        .kubectl(&["apply", "--server-side", "--field-manager=bob", "-f", bob])
        .await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .contains(r#"Apply failed with 1 conflict: conflict with "alice": .data.color"#),
        "{out}"
    );
    assert!(
        out.stderr.contains("--force-conflicts"),
        "kubectl explains the way out: {out}"
    );
    assert_eq!(api.get("shared").await.unwrap().data.unwrap()["color"], "red");

    let out = kubectl
        .ok(&[
            "apply",
            "--server-side",
            "--field-manager=bob",
            "--force-conflicts",
            "-f",
            bob,
        ])
        .await;
    assert_eq!(out.trim(), "configmap/shared serverside-applied");
    let got = api.get("shared").await.unwrap();
    assert_eq!(got.data.as_ref().unwrap()["color"], "blue");
    let fields: Value = serde_json::to_value(&got.metadata.managed_fields).unwrap();
    let owned_by = |manager: &str| {
        fields
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["manager"] == manager)
            .map(|e| e["fieldsV1"]["f:data"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(owned_by("bob"), serde_json::json!({"f:color": {}, "f:size": {}}));
    assert_eq!(
        owned_by("alice"),
        serde_json::json!({"f:size": {}}),
        "alice lost color, shares size"
    );

    // alice dropping `size` keeps it (bob applies it); bob dropping it too removes it.
    kubectl.write(
        "alice.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\n",
    );
    kubectl
        .ok(&["apply", "--server-side", "--field-manager=alice", "-f", alice])
        .await;
    assert_eq!(api.get("shared").await.unwrap().data.unwrap()["size"], "big");
    kubectl.write("bob.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\ndata:\n  color: blue\n");
    kubectl
        .ok(&["apply", "--server-side", "--field-manager=bob", "-f", bob])
        .await;
    let data = api.get("shared").await.unwrap().data.unwrap();
    assert!(!data.contains_key("size"), "{data:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_moves_to_server_side_without_conflicts_for_kubectl_only() {
    let (_s, client, kubectl) = setup().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let manifest = kubectl.write("deploy.yaml", DEPLOYMENT);
    let manifest = manifest.to_str().unwrap();
    kubectl.ok(&["apply", "-f", manifest]).await;

    // Another field manager (even one named like kubectl) changing a field client-side apply
    // wrote conflicts with it...
    kubectl.write("deploy.yaml", &DEPLOYMENT.replace("nginx:1", "nginx:2"));
    let out = kubectl
        .kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=kubectl-ci",
            "-f",
            manifest,
        ])
        .await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains(
            r#"conflict with "kubectl-client-side-apply" using apps/v1: .spec.template.spec.containers[name="web"].image"#
        ),
        "{out}"
    );
    assert_eq!(images(&api.get("web").await.unwrap()), ["nginx:1", "busybox:1"]);

    // ...but kubectl's own server-side apply takes over what the last-applied annotation says
    // (kubectl then moves the client-side apply entry into its own with a JSON patch).
    let out = kubectl.ok(&["apply", "--server-side", "-f", manifest]).await;
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    let d = api.get("web").await.unwrap();
    assert_eq!(images(&d), ["nginx:2", "busybox:1"]);
    let annotation =
        &d.metadata.annotations.as_ref().unwrap()["kubectl.kubernetes.io/last-applied-configuration"];
    assert!(
        annotation.contains("nginx:2"),
        "the annotation follows the apply: {annotation}"
    );
    let list = managers(&d);
    assert!(
        list.contains(&("kubectl".into(), "Apply".into(), String::new())),
        "{list:?}"
    );
    assert!(
        !list.iter().any(|m| m.0 == "kubectl-client-side-apply"),
        "{list:?}"
    );

    // From now on the image is kubectl's: another manager applying the old one conflicts with it.
    kubectl.write("deploy.yaml", DEPLOYMENT);
    let out = kubectl
        .kubectl(&["apply", "--server-side", "--field-manager=ci", "-f", manifest])
        .await;
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains(r#"conflict with "kubectl": "#), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_label_annotate_and_scale() {
    let (_s, client, kubectl) = setup().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let manifest = kubectl.write("deploy.yaml", DEPLOYMENT);
    kubectl.ok(&["apply", "-f", manifest.to_str().unwrap()]).await;

    // Strategic merge: the `web` container by name, `log` untouched.
    let out = kubectl
        .ok(&[
            "patch",
            "deployment",
            "web",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:3"}]}}}}"#,
        ])
        .await;
    assert_eq!(out.trim(), "deployment.apps/web patched");
    assert_eq!(images(&api.get("web").await.unwrap()), ["nginx:3", "busybox:1"]);

    // Labels: add, refuse to overwrite, overwrite, remove.
    assert_eq!(
        kubectl
            .ok(&["label", "deployment", "web", "tier=front"])
            .await
            .trim(),
        "deployment.apps/web labeled"
    );
    let err = kubectl.fails(&["label", "deployment", "web", "tier=back"]).await;
    assert!(
        err.contains("'tier' already has a value (front), and --overwrite is false"),
        "{err}"
    );
    kubectl
        .ok(&["label", "deployment", "web", "tier=back", "--overwrite"])
        .await;
    let labels = api.get("web").await.unwrap().metadata.labels.unwrap();
    assert_eq!(labels["tier"], "back");
    assert_eq!(
        kubectl.ok(&["label", "deployment", "web", "tier-"]).await.trim(),
        "deployment.apps/web unlabeled"
    );
    let labels = api.get("web").await.unwrap().metadata.labels.unwrap();
    assert!(
        !labels.contains_key("tier") && labels["app"] == "web",
        "{labels:?}"
    );

    // Annotations: the same dance.
    assert_eq!(
        kubectl
            .ok(&["annotate", "deployment", "web", "note=hi"])
            .await
            .trim(),
        "deployment.apps/web annotated"
    );
    let err = kubectl.fails(&["annotate", "deployment", "web", "note=ho"]).await;
    assert!(err.contains("'note' already has a value (hi)"), "{err}");
    kubectl
        .ok(&["annotate", "deployment", "web", "note=ho", "--overwrite"])
        .await;
    let d = api.get("web").await.unwrap();
    assert_eq!(d.metadata.annotations.as_ref().unwrap()["note"], "ho");
    assert!(
        managers(&d).iter().any(|m| m.0 == "kubectl-annotate"),
        "{:?}",
        managers(&d)
    );
    kubectl.ok(&["annotate", "deployment", "web", "note-"]).await;
    let annotations = api.get("web").await.unwrap().metadata.annotations.unwrap();
    assert!(!annotations.contains_key("note"), "{annotations:?}");

    // Scale goes through the scale subresource, and is recorded as such.
    assert_eq!(
        kubectl
            .ok(&["scale", "deployment", "web", "--replicas=4"])
            .await
            .trim(),
        "deployment.apps/web scaled"
    );
    let d = api.get("web").await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(4));
    assert!(
        managers(&d).contains(&("kubectl".into(), "Update".into(), "scale".into())),
        "{:?}",
        managers(&d)
    );
    let replicas = kubectl
        .ok(&["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"])
        .await;
    assert_eq!(replicas.trim(), "4");

    // Client-side apply of the manifest again puts its replicas back (the three-way patch sees
    // that the live value differs from the last applied one).
    let out = kubectl.ok(&["apply", "-f", manifest.to_str().unwrap()]).await;
    assert_eq!(out.trim(), "deployment.apps/web configured");
    let d = api.get("web").await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(images(&d), ["nginx:1", "busybox:1"]);
}
