//! Conformance properties of writes: revisions, compare-and-swap, incarnations, concurrency.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::{key, next_events, val};
use crate::storage::{Error, EventKind, KeyValue, RangeOptions, Revision, Storage};

/// Each successful write advances the revision by one and reports it; failed writes change nothing.
pub async fn revision_increments_by_one<S: Storage>(store: &S) {
    let p = "/conformance/revision/";
    let start = store.current_revision().await.unwrap();
    let a = store.create(&key(p, "a"), val("1")).await.unwrap();
    assert_eq!(a.mod_revision, start + 1);
    assert_eq!(store.current_revision().await.unwrap(), start + 1);
    let a = store
        .update(&key(p, "a"), val("2"), a.mod_revision)
        .await
        .unwrap();
    assert_eq!(a.mod_revision, start + 2);
    let b = store.create(&key(p, "b"), val("1")).await.unwrap();
    assert_eq!(b.mod_revision, start + 3);
    let deleted = store
        .delete(&key(p, "b"), Some(b.mod_revision))
        .await
        .unwrap();
    assert_eq!(deleted.mod_revision, start + 4);
    assert_eq!(store.current_revision().await.unwrap(), start + 4);

    assert!(matches!(
        store.create(&key(p, "a"), val("x")).await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        store.update(&key(p, "a"), val("x"), b.mod_revision).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        store.update(&key(p, "b"), val("x"), b.mod_revision).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.delete(&key(p, "b"), None).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        store.current_revision().await.unwrap(),
        start + 4,
        "failed writes must not advance the revision"
    );
}

/// `create` of an existing key fails with `AlreadyExists` and leaves the key as it was.
pub async fn create_rejects_existing_keys<S: Storage>(store: &S) {
    let k = key("/conformance/create/", "k");
    let first = store.create(&k, val("first")).await.unwrap();
    assert_eq!(first.create_revision, first.mod_revision);
    assert_eq!(first.value, val("first"));
    match store.create(&k, val("second")).await {
        Err(Error::AlreadyExists(existing)) => assert_eq!(existing, k),
        other => panic!("second create of {k} returned {other:?}, want AlreadyExists"),
    }
    assert_eq!(store.get(&k).await.unwrap(), Some(first));
    assert_eq!(
        store
            .get(&key("/conformance/create/", "absent"))
            .await
            .unwrap(),
        None
    );
}

/// `update` and `delete` succeed only at the key's `mod_revision`; absent keys are `NotFound`.
pub async fn update_and_delete_compare_revisions<S: Storage>(store: &S) {
    let p = "/conformance/cas/";
    let k = key(p, "k");
    let v1 = store.create(&k, val("v1")).await.unwrap();
    let v2 = store.update(&k, val("v2"), v1.mod_revision).await.unwrap();
    assert_eq!(
        (v2.value.clone(), v2.create_revision),
        (val("v2"), v1.create_revision)
    );
    assert!(v2.mod_revision > v1.mod_revision);

    let stale = store.update(&k, val("v3"), v1.mod_revision).await;
    assert_conflict(stale, &k, v1.mod_revision, v2.mod_revision);
    let stale = store.delete(&k, Some(v1.mod_revision)).await;
    assert_conflict(stale, &k, v1.mod_revision, v2.mod_revision);
    assert_eq!(
        store.get(&k).await.unwrap(),
        Some(v2.clone()),
        "a failed compare-and-swap changed the key"
    );

    let missing = key(p, "missing");
    assert!(
        matches!(store.update(&missing, val("x"), v2.mod_revision).await, Err(Error::NotFound(m)) if m == missing)
    );
    assert!(matches!(
        store.update(&missing, val("x"), 0).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.delete(&missing, Some(v2.mod_revision)).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.delete(&missing, Some(0)).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        store.get(&missing).await.unwrap(),
        None,
        "update of an absent key must not create it"
    );

    let deleted = store.delete(&k, Some(v2.mod_revision)).await.unwrap();
    assert_eq!(
        (deleted.value.clone(), deleted.create_revision),
        (val("v2"), v1.create_revision)
    );
    assert!(deleted.mod_revision > v2.mod_revision);
    assert_eq!(store.get(&k).await.unwrap(), None);
    assert!(matches!(
        store.delete(&k, None).await,
        Err(Error::NotFound(_))
    ));

    let unconditional = store.create(&key(p, "u"), val("u")).await.unwrap();
    let deleted = store.delete(&key(p, "u"), None).await.unwrap();
    assert_eq!(deleted.value, unconditional.value);
    assert!(deleted.mod_revision > unconditional.mod_revision);
}

/// Updates keep `create_revision`; deleting and creating again starts a new one.
pub async fn create_revision_survives_updates_and_resets_on_recreate<S: Storage>(store: &S) {
    let k = key("/conformance/incarnation/", "k");
    let created = store.create(&k, val("1")).await.unwrap();
    let updated = store
        .update(&k, val("2"), created.mod_revision)
        .await
        .unwrap();
    let updated = store
        .update(&k, val("3"), updated.mod_revision)
        .await
        .unwrap();
    assert_eq!(updated.create_revision, created.create_revision);
    assert_eq!(
        store.get(&k).await.unwrap().unwrap().create_revision,
        created.create_revision
    );
    store.delete(&k, None).await.unwrap();
    let recreated = store.create(&k, val("4")).await.unwrap();
    assert_eq!(recreated.create_revision, recreated.mod_revision);
    assert!(recreated.create_revision > updated.mod_revision);
}

/// Values come back byte for byte, including empty and non-UTF-8 ones.
pub async fn values_are_opaque_bytes<S: Storage>(store: &S) {
    let p = "/conformance/bytes/";
    let all_bytes: Bytes = (0..=255u8).collect::<Vec<_>>().into();
    for (name, value) in [
        ("empty", Bytes::new()),
        ("binary", all_bytes),
        ("large", Bytes::from(vec![b'x'; 256 * 1024])),
    ] {
        store.create(&key(p, name), value.clone()).await.unwrap();
        assert_eq!(
            store.get(&key(p, name)).await.unwrap().unwrap().value,
            value,
            "value of {name}"
        );
    }
}

/// Concurrent writers get distinct, gap-free revisions, and a watch sees each write once, in order.
pub async fn concurrent_writers_never_lose_or_duplicate_revisions<S: Storage>(store: &S) {
    const WRITERS: usize = 8;
    const WRITES: usize = 50;
    let p = "/conformance/concurrent/";
    let start = store.current_revision().await.unwrap();
    let writers = (0..WRITERS).map(|w| async move {
        let mut written = Vec::with_capacity(WRITES);
        for i in 0..WRITES {
            written.push(
                store
                    .create(&key(p, &format!("w{w}/{i:03}")), val("x"))
                    .await
                    .unwrap(),
            );
        }
        written
    });
    let written: Vec<KeyValue> = futures::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let by_revision: BTreeMap<Revision, KeyValue> = written
        .iter()
        .map(|kv| (kv.mod_revision, kv.clone()))
        .collect();
    assert_eq!(
        by_revision.len(),
        WRITERS * WRITES,
        "two writes were given the same revision"
    );
    let revisions: Vec<Revision> = by_revision.keys().copied().collect();
    assert_eq!(
        revisions,
        (start + 1..=start + (WRITERS * WRITES) as i64).collect::<Vec<_>>()
    );
    assert_eq!(
        store.current_revision().await.unwrap(),
        start + (WRITERS * WRITES) as i64
    );

    let mut watch = store.watch(p, start + 1).await.unwrap();
    let events = next_events(&mut watch, WRITERS * WRITES).await;
    let mut seen = BTreeSet::new();
    for (event, (revision, kv)) in events.iter().zip(&by_revision) {
        assert_eq!(
            event.revision(),
            *revision,
            "watch events out of order or missing"
        );
        assert_eq!(
            (&event.kind, &event.kv, &event.prev),
            (&EventKind::Put, kv, &None)
        );
        assert!(
            seen.insert(event.kv.key.clone()),
            "key {} delivered twice",
            event.kv.key
        );
    }
    assert_eq!(
        store
            .range(p, RangeOptions::default())
            .await
            .unwrap()
            .kvs
            .len(),
        WRITERS * WRITES
    );
}

fn assert_conflict(
    result: crate::storage::Result<KeyValue>,
    k: &str,
    expected: Revision,
    actual: Revision,
) {
    match result {
        Err(Error::Conflict {
            key,
            expected: e,
            actual: a,
        }) => assert_eq!((key.as_str(), e, a), (k, expected, actual)),
        other => {
            panic!("write to {k} at stale revision {expected} returned {other:?}, want Conflict")
        }
    }
}
