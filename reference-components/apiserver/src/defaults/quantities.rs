//! Quantities in canonical form, as kube-apiserver stores them.
//!
//! kube-apiserver decodes every `resource.Quantity` and writes it back with `String()`, so a
//! pod created with `cpu: "0.5"` and `memory: "1024Mi"` reads back as `500m` and `1Gi`. This
//! does the same for the quantity fields of the built-in kinds. A quantity that does not parse
//! is left as sent, for validation to reject.

use serde_json::Value;

use crate::validation::quantity;

/// Where quantities are in a pod spec (relative to it). `*` is every key of a map or item of a
/// list.
const POD_SPEC: &[&[&str]] = &[
    &["containers", "*", "resources", "limits", "*"],
    &["containers", "*", "resources", "requests", "*"],
    &["initContainers", "*", "resources", "limits", "*"],
    &["initContainers", "*", "resources", "requests", "*"],
    &["ephemeralContainers", "*", "resources", "limits", "*"],
    &["ephemeralContainers", "*", "resources", "requests", "*"],
    &["resources", "limits", "*"],
    &["resources", "requests", "*"],
    &["overhead", "*"],
    &["volumes", "*", "emptyDir", "sizeLimit"],
];

/// Where quantities are in a PersistentVolumeClaim spec.
const CLAIM_SPEC: &[&[&str]] = &[&["resources", "limits", "*"], &["resources", "requests", "*"]];

/// Canonicalises the quantities of a `group`/`kind` object in place.
pub fn canonicalise(group: &str, kind: &str, obj: &mut Value) {
    let pod_spec_at: &[&str] = match (group, kind) {
        ("", "Pod") => &["spec"],
        ("", "PodTemplate") => &["template", "spec"],
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => &["spec", "template", "spec"],
        ("batch", "CronJob") => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => &[],
    };
    if !pod_spec_at.is_empty() {
        for path in POD_SPEC {
            at(obj, pod_spec_at, path);
        }
    }
    match (group, kind) {
        ("apps", "StatefulSet") => {
            for path in CLAIM_SPEC {
                at(obj, &["spec", "volumeClaimTemplates", "*", "spec"], path);
            }
        }
        ("", "PersistentVolumeClaim") => {
            for path in CLAIM_SPEC {
                at(obj, &["spec"], path);
            }
            at(obj, &["status"], &["capacity", "*"]);
            at(obj, &["status"], &["allocatedResources", "*"]);
        }
        ("", "PersistentVolume") => at(obj, &["spec"], &["capacity", "*"]),
        ("", "ResourceQuota") => {
            at(obj, &["spec"], &["hard", "*"]);
            at(obj, &["status"], &["hard", "*"]);
            at(obj, &["status"], &["used", "*"]);
        }
        ("", "LimitRange") => {
            for field in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] {
                at(obj, &["spec"], &["limits", "*", field, "*"]);
            }
        }
        ("", "Node") => {
            at(obj, &["status"], &["capacity", "*"]);
            at(obj, &["status"], &["allocatable", "*"]);
        }
        _ => {}
    }
}

/// Canonicalises what `prefix` then `path` lead to.
fn at(obj: &mut Value, prefix: &[&str], path: &[&str]) {
    let mut node = obj;
    for segment in prefix {
        match node.get_mut(*segment) {
            Some(next) => node = next,
            None => return,
        }
    }
    walk(node, path);
}

fn walk(node: &mut Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        if let Value::String(s) = node {
            canonicalise_str(s);
        }
        return;
    };
    match (node, *first) {
        (Value::Object(map), "*") => map.values_mut().for_each(|v| walk(v, rest)),
        (Value::Array(items), "*") => items.iter_mut().for_each(|v| walk(v, rest)),
        (Value::Object(map), name) => {
            if let Some(v) = map.get_mut(name) {
                walk(v, rest);
            }
        }
        _ => {}
    }
}

/// What a quantity string canonicalises to.
#[derive(Clone)]
enum Canonical {
    /// It is canonical already.
    Same,
    /// This instead.
    Other(String),
    /// It does not parse (left for validation to reject).
    Invalid,
}

/// How many quantity strings a thread remembers before it starts over.
const REMEMBERED: usize = 1024;

