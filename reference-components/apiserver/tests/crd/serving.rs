//! Serving custom resources: discovery, CRUD, patches, watches, versions, pruning, defaults.

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::params::{DeleteParams, ListParams, PatchParams, PostParams, WatchParams};
use kube_core::{Patch, ResourceExt, WatchEvent};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;

#[tokio::test]
async fn a_new_crd_is_served_and_discovered_within_a_second() {
    let Env {
        server: _server,
        client,
    } = env().await;
    let created = create_crd(&client, &widgets_crd()).await;
    let started = Instant::now();
    let list = wait_served(&client, "example.com", "v1", "widgets").await;
    assert!(started.elapsed() <= ESTABLISH_WITHIN);

    // /apis/example.com/v1: the resource with its names and verbs, and its subresources.
    assert_eq!(list["groupVersion"], "example.com/v1");
    let resources = list["resources"].as_array().unwrap();
    let main = resources.iter().find(|r| r["name"] == "widgets").unwrap();
    assert_eq!(main["singularName"], "widget");
    assert_eq!(main["kind"], "Widget");
    assert_eq!(main["namespaced"], true);
    assert_eq!(main["shortNames"], json!(["wix"]));
    assert_eq!(main["categories"], json!(["all"]));
    let mut verbs: Vec<&str> = main["verbs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    verbs.sort();
    assert_eq!(
        verbs,
        [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ]
    );
    let status = resources.iter().find(|r| r["name"] == "widgets/status").unwrap();
    assert_eq!(status["kind"], "Widget");
    let scale = resources.iter().find(|r| r["name"] == "widgets/scale").unwrap();
    assert_eq!(
        (
            scale["group"].as_str(),
            scale["version"].as_str(),
            scale["kind"].as_str()
        ),
        (Some("autoscaling"), Some("v1"), Some("Scale"))
    );
    // v1beta1 has only the status subresource.
    let beta = get_json(&client, "/apis/example.com/v1beta1").await.unwrap();
    let names: Vec<&str> = beta["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["widgets", "widgets/status"]);

    // /apis and /apis/example.com: the group, v1 preferred.
    let groups = get_json(&client, "/apis").await.unwrap();
    let group = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "example.com")
        .unwrap();
    assert_eq!(group["preferredVersion"]["version"], "v1");
    let versions: Vec<&str> = group["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v1", "v1beta1"]);
    let one = get_json(&client, "/apis/example.com").await.unwrap();
    assert_eq!(one["kind"], "APIGroup");
    assert_eq!(one["preferredVersion"]["groupVersion"], "example.com/v1");

    // The CRD itself is a served resource, with its short name, and reports its names.
    let ext = get_json(&client, "/apis/apiextensions.k8s.io/v1").await.unwrap();
    let crds = ext["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "customresourcedefinitions")
        .unwrap();
    assert_eq!(crds["namespaced"], false);
    assert!(crds["shortNames"].as_array().unwrap().contains(&json!("crd")));
    assert_eq!(created.metadata.generation, Some(1));
    let crd = eventually(TIMEOUT, "the CRD's conditions", || async {
        let crd = get_json(
            &client,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
        )
        .await
        .ok()?;
        (condition(&crd, "Established").is_some()).then_some(crd)
    })
    .await;
    assert_eq!(
        condition(&crd, "NamesAccepted"),
        Some(("True".into(), "NoConflicts".into()))
    );
    assert_eq!(
        condition(&crd, "Established"),
        Some(("True".into(), "InitialNamesAccepted".into()))
    );
    assert_eq!(
        crd["status"]["acceptedNames"],
        json!({"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList",
               "shortNames": ["wix"], "categories": ["all"]})
    );
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    assert_eq!(crd["spec"]["conversion"]["strategy"], "None");
}

#[tokio::test]
async fn namespaced_custom_resources_crud_patch_and_watch() {
    let Env { server, client } = env().await;
    install(&client, &widgets_crd(), "v1").await;
    let api = widgets(&client, "v1", "default");
    let mut events = api.watch(&WatchParams::default(), "0").await.unwrap().boxed();

    let created = api
        .create(
            &PostParams::default(),
            &widget("w1", json!({"colour": "red", "replicas": 2})),
        )
        .await
        .unwrap();
    assert!(created.uid().is_some());
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.namespace().as_deref(), Some("default"));
    // Stored under /registry/{group}/{plural}/{namespace}/{name}.
    let stored = server
        .state()
        .storage
        .get("/registry/example.com/widgets/default/w1")
        .await
        .unwrap();
    let stored: Value = serde_json::from_slice(&stored.expect("stored").value).unwrap();
    assert_eq!(stored["spec"]["colour"], "red");

    let got = api.get("w1").await.unwrap();
    assert_eq!(got.data["spec"]["replicas"], 2);
    let list = get_json(&client, "/apis/example.com/v1/namespaces/default/widgets")
        .await
        .unwrap();
    assert_eq!(list["kind"], "WidgetList");
    assert_eq!(list["apiVersion"], "example.com/v1");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let all = get_json(&client, "/apis/example.com/v1/widgets").await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);

    // Update with the current resourceVersion; a stale one conflicts.
    let mut changed = got.clone();
    changed.data["spec"]["colour"] = json!("blue");
    let updated = api.replace("w1", &PostParams::default(), &changed).await.unwrap();
    assert_eq!(updated.data["spec"]["colour"], "blue");
    assert_eq!(updated.metadata.generation, Some(2));
    assert!(status_of(api.replace("w1", &PostParams::default(), &changed).await).code == 409);

    // Merge and JSON patches; strategic merge is for built-in kinds only (415).
    let merged = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data["spec"]["replicas"], 3);
    let ops: json_patch::Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/spec/colour", "value": "green"}])).unwrap();
    let patched = api
        .patch("w1", &PatchParams::default(), &Patch::<Value>::Json(ops))
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["colour"], "green");
    let status = status_of(
        api.patch(
            "w1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"replicas": 4}})),
        )
        .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (415, "UnsupportedMediaType")
    );

    // A namespace that does not exist.
    let err = status_of(
        widgets(&client, "v1", "nowhere")
            .create(&PostParams::default(), &widget("w", json!({"colour": "red"})))
            .await,
    );
    assert_eq!(err.code, 404);

    // Delete one, then the collection.
    api.create(&PostParams::default(), &widget("w2", json!({"colour": "red"})))
        .await
        .unwrap();
    api.create(&PostParams::default(), &widget("w3", json!({"colour": "red"})))
        .await
        .unwrap();
    api.delete("w1", &DeleteParams::default()).await.unwrap();
    assert!(status_of(api.get("w1").await).code == 404);
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    assert!(api.list(&ListParams::default()).await.unwrap().items.is_empty());

    // The watch saw it all, in order.
    let mut seen = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while seen.len() < 9 {
        let ev = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("watch events")
            .unwrap()
            .unwrap();
        let (kind, obj) = match ev {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            other => panic!("unexpected {other:?}"),
        };
        seen.push(format!("{kind} {}", obj.name_any()));
    }
    assert_eq!(
        seen,
        [
            "ADDED w1",
            "MODIFIED w1",
            "MODIFIED w1",
            "MODIFIED w1",
            "ADDED w2",
            "ADDED w3",
            "DELETED w1",
            "DELETED w2",
            "DELETED w3"
        ]
    );
}

