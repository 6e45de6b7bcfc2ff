//! Reads of the embedded store: ranges at the current or a past revision, and log replay.

use std::collections::BTreeMap;
use std::ops::Bound;

use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableDatabase};

use super::{KV, LOG, META, META_COMPACTED, META_REVISION, codec, db_error, meta_value};
use crate::storage::{Error, Event, Range, RangeOptions, Result, Revision};

/// The store's current revision and compaction horizon, read together.
#[derive(Debug, Clone, Copy)]
pub struct Revisions {
    pub current: Revision,
    pub compacted: Revision,
}

pub fn revisions(db: &Database) -> Result<Revisions> {
    read_revisions(&db.begin_read().map_err(db_error)?)
}

fn read_revisions(txn: &ReadTransaction) -> Result<Revisions> {
    let meta = txn.open_table(META).map_err(db_error)?;
    Ok(Revisions {
        current: meta_value(&meta, META_REVISION)?,
        compacted: meta_value(&meta, META_COMPACTED)?,
    })
}

/// Reads the keys under `prefix` at the requested revision, from one consistent snapshot.
pub fn range(db: &Database, prefix: &str, options: &RangeOptions) -> Result<Range> {
    let txn = db.begin_read().map_err(db_error)?;
    let Revisions { current, compacted } = read_revisions(&txn)?;
    // Like etcd, a revision of zero or below means "now".
    let at = options.revision.filter(|r| *r > 0).unwrap_or(current);
    if at > current {
        return Err(Error::FutureRevision {
            requested: at,
            current,
        });
    }
    if at < compacted {
        return Err(Error::Compacted {
            requested: at,
            compacted,
        });
    }
    let kv = txn.open_table(KV).map_err(db_error)?;
    let lower = lower_bound(prefix, options.start_after.as_deref());
    let wanted = |key: &str| key.starts_with(prefix);
    let limit = if options.limit == 0 {
        usize::MAX
    } else {
        options.limit
    };

    if at == current {
        let mut kvs = Vec::new();
        let mut more = false;
        for entry in kv
            .range::<&str>((lower, Bound::Unbounded))
            .map_err(db_error)?
        {
            let (key, value) = entry.map_err(db_error)?;
            if !wanted(key.value()) {
                break;
            }
            if kvs.len() == limit {
                more = true;
                break;
            }
            kvs.push(codec::decode_record(key.value(), value.value()).map_err(Error::backend)?);
        }
        return Ok(Range {
            kvs,
            more,
            revision: at,
        });
    }

    // A past revision: start from the current state of the range and undo, newest first,
    // every logged change made after `at`. The log holds everything above the horizon.
    let mut state = BTreeMap::new();
    for entry in kv
        .range::<&str>((lower, Bound::Unbounded))
        .map_err(db_error)?
    {
        let (key, value) = entry.map_err(db_error)?;
        if !wanted(key.value()) {
            break;
        }
        state.insert(
            key.value().to_owned(),
            codec::decode_record(key.value(), value.value()).map_err(Error::backend)?,
        );
    }
    let log = txn.open_table(LOG).map_err(db_error)?;
    for entry in log.range(at + 1..=current).map_err(db_error)?.rev() {
        let (revision, bytes) = entry.map_err(db_error)?;
        let event = codec::decode_event(revision.value(), bytes.value()).map_err(Error::backend)?;
        if !wanted(&event.kv.key) || !after(&event.kv.key, options.start_after.as_deref()) {
            continue;
        }
        match event.prev {
            Some(prev) => state.insert(prev.key.clone(), prev),
            None => state.remove(&event.kv.key),
        };
    }
    let more = state.len() > limit;
    Ok(Range {
        kvs: state.into_values().take(limit).collect(),
        more,
        revision: at,
    })
}

/// Reads the logged events for keys under `prefix` with revisions in `from..=to`, scanning at
/// most `max_scan` log entries. Returns the events and the next revision to scan from.
pub fn replay(
    db: &Database,
    prefix: &str,
    from: Revision,
    to: Revision,
    max_scan: usize,
) -> Result<(Vec<Event>, Revision)> {
    let txn = db.begin_read().map_err(db_error)?;
    let compacted = read_revisions(&txn)?.compacted;
    if from < compacted {
        return Err(Error::Compacted {
            requested: from,
            compacted,
        });
    }
    let log: ReadOnlyTable<i64, &[u8]> = txn.open_table(LOG).map_err(db_error)?;
    let mut events = Vec::new();
    let mut next = to + 1;
    for (scanned, entry) in log.range(from..=to).map_err(db_error)?.enumerate() {
        let (revision, bytes) = entry.map_err(db_error)?;
        if scanned == max_scan {
            next = revision.value();
            break;
        }
        let event = codec::decode_event(revision.value(), bytes.value()).map_err(Error::backend)?;
        if event.kv.key.starts_with(prefix) {
            events.push(event);
        }
    }
    Ok((events, next))
}

/// Where a range scan starts: at the prefix, or just past `start_after` if that is later.
fn lower_bound<'a>(prefix: &'a str, start_after: Option<&'a str>) -> Bound<&'a str> {
    match start_after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    }
}

fn after(key: &str, start_after: Option<&str>) -> bool {
    start_after.is_none_or(|after| key > after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_start_at_the_later_of_prefix_and_start_after() {
        let cases = [
            ("/a/", None, Bound::Included("/a/")),
            ("/a/", Some("/a/x"), Bound::Excluded("/a/x")),
            ("/a/", Some("/a/"), Bound::Excluded("/a/")),
            ("/a/", Some("/"), Bound::Included("/a/")),
            ("", Some("k"), Bound::Excluded("k")),
        ];
        for (prefix, start_after, expected) in cases {
            assert_eq!(
                lower_bound(prefix, start_after),
                expected,
                "{prefix:?} {start_after:?}"
            );
        }
    }

    #[test]
    fn start_after_excludes_itself_and_earlier_keys() {
        assert!(after("/a/b", None));
        assert!(after("/a/c", Some("/a/b")));
        assert!(!after("/a/b", Some("/a/b")));
        assert!(!after("/a/a", Some("/a/b")));
    }
}
