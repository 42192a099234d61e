//! `Api<DynamicObject>` against the reference apiserver: objects addressed by an `ApiResource`
//! instead of a Rust type, in the core group, a named group and at cluster scope.
//!
//! Built-in resources stand in for custom resources here; tests with CRDs wait for the
//! reference apiserver to serve them.

mod support;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube_client::Api;
use kube_core::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
    ResourceExt,
};
use serde_json::json;
use support::Server;

fn pp() -> PostParams {
    PostParams::default()
}

#[tokio::test]
async fn dynamic_objects_with_an_api_resource() {
    let server = Server::start().await;
    let client = server.client();

    let ar = ApiResource::erase::<ConfigMap>(&());
    let dynamic: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    assert_eq!(dynamic.resource_url(), "/api/v1/namespaces/default/configmaps");
    let obj = DynamicObject::new("dyn", &ar).data(json!({"data": {"k": "v"}}));
    let created = dynamic.create(&pp(), &obj).await.unwrap();
    assert_eq!(created.types.as_ref().unwrap().kind, "ConfigMap");
    assert_eq!(created.data["data"]["k"], "v");
    let typed: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    assert_eq!(typed.get("dyn").await.unwrap().data.unwrap()["k"], "v");
    let listed = dynamic.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        listed.items.iter().map(|o| o.name_any()).collect::<Vec<_>>(),
        ["dyn"]
    );

    // Writes through the dynamic API (custom resources wait for CRD support in the server).
    let patched = dynamic
        .patch(
            "dyn",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "w"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["data"]["k"], "w");
    assert_eq!(patched.types.as_ref().unwrap().api_version, "v1");
    assert!(
        dynamic
            .delete("dyn", &DeleteParams::default())
            .await
            .unwrap()
            .is_right()
    );
    assert!(typed.get_opt("dyn").await.unwrap().is_none());

    // A named group, with the plural guessed from the kind.
    let leases = ApiResource::from_gvk(&GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &leases);
    assert_eq!(
        api.resource_url(),
        "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    );
    let lease = DynamicObject::new("l1", &leases).data(json!({"spec": {"holderIdentity": "a"}}));
    api.create(&pp(), &lease).await.unwrap();
    let patched = api
        .patch(
            "l1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"holderIdentity": "b"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["holderIdentity"], "b");
    assert_eq!(
        patched.types.as_ref().unwrap().api_version,
        "coordination.k8s.io/v1"
    );
    assert!(
        api.delete("l1", &DeleteParams::default())
            .await
            .unwrap()
            .is_right()
    );

    // Cluster-scoped.
    let ns_ar = ApiResource::erase::<Namespace>(&());
    let namespaces: Api<DynamicObject> = Api::all_with(client, &ns_ar);
    namespaces
        .create(&pp(), &DynamicObject::new("dyn-ns", &ns_ar))
        .await
        .unwrap();
    assert!(server.stored("/registry/namespaces/dyn-ns").await.is_some());
}
