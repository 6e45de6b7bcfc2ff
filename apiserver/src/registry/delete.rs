//! Deletion: finalizers, graceful pod deletion, propagation policies and preconditions.

use serde_json::Value;

use super::catalog::Resource;
use super::error::Result;
use super::object::{Meta, meta_mut, set_finalizers};
use super::store::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Store, conflict, present};
use super::watch_cache::decode;
use crate::storage;

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

impl Store {
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
                    .storage()
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
            match self.storage().delete(&key, Some(mod_revision)).await {
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
