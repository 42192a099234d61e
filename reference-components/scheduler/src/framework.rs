//! The scheduling framework's vocabulary: what a pod asks for ([`PodInfo`]), what a node has and
//! runs ([`NodeInfo`]), and the two kinds of plugin a scheduling cycle calls
//! ([`FilterPlugin`], [`ScorePlugin`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_core::quantity::ParsedQuantity;
use kube_runtime::reflector::ObjectKey;

/// The highest score a plugin gives a node after normalisation (`framework.MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// The CPU a container without a CPU request counts as when scoring: 100m
/// (`DefaultMilliCPURequest`). Filtering uses the real requests.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;

/// The memory a container without a memory request counts as when scoring: 200 MiB
/// (`DefaultMemoryRequest`).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource: CPU in millicores, everything else in units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU, in thousandths of a core.
    pub milli_cpu: i64,
    /// Memory, in bytes.
    pub memory: i64,
    /// Local ephemeral storage, in bytes.
    pub ephemeral_storage: i64,
    /// Extended and other resources (`nvidia.com/gpu`, `hugepages-2Mi`), in units.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// The amounts of a `requests`, `limits`, `allocatable` or `overhead` list. Quantities that
    /// do not parse count as zero: the apiserver has validated them already.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Self {
        let mut out = Self::default();
        for (name, q) in list {
            let Ok(q) = ParsedQuantity::try_from(q) else {
                continue;
            };
            match name.as_str() {
                "cpu" => out.milli_cpu = q.milli_value(),
                "memory" => out.memory = q.value(),
                "ephemeral-storage" => out.ephemeral_storage = q.value(),
                // Pods are counted by `NodeInfo::allowed_pods`, not as a requested resource.
                "pods" => {}
                other => {
                    out.scalar.insert(other.to_owned(), q.value());
                }
            }
        }
        out
    }

    /// Adds `other` to these amounts.
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += v;
        }
    }

    /// Takes away `other` from these amounts.
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (name, v) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() -= v;
        }
    }

    /// Raises each amount to `other`'s where that is larger.
    pub fn set_max(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let mine = self.scalar.entry(name.clone()).or_default();
            *mine = (*mine).max(*v);
        }
    }

    /// Whether every amount is zero.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// A host port a container asks for: protocol, host IP (empty for all addresses) and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The address; `0.0.0.0` or empty means every address.
    pub ip: String,
    /// The port number.
    pub port: i32,
}

impl HostPort {
    fn all_addresses(&self) -> bool {
        self.ip.is_empty() || self.ip == "0.0.0.0"
    }

    /// Whether two ports cannot both be bound: same protocol and port, and an address in
    /// common (either binds every address, or both name the same one).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.all_addresses() || other.all_addresses() || self.ip == other.ip)
    }
}

/// A pod with what the scheduler computes from it once: its requests, the requests scoring
/// counts, and its host ports.
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// Its namespace and name.
    pub key: ObjectKey,
    /// What it requests: `max(sum of containers and sidecars, largest init container step) +
    /// overhead`, the formula of `resourcehelper.PodRequests`.
    pub requests: Resources,
    /// CPU and memory as scoring counts them: containers without a request count
    /// [`DEFAULT_MILLI_CPU_REQUEST`] / [`DEFAULT_MEMORY_REQUEST`].
    pub non_zero: (i64, i64),
    /// The host ports its containers ask for.
    pub host_ports: Vec<HostPort>,
    /// The images of its init containers and containers, normalised (`nginx` is
    /// `nginx:latest`), one per container.
    pub images: Vec<String>,
}

fn container_requests(c: &Container) -> Resources {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .map(Resources::from_list)
        .unwrap_or_default()
}

fn non_zero(c: &Container) -> Resources {
    let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let has = |name: &str| requests.is_some_and(|r| r.contains_key(name));
    let mut r = container_requests(c);
    if !has("cpu") {
        r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
    }
    if !has("memory") {
        r.memory = DEFAULT_MEMORY_REQUEST;
    }
    r
}

