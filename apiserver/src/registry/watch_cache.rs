//! An in-memory mirror of the whole store that serves lists and watches.
//!
//! One storage watch feeds it; it keeps every current object (parsed, with its
//! `resourceVersion` filled in) and a bounded window of recent events. The window keeps each
//! change as the JSON the store holds and parses it again only when a watch replays it: a parsed
//! object takes several times the memory of its JSON, and most changes are never replayed.
//! Lists wait until the
//! mirror has caught up with the revision the caller needs, so reads stay consistent with
//! writes; watches replay from the window and then follow live events. A watch that asks for
//! history older than the window gets `Expired` (410), as from kube-apiserver's cache.
//! An index by label serves lists that select by label value.

mod labels;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::error::{Error, Result};
use super::selector::{LabelSelector, Operator};
use crate::storage::{self, EventKind, RangeOptions, Revision, Storage};

/// Prefix under which every object lives.
pub const REGISTRY_PREFIX: &str = "/registry/";

/// How a cached object changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One change of one object, as watchers see it.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: ChangeKind,
    pub key: String,
    pub revision: Revision,
    /// The object after the change; for deletes, its last state (with the delete's revision).
    pub object: Arc<Value>,
    /// The object before the change, if it existed.
    pub prev: Option<Arc<Value>>,
}

/// A change as the window keeps it: the stored JSON of the object after and before it.
#[derive(Debug)]
pub struct Retained {
    pub kind: ChangeKind,
    pub key: String,
    pub revision: Revision,
    object: Bytes,
    /// The object before the change and the revision it was written at.
    prev: Option<(Bytes, Revision)>,
}

impl Retained {
    /// The change as watchers see it, parsed again.
    pub fn change(&self) -> Result<Change> {
        let prev = match &self.prev {
            Some((value, revision)) => Some(Arc::new(decode(value, *revision)?)),
            None => None,
        };
        Ok(Change {
            kind: self.kind,
            key: self.key.clone(),
            revision: self.revision,
            object: Arc::new(decode(&self.object, self.revision)?),
            prev,
        })
    }
}

/// A current object, parsed, and the stored JSON it was parsed from (shared with the window).
struct Cached {
    object: Arc<Value>,
    stored: Bytes,
    revision: Revision,
}

struct State {
    objects: BTreeMap<String, Cached>,
    labels: labels::LabelIndex,
    /// Recent changes, oldest first.
    window: VecDeque<Arc<Retained>>,
    /// Events older than this revision are no longer in the window.
    window_start: Revision,
    revision: Revision,
}

impl State {
    /// Every object under `prefix`.
    fn under(&self, prefix: &str) -> Vec<(String, Arc<Value>)> {
        self.objects
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.object.clone()))
            .collect()
    }
}

/// A watch on the cache: the retained changes to replay, then the live ones.
pub struct Subscription {
    pub backlog: Vec<Arc<Retained>>,
    pub receiver: broadcast::Receiver<Arc<Change>>,
    /// The cache revision when the subscription started.
    pub revision: Revision,
}

/// The shared cache. Cheap to clone.
#[derive(Clone)]
pub struct WatchCache {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<Arc<Change>>,
    progress: watch::Receiver<Revision>,
    capacity: usize,
}

/// Options of [`WatchCache::start`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Number of recent changes kept for watches that resume from the past.
    pub window: usize,
    /// Buffer of the live fan-out channel; a watcher further behind is dropped with 410.
    pub fanout_buffer: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            window: 20_000,
            fanout_buffer: 16_384,
        }
    }
}

/// Decodes a stored value and fills in its resource version.
pub fn decode(value: &[u8], revision: Revision) -> Result<Value> {
    let mut object: Value = serde_json::from_slice(value)
        .map_err(|e| Error::Internal(format!("stored object is not valid JSON: {e}")))?;
    set_resource_version(&mut object, revision);
    Ok(object)
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(object: &mut Value, revision: Revision) {
    if let Some(obj) = object.as_object_mut() {
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(
                "resourceVersion".into(),
                Value::String(revision.to_string()),
            );
        }
    }
}

