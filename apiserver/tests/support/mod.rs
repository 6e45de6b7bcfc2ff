//! Shared fixtures for the apiserver's integration tests.

// Each test binary uses a different subset of these fixtures.
#![allow(dead_code)]

pub mod etcd;
pub mod server;
