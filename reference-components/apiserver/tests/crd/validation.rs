//! Validation: custom resources against their schema (422 with one cause per field, as
//! kube-apiserver words them), and CustomResourceDefinitions themselves.

use kube_core::Patch;
use kube_core::params::{PatchParams, PostParams};
use serde_json::{Value, json};

use super::*;

/// One cause of a 422: `(reason, field, message)`.
type Cause = (String, String, String);

/// Create a widget with `spec`; the 422's message and causes.
async fn refused(client: &Client, spec: Value) -> (String, Vec<Cause>) {
    let api = widgets(client, "v1", "default");
    let status = status_of(api.create(&PostParams::default(), &widget("w", spec)).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (422, "Invalid"),
        "{status:?}"
    );
    let details = status.details.expect("details");
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("w", "example.com", "Widget")
    );
    let causes = details
        .causes
        .into_iter()
        .map(|c| (c.reason, c.field, c.message))
        .collect();
    (status.message, causes)
}

fn cause(reason: &str, field: &str, message: &str) -> Cause {
    (reason.into(), field.into(), message.into())
}

#[tokio::test]
async fn objects_are_validated_against_the_schema_rule_by_rule() {
    let Env {
        server: _server,
        client,
    } = env().await;
    install(&client, &widgets_crd(), "v1").await;
    let cases: Vec<(&str, Value, Vec<Cause>)> = vec![
        (
            "type",
            json!({"colour": "red", "replicas": "3"}),
            vec![cause(
                "FieldValueTypeInvalid",
                "spec.replicas",
                "Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
            )],
        ),
        (
            "required",
            json!({"replicas": 1}),
            vec![cause("FieldValueRequired", "spec.colour", "Required value")],
        ),
        (
            "enum",
            json!({"colour": "pink"}),
            vec![cause(
                "FieldValueNotSupported",
                "spec.colour",
                "Unsupported value: \"pink\": supported values: \"red\", \"green\", \"blue\"",
            )],
        ),
        (
            "maximum",
            json!({"colour": "red", "replicas": 11}),
            vec![cause(
                "FieldValueInvalid",
                "spec.replicas",
                "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
            )],
        ),
        (
            "minimum",
            json!({"colour": "red", "replicas": -1}),
            vec![cause(
                "FieldValueInvalid",
                "spec.replicas",
                "Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
            )],
        ),
        (
            "exclusiveMinimum",
            json!({"colour": "red", "ratio": 0}),
            vec![cause(
                "FieldValueInvalid",
                "spec.ratio",
                "Invalid value: 0: spec.ratio in body should be greater than 0",
            )],
        ),
        (
            "minLength",
            json!({"colour": "red", "name": "a"}),
            vec![cause(
                "FieldValueInvalid",
                "spec.name",
                "Invalid value: \"a\": spec.name in body should be at least 2 chars long",
            )],
        ),
        (
            "maxLength",
            json!({"colour": "red", "name": "abcdefghijk"}),
            vec![cause(
                "FieldValueTooLong",
                "spec.name",
                "Too long: may not be more than 10 bytes",
            )],
        ),
        (
            "pattern",
            json!({"colour": "red", "name": "ABC"}),
            vec![cause(
                "FieldValueInvalid",
                "spec.name",
                "Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'",
            )],
        ),
        (
            "nullable (a null item is no string)",
            json!({"colour": "red", "tags": [null]}),
            vec![cause(
                "FieldValueTypeInvalid",
                "spec.tags[0]",
                "Invalid value: \"null\": spec.tags[0] in body must be of type string: \"null\"",
            )],
        ),
        (
            "nullable (a null field that may not be null reads as absent)",
            json!({"colour": null}),
            vec![cause("FieldValueRequired", "spec.colour", "Required value")],
        ),
        (
            "items",
            json!({"colour": "red", "tags": ["ok", "toolong"]}),
            vec![cause(
                "FieldValueTooLong",
                "spec.tags[1]",
                "Too long: may not be more than 5 bytes",
            )],
        ),
        (
            "minItems",
            json!({"colour": "red", "tags": []}),
            vec![cause(
                "FieldValueInvalid",
                "spec.tags",
                "Invalid value: 0: spec.tags in body should have at least 1 items",
            )],
        ),
        (
            "maxItems",
            json!({"colour": "red", "tags": ["a", "b", "c", "d"]}),
            vec![cause(
                "FieldValueTooMany",
                "spec.tags",
                "Too many: 4: must have at most 3 items",
            )],
        ),
        (
            "additionalProperties",
            json!({"colour": "red", "labels": {"a": "x"}}),
            vec![cause(
                "FieldValueInvalid",
                "spec.labels.a",
                "Invalid value: \"x\": spec.labels.a in body should match '^v'",
            )],
        ),
        (
            "format",
            json!({"colour": "red", "contact": "nobody"}),
            vec![cause(
                "FieldValueTypeInvalid",
                "spec.contact",
                "Invalid value: \"nobody\": spec.contact in body must be of type email: \"nobody\"",
            )],
        ),
        (
            "x-kubernetes-int-or-string",
            json!({"colour": "red", "port": true}),
            vec![cause(
                "FieldValueTypeInvalid",
                "spec.port",
                "Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
            )],
        ),
        (
            "x-kubernetes-embedded-resource",
            json!({"colour": "red", "template": {"kind": "Pod"}}),
            vec![cause(
                "FieldValueRequired",
                "spec.template.apiVersion",
                "Required value: must not be empty",
            )],
        ),
    ];
    for (rule, spec, expected) in cases {
        let (message, causes) = refused(&client, spec).await;
        assert_eq!(causes, expected, "{rule}");
        let (_, field, body) = &expected[0];
        assert_eq!(
            message,
            format!("Widget.example.com \"w\" is invalid: {field}: {body}"),
            "{rule}"
        );
    }
    // Several problems at once: one cause each, the message lists them.
    let (message, causes) = refused(&client, json!({"colour": "pink", "replicas": 20})).await;
    assert_eq!(causes.len(), 2);
    assert!(
        message.starts_with("Widget.example.com \"w\" is invalid: [spec.colour: Unsupported value"),
        "{message}"
    );
    // The spec itself is required; valid values of each family pass.
    let api = widgets(&client, "v1", "default");
    let status = status_of(
        api.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "nospec"}})).unwrap(),
        )
        .await,
    );
    assert_eq!(status.details.unwrap().causes[0].field, "spec");
    let fine = json!({"colour": "green", "replicas": 10, "ratio": 1, "name": "ok", "note": null, "tags": ["a"],
                      "labels": {"a": "v1"}, "contact": "a@example.com", "port": "http",
                      "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}});
    let ok = api
        .create(&PostParams::default(), &widget("fine", fine))
        .await
        .unwrap();
    assert!(
        ok.data["spec"]["note"].is_null() && ok.data["spec"].get("note").is_some(),
        "nullable null kept"
    );
    // Updates are validated as well.
    let err = status_of(
        api.patch(
            "fine",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 99}})),
        )
        .await,
    );
    assert_eq!(err.code, 422);
}

