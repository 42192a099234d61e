//! `MultiLock`: two locks held together, for migrating from one lock kind to another.

use super::{ResourceLock, Result};
use crate::record::{LeaderElectionRecord, UNKNOWN_LEADER};

/// A primary and a secondary lock written together, as client-go's `configmapsleases` and
/// `endpointsleases` migration locks: primary ConfigMap/Endpoints, secondary Lease.
///
/// Candidates running the old single lock and candidates running the `MultiLock` exclude each
/// other through the primary; once every candidate runs the `MultiLock`, the next step can
/// switch to the secondary alone. When the two records name different holders, the holder
/// reads as [`UNKNOWN_LEADER`], which makes candidates wait a full lease duration.
#[derive(Debug)]
pub struct MultiLock<P, S> {
    primary: P,
    secondary: S,
}

impl<P: ResourceLock, S: ResourceLock> MultiLock<P, S> {
    /// Combine `primary` and `secondary` (both with the same identity).
    pub fn new(primary: P, secondary: S) -> Self {
        Self { primary, secondary }
    }
}

/// The combined raw record, `primary,secondary`.
fn concat(primary: &[u8], secondary: &[u8]) -> Vec<u8> {
    let mut raw = primary.to_vec();
    raw.push(b',');
    raw.extend_from_slice(secondary);
    raw
}

#[async_trait::async_trait]
impl<P: ResourceLock, S: ResourceLock> ResourceLock for MultiLock<P, S> {
    async fn get(&self) -> Result<(LeaderElectionRecord, Vec<u8>)> {
        let (mut primary, mut primary_raw) = self.primary.get().await?;
        let (secondary, secondary_raw) = match self.secondary.get().await {
            Ok(s) => s,
            // Held by a candidate that only knows the primary.
            Err(e) if e.is_not_found() && primary.holder_identity != self.secondary.identity() => {
                return Ok((primary, primary_raw));
            }
            Err(e) => return Err(e),
        };
        if primary.holder_identity != secondary.holder_identity {
            primary.holder_identity = UNKNOWN_LEADER.to_string();
            primary_raw = primary.to_annotation().into_bytes();
        }
        Ok((primary, concat(&primary_raw, &secondary_raw)))
    }

    async fn create(&self, record: &LeaderElectionRecord) -> Result<()> {
        match self.primary.create(record).await {
            Ok(()) => {}
            // client-go goes on to create the secondary whenever the primary exists. We do so only
            // if the primary names us (our secondary was deleted): otherwise another candidate
            // created the primary first and won, and our primary would be left uninitialized.
            Err(e) if e.is_already_exists() => {
                let (primary, _) = self.primary.get().await?;
                if primary.holder_identity != self.primary.identity() {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        self.secondary.create(record).await
    }

    async fn update(&self, record: &LeaderElectionRecord) -> Result<()> {
        self.primary.update(record).await?;
        match self.secondary.get().await {
            Err(e) if e.is_not_found() => self.secondary.create(record).await,
            _ => self.secondary.update(record).await,
        }
    }

    fn identity(&self) -> &str {
        self.primary.identity()
    }

    fn describe(&self) -> String {
        self.primary.describe()
    }

    fn record_event(&self, event: &str) {
        self.primary.record_event(event);
        self.secondary.record_event(event);
    }
}
