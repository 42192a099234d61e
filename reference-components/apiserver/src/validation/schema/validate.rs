//! Validation of a custom resource against its structural schema, with kube-openapi's messages
//! as kube-apiserver turns them into field errors (`ValidateCustomResource`): a wrong type is
//! `FieldValueTypeInvalid` naming the type found, `enum` is `FieldValueNotSupported`,
//! `maxLength` `FieldValueTooLong`, `maxItems`/`maxProperties` `FieldValueTooMany`, a missing
//! `required` field `FieldValueRequired`, everything else `FieldValueInvalid`.

use std::collections::HashMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use regex::Regex;
use serde_json::{Map, Number, Value};

use super::{embedded, field, format, is_resource_field, items, nullable};
use crate::validation::formats::{dns1035_label, dns1123_subdomain};
use crate::validation::meta::{validate_annotations, validate_labels};
use crate::validation::{FieldError, Path, go_quote};

/// Validates values against schemas, with the schema's patterns compiled.
pub(crate) struct Validator<'a> {
    patterns: &'a HashMap<String, Regex>,
}

/// The JSON type of a value, as kube-openapi names it in messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `v` is of the schema type `ty` (integers are numbers; integral floats are integers).
fn type_matches(ty: &str, v: &Value) -> bool {
    match (ty, v) {
        ("object", Value::Object(_))
        | ("array", Value::Array(_))
        | ("string", Value::String(_))
        | ("boolean", Value::Bool(_))
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// JSON equality with numbers compared by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, x)| y.get(k).is_some_and(|y| same(x, y)))
        }
        _ => a == b,
    }
}

fn numbers_equal(x: &Number, y: &Number) -> bool {
    match (x.as_i64(), y.as_i64()) {
        (Some(x), Some(y)) => x == y,
        _ => x.as_f64() == y.as_f64(),
    }
}

/// `<path> in body`, the subject of kube-openapi's messages.
fn in_body(path: &Path) -> String {
    format!("{path} in body")
}

impl<'a> Validator<'a> {
    /// A validator using `patterns` (compiled `pattern`s by source).
    pub(crate) fn new(patterns: &'a HashMap<String, Regex>) -> Self {
        Self { patterns }
    }

    /// Every problem of an object of the resource: its fields by the schema, with `apiVersion`
    /// and `kind` left to the server and `metadata` checked only where the schema restricts
    /// `metadata.name` or `metadata.generateName`.
    pub(crate) fn resource(&self, s: &JSONSchemaProps, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let root = Path::new("");
        match obj {
            Value::Object(map) => {
                self.object(s, map, &root, true, &mut errs);
                self.junctors(s, obj, &root, &mut errs);
            }
            other => errs.push(FieldError::type_invalid(
                &root,
                json_type(other),
                "must be an object",
            )),
        }
        errs
    }

