//! CustomResourceDefinitions from Rust types (being written).
