//! The `status` and `scale` subresources of custom resources.

use k8s_openapi::api::autoscaling::v1::Scale;
use kube_core::params::{PatchParams, PostParams};
use kube_core::{Patch, ResourceExt};
use serde_json::json;

use super::*;

#[tokio::test]
async fn status_subresource_splits_spec_and_status() {
    let Env {
        server: _server,
        client,
    } = env().await;
    install(&client, &widgets_crd(), "v1").await;
    let api = widgets(&client, "v1", "default");
    let mut w = widget("w", json!({"colour": "red"}));
    w.data["status"] = json!({"ready": true});
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert!(
        created.data.get("status").is_none(),
        "a new object has no status: {:?}",
        created.data
    );

    // The main resource ignores status changes.
    let mut changed = created.clone();
    changed.data["status"] = json!({"ready": true});
    changed.data["spec"]["colour"] = json!("blue");
    let updated = api.replace("w", &PostParams::default(), &changed).await.unwrap();
    assert!(updated.data.get("status").is_none());
    assert_eq!(updated.data["spec"]["colour"], "blue");
    assert_eq!(updated.metadata.generation, Some(2));

    // `/status` changes only the status, and not the generation.
    let mut with_status = updated.clone();
    with_status.data["status"] = json!({"ready": true, "replicas": 1});
    with_status.data["spec"]["colour"] = json!("green");
    let after = api
        .replace_status("w", &PostParams::default(), &with_status)
        .await
        .unwrap();
    assert_eq!(after.data["status"], json!({"ready": true, "replicas": 1}));
    assert_eq!(after.data["spec"]["colour"], "blue");
    assert_eq!(after.metadata.generation, Some(2));
    let patched = api
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": false}, "spec": {"colour": "green"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["ready"], false);
    assert_eq!(patched.data["spec"]["colour"], "blue");
    assert_eq!(api.get_status("w").await.unwrap().data["status"]["replicas"], 1);

    // The status is validated too.
    let err = status_of(
        api.patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": "many"}})),
        )
        .await,
    );
    assert_eq!(err.code, 422);
    assert_eq!(err.details.unwrap().causes[0].field, "status.replicas");
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_the_replica_paths() {
    let Env {
        server: _server,
        client,
    } = env().await;
    install(&client, &widgets_crd(), "v1").await;
    let api = widgets(&client, "v1", "default");
    api.create(
        &PostParams::default(),
        &widget("w", json!({"colour": "red", "replicas": 2})),
    )
    .await
    .unwrap();
    api.patch_status(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"replicas": 1, "selector": "app=w"}})),
    )
    .await
    .unwrap();

    let scale = api.get_scale("w").await.unwrap();
    assert_eq!(scale.metadata.name.as_deref(), Some("w"));
    assert_eq!(scale.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(2));
    let status = scale.status.as_ref().unwrap();
    assert_eq!((status.replicas, status.selector.as_deref()), (1, Some("app=w")));
    let raw_scale = get_json(&client, "/apis/example.com/v1/namespaces/default/widgets/w/scale")
        .await
        .unwrap();
    assert_eq!(
        (raw_scale["apiVersion"].as_str(), raw_scale["kind"].as_str()),
        (Some("autoscaling/v1"), Some("Scale"))
    );

    let mut five = scale.clone();
    five.spec.as_mut().unwrap().replicas = Some(5);
    let written: Scale = api
        .replace_scale("w", &PostParams::default(), &five)
        .await
        .unwrap();
    assert_eq!(written.spec.unwrap().replicas, Some(5));
    let w = api.get("w").await.unwrap();
    assert_eq!(w.data["spec"]["replicas"], 5);
    assert_eq!(w.metadata.generation, Some(2));
    api.patch_scale(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 7}})),
    )
    .await
    .unwrap();
    assert_eq!(api.get("w").await.unwrap().data["spec"]["replicas"], 7);

    // The schema still holds: at most 10.
    let mut eleven = api.get_scale("w").await.unwrap();
    eleven.spec.as_mut().unwrap().replicas = Some(11);
    let err = status_of(api.replace_scale("w", &PostParams::default(), &eleven).await);
    assert_eq!(err.code, 422);
    assert_eq!(err.details.unwrap().causes[0].field, "spec.replicas");
    // v1beta1 has no scale subresource.
    let beta = widgets(&client, "v1beta1", "default");
    assert_eq!(status_of(beta.get_scale("w").await).code, 404);
    assert_eq!(
        api.get("w").await.unwrap().resource_version(),
        api.get_status("w").await.unwrap().resource_version()
    );
}

#[tokio::test]
async fn without_a_status_subresource_status_is_part_of_the_object() {
    let Env {
        server: _server,
        client,
    } = env().await;
    let gadgets = crd(
        "example.com",
        "gadgets",
        "Gadget",
        "Namespaced",
        json!([{"name": "v1", "storage": true}]),
    );
    install(&client, &gadgets, "v1").await;
    let api = api(
        &client,
        ("example.com", "v1", "Gadget"),
        "gadgets",
        Some("default"),
    );
    let mut g = widget("g", json!({"colour": "red"}));
    g.types.as_mut().unwrap().kind = "Gadget".into();
    g.data["status"] = json!({"ready": true});
    let created = api.create(&PostParams::default(), &g).await.unwrap();
    assert_eq!(created.data["status"], json!({"ready": true}));
    assert_eq!(created.metadata.generation, Some(1));
    // A status change is a change of the object: the generation moves.
    let changed = api
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": false}})),
        )
        .await
        .unwrap();
    assert_eq!(changed.data["status"]["ready"], false);
    assert_eq!(changed.metadata.generation, Some(2));
    assert_eq!(status_of(api.get_status("g").await).code, 404);
}
