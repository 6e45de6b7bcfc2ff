//! The generic registry: which resources exist and how objects of any kind are stored.

pub mod catalog;
pub mod native;
