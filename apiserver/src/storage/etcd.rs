//! The etcd storage backend: the trait's operations as etcd v3 transactions, like kube-apiserver.
//!
//! Every key lives under a configurable prefix (for example `/karmada`), added on the way in and
//! stripped on the way out. Writes are single transactions that compare the key's
//! `mod_revision`, so etcd itself decides conflicts; a failed comparison reads the key in the
//! same transaction to tell `Conflict` from `NotFound`.

mod keys;
pub mod process;
mod watch;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions,
    KvClient, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchOptions,
};

use super::{Error, KeyValue, Range, RangeOptions, Result, Revision, Storage, WatchStream};

use keys::{key_range, key_value};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Unary requests that take longer than this fail rather than hang an API request forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to etcd, kept as the source of [`Error::Backend`].
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("cannot reach etcd at {endpoints}")]
    Connect {
        endpoints: String,
        #[source]
        source: Box<Error>,
    },
    #[error("etcd {op} request failed")]
    Request {
        op: &'static str,
        #[source]
        source: etcd_client::Error,
    },
    #[error("etcd did not answer the {op} request within {timeout:?}")]
    Timeout { op: &'static str, timeout: Duration },
    #[error("etcd response to {op} has no header")]
    MissingHeader { op: &'static str },
    #[error("etcd returned key {key:?}, which is not UTF-8 or lies outside the prefix {prefix:?}")]
    ForeignKey { key: String, prefix: String },
    #[error("etcd sent a watch event without its key")]
    EventWithoutKey,
    #[error("etcd canceled the watch: {reason}")]
    WatchCanceled { reason: String },
    #[error("etcd closed the watch stream")]
    WatchClosed,
}

/// A [`Storage`] on an etcd v3 cluster.
pub struct Etcd {
    client: Client,
    prefix: String,
    /// The highest compaction horizon performed or observed; etcd has no API that reports it.
    compacted: Arc<AtomicI64>,
}

/// The two revision errors etcd reports only as message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RevisionProblem {
    Compacted,
    Future,
}

impl Etcd {
    /// Connects to etcd and checks that it answers. All keys are stored under `prefix`.
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<Etcd> {
        let options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_keep_alive(KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT);
        let unreachable = |source: Error| Failure::Connect {
            endpoints: endpoints.join(","),
            source: Box::new(source),
        };
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(|source| {
                Error::backend(unreachable(Error::backend(Failure::Request {
                    op: "connect",
                    source,
                })))
            })?;
        let etcd = Etcd {
            client,
            prefix: prefix.to_owned(),
            compacted: Arc::new(AtomicI64::new(0)),
        };
        etcd.current_revision()
            .await
            .map_err(|e| Error::backend(unreachable(e)))?;
        Ok(etcd)
    }

    fn kv(&self) -> KvClient {
        self.client.kv_client()
    }

    fn full_key(&self, key: &str) -> Vec<u8> {
        format!("{}{key}", self.prefix).into_bytes()
    }

    /// A single key that any read can name; etcd rejects the empty key.
    fn probe_key(&self) -> Vec<u8> {
        if self.prefix.is_empty() {
            vec![0]
        } else {
            self.full_key("")
        }
    }

    /// Turns a failed read at `requested` into the revision error it stands for.
    async fn read_error(&self, failure: Failure, requested: Revision) -> Error {
        match revision_problem(&failure) {
            Some(RevisionProblem::Compacted) => {
                // The horizon is above `requested`; if probing it fails, that is all we know.
                let compacted = self
                    .compacted_revision()
                    .await
                    .unwrap_or(requested + 1)
                    .max(requested + 1);
                Error::Compacted {
                    requested,
                    compacted,
                }
            }
            Some(RevisionProblem::Future) => {
                let current = self.current_revision().await.unwrap_or(requested - 1);
                Error::FutureRevision { requested, current }
            }
            None => Error::backend(failure),
        }
    }

    /// Asks etcd for its compaction horizon: a watch from below it is canceled with it.
    async fn probe_compacted(&self, below: Revision) -> Result<Revision> {
        let options = WatchOptions::new().with_start_revision(below);
        let mut watch = request(
            "compaction probe",
            self.client
                .watch_client()
                .watch(self.probe_key(), Some(options)),
        )
        .await
        .map_err(Error::backend)?;
        loop {
            let response = request("compaction probe", watch.message())
                .await
                .map_err(Error::backend)?;
            match response {
                Some(response) if response.compact_revision() > 0 => {
                    self.compacted
                        .fetch_max(response.compact_revision(), Ordering::Relaxed);
                    return Ok(response.compact_revision());
                }
                Some(response) if response.canceled() => {
                    return Err(Error::backend(Failure::WatchCanceled {
                        reason: response.cancel_reason().to_owned(),
                    }));
                }
                Some(_) => {}
                None => return Err(Error::backend(Failure::WatchClosed)),
            }
        }
    }

