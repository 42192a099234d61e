//! `metadata.managedFields`: who owns which fields, and how each write changes that.
//!
//! Every entry names a manager, an operation (`Apply` for server-side apply, `Update` for every
//! other write), the API version its fields are written in, an optional subresource, the time
//! of its last change, and its fields (`fieldsType: FieldsV1`). An appplier is identified by
//! (manager, subresource); an updater also by API version, so one client writing in two
//! versions has two entries.
//!
//! The rules are kube-apiserver's (structured-merge-diff's `Updater` and the field manager
//! layers around it):
//!
//! - an **update** takes ownership of what it added or changed, from whoever owned it (updates
//!   never conflict); removed fields leave every set;
//! - an **apply** owns exactly the fields of its configuration; changing a field another
//!   manager owns is a conflict unless forced, which moves the field; fields the applier owned
//!   last time and no longer applies are removed from the object unless someone else owns them;
//! - `metadata.name`, `uid`, `resourceVersion` and the other server-set fields, `apiVersion` and
//!   `kind` are never owned;
//! - more than ten `Update` entries: the oldest merge into `ancient-changes`.

use serde_json::{Map, Value, json};

use super::path::{Path, PathElement};
use super::schema::Ty;
use super::set::FieldSet;
use super::typed::{self, Comparison, Invalid};

/// The name of the manager that receives the fields of objects written before their first apply
/// without managed fields.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Where the oldest updaters' fields go when there are too many.
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Most `Update` entries kept.
const MAX_UPDATE_MANAGERS: usize = 10;

/// The kind of write an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write: create, update, patch.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who writes: the manager name, the API version of the request, the subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    /// The field manager.
    pub manager: String,
    /// `group/version` of the request.
    pub api_version: String,
    /// `status`, `scale`, ... or empty for the main resource.
    pub subresource: String,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The field manager.
    pub manager: String,
    /// Apply or Update.
    pub operation: Operation,
    /// The version the fields are written in.
    pub api_version: String,
    /// The subresource written through, or empty.
    pub subresource: String,
    /// When the entry last changed the object (RFC 3339), if known.
    pub time: Option<String>,
    /// The fields owned.
    pub fields: FieldSet,
}

impl Entry {
    fn is(&self, writer: &Writer, operation: Operation) -> bool {
        self.manager == writer.manager
            && self.operation == operation
            && self.subresource == writer.subresource
            && (operation == Operation::Apply || self.api_version == writer.api_version)
    }

    /// The manager as kube-apiserver names it in conflicts: `"kubectl"`, `"kube-controller-manager"
    /// with subresource "status" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    fn sort_key(&self) -> (Operation, i64, &str, &str, &str) {
        let seconds = self
            .time
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(0, |t| t.as_second());
        (
            self.operation,
            seconds,
            &self.manager,
            &self.api_version,
            &self.subresource,
        )
    }
}

/// One field another manager owns that a write would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owner, as [`Entry::describe`] writes it.
    pub manager: String,
    /// The field.
    pub path: Path,
}

/// Why a write could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The value does not fit its type.
    Invalid(Invalid),
    /// An apply would change fields other managers own.
    Conflicts(Vec<Conflict>),
}

impl From<Invalid> for Error {
    fn from(message: Invalid) -> Self {
        Error::Invalid(message)
    }
}

/// The entries of `metadata.managedFields`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagedFields {
    /// The entries, in any order (encoding sorts them).
    pub entries: Vec<Entry>,
}

/// The fields no manager ever owns (kube-apiserver's strip set).
fn strip_meta(set: &mut FieldSet) {
    static STRIP: std::sync::LazyLock<FieldSet> = std::sync::LazyLock::new(meta_fields);
    set.remove_all(&STRIP);
}

/// The top-level and `metadata` fields that no manager owns.
fn meta_fields() -> FieldSet {
    let mut strip = FieldSet::new();
    for top in ["apiVersion", "kind", "metadata"] {
        strip.insert(&[PathElement::Field(top.into())]);
    }
    for meta in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        strip.insert(&[
            PathElement::Field("metadata".into()),
            PathElement::Field(meta.into()),
        ]);
    }
    strip
}

/// One `managedFields` entry as kube-apiserver writes it.
pub(super) fn entry_json(
    writer: &Writer,
    operation: Operation,
    time: Option<&str>,
    fields_v1: Value,
) -> Value {
    let mut entry = Map::new();
    if !writer.manager.is_empty() {
        entry.insert("manager".into(), writer.manager.clone().into());
    }
    entry.insert("operation".into(), operation.as_str().into());
    entry.insert("apiVersion".into(), writer.api_version.clone().into());
    if let Some(time) = time {
        entry.insert("time".into(), time.into());
    }
    entry.insert("fieldsType".into(), "FieldsV1".into());
    entry.insert("fieldsV1".into(), fields_v1);
    if !writer.subresource.is_empty() {
        entry.insert("subresource".into(), writer.subresource.clone().into());
    }
    Value::Object(entry)
}

