//! The two ways a create decodes its body give the same result.
//!
//! A body that decodes as the built-in type is decoded straight from its bytes, its unknown
//! fields noted on the way; anything else goes the general way (parse, identity checks, typed
//! decoding, a walk for unknown fields), which also gives each failure its message. A body with
//! `"apiVersion": null` takes the general way (the typed decoding refuses `null` there, the
//! identity check fills it in), so each object here is created both ways and the results
//! compared: the stored object (but for what differs by nature: uid, timestamps, name,
//! resourceVersion, allocated addresses), the warnings, and the errors of strict validation.

mod support;

use kube_client::{Client, Config};
use reference_apiserver::testing::TestServer;
use serde_json::{Value, json};
use support::{Reply, raw};

async fn setup() -> (TestServer, Client) {
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    (server, Client::new(config).unwrap())
}

/// Objects of many kinds, with unknown fields (some `null`) at several depths, a status sent
/// by the client (reset on create for most kinds), typed values that decoding normalises.
fn objects() -> Vec<(&'static str, Value)> {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}, "bogusMeta": 1, "nullUnknown": null},
        "spec": {
            "containers": [{
                "name": "app", "image": "nginx:1.27", "unknownInContainer": {"x": 1},
                "ports": [{"containerPort": 80, "name": "http", "zz": true}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "0.5", "memory": "128Mi"}},
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
            }],
            "volumes": [{"name": "v", "emptyDir": {}, "extra": 2}],
            "nodeName": null,
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        },
        "status": {"phase": "Running", "podIP": "10.0.0.1", "statusUnknown": 1},
        "topUnknown": [1, 2],
    });
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i", "what": 1}]}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
        },
        "status": {"replicas": 3, "readyReplicas": 3},
    });
    let replicaset = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http", "bogus": "x"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
    });
    let configmap = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "data": {"k": "v", "quote": "\"escaped\" \\ text"}, "binaryData": {"b": "aGVsbG8="}, "unknown": {"n": null},
    });
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "data": {"password": "c2VjcmV0"}, "stringData": {"user": "admin"},
    });
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                 "renewTime": "2026-01-02T03:04:05.123456Z", "acquireTime": "2026-01-02T03:04:05.000000Z"},
    });
    let hpa = json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 5,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
        "status": {"currentReplicas": 4, "desiredReplicas": 4},
    });
    let hpa_v1 = json!({
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3, "targetCPUUtilizationPercentage": 70},
    });
    let statefulset = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "spec": {"serviceName": "s", "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]},
    });
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Terminating"}});
    let node = json!({
        "apiVersion": "v1", "kind": "Node", "spec": {"podCIDR": "10.1.0.0/24"},
        "status": {"capacity": {"cpu": "2", "pods": "110"}, "nodeInfoUnknown": {"x": 1}},
    });
    let pv = json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/pv"}},
        "status": {"phase": "Bound"},
    });
    let event = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "eventTime": "2026-01-02T03:04:05.000001Z", "reportingController": "c", "reportingInstance": "i",
        "action": "Create", "reason": "Created", "type": "Normal", "note": "hello",
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
    });
    vec![
        ("/api/v1/namespaces/default/pods", pod),
        ("/apis/apps/v1/namespaces/default/deployments", deployment),
        ("/apis/apps/v1/namespaces/default/replicasets", replicaset),
        ("/api/v1/namespaces/default/services", service),
        ("/api/v1/namespaces/default/configmaps", configmap),
        ("/api/v1/namespaces/default/secrets", secret),
        ("/apis/coordination.k8s.io/v1/namespaces/default/leases", lease),
        (
            "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
            hpa,
        ),
        (
            "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers",
            hpa_v1,
        ),
        ("/apis/apps/v1/namespaces/default/statefulsets", statefulset),
        ("/api/v1/namespaces", namespace),
        ("/api/v1/nodes", node),
        ("/api/v1/persistentvolumes", pv),
        ("/apis/events.k8s.io/v1/namespaces/default/events", event),
    ]
}

/// `obj` named `name`, sent the general way when `general`.
fn body(obj: &Value, name: &str, general: bool) -> Vec<u8> {
    let mut obj = obj.clone();
    obj["metadata"]["name"] = name.into();
    if general {
        obj["apiVersion"] = Value::Null;
    }
    serde_json::to_vec(&obj).unwrap()
}

