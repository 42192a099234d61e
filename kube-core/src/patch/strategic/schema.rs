//! Which fields of the built-in types merge how under a strategic merge patch.
//!
//! Kubernetes declares this with struct tags on the Go types of `k8s.io/api`:
//! `patchStrategy:"merge" patchMergeKey:"name"` makes a list of objects merge item by item on
//! `name`; `patchStrategy:"merge"` without a key makes a list of strings merge as a set. The
//! tables below transcribe those tags for the types this crate knows.
//!
//! Only fields on the way to a merging list are described. Every other field behaves as in a
//! JSON merge patch: objects (including maps such as `labels`) merge key by key, lists are
//! replaced. The `retainKeys` strategy needs no table: the `$retainKeys` directive is honoured
//! wherever a patch carries it.

/// How one field of a built-in type takes part in a strategic merge patch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    /// An object whose fields are described by the schema.
    Object(&'static Schema),
    /// A list of objects merged item by item on `key` (`patchStrategy:"merge"`,
    /// `patchMergeKey:"<key>"`); `item` describes the items.
    MergeList {
        /// The field that identifies an item.
        key: &'static str,
        /// The schema of one item.
        item: &'static Schema,
    },
    /// A list of primitives merged as a set (`patchStrategy:"merge"` without a key).
    PrimitiveSet,
    /// No strategy: objects merge recursively, lists and scalars are replaced.
    Plain,
}

impl Field {
    /// The schema of the field's own fields (of its items, for a merging list).
    pub(crate) fn schema(self) -> &'static Schema {
        match self {
            Field::Object(schema) | Field::MergeList { item: schema, .. } => schema,
            Field::PrimitiveSet | Field::Plain => &PLAIN,
        }
    }
}

/// The fields of one object type that need more than JSON merge patch semantics.
#[derive(Debug)]
pub(crate) struct Schema {
    fields: &'static [(&'static str, Field)],
}

impl Schema {
    /// How the field `name` merges; [`Field::Plain`] for a field not in the table.
    pub(crate) fn field(&self, name: &str) -> Field {
        self.fields
            .iter()
            .find(|(field, _)| *field == name)
            .map_or(Field::Plain, |(_, kind)| *kind)
    }
}

const fn object(schema: &'static Schema) -> Field {
    Field::Object(schema)
}

const fn merge_on(key: &'static str, item: &'static Schema) -> Field {
    Field::MergeList { key, item }
}

/// An object with no special fields (and the items of lists such as `conditions`).
static PLAIN: Schema = Schema { fields: &[] };

// meta/v1

static OBJECT_META: Schema = Schema {
    fields: &[
        ("finalizers", Field::PrimitiveSet),
        ("ownerReferences", merge_on("uid", &PLAIN)),
    ],
};

/// A kind whose only merging lists are in its metadata.
static METADATA_ONLY: Schema = Schema {
    fields: &[("metadata", object(&OBJECT_META))],
};

/// The `conditions` of most status types: merged on `type`.
static CONDITIONS_BY_TYPE: Schema = Schema {
    fields: &[("conditions", merge_on("type", &PLAIN))],
};

/// Metadata plus a status whose conditions merge on `type` (Namespace, PersistentVolumeClaim,
/// PodDisruptionBudget, HorizontalPodAutoscaler).
static STATUS_CONDITIONS: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("status", object(&CONDITIONS_BY_TYPE)),
    ],
};

// core/v1: pods

/// `Container` and `EphemeralContainer` (whose common fields are the same).
static CONTAINER: Schema = Schema {
    fields: &[
        ("ports", merge_on("containerPort", &PLAIN)),
        ("env", merge_on("name", &PLAIN)),
        ("volumeMounts", merge_on("mountPath", &PLAIN)),
        ("volumeDevices", merge_on("devicePath", &PLAIN)),
    ],
};

static POD_SPEC: Schema = Schema {
    fields: &[
        // patchStrategy "merge,retainKeys"
        ("volumes", merge_on("name", &PLAIN)),
        ("initContainers", merge_on("name", &CONTAINER)),
        ("containers", merge_on("name", &CONTAINER)),
        ("ephemeralContainers", merge_on("name", &CONTAINER)),
        ("imagePullSecrets", merge_on("name", &PLAIN)),
        ("hostAliases", merge_on("ip", &PLAIN)),
        // The list map key is (topologyKey, whenUnsatisfiable); the patch merge key is only
        // topologyKey.
        ("topologySpreadConstraints", merge_on("topologyKey", &PLAIN)),
        ("schedulingGates", merge_on("name", &PLAIN)),
        // patchStrategy "merge,retainKeys"
        ("resourceClaims", merge_on("name", &PLAIN)),
    ],
};

