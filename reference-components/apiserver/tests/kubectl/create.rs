//! Typed create commands (protobuf bodies) and `kubectl apply`.

use super::{APP, json, row, start, table};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_commands_send_protobuf_and_work() {
    let (_server, k) = start().await;
    assert_eq!(
        k.ok(&["create", "namespace", "team-a"]).await.trim(),
        "namespace/team-a created"
    );
    let ns = json(&k.ok(&["get", "namespace", "team-a", "-o", "json"]).await);
    assert_eq!(ns["status"]["phase"], "Active");
    let rows = table(&k.ok(&["get", "namespaces"]).await);
    assert_eq!(rows[0], ["NAME", "STATUS", "AGE"]);
    assert_eq!(row(&rows, "NAME", "team-a")[1], "Active");
    let exists = k.fails(&["create", "namespace", "team-a"]).await;
    assert!(exists.contains("AlreadyExists"), "{exists}");

    let out = k
        .ok(&[
            "create",
            "configmap",
            "settings",
            "-n",
            "team-a",
            "--from-literal=greeting=hello",
            "--from-literal=lang=rust",
        ])
        .await;
    assert_eq!(out.trim(), "configmap/settings created");
    let cm = json(
        &k.ok(&["get", "configmap", "settings", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(
        cm["data"],
        serde_json::json!({"greeting": "hello", "lang": "rust"})
    );

    let out = k
        .ok(&[
            "create",
            "secret",
            "generic",
            "creds",
            "-n",
            "team-a",
            "--from-literal=user=admin",
        ])
        .await;
    assert_eq!(out.trim(), "secret/creds created");
    let user = k
        .ok(&[
            "get",
            "secret",
            "creds",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data.user}",
        ])
        .await;
    assert_eq!(user, "YWRtaW4=", "base64 of admin");
    let rows = table(&k.ok(&["get", "secrets", "-n", "team-a"]).await);
    assert_eq!(rows[0], ["NAME", "TYPE", "DATA", "AGE"]);
    assert_eq!(row(&rows, "NAME", "creds")[1..3], ["Opaque", "1"]);

    assert_eq!(
        k.ok(&["create", "serviceaccount", "robot", "-n", "team-a"])
            .await
            .trim(),
        "serviceaccount/robot created"
    );
    let rows = table(&k.ok(&["get", "serviceaccounts", "-n", "team-a"]).await);
    assert_eq!(row(&rows, "NAME", "robot")[1], "0");

    let out = k
        .ok(&[
            "create",
            "role",
            "reader",
            "-n",
            "team-a",
            "--verb=get,list",
            "--resource=pods,deployments.apps",
        ])
        .await;
    assert_eq!(out.trim(), "role.rbac.authorization.k8s.io/reader created");
    let rules = json(
        &k.ok(&["get", "role", "reader", "-n", "team-a", "-o", "jsonpath={.rules}"])
            .await,
    );
    assert_eq!(rules[1]["apiGroups"], serde_json::json!(["apps"]));
    assert_eq!(rules[1]["resources"], serde_json::json!(["deployments"]));
    k.ok(&[
        "create",
        "rolebinding",
        "robot-reads",
        "-n",
        "team-a",
        "--role=reader",
        "--serviceaccount=team-a:robot",
    ])
    .await;
    let rows = table(&k.ok(&["get", "rolebindings", "-n", "team-a", "-o", "wide"]).await);
    let binding = row(&rows, "NAME", "robot-reads");
    assert_eq!(binding[1], "Role/reader");
    assert_eq!(binding.last().unwrap(), "team-a/robot");
    // A kind this server does not decode from protobuf is refused, not half-read.
    let refused = k
        .fails(&["create", "deployment", "web", "-n", "team-a", "--image=nginx"])
        .await;
    assert!(refused.contains("unknown format"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_a_multi_document_manifest_twice() {
    let (_server, k) = start().await;
    let first = k.apply(APP).await;
    for line in [
        "deployment.apps/web created",
        "service/web created",
        "configmap/web-config created",
        "secret/web-secret created",
    ] {
        assert!(first.contains(line), "missing {line:?} in:\n{first}");
    }
    let second = k.apply(APP).await;
    for line in [
        "deployment.apps/web unchanged",
        "service/web unchanged",
        "configmap/web-config unchanged",
        "secret/web-secret unchanged",
    ] {
        assert!(second.contains(line), "missing {line:?} in:\n{second}");
    }
    // A changed manifest: a strategic merge patch of the Deployment only.
    let changed = APP
        .replace("replicas: 2", "replicas: 3")
        .replace("nginx:1.27", "nginx:1.28");
    let third = k.apply(&changed).await;
    assert!(third.contains("deployment.apps/web configured"), "{third}");
    assert!(third.contains("configmap/web-config unchanged"), "{third}");
    let deploy = json(&k.ok(&["get", "deployment", "web", "-o", "json"]).await);
    assert_eq!(deploy["spec"]["replicas"], 3);
    let containers = deploy["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1, "containers merge by name");
    assert_eq!(containers[0]["image"], "nginx:1.28");
    assert!(
        deploy["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap()
            .contains("nginx:1.28")
    );
    // Validation is the server's (fieldValidation=Strict), not switched off.
    let bad = APP.replace("replicas: 2", "replicaz: 2");
    let out = k.kubectl_stdin(&["apply", "-f", "-"], &bad).await;
    assert!(!out.success());
    assert!(out.stderr.contains("unknown field \"spec.replicaz\""), "{out}");
}