/// A pod's effective requests from each container's requests as `of` reads them: regular
/// containers and restartable init containers (sidecars) run together; each regular init
/// container runs alone beside the sidecars started before it; pod-level requests replace the
/// sum for what they name; overhead comes on top.
fn pod_requests(pod: &Pod, of: fn(&Container) -> Resources) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut running = Resources::default();
    for c in &spec.containers {
        running.add(&of(c));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = of(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&r);
            running.add(&r);
            init_peak.set_max(&sidecars);
        } else {
            let mut step = sidecars.clone();
            step.add(&r);
            init_peak.set_max(&step);
        }
    }
    running.set_max(&init_peak);
    // Pod-level requests (`spec.resources`, beta and on since 1.34) replace the containers'
    // sum for the resources they name.
    if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        let named = |name: &str| pod_level.contains_key(name);
        let set = Resources::from_list(pod_level);
        if named("cpu") {
            running.milli_cpu = set.milli_cpu;
        }
        if named("memory") {
            running.memory = set.memory;
        }
        if named("ephemeral-storage") {
            running.ephemeral_storage = set.ephemeral_storage;
        }
        running.scalar.extend(set.scalar);
    }
    if let Some(overhead) = &spec.overhead {
        running.add(&Resources::from_list(overhead));
    }
    running
}

impl PodInfo {
    /// Computes what the scheduler needs of `pod`.
    pub fn new(pod: Arc<Pod>) -> Self {
        let key = ObjectKey::namespaced(
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.metadata.name.clone().unwrap_or_default(),
        );
        let requests = pod_requests(&pod, container_requests);
        let nz = pod_requests(&pod, non_zero);
        let host_ports = pod
            .spec
            .iter()
            // Regular init containers have finished before the pod runs: only sidecars keep ports.
            .flat_map(|s| {
                let sidecars = s
                    .init_containers
                    .iter()
                    .flatten()
                    .filter(|c| c.restart_policy.as_deref() == Some("Always"));
                s.containers.iter().chain(sidecars)
            })
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let port = p.host_port.filter(|port| *port > 0)?;
                Some(HostPort {
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    ip: p.host_ip.clone().unwrap_or_default(),
                    port,
                })
            })
            .collect();
        let images = pod
            .spec
            .iter()
            .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers))
            .map(|c| normalized_image_name(c.image.as_deref().unwrap_or_default()))
            .collect();
        Self {
            pod,
            key,
            images,
            requests,
            non_zero: (nz.milli_cpu, nz.memory),
            host_ports,
        }
    }
}

/// `nginx` is `nginx:latest`; a name with a tag or digest stays as it is (kube-scheduler's
/// `normalizedImageName`).
pub fn normalized_image_name(name: &str) -> String {
    if name.rfind(':') <= name.rfind('/') {
        format!("{name}:latest")
    } else {
        name.to_owned()
    }
}

/// A node and the pods the scheduler counts on it (bound, and assumed while their binding is
/// in flight), with their totals kept current as pods come and go.
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    /// The node; `None` while pods bound to it are known and the node itself is not (yet).
    pub node: Option<Arc<Node>>,
    /// The pods on it, by key.
    pub pods: HashMap<ObjectKey, Arc<PodInfo>>,
    /// The sum of their requests.
    pub requested: Resources,
    /// The sum of their requests as scoring counts them (CPU, memory).
    pub non_zero_requested: (i64, i64),
    /// The host ports in use.
    pub used_ports: HashSet<HostPort>,
    /// What the node offers pods (`status.allocatable`).
    pub allocatable: Resources,
    /// How many pods it takes (`status.allocatable.pods`).
    pub allowed_pods: i64,
    /// The images it holds (`status.images`): each of an image's names, with its size in bytes.
    pub images: HashMap<String, i64>,
}

