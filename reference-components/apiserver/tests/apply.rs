//! Server-side apply end to end: kube-client's `Patch::Apply` (and raw requests where the client
//! would refuse to send a bad one) against the in-process apiserver. What a user relies on:
//! create-on-apply, `metadata.managedFields` as Kubernetes writes them, shared ownership,
//! conflicts naming the manager and field, `force`, removal of fields an applier drops, and
//! conflicts with fields other clients wrote with plain updates.

use std::time::Duration;

use http::Request;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_client::{Api, Client, Config};
use kube_core::params::{PatchParams, PostParams};
use kube_core::{ApiResource, DynamicObject, GroupVersionKind, Patch, Status};
use reference_apiserver::testing::TestServer;
use serde_json::{Value, json};

async fn setup() -> (TestServer, Client) {
    let server = TestServer::start().await;
    let mut config = Config::new(server.url().parse().unwrap());
    config.qps = None;
    config.max_retries = 0;
    (server, Client::new(config).unwrap())
}

fn deployment(replicas: i64, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}
        }
    })
}

fn nginx() -> Value {
    json!([{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]}])
}

async fn apply<K>(api: &Api<K>, manager: &str, config: &Value) -> Result<Value, Box<Status>>
where
    K: Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    apply_with(api, &PatchParams::apply(manager), config).await
}

async fn apply_with<K>(api: &Api<K>, pp: &PatchParams, config: &Value) -> Result<Value, Box<Status>>
where
    K: Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let name = config["metadata"]["name"].as_str().unwrap();
    match api.patch(name, pp, &Patch::Apply(config)).await {
        Ok(obj) => Ok(serde_json::to_value(obj).unwrap()),
        Err(kube_client::Error::Api(status)) => Err(status),
        Err(e) => panic!("apply failed without a Status: {e}"),
    }
}

/// The managed fields entries of `obj` as (manager, operation, subresource, fieldsV1).
fn entries(obj: &Value) -> Vec<(String, String, String, Value)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap().to_string(),
                        e["operation"].as_str().unwrap().to_string(),
                        e["subresource"].as_str().unwrap_or_default().to_string(),
                        e["fieldsV1"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn fields_of<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == manager)
        .map(|e| &e["fieldsV1"])
        .unwrap_or_else(|| panic!("no entry for {manager}: {}", obj["metadata"]["managedFields"]))
}

/// Send a raw request; the status code and the JSON body.
async fn raw(client: &Client, method: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body.as_bytes().to_vec())
        .unwrap();
    match client.send(req, false).await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap();
            (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        }
        Err(kube_client::Error::Api(status)) => (status.code, serde_json::to_value(*status).unwrap()),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