impl WatchCache {
    /// Loads the current state and follows the store until `cancel` fires.
    pub async fn start(
        storage: Arc<dyn Storage>,
        options: Options,
        cancel: CancellationToken,
    ) -> Result<Self> {
        let range = storage
            .range(REGISTRY_PREFIX, RangeOptions::default())
            .await?;
        let mut objects = BTreeMap::new();
        let mut labels = labels::LabelIndex::default();
        for kv in &range.kvs {
            let cached = Cached {
                object: Arc::new(decode(&kv.value, kv.mod_revision)?),
                stored: kv.value.clone(),
                revision: kv.mod_revision,
            };
            labels.insert(&kv.key, &cached.object);
            objects.insert(kv.key.clone(), cached);
        }
        let revision = range.revision;
        let (events, _) = broadcast::channel(options.fanout_buffer);
        let (progress_tx, progress) = watch::channel(revision);
        let cache = WatchCache {
            state: Arc::new(Mutex::new(State {
                objects,
                labels,
                window: VecDeque::new(),
                window_start: revision + 1,
                revision,
            })),
            events,
            progress,
            capacity: options.window,
        };
        let stream = storage.watch(REGISTRY_PREFIX, revision + 1).await?;
        let feeder = cache.clone();
        tokio::spawn(async move { feeder.follow(stream, progress_tx, cancel).await });
        Ok(cache)
    }

