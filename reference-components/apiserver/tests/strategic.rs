//! Strategic merge patch (`application/strategic-merge-patch+json`) end to end: kube-client's
//! `Patch::Strategic` against the in-process apiserver, on the fields clients rely on.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_client::{Api, Client, Config};
use kube_core::params::{PatchParams, PostParams};
use kube_core::{ApiResource, DynamicObject, GroupVersionKind, Patch};
use reference_apiserver::testing::TestServer;
use serde_json::{Value, json};

async fn setup() -> (TestServer, Client) {
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    (server, Client::new(config).unwrap())
}

fn deployment() -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "annotations": {"a": "1"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                        {"name": "log", "image": "busybox:1", "args": ["tail"]}
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "cfg"}}]
                }
            }
        }
    }))
    .unwrap()
}

async fn patched(api: &Api<Deployment>, patch: Value) -> Value {
    let d = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap_or_else(|e| panic!("strategic merge patch failed: {e}"));
    serde_json::to_value(d).unwrap()
}

fn container_names(d: &Value) -> Vec<String> {
    d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn deployment_lists_merge_by_key_and_directives_apply() {
    let (_s, client) = setup().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &deployment()).await.unwrap();

    // Containers merge by name, env by name: one image and one variable change, the rest stays.
    let d = patched(
        &api,
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:2", "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}]}
        ]}}}}),
    )
    .await;
    let web = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(web["image"], "nginx:2");
    assert_eq!(
        web["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}])
    );
    assert_eq!(web["volumeMounts"][0]["mountPath"], "/data");
    assert_eq!(container_names(&d), ["web", "log"]);

    // A new container with $setElementOrder goes where the order says (kubectl apply sends it).
    let d = patched(
        &api,
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}, {"name": "sidecar"}],
            "containers": [{"name": "sidecar", "image": "envoy:1"}]
        }}}}),
    )
    .await;
    assert_eq!(container_names(&d), ["web", "log", "sidecar"]);

    // $patch: delete removes one container by name; the others keep their fields.
    let d = patched(
        &api,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "log", "$patch": "delete"}]}}}}),
    )
    .await;
    assert_eq!(container_names(&d), ["web", "sidecar"]);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:2");

    // Volumes merge by name; $retainKeys swaps the volume source instead of keeping both.
    let d = patched(
        &api,
        json!({"spec": {"template": {"spec": {"volumes": [
            {"name": "data", "hostPath": {"path": "/srv"}, "$retainKeys": ["name", "hostPath"]}
        ]}}}}),
    )
    .await;
    let volumes = &d["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes.as_array().unwrap().len(), 2, "{volumes}");
    assert_eq!(volumes[0]["name"], "data");
    assert_eq!(volumes[0]["hostPath"]["path"], "/srv");
    assert!(
        volumes[0].get("emptyDir").is_none(),
        "$retainKeys dropped the old source: {volumes}"
    );
    assert_eq!(volumes[1]["configMap"]["name"], "cfg");

    // $retainKeys on the strategy: switching to Recreate drops rollingUpdate (kubectl sends this).
    let d = patched(
        &api,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    )
    .await;
    assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));

    // Labels and annotations: maps merge, null deletes.
    let d = patched(
        &api,
        json!({"metadata": {"labels": {"tier": null, "env": "prod"}, "annotations": {"b": "2"}}}),
    )
    .await;
    assert_eq!(d["metadata"]["labels"], json!({"app": "web", "env": "prod"}));
    assert_eq!(d["metadata"]["annotations"], json!({"a": "1", "b": "2"}));

    // The stored object is what the responses said.
    let stored = serde_json::to_value(api.get("web").await.unwrap()).unwrap();
    assert_eq!(stored["spec"], d["spec"]);
}

#[tokio::test]
async fn service_ports_merge_by_port() {
    let (_s, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client, "default");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443, "targetPort": 8443}
        ]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &svc).await.unwrap();
    let patch =
        json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"name": "metrics", "port": 9100}]}});
    let svc = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    let ports: Vec<(i32, String)> = svc
        .spec
        .unwrap()
        .ports
        .unwrap()
        .into_iter()
        .map(|p| {
            let target = match p.target_port {
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i)) => i.to_string(),
                other => format!("{other:?}"),
            };
            (p.port, target)
        })
        .collect();
    // 80 merged (targetPort changed), 443 kept, 9100 added: three ports, none lost.
    assert_eq!(ports.len(), 3, "{ports:?}");
    assert!(ports.contains(&(80, "9090".into())), "{ports:?}");
    assert!(ports.contains(&(443, "8443".into())), "{ports:?}");
    assert!(ports.iter().any(|p| p.0 == 9100), "{ports:?}");
}

#[tokio::test]
async fn bad_strategic_patches_are_refused_and_change_nothing() {
    let (_s, client) = setup().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let before = api.create(&PostParams::default(), &deployment()).await.unwrap();
    let cases = [
        (
            json!({"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}}),
            "name",
        ),
        (
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "explode"}]}}}}),
            "explode",
        ),
    ];
    for (patch, mentions) in cases {
        let err = api
            .patch("web", &PatchParams::default(), &Patch::Strategic(patch.clone()))
            .await
            .unwrap_err();
        let kube_client::Error::Api(status) = err else {
            panic!("{patch}: {err}")
        };
        assert_eq!(status.code, 400, "{patch}: {status:?}");
        assert!(status.message.contains(mentions), "{patch}: {}", status.message);
    }
    // An invalid result is 422, as any invalid update.
    let err = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"replicas": -1}})),
        )
        .await
        .unwrap_err();
    let kube_client::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!(status.code, 422, "{status:?}");
    assert!(status.message.contains("spec.replicas"), "{}", status.message);
    let after = api.get("web").await.unwrap();
    assert_eq!(after.metadata.resource_version, before.metadata.resource_version);
}

#[tokio::test]
async fn custom_resources_answer_415_for_strategic_merge() {
    let (_s, client) = setup().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"));
    let widgets: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}
    }))
    .unwrap();
    // The resource is served within a moment of the CRD's creation.
    let mut created = false;
    for _ in 0..200 {
        if widgets.create(&PostParams::default(), &widget).await.is_ok() {
            created = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(created, "the custom resource was not served");
    let err = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap_err();
    let kube_client::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!(status.code, 415, "{status:?}");
    assert_eq!(status.reason, "UnsupportedMediaType");
    // A merge patch works.
    let w = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(w.data["spec"]["size"], 2);
}
