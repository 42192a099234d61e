//! Resource locks: where the [`LeaderElectionRecord`] is stored.
//!
//! A lock reads and writes one record with compare-and-swap: [`ResourceLock::update`] sends a
//! full PUT carrying the `resourceVersion` last seen by [`ResourceLock::get`] (or by the last
//! successful write), so a concurrent writer makes it fail with [`Error::Conflict`].

mod annotation;
mod events;
mod lease;
mod multi;

pub use annotation::{AnnotationLock, ConfigMapLock, EndpointsLock};
pub use events::LockEvents;
pub use lease::{LeaseLock, lease_spec_to_record, record_to_lease_spec};
pub use multi::MultiLock;

use crate::record::LeaderElectionRecord;

/// Why a lock operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lock object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The lock object exists already (on create).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// Somebody else wrote the lock object since we last read it.
    #[error("conflict writing {0}: somebody else wrote it first")]
    Conflict(String),
    /// `update` was called before any successful `get` or `create`.
    #[error("{0} has not been read yet")]
    NotInitialized(String),
    /// Another API failure (transport, server error, forbidden, ...).
    #[error("API call on {what} failed")]
    Api {
        /// The lock.
        what: String,
        /// The client error.
        #[source]
        source: Box<kube_client::Error>,
    },
    /// The record stored in the lock object cannot be parsed.
    #[error("invalid leader election record in {what}")]
    InvalidRecord {
        /// The lock.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The call did not finish in time.
    #[error("call on {0} timed out")]
    Timeout(String),
    /// Any other failure (for locks outside this crate).
    #[error("{0}")]
    Other(String),
}

/// The result type of lock operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Map a client error on `what` onto the cases the elector distinguishes.
    pub fn from_api(what: String, e: kube_client::Error) -> Self {
        if e.is_not_found() {
            Error::NotFound(what)
        } else if e.is_already_exists() {
            Error::AlreadyExists(what)
        } else if e.is_conflict() {
            Error::Conflict(what)
        } else {
            Error::Api {
                what,
                source: Box::new(e),
            }
        }
    }

    /// 404: the lock object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }

    /// 409 on create.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists(_))
    }

    /// 409 on update: someone else won.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict(_))
    }
}

/// A place to store the leader election record: client-go's `resourcelock.Interface`.
///
/// Implementations keep the object they last read or wrote, so that `update` can send its
/// `resourceVersion`. [`get`](Self::get) also returns raw bytes that change with every write
/// (ours include the `resourceVersion` besides the record itself): the elector
/// restarts its expiry clock whenever those bytes change.
#[async_trait::async_trait]
pub trait ResourceLock: Send + Sync {
    /// Read the record and its raw bytes. [`Error::NotFound`] if the object does not exist.
    async fn get(&self) -> Result<(LeaderElectionRecord, Vec<u8>)>;
    /// Create the object holding `record`.
    async fn create(&self, record: &LeaderElectionRecord) -> Result<()>;
    /// Replace the record with a full PUT carrying the last seen `resourceVersion`.
    async fn update(&self, record: &LeaderElectionRecord) -> Result<()>;
    /// This candidate's identity.
    fn identity(&self) -> &str;
    /// A human-readable name of the lock, `namespace/name`.
    fn describe(&self) -> String;
    /// Record an event such as "became leader": logged, and published as a Kubernetes Event
    /// about the lock object when the lock has [`LockEvents`].
    fn record_event(&self, event: &str) {
        tracing::info!(lock = %self.describe(), identity = %self.identity(), "{event}");
    }
}