#[tokio::test]
async fn create_on_apply_records_the_appliers_fields() {
    let (_s, client) = setup().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let created = apply(&api, "alice", &deployment(2, nginx())).await.unwrap();
    assert!(created["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(created["spec"]["replicas"], 2);
    // Defaults are filled in but owned by nobody.
    assert_eq!(
        created["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"],
        "TCP"
    );

    let got = serde_json::to_value(api.get("web").await.unwrap()).unwrap();
    let managed = got["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(managed.len(), 1, "{managed:?}");
    let entry = &managed[0];
    assert_eq!(entry["manager"], "alice");
    assert_eq!(entry["operation"], "Apply");
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(
        entry["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{entry}"
    );
    assert_eq!(
        entry["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}
                }
            }
        })
    );

    // Applying the same configuration again changes nothing.
    let again = apply(&api, "alice", &deployment(2, nginx())).await.unwrap();
    assert_eq!(
        again["metadata"]["resourceVersion"],
        got["metadata"]["resourceVersion"]
    );

    // The first apply answered 201 Created, a later one 200.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fresh"},"data":{"a":"1"}}"#;
    let path = "/api/v1/namespaces/default/configmaps/fresh?fieldManager=alice";
    let (code, _) = raw(&client, "PATCH", path, "application/apply-patch+yaml", body).await;
    assert_eq!(code, 201);
    let (code, _) = raw(&client, "PATCH", path, "application/apply-patch+yaml", body).await;
    assert_eq!(code, 200);
    assert_eq!(cms.get("fresh").await.unwrap().data.unwrap()["a"], "1");
}

#[tokio::test]
async fn two_managers_share_conflict_and_force() {
    let (_s, client) = setup().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    apply(&api, "alice", &deployment(2, nginx())).await.unwrap();

    // bob applies the same replicas: no conflict, both own it.
    let mut bob_config = deployment(2, nginx());
    bob_config["spec"]["template"]["spec"]["containers"] = json!([]);
    let shared = apply(&api, "bob", &bob_config).await.unwrap();
    assert_eq!(fields_of(&shared, "bob")["f:spec"]["f:replicas"], json!({}));
    assert_eq!(fields_of(&shared, "alice")["f:spec"]["f:replicas"], json!({}));

    // bob wants 5: 409 naming alice and the field; nothing changes.
    bob_config["spec"]["replicas"] = json!(5);
    let status = apply(&api, "bob", &bob_config).await.unwrap_err();
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas"
    );
    let causes = &status.details.as_ref().unwrap().causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].message, "conflict with \"alice\"");
    assert_eq!(causes[0].field, ".spec.replicas");
    assert_eq!(api.get("web").await.unwrap().spec.unwrap().replicas, Some(2));

    // Forced: bob's value, and bob alone owns the field.
    let forced = apply_with(&api, &PatchParams::apply("bob").force(), &bob_config)
        .await
        .unwrap();
    assert_eq!(forced["spec"]["replicas"], 5);
    assert_eq!(fields_of(&forced, "bob")["f:spec"]["f:replicas"], json!({}));
    assert!(fields_of(&forced, "alice")["f:spec"].get("f:replicas").is_none());

    // alice re-applying her old value now conflicts with bob.
    let status = apply(&api, "alice", &deployment(2, nginx())).await.unwrap_err();
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"bob\": .spec.replicas"
    );
}

#[tokio::test]
async fn a_field_an_applier_drops_is_removed_unless_another_manager_owns_it() {
    let (_s, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm = |labels: Value, data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": labels}, "data": data});
    apply(
        &api,
        "alice",
        &cm(json!({"a": "1", "shared": "x"}), json!({"k1": "v1", "k2": "v2"})),
    )
    .await
    .unwrap();
    apply(&api, "bob", &cm(json!({"shared": "x"}), json!({})))
        .await
        .unwrap();
    // alice stops applying label `a`, label `shared` (bob applies it too) and data `k2`.
    let after = apply(&api, "alice", &cm(json!({}), json!({"k1": "v1"})))
        .await
        .unwrap();
    assert_eq!(after["metadata"]["labels"], json!({"shared": "x"}));
    assert_eq!(after["data"], json!({"k1": "v1"}));
    // Fields written by a plain update stay when an applier that also owned them drops them.
    let plain = api
        .patch(
            "c",
            &PatchParams {
                field_manager: Some("editor".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"data": {"k3": "v3"}})),
        )
        .await
        .unwrap();
    assert_eq!(plain.data.unwrap()["k3"], "v3");
    let after = apply(&api, "alice", &cm(json!({}), json!({}))).await.unwrap();
    assert_eq!(
        after["data"],
        json!({"k3": "v3"}),
        "k1 went with alice, k3 is the editor's"
    );
}

#[tokio::test]
async fn updates_by_other_clients_are_recorded_and_conflict_with_applies() {
    let (_s, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"color": "red"}})).unwrap();
    // A create without fieldManager is recorded under the user agent's product name.
    let created = api.create(&PostParams::default(), &cm).await.unwrap();
    let created = serde_json::to_value(created).unwrap();
    let list = entries(&created);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        (list[0].0.as_str(), list[0].1.as_str()),
        ("kube-client", "Update")
    );
    assert_eq!(list[0].3, json!({"f:data": {".": {}, "f:color": {}}}));

    // A merge patch with a field manager takes the field over.
    let pp = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    let edited = api
        .patch("c", &pp, &Patch::Merge(json!({"data": {"color": "blue"}})))
        .await
        .unwrap();
    let edited = serde_json::to_value(edited).unwrap();
    assert_eq!(
        fields_of(&edited, "kubectl-edit"),
        &json!({"f:data": {"f:color": {}}})
    );
    // The creator keeps the map it created, not the value.
    assert_eq!(fields_of(&edited, "kube-client"), &json!({"f:data": {}}));

    // An apply with another value conflicts with the updater, named as kube-apiserver names it.
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"color": "green"}});
    let status = apply(&api, "deployer", &config).await.unwrap_err();
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.color"
    );
    // The same value is shared ownership, not a conflict.
    let mut same = config.clone();
    same["data"]["color"] = json!("blue");
    apply(&api, "deployer", &same).await.unwrap();

    // A PUT without managedFields keeps them (clients that do not know them cannot wipe them).
    let mut got = api.get("c").await.unwrap();
    got.metadata.managed_fields = None;
    got.data.as_mut().unwrap().insert("size".into(), "L".into());
    let replaced = api.replace("c", &PostParams::default(), &got).await.unwrap();
    let replaced = serde_json::to_value(replaced).unwrap();
    let managers: Vec<String> = entries(&replaced).into_iter().map(|e| e.0).collect();
    assert_eq!(managers, ["deployer", "kube-client", "kubectl-edit"]);
    assert_eq!(
        fields_of(&replaced, "kube-client"),
        &json!({"f:data": {".": {}, "f:size": {}}})
    );
}

