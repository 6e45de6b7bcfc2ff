//! Karmada's dependencies distributor (`propagateDeps`): what a workload template refers to,
//! and the "attached" bindings that carry those objects to wherever the workload goes.

pub mod attached;
pub mod controller;
mod references;

pub use self::controller::run;
pub use self::references::{Dependency, Selection, dependencies, selections};
