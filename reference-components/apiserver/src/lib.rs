//! The reference apiserver: the only component that touches storage.
//!
//! Not built yet: the reference-apiserver issue fills this crate (storage, REST, list-watch).
