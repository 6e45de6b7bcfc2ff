//! A member cluster: our apiserver plus the controllers, scheduler and simulated kubelets that
//! make it behave like a real Kubernetes cluster. Every component talks to the apiserver
//! through kube-rs, as it would to any cluster.

pub mod cluster;
pub mod controllers;
pub mod expectations;
pub mod hash;
pub mod kubelet;
pub mod pod_cache;
pub mod pod_owner;
pub mod runtime;
pub mod scheduler;