    /// The key's current value, read in a failed transaction's else branch.
    fn else_branch_value(&self, response: &TxnResponse) -> Result<Option<KeyValue>> {
        match response.op_responses().first() {
            Some(TxnOpResponse::Get(get)) => get
                .kvs()
                .first()
                .map(|kv| key_value(&self.prefix, kv))
                .transpose(),
            _ => Ok(None),
        }
    }
}

#[async_trait]
impl Storage for Etcd {
    async fn current_revision(&self) -> Result<Revision> {
        let options = GetOptions::new().with_keys_only().with_limit(1);
        let response = request("range", self.kv().get(self.probe_key(), Some(options)))
            .await
            .map_err(Error::backend)?;
        header_revision("range", response.header())
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let response = request("get", self.kv().get(self.full_key(key), None))
            .await
            .map_err(Error::backend)?;
        response
            .kvs()
            .first()
            .map(|kv| key_value(&self.prefix, kv))
            .transpose()
    }

    async fn range(&self, prefix: &str, options: RangeOptions) -> Result<Range> {
        let (start, end) = key_range(&self.prefix, prefix, options.start_after.as_deref());
        let revision = options.revision.filter(|r| *r > 0);
        if end != [0] && start >= end {
            // Paging past the last key of the prefix: nothing can match.
            let at = match revision {
                Some(at) => at,
                None => self.current_revision().await?,
            };
            return Ok(Range {
                kvs: Vec::new(),
                more: false,
                revision: at,
            });
        }
        let mut get = GetOptions::new().with_range(end);
        if options.limit > 0 {
            get = get.with_limit(i64::try_from(options.limit).unwrap_or(i64::MAX));
        }
        if let Some(at) = revision {
            get = get.with_revision(at);
        }
        let response = match request("range", self.kv().get(start, Some(get))).await {
            Ok(response) => response,
            Err(failure) => return Err(self.read_error(failure, revision.unwrap_or(0)).await),
        };
        let kvs = response
            .kvs()
            .iter()
            .map(|kv| key_value(&self.prefix, kv))
            .collect::<Result<Vec<_>>>()?;
        // etcd's header carries the current revision even for a read at a past one.
        let at = match revision {
            Some(at) => at,
            None => header_revision("range", response.header())?,
        };
        Ok(Range {
            kvs,
            more: response.more(),
            revision: at,
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let full = self.full_key(key);
        let txn = Txn::new()
            .when([Compare::mod_revision(full.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(full, value.to_vec(), None)]);
        let response = request("create", self.kv().txn(txn))
            .await
            .map_err(Error::backend)?;
        if !response.succeeded() {
            return Err(Error::AlreadyExists(key.to_owned()));
        }
        let revision = header_revision("create", response.header())?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        })
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        if expected <= 0 {
            // Comparing against 0 would match an absent key and create it.
            return match self.get(key).await? {
                None => Err(Error::NotFound(key.to_owned())),
                Some(kv) => Err(Error::Conflict {
                    key: key.to_owned(),
                    expected,
                    actual: kv.mod_revision,
                }),
            };
        }
        let full = self.full_key(key);
        let txn = Txn::new()
            .when([Compare::mod_revision(
                full.clone(),
                CompareOp::Equal,
                expected,
            )])
            .and_then([TxnOp::put(
                full.clone(),
                value.to_vec(),
                Some(PutOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(full, None)]);
        let response = request("update", self.kv().txn(txn))
            .await
            .map_err(Error::backend)?;
        if !response.succeeded() {
            return match self.else_branch_value(&response)? {
                None => Err(Error::NotFound(key.to_owned())),
                Some(kv) => Err(Error::Conflict {
                    key: key.to_owned(),
                    expected,
                    actual: kv.mod_revision,
                }),
            };
        }
        let revision = header_revision("update", response.header())?;
        let create_revision = match response.op_responses().first() {
            Some(TxnOpResponse::Put(put)) => put
                .prev_key()
                .map_or(revision, |prev| prev.create_revision()),
            _ => revision,
        };
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision,
            mod_revision: revision,
        })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let full = self.full_key(key);
        let condition = match expected {
            // An absent key compares as mod_revision 0; deleting it then deletes nothing and
            // is reported as NotFound below.
            Some(expected) => Compare::mod_revision(full.clone(), CompareOp::Equal, expected),
            None => Compare::mod_revision(full.clone(), CompareOp::Greater, 0),
        };
        let txn = Txn::new()
            .when([condition])
            .and_then([TxnOp::delete(
                full.clone(),
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(full, None)]);
        let response = request("delete", self.kv().txn(txn))
            .await
            .map_err(Error::backend)?;
        if !response.succeeded() {
            return match (self.else_branch_value(&response)?, expected) {
                (Some(kv), Some(expected)) => Err(Error::Conflict {
                    key: key.to_owned(),
                    expected,
                    actual: kv.mod_revision,
                }),
                _ => Err(Error::NotFound(key.to_owned())),
            };
        }
        let revision = header_revision("delete", response.header())?;
        let prev = match response.op_responses().first() {
            Some(TxnOpResponse::Delete(deleted)) => deleted
                .prev_kvs()
                .first()
                .map(|kv| key_value(&self.prefix, kv))
                .transpose()?,
            _ => None,
        };
        let prev = prev.ok_or_else(|| Error::NotFound(key.to_owned()))?;
        Ok(KeyValue {
            mod_revision: revision,
            ..prev
        })
    }

    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        if from > 0 {
            // Fail fast on a compacted start; etcd would otherwise cancel the watch a moment later.
            let options = GetOptions::new()
                .with_keys_only()
                .with_limit(1)
                .with_revision(from);
            if let Err(failure) =
                request("range", self.kv().get(self.probe_key(), Some(options))).await
            {
                match revision_problem(&failure) {
                    Some(RevisionProblem::Future) => {}
                    _ => return Err(self.read_error(failure, from).await),
                }
            }
        }
        let (start, end) = key_range(&self.prefix, prefix, None);
        let options = WatchOptions::new()
            .with_range(end)
            .with_prev_key()
            .with_start_revision(from.max(0));
        let inner = request(
            "watch",
            self.client.watch_client().watch(start, Some(options)),
        )
        .await
        .map_err(Error::backend)?;
        watch::stream(
            inner,
            self.prefix.clone(),
            from,
            Arc::clone(&self.compacted),
        )
        .await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let options = CompactionOptions::new().with_physical();
        match request("compact", self.kv().compact(revision, Some(options))).await {
            Ok(_) => {}
            Err(failure) => match revision_problem(&failure) {
                // Already compacted at or past `revision`: the horizon is where it was asked to be.
                Some(RevisionProblem::Compacted) => {}
                Some(RevisionProblem::Future) => {
                    return Err(Error::FutureRevision {
                        requested: revision,
                        current: self.current_revision().await?,
                    });
                }
                None => return Err(Error::backend(failure)),
            },
        }
        self.compacted.fetch_max(revision, Ordering::Relaxed);
        Ok(())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        let known = self.compacted.load(Ordering::Relaxed);
        // Cheap check first: if the known horizon is still readable, nobody compacted past it.
        let at = known.max(1);
        let options = GetOptions::new()
            .with_keys_only()
            .with_limit(1)
            .with_revision(at);
        match request("range", self.kv().get(self.probe_key(), Some(options))).await {
            Ok(_) => Ok(known),
            Err(failure) if revision_problem(&failure) == Some(RevisionProblem::Compacted) => {
                self.probe_compacted(at).await
            }
            Err(failure) => Err(Error::backend(failure)),
        }
    }
}

fn header_revision(
    op: &'static str,
    header: Option<&etcd_client::ResponseHeader>,
) -> Result<Revision> {
    header
        .map(|h| h.revision())
        .ok_or_else(|| Error::backend(Failure::MissingHeader { op }))
}

/// Runs one etcd request with a deadline.
async fn request<T>(
    op: &'static str,
    call: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(result) => result.map_err(|source| Failure::Request { op, source }),
        Err(_) => Err(Failure::Timeout {
            op,
            timeout: REQUEST_TIMEOUT,
        }),
    }
}

fn revision_problem(failure: &Failure) -> Option<RevisionProblem> {
    match failure {
        Failure::Request {
            source: etcd_client::Error::GRpcStatus(status),
            ..
        } => classify(status.message()),
        _ => None,
    }
}

/// Recognises etcd's revision errors (`ErrCompacted`, `ErrFutureRev`) by their fixed text.
fn classify(message: &str) -> Option<RevisionProblem> {
    if message.contains("required revision has been compacted") {
        Some(RevisionProblem::Compacted)
    } else if message.contains("required revision is a future revision") {
        Some(RevisionProblem::Future)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_errors_are_recognised_by_etcd_text() {
        let cases = [
            (
                "etcdserver: mvcc: required revision has been compacted",
                Some(RevisionProblem::Compacted),
            ),
            (
                "etcdserver: mvcc: required revision is a future revision",
                Some(RevisionProblem::Future),
            ),
            ("etcdserver: request timed out", None),
        ];
        for (message, expected) in cases {
            assert_eq!(classify(message), expected, "{message}");
        }
    }
}
