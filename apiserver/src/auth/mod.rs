//! Identities the server vouches for: service-account tokens and their signing key.

pub mod tokens;
