//! The pull agent: registers its member cluster with the federation, keeps its heartbeat and
//! status current, and applies the Works of its execution namespace to the member.
pub mod execution;

pub mod cluster;
pub mod estimator;
pub mod mcs;
