//! The fake apiserver's storage: JSON objects keyed like etcd keys, one resourceVersion counter,
//! compare-and-swap writes, a history of changes for watches, and the watchers themselves.
//!
//! Semantics follow kube-apiserver's generic registry where tests can observe them: create
//! fills `uid`, `creationTimestamp` and `resourceVersion`; update is compare-and-swap when the
//! body carries a resourceVersion and a no-op update does not bump it; the `status`
//! subresource and the main resource each keep the other's part; delete honours preconditions
//! and finalizers; lists page with opaque `continue` tokens; watches replay history after a
//! resourceVersion and answer `410 Expired` (as an `ERROR` event) once it is compacted.
//! Not modelled: graceful pod deletion, namespace finalization, server-side apply, dry run.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use kube_core::status::{StatusCause, StatusDetails};
use kube_core::{FieldSelector, Selector, Status};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::fake_resources::{self, ResourceDef};

pub type Result<T> = std::result::Result<T, Status>;

/// `/registry/{resource}/{namespace}/{name}`; `namespace` is empty for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

/// What a watch response body receives.
#[derive(Debug)]
pub enum WatchMsg {
    /// One complete `{"type":..,"object":..}\n` line.
    Line(Bytes),
    /// End the response cleanly.
    Close,
    /// Send these bytes, then break the connection.
    Abort(Bytes),
}

/// Label and field selectors of a list or watch.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub labels: Selector,
    pub fields: FieldSelector,
}

impl Selection {
    /// Parse the selectors, rejecting field labels the resource does not support as
    /// kube-apiserver does.
    pub fn parse(def: &ResourceDef, labels: Option<&str>, fields: Option<&str>) -> Result<Self> {
        let labels = Selector::parse(labels.unwrap_or_default())
            .map_err(|e| Status::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields = FieldSelector::parse(fields.unwrap_or_default())
            .map_err(|e| Status::bad_request(format!("invalid field selector: {e}")))?;
        let mut supported = vec!["metadata.name", "metadata.namespace"];
        if def.kind == "Pod" {
            supported.extend(["spec.nodeName", "status.phase"]);
        }
        if let Some(f) = fields.fields().into_iter().find(|f| !supported.contains(f)) {
            return Err(Status::bad_request(format!("field label not supported: {f}")));
        }
        Ok(Self { labels, fields })
    }

    fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    fn matches(&self, object: &Value) -> bool {
        let labels: BTreeMap<String, String> =
            serde_json::from_value(object["metadata"]["labels"].clone()).unwrap_or_default();
        self.labels.matches(&labels) && self.fields.matches_object(object)
    }
}

struct Watcher {
    resource: String,
    namespace: Option<String>,
    selection: Selection,
    bookmarks: bool,
    kind: String,
    api_version: String,
    tx: UnboundedSender<WatchMsg>,
}

impl Watcher {
    fn send(&self, msg: WatchMsg) -> bool {
        self.tx.send(msg).is_ok()
    }

    fn line(&self, kind: &str, object: &Value) -> bool {
        self.send(WatchMsg::Line(event_line(kind, object)))
    }

    /// The event this watcher sees for `change`, if any: an object moving into its selection
    /// is ADDED, one moving out is DELETED, as kube-apiserver's watch cache reports them.
    fn event_for<'a>(&self, change: &'a Change) -> Option<(&'static str, &'a Value)> {
        if change.key.resource != self.resource
            || self
                .namespace
                .as_ref()
                .is_some_and(|ns| *ns != change.key.namespace)
        {
            return None;
        }
        let new = self.selection.matches(&change.new);
        let old = change.old.as_ref().is_some_and(|o| self.selection.matches(o));
        let kind = match (change.kind, old, new) {
            (ChangeKind::Deleted, _, true) => "DELETED",
            (ChangeKind::Added, _, true) | (ChangeKind::Modified, false, true) => "ADDED",
            (ChangeKind::Modified, true, true) => "MODIFIED",
            (ChangeKind::Modified, true, false) => "DELETED",
            _ => return None,
        };
        Some((kind, &change.new))
    }
}

/// One watch line.
pub fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).expect("JSON");
    line.push(b'\n');
    line.into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

struct Change {
    rv: u64,
    key: Key,
    kind: ChangeKind,
    old: Option<Value>,
    new: Value,
}

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Main,
    Status,
}

