//! The generic registry: which resources exist and how objects of any kind are stored.

pub mod catalog;
pub mod defaults;
pub mod error;
pub mod list;
pub mod object;
pub mod store;
pub mod strategy;
pub mod watch_cache;
pub mod native;
pub mod jsonpath;
pub mod table;
pub mod fields;
pub mod quantity;
pub mod selector;
pub mod validation;
