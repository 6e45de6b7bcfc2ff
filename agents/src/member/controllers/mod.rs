//! The member's controllers, one module per kind they reconcile.
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpointslice;
pub mod job;
pub mod per_namespace;
pub mod replicaset;
pub mod root_ca;
pub mod service;
pub mod serviceaccount;
pub mod statefulset;
