//! The REST API end to end: kube-client against the in-process reference apiserver.

use std::collections::BTreeMap;

use either::Either;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube_client::{Api, Client, Config};
use kube_core::params::{DeleteParams, ListParams, PatchParams, PostParams};
use kube_core::{Patch, ResourceExt};
use reference_apiserver::testing::TestServer;
use serde_json::json;

async fn setup() -> (TestServer, Client) {
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    (server, Client::new(config).unwrap())
}

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "data": data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
    }))
    .unwrap()
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }))
    .unwrap()
}

#[tokio::test]
async fn create_get_list_update_delete() {
    let (_s, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("a", &[("k", "v")]))
        .await
        .unwrap();
    assert!(created.uid().is_some());
    assert!(created.creation_timestamp().is_some());
    let rv1: u64 = created.resource_version().unwrap().parse().unwrap();

    let got = cms.get("a").await.unwrap();
    assert_eq!(got.data.as_ref().unwrap()["k"], "v");
    assert_eq!(got.resource_version(), created.resource_version());

    let err = cms
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap_err();
    assert!(err.is_already_exists(), "{err}");

    // An update that changes nothing keeps the resourceVersion.
    let same = cms.replace("a", &PostParams::default(), &got).await.unwrap();
    assert_eq!(same.resource_version(), got.resource_version());

    let mut changed = got.clone();
    changed.data.as_mut().unwrap().insert("k".into(), "w".into());
    let updated = cms.replace("a", &PostParams::default(), &changed).await.unwrap();
    let rv2: u64 = updated.resource_version().unwrap().parse().unwrap();
    assert!(rv2 > rv1);

    // A stale resourceVersion: 409 Conflict.
    let err = cms
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");

    let list = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(list.resource_version().unwrap().parse::<u64>().unwrap() >= rv2);

    match cms.delete("a", &DeleteParams::default()).await.unwrap() {
        Either::Right(status) => assert!(status.is_success()),
        Either::Left(obj) => panic!("expected a Status, got {obj:?}"),
    }
    assert!(cms.get_opt("a").await.unwrap().is_none());
    assert!(cms.get("a").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn generate_name_and_namespace_rules() {
    let (_s, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut c = cm("", &[]);
    c.metadata.name = None;
    c.metadata.generate_name = Some("gen-".into());
    let created = cms.create(&PostParams::default(), &c).await.unwrap();
    let name = created.name_any();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "nope");
    let err = missing
        .create(&PostParams::default(), &cm("x", &[]))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        Api::<Namespace>::all(client.clone()).get(ns).await.unwrap();
    }

    // A terminating namespace refuses new content.
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "t"}})).unwrap(),
    )
    .await
    .unwrap();
    let deleted = nss.delete("t", &DeleteParams::default()).await.unwrap();
    let ns = deleted.left().expect("a namespace with finalizers stays");
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    let err = Api::<ConfigMap>::namespaced(client.clone(), "t")
        .create(&PostParams::default(), &cm("x", &[]))
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "{err}");
    assert!(
        nss.delete("default", &DeleteParams::default())
            .await
            .unwrap_err()
            .is_forbidden()
    );
}

#[tokio::test]
async fn status_and_generation() {
    let (_s, client) = setup().await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
        "status": {"replicas": 99},
    }))
    .unwrap();
    let created = deploys.create(&PostParams::default(), &d).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(
        created.status.as_ref().and_then(|s| s.replicas),
        None,
        "status is reset on create"
    );
    assert_eq!(created.spec.as_ref().unwrap().replicas, Some(1), "defaulted");

    // Labels change: no generation bump. Spec change: bump.
    let p = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.generation, Some(1));
    let p = deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.generation, Some(2));
    assert_eq!(
        p.status.as_ref().and_then(|s| s.replicas),
        None,
        "the main resource never changes status"
    );

    let s = deploys
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 3}, "spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(s.status.unwrap().replicas, Some(3));
    assert_eq!(
        s.spec.unwrap().replicas,
        Some(3),
        "the status subresource never changes spec"
    );

    let scale = deploys.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(3));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=web"));
    let scaled = deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(scaled.spec.unwrap().replicas, Some(5));
    assert_eq!(deploys.get("web").await.unwrap().metadata.generation, Some(3));
}

