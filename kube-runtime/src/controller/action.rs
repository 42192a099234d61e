//! What a reconciler asks for next.

use std::time::Duration;

/// The outcome of a successful reconcile: when to look at the object again.
///
/// Errors need no action: the controller requeues the object with per-item exponential backoff
/// (5 ms doubling to 1000 s, as client-go's default controller rate limiter) and resets the
/// backoff after the next success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// Reconcile again after `after`, even if nothing changes (for polling external state, or
    /// expiring something on time). A change before then reconciles earlier.
    pub fn requeue(after: Duration) -> Self {
        Self {
            requeue_after: Some(after),
        }
    }

    /// Reconcile again only when the object (or something it owns or watches) changes. The
    /// default.
    pub fn await_change() -> Self {
        Self { requeue_after: None }
    }

    /// The requested delay, if any.
    pub fn requeue_after(&self) -> Option<Duration> {
        self.requeue_after
    }
}