// `containerStatuses` and friends have no strategy (listType=atomic): they are replaced whole,
// so the merge keys inside ContainerStatus never apply.
static POD_STATUS: Schema = Schema {
    fields: &[
        ("conditions", merge_on("type", &PLAIN)),
        ("podIPs", merge_on("ip", &PLAIN)),
        ("hostIPs", merge_on("ip", &PLAIN)),
        // patchStrategy "merge,retainKeys"
        ("resourceClaimStatuses", merge_on("name", &PLAIN)),
    ],
};

static POD: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("spec", object(&POD_SPEC)),
        ("status", object(&POD_STATUS)),
    ],
};

static POD_TEMPLATE_SPEC: Schema = Schema {
    fields: &[("metadata", object(&OBJECT_META)), ("spec", object(&POD_SPEC))],
};

static POD_TEMPLATE: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("template", object(&POD_TEMPLATE_SPEC)),
    ],
};

// Workloads: ReplicationController, ReplicaSet, Deployment, StatefulSet, DaemonSet and Job all
// have `spec.template` (a PodTemplateSpec) and `status.conditions` merged on `type`. Their other
// lists (StatefulSet volumeClaimTemplates, ...) have no strategy. Deployment's `spec.strategy`
// is `retainKeys`, which the `$retainKeys` directive covers.

static WORKLOAD_SPEC: Schema = Schema {
    fields: &[("template", object(&POD_TEMPLATE_SPEC))],
};

static WORKLOAD: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("spec", object(&WORKLOAD_SPEC)),
        ("status", object(&CONDITIONS_BY_TYPE)),
    ],
};

static JOB_TEMPLATE_SPEC: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("spec", object(&WORKLOAD_SPEC)),
    ],
};

static CRON_JOB_SPEC: Schema = Schema {
    fields: &[("jobTemplate", object(&JOB_TEMPLATE_SPEC))],
};

static CRON_JOB: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("spec", object(&CRON_JOB_SPEC)),
    ],
};

// core/v1: everything else

static SERVICE_SPEC: Schema = Schema {
    fields: &[("ports", merge_on("port", &PLAIN))],
};

static SERVICE: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("spec", object(&SERVICE_SPEC)),
        ("status", object(&CONDITIONS_BY_TYPE)),
    ],
};

static NODE_SPEC: Schema = Schema {
    fields: &[("podCIDRs", Field::PrimitiveSet)],
};

static NODE_STATUS: Schema = Schema {
    fields: &[
        ("conditions", merge_on("type", &PLAIN)),
        ("addresses", merge_on("type", &PLAIN)),
    ],
};

static NODE: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("spec", object(&NODE_SPEC)),
        ("status", object(&NODE_STATUS)),
    ],
};

static SERVICE_ACCOUNT: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("secrets", merge_on("name", &PLAIN)),
    ],
};

static COMPONENT_STATUS: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("conditions", merge_on("type", &PLAIN)),
    ],
};

// Other groups

static WEBHOOK_CONFIGURATION: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("webhooks", merge_on("name", &PLAIN)),
    ],
};

static CSI_NODE_SPEC: Schema = Schema {
    fields: &[("drivers", merge_on("name", &PLAIN))],
};

static CSI_NODE: Schema = Schema {
    fields: &[
        ("metadata", object(&OBJECT_META)),
        ("spec", object(&CSI_NODE_SPEC)),
    ],
};

