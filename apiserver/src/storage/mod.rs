//! The storage contract: a flat, revisioned key-value store with etcd's rules.
//!
//! Every write bumps one global revision, which the apiserver shows to clients as
//! `resourceVersion`. Writes are compare-and-swap on a key's `mod_revision`, watches resume
//! from any retained revision, and compaction forgets history below a revision (clients that
//! ask for forgotten history get [`Error::Compacted`], which the HTTP layer turns into
//! `410 Gone` / `Expired`).
//!
//! Backends: [`embedded::Embedded`] (redb, the default) and [`etcd::Etcd`]. Both must pass
//! [`conformance`], one suite written once over this trait.

pub mod conformance;
pub mod embedded;
pub mod etcd;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

/// A store revision. Revisions start at 1 for the first write and only grow.
pub type Revision = i64;

/// One key as stored at some revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this incarnation of the key.
    pub create_revision: Revision,
    /// Revision of the last write to the key; the value of `resourceVersion`.
    pub mod_revision: Revision,
}

/// The result of [`Storage::range`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// Matching keys in ascending key order, at most `limit` of them.
    pub kvs: Vec<KeyValue>,
    /// True when more keys match beyond the last one returned.
    pub more: bool,
    /// The revision the range was read at.
    pub revision: Revision,
}

/// What a watch reports for one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or updated; `prev` is the value before, if any.
    Put,
    /// The key was deleted; `kv.value` is the last value, `kv.mod_revision` the delete's revision.
    Delete,
}

/// One change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The key after the change (for deletes: the deleted value, at the delete's revision).
    pub kv: KeyValue,
    /// The key's value before the change, when it existed.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision at which this change happened.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A stream of changes in revision order. It ends only on error or when the backend shuts
/// down; a lagging consumer gets [`Error::Compacted`] or [`Error::WatchLagged`] rather than a
/// silently incomplete stream.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event, Error>> + Send>>;

/// Storage errors. Each variant names what went wrong for the caller to act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("key {0:?} already exists")]
    AlreadyExists(String),
    #[error("key {0:?} not found")]
    NotFound(String),
    /// A compare-and-swap failed: the key changed since the caller read it.
    #[error("key {key:?} was modified: expected revision {expected}, found {actual}")]
    Conflict {
        key: String,
        expected: Revision,
        actual: Revision,
    },
    /// The revision asked for is older than the compaction horizon.
    #[error("required revision {requested} has been compacted (oldest available is {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// The revision asked for is newer than the store.
    #[error("revision {requested} is in the future (current is {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    /// A watcher fell too far behind and must re-list.
    #[error("watch fell behind and lost events; re-list and watch again")]
    WatchLagged,
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Backend(Box::new(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Options of a [`Storage::range`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeOptions {
    /// Only keys strictly greater than this one (for paging with a continue token).
    pub start_after: Option<String>,
    /// At most this many keys; 0 means no limit.
    pub limit: usize,
    /// Read at this past revision instead of the current one.
    pub revision: Option<Revision>,
}

/// A revisioned key-value store with etcd semantics.
///
/// Invariants every backend keeps (checked by [`conformance`]):
/// - one global revision counter; every successful write increases it by exactly one and
///   the new value is that write's `mod_revision`; failed writes change nothing;
/// - `create` fails with `AlreadyExists` if the key exists; `update` and `delete` with an
///   expected revision fail with `Conflict` unless it equals the key's `mod_revision`, and
///   with `NotFound` if the key is absent;
/// - a key's `create_revision` is kept by updates and reset when it is deleted and created
///   again;
/// - `watch(prefix, from)` delivers every change to keys under `prefix` with revision
///   `>= from`, in revision order, exactly once, with the previous value; `from` below the
///   compaction horizon fails with `Compacted`;
/// - `range` at a past revision sees exactly the state after that revision's write;
/// - acknowledged writes are durable (they survive process death) for durable backends.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The current revision (that of the latest write; 0 for an empty, never-written store).
    async fn current_revision(&self) -> Result<Revision>;

    /// Reads one key at the current revision.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Reads the keys starting with `prefix`, in key order.
    async fn range(&self, prefix: &str, options: RangeOptions) -> Result<Range>;

    /// Creates `key`; fails with `AlreadyExists` if it exists. Returns the new key value.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces `key` if its `mod_revision` equals `expected`. Returns the new key value.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue>;

    /// Deletes `key`, if `expected` is given only when its `mod_revision` equals it.
    /// Returns the deleted value with `mod_revision` set to the delete's revision.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    /// Streams changes of keys under `prefix` from revision `from` (inclusive) onwards.
    /// `from == 0` means "changes after now".
    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream>;

    /// Forgets history below `revision`: later reads and watches at older revisions fail
    /// with `Compacted`. Current values are never affected.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The oldest revision still readable (the compaction horizon).
    async fn compacted_revision(&self) -> Result<Revision>;
}
