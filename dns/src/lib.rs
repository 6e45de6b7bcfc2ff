//! `karmada dns`: an authoritative DNS server for the federation's multi-cluster services
//! (`<svc>.<ns>.svc.clusterset.local`) and global names, answering only Ready clusters.

pub mod answer;
pub mod config;
mod keys;
mod lookup;
pub mod metrics;
pub mod model;
mod policy;
pub mod server;
pub mod source;
mod udp;
