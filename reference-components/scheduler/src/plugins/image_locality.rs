//! `ImageLocality`: prefers nodes that already hold the pod's images, the more so the larger
//! the images and the more nodes hold them (an image present everywhere says little about
//! one node).

use crate::framework::{MAX_NODE_SCORE, NodeInfo, PodInfo, ScorePlugin, Snapshot};

const MB: i64 = 1024 * 1024;
/// Below this sum a node scores 0.
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container; the sum at which a node scores 100.
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// The score plugin.
pub struct ImageLocality;

impl ScorePlugin for ImageLocality {
    fn name(&self) -> &'static str {
        "ImageLocality"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, cluster: &Snapshot) -> i64 {
        let total_nodes = cluster.nodes.len().max(1) as f64;
        let sum: i64 = pod
            .images
            .iter()
            .filter_map(|name| {
                let size = *node.images.get(name)?;
                let holders = cluster.image_nodes.get(name).copied().unwrap_or(1) as f64;
                Some((size as f64 * holders / total_nodes) as i64)
            })
            .sum();
        let max_threshold = MAX_CONTAINER_THRESHOLD * pod.images.len().max(1) as i64;
        let sum = sum.clamp(MIN_THRESHOLD, max_threshold);
        MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::json;

    use super::*;
    use crate::framework::normalized_image_name;

    fn node(name: &str, images: serde_json::Value) -> Arc<NodeInfo> {
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": name}, "status": {"images": images}}))
                .unwrap();
        let mut info = NodeInfo::default();
        info.set_node(Arc::new(node));
        Arc::new(info)
    }

    #[test]
    fn image_names_are_normalised_as_kube_scheduler_does() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.27"), "nginx:1.27");
        assert_eq!(
            normalized_image_name("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            normalized_image_name("repo/app@sha256:abc"),
            "repo/app@sha256:abc"
        );
    }

    #[test]
    fn big_images_on_few_nodes_score_most() {
        let gib = 1024 * MB;
        let with = node(
            "with",
            json!([{"names": ["registry.k8s.io/big:1.0"], "sizeBytes": 2 * gib}, {"names": ["nginx:latest"], "sizeBytes": 200 * MB}]),
        );
        let without = node(
            "without",
            json!([{"names": ["nginx:latest"], "sizeBytes": 200 * MB}]),
        );
        let cluster = Snapshot::of(vec![with.clone(), without.clone()]);
        let pod = |image: &str| {
            let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [{"name": "c", "image": image}]}})).unwrap();
            PodInfo::new(Arc::new(pod))
        };
        let big = pod("registry.k8s.io/big:1.0");
        // 2 GiB on one node of two: 1 GiB counted, past the 1000 MiB threshold: 100.
        assert_eq!(ImageLocality.score(&big, &with, &cluster), 100);
        assert_eq!(ImageLocality.score(&big, &without, &cluster), 0);
        // 200 MiB on both nodes: counted in full, (200 - 23) / (1000 - 23) of 100.
        assert_eq!(
            ImageLocality.score(&pod("nginx"), &without, &cluster),
            100 * (177 * MB) / (977 * MB)
        );
    }
}
