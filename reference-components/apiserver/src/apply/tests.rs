//! Unit tests of the apply walks and ownership rules.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde_json::{Value, json};

use super::managed::Error;
use super::typed::{compare, merge, prune, to_field_set};
use super::*;

const T0: &str = "2024-05-01T10:00:00Z";
const T1: &str = "2024-05-01T10:00:01Z";

fn writer(manager: &str) -> Writer {
    Writer {
        manager: manager.into(),
        api_version: "apps/v1".into(),
        subresource: String::new(),
    }
}

fn deploy_ty() -> Ty<'static> {
    Ty::builtin("apps/v1", "Deployment")
}

fn deployment(replicas: i64, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}
        }
    })
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[test]
fn field_set_of_an_applied_deployment_is_what_kube_apiserver_records() {
    let config = deployment(
        3,
        json!([{"name": "nginx", "image": "nginx:1", "ports": [{"containerPort": 80}], "resources": {}}]),
    );
    let set = to_field_set(&config, deploy_ty(), true).unwrap();
    assert_eq!(
        set.to_fields_v1(),
        json!({
            "f:apiVersion": {}, "f:kind": {},
            "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}, "f:namespace": {}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:name": {}, "f:resources": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}
                }
            }
        })
    );
}

#[test]
fn invalid_configurations_are_refused_with_the_field_path() {
    let missing_key = deployment(1, json!([{"image": "x"}]));
    let err = to_field_set(&missing_key, deploy_ty(), true).unwrap_err();
    assert_eq!(
        err,
        ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"
    );
    let duplicate = deployment(1, json!([{"name": "a"}, {"name": "a"}]));
    let err = to_field_set(&duplicate, deploy_ty(), true).unwrap_err();
    assert_eq!(
        err,
        ".spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
    );
    assert!(
        to_field_set(&duplicate, deploy_ty(), false).is_ok(),
        "live objects may have them"
    );
}

#[test]
fn merge_keeps_live_order_and_places_new_items() {
    let ty = deploy_ty();
    let c = |names: &[&str]| Value::Array(names.iter().map(|n| json!({"name": n, "image": n})).collect());
    let merged = merge(
        &deployment(1, c(&["a", "b", "c"])),
        &deployment(1, c(&["b", "d"])),
        ty,
    )
    .unwrap();
    assert_eq!(
        names(&merged["spec"]["template"]["spec"]["containers"]),
        ["a", "b", "c", "d"]
    );
    let merged = merge(&deployment(1, c(&["a", "b"])), &deployment(1, c(&["c", "a"])), ty).unwrap();
    assert_eq!(
        names(&merged["spec"]["template"]["spec"]["containers"]),
        ["c", "a", "b"]
    );

    // Items merge field by field; atomic lists and objects are replaced.
    let live = deployment(
        1,
        json!([{"name": "a", "image": "a:1", "args": ["x", "y"], "env": [{"name": "E", "value": "1"}]}]),
    );
    let mut config = deployment(
        2,
        json!([{"name": "a", "args": ["z"], "env": [{"name": "F", "value": "2"}]}]),
    );
    config["spec"]["selector"] = json!({"matchExpressions": []});
    let merged = merge(&live, &config, ty).unwrap();
    assert_eq!(
        merged["spec"]["template"]["spec"]["containers"],
        json!([{"name": "a", "image": "a:1", "args": ["z"], "env": [{"name": "E", "value": "1"}, {"name": "F", "value": "2"}]}])
    );
    assert_eq!(merged["spec"]["selector"], json!({"matchExpressions": []}));
    assert_eq!(merged["spec"]["replicas"], 2);
}

#[test]
fn compare_reports_added_modified_and_removed() {
    let ty = deploy_ty();
    let old = deployment(
        1,
        json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]),
    );
    let new = deployment(
        2,
        json!([{"name": "a", "image": "a:2"}, {"name": "c", "image": "c:1"}]),
    );
    let cmp = compare(&old, &new, ty).unwrap();
    let c = |name: &str| format!("k:{{\"name\":\"{name}\"}}");
    let containers = |inner: Value| json!({"f:spec": {"f:template": {"f:spec": {"f:containers": inner}}}});
    assert_eq!(
        cmp.modified.to_fields_v1(),
        json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {c("a"): {"f:image": {}}}}}}})
    );
    assert_eq!(
        cmp.added.to_fields_v1(),
        containers(json!({c("c"): {".": {}, "f:image": {}, "f:name": {}}}))
    );
    assert_eq!(
        cmp.removed.to_fields_v1(),
        containers(json!({c("b"): {".": {}, "f:image": {}, "f:name": {}}}))
    );
    assert!(compare(&old, &old, ty).unwrap().is_same());
    // 80 and 80.0 are the same number.
    assert!(
        compare(
            &json!({"spec": {"replicas": 80}}),
            &json!({"spec": {"replicas": 80.0}}),
            ty
        )
        .unwrap()
        .is_same()
    );
}