/// (API group, kind, schema) for every kind that accepts a strategic merge patch. Any version
/// of the group is accepted: the patch strategies do not change between versions.
static KINDS: &[(&str, &str, &Schema)] = &[
    // core/v1
    ("", "Pod", &POD),
    ("", "PodTemplate", &POD_TEMPLATE),
    ("", "ReplicationController", &WORKLOAD),
    ("", "Service", &SERVICE),
    ("", "Node", &NODE),
    ("", "Namespace", &STATUS_CONDITIONS),
    ("", "PersistentVolumeClaim", &STATUS_CONDITIONS),
    ("", "PersistentVolume", &METADATA_ONLY),
    ("", "ServiceAccount", &SERVICE_ACCOUNT),
    ("", "ComponentStatus", &COMPONENT_STATUS),
    ("", "Endpoints", &METADATA_ONLY),
    ("", "ConfigMap", &METADATA_ONLY),
    ("", "Secret", &METADATA_ONLY),
    ("", "Event", &METADATA_ONLY),
    ("", "LimitRange", &METADATA_ONLY),
    ("", "ResourceQuota", &METADATA_ONLY),
    // apps/v1
    ("apps", "Deployment", &WORKLOAD),
    ("apps", "ReplicaSet", &WORKLOAD),
    ("apps", "StatefulSet", &WORKLOAD),
    ("apps", "DaemonSet", &WORKLOAD),
    ("apps", "ControllerRevision", &METADATA_ONLY),
    // batch/v1
    ("batch", "Job", &WORKLOAD),
    ("batch", "CronJob", &CRON_JOB),
    // autoscaling (conditions exist from v2 on), policy
    ("autoscaling", "HorizontalPodAutoscaler", &STATUS_CONDITIONS),
    ("policy", "PodDisruptionBudget", &STATUS_CONDITIONS),
    // coordination, events, discovery
    ("coordination.k8s.io", "Lease", &METADATA_ONLY),
    ("events.k8s.io", "Event", &METADATA_ONLY),
    ("discovery.k8s.io", "EndpointSlice", &METADATA_ONLY),
    // networking, rbac, scheduling, node
    ("networking.k8s.io", "Ingress", &METADATA_ONLY),
    ("networking.k8s.io", "IngressClass", &METADATA_ONLY),
    ("networking.k8s.io", "NetworkPolicy", &METADATA_ONLY),
    ("rbac.authorization.k8s.io", "Role", &METADATA_ONLY),
    ("rbac.authorization.k8s.io", "RoleBinding", &METADATA_ONLY),
    ("rbac.authorization.k8s.io", "ClusterRole", &METADATA_ONLY),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", &METADATA_ONLY),
    ("scheduling.k8s.io", "PriorityClass", &METADATA_ONLY),
    ("node.k8s.io", "RuntimeClass", &METADATA_ONLY),
    // storage, admission, certificates
    ("storage.k8s.io", "StorageClass", &METADATA_ONLY),
    ("storage.k8s.io", "CSIDriver", &METADATA_ONLY),
    ("storage.k8s.io", "CSINode", &CSI_NODE),
    ("storage.k8s.io", "VolumeAttachment", &METADATA_ONLY),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        &WEBHOOK_CONFIGURATION,
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        &WEBHOOK_CONFIGURATION,
    ),
    ("certificates.k8s.io", "CertificateSigningRequest", &METADATA_ONLY),
];

/// The schema of `kind` in `api_version` (`v1`, `apps/v1`, ...), if it is a built-in kind.
pub(crate) fn for_kind(api_version: &str, kind: &str) -> Option<&'static Schema> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    if version.is_empty() {
        return None;
    }
    KINDS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, _, schema)| *schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge_key(field: Field) -> Option<&'static str> {
        match field {
            Field::MergeList { key, .. } => Some(key),
            _ => None,
        }
    }

    #[test]
    fn kinds_are_found_by_group_and_kind() {
        assert!(for_kind("v1", "Pod").is_some());
        assert!(for_kind("apps/v1", "Deployment").is_some());
        assert!(for_kind("batch/v1", "CronJob").is_some());
        assert!(for_kind("apps/v1", "Pod").is_none());
        assert!(for_kind("v1", "Deployment").is_none());
        assert!(for_kind("example.com/v1", "Deployment").is_none());
        assert!(for_kind("apps/", "Deployment").is_none());
    }

    #[test]
    fn pod_template_reaches_container_merge_keys() {
        let deployment = for_kind("apps/v1", "Deployment").unwrap();
        let pod_spec = deployment
            .field("spec")
            .schema()
            .field("template")
            .schema()
            .field("spec")
            .schema();
        let containers = pod_spec.field("containers");
        assert_eq!(merge_key(containers), Some("name"));
        assert_eq!(
            merge_key(containers.schema().field("ports")),
            Some("containerPort")
        );
        assert_eq!(
            merge_key(containers.schema().field("volumeMounts")),
            Some("mountPath")
        );
        assert!(matches!(pod_spec.field("tolerations"), Field::Plain));
    }
}
