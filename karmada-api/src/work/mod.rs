//! `work.karmada.io`: bindings (v1alpha2), the scheduler's view of one resource and where it
//! goes, and Works (v1alpha1), the manifests one member cluster applies.

pub mod binding;
#[allow(clippy::module_inception)] // the kind is named Work, as Karmada names it
pub mod work;
