//! The storage conformance suite: each invariant of [`Storage`], checked once for every backend.
//!
//! Every property is a public async function over any store; [`run_all`] runs them in turn.
//! Properties keep their keys under `/conformance/<property>/`, so they can share one store and
//! run in any order, but the suite must be the store's only writer (a fresh embedded store, a
//! private etcd): it checks that each write advances the revision by exactly one. It panics on
//! the first broken invariant, like any test.

mod ranges;
mod watches;
mod writes;

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

pub use ranges::{
    range_orders_keys_and_isolates_prefixes, range_pages_with_limit_and_start_after,
    range_reads_past_revisions, range_rejects_future_revisions,
};
pub use watches::{
    compaction_forgets_history_but_keeps_current_values, watch_delivers_live_deletes,
    watch_from_zero_sees_only_new_writes, watch_replays_history_with_prev_values,
};
pub use writes::{
    concurrent_writers_never_lose_or_duplicate_revisions, create_rejects_existing_keys,
    create_revision_survives_updates_and_resets_on_recreate, revision_increments_by_one,
    update_and_delete_compare_revisions, values_are_opaque_bytes,
};

use super::{Event, KeyValue, Storage, WatchStream};

/// How long a watch may take to deliver an expected event before the property fails.
const EVENT_DEADLINE: Duration = Duration::from_secs(10);

/// Runs every property against `store`.
pub async fn run_all<S: Storage>(store: &S) {
    revision_increments_by_one(store).await;
    create_rejects_existing_keys(store).await;
    update_and_delete_compare_revisions(store).await;
    create_revision_survives_updates_and_resets_on_recreate(store).await;
    values_are_opaque_bytes(store).await;
    range_orders_keys_and_isolates_prefixes(store).await;
    range_pages_with_limit_and_start_after(store).await;
    range_reads_past_revisions(store).await;
    range_rejects_future_revisions(store).await;
    watch_replays_history_with_prev_values(store).await;
    watch_from_zero_sees_only_new_writes(store).await;
    watch_delivers_live_deletes(store).await;
    concurrent_writers_never_lose_or_duplicate_revisions(store).await;
    compaction_forgets_history_but_keeps_current_values(store).await;
}

/// The next `n` events of `watch`; fails on an error, the end of the stream or a stall.
async fn next_events(watch: &mut WatchStream, n: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(n);
    while events.len() < n {
        match tokio::time::timeout(EVENT_DEADLINE, watch.next()).await {
            Ok(Some(Ok(event))) => events.push(event),
            Ok(Some(Err(error))) => {
                panic!("watch failed after {} of {n} events: {error}", events.len())
            }
            Ok(None) => panic!("watch ended after {} of {n} events", events.len()),
            Err(_) => panic!(
                "watch delivered {} of {n} events within {EVENT_DEADLINE:?}",
                events.len()
            ),
        }
    }
    events
}

fn key(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

fn val(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn keys(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter().map(|kv| kv.key.clone()).collect()
}