impl NodeInfo {
    /// Sets (or replaces) the node object.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        self.allocatable = allocatable.map(Resources::from_list).unwrap_or_default();
        self.allowed_pods = allocatable
            .and_then(|a| a.get("pods"))
            .and_then(|q| ParsedQuantity::try_from(q).ok())
            .map_or(0, |q| q.value());
        self.images = node
            .status
            .iter()
            .flat_map(|s| s.images.iter().flatten())
            .flat_map(|image| {
                let size = image.size_bytes.unwrap_or(0);
                image.names.iter().flatten().map(move |name| (name.clone(), size))
            })
            .collect();
        self.node = Some(node);
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.node
            .as_ref()
            .and_then(|n| n.metadata.name.as_deref())
            .unwrap_or_default()
    }

    /// Counts `pod` on this node (replacing an earlier version of it).
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.remove_pod(&pod.key);
        self.requested.add(&pod.requests);
        self.non_zero_requested.0 += pod.non_zero.0;
        self.non_zero_requested.1 += pod.non_zero.1;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        self.pods.insert(pod.key.clone(), pod);
    }

    /// Stops counting the pod of `key` here; whether it was counted.
    pub fn remove_pod(&mut self, key: &ObjectKey) -> bool {
        let Some(pod) = self.pods.remove(key) else {
            return false;
        };
        self.requested.sub(&pod.requests);
        self.non_zero_requested.0 -= pod.non_zero.0;
        self.non_zero_requested.1 -= pod.non_zero.1;
        // A port stays in use if another pod holds it too (only possible for pods bound without
        // the scheduler); most pods have no host ports, and skip this.
        for port in &pod.host_ports {
            if !self.pods.values().any(|other| other.host_ports.contains(port)) {
                self.used_ports.remove(port);
            }
        }
        true
    }
}

/// What one scheduling cycle sees: the nodes (in name order), and on how many of them each image
/// is present.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The nodes whose Node object exists, by name.
    pub nodes: Vec<Arc<NodeInfo>>,
    /// For each image name, how many nodes hold it.
    pub image_nodes: Arc<HashMap<String, usize>>,
}

impl Snapshot {
    /// A snapshot of these nodes, counting their images.
    pub fn of(nodes: Vec<Arc<NodeInfo>>) -> Self {
        let mut image_nodes = HashMap::new();
        for node in &nodes {
            for name in node.images.keys() {
                *image_nodes.entry(name.clone()).or_default() += 1;
            }
        }
        Self {
            nodes,
            image_nodes: Arc::new(image_nodes),
        }
    }
}

/// Why a node cannot take a pod: the reasons as they appear in the scheduler's `FitError`
/// histogram (`Insufficient cpu`, `node(s) were unschedulable`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfit {
    /// One or more reasons.
    pub reasons: Vec<String>,
}

impl Unfit {
    /// One reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reasons: vec![reason.into()],
        }
    }
}

/// A predicate: may this pod run on this node? (`framework.FilterPlugin`)
pub trait FilterPlugin: Send + Sync {
    /// The plugin's name, as KubeSchedulerConfiguration names it.
    fn name(&self) -> &'static str;

    /// `Ok` when the pod fits the node, else why not.
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Unfit>;
}

/// A priority: how well does this node suit this pod? (`framework.ScorePlugin` with its
/// `ScoreExtensions`)
pub trait ScorePlugin: Send + Sync {
    /// The plugin's name, as KubeSchedulerConfiguration names it.
    fn name(&self) -> &'static str;

    /// The node's raw score for the pod; `cluster` is the whole snapshot, for plugins that
    /// weigh a node against the others.
    fn score(&self, pod: &PodInfo, node: &NodeInfo, cluster: &Snapshot) -> i64;

    /// Brings the raw scores of all feasible nodes into `0..=MAX_NODE_SCORE`. Plugins that
    /// already score in that range keep the default, which does nothing.
    fn normalize(&self, scores: &mut [i64]) {
        let _ = scores;
    }
}

