//! The schema validator, pruning and defaulting, one rule family at a time, with the messages
//! kube-apiserver gives.

use serde_json::{Value, json};

use super::Schema;

fn schema(spec_properties: Value) -> Schema {
    Schema::new(
        serde_json::from_value(json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": spec_properties}},
        }))
        .expect("a schema"),
    )
}

/// The errors of `spec` under a schema whose `spec` has `props`, as `field: body` lines.
fn errors(props: Value, spec: Value) -> Vec<String> {
    let s = schema(props);
    s.validate(
        &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}),
    )
    .iter()
    .map(ToString::to_string)
    .collect()
}

fn reasons(props: Value, spec: Value) -> Vec<String> {
    let s = schema(props);
    s.validate(&json!({"spec": spec}))
        .iter()
        .map(|e| e.to_cause().reason)
        .collect()
}

#[test]
fn types_and_nullable() {
    let props = json!({"replicas": {"type": "integer"}, "name": {"type": "string"}, "on": {"type": "boolean"},
                       "ratio": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}},
                       "maybe": {"type": "string", "nullable": true}});
    assert_eq!(
        errors(props.clone(), json!({"replicas": "3"})),
        [
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""
        ]
    );
    assert_eq!(
        reasons(props.clone(), json!({"replicas": "3"})),
        ["FieldValueTypeInvalid"]
    );
    assert_eq!(
        errors(
            props.clone(),
            json!({"replicas": 1.5, "on": "yes", "tags": [1], "ratio": 2})
        ),
        [
            "spec.on: Invalid value: \"string\": spec.on in body must be of type boolean: \"string\"",
            "spec.replicas: Invalid value: \"number\": spec.replicas in body must be of type integer: \"number\"",
            "spec.tags[0]: Invalid value: \"integer\": spec.tags[0] in body must be of type string: \"integer\"",
        ]
    );
    // Integral floats are integers, integers are numbers; nullable fields take null.
    assert!(errors(props.clone(), json!({"replicas": 2.0, "ratio": 1, "maybe": null})).is_empty());
    assert_eq!(
        errors(props, json!({"tags": [null]})),
        ["spec.tags[0]: Invalid value: \"null\": spec.tags[0] in body must be of type string: \"null\""]
    );
}

#[test]
fn required_enum_and_bounds() {
    let props = json!({
        "colour": {"type": "string", "enum": ["red", "blue"]},
        "size": {"type": "integer", "enum": [1, 2]},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
        "load": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "exclusiveMaximum": true},
        "step": {"type": "integer", "multipleOf": 5},
    });
    let s = Schema::new(
        serde_json::from_value(json!({"type": "object", "required": ["spec"],
            "properties": {"spec": {"type": "object", "required": ["colour"], "properties": props}}}))
        .unwrap(),
    );
    let found: Vec<String> = s
        .validate(&json!({"metadata": {}}))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(found, ["spec: Required value"]);
    let found: Vec<String> = s
        .validate(&json!({"spec": {"size": 3, "replicas": 0, "load": 1, "step": 7}}))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "spec.colour: Required value",
            "spec.load: Invalid value: 1: spec.load in body should be less than 1",
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
            "spec.size: Unsupported value: 3: supported values: \"1\", \"2\"",
            "spec.step: Invalid value: 7: spec.step in body should be a multiple of 5",
        ]
    );
    let found: Vec<String> = s
        .validate(&json!({"spec": {"colour": "pink", "replicas": 11, "load": 0}}))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "spec.colour: Unsupported value: \"pink\": supported values: \"red\", \"blue\"",
            "spec.load: Invalid value: 0: spec.load in body should be greater than 0",
            "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
        ]
    );
}

#[test]
fn strings_lengths_patterns_and_formats() {
    let props = json!({
        "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
        "when": {"type": "string", "format": "date-time"},
    });
    assert_eq!(
        errors(props.clone(), json!({"name": "ABCDEFG", "when": "yesterday"})),
        [
            "spec.name: Too long: may not be more than 5 bytes",
            "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'",
            "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"",
        ]
    );
    assert_eq!(
        errors(props.clone(), json!({"name": "a"})),
        ["spec.name: Invalid value: \"a\": spec.name in body should be at least 2 chars long"]
    );
    // Lengths count characters, not bytes.
    assert!(errors(props, json!({"name": "ééééé", "when": "2024-01-01T00:00:00Z"})).len() == 1);
}

#[test]
fn arrays_objects_and_list_types() {
    let props = json!({
        "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
        "labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string", "maxLength": 3}},
    });
    assert_eq!(
        errors(props.clone(), json!({"tags": ["a", "b", "a"]})),
        [
            "spec.tags: Too many: 3: must have at most 2 items",
            "spec.tags[2]: Duplicate value: \"a\""
        ]
    );
    assert_eq!(
        errors(props.clone(), json!({"tags": []})),
        ["spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"]
    );
    assert_eq!(
        errors(
            props.clone(),
            json!({"ports": [{"name": "http", "port": 80}, {"port": 81}, {"name": "http", "port": 82}]})
        ),
        [
            "spec.ports[1].name: Required value",
            "spec.ports[2]: Duplicate value: {\"name\":\"http\"}"
        ]
    );
    assert_eq!(
        errors(props, json!({"labels": {"a": "long", "b": "x"}})),
        [
            "spec.labels: Too many: 2: must have at most 1 item",
            "spec.labels.a: Too long: may not be more than 3 bytes"
        ]
    );
}