#[tokio::test]
async fn patches_of_every_kind() {
    let (_s, client) = setup().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("p")).await.unwrap();
    let strategic = json!({"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}});
    let err = pods
        .patch("p", &PatchParams::default(), &Patch::Strategic(strategic))
        .await
        .unwrap_err();
    assert!(err.is_invalid(), "pod spec updates are restricted: {err}");
    let p = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}})),
        )
        .await
        .unwrap();
    assert_eq!(p.spec.as_ref().unwrap().containers.len(), 1);
    assert_eq!(
        p.spec.as_ref().unwrap().containers[0].image.as_deref(),
        Some("nginx:1.28")
    );
    let jp: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/metadata/labels/tier", "value": "front"}]))
            .unwrap();
    let p = pods
        .patch("p", &PatchParams::default(), &Patch::<()>::Json(jp))
        .await
        .unwrap();
    assert_eq!(p.labels()["tier"], "front");
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/metadata/labels/tier", "value": "back"}]))
            .unwrap();
    let err = pods
        .patch("p", &PatchParams::default(), &Patch::<()>::Json(failing))
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap().code, 422, "{err}");
    // A resourceVersion in a patch is a precondition.
    let stale = json!({"metadata": {"resourceVersion": "1", "labels": {"a": "b"}}});
    assert!(
        pods.patch("p", &PatchParams::default(), &Patch::Merge(stale))
            .await
            .unwrap_err()
            .is_conflict()
    );
}

/// JSON patches see the current `resourceVersion`, as kube-apiserver applies them: `test` passes
/// when it matches and fails (422) when it does not, and a `replace` with a stale value is a
/// precondition that fails with 409; a `test` of a missing member against `null` passes, as
/// evanphx/json-patch reads a missing member as null.
#[tokio::test]
async fn json_patches_see_the_resource_version() {
    let (_s, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("a", &[("k", "v")]))
        .await
        .unwrap();
    let rv = created.resource_version().unwrap();
    let json = |ops: serde_json::Value| Patch::<()>::Json(serde_json::from_value(ops).unwrap());

    let tested = cms
        .patch(
            "a",
            &PatchParams::default(),
            &json(json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                {"op": "test", "path": "/metadata/labels", "value": null},
                {"op": "replace", "path": "/data/k", "value": "w"},
            ])),
        )
        .await
        .unwrap();
    assert_eq!(tested.data.as_ref().unwrap()["k"], "w");
    let new_rv = tested.resource_version().unwrap();
    assert_ne!(new_rv, rv);

    // The old resourceVersion no longer matches: the test fails.
    let err = cms
        .patch(
            "a",
            &PatchParams::default(),
            &json(json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                {"op": "replace", "path": "/data/k", "value": "x"},
            ])),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap().code, 422, "{err}");

    // Replacing it with a stale value makes it the precondition: 409.
    let err = cms
        .patch(
            "a",
            &PatchParams::default(),
            &json(json!([
                {"op": "replace", "path": "/metadata/resourceVersion", "value": rv},
                {"op": "replace", "path": "/data/k", "value": "x"},
            ])),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    // With the current value it applies.
    let replaced = cms
        .patch(
            "a",
            &PatchParams::default(),
            &json(json!([
                {"op": "replace", "path": "/metadata/resourceVersion", "value": new_rv},
                {"op": "replace", "path": "/data/k", "value": "x"},
            ])),
        )
        .await
        .unwrap();
    assert_eq!(replaced.data.as_ref().unwrap()["k"], "x");
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["k"], "x");
}

