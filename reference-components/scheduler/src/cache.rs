//! The scheduler's cache: every node with the pods counted on it, kept current from the
//! informers, plus the pods *assumed* on a node while their binding is in flight, so that the
//! next scheduling cycle already sees their resources taken (kube-scheduler's `cache.Cache`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube_runtime::reflector::ObjectKey;
use parking_lot::Mutex;

use crate::framework::{NodeInfo, PodInfo, Snapshot};

#[derive(Default)]
struct State {
    /// By name, so that a snapshot comes out in order without sorting.
    nodes: BTreeMap<String, Arc<NodeInfo>>,
    /// Which node each counted pod is on.
    pod_nodes: HashMap<ObjectKey, String>,
    assumed: HashSet<ObjectKey>,
    /// On how many nodes each image is, kept as nodes come, change their images and go.
    image_nodes: Arc<HashMap<String, usize>>,
}

impl State {
    /// Counts the images of a node that had `before` and now has `after`.
    fn count_images(&mut self, before: &HashMap<String, i64>, after: &HashMap<String, i64>) {
        let gone = before.keys().filter(|name| !after.contains_key(*name));
        let came = after.keys().filter(|name| !before.contains_key(*name));
        let (gone, came): (Vec<&String>, Vec<&String>) = (gone.collect(), came.collect());
        if gone.is_empty() && came.is_empty() {
            return;
        }
        let counts = Arc::make_mut(&mut self.image_nodes);
        for name in gone {
            if let Some(n) = counts.get_mut(name) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(name);
                }
            }
        }
        for name in came {
            *counts.entry(name.clone()).or_default() += 1;
        }
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeInfo {
        Arc::make_mut(self.nodes.entry(name.to_owned()).or_default())
    }

    fn remove_pod(&mut self, key: &ObjectKey) {
        self.assumed.remove(key);
        let Some(node) = self.pod_nodes.remove(key) else {
            return;
        };
        let info = self.node_mut(&node);
        info.remove_pod(key);
        if info.node.is_none() && info.pods.is_empty() {
            self.nodes.remove(&node);
        }
    }

    fn place(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.remove_pod(&pod.key);
        self.pod_nodes.insert(pod.key.clone(), node.to_owned());
        self.node_mut(node).add_pod(pod);
    }
}

/// Nodes and what runs on them. Cheap to share behind an `Arc`; every method takes a short lock.
#[derive(Default)]
pub struct Cache {
    state: Mutex<State>,
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A node appeared or changed.
    pub fn add_node(&self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let mut st = self.state.lock();
        let info = st.node_mut(&name);
        let before = if info.node.is_some() {
            std::mem::take(&mut info.images)
        } else {
            HashMap::new()
        };
        info.set_node(node);
        // Heartbeats keep the same images: nothing to count, nothing to copy.
        if before.len() == info.images.len() && before.keys().all(|name| info.images.contains_key(name)) {
            return;
        }
        let after = info.images.clone();
        st.count_images(&before, &after);
    }

    /// A node went away. Its pods stay counted until they go too.
    pub fn remove_node(&self, name: &str) {
        let mut st = self.state.lock();
        let info = st.node_mut(name);
        let before = if info.node.is_some() {
            std::mem::take(&mut info.images)
        } else {
            HashMap::new()
        };
        info.node = None;
        let empty = info.pods.is_empty();
        st.count_images(&before, &HashMap::new());
        if empty {
            st.nodes.remove(name);
        }
    }

    /// A pod appeared or changed: counted on its node when bound and not finished, no longer
    /// assumed once the informer shows it bound.
    pub fn update_pod(&self, pod: &Arc<Pod>) {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        let Some(key) = ObjectKey::from_obj(pod.as_ref()) else {
            return;
        };
        if node.is_empty() {
            // Unbound: only an assumed pod is counted, and it stays until its binding ends.
            let mut st = self.state.lock();
            if !st.assumed.contains(&key) {
                st.remove_pod(&key);
            }
        } else if is_terminal(pod) {
            self.state.lock().remove_pod(&key);
        } else {
            // Computed outside the lock; the informer hands bound pods here on every change.
            let info = Arc::new(PodInfo::new(pod.clone()));
            self.state.lock().place(info, node);
        }
    }

    /// A pod was deleted.
    pub fn remove_pod(&self, key: &ObjectKey) {
        self.state.lock().remove_pod(key);
    }

    /// Counts `pod` on `node` before its binding is confirmed.
    pub fn assume(&self, pod: Arc<PodInfo>, node: &str) {
        let mut st = self.state.lock();
        let key = pod.key.clone();
        st.place(pod, node);
        st.assumed.insert(key);
    }

