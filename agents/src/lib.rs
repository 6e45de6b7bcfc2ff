//! The per-cluster side of the federation: the pull agent that applies Works to a member
//! cluster and reports its health, the control plane's equivalent for Push clusters, and the
//! member control plane (controllers, member scheduler and simulated kubelets around our
//! apiserver).

pub mod agent;
pub mod member;
pub mod push;
