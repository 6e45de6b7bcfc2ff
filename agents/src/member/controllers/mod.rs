//! The member's controllers, one module per kind they reconcile.
pub mod deployment;
pub mod endpointslice;
pub mod replicaset;
pub mod service;
pub mod serviceaccount;
