//! `label`, `annotate`, `patch`, `scale`, `replace` and `edit`.

use super::{APP, json, start};
use crate::kubectl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_label_annotate_patch_scale_and_replace() {
    let (_server, k) = start().await;
    k.apply(APP).await;

    let described = k.ok(&["describe", "deployment", "web"]).await;
    for expected in [
        "Name:",
        "web",
        "Namespace:",
        "default",
        "Replicas:",
        "2 desired",
        "Selector:",
        "app=web",
        "nginx:1.27",
    ] {
        assert!(
            described.contains(expected),
            "missing {expected:?} in:\n{described}"
        );
    }
    let described = k.ok(&["describe", "configmap", "web-config"]).await;
    assert!(
        described.contains("greeting") && described.contains("hello"),
        "{described}"
    );

    // label and annotate: merge patches.
    assert_eq!(
        k.ok(&["label", "configmap", "web-config", "env=prod"])
            .await
            .trim(),
        "configmap/web-config labeled"
    );
    let clash = k.fails(&["label", "configmap", "web-config", "env=dev"]).await;
    assert!(clash.contains("already has a value"), "{clash}");
    k.ok(&["label", "configmap", "web-config", "env=dev", "--overwrite"])
        .await;
    let env = k
        .ok(&[
            "get",
            "configmap",
            "web-config",
            "-o",
            "jsonpath={.metadata.labels.env}",
        ])
        .await;
    assert_eq!(env, "dev");
    assert_eq!(
        k.ok(&["label", "configmap", "web-config", "env-"]).await.trim(),
        "configmap/web-config unlabeled"
    );
    let labels = json(
        &k.ok(&[
            "get",
            "configmap",
            "web-config",
            "-o",
            "jsonpath={.metadata.labels}",
        ])
        .await,
    );
    assert_eq!(labels, serde_json::json!({"app": "web"}));
    assert_eq!(
        k.ok(&["annotate", "configmap", "web-config", "owner=ann"])
            .await
            .trim(),
        "configmap/web-config annotated"
    );
    k.ok(&["annotate", "configmap", "web-config", "owner=bob", "--overwrite"])
        .await;
    let owner = k
        .ok(&[
            "get",
            "configmap",
            "web-config",
            "-o",
            "jsonpath={.metadata.annotations.owner}",
        ])
        .await;
    assert_eq!(owner, "bob");
    k.ok(&["annotate", "configmap", "web-config", "owner-"]).await;
    let annotations = k
        .ok(&[
            "get",
            "configmap",
            "web-config",
            "-o",
            "jsonpath={.metadata.annotations.owner}",
        ])
        .await;
    assert_eq!(annotations, "");

    // patch: merge, JSON and strategic.
    let out = k
        .ok(&[
            "patch",
            "configmap",
            "web-config",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"greeting":"hi","extra":"1"}}"#,
        ])
        .await;
    assert_eq!(out.trim(), "configmap/web-config patched");
    k.ok(&[
        "patch",
        "configmap",
        "web-config",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/data/extra"}]"#,
    ])
    .await;
    let data = json(
        &k.ok(&["get", "configmap", "web-config", "-o", "jsonpath={.data}"])
            .await,
    );
    assert_eq!(data, serde_json::json!({"greeting": "hi"}));
    let bad = k
        .fails(&[
            "patch",
            "configmap",
            "web-config",
            "--type",
            "json",
            "-p",
            r#"[{"op":"test","path":"/data/greeting","value":"nope"}]"#,
        ])
        .await;
    assert!(!bad.is_empty());
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "--type",
        "strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.29"}]}}}}"#,
    ])
    .await;
    let images = k
        .ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ])
        .await;
    assert_eq!(images, "nginx:1.29");

    // scale: through the scale subresource.
    assert_eq!(
        k.ok(&["scale", "deployment", "web", "--replicas=4"]).await.trim(),
        "deployment.apps/web scaled"
    );
    assert_eq!(
        k.ok(&["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"])
            .await,
        "4"
    );

    // replace: a full update; a stale copy is a conflict.
    let yaml = k.ok(&["get", "configmap", "web-config", "-o", "yaml"]).await;
    let replaced = yaml.replace("greeting: hi", "greeting: replaced");
    let out = k.kubectl_stdin(&["replace", "-f", "-"], &replaced).await;
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout.trim(), "configmap/web-config replaced");
    assert_eq!(
        k.ok(&[
            "get",
            "configmap",
            "web-config",
            "-o",
            "jsonpath={.data.greeting}"
        ])
        .await,
        "replaced"
    );
    let stale = yaml.replace("greeting: hi", "greeting: stale");
    let out = k.kubectl_stdin(&["replace", "-f", "-"], &stale).await;
    assert!(!out.success());
    assert!(out.stderr.contains("the object has been modified"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_with_a_non_interactive_editor() {
    let (_server, k) = start().await;
    k.apply(APP).await;
    let editor = k.script(
        "editor.sh",
        r#"sed -i 's/greeting: hello/greeting: edited/' "$1""#,
    );
    let mut cmd = k.kubectl_command(&["edit", "configmap", "web-config"]);
    cmd.env("KUBE_EDITOR", &editor);
    let out = kubectl::run(cmd, None, "kubectl edit").await;
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout.trim(), "configmap/web-config edited");
    assert_eq!(
        k.ok(&[
            "get",
            "configmap",
            "web-config",
            "-o",
            "jsonpath={.data.greeting}"
        ])
        .await,
        "edited"
    );
}
