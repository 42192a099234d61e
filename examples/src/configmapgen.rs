//! `configmapgen`: an operator that keeps a ConfigMap for every `ConfigMapGenerator`.
//!
//! A `ConfigMapGenerator` (group `examples.kube-sdk.dev`, version `v1`) has a spec of one map,
//! `content`. For each generator the operator keeps a ConfigMap of the same name and namespace,
//! owned by the generator, whose data is `content`; it writes `status.observedGeneration` once
//! the ConfigMap matches, records Kubernetes Events for what it does, and deletes the ConfigMap
//! through a finalizer when the generator is deleted.
//!
//! The whole operator is [`run`]: a [`Controller`] over generators that also owns ConfigMaps (so
//! a ConfigMap edited or deleted by hand is put back), a [`finalizer()`] for the cleanup, and a
//! [`Recorder`] for events.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube_client::{Api, Client};
use kube_core::crd::PrinterColumn;
use kube_core::params::{DeleteParams, PatchParams, PostParams};
use kube_core::{CustomObject, CustomResource, Patch, Resource, ResourceExt};
use kube_runtime::controller::{Action, Config, Controller};
use kube_runtime::events::{Event, EventType, Recorder, Reporter};
use kube_runtime::finalizer::{self, finalizer};
use kube_runtime::informer::InformerOptions;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// The finalizer the operator puts on generators.
pub const FINALIZER: &str = "examples.kube-sdk.dev/configmap-cleanup";
/// The name the operator reports events and metrics under.
pub const CONTROLLER_NAME: &str = "examples.kube-sdk.dev/configmapgen";

/// The desired state of a generator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigMapGeneratorSpec {
    /// The data of the generated ConfigMap.
    #[serde(default)]
    pub content: BTreeMap<String, String>,
}

/// What the operator last did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapGeneratorStatus {
    /// The generation of the spec the ConfigMap matches.
    pub observed_generation: Option<i64>,
}

impl CustomResource for ConfigMapGeneratorSpec {
    const GROUP: &'static str = "examples.kube-sdk.dev";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "ConfigMapGenerator";
    const PLURAL: &'static str = "configmapgenerators";
    const SHORT_NAMES: &'static [&'static str] = &["cmg"];
    const PRINTER_COLUMNS: &'static [PrinterColumn] = &[
        PrinterColumn::new("Observed", "integer", ".status.observedGeneration"),
        PrinterColumn::new("Age", "date", ".metadata.creationTimestamp"),
    ];
    type Status = ConfigMapGeneratorStatus;
}

/// A generator object, as `Api<ConfigMapGenerator>` reads and writes it.
pub type ConfigMapGenerator = CustomObject<ConfigMapGeneratorSpec>;

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the ConfigMap or the generator failed.
    #[error("{0}")]
    Api(#[from] kube_client::Error),
    /// The finalizer helper failed (adding, cleaning up or removing).
    #[error("{0}")]
    Finalizer(#[source] Box<finalizer::Error<Error>>),
}

/// What every reconcile shares.
pub struct Context {
    /// The client.
    pub client: Client,
    /// Publishes events about generators.
    pub recorder: Recorder,
}

/// Run the operator until `shutdown` fires.
pub async fn run(client: Client, shutdown: CancellationToken) {
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), Reporter::from(CONTROLLER_NAME)),
        client: client.clone(),
    });
    Controller::new(
        Api::<ConfigMapGenerator>::all(client.clone()),
        Config::default().name("configmapgen"),
    )
    .owns(Api::<ConfigMap>::all(client), InformerOptions::default())
    .run(reconcile, ctx, shutdown)
    .await;
}

/// Reconcile one generator.
pub async fn reconcile(generator: Arc<ConfigMapGenerator>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = generator.namespace().unwrap_or_else(|| "default".into());
    let generators: Api<ConfigMapGenerator> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&generators, FINALIZER, generator, |event| async {
        match event {
            finalizer::Event::Apply(generator) => apply(&generator, &generators, &ctx).await,
            finalizer::Event::Cleanup(generator) => cleanup(&generator, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// The ConfigMap a generator wants.
pub fn desired_configmap(generator: &ConfigMapGenerator) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = generator.metadata.name.clone();
    cm.metadata.namespace = generator.metadata.namespace.clone();
    cm.metadata.labels = Some(
        [(
            "app.kubernetes.io/managed-by".to_string(),
            "configmapgen".to_string(),
        )]
        .into(),
    );
    cm.metadata.owner_references = Some(vec![owner_reference(generator)]);
    cm.data = Some(generator.spec.content.clone());
    cm
}

fn owner_reference(generator: &ConfigMapGenerator) -> OwnerReference {
    OwnerReference {
        api_version: ConfigMapGenerator::api_version(&()).into_owned(),
        kind: ConfigMapGenerator::kind(&()).into_owned(),
        name: generator.name_any(),
        uid: generator.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

async fn apply(
    generator: &ConfigMapGenerator,
    generators: &Api<ConfigMapGenerator>,
    ctx: &Context,
) -> Result<Action, Error> {
    let name = generator.name_any();
    let namespace = generator.namespace().unwrap_or_else(|| "default".into());
    let configmaps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let desired = desired_configmap(generator);
    let ours = |cm: &ConfigMap| {
        cm.owner_references()
            .iter()
            .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == generator.metadata.uid.as_deref())
    };
    match configmaps.get_opt(&name).await? {
        None => {
            configmaps.create(&PostParams::default(), &desired).await?;
            note(
                ctx,
                generator,
                EventType::Normal,
                "Created",
                "Create",
                format!("created ConfigMap {name}"),
            )
            .await;
        }
        Some(existing) if !ours(&existing) => {
            note(
                ctx,
                generator,
                EventType::Warning,
                "NotOwned",
                "Create",
                format!("ConfigMap {name} exists and is not ours; leaving it alone"),
            )
            .await;
            return Ok(Action::await_change());
        }
        Some(mut existing) => {
            if existing.data != desired.data {
                existing.data = desired.data;
                configmaps
                    .replace(&name, &PostParams::default(), &existing)
                    .await?;
                note(
                    ctx,
                    generator,
                    EventType::Normal,
                    "Updated",
                    "Update",
                    format!("updated ConfigMap {name}"),
                )
                .await;
            }
        }
    }
    let generation = generator.metadata.generation;
    let observed = generator.status.as_ref().and_then(|s| s.observed_generation);
    if generation.is_some() && observed != generation {
        let patch = Patch::Merge(serde_json::json!({"status": {"observedGeneration": generation}}));
        generators
            .patch_status(&name, &PatchParams::default(), &patch)
            .await?;
    }
    Ok(Action::await_change())
}

async fn cleanup(generator: &ConfigMapGenerator, ctx: &Context) -> Result<Action, Error> {
    let name = generator.name_any();
    let namespace = generator.namespace().unwrap_or_else(|| "default".into());
    let configmaps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    match configmaps.delete(&name, &DeleteParams::default()).await {
        Ok(_) => {
            note(
                ctx,
                generator,
                EventType::Normal,
                "Deleted",
                "Delete",
                format!("deleted ConfigMap {name}"),
            )
            .await;
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

/// Publish an event about `generator`; a failure to publish is logged, never fatal.
async fn note(
    ctx: &Context,
    generator: &ConfigMapGenerator,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &generator.object_ref(&())).await {
        tracing::warn!(%error, "could not publish an event");
    }
}