#[tokio::test]
async fn cluster_scoped_custom_resources() {
    let Env { server, client } = env().await;
    let gizmos = crd(
        "tools.example.org",
        "gizmos",
        "Gizmo",
        "Cluster",
        json!([{"name": "v1", "storage": true}]),
    );
    install(&client, &gizmos, "v1").await;
    let list = get_json(&client, "/apis/tools.example.org/v1").await.unwrap();
    assert_eq!(list["resources"][0]["namespaced"], false);
    let api = api(&client, ("tools.example.org", "v1", "Gizmo"), "gizmos", None);
    let mut events = api.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    let mut g = widget("g1", json!({"colour": "red"}));
    g.types.as_mut().unwrap().api_version = "tools.example.org/v1".into();
    g.types.as_mut().unwrap().kind = "Gizmo".into();
    let created = api.create(&PostParams::default(), &g).await.unwrap();
    assert_eq!(created.namespace(), None);
    assert!(
        server
            .state()
            .storage
            .get("/registry/tools.example.org/gizmos/g1")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(api.get("g1").await.unwrap().data["spec"]["colour"], "red");
    // There is no namespaced path for a cluster-scoped resource.
    let err = status_of(get_json(&client, "/apis/tools.example.org/v1/namespaces/default/gizmos/g1").await);
    assert_eq!(err.code, 404);
    api.patch(
        "g1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    api.delete("g1", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ev = tokio::time::timeout(TIMEOUT, events.next())
            .await
            .expect("an event")
            .unwrap()
            .unwrap();
        seen.push(match ev {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(seen, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn versions_share_the_storage_version() {
    let Env { server, client } = env().await;
    install(&client, &widgets_crd(), "v1beta1").await;
    let beta = widgets(&client, "v1beta1", "default");
    let v1 = widgets(&client, "v1", "default");
    let mut beta_events = beta.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    let mut w = widget("w", json!({"colour": "red"}));
    w.types.as_mut().unwrap().api_version = "example.com/v1beta1".into();
    let created = beta.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.types.as_ref().unwrap().api_version, "example.com/v1beta1");
    // Stored at the storage version...
    let stored = server
        .state()
        .storage
        .get("/registry/example.com/widgets/default/w")
        .await
        .unwrap()
        .unwrap();
    let stored: Value = serde_json::from_slice(&stored.value).unwrap();
    assert_eq!(stored["apiVersion"], "example.com/v1");
    // ...and served at the version asked for.
    assert_eq!(
        v1.get("w").await.unwrap().types.unwrap().api_version,
        "example.com/v1"
    );
    assert_eq!(
        beta.get("w").await.unwrap().types.unwrap().api_version,
        "example.com/v1beta1"
    );
    let list = get_json(&client, "/apis/example.com/v1beta1/namespaces/default/widgets")
        .await
        .unwrap();
    assert_eq!(list["apiVersion"], "example.com/v1beta1");
    assert_eq!(list["items"][0]["apiVersion"], "example.com/v1beta1");
    // An update through v1 reaches v1beta1 watchers in their version.
    v1.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"colour": "blue"}})),
    )
    .await
    .unwrap();
    let mut versions = Vec::new();
    while versions.len() < 2 {
        let ev = tokio::time::timeout(TIMEOUT, beta_events.next())
            .await
            .expect("an event")
            .unwrap()
            .unwrap();
        if let WatchEvent::Added(o) | WatchEvent::Modified(o) = ev {
            versions.push(o.types.unwrap().api_version);
        }
    }
    assert_eq!(versions, ["example.com/v1beta1", "example.com/v1beta1"]);

    // Moving the storage version to v1beta1: new writes are stored there, objects written before
    // keep v1 in storage, and every object reads back in the version asked for.
    v1.create(&PostParams::default(), &widget("old", json!({"colour": "red"})))
        .await
        .unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut moved = crds.get("widgets.example.com").await.unwrap();
    moved.spec.versions[0].storage = false;
    moved.spec.versions[1].storage = true;
    crds.replace("widgets.example.com", &PostParams::default(), &moved)
        .await
        .unwrap();
    let stored_as = |name: &'static str| {
        let storage = server.state().storage.clone();
        async move {
            let kv = storage
                .get(&format!("/registry/example.com/widgets/default/{name}"))
                .await
                .unwrap()
                .unwrap();
            serde_json::from_slice::<Value>(&kv.value).unwrap()["apiVersion"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let mut writes = 0u32;
    eventually(TIMEOUT, "writes stored in v1beta1", || {
        writes += 1;
        let patch = Patch::Merge(json!({"metadata": {"labels": {"write": writes.to_string()}}}));
        let (v1, stored_as) = (&v1, &stored_as);
        async move {
            v1.patch("w", &PatchParams::default(), &patch).await.unwrap();
            (stored_as("w").await == "example.com/v1beta1").then_some(())
        }
    })
    .await;
    assert_eq!(stored_as("old").await, "example.com/v1");
    for (api, version) in [(&v1, "example.com/v1"), (&beta, "example.com/v1beta1")] {
        for name in ["w", "old"] {
            assert_eq!(
                api.get(name).await.unwrap().types.unwrap().api_version,
                version,
                "{name}"
            );
        }
        for item in api.list(&ListParams::default()).await.unwrap().items {
            assert_eq!(item.types.unwrap().api_version, version);
        }
    }
    let moved = get_json(
        &client,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
    )
    .await
    .unwrap();
    assert_eq!(moved["status"]["storedVersions"], json!(["v1", "v1beta1"]));
    // A version that is not served is not there.
    let things = crd(
        "example.net",
        "things",
        "Thing",
        "Namespaced",
        json!([{"name": "v1", "storage": true}, {"name": "v2", "served": false}]),
    );
    install(&client, &things, "v1").await;
    let err = status_of(get_json(&client, "/apis/example.net/v2/namespaces/default/things").await);
    assert_eq!(err.code, 404);
}

#[tokio::test]
async fn unknown_fields_are_pruned_and_defaults_applied() {
    let Env {
        server: _server,
        client,
    } = env().await;
    install(&client, &widgets_crd(), "v1").await;
    let api = widgets(&client, "v1", "default");
    let w = widget(
        "w",
        json!({"colour": "red", "bogus": 1, "extra": {"kept": {"deep": true}}, "template": {"apiVersion": "v1", "kind": "Pod", "anything": 1}}),
    );
    let reply = raw(
        &client,
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets",
        Some("application/json"),
        serde_json::to_vec(&w).unwrap(),
    )
    .await;
    let Reply::Success {
        code: 201,
        warnings,
        body,
    } = reply
    else {
        panic!("create failed: {reply:?}");
    };
    assert_eq!(warnings, [r#"299 - "unknown field \"spec.bogus\"""#]);
    assert!(body["spec"].get("bogus").is_none(), "pruned: {body}");
    assert_eq!(
        body["spec"]["extra"],
        json!({"kept": {"deep": true}}),
        "preserved"
    );
    assert_eq!(body["spec"]["template"]["anything"], 1, "preserved");
    assert_eq!(body["spec"]["replicas"], 1, "defaulted");
    assert_eq!(body["spec"]["mode"], "auto", "defaulted");
    // Strict field validation refuses unknown fields.
    let strict = raw(
        &client,
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets?fieldValidation=Strict",
        Some("application/json"),
        serde_json::to_vec(&widget("s", json!({"colour": "red", "bogus": 1}))).unwrap(),
    )
    .await;
    match strict {
        Reply::Failure(s) => assert_eq!(
            (s.code, s.message.as_str()),
            (400, r#"strict decoding error: unknown field "spec.bogus""#)
        ),
        other => panic!("expected 400, got {other:?}"),
    }
    // Defaults apply again when an update drops the field; metadata changes keep the generation.
    let mut got = api.get("w").await.unwrap();
    got.data["spec"].as_object_mut().unwrap().remove("mode");
    got.labels_mut().insert("a".into(), "b".into());
    let updated = api.replace("w", &PostParams::default(), &got).await.unwrap();
    assert_eq!(updated.data["spec"]["mode"], "auto");
    assert_eq!(
        updated.metadata.generation,
        Some(1),
        "metadata and defaults are no spec change"
    );
    let bumped = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"mode": "manual"}})),
        )
        .await
        .unwrap();
    assert_eq!(bumped.metadata.generation, Some(2));
    // Nothing changes, nothing is written.
    let same = api.replace("w", &PostParams::default(), &bumped).await.unwrap();
    assert_eq!(same.resource_version(), bumped.resource_version());
}