#[test]
fn prune_removes_what_only_the_applier_owned() {
    let ty = deploy_ty();
    let mut obj = json!({"spec": {"replicas": 1, "paused": true, "minReadySeconds": 5}});
    let mut last = FieldSet::new();
    let f = |n: &str| PathElement::Field(n.into());
    last.insert(&[f("spec"), f("replicas")]);
    last.insert(&[f("spec"), f("paused")]);
    let mut keep = FieldSet::new();
    keep.insert(&[f("spec"), f("paused")]);
    prune(
        &mut obj,
        &typed::ensure_named_fields(&last, ty),
        &typed::ensure_named_fields(&keep, ty),
        ty,
    );
    assert_eq!(obj, json!({"spec": {"paused": true, "minReadySeconds": 5}}));
}

#[test]
fn two_appliers_share_then_conflict_and_force_moves_ownership() {
    let ty = deploy_ty();
    let containers = json!([{"name": "web", "image": "nginx:1"}]);
    let mut managed = ManagedFields::default();
    let live = managed
        .apply(
            &json!({}),
            &deployment(2, containers.clone()),
            ty,
            &writer("alice"),
            false,
            T0,
        )
        .unwrap();
    // Same values: bob co-owns, no conflict, nothing changes, bob's entry has no time.
    let same = managed
        .apply(
            &live,
            &deployment(2, containers.clone()),
            ty,
            &writer("bob"),
            false,
            T1,
        )
        .unwrap();
    assert_eq!(same, live);
    let bob = managed.entries.iter().find(|e| e.manager == "bob").unwrap();
    assert_eq!(bob.time, None);
    // A different value: conflicts with alice only (bob's own co-ownership is not a conflict).
    let err = managed
        .clone()
        .apply(
            &live,
            &deployment(5, containers.clone()),
            ty,
            &writer("bob"),
            false,
            T1,
        )
        .unwrap_err();
    let Error::Conflicts(conflicts) = err else {
        panic!("{err:?}")
    };
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].manager, "\"alice\"");
    assert_eq!(path::display(&conflicts[0].path), ".spec.replicas");
    let status = conflict_status(&conflicts);
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas"
    );
    // Forced: bob owns replicas alone.
    let forced = managed
        .apply(&live, &deployment(5, containers), ty, &writer("bob"), true, T1)
        .unwrap();
    assert_eq!(forced["spec"]["replicas"], 5);
    let owners: Vec<(&str, bool)> = managed
        .entries
        .iter()
        .map(|e| {
            (
                e.manager.as_str(),
                e.fields.has(&[
                    PathElement::Field("spec".into()),
                    PathElement::Field("replicas".into()),
                ]),
            )
        })
        .collect();
    assert_eq!(owners, [("alice", false), ("bob", true)]);
}

#[test]
fn dropping_a_field_removes_it_unless_someone_else_owns_it() {
    let ty = deploy_ty();
    let two = json!([{"name": "web", "image": "nginx:1"}, {"name": "log", "image": "log:1"}]);
    let mut managed = ManagedFields::default();
    let live = managed
        .apply(
            &json!({}),
            &deployment(2, two.clone()),
            ty,
            &writer("alice"),
            false,
            T0,
        )
        .unwrap();
    let mut co = deployment(2, json!([{"name": "log", "image": "log:1"}]));
    co["spec"].as_object_mut().unwrap().remove("replicas");
    let live = managed.apply(&live, &co, ty, &writer("bob"), false, T0).unwrap();
    // alice stops applying replicas and the log container: replicas goes, the log container
    // stays (bob applies it too).
    let mut fewer = deployment(2, json!([{"name": "web", "image": "nginx:1"}]));
    fewer["spec"].as_object_mut().unwrap().remove("replicas");
    let live = managed
        .apply(&live, &fewer, ty, &writer("alice"), false, T1)
        .unwrap();
    assert!(live["spec"].get("replicas").is_none());
    assert_eq!(
        names(&live["spec"]["template"]["spec"]["containers"]),
        ["web", "log"]
    );
    // Now bob stops applying it too: it goes.
    let mut none = co.clone();
    none["spec"]["template"]["spec"]["containers"] = json!([]);
    let live = managed
        .apply(&live, &none, ty, &writer("bob"), false, T1)
        .unwrap();
    assert_eq!(names(&live["spec"]["template"]["spec"]["containers"]), ["web"]);
}

