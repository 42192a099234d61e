//! The life of a CRD: name conflicts, deletion with its objects, restarts, and namespaces being
//! deleted.

use either::Either;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube_core::params::{DeleteParams, PatchParams, PostParams, WatchParams};
use kube_core::{Patch, ResourceExt, WatchEvent};
use reference_apiserver::storage::ListOptions;
use serde_json::json;

use super::support::{Backend, ServerProcess};
use super::*;

async fn get_crd(client: &Client, name: &str) -> Result<Value, kube_client::Error> {
    get_json(
        client,
        &format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"),
    )
    .await
}

#[tokio::test]
async fn conflicting_names_are_not_accepted_until_they_are_free() {
    let Env {
        server: _server,
        client,
    } = env().await;
    install(&client, &widgets_crd(), "v1").await;
    // Another CRD of the group asking for the kind `Widget`.
    let mut gadgets = crd(
        "example.com",
        "gadgets",
        "Widget",
        "Namespaced",
        json!([{"name": "v1", "storage": true}]),
    );
    gadgets["spec"]["names"]["listKind"] = json!("GadgetList");
    create_crd(&client, &gadgets).await;
    let crd = eventually(TIMEOUT, "the naming conditions", || async {
        let crd = get_crd(&client, "gadgets.example.com").await.ok()?;
        condition(&crd, "NamesAccepted").map(|_| crd)
    })
    .await;
    assert_eq!(
        condition(&crd, "NamesAccepted"),
        Some(("False".into(), "KindConflict".into()))
    );
    let message = crd["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "NamesAccepted")
        .unwrap()["message"]
        .clone();
    assert_eq!(message, "\"Widget\" is already in use");
    assert_eq!(
        condition(&crd, "Established"),
        Some(("False".into(), "NotAccepted".into()))
    );
    assert_eq!(crd["status"]["acceptedNames"]["plural"], "gadgets");
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "");
    // Not served, not discovered.
    assert_eq!(
        status_of(get_json(&client, "/apis/example.com/v1/namespaces/default/gadgets").await).code,
        404
    );
    let list = get_json(&client, "/apis/example.com/v1").await.unwrap();
    assert!(
        !list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "gadgets")
    );

    // Once the widgets are gone, the name is free.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    eventually(TIMEOUT, "gadgets to be served", || async {
        get_json(&client, "/apis/example.com/v1/namespaces/default/gadgets")
            .await
            .ok()
    })
    .await;
    let crd = get_crd(&client, "gadgets.example.com").await.unwrap();
    assert_eq!(
        condition(&crd, "NamesAccepted"),
        Some(("True".into(), "NoConflicts".into()))
    );
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget");
}

