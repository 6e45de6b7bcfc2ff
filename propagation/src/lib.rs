//! The federation's controllers as library modules: which policy claims a resource template,
//! how a template is rewritten for each member cluster, and how members' status flows back.
//! Decisions are pure functions; the controllers (execution namespaces so far) act on them
//! through kube-rs.

pub mod application_failover;
pub mod binding;
pub mod cluster_health;
pub mod cluster_watch;
pub mod dependencies;
pub mod detector;
pub mod eviction;
pub mod execution_namespace;
pub mod graceful_eviction;
pub mod namespace_sync;
pub mod overrides;
pub mod rebalancer;
pub mod resources;
#[cfg(test)]
mod samples;
pub mod select;
pub mod service_import;
pub mod status;
pub mod taint_manager;
pub mod taint_policy;
