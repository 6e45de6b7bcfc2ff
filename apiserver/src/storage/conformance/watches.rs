//! Conformance properties of watches and compaction.

use futures::StreamExt;

use super::{EVENT_DEADLINE, key, next_events, val};
use crate::storage::{Error, Event, EventKind, RangeOptions, Revision, Storage, WatchStream};

/// A watch from a past revision replays every change under the prefix, in order, with the
/// previous values, and nothing from a sibling prefix.
pub async fn watch_replays_history_with_prev_values<S: Storage>(store: &S) {
    let (p, sibling) = ("/conformance/replay/a/", "/conformance/replay/ab/");
    let k = key(p, "k");
    let created = store.create(&k, val("v1")).await.unwrap();
    store
        .create(&key(sibling, "k"), val("other"))
        .await
        .unwrap();
    let updated = store
        .update(&k, val("v2"), created.mod_revision)
        .await
        .unwrap();
    let deleted = store.delete(&k, Some(updated.mod_revision)).await.unwrap();
    let recreated = store.create(&k, val("v3")).await.unwrap();
    let expected = [
        Event {
            kind: EventKind::Put,
            kv: created.clone(),
            prev: None,
        },
        Event {
            kind: EventKind::Put,
            kv: updated.clone(),
            prev: Some(created.clone()),
        },
        Event {
            kind: EventKind::Delete,
            kv: deleted,
            prev: Some(updated.clone()),
        },
        Event {
            kind: EventKind::Put,
            kv: recreated,
            prev: None,
        },
    ];
    let mut watch = store.watch(p, created.mod_revision).await.unwrap();
    assert_eq!(next_events(&mut watch, 4).await, expected);
    assert_next_is_sentinel(store, &mut watch, p).await;

    let mut from_middle = store.watch(p, updated.mod_revision).await.unwrap();
    assert_eq!(next_events(&mut from_middle, 3).await, expected[1..]);
}

/// A watch from revision 0 reports only writes made after it was opened.
pub async fn watch_from_zero_sees_only_new_writes<S: Storage>(store: &S) {
    let p = "/conformance/watch-now/";
    store.create(&key(p, "before"), val("old")).await.unwrap();
    let mut watch = store.watch(p, 0).await.unwrap();
    let after = store.create(&key(p, "after"), val("new")).await.unwrap();
    assert_eq!(
        next_events(&mut watch, 1).await,
        [Event {
            kind: EventKind::Put,
            kv: after,
            prev: None
        }]
    );
}

/// A live watch reports a delete with the last value and the delete's revision.
pub async fn watch_delivers_live_deletes<S: Storage>(store: &S) {
    let p = "/conformance/watch-delete/";
    let k = key(p, "k");
    let kv = store.create(&k, val("last")).await.unwrap();
    let mut watch = store.watch(p, 0).await.unwrap();
    let deleted = store.delete(&k, None).await.unwrap();
    let event = next_events(&mut watch, 1).await.remove(0);
    assert_eq!(event.kind, EventKind::Delete);
    assert_eq!(event.revision(), deleted.mod_revision);
    assert_eq!(
        (event.kv.key.as_str(), &event.kv.value),
        (k.as_str(), &kv.value)
    );
    assert_eq!(event.prev, Some(kv));
}

/// Compaction makes older revisions unreadable (`Compacted`) but keeps current values and the
/// history from the horizon on.
pub async fn compaction_forgets_history_but_keeps_current_values<S: Storage>(store: &S) {
    let p = "/conformance/compaction/";
    let (a, b) = (key(p, "a"), key(p, "b"));
    let a1 = store.create(&a, val("1")).await.unwrap();
    let a2 = store.update(&a, val("2"), a1.mod_revision).await.unwrap();
    let a3 = store.update(&a, val("3"), a2.mod_revision).await.unwrap();
    let b1 = store.create(&b, val("1")).await.unwrap();
    let horizon = a3.mod_revision;
    store.compact(horizon).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), horizon);

    let old = RangeOptions {
        revision: Some(a2.mod_revision),
        ..RangeOptions::default()
    };
    match store.range(p, old).await {
        Err(Error::Compacted {
            requested,
            compacted,
        }) => assert_eq!((requested, compacted), (a2.mod_revision, horizon)),
        other => panic!("range below the compaction horizon returned {other:?}"),
    }
    assert_watch_compacted(store, p, a2.mod_revision, horizon).await;

    let at_horizon = RangeOptions {
        revision: Some(horizon),
        ..RangeOptions::default()
    };
    assert_eq!(
        store.range(p, at_horizon).await.unwrap().kvs,
        std::slice::from_ref(&a3)
    );
    let mut watch = store.watch(p, horizon).await.unwrap();
    let events = next_events(&mut watch, 2).await;
    // The value before the horizon's own write may be gone (etcd drops it), so only the
    // changes themselves are compared.
    assert_eq!((&events[0].kind, &events[0].kv), (&EventKind::Put, &a3));
    assert_eq!(
        events[1],
        Event {
            kind: EventKind::Put,
            kv: b1.clone(),
            prev: None
        }
    );
    assert_eq!(store.get(&a).await.unwrap(), Some(a3));
    assert_eq!(store.get(&b).await.unwrap(), Some(b1));

    store.compact(a1.mod_revision).await.unwrap();
    assert_eq!(
        store.compacted_revision().await.unwrap(),
        horizon,
        "compacting below the horizon moved it"
    );
    let current = store.current_revision().await.unwrap();
    assert!(matches!(
        store.compact(current + 10).await,
        Err(Error::FutureRevision { .. })
    ));
}

/// Expects a watch from `from` to fail with `Compacted`, either at once or as its first item.
async fn assert_watch_compacted<S: Storage>(
    store: &S,
    prefix: &str,
    from: Revision,
    horizon: Revision,
) {
    let outcome = match store.watch(prefix, from).await {
        Ok(mut watch) => tokio::time::timeout(EVENT_DEADLINE, watch.next())
            .await
            .unwrap_or_else(|_| {
                panic!("watch from compacted revision {from} neither failed nor ended")
            })
            .map(|item| item.map(|_| ()))
            .unwrap_or(Ok(())),
        Err(error) => Err(error),
    };
    match outcome {
        Err(Error::Compacted {
            requested,
            compacted,
        }) => assert_eq!((requested, compacted), (from, horizon)),
        other => panic!("watch from compacted revision {from} gave {other:?}, want Compacted"),
    }
}

/// Writes a sentinel key and expects it to be the watch's next event: proof that nothing else
/// (a duplicate, a sibling prefix's change) was queued before it.
async fn assert_next_is_sentinel<S: Storage>(store: &S, watch: &mut WatchStream, prefix: &str) {
    let sentinel = store
        .create(&key(prefix, "~sentinel"), val("end"))
        .await
        .unwrap();
    let next = next_events(watch, 1).await.remove(0);
    assert_eq!(next.kv, sentinel, "unexpected event before the sentinel");
}
