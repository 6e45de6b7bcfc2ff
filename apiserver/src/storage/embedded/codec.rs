//! The byte layout of the embedded store's table values: current records and log events.
//!
//! Hand-written rather than serde so that values stay raw bytes (no base64, no copies through
//! a JSON string) and the layout is fixed by this file alone:
//!
//! - record (`kv` table): `create_revision i64 LE`, `mod_revision i64 LE`, value bytes;
//! - event (`log` table, keyed by its revision): `kind u8` (0 put, 1 delete),
//!   `create_revision i64`, `key_len u32`, key, `value_len u32`, value, then either `0u8` or
//!   `1u8` followed by the previous value as a record.

use bytes::Bytes;

use crate::storage::{Event, EventKind, KeyValue, Revision};

/// A stored value that does not follow the layout above: the file is damaged or was written
/// by an incompatible version.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("stored record for key {key:?} is truncated")]
    TruncatedRecord { key: String },
    #[error("stored log entry at revision {revision} is truncated or malformed")]
    MalformedEvent { revision: Revision },
}

const KIND_PUT: u8 = 0;
const KIND_DELETE: u8 = 1;

/// Encodes the current record of a key (its key is the table key, so it is not repeated).
pub fn encode_record(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + kv.value.len());
    push_record(&mut out, kv);
    out
}

/// Decodes a record of `key` written by [`encode_record`].
pub fn decode_record(key: &str, bytes: &[u8]) -> Result<KeyValue, Error> {
    let truncated = || Error::TruncatedRecord {
        key: key.to_owned(),
    };
    let mut reader = Reader(bytes);
    let create_revision = reader.i64().ok_or_else(truncated)?;
    let mod_revision = reader.i64().ok_or_else(truncated)?;
    Ok(KeyValue {
        key: key.to_owned(),
        value: Bytes::copy_from_slice(reader.rest()),
        create_revision,
        mod_revision,
    })
}

/// Encodes one event for the log; its revision is the log key and is not repeated.
pub fn encode_event(event: &Event) -> Vec<u8> {
    let prev_len = event.prev.as_ref().map_or(0, |p| 16 + p.value.len());
    let mut out = Vec::with_capacity(26 + event.kv.key.len() + event.kv.value.len() + prev_len);
    out.push(match event.kind {
        EventKind::Put => KIND_PUT,
        EventKind::Delete => KIND_DELETE,
    });
    out.extend_from_slice(&event.kv.create_revision.to_le_bytes());
    push_sized(&mut out, event.kv.key.as_bytes());
    push_sized(&mut out, &event.kv.value);
    match &event.prev {
        None => out.push(0),
        Some(prev) => {
            out.push(1);
            push_record(&mut out, prev);
        }
    }
    out
}

/// Decodes the log entry stored at `revision`.
pub fn decode_event(revision: Revision, bytes: &[u8]) -> Result<Event, Error> {
    decode_event_fields(revision, bytes).ok_or(Error::MalformedEvent { revision })
}

fn decode_event_fields(revision: Revision, bytes: &[u8]) -> Option<Event> {
    let mut reader = Reader(bytes);
    let kind = match reader.u8()? {
        KIND_PUT => EventKind::Put,
        KIND_DELETE => EventKind::Delete,
        _ => return None,
    };
    let create_revision = reader.i64()?;
    let key = String::from_utf8(reader.sized()?.to_vec()).ok()?;
    let value = Bytes::copy_from_slice(reader.sized()?);
    let prev = match reader.u8()? {
        0 => None,
        1 => Some(KeyValue {
            key: key.clone(),
            create_revision: reader.i64()?,
            mod_revision: reader.i64()?,
            value: Bytes::copy_from_slice(reader.rest()),
        }),
        _ => return None,
    };
    Some(Event {
        kind,
        kv: KeyValue {
            key,
            value,
            create_revision,
            mod_revision: revision,
        },
        prev,
    })
}

fn push_record(out: &mut Vec<u8>, kv: &KeyValue) {
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.mod_revision.to_le_bytes());
    out.extend_from_slice(&kv.value);
}

fn push_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values beyond 4 GiB cannot reach the store: the HTTP layer caps bodies far lower.
    let len = u32::try_from(bytes.len()).expect("stored key or value exceeds 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A cursor over a byte slice whose reads return `None` when the slice is too short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn i64(&mut self) -> Option<i64> {
        self.take(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("took 8 bytes")))
    }

    fn sized(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().expect("took 4 bytes"));
        self.take(usize::try_from(len).ok()?)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &'static [u8], create: Revision, modified: Revision) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Bytes::from_static(value),
            create_revision: create,
            mod_revision: modified,
        }
    }

    #[test]
    fn records_round_trip() {
        for record in [
            kv("/a", b"", 1, 1),
            kv("/a/b", b"{\"x\":1}", 3, 9),
            kv("/\u{e9}", b"\0\xff", 7, 7),
        ] {
            let bytes = encode_record(&record);
            assert_eq!(decode_record(&record.key, &bytes).unwrap(), record);
        }
    }

    #[test]
    fn events_round_trip() {
        let events = [
            Event {
                kind: EventKind::Put,
                kv: kv("/k", b"v1", 5, 5),
                prev: None,
            },
            Event {
                kind: EventKind::Put,
                kv: kv("/k", b"v2", 5, 6),
                prev: Some(kv("/k", b"v1", 5, 5)),
            },
            Event {
                kind: EventKind::Delete,
                kv: kv("/k", b"v2", 5, 7),
                prev: Some(kv("/k", b"v2", 5, 6)),
            },
            Event {
                kind: EventKind::Put,
                kv: kv("", b"", 8, 8),
                prev: None,
            },
        ];
        for event in events {
            let bytes = encode_event(&event);
            assert_eq!(decode_event(event.revision(), &bytes).unwrap(), event);
        }
    }

    #[test]
    fn damaged_values_are_reported_not_misread() {
        assert!(matches!(
            decode_record("/k", &[1, 2, 3]),
            Err(Error::TruncatedRecord { .. })
        ));
        let good = encode_event(&Event {
            kind: EventKind::Put,
            kv: kv("/k", b"v", 1, 2),
            prev: None,
        });
        let cases: [&[u8]; 4] = [
            &[],
            &good[..good.len() - 1],
            &[9, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0, 1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255],
        ];
        for bytes in cases {
            assert!(
                matches!(
                    decode_event(2, bytes),
                    Err(Error::MalformedEvent { revision: 2 })
                ),
                "{bytes:?}"
            );
        }
    }
}
