//! `Discovery` against the discovery documents of the reference apiserver (`/api`, `/api/v1`,
//! `/apis`, `/apis/{group}/{version}`), through the recording proxy in `support`.

mod support;

use http::Method;
use kube_client::{Api, Discovery};
use kube_core::dynamic::Scope;
use kube_core::{DynamicObject, GroupVersionKind, PostParams, ResourceExt};
use serde_json::json;
use support::Server;
use support::proxy::Fault;

/// `group/version Kind plural` of what `name` resolves to.
fn resolved(discovery: &Discovery, name: &str) -> Option<String> {
    discovery.resolve(name).map(|(ar, _)| {
        format!(
            "{} {} {} {}",
            ar.api_version,
            ar.kind,
            ar.plural,
            if ar.group.is_empty() { "core" } else { &ar.group }
        )
    })
}

#[tokio::test]
async fn run_resolves_names_as_kubectl_does() {
    let server = Server::start().await;
    let discovery = Discovery::new(server.client()).run().await.unwrap();

    for name in ["po", "pods", "pod", "Pod", "PODS"] {
        assert_eq!(
            resolved(&discovery, name).as_deref(),
            Some("v1 Pod pods core"),
            "{name}"
        );
    }
    for name in [
        "deploy",
        "deployments",
        "deployment",
        "Deployment",
        "deployments.apps",
        "deploy.apps",
    ] {
        assert_eq!(
            resolved(&discovery, name).as_deref(),
            Some("apps/v1 Deployment deployments apps"),
            "{name}"
        );
    }
    assert_eq!(
        resolved(&discovery, "cm").as_deref(),
        Some("v1 ConfigMap configmaps core")
    );
    assert_eq!(
        resolved(&discovery, "pods.apps"),
        None,
        "the group qualifies the name"
    );
    assert_eq!(resolved(&discovery, "widgets"), None);

    let groups: Vec<_> = discovery.groups().map(|g| g.name.as_str()).collect();
    assert_eq!(groups[0], "", "the core group first: {groups:?}");
    for group in ["apps", "coordination.k8s.io", "rbac.authorization.k8s.io"] {
        assert!(groups.contains(&group), "{group} in {groups:?}");
    }
    let apps = discovery.group("apps").unwrap();
    assert_eq!(
        (apps.versions.as_slice(), apps.preferred_version.as_str()),
        (&["v1".to_string()][..], "v1")
    );

    let fetched: Vec<_> = server
        .proxy
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    for path in ["/api", "/apis", "/api/v1", "/apis/apps/v1"] {
        assert_eq!(
            fetched
                .iter()
                .filter(|(m, p)| *m == Method::GET && p == path)
                .count(),
            1,
            "{path}: {fetched:?}"
        );
    }
}

#[tokio::test]
async fn capabilities_carry_scope_verbs_and_subresources() {
    let server = Server::start().await;
    let discovery = Discovery::new(server.client()).run().await.unwrap();

    let (pods, caps) = discovery.resolve("po").unwrap();
    assert_eq!((pods.scope, caps.scope), (Scope::Namespaced, Scope::Namespaced));
    assert_eq!(
        caps.subresources,
        ["status", "binding", "eviction"],
        "pods/status is a subresource, not a resource"
    );
    assert_eq!(caps.short_names, ["po"]);
    assert_eq!(caps.categories, ["all"]);
    assert_eq!(caps.singular, "pod");
    assert!(caps.supports("watch") && caps.supports("deletecollection"));
    let core = discovery.group("").unwrap();
    assert!(
        core.preferred_resources()
            .iter()
            .all(|(ar, _)| !ar.plural.contains('/')),
        "no pods/status resource"
    );

    let (namespaces, caps) = discovery.resolve("ns").unwrap();
    assert_eq!(
        (namespaces.kind.as_str(), namespaces.scope),
        ("Namespace", Scope::Cluster)
    );
    assert!(caps.supports("get") && caps.supports("watch"));
    assert!(discovery.resolve("cm").unwrap().1.subresources.is_empty());

    let gvk = GroupVersionKind::gvk("apps", "v1", "Deployment");
    let (deployments, caps) = discovery.resolve_gvk(&gvk).unwrap();
    assert_eq!(
        (deployments.plural.as_str(), caps.subresources.as_slice()),
        ("deployments", &["status".to_string(), "scale".to_string()][..])
    );
    assert!(
        discovery
            .resolve_gvk(&GroupVersionKind::gvk("apps", "v2", "Deployment"))
            .is_none()
    );

    // What discovery returns addresses the server.
    let api: Api<DynamicObject> = Api::namespaced_with(server.client(), "default", &pods);
    let pod = DynamicObject::new("web", &pods)
        .data(json!({"spec": {"containers": [{"name": "app", "image": "app:1"}]}}));
    assert_eq!(
        api.create(&PostParams::default(), &pod).await.unwrap().name_any(),
        "web"
    );
}

