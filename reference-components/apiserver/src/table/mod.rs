//! Tables: what `kubectl get` prints, computed by the server as kube-apiserver does.
//!
//! A read whose `Accept` asks for `application/json;as=Table;v=v1;g=meta.k8s.io` gets a
//! `meta.k8s.io/v1` Table instead of the objects: column definitions and one row of cells per
//! object, each row with the object as PartialObjectMetadata (`includeObject=Metadata`, the
//! default), whole (`Object`) or not at all (`None`). The columns are those of
//! kube-apiserver's printers (`pkg/printers/internalversion/printers.go`): [`printers`] for
//! built-in kinds, the CRD's `additionalPrinterColumns` for custom resources ([`custom`]), and
//! kube-apiserver's default (`Name`, `Created At`) for the kinds without a printer. Cells with
//! `priority` 1 are the extra columns of `kubectl get -o wide`. [`view`] applies this (and
//! PartialObjectMetadata output) to get, list and watch responses.

pub mod custom;
pub mod jsonpath;
pub mod printers;
pub mod view;

use std::borrow::Cow;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::registry::ResourceDef;

pub use view::View;

/// The description kube-apiserver gives the `Name` column (ObjectMeta's `name`).
pub const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// The description of `Age` and `Created At` columns (ObjectMeta's `creationTimestamp`).
pub const CREATED_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One column of a Table (`metav1.TableColumnDefinition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Header, e.g. `Name` (kubectl prints it upper-cased).
    pub name: Cow<'static, str>,
    /// OpenAPI type of the cells: `string`, `integer`, `number`, `boolean`, `date`.
    pub type_: Cow<'static, str>,
    /// OpenAPI format; `name` marks the column that names the object.
    pub format: Cow<'static, str>,
    /// What the column shows.
    pub description: Cow<'static, str>,
    /// 0: always shown; 1 and more: only with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// A column with static texts.
    pub const fn new(
        name: &'static str,
        type_: &'static str,
        description: &'static str,
        priority: i32,
    ) -> Self {
        Self {
            name: Cow::Borrowed(name),
            type_: Cow::Borrowed(type_),
            format: Cow::Borrowed(""),
            description: Cow::Borrowed(description),
            priority,
        }
    }

    /// The `Name` column.
    pub const fn name() -> Self {
        Self {
            name: Cow::Borrowed("Name"),
            type_: Cow::Borrowed("string"),
            format: Cow::Borrowed("name"),
            description: Cow::Borrowed(NAME_DESCRIPTION),
            priority: 0,
        }
    }

    /// The `Age` column.
    pub const fn age() -> Self {
        Self::new("Age", "string", CREATED_DESCRIPTION, 0)
    }

    /// The definition as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// One row: its cells and, for finished pods, its conditions (`Completed`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// One cell per column.
    pub cells: Vec<Value>,
    /// `metav1.TableRowCondition`s, if any.
    pub conditions: Option<Value>,
}

impl Row {
    /// A row of plain cells.
    pub fn cells(cells: Vec<Value>) -> Self {
        Self {
            cells,
            conditions: None,
        }
    }
}

/// The cells of one object (in its stored form; see [`Printer::row`]) at `now`.
pub type RowFn = fn(&Value, Timestamp) -> Row;

/// How one resource prints.
#[derive(Debug, Clone)]
pub enum Printer {
    /// A built-in printer.
    Builtin {
        /// Its columns.
        columns: Vec<Column>,
        /// Its cells.
        row: RowFn,
    },
    /// The printer columns of a CustomResourceDefinition version.
    Custom(custom::Columns),
    /// kube-apiserver's default: `Name` and `Created At`.
    Default,
}

impl Printer {
    /// The printer of `def`.
    pub fn of(def: &ResourceDef) -> Self {
        if let Some(info) = &def.custom {
            return Printer::Custom(custom::Columns::new(&info.printer_columns));
        }
        match printers::builtin(def.storage_group(), def.storage_kind()) {
            Some((columns, row)) => Printer::Builtin { columns, row },
            None => Printer::Default,
        }
    }

    /// The printer of `def`'s subresource `sub` when a Table of it exists: `status` prints as
    /// the object, `scale` as an autoscaling/v1 Scale (`NAME DESIRED AVAILABLE`).
    pub fn of_subresource(def: &ResourceDef, sub: &str) -> Option<Self> {
        match sub {
            "status" => Some(Self::of(def)),
            "scale" => Some(Printer::Builtin {
                columns: printers::scale_columns(),
                row: printers::scale,
            }),
            _ => None,
        }
    }

    /// The column definitions.
    pub fn columns(&self) -> Vec<Column> {
        match self {
            Printer::Builtin { columns, .. } => columns.clone(),
            Printer::Custom(c) => c.definitions(),
            Printer::Default => vec![
                Column::name(),
                Column::new("Created At", "date", CREATED_DESCRIPTION, 0),
            ],
        }
    }

    /// The row of `obj` (as served in `def`'s version) at `now`.
    pub fn row(&self, def: &ResourceDef, obj: &Value, now: Timestamp) -> Row {
        match self {
            Printer::Builtin { row, .. } => {
                // Built-in printers read the stored form (events.k8s.io Events print as core
                // Events, autoscaling/v1 autoscalers as v2 ones).
                if def.conversion.is_some() {
                    row(&def.stored(obj.clone()), now)
                } else {
                    row(obj, now)
                }
            }
            Printer::Custom(c) => c.row(obj, now),
            Printer::Default => Row::cells(vec![
                json!(name(obj)),
                obj.pointer("/metadata/creationTimestamp")
                    .cloned()
                    .unwrap_or(Value::Null),
            ]),
        }
    }
}

/// Which object each row carries (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// The object's metadata as PartialObjectMetadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parse the `includeObject` parameter (`None`: the default).
    pub fn parse(value: Option<&str>) -> Result<Self, kube_core::Status> {
        match value {
            None | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(kube_core::Status::bad_request(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
            ))),
        }
    }
}

/// `obj` as `meta.k8s.io/v1` PartialObjectMetadata.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Build a Table of `objects` (of `def`, printed by `printer`) with `list_meta` (`resourceVersion`, `continue`,
/// `remainingItemCount`) as its metadata; `headers: false` leaves the column definitions out
/// (watch events after the first).
#[allow(clippy::too_many_arguments)]
pub fn build(
    def: &ResourceDef,
    printer: &Printer,
    version: &str,
    objects: &[Value],
    list_meta: Map<String, Value>,
    include: IncludeObject,
    headers: bool,
) -> Value {
    let now = Timestamp::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let row = printer.row(def, obj, now);
            let mut r = json!({ "cells": row.cells });
            if let Some(c) = row.conditions {
                r["conditions"] = c;
            }
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => r["object"] = partial_metadata(obj),
                IncludeObject::Object => r["object"] = obj.clone(),
            }
            r
        })
        .collect();
    let mut table = json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_meta,
    });
    if headers {
        let columns: Vec<Value> = printer.columns().iter().map(Column::to_json).collect();
        table["columnDefinitions"] = Value::Array(columns);
    }
    table["rows"] = Value::Array(rows);
    table
}

/// An object's name.
pub fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// apimachinery's `duration.HumanDuration`: `45s`, `3m20s`, `15m`, `5h3m`, `20h`, `3d4h`,
/// `40d`, `2y15d`, `9y`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// How long ago the RFC 3339 `timestamp` was (`translateTimestampSince`): `<unknown>` when
/// absent or unreadable.
pub fn since(timestamp: Option<&str>, now: Timestamp) -> String {
    match timestamp.and_then(|t| t.parse::<Timestamp>().ok()) {
        Some(t) => human_duration(now.as_second() - t.as_second()),
        None => "<unknown>".into(),
    }
}

/// The `Age` cell of `obj`.
pub fn age(obj: &Value, now: Timestamp) -> Value {
    json!(since(
        obj.pointer("/metadata/creationTimestamp").and_then(Value::as_str),
        now
    ))
}

#[cfg(test)]
mod tests;
