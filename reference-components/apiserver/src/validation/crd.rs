//! CustomResourceDefinition validation (apiextensions' `ValidateCustomResourceDefinition` and
//! its update variant), for `apiextensions.k8s.io/v1`: names, scope, versions (exactly one
//! stored, at least one served), a structural schema for every version (with valid patterns and
//! defaults), subresources, printer columns, conversion.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionVersion,
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::{Value, json};

use super::formats::{IMMUTABLE, dns1035_label, dns1123_subdomain};
use super::schema::check_default;
use super::{FieldError, Path};

/// The annotation a CRD in a `*.k8s.io` or `*.kubernetes.io` group must carry.
pub(crate) const API_APPROVED: &str = "api-approved.kubernetes.io";

/// Problems of the CRD `obj` (its stored JSON), on create (`old` is `None`) or update.
pub(crate) fn validate(obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let crd: CustomResourceDefinition = match serde_json::from_value(obj.clone()) {
        Ok(c) => c,
        Err(e) => {
            return vec![FieldError::invalid(
                &Path::new("spec"),
                Value::Null,
                e.to_string(),
            )];
        }
    };
    let old: Option<CustomResourceDefinition> = old.and_then(|o| serde_json::from_value(o.clone()).ok());
    let spec = &crd.spec;
    let sp = Path::new("spec");
    let mut errs = Vec::new();

    let name = crd.metadata.name.as_deref().unwrap_or_default();
    if name != format!("{}.{}", spec.names.plural, spec.group) {
        errs.push(FieldError::invalid(
            &Path::new("metadata").child("name"),
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    errs.extend(group(&crd, &sp));
    match spec.scope.as_str() {
        "" => errs.push(FieldError::required(&sp.child("scope"), "")),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError::not_supported(
            &sp.child("scope"),
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    errs.extend(names(&spec.names, &sp.child("names")));
    errs.extend(versions(&spec.versions, &sp.child("versions")));
    if spec.preserve_unknown_fields == Some(true) {
        errs.push(FieldError::invalid(
            &sp.child("preserveUnknownFields"),
            true,
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
    if let Some(strategy) = spec.conversion.as_ref().map(|c| c.strategy.as_str())
        && strategy != "None"
    {
        // Conversion webhooks are not served by the reference apiserver.
        errs.push(FieldError::not_supported(
            &sp.child("conversion").child("strategy"),
            strategy,
            &["None"],
        ));
    }
    let stored = crd.status.as_ref().and_then(|s| s.stored_versions.as_ref());
    for (i, v) in stored.into_iter().flatten().enumerate() {
        if !spec.versions.iter().any(|sv| &sv.name == v) {
            errs.push(FieldError::invalid(
                &Path::new("status").child("storedVersions").index(i),
                v.as_str(),
                format!(
                    "missing from spec.versions; {v} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {v} and {v} is removed from status.storedVersions"
                ),
            ));
        }
    }
    if let Some(old) = &old {
        if old.spec.group != spec.group {
            errs.push(FieldError::invalid(
                &sp.child("group"),
                spec.group.as_str(),
                IMMUTABLE,
            ));
        }
        if old.spec.scope != spec.scope {
            errs.push(FieldError::invalid(
                &sp.child("scope"),
                spec.scope.as_str(),
                IMMUTABLE,
            ));
        }
    }
    errs
}

fn group(crd: &CustomResourceDefinition, sp: &Path) -> Vec<FieldError> {
    let g = crd.spec.group.as_str();
    let path = sp.child("group");
    if g.is_empty() {
        return vec![FieldError::required(&path, "")];
    }
    let mut errs: Vec<FieldError> = dns1123_subdomain(g)
        .into_iter()
        .map(|m| FieldError::invalid(&path, g, m))
        .collect();
    if !g.contains('.') {
        errs.push(FieldError::invalid(
            &path,
            g,
            "should be a domain with at least one dot",
        ));
    }
    let protected = ["k8s.io", "kubernetes.io"]
        .iter()
        .any(|p| g == *p || g.ends_with(&format!(".{p}")));
    let approved = crd
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(API_APPROVED))
        .is_some_and(|v| !v.is_empty());
    if protected && !approved {
        errs.push(FieldError::required(
            &Path::new("metadata").child("annotations").key(API_APPROVED),
            format!(
                "protected groups must have approval annotation {:?}, see https://github.com/kubernetes/enhancements/pull/1111",
                API_APPROVED
            ),
        ));
    }
    errs
}

fn dns1035(path: &Path, v: &str) -> Option<FieldError> {
    let problems = dns1035_label(v);
    (!problems.is_empty()).then(|| FieldError::invalid(path, v, problems.join(",")))
}

fn kind_name(path: &Path, v: &str) -> Option<FieldError> {
    let problems = dns1035_label(&v.to_ascii_lowercase());
    (!problems.is_empty()).then(|| {
        FieldError::invalid(
            path,
            v,
            format!(
                "may have mixed case, but should otherwise match: {}",
                problems.join(",")
            ),
        )
    })
}

fn names(n: &CustomResourceDefinitionNames, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if n.plural.is_empty() {
        errs.push(FieldError::required(&path.child("plural"), ""));
    } else {
        errs.extend(dns1035(&path.child("plural"), &n.plural));
    }
    if let Some(s) = n.singular.as_deref().filter(|s| !s.is_empty()) {
        errs.extend(dns1035(&path.child("singular"), s));
    }
    if n.kind.is_empty() {
        errs.push(FieldError::required(&path.child("kind"), ""));
    } else {
        errs.extend(kind_name(&path.child("kind"), &n.kind));
    }
    match n.list_kind.as_deref().filter(|l| !l.is_empty()) {
        None => errs.push(FieldError::required(&path.child("listKind"), "")),
        Some(l) => {
            errs.extend(kind_name(&path.child("listKind"), l));
            if l == n.kind {
                errs.push(FieldError::invalid(
                    &path.child("listKind"),
                    l,
                    "kind and listKind may not be the same",
                ));
            }
        }
    }
    for (field, list) in [("shortNames", &n.short_names), ("categories", &n.categories)] {
        for (i, s) in list.iter().flatten().enumerate() {
            errs.extend(dns1035(&path.child(field).index(i), s));
        }
    }
    errs
}

fn versions(versions: &[CustomResourceDefinitionVersion], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let listed = || json!(versions.iter().map(|v| v.name.as_str()).collect::<Vec<_>>());
    if versions.is_empty() {
        errs.push(FieldError::required(
            path,
            "must have exactly one version marked as storage version",
        ));
        return errs;
    }
    if versions.iter().filter(|v| v.storage).count() != 1 {
        errs.push(FieldError::invalid(
            path,
            listed(),
            "must have exactly one version marked as storage version",
        ));
    }
    if !versions.iter().any(|v| v.served) {
        errs.push(FieldError::invalid(
            path,
            listed(),
            "must have at least one version marked as served",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let vp = path.index(i);
        if v.name.is_empty() {
            errs.push(FieldError::required(&vp.child("name"), ""));
        } else {
            errs.extend(dns1035(&vp.child("name"), &v.name));
        }
        if versions[..i].iter().any(|o| o.name == v.name) {
            errs.push(FieldError::duplicate(&vp.child("name"), v.name.as_str()));
        }
        let schema_path = vp.child("schema").child("openAPIV3Schema");
        match v.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()) {
            None => errs.push(FieldError::required(&schema_path, "schemas are required")),
            Some(schema) => {
                errs.extend(structural(schema, &schema_path));
                schema_values(schema, &schema_path, &mut errs);
            }
        }
        errs.extend(subresources(v, &vp.child("subresources")));
        errs.extend(printer_columns(v, &vp.child("additionalPrinterColumns")));
    }
    errs
}

/// `check_structural`'s findings as field errors under `base`.
fn structural(schema: &JSONSchemaProps, base: &Path) -> Vec<FieldError> {
    let Err(problems) = kube_core::crd::check_structural(schema) else {
        return Vec::new();
    };
    problems
        .iter()
        .map(|p| {
            let (at, problem) = p.split_once(": ").unwrap_or(("(root)", p.as_str()));
            let rel = at.trim_start_matches("(root)").trim_start_matches('.');
            let path = if rel.is_empty() {
                base.clone()
            } else {
                Path::new(&format!("{base}.{rel}"))
            };
            if problem.starts_with("must not be empty") || problem.starts_with("must be specified") {
                FieldError::required(&path, problem)
            } else {
                FieldError::forbidden(&path, problem)
            }
        })
        .collect()
}

/// Patterns that compile and defaults that are valid, everywhere in the schema.
fn schema_values(s: &JSONSchemaProps, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(p) = &s.pattern
        && let Err(e) = regex::Regex::new(p)
    {
        errs.push(FieldError::invalid(
            &path.child("pattern"),
            p.as_str(),
            format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
    if let Some(d) = &s.default {
        errs.extend(check_default(s, &d.0, &path.child("default")));
    }
    for (name, p) in s.properties.iter().flatten() {
        schema_values(p, &path.child("properties").key(name), errs);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(i)) = &s.items {
        schema_values(i, &path.child("items"), errs);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(a)) = &s.additional_properties {
        schema_values(a, &path.child("additionalProperties"), errs);
    }
    for (junctor, list) in [("allOf", &s.all_of), ("anyOf", &s.any_of), ("oneOf", &s.one_of)] {
        for (i, b) in list.iter().flatten().enumerate() {
            schema_values(b, &path.child(junctor).index(i), errs);
        }
    }
}

/// A simple JSON path (`.a.b`) under one of `roots` (`.spec`, `.status`).
fn simple_path_under(p: &str, roots: &[&str]) -> bool {
    roots.iter().any(|r| {
        p.strip_prefix(r)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| {
                rest.split('.')
                    .all(|seg| !seg.is_empty() && !seg.contains(['[', ']', '*']))
            })
    })
}

fn subresources(v: &CustomResourceDefinitionVersion, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(scale) = v.subresources.as_ref().and_then(|s| s.scale.as_ref()) else {
        return errs;
    };
    let sp = path.child("scale");
    let checks = [
        (
            "specReplicasPath",
            Some(&scale.spec_replicas_path),
            &[".spec"][..],
            "should be a json path under .spec",
        ),
        (
            "statusReplicasPath",
            Some(&scale.status_replicas_path),
            &[".status"][..],
            "should be a json path under .status",
        ),
        (
            "labelSelectorPath",
            scale.label_selector_path.as_ref(),
            &[".spec", ".status"][..],
            "should be a json path under either .spec or .status",
        ),
    ];
    for (field, value, roots, msg) in checks {
        match value {
            Some(p) if p.is_empty() && field != "labelSelectorPath" => {
                errs.push(FieldError::required(&sp.child(field), ""))
            }
            Some(p) if !simple_path_under(p, roots) => {
                errs.push(FieldError::invalid(&sp.child(field), p.as_str(), msg))
            }
            _ => {}
        }
    }
    errs
}

fn printer_columns(v: &CustomResourceDefinitionVersion, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, c) in v.additional_printer_columns.iter().flatten().enumerate() {
        let cp = path.index(i);
        if c.name.is_empty() {
            errs.push(FieldError::required(&cp.child("name"), ""));
        }
        const TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];
        if c.type_.is_empty() {
            errs.push(FieldError::required(&cp.child("type"), ""));
        } else if !TYPES.contains(&c.type_.as_str()) {
            errs.push(FieldError::not_supported(
                &cp.child("type"),
                c.type_.as_str(),
                &TYPES,
            ));
        }
        const FORMATS: [&str; 8] = [
            "int32",
            "int64",
            "float",
            "double",
            "byte",
            "date",
            "date-time",
            "password",
        ];
        if let Some(f) = c
            .format
            .as_deref()
            .filter(|f| !f.is_empty() && !FORMATS.contains(f))
        {
            errs.push(FieldError::not_supported(&cp.child("format"), f, &FORMATS));
        }
        if c.json_path.is_empty() {
            errs.push(FieldError::required(&cp.child("jsonPath"), ""));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(patch: impl FnOnce(&mut Value)) -> Value {
        let mut v = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                              "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}}}],
            },
        });
        patch(&mut v);
        v
    }

    fn fields(v: &Value) -> Vec<String> {
        validate(v, None).iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn accepts_a_valid_crd() {
        assert_eq!(fields(&crd(|_| {})), Vec::<String>::new());
    }

    #[test]
    fn rejects_bad_names_group_scope_and_versions() {
        let bad = crd(|v| {
            v["metadata"]["name"] = json!("gadgets.example.com");
            v["spec"]["group"] = json!("example");
            v["spec"]["scope"] = json!("Global");
            v["spec"]["names"]["listKind"] = json!("Widget");
            v["spec"]["names"]["shortNames"] = json!(["w_d"]);
            v["spec"]["versions"] = json!([
                {"name": "v1", "served": false, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}},
                {"name": "v1", "served": false, "storage": false},
            ]);
        });
        let found = fields(&bad);
        let expected = [
            "metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group",
            "spec.group: Invalid value: \"example\": should be a domain with at least one dot",
            "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"",
            "spec.names.listKind: Invalid value: \"Widget\": kind and listKind may not be the same",
            "spec.versions: Invalid value: [\"v1\",\"v1\"]: must have exactly one version marked as storage version",
            "spec.versions: Invalid value: [\"v1\",\"v1\"]: must have at least one version marked as served",
            "spec.versions[1].name: Duplicate value: \"v1\"",
            "spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required",
        ];
        for e in expected {
            assert!(found.iter().any(|f| f == e), "missing {e:?} in {found:#?}");
        }
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("spec.names.shortNames[0]: Invalid value: \"w_d\"")),
            "{found:#?}"
        );
    }

    #[test]
    fn rejects_non_structural_schemas_bad_patterns_and_defaults() {
        let bad = crd(|v| {
            v["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = json!({
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {
                    "untyped": {"description": "no type"},
                    "name": {"type": "string", "pattern": "([a-z"},
                    "replicas": {"type": "integer", "default": "three"},
                    "opts": {"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x", "b": 1}},
                }}}
            });
        });
        let found = fields(&bad);
        let base = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties";
        let expected = [
            format!("{base}[untyped].type: Required value: must not be empty for specified object fields"),
            format!(
                "{base}[replicas].default: Invalid value: \"string\": {base}[replicas].default in body must be of type integer: \"string\""
            ),
            format!(
                "{base}[opts].default: Invalid value: {{\"a\":\"x\",\"b\":1}}: must not have unknown fields"
            ),
        ];
        for e in &expected {
            assert!(found.iter().any(|f| f == e), "missing {e:?} in {found:#?}");
        }
        assert!(
            found.iter().any(|f| f.starts_with(&format!(
                "{base}[name].pattern: Invalid value: \"([a-z\": must be a valid regular expression"
            ))),
            "{found:#?}"
        );
    }

    #[test]
    fn protected_groups_scale_paths_columns_and_immutable_fields() {
        let bad = crd(|v| {
            v["metadata"]["name"] = json!("widgets.apps.k8s.io");
            v["spec"]["group"] = json!("apps.k8s.io");
            v["spec"]["versions"][0]["subresources"] = json!({"scale": {"specReplicasPath": ".status.replicas", "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".metadata.labels"}});
            v["spec"]["versions"][0]["additionalPrinterColumns"] =
                json!([{"name": "X", "type": "float", "jsonPath": ".spec.x"}]);
        });
        let found = fields(&bad);
        let sub = "spec.versions[0].subresources.scale";
        for e in [
            "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation \"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111".to_string(),
            format!("{sub}.specReplicasPath: Invalid value: \".status.replicas\": should be a json path under .spec"),
            format!("{sub}.labelSelectorPath: Invalid value: \".metadata.labels\": should be a json path under either .spec or .status"),
            "spec.versions[0].additionalPrinterColumns[0].type: Unsupported value: \"float\": supported values: \"integer\", \"number\", \"string\", \"boolean\", \"date\"".to_string(),
        ] {
            assert!(found.contains(&e), "missing {e:?} in {found:#?}");
        }
        let old = crd(|_| {});
        let new = crd(|v| v["spec"]["scope"] = json!("Cluster"));
        let found: Vec<String> = validate(&new, Some(&old)).iter().map(|e| e.to_string()).collect();
        assert_eq!(
            found,
            ["spec.scope: Invalid value: \"Cluster\": field is immutable"]
        );
    }
}