/// The fake's whole state.
pub struct Store {
    pub defs: Vec<ResourceDef>,
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: Vec<Change>,
    compacted: u64,
    watchers: Vec<Watcher>,
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Remove a member of a JSON object, if it is one.
fn remove(object: &mut Value, field: &str) {
    if let Some(o) = object.as_object_mut() {
        o.remove(field);
    }
}

fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object["metadata"][field].as_str().filter(|s| !s.is_empty())
}

fn status_success(def: &ResourceDef, name: &str, uid: &str) -> Value {
    let mut s = Status::success();
    s.code = 0;
    s.details = Some(StatusDetails {
        name: name.into(),
        group: def.group.clone(),
        kind: def.plural.clone(),
        uid: uid.into(),
        ..StatusDetails::default()
    });
    serde_json::to_value(s).expect("JSON")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    namespace: String,
    name: String,
}

impl Store {
    /// A store holding the `default` and `kube-system` namespaces.
    pub fn new() -> Self {
        let mut store = Self {
            defs: fake_resources::builtin(),
            rv: 0,
            objects: BTreeMap::new(),
            history: Vec::new(),
            compacted: 0,
            watchers: Vec::new(),
        };
        let ns = store
            .def("", "v1", "namespaces")
            .expect("namespaces are built in");
        for name in ["default", "kube-system"] {
            store
                .create(&ns, None, json!({"metadata": {"name": name}}))
                .expect("create namespace");
        }
        store
    }

    /// The resource served at `group/version/plural`.
    pub fn def(&self, group: &str, version: &str, plural: &str) -> Option<ResourceDef> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
            .cloned()
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    fn key(def: &ResourceDef, namespace: Option<&str>, name: &str) -> Key {
        Key {
            resource: def.group_resource(),
            namespace: namespace.unwrap_or_default().into(),
            name: name.into(),
        }
    }

    /// Read one object directly (for assertions).
    pub fn object(&self, def: &ResourceDef, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.objects.get(&Self::key(def, namespace, name)).cloned()
    }

    pub fn get(&self, def: &ResourceDef, namespace: Option<&str>, name: &str) -> Result<Value> {
        self.object(def, namespace, name)
            .ok_or_else(|| Status::not_found(&def.group_resource(), name))
    }

    fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn record(&mut self, key: Key, kind: ChangeKind, old: Option<Value>, new: Value) {
        let change = Change {
            rv: self.rv,
            key,
            kind,
            old,
            new,
        };
        self.watchers.retain(|w| match w.event_for(&change) {
            Some((kind, object)) => w.line(kind, object),
            None => !w.tx.is_closed(),
        });
        self.history.push(change);
    }