/// `DefaultNormalizeScore`: scales scores so that the highest becomes `max` (all become `0`, or
/// `max` when `reverse`, if the highest is `0`); `reverse` then turns each `s` into `max - s`.
pub fn default_normalize(max: i64, reverse: bool, scores: &mut [i64]) {
    let highest = scores.iter().copied().max().unwrap_or(0);
    if highest == 0 {
        if reverse {
            scores.fill(max);
        }
        return;
    }
    for s in scores {
        *s = max * *s / highest;
        if reverse {
            *s = max - *s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> PodInfo {
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}))
                .unwrap();
        PodInfo::new(Arc::new(pod))
    }

    fn c(cpu: &str, memory: &str) -> serde_json::Value {
        json!({"name": format!("c{cpu}{memory}"), "image": "i", "resources": {"requests": {"cpu": cpu, "memory": memory}}})
    }

    #[test]
    fn pod_requests_follow_the_kubernetes_formula() {
        // Containers add up; the larger init container wins over them; overhead on top.
        let p = pod(json!({
            "containers": [c("100m", "64Mi"), c("200m", "64Mi")],
            "initContainers": [c("500m", "16Mi")],
            "overhead": {"cpu": "10m"},
        }));
        assert_eq!(p.requests.milli_cpu, 510);
        assert_eq!(p.requests.memory, 128 * 1024 * 1024);
        // A sidecar runs beside the containers and beside the init containers after it.
        let mut sidecar = c("50m", "8Mi");
        sidecar["restartPolicy"] = json!("Always");
        let p = pod(json!({
            "containers": [c("100m", "8Mi")],
            "initContainers": [sidecar, c("400m", "8Mi")],
        }));
        assert_eq!(p.requests.milli_cpu, 450);
        assert_eq!(p.requests.memory, 16 * 1024 * 1024);
        // Pod-level requests replace the containers' sum for what they name.
        let p = pod(json!({
            "containers": [c("100m", "64Mi"), c("100m", "64Mi")],
            "resources": {"requests": {"cpu": "1"}},
            "overhead": {"cpu": "10m"},
        }));
        assert_eq!(
            (p.requests.milli_cpu, p.requests.memory),
            (1010, 128 * 1024 * 1024)
        );
    }

    #[test]
    fn scoring_counts_defaults_for_missing_requests_only() {
        let p = pod(
            json!({"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i", "resources": {"requests": {"cpu": "0"}}}]}),
        );
        assert_eq!(p.requests, Resources::default());
        assert_eq!(p.non_zero, (100, 2 * DEFAULT_MEMORY_REQUEST));
    }

    #[test]
    fn node_info_keeps_totals_as_pods_come_and_go() {
        let mut node = NodeInfo::default();
        let mut spec = c("250m", "1Gi");
        spec["ports"] = json!([{"containerPort": 80, "hostPort": 8080}]);
        let p = Arc::new(pod(json!({"containers": [spec]})));
        node.add_pod(p.clone());
        node.add_pod(p.clone());
        assert_eq!(node.requested.milli_cpu, 250);
        assert!(node.used_ports.contains(&HostPort {
            protocol: "TCP".into(),
            ip: String::new(),
            port: 8080
        }));
        assert!(node.remove_pod(&p.key));
        assert!(node.requested.is_zero() && node.used_ports.is_empty() && node.non_zero_requested == (0, 0));
        assert!(!node.remove_pod(&p.key));
        // Host ports of a regular init container are free again once it finished; a sidecar's
        // are held.
        let mut init = c("1m", "1Mi");
        init["ports"] = json!([{"containerPort": 80, "hostPort": 9000}]);
        let mut sidecar = init.clone();
        sidecar["name"] = json!("sidecar");
        sidecar["restartPolicy"] = json!("Always");
        sidecar["ports"] = json!([{"containerPort": 81, "hostPort": 9001}]);
        let p = pod(json!({"containers": [c("1m", "1Mi")], "initContainers": [init, sidecar]}));
        assert_eq!(p.host_ports.iter().map(|h| h.port).collect::<Vec<_>>(), [9001]);
    }

    #[test]
    fn normalisation_matches_default_normalize_score() {
        let mut s = [10, 20, 40];
        default_normalize(100, false, &mut s);
        assert_eq!(s, [25, 50, 100]);
        let mut s = [0, 1, 2];
        default_normalize(100, true, &mut s);
        assert_eq!(s, [100, 50, 0]);
        let mut s = [0, 0];
        default_normalize(100, true, &mut s);
        assert_eq!(s, [100, 100]);
    }
}
