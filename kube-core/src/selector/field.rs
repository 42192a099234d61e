//! Field selectors.

/// A parsed field selector (stub: being written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector;
