//! The built-in resources: one line each.

use std::borrow::Cow;

use k8s_openapi::api::{apps, autoscaling, coordination, core, discovery, events, networking, rbac, storage};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ResourceDef, Subresource};
use Subresource::*;

fn roundtrip<K: Serialize + DeserializeOwned>(v: &Value) -> Result<Value, serde_json::Error> {
    serde_json::to_value(K::deserialize(v)?)
}

fn from_body<K: Serialize + DeserializeOwned>(body: &[u8]) -> Result<super::DecodedBody, serde_json::Error> {
    let (typed, unknown) = crate::unknown_fields::decode::<K>(body)?;
    Ok((serde_json::to_value(typed)?, unknown))
}

/// An entry for the k8s-openapi type `K`, storing under its plural.
fn def<K>() -> ResourceDef
where
    K: k8s_openapi::Resource + Serialize + DeserializeOwned,
    K::Scope: kube_core::resource::ScopeKind,
{
    ResourceDef {
        group: Cow::Borrowed(K::GROUP),
        version: Cow::Borrowed(K::VERSION),
        kind: Cow::Borrowed(K::KIND),
        plural: Cow::Borrowed(K::URL_PATH_SEGMENT),
        singular: Cow::Owned(K::KIND.to_ascii_lowercase()),
        namespaced: <K::Scope as kube_core::resource::ScopeKind>::NAMESPACED.unwrap_or(true),
        short_names: Vec::new(),
        categories: Vec::new(),
        subresources: Vec::new(),
        storage: Cow::Borrowed(K::URL_PATH_SEGMENT),
        tracks_generation: false,
        allow_create_on_update: false,
        field_selectors: Vec::new(),
        codec: Some(super::Codec {
            roundtrip: roundtrip::<K>,
            from_body: from_body::<K>,
        }),
        conversion: None,
        verbs: super::ALL_VERBS,
        custom: None,
        deprecation: None,
    }
}

impl ResourceDef {
    fn short(mut self, names: &'static [&'static str]) -> Self {
        self.short_names = names.iter().map(|n| Cow::Borrowed(*n)).collect();
        self
    }
    fn all(self) -> Self {
        self.category("all")
    }
    fn category(mut self, category: &'static str) -> Self {
        self.categories.push(Cow::Borrowed(category));
        self
    }
    fn subs(mut self, subs: &'static [Subresource]) -> Self {
        self.subresources = subs.to_vec();
        self
    }
    fn generation(mut self) -> Self {
        self.tracks_generation = true;
        self
    }
    fn deprecated(mut self, warning: &'static str) -> Self {
        self.deprecation = Some(Cow::Borrowed(warning));
        self
    }
    fn create_on_update(mut self) -> Self {
        self.allow_create_on_update = true;
        self
    }
    fn fields(mut self, fields: &'static [(&'static str, &'static str)]) -> Self {
        self.field_selectors = fields
            .iter()
            .map(|(f, d)| (Cow::Borrowed(*f), Cow::Borrowed(*d)))
            .collect();
        self
    }
    fn only_verbs(mut self, verbs: &'static [&'static str]) -> Self {
        self.verbs = verbs;
        self
    }
    fn converted(mut self, storage: &'static str, conversion: &'static super::Conversion) -> Self {
        self.storage = Cow::Borrowed(storage);
        self.conversion = Some(conversion);
        self
    }
    /// Stored under `/registry/{storage}/`, as kube-apiserver keys the resources of API
    /// extensions (`apiextensions.k8s.io/customresourcedefinitions`).
    fn stored_as(mut self, storage: &'static str) -> Self {
        self.storage = Cow::Borrowed(storage);
        self
    }
}

const POD_FIELDS: &[(&str, &str)] = &[
    ("spec.nodeName", ""),
    ("spec.restartPolicy", ""),
    ("spec.schedulerName", ""),
    ("spec.serviceAccountName", ""),
    ("spec.hostNetwork", "false"),
    ("status.phase", ""),
    ("status.podIP", ""),
    ("status.nominatedNodeName", ""),
];

const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject.kind", ""),
    ("involvedObject.namespace", ""),
    ("involvedObject.name", ""),
    ("involvedObject.uid", ""),
    ("involvedObject.apiVersion", ""),
    ("involvedObject.resourceVersion", ""),
    ("involvedObject.fieldPath", ""),
    ("reason", ""),
    ("reportingComponent", ""),
    ("source", ""),
    ("type", ""),
];

