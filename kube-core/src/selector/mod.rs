//! Label and field selectors: parse, match, convert.

pub mod field;
pub mod label;

pub use field::FieldSelector;
pub use label::Selector;