/// Rewrites `s` in canonical form. The answers are remembered per thread: the same few
/// quantities (`100m`, `64Mi`, `0.5`) come back in every pod of a template, and parsing and
/// printing one costs ~2,700 instructions where looking it up costs about a tenth of that.
fn canonicalise_str(s: &mut String) {
    thread_local! {
        static SEEN: std::cell::RefCell<std::collections::HashMap<String, Canonical>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    let answer = SEEN.with(|seen| {
        if let Some(known) = seen.borrow().get(s.as_str()) {
            return known.clone();
        }
        let answer = match quantity::parse(s) {
            Some(q) => {
                let canonical = q.canonical();
                if canonical == *s {
                    Canonical::Same
                } else {
                    Canonical::Other(canonical)
                }
            }
            None => Canonical::Invalid,
        };
        let mut seen = seen.borrow_mut();
        if seen.len() >= REMEMBERED {
            seen.clear();
        }
        seen.insert(s.clone(), answer.clone());
        answer
    });
    if let Canonical::Other(canonical) = answer {
        *s = canonical;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_read_back_as_kubernetes_prints_them() {
        let mut pod = json!({"spec": {
            "containers": [{"name": "a", "resources": {
                "requests": {"cpu": "0.5", "memory": "1024Mi", "example.com/gpu": "1000m"},
                "limits": {"cpu": "2000m", "memory": "1.5Gi", "ephemeral-storage": "bad"}}}],
            "overhead": {"cpu": "0.1"},
            "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1048576Ki"}}],
            "nodeSelector": {"size": "1000m"}
        }});
        canonicalise("", "Pod", &mut pod);
        let r = &pod["spec"]["containers"][0]["resources"];
        assert_eq!(
            r["requests"],
            json!({"cpu": "500m", "memory": "1Gi", "example.com/gpu": "1"})
        );
        assert_eq!(
            r["limits"],
            json!({"cpu": "2", "memory": "1536Mi", "ephemeral-storage": "bad"})
        );
        assert_eq!(pod["spec"]["overhead"]["cpu"], "100m");
        assert_eq!(pod["spec"]["volumes"][0]["emptyDir"]["sizeLimit"], "1Gi");
        // Not a quantity field: untouched.
        assert_eq!(pod["spec"]["nodeSelector"]["size"], "1000m");

        let mut deployment = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "1000m"}}}]}}}});
        canonicalise("apps", "Deployment", &mut deployment);
        assert_eq!(
            deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"],
            "1"
        );

        let mut quota = json!({"spec": {"hard": {"requests.cpu": "1000m", "pods": "10"}}});
        canonicalise("", "ResourceQuota", &mut quota);
        assert_eq!(quota["spec"]["hard"], json!({"requests.cpu": "1", "pods": "10"}));

        let mut limits = json!({"spec": {"limits": [{"type": "Container", "max": {"memory": "2048Mi"}}]}});
        canonicalise("", "LimitRange", &mut limits);
        assert_eq!(limits["spec"]["limits"][0]["max"]["memory"], "2Gi");

        let mut claim = json!({"spec": {"resources": {"requests": {"storage": "1024Mi"}}}});
        canonicalise("", "PersistentVolumeClaim", &mut claim);
        assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
    }

    #[test]
    fn remembered_answers_are_the_computed_ones() {
        let inputs = [
            "0.5", "1024Mi", "1000m", "2", "bad", "1.5Gi", "100m", "0", "1e3", "12k",
        ];
        let first: Vec<String> = inputs
            .iter()
            .map(|q| {
                let mut s = q.to_string();
                canonicalise_str(&mut s);
                s
            })
            .collect();
        // Again, from the thread's memory this time; and past the memory's size, from scratch.
        for round in 0..2 {
            for (q, expected) in inputs.iter().zip(&first) {
                let mut s = q.to_string();
                canonicalise_str(&mut s);
                assert_eq!(&s, expected, "{q} (round {round})");
            }
            for i in 0..REMEMBERED {
                canonicalise_str(&mut format!("{i}m"));
            }
        }
        let fresh: Vec<Option<String>> = inputs
            .iter()
            .map(|q| quantity::parse(q).map(|p| p.canonical()))
            .collect();
        for ((q, got), want) in inputs.iter().zip(&first).zip(fresh) {
            assert_eq!(got, &want.unwrap_or_else(|| q.to_string()), "{q}");
        }
    }
}