/// What may differ between two creates of the same object.
fn comparable(mut obj: Value) -> Value {
    let meta = obj["metadata"].as_object_mut().unwrap();
    for field in ["uid", "name", "creationTimestamp", "resourceVersion"] {
        meta.remove(field);
    }
    // A namespace's name label.
    if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut) {
        labels.remove("kubernetes.io/metadata.name");
    }
    for entry in meta
        .get_mut("managedFields")
        .and_then(Value::as_array_mut)
        .unwrap()
    {
        entry.as_object_mut().unwrap().remove("time");
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        for field in ["clusterIP", "clusterIPs"] {
            spec.remove(field);
        }
    }
    obj
}

async fn create(client: &Client, path: &str, body: Vec<u8>) -> Reply {
    raw(client, "POST", path, Some("application/json"), body).await
}

#[tokio::test]
async fn both_decodings_store_the_same_object_with_the_same_warnings() {
    let (_s, client) = setup().await;
    for (i, (path, obj)) in objects().into_iter().enumerate() {
        let mut results = Vec::new();
        for general in [false, true] {
            let name = format!("o{i}-{}", if general { "general" } else { "direct" });
            match create(&client, path, body(&obj, &name, general)).await {
                Reply::Success { code, warnings, body } => {
                    assert_eq!(code, 201, "{path}");
                    assert_eq!(body["metadata"]["name"], name.as_str(), "{path}");
                    results.push((comparable(body), warnings));
                }
                other => panic!("{path} (general: {general}): {other:?}"),
            }
        }
        let (direct, general) = (&results[0], &results[1]);
        assert_eq!(direct.0, general.0, "{path}: stored objects differ");
        assert_eq!(direct.1, general.1, "{path}: warnings differ");
    }
}

#[tokio::test]
async fn both_decodings_refuse_unknown_fields_alike_under_strict_validation() {
    let (_s, client) = setup().await;
    let mut seen_unknown = 0;
    for (i, (path, obj)) in objects().into_iter().enumerate() {
        let path = format!("{path}?fieldValidation=Strict");
        let mut results = Vec::new();
        for general in [false, true] {
            let name = format!("s{i}-{general}");
            results.push(match create(&client, &path, body(&obj, &name, general)).await {
                Reply::Success { code, .. } => Ok(code),
                Reply::Failure(status) => Err((status.code, status.reason.clone(), status.message.clone())),
                other => panic!("{path}: {other:?}"),
            });
        }
        if let Err((code, _, message)) = &results[0] {
            assert_eq!(*code, 400, "{path}: {message}");
            seen_unknown += 1;
        }
        assert_eq!(results[0], results[1], "{path}");
    }
    assert!(
        seen_unknown >= 5,
        "the objects have unknown fields: {seen_unknown}"
    );
}

#[tokio::test]
async fn a_generated_name_and_a_url_mismatch_behave_alike() {
    let (_s, client) = setup().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    for general in [false, true] {
        let api_version = if general { Value::Null } else { "v1".into() };
        let body =
            json!({"apiVersion": api_version, "kind": "ConfigMap", "metadata": {"generateName": "gen-"}});
        let Reply::Success { body, .. } = create(&client, cms, serde_json::to_vec(&body).unwrap()).await
        else {
            panic!("generateName (general: {general})");
        };
        assert!(body["metadata"]["name"].as_str().unwrap().starts_with("gen-"));
        // The namespace in the body must match the URL's.
        let body = json!({"apiVersion": api_version, "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}});
        let Reply::Failure(status) = create(&client, cms, serde_json::to_vec(&body).unwrap()).await else {
            panic!("namespace mismatch (general: {general})");
        };
        assert_eq!(status.code, 400);
        assert!(
            status.message.contains("does not match the namespace"),
            "{}",
            status.message
        );
        // A missing namespace is a 404 whichever way the body decoded.
        let body =
            json!({"apiVersion": api_version, "kind": "ConfigMap", "metadata": {"name": "x"}, "bogus": 1});
        let Reply::Failure(status) = create(
            &client,
            "/api/v1/namespaces/nope/configmaps?fieldValidation=Strict",
            serde_json::to_vec(&body).unwrap(),
        )
        .await
        else {
            panic!("missing namespace (general: {general})");
        };
        assert_eq!(status.code, 404, "{}", status.message);
    }
}