#[tokio::test]
async fn finalizers_and_graceful_pod_deletion() {
    let (_s, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut c = cm("f", &[]);
    c.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &c).await.unwrap();
    let pending = cms
        .delete("f", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(pending.metadata.deletion_timestamp.is_some());
    cms.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(
        cms.get_opt("f").await.unwrap().is_none(),
        "the last finalizer gone, the object goes"
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("unbound"))
        .await
        .unwrap();
    assert!(
        pods.delete("unbound", &DeleteParams::default())
            .await
            .unwrap()
            .left()
            .is_some()
    );
    assert!(
        pods.get_opt("unbound").await.unwrap().is_none(),
        "an unbound pod goes at once"
    );

    pods.create(&PostParams::default(), &pod("bound")).await.unwrap();
    pods.bind("bound", "node-1").await.unwrap();
    let err = pods.bind("bound", "node-2").await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let bound = pods.get("bound").await.unwrap();
    assert_eq!(bound.spec.as_ref().unwrap().node_name.as_deref(), Some("node-1"));
    // A binding for another pod of the same name (uid precondition), and one for a gated pod,
    // are conflicts too.
    let created = pods.create(&PostParams::default(), &pod("again")).await.unwrap();
    let err = pods
        .bind_with_uid("again", "some-older-uid", "node-1")
        .await
        .unwrap_err();
    assert!(
        err.is_conflict() && err.to_string().contains("UID in precondition: some-older-uid"),
        "{err}"
    );
    let uid = created.metadata.uid.unwrap();
    pods.bind_with_uid("again", &uid, "node-1").await.unwrap();
    let mut gated = pod("gated");
    gated.spec.as_mut().unwrap().scheduling_gates =
        Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
            name: "example.com/wait".into(),
        }]);
    let created = pods.create(&PostParams::default(), &gated).await.unwrap();
    let condition = created.status.unwrap().conditions.unwrap().remove(0);
    assert_eq!(
        (
            condition.type_.as_str(),
            condition.status.as_str(),
            condition.reason.as_deref()
        ),
        ("PodScheduled", "False", Some("SchedulingGated"))
    );
    assert_eq!(
        condition.message.as_deref(),
        Some("Scheduling is blocked due to non-empty scheduling gates")
    );
    let err = pods.bind("gated", "node-1").await.unwrap_err();
    assert!(
        err.is_conflict()
            && err
                .to_string()
                .contains("pod gated has non-empty .spec.schedulingGates"),
        "{err}"
    );
    let terminating = pods
        .delete("bound", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(30));
    assert!(
        pods.get_opt("bound").await.unwrap().is_some(),
        "a bound pod waits for its kubelet"
    );
    pods.delete("bound", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert!(pods.get_opt("bound").await.unwrap().is_none());

    // Preconditions.
    pods.create(&PostParams::default(), &pod("pre")).await.unwrap();
    let err = pods
        .delete("pre", &DeleteParams::default().precondition_uid("wrong"))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    // Propagation policies leave their finalizer.
    let mut c = cm("orphan", &[]);
    c.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &c).await.unwrap();
    let pending = cms
        .delete("orphan", &DeleteParams::orphan())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(pending.finalizers().contains(&"orphan".to_string()));
}

