//! The generic store: create, read, update, delete and list objects of any resource, with
//! Kubernetes' metadata rules written once for every kind.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::catalog::{Catalog, Resource};
use super::error::{Error, Result};
use super::karmada;
use super::object::{Meta, generate_name, meta_mut, now_rfc3339, set_finalizers};
use super::strategy::{self, Subresource};
use super::watch_cache::{WatchCache, decode, set_resource_version};
use crate::storage::{self, KeyValue, Storage};

/// Finalizer that makes an owner wait until its dependents are deleted.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// Finalizer that makes an owner release its dependents before it goes.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// Options shared by every write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: run every step, persist nothing.
    pub dry_run: bool,
    /// The `fieldManager` recorded in `managedFields`.
    pub field_manager: Option<String>,
    /// The new state comes from server-side apply, which records its own ownership.
    pub applied: bool,
}

pub use super::delete::{DeleteOptions, Deleted, Propagation};

/// The generic store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    storage: Arc<dyn Storage>,
    cache: WatchCache,
    catalog: Catalog,
    /// Whether Karmada's admission runs on its kinds (a federation apiserver).
    karmada: bool,
}

impl Store {
    pub fn new(storage: Arc<dyn Storage>, cache: WatchCache, catalog: Catalog) -> Self {
        Store {
            storage,
            cache,
            catalog,
            karmada: false,
        }
    }

