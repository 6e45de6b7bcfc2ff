//! A Kubernetes-compatible API server: storage backends, the generic registry, and the HTTP
//! surface that unmodified kubectl and kube-rs talk to.

pub mod registry;
pub mod storage;
