//! TLS: rustls client configuration from a [`Config`](crate::Config).
