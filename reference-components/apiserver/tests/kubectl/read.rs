//! `get` in every format, `describe`, `get -w`, discovery and `explain`.

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{APP, json, read_until, row, start, table};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_prints_tables_and_every_output_format() {
    let (_server, k) = start().await;
    k.apply(APP).await;
    k.ok(&["create", "namespace", "other"]).await;
    k.ok(&[
        "create",
        "configmap",
        "elsewhere",
        "-n",
        "other",
        "--from-literal=a=b",
    ])
    .await;

    let rows = table(&k.ok(&["get", "deployments"]).await);
    assert_eq!(rows[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert_eq!(row(&rows, "NAME", "web")[1..4], ["0/2", "0", "0"]);
    let rows = table(&k.ok(&["get", "deployments", "-o", "wide"]).await);
    assert_eq!(rows[0][5..], ["CONTAINERS", "IMAGES", "SELECTOR"]);
    assert_eq!(row(&rows, "NAME", "web")[5..], ["nginx", "nginx:1.27", "app=web"]);
    let rows = table(&k.ok(&["get", "deployment", "web", "--subresource=scale"]).await);
    assert_eq!(rows, [["NAME", "DESIRED", "AVAILABLE"], ["web", "2", "0"]]);
    let rows = table(&k.ok(&["get", "deployment", "web", "--subresource=status"]).await);
    assert_eq!(rows[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    let rows = table(&k.ok(&["get", "services"]).await);
    assert_eq!(
        rows[0],
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    );
    let svc = row(&rows, "NAME", "web");
    assert_eq!(svc[1], "ClusterIP");
    assert!(svc[2].starts_with("127.96."), "{svc:?}");
    assert_eq!(svc[3..5], ["<none>", "80/TCP"]);
    let rows = table(&k.ok(&["get", "configmaps"]).await);
    assert_eq!(row(&rows, "NAME", "web-config")[1], "1");

    let deploy = json(&k.ok(&["get", "deployment", "web", "-o", "json"]).await);
    assert_eq!(deploy["kind"], "Deployment");
    assert_eq!(deploy["spec"]["replicas"], 2);
    let list = json(&k.ok(&["get", "configmaps", "-o", "json"]).await);
    assert_eq!(list["kind"], "List");
    let yaml = k.ok(&["get", "deployment", "web", "-o", "yaml"]).await;
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("replicas: 2"),
        "{yaml}"
    );
    assert_eq!(
        k.ok(&["get", "deployment", "web", "-o", "name"]).await.trim(),
        "deployment.apps/web"
    );
    let image = k
        .ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(image, "nginx:1.27");

    // Label and field selectors, all namespaces, labels.
    let names = k
        .ok(&["get", "configmaps,services", "-l", "app=web", "-o", "name"])
        .await;
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        ["configmap/web-config", "service/web"]
    );
    let none = k.kubectl(&["get", "configmaps", "-l", "app=nope"]).await;
    assert!(none.success() && none.stdout.is_empty(), "{none}");
    assert!(none.stderr.contains("No resources found"), "{none}");
    let names = k
        .ok(&[
            "get",
            "configmaps",
            "--field-selector",
            "metadata.name=web-config",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(names.trim(), "configmap/web-config");
    let bad = k.fails(&["get", "pods", "--field-selector", "spec.nope=x"]).await;
    assert!(bad.contains("field label not supported"), "{bad}");
    let rows = table(&k.ok(&["get", "configmaps", "-A"]).await);
    assert_eq!(rows[0][..2], ["NAMESPACE", "NAME"]);
    assert_eq!(row(&rows, "NAME", "elsewhere")[0], "other");
    assert_eq!(row(&rows, "NAME", "web-config")[0], "default");
    let rows = table(&k.ok(&["get", "deployment", "web", "--show-labels"]).await);
    assert_eq!(rows[0].last().unwrap(), "LABELS");
    assert_eq!(rows[1].last().unwrap(), "app=web,tier=front");

    // A pod's columns, and what `-o wide` adds.
    k.ok(&["run", "box", "--image=busybox", "--labels=app=box"]).await;
    let rows = table(&k.ok(&["get", "pods"]).await);
    assert_eq!(rows[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert_eq!(row(&rows, "NAME", "box")[1..4], ["0/1", "Pending", "0"]);
    let rows = table(&k.ok(&["get", "pods", "-o", "wide"]).await);
    assert_eq!(rows[0][5..], ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_events_as_another_client_writes() {
    let (_server, k) = start().await;
    k.ok(&["create", "configmap", "existing", "--from-literal=a=b"])
        .await;
    let mut watch = k.spawn_kubectl(&["get", "configmaps", "-w", "--output-watch-events"]);
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let has = |seen: &[String], event: &str, name: &str| {
        seen.iter().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.first() == Some(&event) && cells.get(1) == Some(&name)
        })
    };
    // The list comes first (with the headers); writes after it arrive as events.
    read_until(&mut lines, &mut seen, |s| has(s, "ADDED", "existing")).await;
    assert_eq!(
        seen[0].split_whitespace().collect::<Vec<_>>(),
        ["EVENT", "NAME", "DATA", "AGE"]
    );
    k.ok(&["create", "configmap", "watched", "--from-literal=a=b"])
        .await;
    k.ok(&["label", "configmap", "watched", "seen=yes"]).await;
    k.ok(&["delete", "configmap", "watched"]).await;
    read_until(&mut lines, &mut seen, |s| {
        has(s, "ADDED", "watched") && has(s, "MODIFIED", "watched") && has(s, "DELETED", "watched")
    })
    .await;
    let order: Vec<&str> = seen
        .iter()
        .filter(|l| l.contains("watched"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(order, ["ADDED", "MODIFIED", "DELETED"]);
    watch.kill().await.expect("stop kubectl get -w");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_api_versions_and_explain() {
    let (_server, k) = start().await;
    let rows = table(&k.ok(&["api-resources"]).await);
    assert_eq!(
        rows[0],
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    assert_eq!(
        row(&rows, "NAME", "deployments")[1..],
        ["deploy", "apps/v1", "true", "Deployment"]
    );
    assert_eq!(
        row(&rows, "NAME", "namespaces")[1..],
        ["ns", "v1", "false", "Namespace"]
    );
    let names = k.ok(&["api-resources", "--api-group=apps", "-o", "name"]).await;
    assert!(names.lines().any(|l| l == "statefulsets.apps"), "{names}");
    let versions = k.ok(&["api-versions"]).await;
    for v in ["v1", "apps/v1", "autoscaling/v2", "apiextensions.k8s.io/v1"] {
        assert!(versions.lines().any(|l| l == v), "missing {v} in:\n{versions}");
    }

    let explained = k.ok(&["explain", "pod.spec.containers"]).await;
    for expected in [
        "KIND:       Pod",
        "VERSION:    v1",
        "FIELD: containers <[]Container>",
        "image\t<string>",
        "livenessProbe\t<Probe>",
    ] {
        assert!(
            explained.contains(expected),
            "missing {expected:?} in:\n{explained}"
        );
    }
    let explained = k.ok(&["explain", "deployment.spec.replicas"]).await;
    assert!(
        explained.contains("GROUP:      apps") && explained.contains("<integer>"),
        "{explained}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprecated_apis_warn_as_kube_apiserver_does() {
    let (_server, k) = start().await;
    let warning = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice";
    let out = k.kubectl(&["get", "endpoints"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains(warning), "{}", out.stderr);
    let out = k.kubectl(&["get", "endpointslices"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("Warning:"), "{}", out.stderr);
}
