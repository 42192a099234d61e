//! The leader election record and its client-go wire formats.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The annotation on ConfigMap and Endpoints locks that holds the record JSON.
pub const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

/// The holder a [`MultiLock`](crate::MultiLock) reports when its two locks disagree.
pub const UNKNOWN_LEADER: &str = "leaderelection.k8s.io/unknown";

/// Who holds a lock, for how long, and since when: client-go's `LeaderElectionRecord`.
///
/// Serialized (for the ConfigMap and Endpoints annotation) exactly as client-go writes it:
/// `{"holderIdentity":"a","leaseDurationSeconds":15,"acquireTime":"2024-01-02T03:04:05Z",
/// "renewTime":"2024-01-02T03:04:05Z","leaderTransitions":0}`; times are RFC 3339 at whole
/// seconds and an absent time is `null`.
///
/// The times are informational only: the elector never compares them with its own clock.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderElectionRecord {
    /// The identity of the holder; empty means nobody holds the lock.
    #[serde(default)]
    pub holder_identity: String,
    /// How long, after a change of the record is observed, a candidate must wait before taking over.
    #[serde(default)]
    pub lease_duration_seconds: i64,
    /// When the current holder acquired the lock.
    #[serde(default, with = "seconds")]
    pub acquire_time: Option<Timestamp>,
    /// When the current holder last renewed the lock.
    #[serde(default, with = "seconds")]
    pub renew_time: Option<Timestamp>,
    /// How many times the lock changed hands.
    #[serde(default)]
    pub leader_transitions: i64,
}

impl LeaderElectionRecord {
    /// Whether somebody holds the lock.
    pub fn is_held(&self) -> bool {
        !self.holder_identity.is_empty()
    }

    /// The annotation value for ConfigMap and Endpoints locks.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("a record always serializes")
    }

    /// Parse an annotation value written by us or by client-go.
    pub fn from_annotation(value: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(value)
    }
}

/// `metav1.Time`: RFC 3339 in UTC at whole seconds, `null` when unset.
mod seconds {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s.as_deref() {
            None | Some("") => Ok(None),
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_matches_client_go_shape() {
        let t: Timestamp = "2024-01-02T03:04:05.678901Z".parse().unwrap();
        let r = LeaderElectionRecord {
            holder_identity: "node-a".into(),
            lease_duration_seconds: 15,
            acquire_time: Some(t),
            renew_time: Some(t),
            leader_transitions: 3,
        };
        assert_eq!(
            r.to_annotation(),
            r#"{"holderIdentity":"node-a","leaseDurationSeconds":15,"acquireTime":"2024-01-02T03:04:05Z","renewTime":"2024-01-02T03:04:05Z","leaderTransitions":3}"#
        );
        let empty = LeaderElectionRecord::default().to_annotation();
        assert_eq!(
            empty,
            r#"{"holderIdentity":"","leaseDurationSeconds":0,"acquireTime":null,"renewTime":null,"leaderTransitions":0}"#
        );
    }

    #[test]
    fn reads_client_go_annotation_with_extra_fields() {
        let go = r#"{"holderIdentity":"kube-controller-manager-1_0d7a","leaseDurationSeconds":15,"acquireTime":"2024-05-06T07:08:09Z","renewTime":"2024-05-06T07:18:09Z","leaderTransitions":7,"strategy":"","preferredHolder":""}"#;
        let r = LeaderElectionRecord::from_annotation(go).unwrap();
        assert_eq!(r.holder_identity, "kube-controller-manager-1_0d7a");
        assert_eq!(r.lease_duration_seconds, 15);
        assert_eq!(r.leader_transitions, 7);
        assert_eq!(r.renew_time, Some("2024-05-06T07:18:09Z".parse().unwrap()));
        let released = r#"{"holderIdentity":"","leaseDurationSeconds":1,"acquireTime":null,"renewTime":null,"leaderTransitions":7}"#;
        assert!(!LeaderElectionRecord::from_annotation(released).unwrap().is_held());
    }
}