#[test]
fn updates_own_what_they_change_and_applies_then_conflict_with_them() {
    let ty = Ty::builtin("v1", "ConfigMap");
    let w = |m: &str| Writer {
        api_version: "v1".into(),
        ..writer(m)
    };
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": data});
    let mut managed = ManagedFields::default();
    managed
        .update(&json!({}), &cm(json!({"k": "1"})), ty, &w("kubectl-create"), T0)
        .unwrap();
    assert_eq!(
        managed.encode(),
        json!([{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": T0,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}}}])
    );
    let live = managed
        .apply(
            &cm(json!({"k": "1"})),
            &cm(json!({"k": "1", "x": "y"})),
            ty,
            &w("ops"),
            false,
            T1,
        )
        .unwrap();
    managed
        .update(
            &live,
            &cm(json!({"k": "2", "x": "y"})),
            ty,
            &w("kubectl-edit"),
            T1,
        )
        .unwrap();
    // The edit took `data.k` from kubectl-create; applying another value conflicts with it.
    let err = managed
        .clone()
        .apply(
            &cm(json!({"k": "2", "x": "y"})),
            &cm(json!({"k": "3"})),
            ty,
            &w("ops"),
            false,
            T1,
        )
        .unwrap_err();
    let Error::Conflicts(conflicts) = err else {
        panic!()
    };
    assert_eq!(conflicts[0].manager, "\"kubectl-edit\" using v1");
    assert_eq!(
        conflict_status(&conflicts).message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.k"
    );
    // Entries: Apply before Update, then by time and manager.
    let order: Vec<String> = managed
        .encode()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(order, ["ops", "kubectl-create", "kubectl-edit"]);
    // Round trip through JSON.
    assert_eq!(
        ManagedFields::decode(Some(&managed.encode())).unwrap().encode(),
        managed.encode()
    );
    assert!(
        ManagedFields::decode(Some(
            &json!([{"manager": "x", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}])
        ))
        .is_err()
    );
    assert!(ManagedFields::is_reset(Some(&json!([{}]))));
}

#[test]
fn too_many_updaters_merge_into_ancient_changes() {
    let ty = Ty::builtin("v1", "ConfigMap");
    let mut managed = ManagedFields::default();
    let mut live = json!({"data": {}});
    for i in 0..12 {
        let mut next = live.clone();
        next["data"][format!("k{i}")] = json!("v");
        let time = format!("2024-05-01T10:00:{i:02}Z");
        managed
            .update(
                &live,
                &next,
                ty,
                &Writer {
                    api_version: "v1".into(),
                    ..writer(&format!("m{i:02}"))
                },
                &time,
            )
            .unwrap();
        live = next;
    }
    let managers: Vec<&str> = managed.entries.iter().map(|e| e.manager.as_str()).collect();
    assert_eq!(managers.len(), 10);
    let ancient = managed
        .entries
        .iter()
        .find(|e| e.manager == "ancient-changes")
        .unwrap();
    assert_eq!(
        ancient.fields.paths().len(),
        3,
        "m00, m01, m02 merged: {managers:?}"
    );
}

#[test]
fn custom_resources_use_their_list_map_keys() {
    let schema: JSONSchemaProps = serde_json::from_value(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
        }}}
    }))
    .unwrap();
    let ty = Ty::custom(Some(&schema));
    let w = |m: &str| Writer {
        api_version: "example.com/v1".into(),
        ..writer(m)
    };
    let obj = |ports: Value, tags: Value| json!({"apiVersion": "example.com/v1", "kind": "W", "metadata": {"name": "w"}, "spec": {"ports": ports, "tags": tags}});
    let mut managed = ManagedFields::default();
    let live = managed
        .apply(
            &json!({}),
            &obj(json!([{"name": "http", "port": 80}]), json!(["a"])),
            ty,
            &w("alice"),
            false,
            T0,
        )
        .unwrap();
    let live = managed
        .apply(
            &live,
            &obj(json!([{"name": "https", "port": 443}]), json!(["b"])),
            ty,
            &w("bob"),
            false,
            T0,
        )
        .unwrap();
    assert_eq!(
        live["spec"]["ports"],
        json!([{"name": "http", "port": 80}, {"name": "https", "port": 443}])
    );
    assert_eq!(live["spec"]["tags"], json!(["a", "b"]));
    let bob = &managed.encode()[1];
    assert_eq!(
        bob["fieldsV1"]["f:spec"],
        json!({"f:ports": {"k:{\"name\":\"https\"}": {".": {}, "f:name": {}, "f:port": {}}}, "f:tags": {"v:\"b\"": {}}})
    );
    // bob changing alice's item conflicts on that item's field only.
    let err = managed
        .clone()
        .apply(
            &live,
            &obj(json!([{"name": "http", "port": 8080}]), json!(["b"])),
            ty,
            &w("bob"),
            false,
            T1,
        )
        .unwrap_err();
    let Error::Conflicts(conflicts) = err else {
        panic!()
    };
    assert_eq!(
        path::display(&conflicts[0].path),
        ".spec.ports[name=\"http\"].port"
    );
}