#[tokio::test]
async fn list_items_are_owned_by_merge_key() {
    let (_s, client) = setup().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    apply(&api, "alice", &deployment(1, nginx())).await.unwrap();
    let mut sidecar = deployment(1, json!([{"name": "proxy", "image": "envoy:1"}]));
    sidecar["spec"].as_object_mut().unwrap().remove("replicas");
    let both = apply(&api, "bob", &sidecar).await.unwrap();
    let names: Vec<&str> = both["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "proxy"]);
    let bob_containers = &fields_of(&both, "bob")["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert_eq!(
        bob_containers,
        &json!({"k:{\"name\":\"proxy\"}": {".": {}, "f:image": {}, "f:name": {}}})
    );
    // alice touching bob's container conflicts on that item's field.
    let mut takeover = deployment(1, nginx());
    takeover["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "proxy", "image": "envoy:2"}));
    let status = apply(&api, "alice", &takeover).await.unwrap_err();
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"bob\": .spec.template.spec.containers[name=\"proxy\"].image"
    );
    // bob dropping his container removes it and only it.
    let mut none = sidecar.clone();
    none["spec"]["template"]["spec"]["containers"] = json!([]);
    let after = apply(&api, "bob", &none).await.unwrap();
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(after["spec"]["template"]["spec"]["containers"][0]["name"], "web");
}

#[tokio::test]
async fn custom_resources_own_items_by_their_list_map_keys() {
    let (_s, client) = setup().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "gateways.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "gateways", "singular": "gateway", "kind": "Gateway"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
                    "listeners": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port", "protocol"],
                        "items": {"type": "object", "required": ["port"], "properties": {
                            "port": {"type": "integer"},
                            "protocol": {"type": "string", "default": "TCP"},
                            "name": {"type": "string"}}}},
                    "hosts": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
                }}}}}}]}
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Gateway"));
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let gw = |listeners: Value, hosts: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Gateway", "metadata": {"name": "gw"},
               "spec": {"listeners": listeners, "hosts": hosts}})
    };
    let mut first = Err(Box::new(Status::failure(404, "NotFound", "not yet served")));
    for _ in 0..200 {
        first = apply(
            &api,
            "alice",
            &gw(json!([{"port": 80, "name": "http"}]), json!(["a.example"])),
        )
        .await;
        if first.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.expect("the custom resource is served and the apply succeeds");
    let both = apply(
        &api,
        "bob",
        &gw(json!([{"port": 443, "name": "https"}]), json!(["b.example"])),
    )
    .await
    .unwrap();
    assert_eq!(
        both["spec"]["listeners"],
        json!([{"port": 80, "name": "http", "protocol": "TCP"}, {"port": 443, "name": "https", "protocol": "TCP"}])
    );
    assert_eq!(both["spec"]["hosts"], json!(["a.example", "b.example"]));
    assert_eq!(
        fields_of(&both, "bob")["f:spec"],
        json!({
            "f:listeners": {"k:{\"port\":443,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}},
            "f:hosts": {"v:\"b.example\"": {}}
        })
    );
    let status = apply(
        &api,
        "bob",
        &gw(json!([{"port": 80, "name": "web"}]), json!(["b.example"])),
    )
    .await
    .unwrap_err();
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.listeners[port=80,protocol=\"TCP\"].name"
    );
}

#[tokio::test]
async fn apply_to_the_status_subresource_owns_status_only() {
    let (_s, client) = setup().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    apply(&api, "alice", &deployment(2, nginx())).await.unwrap();
    let status_config = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 9},
        "status": {"replicas": 2, "readyReplicas": 1}
    });
    let updated = api
        .patch_status(
            "web",
            &PatchParams::apply("controller"),
            &Patch::Apply(&status_config),
        )
        .await
        .unwrap();
    let updated = serde_json::to_value(updated).unwrap();
    assert_eq!(updated["status"]["readyReplicas"], 1);
    assert_eq!(
        updated["spec"]["replicas"], 2,
        "the status endpoint does not write spec"
    );
    let entry = entries(&updated)
        .into_iter()
        .find(|e| e.0 == "controller")
        .unwrap();
    assert_eq!(entry.1, "Apply");
    assert_eq!(entry.2, "status");
    assert_eq!(
        entry.3,
        json!({"f:status": {"f:readyReplicas": {}, "f:replicas": {}}})
    );
    // And an apply to the main resource ignores status.
    let mut main = deployment(2, nginx());
    main["status"] = json!({"replicas": 7});
    let after = apply(&api, "alice", &main).await.unwrap();
    assert_eq!(after["status"]["replicas"], 2);
    assert!(fields_of(&after, "alice").get("f:status").is_none());
}

