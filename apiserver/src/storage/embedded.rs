//! The default storage backend: one redb file holding current values and a revision log.
//!
//! Three tables: `kv` (key -> current record), `log` (revision -> the event written at that
//! revision, with the previous value) and `meta` (current and compacted revision). Every write
//! is one redb transaction committed with immediate durability, so an acknowledged write
//! survives process death. Past revisions are read by undoing the log from the current state;
//! watches replay the log and then follow an in-process broadcast of new events.

mod codec;
mod history;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::broadcast;

use super::{
    Error, Event, EventKind, KeyValue, Range, RangeOptions, Result, Revision, Storage, WatchStream,
};

const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const LOG: TableDefinition<i64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const META_REVISION: &str = "revision";
const META_COMPACTED: &str = "compacted";

/// How many events the broadcast keeps for slow watchers; one that falls further behind
/// catches up from the log instead of losing events.
const WATCH_BUFFER: usize = 1024;

/// Why the store file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the storage directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot open the embedded store {path} (is another process using this data directory?)"
    )]
    Open {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
}

/// A [`Storage`] kept in a single redb file (or in memory for tests).
pub struct Embedded {
    shared: Arc<Shared>,
}

struct Shared {
    db: Arc<Database>,
    /// Held from the start of a write until its event is broadcast, so that revisions are
    /// assigned, committed and announced in one order.
    write_lock: Mutex<()>,
    events: broadcast::Sender<Arc<Event>>,
}

/// What a write does to its key, decided from the key's current record.
enum Change {
    Put(Bytes),
    Delete,
}

impl Embedded {
    /// Opens (or creates) the store at `dir/store.redb`.
    pub fn open(dir: &Path) -> Result<Embedded> {
        std::fs::create_dir_all(dir).map_err(|source| {
            Error::backend(OpenError::CreateDir {
                path: dir.to_owned(),
                source,
            })
        })?;
        let path = dir.join("store.redb");
        let db = Database::create(&path)
            .map_err(|source| Error::backend(OpenError::Open { path, source }))?;
        Embedded::with_database(db)
    }

    /// A store that lives in memory only, for tests.
    pub fn in_memory() -> Result<Embedded> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|source| {
                Error::backend(OpenError::Open {
                    path: PathBuf::from("<memory>"),
                    source,
                })
            })?;
        Embedded::with_database(db)
    }

    fn with_database(db: Database) -> Result<Embedded> {
        // Create the tables up front so that read transactions never meet a missing table.
        let txn = db.begin_write().map_err(db_error)?;
        txn.open_table(KV).map_err(db_error)?;
        txn.open_table(LOG).map_err(db_error)?;
        txn.open_table(META).map_err(db_error)?;
        txn.commit().map_err(db_error)?;
        let (events, _) = broadcast::channel(WATCH_BUFFER);
        Ok(Embedded {
            shared: Arc::new(Shared {
                db: Arc::new(db),
                write_lock: Mutex::new(()),
                events,
            }),
        })
    }

    /// Runs blocking redb work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Shared) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || work(&shared))
            .await
            .map_err(Error::backend)?
    }

    async fn write(
        &self,
        key: &str,
        decide: impl FnOnce(Option<&KeyValue>) -> Result<Change> + Send + 'static,
    ) -> Result<Event> {
        let key = key.to_owned();
        self.blocking(move |shared| shared.write(&key, decide))
            .await
    }
}

impl Shared {
    /// Applies one write as one transaction: the new record, its log entry and the revision.
    fn write(
        &self,
        key: &str,
        decide: impl FnOnce(Option<&KeyValue>) -> Result<Change>,
    ) -> Result<Event> {
        let _order = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let txn = self.db.begin_write().map_err(db_error)?;
        let event = {
            let mut kv = txn.open_table(KV).map_err(db_error)?;
            let mut log = txn.open_table(LOG).map_err(db_error)?;
            let mut meta = txn.open_table(META).map_err(db_error)?;
            let current = match kv.get(key).map_err(db_error)? {
                Some(bytes) => {
                    Some(codec::decode_record(key, bytes.value()).map_err(Error::backend)?)
                }
                None => None,
            };
            // An error here drops the transaction uncommitted, which aborts it.
            let change = decide(current.as_ref())?;
            let revision = meta_value(&meta, META_REVISION)? + 1;
            let event = match (change, current) {
                (Change::Put(value), prev) => {
                    let create_revision = prev.as_ref().map_or(revision, |p| p.create_revision);
                    let new = KeyValue {
                        key: key.to_owned(),
                        value,
                        create_revision,
                        mod_revision: revision,
                    };
                    kv.insert(key, codec::encode_record(&new).as_slice())
                        .map_err(db_error)?;
                    Event {
                        kind: EventKind::Put,
                        kv: new,
                        prev,
                    }
                }
                (Change::Delete, Some(prev)) => {
                    kv.remove(key).map_err(db_error)?;
                    Event {
                        kind: EventKind::Delete,
                        kv: KeyValue {
                            mod_revision: revision,
                            ..prev.clone()
                        },
                        prev: Some(prev),
                    }
                }
                (Change::Delete, None) => return Err(Error::NotFound(key.to_owned())),
            };
            log.insert(revision, codec::encode_event(&event).as_slice())
                .map_err(db_error)?;
            meta.insert(META_REVISION, revision).map_err(db_error)?;
            event
        };
        txn.commit().map_err(db_error)?;
        // No receivers simply means nobody is watching.
        let _ = self.events.send(Arc::new(event.clone()));
        Ok(event)
    }

