//! The garbage collector: deletes objects whose owners are gone, and finishes foreground and
//! orphan deletions of owners.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::registry::object::Meta;
use crate::registry::store::{
    DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Propagation, Store, WriteOptions,
};
use crate::registry::strategy::Subresource;
use crate::registry::watch_cache::REGISTRY_PREFIX;

/// How many times a pass's duration the collector rests before the next.
const REST_PER_PASS: u32 = 10;

pub async fn run(store: Store, cancel: CancellationToken) {
    let Ok(mut receiver) = store.cache().watch(None).map(|s| s.receiver) else {
        return;
    };
    loop {
        let started = tokio::time::Instant::now();
        collect(&store).await;
        // A pass reads every object, so on a large store passes back to back would take a
        // whole core. Resting ten times as long as the pass took keeps the collector under a
        // tenth of a core at any size; changes meanwhile wait in the receiver.
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(started.elapsed() * REST_PER_PASS) => {}
        }
        if !super::next_batch(&mut receiver, "", &cancel, Duration::from_secs(30)).await {
            return;
        }
    }
}

/// What the collector decides for one snapshot of the store.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    /// Dependents whose every owner is gone, or whose owner is being deleted in the foreground.
    delete: Vec<(String, Propagation)>,
    /// (dependent key, owner uid) references to drop for orphaning owners.
    orphan: Vec<(String, String)>,
    /// Owners whose foreground or orphan finalizer can be removed (key, finalizer).
    release: Vec<(String, &'static str)>,
}

/// Decides what to do, purely from the objects in the store.
fn plan(objects: &[(String, Arc<Value>)]) -> Plan {
    let by_uid: HashMap<&str, &Value> = objects
        .iter()
        .filter_map(|(_, o)| o.uid().map(|u| (u, o.as_ref())))
        .collect();
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut plan = Plan::default();
    for (key, object) in objects {
        let owners = object.owner_references();
        if owners.is_empty() {
            continue;
        }
        let owner_uids: Vec<&str> = owners
            .iter()
            .filter_map(|o| o.get("uid").and_then(Value::as_str))
            .collect();
        for uid in &owner_uids {
            dependents.entry(uid).or_default().push(key.as_str());
        }
        let all_gone = owner_uids.iter().all(|u| !by_uid.contains_key(u));
        let foreground_owner = owner_uids.iter().any(|u| {
            by_uid.get(u).is_some_and(|o| {
                o.is_deleting() && o.finalizers().iter().any(|f| f == FOREGROUND_FINALIZER)
            })
        });
        if object.is_deleting() {
            continue;
        }
        if all_gone {
            plan.delete.push((key.clone(), Propagation::Background));
        } else if foreground_owner {
            plan.delete.push((key.clone(), Propagation::Foreground));
        }
    }
    for (key, owner) in objects {
        if !owner.is_deleting() {
            continue;
        }
        let uid = owner.uid().unwrap_or_default();
        let finalizers = owner.finalizers();
        let mine = dependents.get(uid).cloned().unwrap_or_default();
        if finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
            if mine.is_empty() {
                plan.release.push((key.clone(), ORPHAN_FINALIZER));
            } else {
                plan.orphan
                    .extend(mine.iter().map(|d| (d.to_string(), uid.to_string())));
            }
        } else if finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) && mine.is_empty() {
            plan.release.push((key.clone(), FOREGROUND_FINALIZER));
        }
    }
    plan
}

async fn collect(store: &Store) {
    let (objects, _) = store.cache().list(REGISTRY_PREFIX);
    let plan = plan(&objects);
    let find = |key: &str| {
        objects
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, o)| o.clone())
    };
    let options = WriteOptions {
        field_manager: Some("garbage-collector".into()),
        ..Default::default()
    };
    for (key, propagation) in &plan.delete {
        if let Some(object) = find(key) {
            let delete = DeleteOptions {
                propagation: Some(*propagation),
                ..Default::default()
            };
            super::delete_quietly(store, &object, &delete).await;
        }
    }
    for (key, owner_uid) in &plan.orphan {
        let Some(object) = find(key) else { continue };
        let Some(resource) = super::resource_of(store, &object) else {
            continue;
        };
        let result = store
            .update_with(
                &resource,
                object.namespace(),
                object.name().unwrap_or_default(),
                Subresource::Main,
                &options,
                false,
                |current| {
                    let mut new = current.cloned().unwrap_or_default();
                    if let Some(refs) = new
                        .pointer_mut("/metadata/ownerReferences")
                        .and_then(Value::as_array_mut)
                    {
                        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
                        if refs.is_empty() {
                            new["metadata"]
                                .as_object_mut()
                                .map(|m| m.remove("ownerReferences"));
                        }
                    }
                    Ok(new)
                },
            )
            .await;
        if let Err(e) = result {
            tracing::debug!(key, error = %e, "could not orphan dependent");
        }
    }
    for (key, finalizer) in &plan.release {
        let Some(owner) = find(key) else { continue };
        let Some(resource) = super::resource_of(store, &owner) else {
            continue;
        };
        let result = store
            .set_finalizer(
                &resource,
                owner.namespace(),
                owner.name().unwrap_or_default(),
                finalizer,
                false,
                &options,
            )
            .await;
        if let Err(e) = result {
            tracing::debug!(key, error = %e, "could not release owner");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(
        key: &str,
        uid: &str,
        owners: &[&str],
        finalizers: &[&str],
        deleting: bool,
    ) -> (String, Arc<Value>) {
        let mut meta = json!({"name": key, "uid": uid});
        if !owners.is_empty() {
            meta["ownerReferences"] = owners
                .iter()
                .map(|o| json!({"uid": o, "kind": "X", "name": "x", "apiVersion": "v1"}))
                .collect();
        }
        if !finalizers.is_empty() {
            meta["finalizers"] = json!(finalizers);
        }
        if deleting {
            meta["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        (key.to_string(), Arc::new(json!({"metadata": meta})))
    }

    #[test]
    fn orphans_of_missing_owners_are_deleted() {
        let objects = vec![
            obj("rs", "u-rs", &["u-gone"], &[], false),
            obj("pod", "u-pod", &["u-rs"], &[], false),
        ];
        let p = plan(&objects);
        assert_eq!(p.delete, vec![("rs".to_string(), Propagation::Background)]);
    }

    #[test]
    fn foreground_deletes_dependents_then_releases_owner() {
        let owner = obj("deploy", "u-d", &[], &[FOREGROUND_FINALIZER], true);
        let with_child = plan(&[owner.clone(), obj("rs", "u-rs", &["u-d"], &[], false)]);
        assert_eq!(
            with_child.delete,
            vec![("rs".to_string(), Propagation::Foreground)]
        );
        assert!(with_child.release.is_empty());
        let alone = plan(&[owner]);
        assert_eq!(
            alone.release,
            vec![("deploy".to_string(), FOREGROUND_FINALIZER)]
        );
    }

    #[test]
    fn orphan_policy_strips_references_first() {
        let owner = obj("deploy", "u-d", &[], &[ORPHAN_FINALIZER], true);
        let p = plan(&[owner, obj("rs", "u-rs", &["u-d"], &[], false)]);
        assert_eq!(p.orphan, vec![("rs".to_string(), "u-d".to_string())]);
        assert!(p.delete.is_empty() && p.release.is_empty());
    }
}
