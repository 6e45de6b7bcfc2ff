//! The generic store: create, read, update, delete and list objects of any resource, with
//! Kubernetes' metadata rules written once for every kind.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::catalog::{Catalog, Resource};
use super::error::{Error, Result};
use super::object::{Meta, generate_name, meta_mut, now_rfc3339, set_finalizers};
use super::strategy::{self, Subresource};
use super::watch_cache::{WatchCache, decode};
use crate::storage::{self, Storage};

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

/// How dependents are handled when their owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// `DeleteOptions` as the store needs them.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Option<Propagation>,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The object as deleted, or as it now waits for finalizers.
    pub object: Value,
    /// True when the object is gone; false when it waits for finalizers or grace.
    pub gone: bool,
}

/// The generic store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    storage: Arc<dyn Storage>,
    cache: WatchCache,
    catalog: Catalog,
}

impl Store {
    pub fn new(storage: Arc<dyn Storage>, cache: WatchCache, catalog: Catalog) -> Self {
        Store {
            storage,
            cache,
            catalog,
        }
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

    fn not_found(resource: &Resource, name: &str) -> Error {
        Error::NotFound {
            group: resource.group.clone(),
            resource: resource.plural.clone(),
            name: name.into(),
        }
    }

    fn conflict(resource: &Resource, name: &str) -> Error {
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

    async fn read(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<(Value, i64)>> {
        let key = resource.storage_key(namespace, name);
        match self.storage.get(&key).await? {
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
            Ok(kv) => Ok(present(resource, decode(&kv.value, kv.mod_revision)?)),
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
        for _ in 0..16 {
            let Some((current, mod_revision)) = self.read(resource, namespace, name).await? else {
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
            let mut new = mutate(Some(&current))?;
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
            strategy::prepare_update(resource, &current, &mut new, subresource);
            self.keep_system_metadata(resource, &current, &mut new)?;
            strategy::bump_generation(resource, Some(&current), &mut new);
            strategy::validate(resource, Some(&current), &new)?;
            if !options.applied {
                crate::patch::managed_fields::record_update(
                    Some(&current),
                    &mut new,
                    manager(options),
                    &resource.api_version(),
                    &now_rfc3339(),
                    subresource.name(),
                );
            }
            if unchanged(&current, &new) {
                return Ok((current, false));
            }
            if options.dry_run {
                return Ok((new, false));
            }
            if new.is_deleting() && !held(resource, &new) {
                match self.storage.delete(&key, Some(mod_revision)).await {
                    Ok(_) => return Ok((new, false)),
                    Err(storage::Error::Conflict { .. }) => continue,
                    Err(storage::Error::NotFound(_)) => {
                        return Err(Self::not_found(resource, name));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            meta_mut(&mut new).remove("resourceVersion");
            match self
                .storage
                .update(&key, self.encode(resource, &new)?, mod_revision)
                .await
            {
                Ok(kv) => {
                    return Ok((
                        present(resource, decode(&kv.value, kv.mod_revision)?),
                        false,
                    ));
                }
                Err(storage::Error::Conflict { .. }) => continue,
                Err(storage::Error::NotFound(_)) => return Err(Self::not_found(resource, name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Self::conflict(resource, name))
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

    /// Deletes an object, or marks it for deletion when finalizers or a grace period hold it.
    pub async fn delete(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Deleted> {
        let key = resource.storage_key(namespace, name);
        for _ in 0..16 {
            let (current, mod_revision) = self
                .read(resource, namespace, name)
                .await?
                .ok_or_else(|| Self::not_found(resource, name))?;
            check_preconditions(resource, &current, options)?;
            let mut finalizers = current.finalizers();
            let grace = pod_grace(resource, &current, options);
            let mut marked = current.clone();
            let needs_mark = if current.is_deleting() {
                false
            } else {
                match options.propagation {
                    Some(Propagation::Foreground) => {
                        push_unique(&mut finalizers, FOREGROUND_FINALIZER);
                    }
                    Some(Propagation::Orphan) => push_unique(&mut finalizers, ORPHAN_FINALIZER),
                    _ => {}
                }
                // Namespaces always go through the namespace controller.
                let namespace_kind = resource.group.is_empty() && resource.kind == "Namespace";
                !finalizers.is_empty() || grace > 0 || namespace_kind
            };
            if needs_mark {
                set_finalizers(&mut marked, &finalizers);
                let meta = meta_mut(&mut marked);
                let when = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
                meta.insert(
                    "deletionTimestamp".into(),
                    when.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into(),
                );
                meta.insert("deletionGracePeriodSeconds".into(), grace.into());
                if resource.group.is_empty()
                    && resource.kind == "Namespace"
                    && let Some(status) = marked.as_object_mut().map(|m| {
                        m.entry("status")
                            .or_insert_with(|| Value::Object(Default::default()))
                    })
                    && let Some(status) = status.as_object_mut()
                {
                    status.insert("phase".into(), "Terminating".into());
                }
                if options.dry_run {
                    return Ok(Deleted {
                        object: marked,
                        gone: false,
                    });
                }
                meta_mut(&mut marked).remove("resourceVersion");
                match self
                    .storage
                    .update(&key, self.encode(resource, &marked)?, mod_revision)
                    .await
                {
                    Ok(kv) => {
                        return Ok(Deleted {
                            object: present(resource, decode(&kv.value, kv.mod_revision)?),
                            gone: false,
                        });
                    }
                    Err(storage::Error::Conflict { .. }) => continue,
                    Err(storage::Error::NotFound(_)) => {
                        return Err(Self::not_found(resource, name));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let can_go_now = current.finalizers().is_empty()
                && (!current.is_deleting() || grace == 0 || !is_pod(resource));
            if !can_go_now {
                return Ok(Deleted {
                    object: current,
                    gone: false,
                });
            }
            if options.dry_run {
                return Ok(Deleted {
                    object: current,
                    gone: true,
                });
            }
            match self.storage.delete(&key, Some(mod_revision)).await {
                Ok(_) => {
                    return Ok(Deleted {
                        object: current,
                        gone: true,
                    });
                }
                Err(storage::Error::Conflict { .. }) => continue,
                Err(storage::Error::NotFound(_)) => return Err(Self::not_found(resource, name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Self::conflict(resource, name))
    }

    /// Serialises an object for storage, in the kind's storage version and without its
    /// resource version (which is the revision).
    fn encode(&self, resource: &Resource, object: &Value) -> Result<Bytes> {
        let (api_version, kind) = self.catalog.storage_version(resource);
        let stored = super::convert::convert(object.clone(), &api_version, &kind);
        serde_json::to_vec(&stored)
            .map(Bytes::from)
            .map_err(|e| Error::Internal(format!("cannot encode object: {e}")))
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
fn held(resource: &Resource, object: &Value) -> bool {
    let spec_finalizers = resource.group.is_empty()
        && resource.kind == "Namespace"
        && object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
    !object.finalizers().is_empty() || spec_finalizers
}

/// A 409 Conflict about one object.
fn conflict(resource: &Resource, name: &str, message: impl Into<String>) -> Error {
    Error::Conflict {
        group: resource.group.clone(),
        resource: resource.plural.clone(),
        name: name.into(),
        message: message.into(),
    }
}

fn is_pod(resource: &Resource) -> bool {
    resource.group.is_empty() && resource.kind == "Pod"
}

/// Grace period of a pod deletion: bound pods get their termination grace period so the
/// node agent can stop them; unbound pods and other kinds go at once.
fn pod_grace(resource: &Resource, current: &Value, options: &DeleteOptions) -> i64 {
    if !is_pod(resource) {
        return 0;
    }
    let bound = current
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        current.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !bound || finished {
        return 0;
    }
    options
        .grace_period_seconds
        .or_else(|| {
            current
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0)
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|f| f == item) {
        list.push(item.to_string());
    }
}

fn check_preconditions(
    resource: &Resource,
    current: &Value,
    options: &DeleteOptions,
) -> Result<()> {
    let name = current.name().unwrap_or_default();
    if let Some(uid) = &options.precondition_uid
        && Some(uid.as_str()) != current.uid()
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
    if let Some(rv) = &options.precondition_resource_version
        && Some(rv.as_str()) != current.resource_version()
    {
        return Err(conflict(
            resource,
            name,
            format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                current.resource_version().unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

fn manager(options: &WriteOptions) -> &str {
    options.field_manager.as_deref().unwrap_or("unknown")
}

/// Whether an update changes nothing but bookkeeping (then it is not written at all).
fn unchanged(current: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        let meta = meta_mut(&mut v);
        meta.remove("resourceVersion");
        meta.remove("managedFields");
        v
    };
    strip(current) == strip(new)
}

/// Shapes a stored object for the version it is read at.
pub fn present(resource: &Resource, object: Value) -> Value {
    super::convert::convert(object, &resource.api_version(), &resource.kind)
}
