//! `Api<K>` against the reference apiserver (through the recording proxy in `support`): every
//! verb, typed and dynamic, with the URL paths, content types and errors a user relies on.

mod support;

use std::collections::BTreeSet;

use either::Either;
use futures::{StreamExt, TryStreamExt};
use http::Method;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, Pod, PodStatus};
use kube_client::{Api, Error};
use kube_core::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
    ResourceExt,
};
use serde_json::json;
use support::proxy::Fault;
use support::{Server, configmap, labelled, namespace, pod, within};

fn pp() -> PostParams {
    PostParams::default()
}

fn status_of(err: &Error) -> &kube_core::Status {
    err.status()
        .unwrap_or_else(|| panic!("expected an API error, got {err:?}"))
}

#[tokio::test]
async fn create_get_and_get_opt() {
    let server = Server::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");

    let created = pods.create(&pp(), &pod("web")).await.unwrap();
    assert_eq!(created.namespace().as_deref(), Some("default"));
    assert!(created.uid().is_some() && created.creation_timestamp().is_some());
    assert_eq!(
        created.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );
    let stored = server.stored("/registry/pods/default/web").await;
    assert_eq!(
        stored.map(|rv| rv.to_string()),
        created.resource_version(),
        "what the server stored"
    );

    let got = pods.get("web").await.unwrap();
    assert_eq!(got, created);
    assert_eq!(got.spec.unwrap().containers[0].image.as_deref(), Some("app:1"));
    assert_eq!(
        pods.get_opt("web")
            .await
            .unwrap()
            .map(|p| p.name_any())
            .as_deref(),
        Some("web")
    );
    assert_eq!(pods.get_opt("nope").await.unwrap(), None);

    let post = server
        .proxy
        .requests()
        .into_iter()
        .find(|r| r.method == Method::POST)
        .unwrap();
    assert_eq!(post.path, "/api/v1/namespaces/default/pods");
    assert_eq!(post.content_type.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn create_with_generate_name_gets_a_fresh_name_each_time() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let mut template = configmap("", &[("k", "v")]);
    template.metadata.name = None;
    template.metadata.generate_name = Some("cfg-".into());

    let a = cms.create(&pp(), &template).await.unwrap();
    let b = cms.create(&pp(), &template).await.unwrap();
    assert!(
        a.name_any().starts_with("cfg-") && a.name_any().len() == "cfg-".len() + 5,
        "{}",
        a.name_any()
    );
    assert_ne!(a.name_any(), b.name_any());
    assert_eq!(cms.get(&b.name_any()).await.unwrap().data, template.data);
}

#[tokio::test]
async fn errors_keep_the_server_status() {
    let server = Server::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    pods.create(&pp(), &pod("web")).await.unwrap();

    let err = pods.get("nope").await.unwrap_err();
    assert!(err.is_not_found() && !err.is_conflict(), "{err:?}");
    let s = status_of(&err);
    assert_eq!((s.code, s.message.as_str()), (404, r#"pods "nope" not found"#));
    let details = s.details.as_ref().unwrap();
    assert_eq!((details.name.as_str(), details.kind.as_str()), ("nope", "pods"));
    assert!(err.to_string().contains(r#"pods "nope" not found"#), "{err}");

    let err = pods.create(&pp(), &pod("web")).await.unwrap_err();
    assert!(err.is_already_exists() && !err.is_conflict(), "{err:?}");
    assert_eq!(status_of(&err).message, r#"pods "web" already exists"#);
    assert_eq!(status_of(&err).code, 409);

    let err = pods.create(&pp(), &pod("Bad_Name")).await.unwrap_err();
    assert!(err.is_invalid(), "{err:?}");
    let s = status_of(&err);
    assert_eq!(s.code, 422);
    assert!(
        s.message
            .starts_with(r#"Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name""#),
        "{}",
        s.message
    );
    let cause = &s.details.as_ref().unwrap().causes[0];
    assert_eq!(
        (cause.field.as_str(), cause.reason.as_str()),
        ("metadata.name", "FieldValueInvalid")
    );

    let mut no_containers = pod("empty");
    no_containers.spec.as_mut().unwrap().containers.clear();
    let err = pods.create(&pp(), &no_containers).await.unwrap_err();
    assert!(err.is_invalid());
    assert_eq!(
        status_of(&err).message,
        r#"Pod "empty" is invalid: spec.containers: Required value"#
    );

    let elsewhere: Api<Pod> = Api::namespaced(server.client(), "nowhere");
    let err = elsewhere.create(&pp(), &pod("web")).await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(status_of(&err).message, r#"namespaces "nowhere" not found"#);

    // A resource the server does not serve.
    let gadgets = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Gadget"));
    let api: Api<DynamicObject> = Api::namespaced_with(server.client(), "default", &gadgets);
    let err = api.get("g").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(status_of(&err).code, 404);
}

#[tokio::test]
async fn a_non_status_error_body_becomes_a_status_with_its_code() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    cms.create(&pp(), &configmap("cfg", &[])).await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps/cfg";
    // What proxies and kube-apiserver's own fallback handlers answer: not a `Status`.
    server
        .proxy
        .inject(Fault::raw(500, "text/plain", "boom: etcd is on fire").on(Method::GET, path));
    server
        .proxy
        .inject(Fault::raw(403, "text/html", "<html>go away</html>").on(Method::GET, path));
    server
        .proxy
        .inject(Fault::raw(404, "text/plain; charset=utf-8", "404 page not found\n").on(Method::GET, path));

    let err = cms.get("cfg").await.unwrap_err();
    let s = status_of(&err);
    assert_eq!(
        (s.code, s.reason.as_str(), s.message.as_str()),
        (500, "InternalError", "boom: etcd is on fire")
    );
    assert_eq!(server.proxy.count(&Method::GET, path), 1, "a 500 is not retried");

    let err = cms.get("cfg").await.unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    assert_eq!(status_of(&err).message, "<html>go away</html>");

    let err = cms.get("cfg").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(status_of(&err).message, "404 page not found");
    assert_eq!(
        cms.get_opt("cfg").await.unwrap().map(|c| c.name_any()).as_deref(),
        Some("cfg")
    );
}

#[tokio::test]
async fn list_stream_pages_through_1234_objects_exactly_once() {
    let server = Server::start().await;
    let client = server.unthrottled_client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let names: BTreeSet<String> = (0..1234).map(|i| format!("cm-{i:04}")).collect();
    futures::stream::iter(names.iter())
        .map(|n| {
            let cms = &cms;
            async move { cms.create(&pp(), &configmap(n, &[])).await }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&pp(), &namespace("other"))
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "other")
        .create(&pp(), &configmap("outsider", &[]))
        .await
        .unwrap();

    let page = cms.list(&ListParams::default().limit(100)).await.unwrap();
    assert_eq!(page.kind, "ConfigMapList");
    assert_eq!(page.items.len(), 100);
    assert!(page.continue_token().is_some());
    assert_eq!(page.metadata.remaining_item_count, Some(1134));
    assert_eq!(
        cms.list(&ListParams::default()).await.unwrap().items.len(),
        1234,
        "no limit: everything at once"
    );

    server.proxy.clear_requests();
    let pages = cms
        .list_stream(&ListParams::default().limit(100))
        .map_ok(|cm| cm.name_any());
    let streamed: Vec<String> = within("list_stream", pages.try_collect()).await.unwrap();
    assert_eq!(streamed.len(), 1234, "every object exactly once");
    assert_eq!(streamed.iter().cloned().collect::<BTreeSet<_>>(), names);

    let pages = server.proxy.requests();
    assert_eq!(pages.len(), 13, "13 pages of at most 100");
    assert!(
        pages
            .iter()
            .all(|r| r.path == "/api/v1/namespaces/default/configmaps" && r.query.contains("limit=100"))
    );
    assert!(!pages[0].query.contains("continue="));
    assert!(
        pages[1..].iter().all(|r| r.query.contains("continue=")),
        "{pages:?}"
    );

    let everywhere = Api::<ConfigMap>::all(client);
    let all: Vec<_> = within(
        "list_stream",
        everywhere.list_stream(&ListParams::default()).try_collect(),
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 1235, "Api::all lists every namespace");
}

#[tokio::test]
async fn an_expired_continue_token_is_a_gone_error() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    for i in 0..5 {
        cms.create(&pp(), &configmap(&format!("cm-{i}"), &[]))
            .await
            .unwrap();
    }
    let mut stream = Box::pin(cms.list_stream(&ListParams::default().limit(2)));
    assert_eq!(stream.next().await.unwrap().unwrap().name_any(), "cm-0");
    assert_eq!(stream.next().await.unwrap().unwrap().name_any(), "cm-1");
    // Storage moves on and compacts past the revision the first page was read at.
    cms.create(&pp(), &configmap("late", &[])).await.unwrap();
    server.compact().await;
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(err.is_gone(), "{err:?}");
    assert!(stream.next().await.is_none(), "the stream ends after the error");
}

#[tokio::test]
async fn selectors_filter_lists_and_delete_collection() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    for (name, app) in [
        ("a", Some("web")),
        ("b", Some("web")),
        ("c", Some("db")),
        ("d", None),
    ] {
        let cm = configmap(name, &[]);
        let cm = match app {
            Some(app) => labelled(cm, "app", app),
            None => cm,
        };
        cms.create(&pp(), &cm).await.unwrap();
    }
    let names =
        |list: kube_core::ObjectList<ConfigMap>| list.items.iter().map(|c| c.name_any()).collect::<Vec<_>>();

    assert_eq!(
        names(cms.list(&ListParams::default().labels("app=web")).await.unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        names(
            cms.list(&ListParams::default().labels("app in (web,db),app!=web"))
                .await
                .unwrap()
        ),
        ["c"]
    );
    assert_eq!(
        names(cms.list(&ListParams::default().labels("!app")).await.unwrap()),
        ["d"]
    );
    assert_eq!(
        names(
            cms.list(&ListParams::default().fields("metadata.name=b"))
                .await
                .unwrap()
        ),
        ["b"]
    );
    let err = cms
        .list(&ListParams::default().fields("data.k=v"))
        .await
        .unwrap_err();
    assert_eq!(status_of(&err).code, 400);
    assert_eq!(status_of(&err).message, "field label not supported: data.k");

    let deleted = cms
        .delete_collection(&DeleteParams::default(), &ListParams::default().labels("app=web"))
        .await
        .unwrap();
    match deleted {
        Either::Left(list) => assert_eq!(names(list), ["a", "b"]),
        Either::Right(s) => panic!("expected the deleted objects, got {s:?}"),
    }
    assert_eq!(names(cms.list(&ListParams::default()).await.unwrap()), ["c", "d"]);
    assert!(server.stored("/registry/configmaps/default/a").await.is_none());
    let req = server
        .proxy
        .requests()
        .into_iter()
        .find(|r| r.method == Method::DELETE)
        .unwrap();
    assert_eq!(
        (req.path.as_str(), req.query.as_str()),
        ("/api/v1/namespaces/default/configmaps", "labelSelector=app%3Dweb")
    );
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_is_a_conflict() {
    let server = Server::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let v1 = cms.create(&pp(), &configmap("cfg", &[("k", "1")])).await.unwrap();

    let mut edit = v1.clone();
    edit.data = Some([("k".to_string(), "2".to_string())].into());
    let v2 = cms.replace("cfg", &pp(), &edit).await.unwrap();
    assert_ne!(v2.resource_version(), v1.resource_version());
    assert_eq!(v2.uid(), v1.uid());

    let mut stale = v1.clone();
    stale.data = Some([("k".to_string(), "stale".to_string())].into());
    let err = cms.replace("cfg", &pp(), &stale).await.unwrap_err();
    assert!(err.is_conflict() && !err.is_already_exists(), "{err:?}");
    assert_eq!(
        status_of(&err).message,
        r#"Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again"#
    );
    assert_eq!(
        cms.get("cfg").await.unwrap().data,
        v2.data,
        "the losing write changed nothing"
    );

    // Without a resourceVersion, replace is unconditional; an unchanged object is not rewritten.
    stale.metadata.resource_version = None;
    let v3 = cms.replace("cfg", &pp(), &stale).await.unwrap();
    assert_eq!(v3.data, stale.data);
    let again = cms.replace("cfg", &pp(), &v3).await.unwrap();
    assert_eq!(
        again.resource_version(),
        v3.resource_version(),
        "a no-op update keeps the resourceVersion"
    );

    let err = cms.replace("other", &pp(), &v3).await.unwrap_err();
    assert_eq!(
        status_of(&err).code,
        400,
        "the name in the body must match the URL"
    );
    let err = cms
        .replace("missing", &pp(), &configmap("missing", &[]))
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn patch_merge_json_and_strategic() {
    let server = Server::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let mut p = labelled(pod("web"), "app", "web");
    p.spec.as_mut().unwrap().containers.push(Container {
        name: "sidecar".into(),
        image: Some("proxy:1".into()),
        ..Container::default()
    });
    pods.create(&pp(), &p).await.unwrap();
    let params = PatchParams::default();

    let merged = pods
        .patch(
            "web",
            &params,
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.labels().get("app").map(String::as_str), Some("web"));
    assert_eq!(merged.labels().get("tier").map(String::as_str), Some("front"));

    let ops = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/containers/0/name", "value": "app"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "app:2"},
    ]))
    .unwrap();
    let jsoned = pods.patch("web", &params, &Patch::<()>::Json(ops)).await.unwrap();
    assert_eq!(
        jsoned.spec.as_ref().unwrap().containers[0].image.as_deref(),
        Some("app:2")
    );

    // Strategic merge merges the containers list by name: the other container stays.
    let sidecar = json!({"spec": {"containers": [{"name": "sidecar", "image": "proxy:2"}]}});
    let strategic = pods
        .patch("web", &params, &Patch::Strategic(sidecar))
        .await
        .unwrap();
    let images: Vec<_> = strategic
        .spec
        .unwrap()
        .containers
        .iter()
        .map(|c| (c.name.clone(), c.image.clone().unwrap()))
        .collect();
    assert_eq!(
        images,
        [
            ("app".to_string(), "app:2".to_string()),
            ("sidecar".to_string(), "proxy:2".to_string())
        ]
    );

    let content_types: Vec<_> = server
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::PATCH)
        .map(|r| (r.path, r.content_type.unwrap_or_default()))
        .collect();
    let path = "/api/v1/namespaces/default/pods/web".to_string();
    assert_eq!(
        content_types,
        [
            (path.clone(), "application/merge-patch+json".to_string()),
            (path.clone(), "application/json-patch+json".to_string()),
            (path, "application/strategic-merge-patch+json".to_string()),
        ]
    );

    let failing =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/containers/0/name", "value": "nope"}]))
            .unwrap();
    let err = pods
        .patch("web", &params, &Patch::<()>::Json(failing))
        .await
        .unwrap_err();
    assert!(err.is_invalid(), "a failed JSON patch test is 422: {err:?}");

    let stale = json!({"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}});
    let err = pods
        .patch("web", &params, &Patch::Merge(stale))
        .await
        .unwrap_err();
    assert!(
        err.is_conflict(),
        "a patch carrying a stale resourceVersion conflicts: {err:?}"
    );

    let err = pods
        .patch("nope", &params, &Patch::Merge(json!({})))
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn delete_returns_the_object_or_a_status() {
    let server = Server::start().await;
    let client = server.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client, "default");

    let cm = cms.create(&pp(), &configmap("gone", &[])).await.unwrap();
    match cms.delete("gone", &DeleteParams::default()).await.unwrap() {
        Either::Right(s) => {
            assert!(s.is_success(), "{s:?}");
            let d = s.details.unwrap();
            assert_eq!(
                (d.name.as_str(), d.kind.as_str(), Some(d.uid)),
                ("gone", "configmaps", cm.uid())
            );
        }
        Either::Left(cm) => panic!("configmaps answer deletes with a Status, got {cm:?}"),
    }
    assert!(cms.get_opt("gone").await.unwrap().is_none());

    pods.create(&pp(), &pod("web")).await.unwrap();
    match pods.delete("web", &DeleteParams::default()).await.unwrap() {
        Either::Left(p) => assert_eq!(p.name_any(), "web"),
        Either::Right(s) => panic!("pods answer deletes with the pod, got {s:?}"),
    }
    assert!(pods.get_opt("web").await.unwrap().is_none());

    // A finalizer keeps the object until it is removed.
    let mut held = configmap("held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&pp(), &held).await.unwrap();
    match cms.delete("held", &DeleteParams::default()).await.unwrap() {
        Either::Left(cm) => assert!(cm.deletion_timestamp().is_some(), "{cm:?}"),
        Either::Right(s) => panic!("deletion is pending, expected the object, got {s:?}"),
    }
    assert!(cms.get("held").await.unwrap().deletion_timestamp().is_some());
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(
        cms.get_opt("held").await.unwrap().is_none(),
        "removing the last finalizer deletes it"
    );

    let err = cms.delete("gone", &DeleteParams::default()).await.unwrap_err();
    assert!(err.is_not_found());

    cms.create(&pp(), &configmap("guarded", &[])).await.unwrap();
    let err = cms
        .delete(
            "guarded",
            &DeleteParams::default().precondition_uid("not-the-uid"),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert!(
        status_of(&err)
            .message
            .contains("Precondition failed: UID in precondition: not-the-uid"),
        "{err}"
    );
    assert!(cms.get_opt("guarded").await.unwrap().is_some());
    let delete = server
        .proxy
        .requests()
        .into_iter()
        .rfind(|r| r.method == Method::DELETE)
        .unwrap();
    assert_eq!(
        delete.content_type.as_deref(),
        Some("application/json"),
        "DeleteOptions travel as a JSON body"
    );
}

#[tokio::test]
async fn status_subresource_replace_and_patch() {
    let server = Server::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let created = pods.create(&pp(), &pod("web")).await.unwrap();

    // Writing the status ignores the rest of the object.
    let mut edit = created.clone();
    edit.status = Some(PodStatus {
        phase: Some("Running".into()),
        ..PodStatus::default()
    });
    edit.spec.as_mut().unwrap().containers[0].image = Some("ignored:9".into());
    let after = pods.replace_status("web", &pp(), &edit).await.unwrap();
    assert_eq!(after.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
    assert_eq!(
        after.spec.as_ref().unwrap().containers[0].image.as_deref(),
        Some("app:1")
    );

    // Writing the object ignores its status.
    let mut edit = after.clone();
    edit.status = Some(PodStatus {
        phase: Some("Failed".into()),
        ..PodStatus::default()
    });
    edit.spec.as_mut().unwrap().containers[0].image = Some("app:2".into());
    let after = pods.replace("web", &pp(), &edit).await.unwrap();
    assert_eq!(after.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
    assert_eq!(
        after.spec.as_ref().unwrap().containers[0].image.as_deref(),
        Some("app:2")
    );

    let patched = pods
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"podIP": "127.0.0.7"}})),
        )
        .await
        .unwrap();
    let status = patched.status.unwrap();
    assert_eq!(
        (status.phase.as_deref(), status.pod_ip.as_deref()),
        (Some("Running"), Some("127.0.0.7"))
    );
    assert_eq!(
        pods.get_status("web")
            .await
            .unwrap()
            .status
            .unwrap()
            .pod_ip
            .as_deref(),
        Some("127.0.0.7")
    );

    let paths: Vec<_> = server
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/status"))
        .map(|r| (r.method, r.path))
        .collect();
    let path = "/api/v1/namespaces/default/pods/web/status".to_string();
    assert_eq!(
        paths,
        [
            (Method::PUT, path.clone()),
            (Method::PATCH, path.clone()),
            (Method::GET, path)
        ]
    );

    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    cms.create(&pp(), &configmap("cfg", &[])).await.unwrap();
    assert!(
        cms.get_status("cfg").await.unwrap_err().is_not_found(),
        "configmaps have no status subresource"
    );
}

#[tokio::test]
async fn all_and_namespaced_address_the_right_urls() {
    let server = Server::start().await;
    let client = server.client();
    assert_eq!(Api::<Pod>::all(client.clone()).resource_url(), "/api/v1/pods");
    assert_eq!(
        Api::<Pod>::namespaced(client.clone(), "ns1").resource_url(),
        "/api/v1/namespaces/ns1/pods"
    );
    assert_eq!(
        Api::<Pod>::default_namespaced(client.clone()).resource_url(),
        "/api/v1/namespaces/default/pods"
    );
    assert_eq!(
        Api::<Deployment>::namespaced(client.clone(), "ns1").resource_url(),
        "/apis/apps/v1/namespaces/ns1/deployments"
    );
    let cluster_scoped = Api::<Namespace>::namespaced(client.clone(), "ns1");
    assert_eq!(
        cluster_scoped.resource_url(),
        "/api/v1/namespaces",
        "a namespace is ignored for cluster-scoped kinds"
    );
    assert_eq!(cluster_scoped.namespace(), None);

    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in ["ns1", "ns2"] {
        namespaces.create(&pp(), &namespace(ns)).await.unwrap();
        Api::<Pod>::namespaced(client.clone(), ns)
            .create(&pp(), &pod("web"))
            .await
            .unwrap();
    }
    assert_eq!(
        namespaces
            .get("ns1")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Active")
    );
    let everywhere = Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let found: Vec<_> = everywhere
        .items
        .iter()
        .map(|p| (p.namespace().unwrap(), p.name_any()))
        .collect();
    assert_eq!(
        found,
        [
            ("ns1".to_string(), "web".to_string()),
            ("ns2".to_string(), "web".to_string())
        ]
    );
    let one = Api::<Pod>::namespaced(client, "ns2")
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);

    let paths: Vec<_> = server
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::GET)
        .map(|r| r.path)
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v1/namespaces/ns1",
            "/api/v1/pods",
            "/api/v1/namespaces/ns2/pods"
        ]
    );
}