    /// The same store, running Karmada's admission on Karmada's kinds.
    pub fn with_karmada_admission(mut self) -> Self {
        self.karmada = true;
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn cache(&self) -> &WatchCache {
        &self.cache
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub(super) fn not_found(resource: &Resource, name: &str) -> Error {
        Error::NotFound {
            group: resource.group.clone(),
            resource: resource.plural.clone(),
            name: name.into(),
        }
    }

    pub(super) fn conflict(resource: &Resource, name: &str) -> Error {
        conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// Reads one object from storage (not from the cache, so a client reads its own writes).
    pub async fn get(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value> {
        self.read(resource, namespace, name)
            .await?
            .map(|(v, _)| v)
            .ok_or_else(|| Self::not_found(resource, name))
    }

    pub(super) async fn read(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<(Value, i64)>> {
        let key = resource.storage_key(namespace, name);
        match self.storage().get(&key).await? {
            Some(kv) => Ok(Some((
                present(resource, decode(&kv.value, kv.mod_revision)?),
                kv.mod_revision,
            ))),
            None => Ok(None),
        }
    }

    /// Creates an object. `namespace` comes from the URL.
    pub async fn create(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        mut object: Value,
        options: &WriteOptions,
    ) -> Result<Value> {
        self.identify(resource, namespace, None, &mut object)?;
        if object.resource_version().is_some() {
            return Err(Error::BadRequest(
                "resourceVersion should not be set on objects to be created".into(),
            ));
        }
        let meta = meta_mut(&mut object);
        if meta
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            match meta
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                Some(prefix) => {
                    let name = generate_name(prefix);
                    meta.insert("name".into(), name.into());
                }
                None => {
                    return Err(Error::invalid(
                        &resource.group,
                        &resource.kind,
                        "",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    ));
                }
            }
        }
        let name = object.name().unwrap_or_default().to_string();
        if let Some(ns) = namespace {
            self.check_namespace_open(resource, ns, &name).await?;
        }
        let meta = meta_mut(&mut object);
        meta.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
        meta.insert("creationTimestamp".into(), now_rfc3339().into());
        for field in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "resourceVersion",
        ] {
            meta.remove(field);
        }
        strategy::prepare_create(resource, &mut object);
        if self.karmada {
            karmada::admit(resource, None, &mut object)?;
        }
        strategy::bump_generation(resource, None, &mut object);
        strategy::validate(resource, None, &object)?;
        if !options.applied {
            crate::patch::managed_fields::record_update(
                None,
                &mut object,
                manager(options),
                &resource.api_version(),
                &now_rfc3339(),
                None,
            );
        }
        if options.dry_run {
            return Ok(object);
        }
        let key = resource.storage_key(namespace, &name);
        match self
            .storage
            .create(&key, self.encode(resource, &object)?)
            .await
        {
            Ok(kv) => self.stored(resource, object, &kv),
            Err(storage::Error::AlreadyExists(_)) => Err(Error::AlreadyExists {
                group: resource.group.clone(),
                resource: resource.plural.clone(),
                name,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Refuses new objects in a namespace that is missing or terminating.
    async fn check_namespace_open(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Result<()> {
        if !resource.namespaced {
            return Ok(());
        }
        let Some(namespaces) = self.catalog.get("", "v1", "namespaces") else {
            return Ok(());
        };
        // Like kube-apiserver's NamespaceLifecycle: trust the cache when it knows the
        // namespace, and read storage only when it does not (it may not have caught up yet).
        let found = match self.cached(&namespaces, None, namespace) {
            Some(ns) => Some((*ns).clone()),
            None => self
                .read(&namespaces, None, namespace)
                .await?
                .map(|(ns, _)| ns),
        };
        match found {
            None => Err(Error::NotFound {
                group: String::new(),
                resource: "namespaces".into(),
                name: namespace.into(),
            }),
            Some(ns) if ns.is_deleting() => Err(Error::Forbidden(format!(
                "{}{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                resource.plural,
                if resource.group.is_empty() {
                    String::new()
                } else {
                    format!(".{}", resource.group)
                },
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Checks and fills `apiVersion`, `kind`, namespace and name against the request.
    fn identify(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: Option<&str>,
        object: &mut Value,
    ) -> Result<()> {
        let Some(map) = object.as_object_mut() else {
            return Err(Error::BadRequest(
                "the request body must be a JSON object".into(),
            ));
        };
        let api_version = resource.api_version();
        match map.get("apiVersion").and_then(Value::as_str) {
            Some(v) if !v.is_empty() && v != api_version => {
                return Err(Error::BadRequest(format!(
                    "the API version in the data ({v}) does not match the expected API version ({api_version})"
                )));
            }
            _ => {}
        }
        match map.get("kind").and_then(Value::as_str) {
            Some(k) if !k.is_empty() && k != resource.kind => {
                return Err(Error::BadRequest(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    resource.kind
                )));
            }
            _ => {}
        }
        map.insert("apiVersion".into(), api_version.into());
        map.insert("kind".into(), resource.kind.clone().into());
        let meta = meta_mut(object);
        if resource.namespaced {
            let ns = namespace.ok_or_else(|| {
                Error::BadRequest("a namespace is required for this resource".into())
            })?;
            match meta.get("namespace").and_then(Value::as_str) {
                Some(body) if !body.is_empty() && body != ns => {
                    return Err(Error::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request".into(),
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), ns.into());
                }
            }
        } else {
            meta.remove("namespace");
        }
        if let Some(url_name) = name {
            match meta.get("name").and_then(Value::as_str) {
                Some(body) if !body.is_empty() && body != url_name => {
                    return Err(Error::BadRequest(format!(
                        "the name of the object ({body}) does not match the name on the URL ({url_name})"
                    )));
                }
                _ => {
                    meta.insert("name".into(), url_name.into());
                }
            }
        }
        Ok(())
    }

    /// Replaces an object (PUT). An empty `resourceVersion` means an unconditional update.
    pub async fn update(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        object: Value,
        subresource: Subresource,
        options: &WriteOptions,
    ) -> Result<Value> {
        self.update_with(
            resource,
            namespace,
            name,
            subresource,
            options,
            false,
            |_| Ok(object.clone()),
        )
        .await
        .map(|(v, _)| v)
    }

    /// Reads the object, lets `mutate` produce its new state, and writes it back with
    /// compare-and-swap, retrying when someone else wrote in between. `mutate` gets `None`
    /// when the object does not exist (only with `allow_create`). A `resourceVersion` in the
    /// new state is a precondition. Returns the stored object and whether it was created.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_with(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        options: &WriteOptions,
        allow_create: bool,
        mut mutate: impl FnMut(Option<&Value>) -> Result<Value>,
    ) -> Result<(Value, bool)> {
        let key = resource.storage_key(namespace, name);
        // The first attempt starts from the watch cache, saving a storage read; anything that
        // could be an artefact of a stale copy (a failed precondition, a refused change, "no
        // change", a failed compare-and-swap) is retried from storage before it is believed.
        let mut try_cache = !options.dry_run;
        for _ in 0..16 {
            let cached = if try_cache {
                self.cached_with_revision(resource, namespace, name)
            } else {
                None
            };
            try_cache = false;
            let from_cache = cached.is_some();
            let read = match cached {
                Some(hit) => Some(hit),
                None => (self.read(resource, namespace, name).await?)
                    .map(|(object, revision)| (Arc::new(object), revision)),
            };
            let Some((current, mod_revision)) = read else {
                if !allow_create {
                    return Err(Self::not_found(resource, name));
                }
                let mut object = mutate(None)?;
                meta_mut(&mut object).insert("name".into(), name.into());
                meta_mut(&mut object).remove("resourceVersion");
                match self.create(resource, namespace, object, options).await {
                    Err(Error::AlreadyExists { .. }) => continue,
                    other => return other.map(|v| (v, true)),
                }
            };
            let mut new = match self.next_state(
                resource,
                namespace,
                name,
                subresource,
                options,
                &current,
                &mut mutate,
            ) {
                Ok(new) => new,
                Err(_) if from_cache => continue,
                Err(e) => return Err(e),
            };
            if unchanged(&current, &new) {
                if from_cache {
                    continue;
                }
                return Ok((Arc::unwrap_or_clone(current), false));
            }
            if options.dry_run {
                return Ok((new, false));
            }
            let written = if new.is_deleting() && !held(resource, &new) {
                self.storage
                    .delete(&key, Some(mod_revision))
                    .await
                    .map(|_| None)
            } else {
                meta_mut(&mut new).remove("resourceVersion");
                let value = self.encode(resource, &new)?;
                self.storage
                    .update(&key, value, mod_revision)
                    .await
                    .map(Some)
            };
            match written {
                Ok(Some(kv)) => return Ok((self.stored(resource, new, &kv)?, false)),
                Ok(None) => return Ok((new, false)),
                Err(storage::Error::Conflict { .. }) => continue,
                Err(storage::Error::NotFound(_)) if from_cache => continue,
                Err(storage::Error::NotFound(_)) => return Err(Self::not_found(resource, name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Self::conflict(resource, name))
    }

    /// The cached copy of an object with its revision, as the client would read it.
    fn cached_with_revision(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<(Arc<Value>, i64)> {
        let object = self.cached(resource, namespace, name)?;
        let revision = object.resource_version()?.parse().ok()?;
        Some((present_shared(resource, object), revision))
    }

    /// Runs an update's steps on `current`: the caller's change, identity and precondition
    /// checks, the kind's strategy, validation and field ownership.
    #[allow(clippy::too_many_arguments)]
    fn next_state(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        options: &WriteOptions,
        current: &Value,
        mutate: &mut impl FnMut(Option<&Value>) -> Result<Value>,
    ) -> Result<Value> {
        let mut new = mutate(Some(current))?;
        self.identify(resource, namespace, Some(name), &mut new)?;
        if let Some(rv) = new.resource_version()
            && rv != current.resource_version().unwrap_or_default()
        {
            return Err(Self::conflict(resource, name));
        }
        if let Some(uid) = new.uid()
            && !uid.is_empty()
            && Some(uid) != current.uid()
        {
            return Err(conflict(
                resource,
                name,
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    current.uid().unwrap_or_default()
                ),
            ));
        }
        strategy::prepare_update(resource, current, &mut new, subresource);
        self.keep_system_metadata(resource, current, &mut new)?;
        if self.karmada && subresource == Subresource::Main {
            karmada::admit(resource, Some(current), &mut new)?;
        }
        strategy::bump_generation(resource, Some(current), &mut new);
        strategy::validate(resource, Some(current), &new)?;
        if !options.applied {
            crate::patch::managed_fields::record_update(
                Some(current),
                &mut new,
                manager(options),
                &resource.api_version(),
                &now_rfc3339(),
                subresource.name(),
            );
        }
        Ok(new)
    }

    /// Adds (`present = true`) or removes a finalizer, writing only when that changes something.
    pub async fn set_finalizer(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        finalizer: &str,
        present: bool,
        options: &WriteOptions,
    ) -> Result<Value> {
        let (object, _) = self
            .update_with(
                resource,
                namespace,
                name,
                Subresource::Main,
                options,
                false,
                |current| {
                    let mut new = current.cloned().unwrap_or_default();
                    let mut finalizers: Vec<String> = new
                        .finalizers()
                        .into_iter()
                        .filter(|f| f != finalizer)
                        .collect();
                    if present {
                        finalizers.push(finalizer.to_string());
                    }
                    set_finalizers(&mut new, &finalizers);
                    Ok(new)
                },
            )
            .await?;
        Ok(object)
    }

    /// Carries server-owned metadata over from the stored object and enforces the rules of
    /// objects being deleted.
    fn keep_system_metadata(
        &self,
        resource: &Resource,
        current: &Value,
        new: &mut Value,
    ) -> Result<()> {
        let old_meta = current.meta().cloned().unwrap_or_default();
        let old_finalizers = current.finalizers();
        let new_finalizers = new.finalizers();
        let meta = meta_mut(new);
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.get(field) {
                Some(v) => meta.insert(field.into(), v.clone()),
                None => meta.remove(field),
            };
        }
        meta.remove("selfLink");
        if current.is_deleting() {
            let added: Vec<&String> = new_finalizers
                .iter()
                .filter(|f| !old_finalizers.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(Error::invalid(
                    &resource.group,
                    &resource.kind,
                    current.name().unwrap_or_default(),
                    "metadata.finalizers",
                    format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Serialises an object for storage, in the kind's storage version and without its
    /// resource version (which is the revision).
    pub(super) fn encode(&self, resource: &Resource, object: &Value) -> Result<Bytes> {
        let (api_version, kind) = self.catalog.storage_version(resource);
        let encoded = if super::convert::is_shaped(object, &api_version, &kind) {
            serde_json::to_vec(object)
        } else {
            serde_json::to_vec(&super::convert::convert(
                object.clone(),
                &api_version,
                &kind,
            ))
        };
        encoded
            .map(Bytes::from)
            .map_err(|e| Error::Internal(format!("cannot encode object: {e}")))
    }

    /// `object` as it was just written in `kv`, as the client sees it. The written bytes are
    /// parsed again only when storing converted the object; otherwise they hold `object` itself.
    fn stored(&self, resource: &Resource, mut object: Value, kv: &KeyValue) -> Result<Value> {
        let (api_version, kind) = self.catalog.storage_version(resource);
        let as_read = super::convert::is_shaped(&object, &api_version, &kind)
            && api_version == resource.api_version()
            && kind == resource.kind;
        if as_read {
            set_resource_version(&mut object, kv.mod_revision);
            Ok(object)
        } else {
            Ok(present(resource, decode(&kv.value, kv.mod_revision)?))
        }
    }

    /// The object named by `(group, plural, namespace, name)` as the cache last saw it.
    pub fn cached(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Arc<Value>> {
        self.cache.get(&resource.storage_key(namespace, name))
    }
}

/// Whether something still holds a deleted object: finalizers, or for namespaces the
/// `spec.finalizers` the namespace controller clears once the namespace is empty.
pub(super) fn held(resource: &Resource, object: &Value) -> bool {
    let spec_finalizers = resource.group.is_empty()
        && resource.kind == "Namespace"
        && object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
    !object.finalizers().is_empty() || spec_finalizers
}

/// A 409 Conflict about one object.
pub(super) fn conflict(resource: &Resource, name: &str, message: impl Into<String>) -> Error {
    Error::Conflict {
        group: resource.group.clone(),
        resource: resource.plural.clone(),
        name: name.into(),
        message: message.into(),
    }
}

fn manager(options: &WriteOptions) -> &str {
    options.field_manager.as_deref().unwrap_or("unknown")
}

/// Whether an update changes nothing but bookkeeping (then it is not written at all).
fn unchanged(current: &Value, new: &Value) -> bool {
    let (Some(current), Some(new)) = (current.as_object(), new.as_object()) else {
        return current == new;
    };
    let empty = Map::new();
    let (current_meta, new_meta) = (
        metadata(current).unwrap_or(&empty),
        metadata(new).unwrap_or(&empty),
    );
    same_except(current, new, &["metadata"])
        && same_except(
            current_meta,
            new_meta,
            &["resourceVersion", "managedFields"],
        )
}

fn metadata(object: &Map<String, Value>) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

/// Whether two maps hold the same entries, in any order, apart from the keys in `skip`.
fn same_except(a: &Map<String, Value>, b: &Map<String, Value>, skip: &[&str]) -> bool {
    let kept = |m: &Map<String, Value>| m.keys().filter(|k| !skip.contains(&k.as_str())).count();
    kept(a) == kept(b)
        && a.iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .all(|(k, v)| b.get(k) == Some(v))
}

/// Shapes a stored object for the version it is read at.
pub fn present(resource: &Resource, object: Value) -> Value {
    super::convert::convert(object, &resource.api_version(), &resource.kind)
}

/// A cached object as the client sees it, sharing the cached copy when it is already in the
/// requested version (the common case), so reads, lists and watches do not copy every object.
pub(super) fn present_shared(resource: &Resource, object: Arc<Value>) -> Arc<Value> {
    if super::convert::is_shaped(&object, &resource.api_version(), &resource.kind) {
        object
    } else {
        Arc::new(present(resource, (*object).clone()))
    }
}

#[cfg(test)]
mod tests;