/// POST a CRD; the 422's causes as `field: message` lines.
async fn crd_refused(client: &Client, crd: &Value) -> Vec<String> {
    let reply = raw(
        client,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        Some("application/json"),
        serde_json::to_vec(crd).unwrap(),
    )
    .await;
    let Reply::Failure(status) = reply else {
        panic!("expected a refusal, got {reply:?}");
    };
    assert_eq!(
        (status.code, status.reason.as_str()),
        (422, "Invalid"),
        "{status:?}"
    );
    let name = crd["metadata"]["name"].as_str().unwrap();
    assert!(
        status.message.starts_with(&format!(
            "CustomResourceDefinition.apiextensions.k8s.io \"{name}\" is invalid: "
        )),
        "{}",
        status.message
    );
    status
        .details
        .unwrap()
        .causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect()
}

#[tokio::test]
async fn invalid_crds_are_refused_with_field_causes() {
    let Env {
        server: _server,
        client,
    } = env().await;
    let base = widgets_crd();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = base.clone();
        f(&mut c);
        c
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|c| c["metadata"]["name"] = json!("gadgets.example.com")),
            "metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group",
        ),
        (
            with(&|c| {
                c["metadata"]["name"] = json!("widgets.example");
                c["spec"]["group"] = json!("example");
            }),
            "spec.group: Invalid value: \"example\": should be a domain with at least one dot",
        ),
        (
            with(&|c| c["spec"]["scope"] = json!("Everywhere")),
            "spec.scope: Unsupported value: \"Everywhere\": supported values: \"Cluster\", \"Namespaced\"",
        ),
        (
            with(&|c| c["spec"]["versions"][1]["storage"] = json!(true)),
            "spec.versions: Invalid value: [\"v1\",\"v1beta1\"]: must have exactly one version marked as storage version",
        ),
        (
            with(&|c| {
                c["spec"]["versions"][0]["served"] = json!(false);
                c["spec"]["versions"][1]["served"] = json!(false);
            }),
            "spec.versions: Invalid value: [\"v1\",\"v1beta1\"]: must have at least one version marked as served",
        ),
        (
            with(&|c| {
                c["spec"]["versions"][1].as_object_mut().unwrap().remove("schema");
            }),
            "spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required",
        ),
        (
            with(&|c| {
                c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["loose"] =
                    json!({"description": "no type"})
            }),
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[loose].type: Required value: must not be empty for specified object fields",
        ),
        (
            with(&|c| {
                c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["raw"] =
                    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": false})
            }),
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[raw].x-kubernetes-preserve-unknown-fields: Forbidden: must be true or undefined",
        ),
        (
            with(&|c| c["spec"]["preserveUnknownFields"] = json!(true)),
            "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ),
        (
            with(&|c| {
                c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["replicas"]
                    ["default"] = json!("one")
            }),
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[replicas].default: Invalid value: \"string\": spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[replicas].default in body must be of type integer: \"string\"",
        ),
    ];
    for (crd, expected) in cases {
        let found = crd_refused(&client, &crd).await;
        assert!(
            found.iter().any(|f| f == expected),
            "missing {expected:?} in {found:#?}"
        );
    }
    // Nothing of it was stored or served.
    let list = get_json(&client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
    // Updates: the scope and group are immutable.
    install(&client, &base, "v1").await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let err = status_of(
        crds.patch(
            "widgets.example.com",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"scope": "Cluster"}})),
        )
        .await,
    );
    assert_eq!(err.code, 422);
    assert_eq!(err.details.unwrap().causes[0].field, "spec.scope");
}