/// Every built-in resource the reference apiserver serves.
pub fn resources() -> Vec<ResourceDef> {
    vec![
        // core/v1
        def::<core::v1::Namespace>()
            .short(&["ns"])
            .subs(&[Status, Finalize])
            .fields(&[("status.phase", "")])
            .only_verbs(&["create", "delete", "get", "list", "patch", "update", "watch"]),
        def::<core::v1::Pod>()
            .short(&["po"])
            .all()
            .subs(&[Status, Binding, Eviction])
            .generation()
            .fields(POD_FIELDS),
        def::<core::v1::Node>()
            .short(&["no"])
            .subs(&[Status])
            .fields(&[("spec.unschedulable", "false")]),
        def::<core::v1::Service>().short(&["svc"]).all().subs(&[Status]),
        def::<core::v1::Endpoints>()
            .short(&["ep"])
            .create_on_update()
            .deprecated("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"),
        def::<core::v1::ConfigMap>().short(&["cm"]),
        def::<core::v1::Secret>().fields(&[("type", "")]),
        def::<core::v1::ServiceAccount>().short(&["sa"]),
        def::<core::v1::Event>()
            .short(&["ev"])
            .create_on_update()
            .fields(EVENT_FIELDS),
        def::<core::v1::ResourceQuota>().short(&["quota"]).subs(&[Status]),
        def::<core::v1::LimitRange>().short(&["limits"]),
        def::<core::v1::PersistentVolume>().short(&["pv"]).subs(&[Status]),
        def::<core::v1::PersistentVolumeClaim>()
            .short(&["pvc"])
            .subs(&[Status]),
        def::<core::v1::ReplicationController>()
            .short(&["rc"])
            .all()
            .subs(&[Status, Scale])
            .generation()
            .fields(&[("status.replicas", "0")]),
        // apps/v1
        def::<apps::v1::Deployment>()
            .short(&["deploy"])
            .all()
            .subs(&[Status, Scale])
            .generation(),
        def::<apps::v1::ReplicaSet>()
            .short(&["rs"])
            .all()
            .subs(&[Status, Scale])
            .generation()
            .fields(&[("status.replicas", "0")]),
        def::<apps::v1::StatefulSet>()
            .short(&["sts"])
            .all()
            .subs(&[Status, Scale])
            .generation(),
        def::<apps::v1::DaemonSet>()
            .short(&["ds"])
            .all()
            .subs(&[Status])
            .generation(),
        def::<apps::v1::ControllerRevision>(),
        // coordination.k8s.io/v1
        def::<coordination::v1::Lease>().create_on_update(),
        // discovery.k8s.io/v1
        def::<discovery::v1::EndpointSlice>(),
        // events.k8s.io/v1: stored as core/v1 Events
        def::<events::v1::Event>()
            .short(&["ev"])
            .create_on_update()
            .converted("events", &super::conversion::EVENTS_V1),
        // autoscaling/v2, and v1 stored as v2
        def::<autoscaling::v2::HorizontalPodAutoscaler>()
            .short(&["hpa"])
            .all()
            .subs(&[Status])
            .generation(),
        def::<autoscaling::v1::HorizontalPodAutoscaler>()
            .short(&["hpa"])
            .all()
            .subs(&[Status])
            .generation()
            .converted("horizontalpodautoscalers", &super::conversion::HPA_V1),
        // networking.k8s.io/v1
        def::<networking::v1::Ingress>()
            .short(&["ing"])
            .subs(&[Status])
            .generation(),
        def::<networking::v1::IngressClass>(),
        // storage.k8s.io/v1
        def::<storage::v1::StorageClass>().short(&["sc"]),
        // rbac.authorization.k8s.io/v1
        def::<rbac::v1::Role>().create_on_update(),
        def::<rbac::v1::RoleBinding>().create_on_update(),
        def::<rbac::v1::ClusterRole>().create_on_update(),
        def::<rbac::v1::ClusterRoleBinding>().create_on_update(),
        // apiextensions.k8s.io/v1
        def::<CustomResourceDefinition>()
            .short(&["crd", "crds"])
            .category("api-extensions")
            .subs(&[Status])
            .generation()
            .stored_as(super::crd::CRD_STORAGE),
    ]
}
