//! The per-cluster side of the federation: the member control plane (controllers, member
//! scheduler and simulated kubelets around our apiserver). The pull agent and push executor
//! arrive with the agent issue.

pub mod member;
