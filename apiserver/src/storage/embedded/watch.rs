//! Watches on the embedded store: replay the log, then follow the live broadcast.
//!
//! The hand-over is exact because the receiver is subscribed before the log is read: events
//! up to the revision the log was read to are delivered from the log and skipped on the
//! receiver, later ones come from the receiver. A watcher that falls behind the broadcast
//! subscribes again and catches up from the log in the same way, so it never sees a gap;
//! only compaction of the revisions it still needs ends it, with `Compacted`.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::stream;
use redb::Database;
use tokio::sync::broadcast::{self, error::RecvError};

use super::history;
use crate::storage::{Error, Event, Result, Revision, WatchStream};

/// How many log entries one blocking catch-up read scans, bounding the events held in memory.
const REPLAY_CHUNK: usize = 512;

struct Watcher {
    db: Arc<Database>,
    receiver: broadcast::Receiver<Arc<Event>>,
    prefix: String,
    /// The lowest revision not yet delivered or skipped.
    next: Revision,
    /// The revision up to which the log (not the receiver) is the source of events.
    replay_to: Revision,
    ready: VecDeque<Event>,
    finished: bool,
}

/// Builds the stream for `watch(prefix, from)`; `current` was read after `receiver` subscribed.
pub fn stream(
    db: Arc<Database>,
    receiver: broadcast::Receiver<Arc<Event>>,
    prefix: String,
    from: Revision,
    current: Revision,
) -> WatchStream {
    let watcher = Watcher {
        db,
        receiver,
        prefix,
        next: if from > 0 { from } else { current + 1 },
        replay_to: current,
        ready: VecDeque::new(),
        finished: false,
    };
    Box::pin(stream::unfold(watcher, |mut watcher| async move {
        let item = watcher.next_item().await?;
        Some((item, watcher))
    }))
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
            if self.next <= self.replay_to {
                if let Err(error) = self.replay_chunk().await {
                    self.finished = true;
                    return Some(Err(error));
                }
                continue;
            }
            match self.receiver.recv().await {
                Ok(event) => {
                    if event.revision() < self.next {
                        continue;
                    }
                    self.next = event.revision() + 1;
                    if event.kv.key.starts_with(&self.prefix) {
                        return Some(Ok(Event::clone(&event)));
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    // Events were dropped for this receiver: take a fresh one, then fill the gap
                    // from the log up to the revision committed by now.
                    self.receiver = self.receiver.resubscribe();
                    let db = Arc::clone(&self.db);
                    match blocking(move || history::revisions(&db)).await {
                        Ok(revisions) => self.replay_to = revisions.current,
                        Err(error) => {
                            self.finished = true;
                            return Some(Err(error));
                        }
                    }
                }
                // The store was dropped: the backend is shutting down.
                Err(RecvError::Closed) => return None,
            }
        }
    }

    async fn replay_chunk(&mut self) -> Result<()> {
        let (db, prefix, from, to) = (
            Arc::clone(&self.db),
            self.prefix.clone(),
            self.next,
            self.replay_to,
        );
        let (events, next) =
            blocking(move || history::replay(&db, &prefix, from, to, REPLAY_CHUNK)).await?;
        self.ready.extend(events);
        self.next = next;
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(Error::backend)?
}
