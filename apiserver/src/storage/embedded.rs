//! The default storage backend: one redb file holding current values and a revision log.
//!
//! Three tables: `kv` (key -> current record), `log` (revision -> the event written at that
//! revision, with the previous value) and `meta` (current and compacted revision). One writer
//! thread commits writes with immediate durability, grouping the writes that wait while a
//! commit runs into the next transaction (group commit: one fsync for many writes); a write is
//! acknowledged only after its transaction committed, so it survives process death. Past revisions are read by undoing the log from the current state;
//! watches replay the log and then follow an in-process broadcast of new events.

mod codec;
mod history;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{broadcast, oneshot};

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

/// redb's page cache. Reads are served by the apiserver's watch cache, so this mostly holds the
/// pages writes touch; redb's own default (1 GiB) lets it grow with the store.
const CACHE_BYTES: usize = 16 << 20;

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;

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
    /// Requests to the writer thread; `None` once dropping.
    writer: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    db: Arc<Database>,
    events: broadcast::Sender<Arc<Event>>,
}

/// Decides a write from the key's current record.
type Decide = Box<dyn FnOnce(Option<&KeyValue>) -> Result<Change> + Send>;

/// Work for the writer thread, which alone assigns revisions, commits and announces events,
/// so all three happen in one order.
enum Request {
    Write {
        key: String,
        decide: Decide,
        reply: oneshot::Sender<Result<Event>>,
    },
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<()>>,
    },
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
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
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
        let shared = Arc::new(Shared {
            db: Arc::new(db),
            events,
        });
        let (writer, requests) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || thread_shared.run_writer(&requests))
            .map_err(Error::backend)?;
        Ok(Embedded {
            shared,
            writer: Some(writer),
            thread: Some(thread),
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
        let (reply, answer) = oneshot::channel();
        self.send(Request::Write {
            key: key.to_owned(),
            decide: Box::new(decide),
            reply,
        })?;
        answer.await.map_err(|_| writer_gone())?
    }

    fn send(&self, request: Request) -> Result<()> {
        self.writer
            .as_ref()
            .and_then(|w| w.send(request).ok())
            .ok_or_else(writer_gone)
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        // Closing the channel ends the writer thread once it has finished its batch; waiting
        // for it means the database file is closed when the store is gone.
        self.writer.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn writer_gone() -> Error {
    Error::backend(std::io::Error::other(
        "the embedded store's writer thread has stopped",
    ))
}

impl Shared {
    /// The writer thread: takes every request waiting, commits the writes in one transaction,
    /// then runs compactions, until the store is dropped.
    fn run_writer(&self, requests: &mpsc::Receiver<Request>) {
        while let Ok(first) = requests.recv() {
            let mut writes = Vec::new();
            let mut compactions = Vec::new();
            let mut next = Some(first);
            while let Some(request) = next {
                match request {
                    Request::Write { key, decide, reply } => writes.push((key, decide, reply)),
                    Request::Compact { revision, reply } => compactions.push((revision, reply)),
                }
                next = (writes.len() < MAX_BATCH)
                    .then(|| requests.try_recv().ok())
                    .flatten();
            }
            if !writes.is_empty() {
                self.commit_batch(writes);
            }
            for (revision, reply) in compactions {
                let _ = reply.send(self.compact(revision));
            }
        }
    }

    /// Applies a batch of writes in order in one transaction: each sees the ones before it,
    /// gets the next revision, and is answered only after the commit.
    fn commit_batch(&self, writes: Vec<(String, Decide, oneshot::Sender<Result<Event>>)>) {
        let mut outcomes = Vec::with_capacity(writes.len());
        let mut replies = Vec::with_capacity(writes.len());
        let result = (|| -> Result<redb::WriteTransaction> {
            let txn = self.db.begin_write().map_err(db_error)?;
            {
                let mut kv = txn.open_table(KV).map_err(db_error)?;
                let mut log = txn.open_table(LOG).map_err(db_error)?;
                let mut meta = txn.open_table(META).map_err(db_error)?;
                let mut revision = meta_value(&meta, META_REVISION)?;
                for (key, decide, reply) in writes {
                    replies.push(reply);
                    let current = match kv.get(key.as_str()).map_err(db_error)? {
                        Some(bytes) => Some(
                            codec::decode_record(&key, bytes.value()).map_err(Error::backend)?,
                        ),
                        None => None,
                    };
                    let event = match decide(current.as_ref()) {
                        Ok(change) => apply(&key, change, current, revision + 1),
                        Err(e) => Err(e),
                    };
                    if let Ok(event) = &event {
                        revision += 1;
                        match event.kind {
                            EventKind::Put => kv
                                .insert(key.as_str(), codec::encode_record(&event.kv).as_slice())
                                .map_err(db_error)?,
                            EventKind::Delete => kv.remove(key.as_str()).map_err(db_error)?,
                        };
                        log.insert(revision, codec::encode_event(event).as_slice())
                            .map_err(db_error)?;
                    }
                    outcomes.push(event);
                }
                meta.insert(META_REVISION, revision).map_err(db_error)?;
            }
            Ok(txn)
        })()
        .and_then(|txn| txn.commit().map_err(db_error));
        match result {
            Ok(()) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    if let Ok(event) = &outcome {
                        // No receivers simply means nobody is watching.
                        let _ = self.events.send(Arc::new(event.clone()));
                    }
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                // Nothing of the batch was written: every writer learns why.
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(Error::backend(std::io::Error::other(message.clone()))));
                }
            }
        }
    }

    fn compact(&self, revision: Revision) -> Result<()> {
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
        let (reply, answer) = oneshot::channel();
        self.send(Request::Compact { revision, reply })?;
        answer.await.map_err(|_| writer_gone())?
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.blocking(|shared| Ok(history::revisions(&shared.db)?.compacted))
            .await
    }
}

/// The event a decided change makes at `revision`.
fn apply(
    key: &str,
    change: Change,
    current: Option<KeyValue>,
    revision: Revision,
) -> Result<Event> {
    match (change, current) {
        (Change::Put(value), prev) => Ok(Event {
            kind: EventKind::Put,
            kv: KeyValue {
                key: key.to_owned(),
                value,
                create_revision: prev.as_ref().map_or(revision, |p| p.create_revision),
                mod_revision: revision,
            },
            prev,
        }),
        (Change::Delete, Some(prev)) => Ok(Event {
            kind: EventKind::Delete,
            kv: KeyValue {
                mod_revision: revision,
                ..prev.clone()
            },
            prev: Some(prev),
        }),
        (Change::Delete, None) => Err(Error::NotFound(key.to_owned())),
    }
}

fn meta_value(meta: &impl ReadableTable<&'static str, i64>, name: &str) -> Result<i64> {
    Ok(meta.get(name).map_err(db_error)?.map_or(0, |v| v.value()))
}

fn db_error(error: impl Into<redb::Error>) -> Error {
    Error::backend(error.into())
}
