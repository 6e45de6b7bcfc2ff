//! The API server as kube-rs sees it: typed CRUD, patches, subresources, watchers, reflectors,
//! paging, restarts, finalizers, garbage collection, namespaces and discovery.

#[path = "../support/mod.rs"]
mod support;

mod binding;
mod crud;
mod discovery;
mod events;
mod fixtures;
mod lifecycle;
mod patches;
mod watch;
