//! `configmapgen` end to end against the in-process apiserver: CRD, owned ConfigMap, status,
//! events, self-healing and cleanup through the finalizer.

use examples::configmapgen::{self, ConfigMapGenerator, ConfigMapGeneratorSpec, FINALIZER};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube_client::Api;
use kube_core::params::{DeleteParams, ListParams, PostParams};
use kube_core::{Patch, PatchParams, ResourceExt};
use tokio_util::sync::CancellationToken;

mod support;
use support::{TIMEOUT, eventually, server_with_crd};

#[tokio::test]
async fn configmapgen_end_to_end() {
    let (_server, client) = server_with_crd().await;

    let stop = CancellationToken::new();
    let operator = tokio::spawn(configmapgen::run(client.clone(), stop.clone()));

    let generators: Api<ConfigMapGenerator> = Api::namespaced(client.clone(), "default");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let spec = ConfigMapGeneratorSpec {
        content: [("a".to_string(), "1".to_string())].into(),
    };
    generators
        .create(&PostParams::default(), &ConfigMapGenerator::new("gen1", spec))
        .await
        .unwrap();

    // The owned ConfigMap appears with the content; the generator gets the finalizer and its
    // observed generation.
    let cm = eventually("the ConfigMap", || {
        let configmaps = configmaps.clone();
        async move { configmaps.get_opt("gen1").await.unwrap() }
    })
    .await;
    assert_eq!(cm.data.unwrap()["a"], "1");
    let owner = &cm.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("ConfigMapGenerator", "gen1", Some(true))
    );
    let generator = eventually("observedGeneration 1", || {
        let generators = generators.clone();
        async move {
            let g = generators.get("gen1").await.unwrap();
            (g.status.as_ref()?.observed_generation == g.metadata.generation).then_some(g)
        }
    })
    .await;
    assert_eq!(generator.finalizers(), [FINALIZER]);

    // A spec change flows through, and the status follows the new generation.
    generators
        .patch(
            "gen1",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"content": {"a": "2", "b": "3"}}})),
        )
        .await
        .unwrap();
    eventually("the ConfigMap updated", || {
        let configmaps = configmaps.clone();
        async move {
            let data = configmaps.get("gen1").await.unwrap().data?;
            (data.get("a").map(String::as_str) == Some("2") && data.len() == 2).then_some(())
        }
    })
    .await;
    eventually("observedGeneration to follow", || {
        let generators = generators.clone();
        async move {
            let g = generators.get("gen1").await.unwrap();
            let generation = g.metadata.generation?;
            (generation >= 2 && g.status?.observed_generation == Some(generation)).then_some(())
        }
    })
    .await;

    // A ConfigMap deleted by hand comes back.
    configmaps.delete("gen1", &DeleteParams::default()).await.unwrap();
    eventually("the ConfigMap restored", || {
        let configmaps = configmaps.clone();
        async move {
            let cm = configmaps.get_opt("gen1").await.unwrap()?;
            (cm.data?.get("b").map(String::as_str) == Some("3")).then_some(())
        }
    })
    .await;

    // Events tell the story.
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let reasons = eventually("events for gen1", || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await.unwrap();
            let reasons: Vec<String> = list
                .items
                .iter()
                .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("gen1"))
                .filter_map(|e| e.reason.clone())
                .collect();
            (reasons.contains(&"Created".to_string()) && reasons.contains(&"Updated".to_string()))
                .then_some(reasons)
        }
    })
    .await;
    assert!(
        reasons
            .iter()
            .all(|r| ["Created", "Updated"].contains(&r.as_str())),
        "{reasons:?}"
    );

    // Deleting the generator deletes the ConfigMap first, then the generator goes.
    generators.delete("gen1", &DeleteParams::default()).await.unwrap();
    eventually("the generator gone", || {
        let generators = generators.clone();
        async move { generators.get_opt("gen1").await.unwrap().is_none().then_some(()) }
    })
    .await;
    assert!(configmaps.get_opt("gen1").await.unwrap().is_none());

    stop.cancel();
    tokio::time::timeout(TIMEOUT, operator).await.unwrap().unwrap();
}
