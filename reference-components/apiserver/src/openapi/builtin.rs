//! The schemas of the built-in kinds, from k8s-openapi's `schemars::JsonSchema` impls.
//!
//! k8s-openapi names every schema as Kubernetes does (`io.k8s.api.core.v1.Pod`), so the
//! components of a generated document carry the names kubectl looks for.

use k8s_openapi::api::{apps, autoscaling, coordination, core, discovery, events, networking, rbac, storage};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::{JsonSchema, SchemaGenerator};

/// Add the schema of the built-in `group/version` `kind` (and everything it references) to
/// `generator`'s definitions; its component name, or `None` for a kind without one here.
pub fn add(generator: &mut SchemaGenerator, group: &str, version: &str, kind: &str) -> Option<String> {
    macro_rules! kinds {
        ($($t:ty),* $(,)?) => {
            $(
                if <$t as k8s_openapi::Resource>::GROUP == group
                    && <$t as k8s_openapi::Resource>::VERSION == version
                    && <$t as k8s_openapi::Resource>::KIND == kind
                {
                    generator.subschema_for::<$t>();
                    return Some(<$t as JsonSchema>::schema_name().into_owned());
                }
            )*
        };
    }
    kinds!(
        core::v1::Namespace,
        core::v1::Pod,
        core::v1::Node,
        core::v1::Service,
        core::v1::Endpoints,
        core::v1::ConfigMap,
        core::v1::Secret,
        core::v1::ServiceAccount,
        core::v1::Event,
        core::v1::ResourceQuota,
        core::v1::LimitRange,
        core::v1::PersistentVolume,
        core::v1::PersistentVolumeClaim,
        core::v1::ReplicationController,
        core::v1::Binding,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        apps::v1::DaemonSet,
        apps::v1::ControllerRevision,
        coordination::v1::Lease,
        discovery::v1::EndpointSlice,
        events::v1::Event,
        autoscaling::v2::HorizontalPodAutoscaler,
        autoscaling::v1::HorizontalPodAutoscaler,
        autoscaling::v1::Scale,
        networking::v1::Ingress,
        networking::v1::IngressClass,
        storage::v1::StorageClass,
        rbac::v1::Role,
        rbac::v1::RoleBinding,
        rbac::v1::ClusterRole,
        rbac::v1::ClusterRoleBinding,
        CustomResourceDefinition,
    );
    None
}

/// Add `ObjectMeta` (which every custom resource's schema references); its component name.
pub fn add_object_meta(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<ObjectMeta>();
    <ObjectMeta as JsonSchema>::schema_name().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    #[test]
    fn every_builtin_resource_has_a_schema() {
        let mut generator = SchemaGenerator::new(schemars::generate::SchemaSettings::openapi3());
        for def in Registry::builtin().all() {
            let name = add(&mut generator, &def.group, &def.version, &def.kind);
            assert!(
                name.is_some(),
                "no schema for {}/{} {}",
                def.group,
                def.version,
                def.kind
            );
        }
        let defs = generator.take_definitions(true);
        assert!(defs.contains_key("io.k8s.api.core.v1.Pod"));
        assert!(defs.contains_key("io.k8s.api.core.v1.Container"));
        assert!(defs.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
    }
}