#[tokio::test]
async fn services_get_addresses_and_ports() {
    let (_s, client) = setup().await;
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc = |name: &str, node_port: Option<i32>| -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "nodePort": node_port}]},
        }))
        .unwrap()
    };
    let a = svcs
        .create(&PostParams::default(), &svc("a", Some(30080)))
        .await
        .unwrap();
    let ip: std::net::Ipv4Addr = a
        .spec
        .as_ref()
        .unwrap()
        .cluster_ip
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ip.is_loopback(), "{ip}");
    assert_eq!(
        a.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
    );
    let err = svcs
        .create(&PostParams::default(), &svc("b", Some(30080)))
        .await
        .unwrap_err();
    assert!(err.is_invalid(), "{err}");
    let b = svcs
        .create(&PostParams::default(), &svc("b", None))
        .await
        .unwrap();
    assert_ne!(
        b.spec.as_ref().unwrap().cluster_ip,
        a.spec.as_ref().unwrap().cluster_ip
    );
    // A replace that leaves the allocations out keeps them.
    let mut again = svc("b", None);
    again.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    let replaced = svcs.replace("b", &PostParams::default(), &again).await.unwrap();
    assert_eq!(
        replaced.spec.as_ref().unwrap().cluster_ip,
        b.spec.as_ref().unwrap().cluster_ip
    );
    assert_eq!(
        replaced.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].node_port,
        b.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].node_port
    );
    svcs.delete("a", &DeleteParams::default()).await.unwrap();
    svcs.create(&PostParams::default(), &svc("c", Some(30080)))
        .await
        .unwrap();
}

#[tokio::test]
async fn selectors_and_consistent_paging() {
    let (_s, client) = setup().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..250 {
        let mut c = cm(&format!("cm-{i:03}"), &[]);
        c.labels_mut()
            .insert("parity".into(), if i % 2 == 0 { "even" } else { "odd" }.into());
        cms.create(&PostParams::default(), &c).await.unwrap();
    }
    let even = cms
        .list(&ListParams::default().labels("parity=even"))
        .await
        .unwrap();
    assert_eq!(even.items.len(), 125);
    let named = cms
        .list(&ListParams::default().fields("metadata.name=cm-007"))
        .await
        .unwrap();
    assert_eq!(named.items.len(), 1);
    let err = cms
        .list(&ListParams::default().fields("spec.nope=1"))
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap().code, 400);

    // Page 1, then a write, then page 2: the second page reads the first page's snapshot.
    let page1 = cms.list(&ListParams::default().limit(100)).await.unwrap();
    assert_eq!(page1.items.len(), 100);
    assert_eq!(page1.metadata.remaining_item_count, Some(150));
    let token = page1.continue_token().unwrap().to_string();
    cms.create(&PostParams::default(), &cm("cm-zzz", &[]))
        .await
        .unwrap();
    let mut names: Vec<String> = page1.items.iter().map(|c| c.name_any()).collect();
    let mut next = Some(token);
    while let Some(t) = next {
        let page = cms
            .list(&ListParams::default().limit(100).continue_token(&t))
            .await
            .unwrap();
        assert_eq!(page.resource_version(), page1.resource_version());
        names.extend(page.items.iter().map(|c| c.name_any()));
        next = page.continue_token().map(str::to_string);
    }
    assert_eq!(
        names.len(),
        250,
        "the object created between pages is not in the snapshot"
    );
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 250);
    let filtered = cms
        .list(&ListParams::default().labels("parity=odd").limit(10))
        .await
        .unwrap();
    assert_eq!(filtered.items.len(), 10);
    assert!(filtered.continue_token().is_some());

    let deleted = cms
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("parity=odd"),
        )
        .await
        .unwrap();
    assert_eq!(deleted.left().unwrap().items.len(), 125);
    assert_eq!(cms.list(&ListParams::default()).await.unwrap().items.len(), 126);
}

