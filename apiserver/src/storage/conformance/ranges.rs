//! Conformance properties of ranges: ordering, prefixes, paging and reads at past revisions.

use std::collections::BTreeMap;

use super::{key, keys, val};
use crate::storage::{Error, KeyValue, RangeOptions, Storage};

/// `range` returns exactly the keys that start with the prefix, in ascending order.
pub async fn range_orders_keys_and_isolates_prefixes<S: Storage>(store: &S) {
    let p = "/conformance/range/";
    for name in ["a/3", "ab/1", "a/1", "b/1", "a", "a/2/nested", "a/2"] {
        store.create(&key(p, name), val(name)).await.unwrap();
    }
    let current = store.current_revision().await.unwrap();
    let listed = store
        .range(&key(p, "a/"), RangeOptions::default())
        .await
        .unwrap();
    assert_eq!(
        keys(&listed.kvs),
        [
            key(p, "a/1"),
            key(p, "a/2"),
            key(p, "a/2/nested"),
            key(p, "a/3")
        ]
    );
    assert_eq!(listed.kvs[0].value, val("a/1"));
    assert!(!listed.more);
    assert_eq!(listed.revision, current);
    let listed = store
        .range(&key(p, "ab/"), RangeOptions::default())
        .await
        .unwrap();
    assert_eq!(keys(&listed.kvs), [key(p, "ab/1")]);
    let listed = store.range(p, RangeOptions::default()).await.unwrap();
    let mut all = keys(&listed.kvs);
    assert_eq!(all.len(), 7);
    all.sort();
    assert_eq!(
        keys(&listed.kvs),
        all,
        "range must be in ascending key order"
    );
    assert!(
        store
            .range(&key(p, "none/"), RangeOptions::default())
            .await
            .unwrap()
            .kvs
            .is_empty()
    );
}

/// `limit` caps the result and sets `more`; `start_after` continues a listing, also at a fixed
/// revision while new keys appear (how continue tokens page through a consistent snapshot).
pub async fn range_pages_with_limit_and_start_after<S: Storage>(store: &S) {
    let p = "/conformance/paging/";
    for i in 0..5 {
        store
            .create(&key(p, &format!("k{i}")), val("v"))
            .await
            .unwrap();
    }
    let page = |start_after: Option<String>, limit, revision| RangeOptions {
        start_after,
        limit,
        revision,
    };
    let first = store.range(p, page(None, 2, None)).await.unwrap();
    assert_eq!(keys(&first.kvs), [key(p, "k0"), key(p, "k1")]);
    assert!(first.more);
    store.create(&key(p, "k1a"), val("late")).await.unwrap();
    let second = store
        .range(p, page(Some(key(p, "k1")), 2, Some(first.revision)))
        .await
        .unwrap();
    assert_eq!(
        keys(&second.kvs),
        [key(p, "k2"), key(p, "k3")],
        "a page at the first page's revision"
    );
    assert!(second.more);
    assert_eq!(second.revision, first.revision);
    let third = store
        .range(p, page(Some(key(p, "k3")), 2, Some(first.revision)))
        .await
        .unwrap();
    assert_eq!(keys(&third.kvs), [key(p, "k4")]);
    assert!(!third.more);

    let now = store
        .range(p, page(Some(key(p, "k1")), 1, None))
        .await
        .unwrap();
    assert_eq!(keys(&now.kvs), [key(p, "k1a")]);
    assert!(
        !store.range(p, page(None, 6, None)).await.unwrap().more,
        "exactly `limit` keys leave nothing more"
    );
    assert_eq!(
        store.range(p, page(None, 0, None)).await.unwrap().kvs.len(),
        6,
        "limit 0 means no limit"
    );
    let before_prefix = store
        .range(p, page(Some("/".into()), 1, None))
        .await
        .unwrap();
    assert_eq!(
        keys(&before_prefix.kvs),
        [key(p, "k0")],
        "start_after before the prefix starts at the prefix"
    );
    let past_end = store
        .range(p, page(Some(key(p, "k4")), 0, None))
        .await
        .unwrap();
    assert!(past_end.kvs.is_empty() && !past_end.more);
}

/// A range at a past revision sees exactly the state right after that revision's write.
pub async fn range_reads_past_revisions<S: Storage>(store: &S) {
    let p = "/conformance/history/";
    let mut model: BTreeMap<String, KeyValue> = BTreeMap::new();
    let start = store.current_revision().await.unwrap();
    // Revision 0 would mean "now" in a read, so an empty store's start is not a snapshot.
    let mut snapshots = if start > 0 {
        vec![(start, model.clone())]
    } else {
        Vec::new()
    };
    let steps: [(&str, Option<&str>); 8] = [
        ("a", Some("a1")),
        ("b", Some("b1")),
        ("a", Some("a2")),
        ("b", None),
        ("c", Some("c1")),
        ("c", Some("c2")),
        ("b", Some("b2")),
        ("a", None),
    ];
    for (name, value) in steps {
        let k = key(p, name);
        let revision = match (model.get(&k).cloned(), value) {
            (None, Some(v)) => {
                let kv = store.create(&k, val(v)).await.unwrap();
                model.insert(k, kv.clone());
                kv.mod_revision
            }
            (Some(old), Some(v)) => {
                let kv = store.update(&k, val(v), old.mod_revision).await.unwrap();
                model.insert(k, kv.clone());
                kv.mod_revision
            }
            (Some(old), None) => {
                model.remove(&k);
                store
                    .delete(&k, Some(old.mod_revision))
                    .await
                    .unwrap()
                    .mod_revision
            }
            (None, None) => unreachable!("the script never deletes an absent key"),
        };
        snapshots.push((revision, model.clone()));
    }
    for (revision, expected) in &snapshots {
        let at = RangeOptions {
            revision: Some(*revision),
            ..RangeOptions::default()
        };
        let read = store.range(p, at.clone()).await.unwrap();
        assert_eq!(
            read.kvs,
            expected.values().cloned().collect::<Vec<_>>(),
            "state at revision {revision}"
        );
        assert_eq!(read.revision, *revision);
        let first = store
            .range(
                p,
                RangeOptions {
                    limit: 1,
                    ..at.clone()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            first.kvs,
            expected.values().take(1).cloned().collect::<Vec<_>>()
        );
        assert_eq!(
            first.more,
            expected.len() > 1,
            "`more` at revision {revision}"
        );
        let after_a = store
            .range(
                p,
                RangeOptions {
                    start_after: Some(key(p, "a")),
                    ..at
                },
            )
            .await
            .unwrap();
        let want: Vec<_> = expected
            .values()
            .filter(|kv| kv.key > key(p, "a"))
            .cloned()
            .collect();
        assert_eq!(after_a.kvs, want, "start_after at revision {revision}");
    }
}

/// A range at a revision the store has not reached fails with `FutureRevision`.
pub async fn range_rejects_future_revisions<S: Storage>(store: &S) {
    let current = store.current_revision().await.unwrap();
    let requested = current + 100;
    let ahead = RangeOptions {
        revision: Some(requested),
        ..RangeOptions::default()
    };
    match store.range("/conformance/future/", ahead).await {
        Err(Error::FutureRevision {
            requested: r,
            current: c,
        }) => {
            assert_eq!(r, requested);
            assert!(
                c >= current && c < requested,
                "reported current revision {c}"
            );
        }
        other => panic!("range at future revision {requested} returned {other:?}"),
    }
}
