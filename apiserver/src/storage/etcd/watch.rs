//! Etcd watches as [`WatchStream`]s: responses unpacked into events, cancellations into errors.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use etcd_client::EventType;
use futures::stream;

use super::Failure;
use super::keys::{key_value, strip_prefix};
use crate::storage::{Error, Event, EventKind, KeyValue, Result, Revision, WatchStream};

/// Turns an etcd watch for a request from `requested` into a [`WatchStream`], once etcd has
/// registered it: after this returns, `requested == 0` covers every later acknowledged write.
pub async fn stream(
    inner: etcd_client::WatchStream,
    prefix: String,
    requested: Revision,
    compacted: Arc<AtomicI64>,
) -> Result<WatchStream> {
    let mut watcher = Watcher {
        inner,
        prefix,
        requested,
        compacted,
        ready: VecDeque::new(),
        created: false,
        finished: false,
    };
    while !watcher.created {
        if let Some(Err(error)) = watcher.receive().await {
            return Err(error);
        }
    }
    Ok(Box::pin(stream::unfold(
        watcher,
        |mut watcher| async move {
            let item = watcher.next_item().await?;
            Some((item, watcher))
        },
    )))
}

/// The state of one watch: etcd's response stream and the events of the last response.
struct Watcher {
    inner: etcd_client::WatchStream,
    prefix: String,
    requested: Revision,
    compacted: Arc<AtomicI64>,
    ready: VecDeque<Event>,
    /// Whether etcd has confirmed the watch.
    created: bool,
    finished: bool,
}

impl Watcher {
    async fn next_item(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
            }
            if self.finished {
                return None;
            }
            if let Some(error) = self.receive().await {
                return Some(error);
            }
        }
    }

    /// Reads one response into `ready`; returns the error that ends the watch, if any.
    async fn receive(&mut self) -> Option<Result<Event>> {
        self.finished = true;
        let response = match self.inner.message().await {
            Ok(Some(response)) => response,
            Ok(None) => return Some(Err(Error::backend(Failure::WatchClosed))),
            Err(source) => {
                return Some(Err(Error::backend(Failure::Request {
                    op: "watch",
                    source,
                })));
            }
        };
        if response.compact_revision() > 0 {
            let compacted = response.compact_revision();
            self.compacted.fetch_max(compacted, Ordering::Relaxed);
            return Some(Err(Error::Compacted {
                requested: self.requested,
                compacted,
            }));
        }
        if response.canceled() {
            let reason = response.cancel_reason().to_owned();
            return Some(Err(Error::backend(Failure::WatchCanceled { reason })));
        }
        self.created |= response.created();
        for event in response.events() {
            match convert_event(&self.prefix, event) {
                Ok(event) => self.ready.push_back(event),
                Err(error) => return Some(Err(error)),
            }
        }
        self.finished = false;
        None
    }
}

fn convert_event(prefix: &str, event: &etcd_client::Event) -> Result<Event> {
    let kv = event
        .kv()
        .ok_or(Failure::EventWithoutKey)
        .map_err(Error::backend)?;
    let prev = event
        .prev_kv()
        .map(|prev| key_value(prefix, prev))
        .transpose()?;
    Ok(match event.event_type() {
        EventType::Put => Event {
            kind: EventKind::Put,
            kv: key_value(prefix, kv)?,
            prev,
        },
        EventType::Delete => {
            // etcd's delete event carries only the key and revision; the last value is prev.
            let key = strip_prefix(prefix, kv.key())?;
            let (value, create_revision) = prev
                .as_ref()
                .map_or((Bytes::new(), 0), |p| (p.value.clone(), p.create_revision));
            Event {
                kind: EventKind::Delete,
                kv: KeyValue {
                    key,
                    value,
                    create_revision,
                    mod_revision: kv.mod_revision(),
                },
                prev,
            }
        }
    })
}