    /// Problems of `v`, a value of schema `s` at `path`.
    pub(crate) fn value(&self, s: &JSONSchemaProps, v: &Value, path: &Path, errs: &mut Vec<FieldError>) {
        let int_or_string = s.x_kubernetes_int_or_string == Some(true);
        let ty = if int_or_string {
            Some("integer,string")
        } else {
            s.type_.as_deref().filter(|t| !t.is_empty())
        };
        if v.is_null() {
            if !nullable(s)
                && let Some(ty) = ty
            {
                errs.push(self.type_error(path, ty, v));
            }
            return;
        }
        let type_ok = match ty {
            Some(_) if int_or_string => matches!(v, Value::String(_)) || type_matches("integer", v),
            Some(t) => type_matches(t, v),
            None => true,
        };
        if !type_ok {
            errs.push(self.type_error(path, ty.unwrap_or_default(), v));
            return;
        }
        if let Some(allowed) = &s.enum_
            && !allowed.iter().any(|a| same(&a.0, v))
        {
            let shown: Vec<String> = allowed
                .iter()
                .map(|a| match &a.0 {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
            errs.push(FieldError::not_supported(path, v.clone(), &shown));
        }
        match v {
            Value::String(text) => self.string(s, text, path, errs),
            Value::Number(n) => self.number(s, n, path, errs),
            Value::Array(list) => self.array(s, list, path, errs),
            Value::Object(map) => self.object(s, map, path, embedded(s), errs),
            _ => {}
        }
        self.junctors(s, v, path, errs);
    }

    fn type_error(&self, path: &Path, ty: &str, v: &Value) -> FieldError {
        let found = json_type(v);
        FieldError::type_invalid(
            path,
            found,
            format!("{} must be of type {ty}: {}", in_body(path), go_quote(found)),
        )
    }

    fn string(&self, s: &JSONSchemaProps, text: &str, path: &Path, errs: &mut Vec<FieldError>) {
        let chars = text.chars().count() as i64;
        if let Some(max) = s.max_length
            && chars > max
        {
            errs.push(FieldError::too_long(path, max.max(0) as usize));
        }
        if let Some(min) = s.min_length
            && chars < min
        {
            errs.push(FieldError::invalid(
                path,
                text,
                format!("{} should be at least {min} chars long", in_body(path)),
            ));
        }
        if let Some(pattern) = &s.pattern
            && let Some(re) = self.patterns.get(pattern)
            && !re.is_match(text)
        {
            errs.push(FieldError::invalid(
                path,
                text,
                format!("{} should match '{pattern}'", in_body(path)),
            ));
        }
        if let Some(f) = s.format.as_deref()
            && !format::valid(f, text)
        {
            errs.push(FieldError::type_invalid(
                path,
                text,
                format!("{} must be of type {f}: {}", in_body(path), go_quote(text)),
            ));
        }
    }

    fn number(&self, s: &JSONSchemaProps, n: &Number, path: &Path, errs: &mut Vec<FieldError>) {
        let Some(x) = n.as_f64() else {
            return;
        };
        let value = Value::Number(n.clone());
        if let Some(max) = s.maximum {
            let (bad, how) = if s.exclusive_maximum == Some(true) {
                (x >= max, "less than")
            } else {
                (x > max, "less than or equal to")
            };
            if bad {
                errs.push(FieldError::invalid(
                    path,
                    value.clone(),
                    format!("{} should be {how} {max}", in_body(path)),
                ));
            }
        }
        if let Some(min) = s.minimum {
            let (bad, how) = if s.exclusive_minimum == Some(true) {
                (x <= min, "greater than")
            } else {
                (x < min, "greater than or equal to")
            };
            if bad {
                errs.push(FieldError::invalid(
                    path,
                    value.clone(),
                    format!("{} should be {how} {min}", in_body(path)),
                ));
            }
        }
        if let Some(m) = s.multiple_of.filter(|m| *m > 0.0)
            && (x / m).fract() != 0.0
        {
            errs.push(FieldError::invalid(
                path,
                value,
                format!("{} should be a multiple of {m}", in_body(path)),
            ));
        }
    }

    fn array(&self, s: &JSONSchemaProps, list: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
        let len = list.len();
        if let Some(max) = s.max_items
            && len as i64 > max
        {
            errs.push(FieldError::too_many(path, len, max.max(0) as usize));
        }
        if let Some(min) = s.min_items
            && (len as i64) < min
        {
            errs.push(FieldError::invalid(
                path,
                len,
                format!("{} should have at least {min} items", in_body(path)),
            ));
        }
        if let Some(item) = items(s) {
            for (i, x) in list.iter().enumerate() {
                self.value(item, x, &path.index(i), errs);
            }
        }
        match s.x_kubernetes_list_type.as_deref() {
            Some("set") => {
                for (i, x) in list.iter().enumerate() {
                    if list[..i].iter().any(|y| same(x, y)) {
                        errs.push(FieldError::duplicate(&path.index(i), x.clone()));
                    }
                }
            }
            Some("map") => {
                let keys = s.x_kubernetes_list_map_keys.clone().unwrap_or_default();
                let key_of = |x: &Value| -> Value {
                    keys.iter()
                        .map(|k| (k.clone(), x.get(k).cloned().unwrap_or(Value::Null)))
                        .collect::<Map<String, Value>>()
                        .into()
                };
                for (i, x) in list.iter().enumerate() {
                    let key = key_of(x);
                    if list[..i].iter().any(|y| same(&key_of(y), &key)) {
                        errs.push(FieldError::duplicate(&path.index(i), key));
                    }
                }
            }
            _ => {}
        }
    }

    /// An object; `resource` for the resource itself and embedded resources.
    fn object(
        &self,
        s: &JSONSchemaProps,
        map: &Map<String, Value>,
        path: &Path,
        resource: bool,
        errs: &mut Vec<FieldError>,
    ) {
        for name in s.required.iter().flatten() {
            if !map.contains_key(name) {
                errs.push(FieldError::required(&path.child(name), ""));
            }
        }
        let count = map.len();
        if let Some(max) = s.max_properties
            && count as i64 > max
        {
            errs.push(FieldError::too_many(path, count, max.max(0) as usize));
        }
        if let Some(min) = s.min_properties
            && (count as i64) < min
        {
            errs.push(FieldError::invalid(
                path,
                count,
                format!("{} should have at least {min} properties", in_body(path)),
            ));
        }
        let is_root = resource && path.to_string().is_empty();
        for (key, value) in map {
            if resource && is_resource_field(key) {
                if is_root && key == "metadata" {
                    self.root_metadata(s, value, errs);
                }
                continue;
            }
            if let Some(f) = field(s, key) {
                self.value(f, value, &path.child(key), errs);
            }
        }
        if resource && !is_root {
            self.embedded_resource(map, path, errs);
        }
    }

    /// `metadata.name` and `metadata.generateName` against the schema's restrictions.
    fn root_metadata(&self, s: &JSONSchemaProps, meta: &Value, errs: &mut Vec<FieldError>) {
        let Some(meta_schema) = s.properties.as_ref().and_then(|p| p.get("metadata")) else {
            return;
        };
        let base = Path::new("metadata");
        for (name, prop) in meta_schema.properties.iter().flatten() {
            if let Some(v) = meta.get(name) {
                self.value(prop, v, &base.child(name), errs);
            }
        }
    }

    /// `x-kubernetes-embedded-resource`: `apiVersion` and `kind` required and well formed,
    /// `metadata` a valid object meta.
    fn embedded_resource(&self, map: &Map<String, Value>, path: &Path, errs: &mut Vec<FieldError>) {
        for f in ["apiVersion", "kind"] {
            if !map.contains_key(f) {
                errs.push(FieldError::required(&path.child(f), "must not be empty"));
            }
        }
        if let Some(v) = map.get("apiVersion") {
            let p = path.child("apiVersion");
            match v.as_str() {
                None => errs.push(FieldError::invalid(&p, v.clone(), "must be a string")),
                Some("") => errs.push(FieldError::invalid(&p, "", "must not be empty")),
                Some(gv) if gv.matches('/').count() > 1 || gv.starts_with('/') || gv.ends_with('/') => errs
                    .push(FieldError::invalid(
                        &p,
                        gv,
                        format!("unexpected GroupVersion string: {gv}"),
                    )),
                Some(_) => {}
            }
        }
        if let Some(v) = map.get("kind") {
            let p = path.child("kind");
            match v.as_str() {
                None => errs.push(FieldError::invalid(&p, v.clone(), "must be a string")),
                Some("") => errs.push(FieldError::invalid(&p, "", "must not be empty")),
                Some(kind) => {
                    let problems = dns1035_label(&kind.to_ascii_lowercase());
                    if !problems.is_empty() {
                        errs.push(FieldError::invalid(
                            &p,
                            kind,
                            format!(
                                "may have mixed case, but should otherwise match: {}",
                                problems.join(",")
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(meta) = map.get("metadata").and_then(Value::as_object) {
            let mp = path.child("metadata");
            if let Some(name) = meta.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                for msg in dns1123_subdomain(name) {
                    errs.push(FieldError::invalid(&mp.child("name"), name, msg));
                }
            }
            errs.extend(validate_labels(meta.get("labels"), &mp.child("labels")));
            errs.extend(validate_annotations(
                meta.get("annotations"),
                &mp.child("annotations"),
            ));
        }
    }

    /// `allOf`, `anyOf`, `oneOf` and `not`: value validations over the same value.
    fn junctors(&self, s: &JSONSchemaProps, v: &Value, path: &Path, errs: &mut Vec<FieldError>) {
        for branch in s.all_of.iter().flatten() {
            self.value(branch, v, path, errs);
        }
        let outcomes = |branches: &[JSONSchemaProps]| -> Vec<Vec<FieldError>> {
            branches
                .iter()
                .map(|b| {
                    let mut e = Vec::new();
                    self.value(b, v, path, &mut e);
                    e
                })
                .collect()
        };
        if let Some(any) = s.any_of.as_deref().filter(|b| !b.is_empty()) {
            let results = outcomes(any);
            if results.iter().all(|e| !e.is_empty()) {
                errs.push(FieldError::invalid(
                    path,
                    v.clone(),
                    format!("{} must validate at least one schema (anyOf)", in_body(path)),
                ));
                errs.extend(results.into_iter().flatten());
            }
        }
        if let Some(one) = s.one_of.as_deref().filter(|b| !b.is_empty()) {
            let results = outcomes(one);
            let passed = results.iter().filter(|e| e.is_empty()).count();
            if passed != 1 {
                errs.push(FieldError::invalid(
                    path,
                    v.clone(),
                    format!("{} must validate one and only one schema (oneOf)", in_body(path)),
                ));
                if passed == 0 {
                    errs.extend(results.into_iter().flatten());
                }
            }
        }
        if let Some(not) = &s.not {
            let mut e = Vec::new();
            self.value(not, v, path, &mut e);
            if e.is_empty() {
                errs.push(FieldError::invalid(
                    path,
                    v.clone(),
                    format!("{} must not validate the schema (not)", in_body(path)),
                ));
            }
        }
    }
}