#[tokio::test]
async fn refresh_reads_everything_again_only_when_asked_or_stale() {
    // Whether a refresh picks up a new group waits for CRD support in the server.
    let server = Server::start().await;
    let mut discovery = Discovery::new(server.client()).run().await.unwrap();
    let before = discovery.groups().count();
    assert_eq!(server.proxy.count(&Method::GET, "/apis"), 1);

    discovery
        .refresh_if_older_than(std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        server.proxy.count(&Method::GET, "/apis"),
        1,
        "a fresh view is not read again"
    );

    discovery.refresh().await.unwrap();
    for path in [
        "/api",
        "/apis",
        "/api/v1",
        "/apis/apps/v1",
        "/apis/coordination.k8s.io/v1",
    ] {
        assert_eq!(server.proxy.count(&Method::GET, path), 2, "{path} read again");
    }
    assert_eq!(discovery.groups().count(), before);
    assert!(discovery.resolve("deploy").is_some());

    discovery
        .refresh_if_older_than(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        server.proxy.count(&Method::GET, "/apis"),
        3,
        "a stale view is read again"
    );
}

#[tokio::test]
async fn discovery_survives_a_503_and_reports_failing_group_versions() {
    let server = Server::start().await;
    server
        .proxy
        .inject(Fault::status(503).retry_after(0).on(Method::GET, "/apis/apps/v1"));
    let discovery = Discovery::new(server.client()).run().await.unwrap();
    assert!(discovery.resolve("deploy").is_some());
    assert_eq!(
        server.proxy.count(&Method::GET, "/apis/apps/v1"),
        2,
        "retried once"
    );

    assert!(discovery.failures().is_empty());

    // A group-version that keeps failing is left out, the rest is served, and the failure is
    // reported (client-go's ErrGroupDiscoveryFailed).
    server
        .proxy
        .inject(Fault::raw(500, "text/plain", "aggregated api down").on(Method::GET, "/apis/apps/v1"));
    let discovery = Discovery::new(server.client()).run().await.unwrap();
    let failures = discovery.failures();
    assert_eq!(failures.keys().collect::<Vec<_>>(), ["apps/v1"]);
    assert_eq!(
        failures["apps/v1"].status().map(|s| (s.code, s.message.as_str())),
        Some((500, "aggregated api down"))
    );
    assert!(discovery.resolve("deploy").is_none(), "apps/v1 is unknown");
    assert!(discovery.resolve("pods").is_some(), "the core group is there");
    assert!(
        discovery
            .group("apps")
            .is_some_and(|g| g.preferred_resources().is_empty())
    );

    // /apis itself must answer.
    server
        .proxy
        .inject(Fault::raw(500, "text/plain", "down").on(Method::GET, "/apis"));
    let err = Discovery::new(server.client()).run().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.code), Some(500));
}

#[tokio::test]
async fn apiserver_version() {
    let server = Server::start().await;
    let info = server.client().apiserver_version().await.unwrap();
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "35"));
    assert!(info.git_version.starts_with("v1.35.0"), "{info:?}");
}