    fn compact(&self, revision: Revision) -> Result<()> {
        let _order = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let txn = self.db.begin_write().map_err(db_error)?;
        {
            let mut meta = txn.open_table(META).map_err(db_error)?;
            let current = meta_value(&meta, META_REVISION)?;
            if revision > current {
                return Err(Error::FutureRevision {
                    requested: revision,
                    current,
                });
            }
            if revision <= meta_value(&meta, META_COMPACTED)? {
                return Ok(());
            }
            let mut log = txn.open_table(LOG).map_err(db_error)?;
            log.retain_in(..revision, |_, _| false).map_err(db_error)?;
            meta.insert(META_COMPACTED, revision).map_err(db_error)?;
        }
        txn.commit().map_err(db_error)
    }
}

#[async_trait]
impl Storage for Embedded {
    async fn current_revision(&self) -> Result<Revision> {
        self.blocking(|shared| Ok(history::revisions(&shared.db)?.current))
            .await
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_owned();
        self.blocking(move |shared| {
            let txn = shared.db.begin_read().map_err(db_error)?;
            let kv = txn.open_table(KV).map_err(db_error)?;
            match kv.get(key.as_str()).map_err(db_error)? {
                Some(bytes) => Ok(Some(
                    codec::decode_record(&key, bytes.value()).map_err(Error::backend)?,
                )),
                None => Ok(None),
            }
        })
        .await
    }

    async fn range(&self, prefix: &str, options: RangeOptions) -> Result<Range> {
        let prefix = prefix.to_owned();
        self.blocking(move |shared| history::range(&shared.db, &prefix, &options))
            .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let owned = key.to_owned();
        let event = self
            .write(key, move |current| match current {
                Some(_) => Err(Error::AlreadyExists(owned)),
                None => Ok(Change::Put(value)),
            })
            .await?;
        Ok(event.kv)
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        let owned = key.to_owned();
        let event = self
            .write(key, move |current| match current {
                None => Err(Error::NotFound(owned)),
                Some(kv) if kv.mod_revision != expected => Err(Error::Conflict {
                    key: owned,
                    expected,
                    actual: kv.mod_revision,
                }),
                Some(_) => Ok(Change::Put(value)),
            })
            .await?;
        Ok(event.kv)
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let owned = key.to_owned();
        let event = self
            .write(key, move |current| match (current, expected) {
                (None, _) => Err(Error::NotFound(owned)),
                (Some(kv), Some(expected)) if kv.mod_revision != expected => Err(Error::Conflict {
                    key: owned,
                    expected,
                    actual: kv.mod_revision,
                }),
                (Some(_), _) => Ok(Change::Delete),
            })
            .await?;
        Ok(event.kv)
    }

    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        // Subscribe before reading the revision: every event after that revision is then
        // certain to arrive on the receiver, and the log covers everything up to it.
        let receiver = self.shared.events.subscribe();
        let revisions = self
            .blocking(|shared| history::revisions(&shared.db))
            .await?;
        if from > 0 && from < revisions.compacted {
            return Err(Error::Compacted {
                requested: from,
                compacted: revisions.compacted,
            });
        }
        Ok(watch::stream(
            Arc::clone(&self.shared.db),
            receiver,
            prefix.to_owned(),
            from,
            revisions.current,
        ))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.blocking(move |shared| shared.compact(revision)).await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.blocking(|shared| Ok(history::revisions(&shared.db)?.compacted))
            .await
    }
}

fn meta_value(meta: &impl ReadableTable<&'static str, i64>, name: &str) -> Result<i64> {
    Ok(meta.get(name).map_err(db_error)?.map_or(0, |v| v.value()))
}

fn db_error(error: impl Into<redb::Error>) -> Error {
    Error::backend(error.into())
}
