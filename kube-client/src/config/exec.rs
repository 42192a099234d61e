//! Exec credential plugins.