#[test]
fn int_or_string_preserve_unknown_fields_and_embedded_resources() {
    let props = json!({
        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"n": {"type": "integer"}}},
        "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}},
    });
    assert!(
        errors(
            props.clone(),
            json!({"port": 80, "raw": {"anything": [1, {"x": true}]}})
        )
        .is_empty()
    );
    assert!(errors(props.clone(), json!({"port": "http"})).is_empty());
    assert_eq!(
        errors(props.clone(), json!({"port": true, "raw": {"n": "x"}})),
        [
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
            "spec.raw.n: Invalid value: \"string\": spec.raw.n in body must be of type integer: \"string\"",
        ]
    );
    assert_eq!(
        errors(
            props.clone(),
            json!({"template": {"metadata": {"name": "Bad_Name"}, "kind": "my_kind"}})
        ),
        [
            "spec.template.apiVersion: Required value: must not be empty",
            "spec.template.kind: Invalid value: \"my_kind\": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            "spec.template.metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ]
    );
    assert!(
        errors(
            props,
            json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}})
        )
        .is_empty()
    );
}

#[test]
fn junctors_and_metadata_name() {
    let s = Schema::new(
        serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}},
                "spec": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                         "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                         "not": {"required": ["c"]}},
            },
        }))
        .unwrap(),
    );
    let found = |obj: Value| -> Vec<String> { s.validate(&obj).iter().map(ToString::to_string).collect() };
    assert!(found(json!({"metadata": {"name": "abc"}, "spec": {"a": "x"}})).is_empty());
    let both = found(json!({"metadata": {"name": "toolong"}, "spec": {"a": "x", "b": "y"}}));
    assert_eq!(
        both,
        [
            "metadata.name: Too long: may not be more than 5 bytes",
            "spec: Invalid value: {\"a\":\"x\",\"b\":\"y\"}: spec in body must validate one and only one schema (oneOf)",
        ]
    );
    let neither = found(json!({"spec": {"c": "z"}}));
    assert_eq!(
        neither[0],
        "spec: Invalid value: {\"c\":\"z\"}: spec in body must validate one and only one schema (oneOf)"
    );
    assert!(
        neither.contains(&"spec.a: Required value".to_string()),
        "{neither:#?}"
    );
    // `c` is not in the schema: `not` sees the value as sent (pruning happens before).
    assert!(
        neither
            .iter()
            .any(|e| e.ends_with("must not validate the schema (not)")),
        "{neither:#?}"
    );
}

#[test]
fn pruning_keeps_what_the_schema_specifies() {
    let s = Schema::new(
        serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "replicas": {"type": "integer"},
                    "gone": {"type": "string"},
                    "kept": {"type": "string", "nullable": true},
                    "defaulted": {"type": "string", "default": "d"},
                    "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"inner": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                    "list": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}}}},
                    "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}},
                }},
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
            },
        }))
        .unwrap(),
    );
    let mut obj = json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "extra": 1,
        "spec": {
            "replicas": 1, "unknown": "x", "gone": null, "kept": null, "defaulted": null,
            "raw": {"free": {"deep": 1}, "inner": {"a": "1", "b": "2"}},
            "list": [{"n": "a", "x": 1}],
            "map": {"k": {"v": "1", "w": "2"}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": 1}, "spec": {"any": 1}, "other": 2},
        },
        "status": {"ready": true, "phase": "x"},
    });
    s.prune(&mut obj);
    assert_eq!(
        obj,
        json!({
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {
                "replicas": 1, "kept": null, "defaulted": null,
                "raw": {"free": {"deep": 1}, "inner": {"a": "1"}},
                "list": [{"n": "a"}],
                "map": {"k": {"v": "1"}},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}},
            },
            "status": {"ready": true},
        })
    );
}

#[test]
fn defaults_fill_missing_fields_where_the_parent_exists() {
    let s = Schema::new(
        serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "default": {}, "properties": {
                    "replicas": {"type": "integer", "default": 1},
                    "mode": {"type": "string", "default": "fast"},
                    "opts": {"type": "object", "properties": {"level": {"type": "integer", "default": 3}}},
                    "items": {"type": "array", "items": {"type": "object", "properties": {"w": {"type": "integer", "default": 7}}}},
                    "nullable": {"type": "string", "nullable": true, "default": "n"},
                }},
            },
        }))
        .unwrap(),
    );
    let mut empty = json!({"metadata": {"name": "w"}});
    s.default(&mut empty);
    assert_eq!(
        empty["spec"],
        json!({"replicas": 1, "mode": "fast", "nullable": "n"})
    );
    let mut obj =
        json!({"spec": {"replicas": 5, "mode": null, "nullable": null, "opts": {}, "items": [{}, {"w": 1}]}});
    s.default(&mut obj);
    assert_eq!(
        obj["spec"],
        json!({"replicas": 5, "mode": "fast", "nullable": null, "opts": {"level": 3}, "items": [{"w": 7}, {"w": 1}]})
    );
}