#[tokio::test]
async fn deleting_a_crd_deletes_its_objects_then_stops_serving() {
    let Env { server, client } = env().await;
    install(&client, &widgets_crd(), "v1").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap(),
        )
        .await
        .unwrap();
    widgets(&client, "v1", "default")
        .create(&PostParams::default(), &widget("w1", json!({"colour": "red"})))
        .await
        .unwrap();
    widgets(&client, "v1", "team")
        .create(&PostParams::default(), &widget("w2", json!({"colour": "red"})))
        .await
        .unwrap();
    let mut held = widget("w3", json!({"colour": "red"}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    let api = widgets(&client, "v1", "default");
    api.create(&PostParams::default(), &held).await.unwrap();
    let all = super::api(&client, ("example.com", "v1", "Widget"), "widgets", None);
    let mut events = all.watch(&WatchParams::default(), "0").await.unwrap().boxed();

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    match crds
        .delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap()
    {
        Either::Left(crd) => {
            assert!(crd.metadata.deletion_timestamp.is_some());
            assert!(
                crd.finalizers()
                    .contains(&"customresourcecleanup.apiextensions.k8s.io".to_string())
            );
        }
        Either::Right(status) => panic!("the CRD went at once: {status:?}"),
    }
    // Objects without finalizers go; the held one is marked and keeps the CRD.
    let held_now = eventually(TIMEOUT, "w1 and w2 deleted, w3 marked", || async {
        let left = server
            .state()
            .storage
            .list("/registry/example.com/widgets/", &ListOptions::default())
            .await
            .unwrap();
        let w3 = api.get("w3").await.ok()?;
        (left.items.len() == 1 && w3.metadata.deletion_timestamp.is_some()).then_some(w3)
    })
    .await;
    assert_eq!(held_now.finalizers(), ["example.com/hold"]);
    let crd = get_crd(&client, "widgets.example.com").await.unwrap();
    assert_eq!(condition(&crd, "Terminating").map(|c| c.0), Some("True".into()));
    // No new objects while terminating.
    let err = status_of(
        api.create(&PostParams::default(), &widget("w4", json!({"colour": "red"})))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (405, "MethodNotAllowed"));
    assert_eq!(
        err.message,
        "create not allowed while custom resource definition is terminating"
    );

    // Releasing the last object lets the CRD go, and its endpoints with it.
    api.patch(
        "w3",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually(TIMEOUT, "the CRD to be gone", || async {
        get_crd(&client, "widgets.example.com")
            .await
            .is_err()
            .then_some(())
    })
    .await;
    eventually(TIMEOUT, "the endpoints to be gone", || async {
        get_json(&client, "/apis/example.com/v1/namespaces/default/widgets")
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert_eq!(
        status_of(get_json(&client, "/apis/example.com/v1/widgets").await).code,
        404
    );
    assert_eq!(status_of(get_json(&client, "/apis/example.com").await).code, 404);
    let groups = get_json(&client, "/apis").await.unwrap();
    assert!(
        !groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "example.com")
    );
    let left = server
        .state()
        .storage
        .list("/registry/example.com/", &ListOptions::default())
        .await
        .unwrap();
    assert!(left.items.is_empty());

    // The watch saw every object go, then ended.
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(TIMEOUT, events.next())
            .await
            .expect("the watch ends")
        {
            None => break,
            Some(Ok(WatchEvent::Added(o))) => seen.push(format!("ADDED {}", o.name_any())),
            Some(Ok(WatchEvent::Modified(o))) => seen.push(format!("MODIFIED {}", o.name_any())),
            Some(Ok(WatchEvent::Deleted(o))) => seen.push(format!("DELETED {}", o.name_any())),
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
    for expected in ["DELETED w1", "DELETED w2", "MODIFIED w3", "DELETED w3"] {
        assert!(
            seen.contains(&expected.to_string()),
            "{expected} missing from {seen:?}"
        );
    }

    // The same CRD again: served, and empty.
    install(&client, &widgets_crd(), "v1").await;
    assert!(
        get_json(&client, "/apis/example.com/v1/widgets").await.unwrap()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_restart_on_embedded_storage_serves_the_crds_at_once() {
    let data = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(Backend::Embedded, data.path()).await;
    let client = server.client();
    install(&client, &widgets_crd(), "v1").await;
    widgets(&client, "v1", "default")
        .create(
            &PostParams::default(),
            &widget("survivor", json!({"colour": "blue"})),
        )
        .await
        .unwrap();
    server.kill();

    let server = ServerProcess::start(Backend::Embedded, data.path()).await;
    let client = server.client();
    // The first requests after the restart: no waiting.
    let w = widgets(&client, "v1", "default").get("survivor").await.unwrap();
    assert_eq!(w.data["spec"]["colour"], "blue");
    let list = get_json(&client, "/apis/example.com/v1").await.unwrap();
    assert!(
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "widgets")
    );
    // Still validated and written.
    let api = widgets(&client, "v1beta1", "default");
    let mut w2 = widget("second", json!({"colour": "red"}));
    w2.types.as_mut().unwrap().api_version = "example.com/v1beta1".into();
    api.create(&PostParams::default(), &w2).await.unwrap();
    let v1 = widgets(&client, "v1", "default");
    assert_eq!(
        status_of(
            v1.create(&PostParams::default(), &widget("bad", json!({"colour": 1})))
                .await
        )
        .code,
        422
    );
}

#[tokio::test]
async fn a_terminating_namespace_refuses_new_custom_resources() {
    let Env {
        server: _server,
        client,
    } = env().await;
    install(&client, &widgets_crd(), "v1").await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap(),
        )
        .await
        .unwrap();
    let api = widgets(&client, "v1", "doomed");
    api.create(
        &PostParams::default(),
        &widget("before", json!({"colour": "red"})),
    )
    .await
    .unwrap();
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let status = status_of(
        api.create(&PostParams::default(), &widget("after", json!({"colour": "red"})))
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        "widgets.example.com \"after\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
    );
    let cause = &status.details.unwrap().causes[0];
    assert_eq!(
        (cause.reason.as_str(), cause.field.as_str()),
        ("NamespaceTerminating", "metadata.namespace")
    );
    // What is there can still be read and changed.
    api.patch(
        "before",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"colour": "blue"}})),
    )
    .await
    .unwrap();
}