impl ManagedFields {
    /// Read `metadata.managedFields` (absent or `null`: none).
    pub fn decode(value: Option<&Value>) -> Result<Self, String> {
        let entries = match value {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Array(entries)) => entries,
            Some(other) => return Err(format!("managedFields must be a list, found {other}")),
        };
        let entries = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let text = |field: &str| {
                    entry
                        .get(field)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                let operation = match text("operation").as_str() {
                    "Apply" => Operation::Apply,
                    "Update" => Operation::Update,
                    _ => return Err("operation must be `Apply` or `Update`".to_string()),
                };
                if text("apiVersion").is_empty() {
                    return Err("apiVersion must not be empty".into());
                }
                match text("fieldsType").as_str() {
                    "FieldsV1" => {}
                    "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
                    other => {
                        return Err(format!(
                            "invalid fieldsType {other:?} in managed fields entry {i}"
                        ));
                    }
                }
                let fields = match entry.get("fieldsV1") {
                    None | Some(Value::Null) => FieldSet::new(),
                    Some(v1) => FieldSet::from_fields_v1(v1)?,
                };
                Ok(Entry {
                    manager: text("manager"),
                    operation,
                    api_version: text("apiVersion"),
                    subresource: text("subresource"),
                    time: entry.get("time").and_then(Value::as_str).map(str::to_string),
                    fields,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    /// Whether `value` is the "reset" list `[{}]`, which clears every entry.
    pub fn is_reset(value: Option<&Value>) -> bool {
        matches!(value, Some(Value::Array(entries)) if entries.len() == 1 && entries[0] == json!({}))
    }

    /// The `metadata.managedFields` JSON: entries with fields, Apply before Update, oldest first.
    pub fn encode(&self) -> Value {
        let mut entries: Vec<&Entry> = self.entries.iter().filter(|e| !e.fields.is_empty()).collect();
        entries.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        Value::Array(
            entries
                .into_iter()
                .map(|e| {
                    let writer = Writer {
                        manager: e.manager.clone(),
                        api_version: e.api_version.clone(),
                        subresource: e.subresource.clone(),
                    };
                    entry_json(&writer, e.operation, e.time.as_deref(), e.fields.to_fields_v1())
                })
                .collect(),
        )
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.iter().all(|e| e.fields.is_empty())
    }

    fn position(&self, writer: &Writer, operation: Operation) -> Option<usize> {
        self.entries.iter().position(|e| e.is(writer, operation))
    }

    /// The fields of the applier `writer`, if it has applied before.
    pub fn applied_by(&self, writer: &Writer) -> Option<&FieldSet> {
        self.position(writer, Operation::Apply)
            .map(|i| &self.entries[i].fields)
    }

    /// Take away what a write changed: conflicting fields (an error unless `force`) and removed
    /// fields leave every entry but `skip`.
    fn take_changes(&mut self, cmp: &Comparison, skip: Option<usize>, force: bool) -> Result<(), Error> {
        if self.entries.iter().enumerate().all(|(i, _)| Some(i) == skip) {
            return Ok(()); // nobody else owns anything (a create, or an object without entries)
        }
        let changed = cmp.modified.union(&cmp.added);
        let mut conflicts = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            let taken = entry.fields.intersection(&changed);
            if !taken.is_empty() {
                conflicts.push((i, taken));
            }
        }
        if !force && !conflicts.is_empty() {
            let mut list: Vec<(String, &Entry, Path)> = Vec::new();
            for (i, taken) in &conflicts {
                let entry = &self.entries[*i];
                for path in taken.paths() {
                    list.push((entry.describe(), entry, path));
                }
            }
            list.sort_by(|a, b| a.1.manager.cmp(&b.1.manager).then_with(|| a.0.cmp(&b.0)));
            return Err(Error::Conflicts(
                list.into_iter()
                    .map(|(manager, _, path)| Conflict { manager, path })
                    .collect(),
            ));
        }
        for (i, taken) in conflicts {
            self.entries[i].fields.remove_all(&taken);
        }
        for (i, entry) in self.entries.iter_mut().enumerate() {
            if Some(i) != skip {
                entry.fields.remove_all(&cmp.removed);
            }
        }
        Ok(())
    }

    /// Record a non-apply write of `writer` that turned `old` into `new` (both without
    /// `metadata.managedFields`). `now` is the entry's time if it changed anything.
    pub fn update(
        &mut self,
        old: &Value,
        new: &Value,
        ty: Ty<'_>,
        writer: &Writer,
        now: &str,
    ) -> Result<(), Invalid> {
        let cmp = typed::compare(old, new, ty)?;
        self.take_changes(&cmp, None, true)
            .expect("forced updates do not conflict");
        let Comparison {
            mut modified, added, ..
        } = cmp;
        modified.absorb(added);
        let mut current = modified;
        strip_meta(&mut current);
        if !current.is_empty() {
            match self.position(writer, Operation::Update) {
                Some(i) => {
                    let entry = &mut self.entries[i];
                    entry.fields.absorb(current);
                    entry.time = Some(now.to_string());
                }
                None => self.entries.push(Entry {
                    manager: writer.manager.clone(),
                    operation: Operation::Update,
                    api_version: writer.api_version.clone(),
                    subresource: writer.subresource.clone(),
                    time: Some(now.to_string()),
                    fields: current,
                }),
            }
        }
        self.entries.retain(|e| !e.fields.is_empty());
        self.cap_updaters();
        Ok(())
    }

    /// Apply `config` for `writer` to `live` (without `metadata.managedFields`): merge it,
    /// remove what the applier stopped applying, check and settle ownership. Returns the new
    /// object; the entries are updated in place (only on success).
    pub fn apply(
        &mut self,
        live: &Value,
        config: &Value,
        ty: Ty<'_>,
        writer: &Writer,
        force: bool,
        now: &str,
    ) -> Result<Value, Error> {
        let mut managed = self.clone();
        let applied = typed::to_field_set(config, ty, true)?;
        let mut merged = typed::merge(live, config, ty)?;
        let index = match managed.position(writer, Operation::Apply) {
            Some(i) => i,
            None => {
                managed.entries.push(Entry {
                    manager: writer.manager.clone(),
                    operation: Operation::Apply,
                    api_version: writer.api_version.clone(),
                    subresource: writer.subresource.clone(),
                    time: None,
                    fields: FieldSet::new(),
                });
                managed.entries.len() - 1
            }
        };
        let last = std::mem::replace(&mut managed.entries[index].fields, applied);
        managed.entries[index].api_version = writer.api_version.clone();
        if !last.is_empty() {
            let keep = managed.entries.iter().fold(FieldSet::new(), |mut all, e| {
                all.extend(&e.fields);
                all
            });
            typed::prune(
                &mut merged,
                &typed::ensure_named_fields(&last, ty),
                &typed::ensure_named_fields(&keep, ty),
                ty,
            );
        }
        let cmp = typed::compare(live, &merged, ty)?;
        managed.take_changes(&cmp, Some(index), force)?;
        let entry = &mut managed.entries[index];
        strip_meta(&mut entry.fields);
        if !cmp.is_same() {
            entry.time = Some(now.to_string());
        }
        managed.entries.retain(|e| !e.fields.is_empty());
        managed.cap_updaters();
        *self = managed;
        Ok(merged)
    }

    /// Keep at most [`MAX_UPDATE_MANAGERS`] `Update` entries: the oldest merge into an
    /// `ancient-changes` entry per API version.
    fn cap_updaters(&mut self) {
        let updaters = self
            .entries
            .iter()
            .filter(|e| e.operation == Operation::Update)
            .count();
        if updaters <= MAX_UPDATE_MANAGERS {
            return;
        }
        let mut order: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].operation == Operation::Update)
            .collect();
        order.sort_by(|&a, &b| {
            let (ea, eb) = (&self.entries[a], &self.entries[b]);
            ea.sort_key()
                .1
                .cmp(&eb.sort_key().1)
                .then_with(|| ea.manager.cmp(&eb.manager))
        });
        let mut remove = Vec::new();
        let mut count = updaters;
        for i in order {
            if count <= MAX_UPDATE_MANAGERS {
                break;
            }
            let entry = self.entries[i].clone();
            if entry.manager == ANCIENT_CHANGES {
                continue;
            }
            let bucket = Writer {
                manager: ANCIENT_CHANGES.into(),
                api_version: entry.api_version.clone(),
                subresource: String::new(),
            };
            match self.position(&bucket, Operation::Update) {
                Some(b) => {
                    self.entries[b].fields.extend(&entry.fields);
                    self.entries[b].time = entry.time.clone();
                    count -= 1;
                }
                None => self.entries.push(Entry {
                    manager: ANCIENT_CHANGES.into(),
                    subresource: String::new(),
                    ..entry
                }),
            }
            remove.push(i);
        }
        let mut i = 0;
        self.entries.retain(|_| {
            i += 1;
            !remove.contains(&(i - 1))
        });
    }
}