    /// Check `apiVersion`, `kind` and `metadata.namespace` of a body against the URL, and fill
    /// them in.
    fn check_body(&self, def: &ResourceDef, namespace: Option<&str>, body: &mut Value) -> Result<()> {
        if !body.is_object() || (!body["metadata"].is_object() && !body["metadata"].is_null()) {
            return Err(Status::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        let api_version = def.api_version();
        if let Some(v) = body["apiVersion"].as_str().filter(|v| *v != api_version) {
            return Err(Status::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
        if let Some(k) = body["kind"].as_str().filter(|k| *k != def.kind) {
            return Err(Status::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                def.kind
            )));
        }
        body["apiVersion"] = json!(api_version);
        body["kind"] = json!(def.kind);
        let meta = &mut body["metadata"];
        if def.namespaced {
            let ns = namespace.unwrap_or_default();
            if meta["namespace"]
                .as_str()
                .is_some_and(|n| !n.is_empty() && n != ns)
            {
                return Err(Status::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            meta["namespace"] = json!(ns);
        } else if let Some(m) = meta.as_object_mut() {
            m.remove("namespace");
        }
        Ok(())
    }

    /// `POST` to a collection.
    pub fn create(&mut self, def: &ResourceDef, namespace: Option<&str>, mut body: Value) -> Result<Value> {
        self.check_body(def, namespace, &mut body)?;
        if let Some(ns) = namespace.filter(|_| def.namespaced) {
            let namespaces = self.def("", "v1", "namespaces").expect("built in");
            if self.object(&namespaces, None, ns).is_none() {
                return Err(Status::not_found("namespaces", ns));
            }
        }
        let name = match (meta_str(&body, "name"), meta_str(&body, "generateName")) {
            (Some(name), _) => name.to_string(),
            (None, Some(prefix)) => {
                const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
                let suffix: String = (0..5)
                    .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
                    .collect();
                format!("{prefix}{suffix}")
            }
            (None, None) => {
                return Err(invalid(
                    def,
                    "",
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
        };
        if let Err(errs) = kube_core::selector::validate_dns1123_subdomain(&name) {
            let message = format!("Invalid value: {name:?}: {}", errs.join("; "));
            return Err(invalid(
                def,
                &name,
                "FieldValueInvalid",
                "metadata.name",
                &message,
            ));
        }
        if def.kind == "Pod" && body["spec"]["containers"].as_array().is_none_or(Vec::is_empty) {
            return Err(invalid(
                def,
                &name,
                "FieldValueRequired",
                "spec.containers",
                "Required value",
            ));
        }
        let key = Self::key(def, namespace.filter(|_| def.namespaced), &name);
        if self.objects.contains_key(&key) {
            return Err(Status::already_exists(&def.group_resource(), &name));
        }
        let rv = self.bump();
        let meta = &mut body["metadata"];
        meta["name"] = json!(name);
        meta["uid"] = json!(format!(
            "{:08x}-0000-4000-8000-{:012x}",
            rand::random::<u32>(),
            rv
        ));
        meta["resourceVersion"] = json!(rv.to_string());
        meta["creationTimestamp"] = json!(now());
        if let Some(m) = meta.as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
        }
        match def.kind.as_str() {
            "Pod" => body["status"] = json!({"phase": "Pending"}),
            "Namespace" => body["status"] = json!({"phase": "Active"}),
            _ if def.status => {
                remove(&mut body, "status");
            }
            _ => {}
        }
        self.objects.insert(key.clone(), body.clone());
        self.record(key, ChangeKind::Added, None, body.clone());
        Ok(body)
    }

    /// `PUT` an object or its status.
    pub fn update(
        &mut self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
        mut body: Value,
        target: Target,
    ) -> Result<Value> {
        self.check_body(def, namespace, &mut body)?;
        let body_name = meta_str(&body, "name").unwrap_or_default();
        if body_name != name {
            return Err(Status::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let current = self.get(def, namespace, name)?;
        if let Some(rv) = meta_str(&body, "resourceVersion")
            && Some(rv) != meta_str(&current, "resourceVersion")
        {
            return Err(Status::conflict(
                &def.group_resource(),
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let mut new = match target {
            Target::Main => body,
            Target::Status => {
                let mut new = current.clone();
                new["status"] = body["status"].clone();
                new
            }
        };
        if target == Target::Main && def.status {
            new["status"] = current["status"].clone();
        }
        if new["status"].is_null() {
            remove(&mut new, "status");
        }
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
        ] {
            match current["metadata"].get(field) {
                Some(v) => new["metadata"][field] = v.clone(),
                None => {
                    remove(&mut new["metadata"], field);
                }
            }
        }
        let key = Self::key(def, namespace.filter(|_| def.namespaced), name);
        Ok(self.write(key, current, new))
    }

    /// Store `new` over `old`: nothing happens when they are equal; an object being deleted
    /// whose last finalizer is gone is deleted.
    fn write(&mut self, key: Key, old: Value, mut new: Value) -> Value {
        if new == old {
            return old;
        }
        let rv = self.bump();
        new["metadata"]["resourceVersion"] = json!(rv.to_string());
        let finalizers_left = new["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if new["metadata"]["deletionTimestamp"].is_string() && !finalizers_left {
            self.objects.remove(&key);
            self.record(key, ChangeKind::Deleted, Some(old), new.clone());
        } else {
            self.objects.insert(key.clone(), new.clone());
            self.record(key, ChangeKind::Modified, Some(old), new.clone());
        }
        new
    }

    /// `PATCH` an object or its status with a body of `content_type`.
    pub fn patch(
        &mut self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
        content_type: &str,
        body: &[u8],
        target: Target,
    ) -> Result<Value> {
        let current = self.get(def, namespace, name)?;
        let patch: Value = serde_json::from_slice(body)
            .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
        let mut doc = current;
        let unsupported = |types: &str| {
            Status::failure(
                415,
                kube_core::status::reason::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "the body of the request was in an unknown format - accepted media types include: {types}"
                ),
            )
        };
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            kube_core::patch::MERGE_PATCH => kube_core::patch::apply_merge_patch(&mut doc, &patch),
            kube_core::patch::JSON_PATCH => {
                let ops = serde_json::from_value(patch)
                    .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
                kube_core::patch::apply_json_patch(&mut doc, &ops)
                    .map_err(|e| Status::failure(422, kube_core::status::reason::INVALID, e.to_string()))?;
            }
            kube_core::patch::STRATEGIC_MERGE_PATCH
                if kube_core::patch::strategic::supports_strategic_merge(&def.api_version(), &def.kind) =>
            {
                kube_core::patch::apply_strategic_merge_patch(
                    &mut doc,
                    &patch,
                    &def.api_version(),
                    &def.kind,
                )
                .map_err(|e| Status::bad_request(e.to_string()))?;
            }
            kube_core::patch::STRATEGIC_MERGE_PATCH => {
                return Err(unsupported(
                    "application/json-patch+json, application/merge-patch+json",
                ));
            }
            _ => {
                // Server-side apply is not modelled by this fake.
                return Err(unsupported(
                    "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json",
                ));
            }
        }
        self.update(def, namespace, name, doc, target)
    }

    /// `DELETE` one object: the response body (the object, or a `Status`).
    pub fn delete(
        &mut self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
        options: &Value,
    ) -> Result<Value> {
        let current = self.get(def, namespace, name)?;
        let pre = &options["preconditions"];
        for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
            if let Some(want) = pre[field].as_str() {
                let have = meta_str(&current, field).unwrap_or_default();
                if want != have {
                    let why = format!(
                        "Precondition failed: {label} in precondition: {want}, {label} in object meta: {have}"
                    );
                    return Err(Status::conflict(&def.group_resource(), name, &why));
                }
            }
        }
        let key = Self::key(def, namespace.filter(|_| def.namespaced), name);
        if current["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
        {
            let mut pending = current.clone();
            if !pending["metadata"]["deletionTimestamp"].is_string() {
                pending["metadata"]["deletionTimestamp"] = json!(now());
                pending["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            }
            return Ok(self.write(key, current, pending));
        }
        let rv = self.bump();
        let mut gone = current.clone();
        gone["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.objects.remove(&key);
        self.record(key, ChangeKind::Deleted, Some(current), gone.clone());
        if def.returns_deleted_object {
            Ok(gone)
        } else {
            Ok(status_success(
                def,
                name,
                meta_str(&gone, "uid").unwrap_or_default(),
            ))
        }
    }

    /// `DELETE` a collection: the list of the objects deleted, as they were listed.
    pub fn delete_collection(
        &mut self,
        def: &ResourceDef,
        namespace: Option<&str>,
        selection: &Selection,
        options: &Value,
    ) -> Result<Value> {
        let list = self.list(def, namespace, selection, None, None)?;
        for item in list["items"].as_array().into_iter().flatten() {
            let name = meta_str(item, "name").unwrap_or_default();
            match self.delete(def, meta_str(item, "namespace"), name, options) {
                Ok(_) => {}
                Err(s) if s.is_not_found() => {}
                Err(s) => return Err(s),
            }
        }
        Ok(list)
    }

    /// `GET` a collection, one page of it when `limit` is set.
    pub fn list(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        selection: &Selection,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Value> {
        let resource = def.group_resource();
        let (rv, start) = match continue_token.filter(|t| !t.is_empty()) {
            None => (self.rv, None),
            Some(token) => {
                let t: ContinueToken = base64::engine::general_purpose::STANDARD
                    .decode(token)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .ok_or_else(|| Status::bad_request("continue key is not valid: malformed token"))?;
                if t.rv < self.compacted {
                    return Err(Status::expired(
                        "The provided continue parameter is too old to display a consistent list result. \
                         You can start a new list without the continue parameter.",
                    ));
                }
                (
                    t.rv,
                    Some(Key {
                        resource: resource.clone(),
                        namespace: t.namespace,
                        name: t.name,
                    }),
                )
            }
        };
        let from = start.clone().unwrap_or(Key {
            resource: resource.clone(),
            namespace: String::new(),
            name: String::new(),
        });
        let mut matching = self
            .objects
            .range(from..)
            .filter(|(k, _)| Some(*k) != start.as_ref())
            .take_while(|(k, _)| k.resource == resource)
            .filter(|(k, _)| namespace.is_none_or(|ns| k.namespace == ns))
            .filter(|(_, o)| selection.matches(o));
        let limit = limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut last = None;
        for (k, o) in matching.by_ref().take(limit) {
            let mut item = o.clone();
            if let Some(m) = item.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            items.push(item);
            last = Some(k);
        }
        let remaining = matching.count();
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if let (true, Some(k)) = (remaining > 0, last) {
            let token = ContinueToken {
                rv,
                namespace: k.namespace.clone(),
                name: k.name.clone(),
            };
            metadata["continue"] = json!(
                base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&token).expect("JSON"))
            );
            if selection.is_empty() {
                metadata["remainingItemCount"] = json!(remaining);
            }
        }
        Ok(json!({
            "kind": format!("{}List", def.kind),
            "apiVersion": def.api_version(),
            "metadata": metadata,
            "items": items,
        }))
    }

    /// Start a watch: queue what happened after `resource_version` (or the current objects
    /// when it is `""`/`"0"`), then register for what happens next.
    #[allow(clippy::too_many_arguments)]
    pub fn watch(
        &mut self,
        def: &ResourceDef,
        namespace: Option<&str>,
        selection: Selection,
        resource_version: &str,
        bookmarks: bool,
        initial_events: bool,
        tx: UnboundedSender<WatchMsg>,
    ) -> Result<()> {
        let watcher = Watcher {
            resource: def.group_resource(),
            namespace: namespace.map(str::to_string),
            selection,
            bookmarks,
            kind: def.kind.clone(),
            api_version: def.api_version(),
            tx,
        };
        if resource_version.is_empty() || resource_version == "0" || initial_events {
            let current: Vec<&Value> = self
                .objects
                .iter()
                .filter(|(k, _)| k.resource == watcher.resource)
                .filter(|(k, _)| watcher.namespace.as_ref().is_none_or(|ns| *ns == k.namespace))
                .filter(|(_, o)| watcher.selection.matches(o))
                .map(|(_, o)| o)
                .collect();
            for o in current {
                watcher.line("ADDED", o);
            }
            if initial_events && bookmarks {
                watcher.line("BOOKMARK", &self.bookmark(&watcher, true));
            }
        } else {
            let from: u64 = resource_version.parse().map_err(|_| {
                Status::bad_request(format!(
                    "resourceVersion: Invalid value: {resource_version:?}: must be a number"
                ))
            })?;
            if from < self.compacted {
                let status =
                    Status::expired(format!("too old resource version: {from} ({})", self.compacted));
                watcher.line("ERROR", &serde_json::to_value(status).expect("JSON"));
                watcher.send(WatchMsg::Close);
                return Ok(());
            }
            for change in self.history.iter().filter(|c| c.rv > from) {
                if let Some((kind, object)) = watcher.event_for(change) {
                    watcher.line(kind, object);
                }
            }
        }
        self.watchers.push(watcher);
        Ok(())
    }

    fn bookmark(&self, w: &Watcher, initial_events_end: bool) -> Value {
        let mut metadata = json!({"resourceVersion": self.rv.to_string(), "creationTimestamp": null});
        if initial_events_end {
            metadata["annotations"] = json!({kube_core::watch::INITIAL_EVENTS_END_ANNOTATION: "true"});
        }
        json!({"kind": w.kind, "apiVersion": w.api_version, "metadata": metadata})
    }

    /// Send a BOOKMARK at the current resourceVersion to every watcher that allows them.
    pub fn send_bookmarks(&mut self) {
        let lines: Vec<(usize, Value)> = self
            .watchers
            .iter()
            .enumerate()
            .filter(|(_, w)| w.bookmarks)
            .map(|(i, w)| (i, self.bookmark(w, false)))
            .collect();
        for (i, object) in lines {
            self.watchers[i].line("BOOKMARK", &object);
        }
    }

    /// End every watch cleanly.
    pub fn close_watches(&mut self) {
        for w in self.watchers.drain(..) {
            w.send(WatchMsg::Close);
        }
    }

    /// Break every watch connection in the middle of an event.
    pub fn break_watches(&mut self) {
        for w in self.watchers.drain(..) {
            let half = format!(
                r#"{{"type":"MODIFIED","object":{{"apiVersion":"{}","kind":"{}","metadata":{{"na"#,
                w.api_version, w.kind
            );
            w.send(WatchMsg::Abort(half.into()));
        }
    }

    /// Watches still connected.
    pub fn watcher_count(&self) -> usize {
        self.watchers.iter().filter(|w| !w.tx.is_closed()).count()
    }

    /// Forget the history up to now: watches from older resourceVersions and continue tokens
    /// issued before now answer 410 Expired.
    pub fn compact(&mut self) {
        self.compacted = self.rv;
        self.history.clear();
    }
}

fn invalid(def: &ResourceDef, name: &str, reason: &str, field: &str, message: &str) -> Status {
    let cause = StatusCause {
        reason: reason.into(),
        message: message.into(),
        field: field.into(),
    };
    let mut status = Status::invalid(&def.kind, name, vec![cause]);
    if let Some(d) = status.details.as_mut() {
        d.group = def.group.clone();
    }
    status
}
