//! CustomResourceDefinitions and custom objects with printer columns.

use super::{row, start, table};
use crate::kubectl;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Owner, type: string, jsonPath: .spec.owner, priority: 1}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget should be.
            properties:
              size: {type: integer, minimum: 1, description: How big the widget is.}
              color: {type: string, enum: [red, blue]}
              owner: {type: string}
"#;

const WIDGETS: &str = r#"
apiVersion: example.com/v1
kind: Widget
metadata: {name: small}
spec: {size: 1, color: red, owner: ann}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: large}
spec: {size: 9, color: blue}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_with_printer_columns() {
    let (_server, k) = start().await;
    let out = k.apply(CRD).await;
    assert_eq!(
        out.trim(),
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"
    );
    let out = k
        .ok(&[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=30s",
        ])
        .await;
    assert!(out.contains("condition met"), "{out}");
    let rows = table(&k.ok(&["get", "crds"]).await);
    assert_eq!(rows[0], ["NAME", "CREATED AT"]);

    let out = k.apply(WIDGETS).await;
    assert!(
        out.contains("widget.example.com/small created") && out.contains("widget.example.com/large created"),
        "{out}"
    );
    assert!(
        k.apply(WIDGETS)
            .await
            .contains("widget.example.com/small unchanged")
    );
    let rows = table(&k.ok(&["get", "widgets"]).await);
    assert_eq!(rows[0], ["NAME", "SIZE", "COLOR", "AGE"]);
    assert_eq!(row(&rows, "NAME", "small")[1..3], ["1", "red"]);
    assert_eq!(row(&rows, "NAME", "large")[1..3], ["9", "blue"]);
    let rows = table(&k.ok(&["get", "wd", "-o", "wide"]).await);
    assert_eq!(rows[0], ["NAME", "SIZE", "COLOR", "OWNER", "AGE"]);
    assert_eq!(row(&rows, "NAME", "small")[3], "ann");
    let rows = table(&k.ok(&["api-resources", "--api-group=example.com"]).await);
    assert_eq!(
        row(&rows, "NAME", "widgets")[1..],
        ["wd", "example.com/v1", "true", "Widget"]
    );

    // The schema is the server's: validated on apply, explained from OpenAPI v3.
    let invalid = WIDGETS.replace("size: 1", "size: 0");
    let out = k.kubectl_stdin(&["apply", "-f", "-"], &invalid).await;
    assert!(!out.success());
    assert!(
        out.stderr.contains("should be greater than or equal to 1"),
        "{out}"
    );
    let explained = k.ok(&["explain", "widget.spec"]).await;
    assert!(
        explained.contains("What the widget should be.") && explained.contains("How big the widget is."),
        "{explained}"
    );

    // edit (a JSON merge patch for custom resources) and delete.
    let editor = k.script("editor.sh", r#"sed -i 's/color: red/color: blue/' "$1""#);
    let mut cmd = k.kubectl_command(&["edit", "widget", "small"]);
    cmd.env("KUBE_EDITOR", &editor);
    let out = kubectl::run(cmd, None, "kubectl edit widget").await;
    assert!(out.success(), "{out}");
    assert_eq!(
        k.ok(&["get", "widget", "small", "-o", "jsonpath={.spec.color}"])
            .await,
        "blue"
    );
    let out = k.kubectl_stdin(&["delete", "-f", "-"], WIDGETS).await;
    assert!(
        out.success() && out.stdout.contains("widget.example.com \"small\" deleted"),
        "{out}"
    );
    let none = k.kubectl(&["get", "widgets"]).await;
    assert!(
        none.success() && none.stderr.contains("No resources found"),
        "{none}"
    );
    k.ok(&["delete", "crd", "widgets.example.com"]).await;
    assert!(
        k.fails(&["get", "crd", "widgets.example.com"])
            .await
            .contains("NotFound")
    );
    // kubectl's discovery cache may still name the resource: either way it is not served.
    let gone = k.fails(&["get", "widgets"]).await;
    assert!(
        gone.contains("doesn't have a resource type \"widgets\"")
            || gone.contains("could not find the requested resource"),
        "{gone}"
    );
}
