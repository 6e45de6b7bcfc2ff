//! `policy.karmada.io/v1alpha1`: where resources go (propagation policies), how they change per
//! cluster (override policies), and which cluster taints apply (cluster taint policies).

pub mod matching;
pub mod overrides;
pub mod propagation;
pub mod selectors;
pub mod taint;
