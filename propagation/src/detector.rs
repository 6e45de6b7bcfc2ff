//! The resource detector's decisions: which policy claims a resource template, the claim
//! metadata stamped on it, and the ResourceBinding built from the pair.

pub mod binding;
pub mod claim;
pub mod controller;
pub mod decide;
pub mod policy;
pub mod refresh;
pub mod replicas;

pub use self::binding::{Binding, BindingInputs, binding_for, binding_name};
pub use self::claim::{Claim, claim_patch, claimed_by, release_patch};
pub use self::decide::{Decision, decide};
pub use self::policy::{Match, best_policy, may_preempt};
pub use self::refresh::refresh;
pub use self::replicas::{Replicas, interpret_replicas};

/// Why a binding could not be built from a resource template.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template lacks a field every Kubernetes object has.
    #[error("resource template has no {field}; it is not a Kubernetes object")]
    MissingField { field: &'static str },
    /// The pod template of a workload does not parse as a Kubernetes pod spec.
    #[error("cannot read the pod template of {kind} {name:?} to interpret its replicas")]
    PodTemplate {
        kind: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
    /// A container requests an amount that is not a Kubernetes quantity.
    #[error("{kind} {name:?} requests {resource} {value:?}, which is not a valid quantity")]
    Quantity {
        kind: String,
        name: String,
        resource: String,
        value: String,
    },
    /// The policy asks for a PriorityClass's priority that the caller did not resolve.
    #[error(
        "the policy's schedulePriority names PriorityClass {class:?}, whose value is unknown; create the PriorityClass or remove schedulePriority"
    )]
    SchedulePriority { class: String },
    /// The existing binding belongs to another object than the template it would now bind.
    #[error(
        "binding {binding:?} is controlled by another object (the template was recreated); it is updated once garbage collection removes it"
    )]
    OwnerChanged { binding: String },
    /// A replica count of a workload is not a 32-bit integer.
    #[error("{kind} {name:?} has a {field} that is not a 32-bit integer")]
    ReplicaCount {
        kind: String,
        name: String,
        field: &'static str,
    },
}
