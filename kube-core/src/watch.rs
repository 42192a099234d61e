//! Watch events: one JSON object per line of a watch response.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status::Status;

/// The annotation a bookmark carries when it ends the initial events of a
/// `sendInitialEvents=true` watch.
pub const INITIAL_EVENTS_END_ANNOTATION: &str = "k8s.io/initial-events-end";

/// One event of a watch: `{"type":"ADDED","object":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "object", rename_all = "UPPERCASE")]
pub enum WatchEvent<K> {
    /// An object was created (or, at the start of a watch, already existed).
    Added(K),
    /// An object changed.
    Modified(K),
    /// An object was deleted; this is its last state.
    Deleted(K),
    /// Progress: everything up to this resourceVersion has been sent.
    Bookmark(Bookmark),
    /// The watch failed, e.g. with 410 Expired; the stream ends after it.
    Error(Status),
}

impl<K> WatchEvent<K> {
    /// The object of an ADDED, MODIFIED or DELETED event.
    pub fn object(&self) -> Option<&K> {
        match self {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => Some(o),
            _ => None,
        }
    }

    /// The event type as on the wire: `ADDED`, `MODIFIED`, ...
    pub fn type_name(&self) -> &'static str {
        match self {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        }
    }
}

/// The object of a BOOKMARK event: only `apiVersion`, `kind` and a `resourceVersion` matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bookmark {
    /// The kind of the watched objects.
    #[serde(default)]
    pub kind: String,
    /// Their `apiVersion`.
    #[serde(default, rename = "apiVersion")]
    pub api_version: String,
    /// The resource version and annotations.
    pub metadata: BookmarkMeta,
}

/// Bookmark metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookmarkMeta {
    /// Everything up to this revision has been delivered.
    pub resource_version: String,
    /// `k8s.io/initial-events-end: "true"` marks the end of the initial events.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Bookmark {
    /// Whether this bookmark ends the initial events of a `sendInitialEvents=true` watch.
    pub fn is_initial_events_end(&self) -> bool {
        self.metadata
            .annotations
            .get(INITIAL_EVENTS_END_ANNOTATION)
            .is_some_and(|v| v == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn decodes_real_watch_lines_and_encodes_them_back() {
        let lines = [
            r#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","resourceVersion":"10"}}}"#,
            r#"{"type":"MODIFIED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","resourceVersion":"11"}}}"#,
            r#"{"type":"DELETED","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","resourceVersion":"12"}}}"#,
            r#"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"13","annotations":{"k8s.io/initial-events-end":"true"}}}}"#,
            r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"#,
        ];
        let events: Vec<WatchEvent<Pod>> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(
            events[0].object().unwrap().metadata.resource_version.as_deref(),
            Some("10")
        );
        assert!(matches!(events[1], WatchEvent::Modified(_)));
        assert!(matches!(events[2], WatchEvent::Deleted(_)));
        match &events[3] {
            WatchEvent::Bookmark(b) => {
                assert_eq!(b.metadata.resource_version, "13");
                assert!(b.is_initial_events_end());
            }
            e => panic!("{e:?}"),
        }
        match &events[4] {
            WatchEvent::Error(s) => assert!(s.is_gone()),
            e => panic!("{e:?}"),
        }
        for (line, ev) in lines.iter().zip(&events) {
            let back: serde_json::Value = serde_json::to_value(ev).unwrap();
            assert_eq!(
                back,
                serde_json::from_str::<serde_json::Value>(line).unwrap(),
                "{}",
                ev.type_name()
            );
        }
    }
}