    /// The binding of an assumed pod failed: stop counting it.
    pub fn forget(&self, key: &ObjectKey) {
        let mut st = self.state.lock();
        if st.assumed.contains(key) {
            st.remove_pod(key);
        }
    }

    /// Whether `key` is assumed and its binding not yet seen.
    pub fn is_assumed(&self, key: &ObjectKey) -> bool {
        self.state.lock().assumed.contains(key)
    }

    /// The known nodes (those whose Node object exists) in name order, and the image counts:
    /// what one scheduling cycle works on.
    pub fn snapshot(&self) -> Snapshot {
        let st = self.state.lock();
        Snapshot {
            nodes: st.nodes.values().filter(|n| n.node.is_some()).cloned().collect(),
            image_nodes: st.image_nodes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, node: &str, phase: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "ns"},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "100m"}}}]},
                "status": {"phase": phase},
            }))
            .unwrap(),
        )
    }

    fn node(name: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": "1", "pods": "10"}}}),
            )
            .unwrap(),
        )
    }

    fn cpu_on(cache: &Cache, name: &str) -> i64 {
        cache
            .snapshot()
            .nodes
            .iter()
            .find(|n| n.name() == name)
            .map_or(-1, |n| n.requested.milli_cpu)
    }

    #[test]
    fn assumed_pods_count_until_bound_or_forgotten() {
        let cache = Cache::new();
        cache.add_node(node("a"));
        cache.add_node(node("b"));
        let p = pod("p", "", "Pending");
        cache.assume(Arc::new(PodInfo::new(p.clone())), "a");
        assert_eq!(cpu_on(&cache, "a"), 100);
        // The informer still shows it unbound: it stays assumed.
        cache.update_pod(&p);
        assert!(cache.is_assumed(&ObjectKey::namespaced("ns", "p")));
        assert_eq!(cpu_on(&cache, "a"), 100);
        // Bound (to another node than assumed, say): counted there, no longer assumed.
        cache.update_pod(&pod("p", "b", "Pending"));
        assert!(!cache.is_assumed(&ObjectKey::namespaced("ns", "p")));
        assert_eq!((cpu_on(&cache, "a"), cpu_on(&cache, "b")), (0, 100));
        // Finished pods free their node.
        cache.update_pod(&pod("p", "b", "Succeeded"));
        assert_eq!(cpu_on(&cache, "b"), 0);
        // A failed binding is forgotten.
        cache.assume(Arc::new(PodInfo::new(pod("q", "", "Pending"))), "a");
        cache.forget(&ObjectKey::namespaced("ns", "q"));
        assert_eq!(cpu_on(&cache, "a"), 0);
    }

    #[test]
    fn image_counts_follow_nodes() {
        let with_images = |name: &str, images: &[&str]| {
            let images: Vec<_> = images
                .iter()
                .map(|i| json!({"names": [i], "sizeBytes": 100}))
                .collect();
            Arc::new(
                serde_json::from_value::<Node>(
                    json!({"metadata": {"name": name}, "status": {"images": images}}),
                )
                .unwrap(),
            )
        };
        let cache = Cache::new();
        cache.add_node(with_images("a", &["x:1"]));
        cache.add_node(with_images("b", &["x:1", "y:1"]));
        let counts = |c: &Cache| {
            let mut v: Vec<(String, usize)> = c
                .snapshot()
                .image_nodes
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            v.sort();
            v
        };
        assert_eq!(counts(&cache), [("x:1".to_owned(), 2), ("y:1".to_owned(), 1)]);
        let held = cache.snapshot(); // a cycle still holding the old counts keeps them
        cache.add_node(with_images("b", &["x:1"]));
        cache.add_node(with_images("b", &["x:1"])); // a heartbeat: nothing changes
        assert_eq!(counts(&cache), [("x:1".to_owned(), 2)]);
        assert_eq!(held.image_nodes.get("y:1"), Some(&1));
        cache.remove_node("a");
        assert_eq!(counts(&cache), [("x:1".to_owned(), 1)]);
    }

    #[test]
    fn pods_seen_before_their_node_count_once_it_appears() {
        let cache = Cache::new();
        cache.update_pod(&pod("p", "late", "Running"));
        assert!(cache.snapshot().nodes.is_empty());
        cache.add_node(node("late"));
        assert_eq!(cpu_on(&cache, "late"), 100);
        cache.remove_node("late");
        assert!(cache.snapshot().nodes.is_empty());
        cache.remove_pod(&ObjectKey::namespaced("ns", "p"));
        cache.add_node(node("late"));
        assert_eq!(cpu_on(&cache, "late"), 0);
    }
}
