//! Lists and watches: selectors, paging with continue tokens, and resource-version semantics.

use std::sync::Arc;

use base64::Engine;
use serde_json::Value;
use tokio::sync::broadcast;

use super::catalog::Resource;
use super::error::{Error, Result};
use super::fields;
use super::object::Meta;
use super::selector::{FieldSelector, LabelSelector};
use super::store::{Store, present, present_shared};
use super::watch_cache::{Change, ChangeKind, Retained, decode};
use crate::storage::{RangeOptions, Revision};

/// How long a consistent list waits for the cache before reading storage.
const CONSISTENT_READ_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Which objects a list or watch selects.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
}

impl Filter {
    /// Checks that the field selector only names fields the kind supports.
    pub fn check(&self, resource: &Resource) -> Result<()> {
        if let Some(selector) = &self.fields {
            let probe = Value::Object(Default::default());
            for field in selector.fields() {
                fields::field_value(&resource.group, &resource.kind, &probe, field).map_err(
                    |_| Error::BadRequest(format!("field label not supported: {field}")),
                )?;
            }
        }
        Ok(())
    }

    /// Whether a stored object is selected. Selectors apply to the object as the client sees
    /// it, so objects stored in another version are converted first.
    pub fn matches(&self, resource: &Resource, object: &Value) -> bool {
        if self.labels.is_none() && self.fields.is_none() {
            return true;
        }
        let stored_as = object.get("apiVersion").and_then(Value::as_str);
        if stored_as.is_some_and(|v| v != resource.api_version()) {
            return self.matches_presented(resource, &present(resource, object.clone()));
        }
        self.matches_presented(resource, object)
    }

    fn matches_presented(&self, resource: &Resource, object: &Value) -> bool {
        if let Some(labels) = &self.labels {
            let empty = serde_json::Map::new();
            if !labels.matches(object.labels().unwrap_or(&empty)) {
                return false;
            }
        }
        if let Some(selector) = &self.fields {
            let get = |field: &str| {
                fields::field_value(&resource.group, &resource.kind, object, field)
                    .ok()
                    .flatten()
            };
            if !selector.matches(get) {
                return false;
            }
        }
        true
    }

    /// The cached objects under `prefix` this filter may select (through the label index when
    /// the label selector allows), still to be matched one by one.
    fn candidates(&self, store: &Store, prefix: &str) -> (Vec<(String, Arc<Value>)>, Revision) {
        store.cache().list_selectable(prefix, self.labels.as_ref())
    }

    fn prefix(&self, resource: &Resource) -> String {
        match (&self.namespace, resource.namespaced) {
            (Some(ns), true) => format!("{}{ns}/", resource.storage_prefix()),
            _ => resource.storage_prefix(),
        }
    }
}

/// `resourceVersion` / `resourceVersionMatch` of a list request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReadAt {
    /// No resource version: the most recent state.
    #[default]
    Latest,
    /// `resourceVersion=0`: any state the server has (served from the cache as is).
    Any,
    /// Not older than this revision.
    NotOlderThan(Revision),
    /// Exactly this revision.
    Exact(Revision),
}

/// A list request.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub filter: Filter,
    pub limit: usize,
    pub continue_token: Option<String>,
    pub read_at: ReadAt,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Arc<Value>>,
    pub revision: Revision,
    pub continue_token: Option<String>,
    pub remaining: Option<i64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: Revision,
    start: String,
}

fn encode_continue(revision: Revision, last_key: &str) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv: revision,
        start: last_key.into(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str) -> Result<ContinueToken> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| Error::BadRequest("continue key is not valid: illegal base64 data".into()))?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| {
        Error::BadRequest(
            "continue key is not valid: incorrect encoded start resourceVersion".into(),
        )
    })?;
    if token.v != "meta.k8s.io/v1" {
        return Err(Error::BadRequest(
            "continue key is not valid: server does not recognize this encoded key".into(),
        ));
    }
    Ok(token)
}

