//! Label selectors.

/// A parsed label selector (stub: being written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector;
