//! What wakes the dependencies distributor besides a binding's own changes: parents and their
//! attached bindings wake each other, and a dependency's change wakes the bindings using it.

use std::sync::Arc;

use futures::Stream;
use karmada_api::work::binding::ResourceBinding;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::index::Index;
use crate::binding::controller::{changes, fingerprint};
use crate::dependencies::attached::required_by;

/// What the distributor reads from a binding itself: status writes change neither what a
/// binding depends on nor where it is scheduled.
pub fn binding_fingerprint(binding: &ResourceBinding) -> u64 {
    let meta = &binding.metadata;
    fingerprint(&(
        meta.generation,
        &meta.labels,
        meta.deletion_timestamp.is_some(),
    ))
}

/// Every change of a dependency kind's objects.
pub fn dependency_changes<K>(
    client: &Client,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    // Any write may matter: creation, deletion, and content the attached binding's Works copy.
    changes(Api::<K>::all(client.clone()), |object: &K| {
        fingerprint(&object.meta().resource_version)
    })
}

/// The bindings that last listed this object among their dependencies, or select its labels.
pub fn dependents<K: Resource<DynamicType = ()>>(
    index: &Index,
    object: &K,
) -> Vec<ObjectRef<ResourceBinding>> {
    let meta = object.meta();
    index.dependents(
        &K::kind(&()),
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
        object.labels(),
    )
}

/// The parents an attached binding lists, and (for a binding that propagates its
/// dependencies) the attached bindings that record it.
pub fn related(
    store: &Store<ResourceBinding>,
    binding: &ResourceBinding,
) -> Vec<ObjectRef<ResourceBinding>> {
    let mut refs: Vec<ObjectRef<ResourceBinding>> = binding
        .spec
        .required_by
        .iter()
        .map(|parent| {
            ObjectRef::new(&parent.name).within(parent.namespace.as_deref().unwrap_or_default())
        })
        .collect();
    if binding.spec.propagate_deps == Some(true) {
        refs.extend(attached_to(store, binding).map(|b| ObjectRef::from_obj(&*b)));
    }
    refs
}

/// The bindings in `parent`'s namespace that record it as a dependent.
pub fn attached_to(
    store: &Store<ResourceBinding>,
    parent: &ResourceBinding,
) -> impl Iterator<Item = Arc<ResourceBinding>> + use<> {
    let namespace = parent.namespace().unwrap_or_default();
    let name = parent.name_any();
    store.state().into_iter().filter(move |b| {
        b.metadata.namespace.as_deref() == Some(namespace.as_str())
            && required_by(b, &namespace, &name)
    })
}

/// Every change of a binding that matters to the distributor, deletions included.
pub fn changes_of(
    api: Api<ResourceBinding>,
) -> impl Stream<Item = Result<ResourceBinding, watcher::Error>> + Send + 'static {
    changes(api, binding_fingerprint)
}