impl Store {
    /// Lists objects of a resource.
    pub async fn list(&self, resource: &Resource, options: &ListOptions) -> Result<Page> {
        options.filter.check(resource)?;
        let prefix = options.filter.prefix(resource);
        if let Some(token) = &options.continue_token {
            let token = decode_continue(token)?;
            return self
                .list_from_storage(
                    resource,
                    options,
                    &prefix,
                    Some(token.start),
                    Some(token.rv),
                )
                .await;
        }
        match options.read_at {
            ReadAt::Exact(revision) => {
                return self
                    .list_from_storage(resource, options, &prefix, None, Some(revision))
                    .await;
            }
            ReadAt::Latest => {
                // A consistent read: serve from the cache once it has caught up with storage.
                // Writes outside this server's keys (another prefix on a shared etcd) raise
                // storage's revision without ever reaching the cache, so when it does not catch
                // up quickly the list is read from storage instead, as kube-apiserver falls back:
                // at storage's latest revision, which is at least the one waited for and needs
                // nothing rebuilt from the log.
                let current = self.storage().current_revision().await?;
                if self
                    .cache()
                    .wait_for_within(current, CONSISTENT_READ_WAIT)
                    .await
                    .is_err()
                {
                    return self
                        .list_from_storage(resource, options, &prefix, None, None)
                        .await;
                }
            }
            ReadAt::NotOlderThan(revision) => self.cache().wait_for(revision).await?,
            ReadAt::Any => {}
        }
        let (entries, revision) = options.filter.candidates(self, &prefix);
        let mut items = Vec::new();
        let mut last_key = None;
        let mut matched_after = 0i64;
        for (key, object) in entries {
            if !options.filter.matches(resource, &object) {
                continue;
            }
            if options.limit > 0 && items.len() >= options.limit && options.read_at != ReadAt::Any {
                matched_after += 1;
                continue;
            }
            last_key = Some(key);
            items.push(present_shared(resource, object));
        }
        let continue_token = (matched_after > 0)
            .then(|| encode_continue(revision, last_key.as_deref().unwrap_or_default()));
        Ok(Page {
            items,
            revision,
            continue_token,
            remaining: (matched_after > 0).then_some(matched_after),
        })
    }

    /// Reads a page straight from storage: at a fixed revision (continuations and exact reads),
    /// or with `None` at the latest one, which then fixes the revision of the whole page.
    async fn list_from_storage(
        &self,
        resource: &Resource,
        options: &ListOptions,
        prefix: &str,
        mut start_after: Option<String>,
        revision: Option<Revision>,
    ) -> Result<Page> {
        let mut items = Vec::new();
        // An unlimited list is read in one go (one snapshot, nothing to rebuild from the log);
        // a page a page's worth at a time.
        let batch = options.limit.min(10_000);
        let mut at = revision;
        loop {
            let range = self
                .storage()
                .range(prefix, RangeOptions { start_after: start_after.clone(), limit: batch, revision: at })
                .await
                .map_err(|e| match e {
                    crate::storage::Error::Compacted { .. } => Error::Expired(
                        "The provided continue parameter is too old to display a consistent list result. \
                         You can start a new list without the continue parameter."
                            .into(),
                    ),
                    other => other.into(),
                })?;
            let revision = *at.get_or_insert(range.revision);
            for kv in &range.kvs {
                start_after = Some(kv.key.clone());
                let object = present(resource, decode(&kv.value, kv.mod_revision)?);
                if options.filter.matches(resource, &object) {
                    items.push(Arc::new(object));
                    if options.limit > 0 && items.len() >= options.limit {
                        let more = range.more
                            || kv.key
                                != range.kvs.last().map(|k| k.key.clone()).unwrap_or_default();
                        let continue_token = more.then(|| encode_continue(revision, &kv.key));
                        return Ok(Page {
                            items,
                            revision,
                            continue_token,
                            remaining: None,
                        });
                    }
                }
            }
            if !range.more {
                return Ok(Page {
                    items,
                    revision,
                    continue_token: None,
                    remaining: None,
                });
            }
        }
    }