#[tokio::test]
async fn deprecated_versions_warn_on_every_request() {
    let Env {
        server: _server,
        client,
    } = env().await;
    let gadgets = crd(
        "example.org",
        "gadgets",
        "Gadget",
        "Namespaced",
        json!([
            {"name": "v1", "storage": true},
            {"name": "v1beta1", "deprecated": true},
            {"name": "v1alpha1", "deprecated": true, "deprecationWarning": "v1alpha1 gadgets go away in 2027; use v1"},
        ]),
    );
    install(&client, &gadgets, "v1").await;
    wait_served(&client, "example.org", "v1alpha1", "gadgets").await;
    let warnings = |version: &'static str, method: &'static str, body: Vec<u8>| {
        let client = client.clone();
        async move {
            let path = format!("/apis/example.org/{version}/namespaces/default/gadgets");
            match raw(&client, method, &path, Some("application/json"), body).await {
                Reply::Success { warnings, .. } => warnings,
                other => panic!("{method} {path}: {other:?}"),
            }
        }
    };
    assert_eq!(warnings("v1", "GET", vec![]).await, Vec::<String>::new());
    assert_eq!(
        warnings("v1beta1", "GET", vec![]).await,
        [r#"299 - "example.org/v1beta1 Gadget is deprecated""#]
    );
    assert_eq!(
        warnings("v1alpha1", "GET", vec![]).await,
        [r#"299 - "v1alpha1 gadgets go away in 2027; use v1""#]
    );
    // The deprecation comes first, then what the handler warns about.
    let gadget = json!({"apiVersion": "example.org/v1beta1", "kind": "Gadget",
                        "metadata": {"name": "g"}, "spec": {"colour": "red", "bogus": 1}});
    assert_eq!(
        warnings("v1beta1", "POST", serde_json::to_vec(&gadget).unwrap()).await,
        [
            r#"299 - "example.org/v1beta1 Gadget is deprecated""#,
            r#"299 - "unknown field \"spec.bogus\"""#,
        ]
    );
}
