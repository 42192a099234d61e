//! The Table columns of custom resources: `Name`, then the CRD version's
//! `additionalPrinterColumns` (or `Age` when it has none), as apiextensions-apiserver's
//! `tableconvertor` computes them.

use std::borrow::Cow;

use jiff::Timestamp;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceColumnDefinition;
use serde_json::{Value, json};

use super::jsonpath::{JsonPath, to_text};
use super::{CREATED_DESCRIPTION, Column, Row, human_duration};

/// The printer columns of one CRD version, with their paths parsed.
#[derive(Debug, Clone)]
pub struct Columns {
    columns: Vec<(Column, Option<JsonPath>)>,
}

impl Columns {
    /// The columns of `defs`; `Age` (`.metadata.creationTimestamp`) when there are none.
    pub fn new(defs: &[CustomResourceColumnDefinition]) -> Self {
        let columns = if defs.is_empty() {
            vec![(
                Column::new("Age", "date", CREATED_DESCRIPTION, 0),
                JsonPath::parse(".metadata.creationTimestamp").ok(),
            )]
        } else {
            defs.iter()
                .map(|d| {
                    let column = Column {
                        name: Cow::Owned(d.name.clone()),
                        type_: Cow::Owned(d.type_.clone()),
                        format: Cow::Owned(d.format.clone().unwrap_or_default()),
                        description: Cow::Owned(d.description.clone().unwrap_or_default()),
                        priority: d.priority.unwrap_or(0),
                    };
                    (column, JsonPath::parse(&d.json_path).ok())
                })
                .collect()
        };
        Self { columns }
    }

    /// The column definitions, `Name` first.
    pub fn definitions(&self) -> Vec<Column> {
        std::iter::once(Column::name())
            .chain(self.columns.iter().map(|(c, _)| c.clone()))
            .collect()
    }

    /// The cells of `obj`: a missing value is a null cell (kubectl prints `<none>`).
    pub fn row(&self, obj: &Value, now: Timestamp) -> Row {
        let mut cells = vec![json!(super::name(obj))];
        for (column, path) in &self.columns {
            let value = path.as_ref().and_then(|p| p.find(obj).into_iter().next());
            cells.push(match value {
                Some(v) => cell(&column.type_, v, now),
                None => Value::Null,
            });
        }
        Row::cells(cells)
    }
}

/// A cell of `type_` from the value found (`cellForJSONValue`); a value of the wrong type is
/// null, except that a `string` column shows any value as text.
fn cell(type_: &str, value: &Value, now: Timestamp) -> Value {
    match (type_, value) {
        (_, Value::Null) => Value::Null,
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, Value::from),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(b)) => json!(b),
        ("string", v) => json!(to_text(v)),
        ("date", Value::String(s)) => match s.parse::<Timestamp>() {
            Ok(t) => json!(human_duration(now.as_second() - t.as_second())),
            Err(_) => json!("<invalid>"),
        },
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_: &str, path: &str, priority: Option<i32>) -> CustomResourceColumnDefinition {
        CustomResourceColumnDefinition {
            name: name.into(),
            type_: type_.into(),
            json_path: path.into(),
            priority,
            ..Default::default()
        }
    }

    #[test]
    fn printer_columns_become_cells_of_their_type() {
        let columns = Columns::new(&[
            column("Replicas", "integer", ".spec.replicas", None),
            column(
                "Ready",
                "string",
                ".status.conditions[?(@.type==\"Ready\")].status",
                None,
            ),
            column("Color", "string", ".spec.color", Some(1)),
            column("Started", "date", ".status.started", None),
            column("Paused", "boolean", ".spec.paused", None),
        ]);
        let defs = columns.definitions();
        assert_eq!(defs[0].name, "Name");
        assert_eq!(defs[3].priority, 1);
        let now: Timestamp = "2025-01-01T01:00:00Z".parse().unwrap();
        let obj = json!({
            "metadata": {"name": "w1"},
            "spec": {"replicas": 3, "paused": "yes"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "started": "2025-01-01T00:00:00Z"},
        });
        let row = columns.row(&obj, now);
        assert_eq!(
            row.cells,
            [
                json!("w1"),
                json!(3),
                json!("True"),
                Value::Null,
                json!("60m"),
                Value::Null
            ]
        );
    }

    #[test]
    fn no_printer_columns_means_age() {
        let columns = Columns::new(&[]);
        let names: Vec<String> = columns.definitions().iter().map(|c| c.name.to_string()).collect();
        assert_eq!(names, ["Name", "Age"]);
        let now: Timestamp = "2025-01-01T00:00:30Z".parse().unwrap();
        let obj = json!({"metadata": {"name": "w", "creationTimestamp": "2025-01-01T00:00:00Z"}});
        assert_eq!(columns.row(&obj, now).cells, [json!("w"), json!("30s")]);
    }
}