#[async_trait::async_trait]
impl<L: ResourceLock + ?Sized> ResourceLock for std::sync::Arc<L> {
    async fn get(&self) -> Result<(LeaderElectionRecord, Vec<u8>)> {
        (**self).get().await
    }
    async fn create(&self, record: &LeaderElectionRecord) -> Result<()> {
        (**self).create(record).await
    }
    async fn update(&self, record: &LeaderElectionRecord) -> Result<()> {
        (**self).update(record).await
    }
    fn identity(&self) -> &str {
        (**self).identity()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn record_event(&self, event: &str) {
        (**self).record_event(event)
    }
}

/// The lock kinds of client-go's `resourcelock.New` (and the components' `--leader-elect-resource-lock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// `leases`: a [`LeaseLock`].
    Leases,
    /// `configmaps`: a [`ConfigMapLock`].
    ConfigMaps,
    /// `endpoints`: an [`EndpointsLock`].
    Endpoints,
    /// `configmapsleases`: a [`MultiLock`] of a ConfigMap and a Lease.
    ConfigMapsLeases,
    /// `endpointsleases`: a [`MultiLock`] of an Endpoints object and a Lease.
    EndpointsLeases,
}

impl LockKind {
    /// Every kind.
    pub const ALL: [LockKind; 5] = [
        LockKind::Leases,
        LockKind::ConfigMaps,
        LockKind::Endpoints,
        LockKind::ConfigMapsLeases,
        LockKind::EndpointsLeases,
    ];

    /// The lock `namespace/name` of this kind, held as `identity`.
    pub fn build(
        self,
        client: kube_client::Client,
        namespace: &str,
        name: &str,
        identity: &str,
    ) -> std::sync::Arc<dyn ResourceLock> {
        self.build_with_events(client, namespace, name, identity, None)
    }

    /// [`build`](Self::build), with every lock object of it recording Events through `events`
    /// (both objects of a migration lock, as client-go's `MultiLock` does).
    pub fn build_with_events(
        self,
        client: kube_client::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        events: Option<LockEvents>,
    ) -> std::sync::Arc<dyn ResourceLock> {
        use std::sync::Arc;
        fn with<L>(lock: L, events: &Option<LockEvents>, add: fn(L, LockEvents) -> L) -> L {
            match events {
                Some(events) => add(lock, events.clone()),
                None => lock,
            }
        }
        let lease = || {
            with(
                LeaseLock::new(client.clone(), namespace, name, identity),
                &events,
                LeaseLock::with_events,
            )
        };
        let config_map = || {
            with(
                ConfigMapLock::new(client.clone(), namespace, name, identity),
                &events,
                ConfigMapLock::with_events,
            )
        };
        let endpoints = || {
            with(
                EndpointsLock::new(client.clone(), namespace, name, identity),
                &events,
                EndpointsLock::with_events,
            )
        };
        match self {
            LockKind::Leases => Arc::new(lease()),
            LockKind::ConfigMaps => Arc::new(config_map()),
            LockKind::Endpoints => Arc::new(endpoints()),
            LockKind::ConfigMapsLeases => Arc::new(MultiLock::new(config_map(), lease())),
            LockKind::EndpointsLeases => Arc::new(MultiLock::new(endpoints(), lease())),
        }
    }

    /// client-go's name of the kind (`leases`, `configmapsleases`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::Leases => "leases",
            LockKind::ConfigMaps => "configmaps",
            LockKind::Endpoints => "endpoints",
            LockKind::ConfigMapsLeases => "configmapsleases",
            LockKind::EndpointsLeases => "endpointsleases",
        }
    }
}

impl std::fmt::Display for LockKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for LockKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for LockKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for LockKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // client-go's names, and the singular forms of the example's `--lock`.
        let alias = match s {
            "lease" => "leases",
            "configmap" => "configmaps",
            other => other,
        };
        LockKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == alias)
            .ok_or_else(|| {
                format!(
                    "unknown lock kind {s:?}; expected leases, configmaps, endpoints, configmapsleases or endpointsleases"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::LockKind;

    #[test]
    fn kinds_read_back_their_names_and_the_singular_aliases() {
        for kind in LockKind::ALL {
            assert_eq!(kind.as_str().parse::<LockKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(serde_json::from_str::<LockKind>(&json).unwrap(), kind);
        }
        assert_eq!("lease".parse::<LockKind>(), Ok(LockKind::Leases));
        assert_eq!("configmap".parse::<LockKind>(), Ok(LockKind::ConfigMaps));
        let e = "Leases".parse::<LockKind>().unwrap_err();
        assert!(e.contains("unknown lock kind \"Leases\""), "{e}");
    }
}
