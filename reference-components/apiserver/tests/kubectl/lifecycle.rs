//! `delete` (with `--wait` and finalizers) and `wait`.

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{APP, read_until, row, start, table};
use crate::kubectl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_waits_and_finalizers_hold_objects_terminating() {
    let (_server, k) = start().await;
    k.apply(APP).await;
    let out = k.ok(&["delete", "configmap", "web-config", "--wait"]).await;
    assert!(out.contains("configmap \"web-config\" deleted"), "{out}");
    let gone = k.fails(&["get", "configmap", "web-config"]).await;
    assert!(gone.contains("NotFound"), "{gone}");

    k.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: held, finalizers: [example.com/hold]}\nspec: {containers: [{name: c, image: busybox}]}\n",
    )
    .await;
    // kubectl deletes, then waits for the object to go: it does not, the finalizer holds it.
    let out = k.kubectl(&["delete", "pod", "held", "--timeout=2s"]).await;
    assert!(!out.success(), "the finalizer must hold the pod: {out}");
    assert!(out.stdout.contains("pod \"held\" deleted"), "{out}");
    let rows = table(&k.ok(&["get", "pod", "held"]).await);
    assert_eq!(row(&rows, "NAME", "held")[2], "Terminating");
    let deleting = k
        .ok(&[
            "get",
            "pod",
            "held",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ])
        .await;
    assert!(!deleting.is_empty());

    // `kubectl wait --for=delete` of an object already gone succeeds silently: remove the
    // finalizer only once it watches (its log says so at -v=6).
    let mut waiter = k.spawn_kubectl(&["wait", "--for=delete", "pod/held", "--timeout=30s", "-v=6"]);
    let mut log = BufReader::new(waiter.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    read_until(&mut log, &mut seen, |s| {
        s.iter().any(|l| l.contains("Caches populated"))
    })
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    let waiter = tokio::spawn(async move {
        let out = tokio::time::timeout(kubectl::TIMEOUT, waiter.wait_with_output())
            .await
            .expect("kubectl wait finishes")
            .expect("kubectl wait runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    });
    k.ok(&[
        "patch",
        "pod",
        "held",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .await;
    let (code, stdout) = waiter.await.unwrap();
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(stdout.trim(), "pod/held condition met");
    assert!(k.fails(&["get", "pod", "held"]).await.contains("NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_a_condition() {
    let (_server, k) = start().await;
    k.ok(&["run", "waiter", "--image=busybox"]).await;
    let early = k
        .kubectl(&["wait", "--for=condition=Ready", "pod/waiter", "--timeout=1s"])
        .await;
    assert!(!early.success(), "not Ready yet: {early}");
    let waiter = k.kubectl_command(&["wait", "--for=condition=Ready", "pod/waiter", "--timeout=30s"]);
    let waiter = tokio::spawn(kubectl::run(waiter, None, "kubectl wait --for=condition"));
    k.ok(&[
        "patch",
        "pod",
        "waiter",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
    ])
    .await;
    let out = waiter.await.unwrap();
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout.trim(), "pod/waiter condition met");
}