    async fn follow(
        &self,
        mut stream: storage::WatchStream,
        progress: watch::Sender<Revision>,
        cancel: CancellationToken,
    ) {
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return,
                next = stream.next() => next,
            };
            match next {
                Some(Ok(event)) => {
                    let revision = event.revision();
                    if let Err(e) = self.apply(&event) {
                        tracing::error!(error = %e, "watch cache could not apply a storage event");
                    }
                    progress.send_replace(revision);
                }
                Some(Err(e)) => {
                    // The cache cannot serve anything correct after losing events: stop serving.
                    tracing::error!(error = %e, "storage watch failed; the watch cache stops");
                    return;
                }
                None => {
                    tracing::error!("storage watch ended; the watch cache stops");
                    return;
                }
            }
        }
    }

    fn apply(&self, event: &storage::Event) -> Result<()> {
        let revision = event.revision();
        let key = event.kv.key.clone();
        let object = Arc::new(decode(&event.kv.value, revision)?);
        let mut state = self.state.lock().expect("watch cache lock");
        let prev = match event.kind {
            EventKind::Delete => state.objects.remove(&key),
            EventKind::Put => {
                let cached = Cached {
                    object: object.clone(),
                    stored: event.kv.value.clone(),
                    revision,
                };
                state.objects.insert(key.clone(), cached)
            }
        };
        match (&event.kind, &prev) {
            (EventKind::Delete, Some(p)) => state.labels.remove(&key, &p.object),
            (EventKind::Put, Some(p)) => state.labels.replace(&key, &p.object, &object),
            (EventKind::Put, None) => state.labels.insert(&key, &object),
            (EventKind::Delete, None) => {}
        }
        let kind = match (&event.kind, &prev) {
            (EventKind::Delete, _) => ChangeKind::Deleted,
            (EventKind::Put, Some(_)) => ChangeKind::Modified,
            (EventKind::Put, None) => ChangeKind::Added,
        };
        state.window.push_back(Arc::new(Retained {
            kind,
            key: key.clone(),
            revision,
            object: event.kv.value.clone(),
            prev: prev.as_ref().map(|p| (p.stored.clone(), p.revision)),
        }));
        let change = Arc::new(Change {
            kind,
            key,
            revision,
            object,
            prev: prev.map(|p| p.object),
        });
        while state.window.len() > self.capacity {
            if let Some(old) = state.window.pop_front() {
                state.window_start = old.revision + 1;
            }
        }
        state.revision = revision;
        // Sending under the lock keeps the window and the live stream in one order.
        let _ = self.events.send(change);
        Ok(())
    }

    /// The revision the cache has caught up to.
    pub fn revision(&self) -> Revision {
        *self.progress.borrow()
    }

    /// Waits until the cache reflects at least `revision`.
    pub async fn wait_for(&self, revision: Revision) -> Result<()> {
        self.wait_for_within(revision, Duration::from_secs(3)).await
    }

    /// Waits until the cache reflects at least `revision`, for at most `limit`.
    pub async fn wait_for_within(&self, revision: Revision, limit: Duration) -> Result<()> {
        let mut progress = self.progress.clone();
        let wait = progress.wait_for(|r| *r >= revision);
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(Error::ServiceUnavailable(
                "the watch cache has stopped".into(),
            )),
            Err(_) => Err(Error::Timeout(format!(
                "Too large resource version: {revision}, current: {}",
                self.revision()
            ))),
        }
    }

    /// Every object under `prefix`, in key order, and the cache revision.
    pub fn list(&self, prefix: &str) -> (Vec<(String, Arc<Value>)>, Revision) {
        self.list_selectable(prefix, None)
    }

    /// The objects under `prefix` that `selector` may select, in key order, and the cache
    /// revision. With a requirement of the form `key=value` or `key in (...)` they are read
    /// through the label index (the requirement matching the fewest objects); otherwise every
    /// object under `prefix` is returned. Either way the caller still applies the whole selector.
    pub fn list_selectable(
        &self,
        prefix: &str,
        selector: Option<&LabelSelector>,
    ) -> (Vec<(String, Arc<Value>)>, Revision) {
        let state = self.state.lock().expect("watch cache lock");
        let narrowest = selector
            .into_iter()
            .flat_map(LabelSelector::requirements)
            .filter(|r| {
                matches!(
                    r.operator(),
                    Operator::Equals | Operator::DoubleEquals | Operator::In
                )
            })
            .min_by_key(|r| state.labels.count(r.key(), r.values()));
        let Some(requirement) = narrowest else {
            return (state.under(prefix), state.revision);
        };
        let items = state
            .labels
            .keys(prefix, requirement.key(), requirement.values())
            .into_iter()
            .filter_map(|key| {
                let cached = state.objects.get(&*key)?;
                Some((key.to_string(), cached.object.clone()))
            })
            .collect();
        (items, state.revision)
    }

    /// One object by key.
    pub fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.state
            .lock()
            .expect("watch cache lock")
            .objects
            .get(key)
            .map(|cached| cached.object.clone())
    }

    /// Changes after `revision` (exclusive) followed by live changes. `None` for `revision`
    /// means "from now". Fails with `Expired` when the history is no longer kept.
    pub fn watch(&self, revision: Option<Revision>) -> Result<Subscription> {
        let state = self.state.lock().expect("watch cache lock");
        let receiver = self.events.subscribe();
        let from = revision.unwrap_or(state.revision);
        if from + 1 < state.window_start {
            return Err(Error::Expired(format!(
                "too old resource version: {from} ({})",
                state.window_start - 1
            )));
        }
        let backlog = state
            .window
            .iter()
            .filter(|c| c.revision > from)
            .cloned()
            .collect();
        Ok(Subscription {
            backlog,
            receiver,
            revision: state.revision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::embedded::Embedded;
    use bytes::Bytes;

    async fn cache_with(window: usize) -> (Arc<dyn Storage>, WatchCache) {
        let storage: Arc<dyn Storage> = Arc::new(Embedded::in_memory().expect("store"));
        let options = Options {
            window,
            fanout_buffer: 64,
        };
        let cache = WatchCache::start(storage.clone(), options, CancellationToken::new())
            .await
            .expect("cache");
        (storage, cache)
    }

    #[tokio::test]
    async fn list_reflects_writes_after_wait() {
        let (storage, cache) = cache_with(10).await;
        let kv = storage
            .create(
                "/registry/core/configmaps/default/a",
                Bytes::from_static(br#"{"metadata":{"name":"a"}}"#),
            )
            .await
            .expect("create");
        cache.wait_for(kv.mod_revision).await.expect("caught up");
        let (items, rev) = cache.list("/registry/core/configmaps/");
        assert_eq!(rev, kv.mod_revision);
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0].1["metadata"]["resourceVersion"],
            kv.mod_revision.to_string()
        );
    }

    #[tokio::test]
    async fn watch_replays_window_and_expires_old_history() {
        let (storage, cache) = cache_with(2).await;
        let mut last = 0;
        for name in ["a", "b", "c"] {
            let key = format!("/registry/core/configmaps/default/{name}");
            last = storage
                .create(&key, Bytes::from_static(b"{}"))
                .await
                .expect("create")
                .mod_revision;
        }
        cache.wait_for(last).await.expect("caught up");
        let backlog = cache.watch(Some(last - 1)).expect("within window").backlog;
        assert_eq!(backlog.len(), 1);
        assert_eq!(backlog[0].kind, ChangeKind::Added);
        let change = backlog[0].change().expect("parsed again");
        assert_eq!(change.revision, last);
        assert_eq!(
            change.object["metadata"]["resourceVersion"],
            last.to_string()
        );
        assert!(matches!(cache.watch(Some(0)), Err(Error::Expired(_))));
    }
}