#[tokio::test]
async fn bad_apply_requests_are_refused_as_kube_apiserver_refuses_them() {
    let (_s, client) = setup().await;
    let path = "/api/v1/namespaces/default/configmaps/c";
    let apply_type = "application/apply-patch+yaml";
    let good = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}"#;

    let (code, body) = raw(&client, "PATCH", path, apply_type, good).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );

    let with_manager = format!("{path}?fieldManager=m");
    let cases = [
        (
            r#"{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"c"}}"#,
            400,
            "invalid object type: /v2, Kind=ConfigMap",
        ),
        (
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","managedFields":[]}}"#,
            400,
            "metadata.managedFields must be nil",
        ),
        ("apiVersion: v1\nkind: [", 400, "error decoding YAML"),
        (
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}}"#,
            400,
            "does not match the name on the URL",
        ),
        (
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":"x"}"#,
            400,
            "cannot be handled",
        ),
    ];
    for (body, code, message) in cases {
        let (got, status) = raw(&client, "PATCH", &with_manager, apply_type, body).await;
        assert_eq!(got, code, "{body}: {status}");
        assert!(
            status["message"].as_str().unwrap().contains(message),
            "{body}: {status}"
        );
    }
    // Duplicate keys in an associative list are invalid.
    let dup = deployment(
        1,
        json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
    )
    .to_string();
    let (got, status) = raw(
        &client,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=m",
        apply_type,
        &dup,
    )
    .await;
    assert_eq!(got, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("duplicate entries for key [name=\"a\"]"),
        "{status}"
    );
    // `force` is for applies only.
    let (got, status) = raw(
        &client,
        "PATCH",
        &format!("{path}?force=true"),
        "application/merge-patch+json",
        "{}",
    )
    .await;
    assert_eq!(got, 422, "{status}");
    assert!(
        status["message"].as_str().unwrap().contains("force: Forbidden"),
        "{status}"
    );

    // YAML works, and unknown fields are reported (Warn) and not stored.
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"1\"\nbogus: true\n";
    let (got, obj) = raw(&client, "PATCH", &with_manager, apply_type, yaml).await;
    assert_eq!(got, 201, "{obj}");
    assert_eq!(obj["data"]["a"], "1");
    assert!(obj.get("bogus").is_none());
    assert!(fields_of(&obj, "m").get("f:bogus").is_none());
    let strict = format!("{with_manager}&fieldValidation=Strict");
    let (got, status) = raw(&client, "PATCH", &strict, apply_type, yaml).await;
    assert_eq!(got, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains(".bogus: field not declared in schema"),
        "{status}"
    );

    // A dry run creates nothing.
    let dry = "/api/v1/namespaces/default/configmaps/dry?fieldManager=m&dryRun=All";
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"}}"#;
    let (got, _) = raw(&client, "PATCH", dry, apply_type, body).await;
    assert_eq!(got, 201);
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    assert!(
        api.get("dry")
            .await
            .unwrap_err()
            .to_string()
            .contains("not found")
    );
}
