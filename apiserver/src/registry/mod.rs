//! The generic registry: which resources exist and how objects of any kind are stored.

pub mod catalog;
pub mod convert;
pub mod defaults;
pub mod delete;
pub mod error;
pub mod fields;
pub mod jsonpath;
pub mod karmada;
pub mod list;
pub mod native;
pub mod object;
pub mod quantity;
pub mod selector;
pub mod store;
pub mod strategy;
pub mod table;
pub mod validation;
pub mod watch_cache;