    /// Starts a watch. `from` is the resource version after which changes are wanted;
    /// `None` means "send the current objects as ADDED first, then changes".
    pub async fn watch(
        &self,
        resource: &Resource,
        filter: Filter,
        from: Option<Revision>,
    ) -> Result<Watch> {
        filter.check(resource)?;
        let prefix = filter.prefix(resource);
        let (initial, backlog, receiver, revision) = match from {
            Some(revision) => {
                let current = self.cache().revision();
                if revision > current {
                    self.cache().wait_for(revision).await?;
                }
                let sub = self.cache().watch(Some(revision))?;
                (Vec::new(), sub.backlog, sub.receiver, revision)
            }
            None => {
                let sub = self.cache().watch(None)?;
                let (backlog, receiver, at) = (sub.backlog, sub.receiver, sub.revision);
                let (entries, listed_at) = filter.candidates(self, &prefix);
                // Events between the snapshot and the subscription are dropped below by revision.
                let initial = entries
                    .into_iter()
                    .filter(|(_, o)| filter.matches(resource, o))
                    .map(|(_, o)| Event {
                        kind: EventType::Added,
                        object: present_shared(resource, o),
                    })
                    .collect();
                let backlog = backlog
                    .into_iter()
                    .filter(|c| c.revision > listed_at)
                    .collect();
                (initial, backlog, receiver, at.max(listed_at))
            }
        };
        Ok(Watch {
            resource: resource.clone(),
            filter,
            prefix,
            pending: initial.into_iter().collect(),
            backlog: backlog.into_iter().collect(),
            receiver,
            revision,
        })
    }
}

/// Watch event types as the API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One event for a watcher.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    pub object: Arc<Value>,
}

/// A running watch over one resource.
pub struct Watch {
    resource: Resource,
    filter: Filter,
    prefix: String,
    pending: std::collections::VecDeque<Event>,
    backlog: std::collections::VecDeque<Arc<Retained>>,
    receiver: broadcast::Receiver<Arc<Change>>,
    /// The revision delivered so far (for bookmarks).
    revision: Revision,
}

impl Watch {
    /// Whether synthetic ADDED events for the initial state are still to come.
    pub fn has_pending_initial(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The kind being watched.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The latest revision this watch has passed.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The next event. `Err(Expired)` when the watcher fell behind and must re-list.
    pub async fn next(&mut self) -> Result<Event> {
        if let Some(event) = self.pending.pop_front() {
            return Ok(event);
        }
        loop {
            let change = match self.backlog.pop_front() {
                Some(retained) if retained.revision <= self.revision => continue,
                // Only the changes this watch can see are parsed again.
                Some(retained) if !retained.key.starts_with(&self.prefix) => {
                    self.revision = retained.revision;
                    continue;
                }
                Some(retained) => Arc::new(retained.change()?),
                None => match self.receiver.recv().await {
                    Ok(change) => change,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Err(Error::Expired(
                            "watch fell behind; too old resource version".into(),
                        ));
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(Error::ServiceUnavailable(
                            "the watch cache has stopped".into(),
                        ));
                    }
                },
            };
            if change.revision <= self.revision {
                continue;
            }
            self.revision = change.revision;
            if let Some(event) = self.classify(&change) {
                return Ok(event);
            }
        }
    }

    /// Turns a store change into what this watcher sees: objects moving into the selection
    /// appear as ADDED, moving out as DELETED.
    fn classify(&self, change: &Change) -> Option<Event> {
        if !change.key.starts_with(&self.prefix) {
            return None;
        }
        let now = change.kind != ChangeKind::Deleted
            && self.filter.matches(&self.resource, &change.object);
        let before = change
            .prev
            .as_ref()
            .is_some_and(|p| self.filter.matches(&self.resource, p));
        let kind = match (change.kind, before, now) {
            (ChangeKind::Deleted, true, _) => EventType::Deleted,
            (ChangeKind::Deleted, false, _) => {
                // A delete of an object we never knew from a selection still counts when it matched.
                if self.filter.matches(&self.resource, &change.object) {
                    EventType::Deleted
                } else {
                    return None;
                }
            }
            (_, false, true) => EventType::Added,
            (_, true, true) => EventType::Modified,
            (_, true, false) => EventType::Deleted,
            (_, false, false) => return None,
        };
        Some(Event {
            kind,
            object: present_shared(&self.resource, change.object.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(42, "/registry/core/pods/default/a");
        let decoded = decode_continue(&token).expect("valid");
        assert_eq!(decoded.rv, 42);
        assert_eq!(decoded.start, "/registry/core/pods/default/a");
        assert!(matches!(decode_continue("%%%"), Err(Error::BadRequest(_))));
    }
}