#[tokio::test]
async fn versions_that_share_storage() {
    use k8s_openapi::api::autoscaling::{v1 as as1, v2 as as2};
    use k8s_openapi::api::{core::v1::Event as CoreEvent, events::v1::Event as NewEvent};
    let (_s, client) = setup().await;
    let v1: Api<as1::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let v2: Api<as2::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let h: as1::HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "maxReplicas": 5, "targetCPUUtilizationPercentage": 60},
    }))
    .unwrap();
    v1.create(&PostParams::default(), &h).await.unwrap();
    let as_v2 = v2.get("web").await.unwrap();
    let metric = &as_v2.spec.as_ref().unwrap().metrics.as_ref().unwrap()[0];
    assert_eq!(
        metric.resource.as_ref().unwrap().target.average_utilization,
        Some(60)
    );
    // A v2-only field set through v2 survives a v1 round trip.
    v2.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}}}})),
    )
    .await
    .unwrap();
    let back = v1.get("web").await.unwrap();
    assert_eq!(
        back.spec.as_ref().unwrap().target_cpu_utilization_percentage,
        Some(60)
    );
    v1.replace("web", &PostParams::default(), &back).await.unwrap();
    let kept = v2.get("web").await.unwrap();
    assert_eq!(
        kept.spec
            .unwrap()
            .behavior
            .unwrap()
            .scale_down
            .unwrap()
            .stabilization_window_seconds,
        Some(30)
    );
    assert_eq!(v1.list(&ListParams::default()).await.unwrap().items.len(), 1);

    let new_events: Api<NewEvent> = Api::namespaced(client.clone(), "default");
    let core_events: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    let e: NewEvent = serde_json::from_value(json!({
        "metadata": {"name": "e1"}, "eventTime": "2026-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}, "note": "pulled image",
        "reason": "Pulled", "type": "Normal", "action": "Pull", "reportingController": "kubelet", "reportingInstance": "node-1",
    }))
    .unwrap();
    new_events.create(&PostParams::default(), &e).await.unwrap();
    let core = core_events.get("e1").await.unwrap();
    assert_eq!(core.message.as_deref(), Some("pulled image"));
    assert_eq!(core.involved_object.name.as_deref(), Some("p"));
    let by_field = core_events
        .list(&ListParams::default().fields("involvedObject.name=p"))
        .await
        .unwrap();
    assert_eq!(by_field.items.len(), 1);
    assert_eq!(
        new_events.get("e1").await.unwrap().note.as_deref(),
        Some("pulled image")
    );
}

#[tokio::test]
async fn changing_a_service_type_allocates_and_releases_node_ports() {
    let (_s, client) = setup().await;
    let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
    let plain: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
    }))
    .unwrap();
    let created = svcs.create(&PostParams::default(), &plain).await.unwrap();
    assert!(
        created
            .spec
            .unwrap()
            .ports
            .unwrap()
            .iter()
            .all(|p| p.node_port.is_none())
    );

    // ClusterIP → NodePort: every port gets a node port from the range.
    let patch = Patch::Merge(json!({"spec": {"type": "NodePort"}}));
    let node_port = svcs.patch("web", &PatchParams::default(), &patch).await.unwrap();
    let ports: Vec<i32> = node_port
        .spec
        .unwrap()
        .ports
        .unwrap()
        .iter()
        .map(|p| p.node_port.expect("a node port"))
        .collect();
    assert!(ports.iter().all(|p| (30000..=32767).contains(p)), "{ports:?}");
    assert_ne!(ports[0], ports[1]);
    // They are taken: another service asking for one is refused.
    let wants = |port: i32| -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "other"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]},
        }))
        .unwrap()
    };
    let err = svcs
        .create(&PostParams::default(), &wants(ports[0]))
        .await
        .unwrap_err();
    assert!(
        err.is_invalid() && err.to_string().contains("already allocated"),
        "{err}"
    );

    // NodePort → ClusterIP gives them up (the spec drops them), and they can be taken again.
    let patch = Patch::Merge(json!({"spec": {"type": "ClusterIP", "ports": [
        {"name": "http", "port": 80},
        {"name": "https", "port": 443},
    ]}}));
    let back = svcs.patch("web", &PatchParams::default(), &patch).await.unwrap();
    assert!(
        back.spec
            .unwrap()
            .ports
            .unwrap()
            .iter()
            .all(|p| p.node_port.is_none())
    );
    let other = svcs
        .create(&PostParams::default(), &wants(ports[0]))
        .await
        .unwrap();
    assert_eq!(other.spec.unwrap().ports.unwrap()[0].node_port, Some(ports[0]));
}
