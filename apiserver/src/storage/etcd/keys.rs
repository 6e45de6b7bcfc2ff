//! How storage keys map to etcd keys: the namespace prefix and the key ranges it implies.

use bytes::Bytes;

use super::Failure;
use crate::storage::{Error, KeyValue, Result};

pub fn key_value(prefix: &str, kv: &etcd_client::KeyValue) -> Result<KeyValue> {
    Ok(KeyValue {
        key: strip_prefix(prefix, kv.key())?,
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
    })
}

pub fn strip_prefix(prefix: &str, key: &[u8]) -> Result<String> {
    std::str::from_utf8(key)
        .ok()
        .and_then(|key| key.strip_prefix(prefix))
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::backend(Failure::ForeignKey {
                key: String::from_utf8_lossy(key).into_owned(),
                prefix: prefix.to_owned(),
            })
        })
}

/// The etcd key range `[start, end)` of keys under `namespace + prefix` after `start_after`.
/// An `end` of `"\0"` means "to the end of the keyspace", as in etcd.
pub fn key_range(namespace: &str, prefix: &str, start_after: Option<&str>) -> (Vec<u8>, Vec<u8>) {
    let lower = format!("{namespace}{prefix}").into_bytes();
    let end = prefix_end(&lower);
    let start = match start_after {
        Some(after) => {
            let mut just_after = format!("{namespace}{after}").into_bytes();
            just_after.push(0);
            just_after.max(lower)
        }
        None => lower,
    };
    // etcd rejects an empty key; "\0" is the smallest non-empty one.
    let start = if start.is_empty() { vec![0] } else { start };
    (start, end)
}

/// The smallest key greater than every key starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_key_after_the_prefix() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"/a/", b"/a0"),
            (b"a", b"b"),
            (b"a\xff", b"b"),
            (b"\xff\xff", b"\0"),
            (b"", b"\0"),
        ];
        for (prefix, end) in cases {
            assert_eq!(prefix_end(prefix), end, "{prefix:?}");
        }
    }

    #[test]
    fn key_range_applies_namespace_prefix_and_start_after() {
        let cases = [
            ("", "/a/", None, &b"/a/"[..], &b"/a0"[..]),
            ("/k", "/a/", None, b"/k/a/", b"/k/a0"),
            ("/k", "/a/", Some("/a/x"), b"/k/a/x\0", b"/k/a0"),
            // A start_after before the prefix does not widen the range.
            ("/k", "/a/", Some("/"), b"/k/a/", b"/k/a0"),
            ("", "", None, b"\0", b"\0"),
        ];
        for (namespace, prefix, start_after, start, end) in cases {
            assert_eq!(
                key_range(namespace, prefix, start_after),
                (start.to_vec(), end.to_vec()),
                "{prefix:?} {start_after:?}"
            );
        }
    }

    #[test]
    fn keys_outside_the_namespace_are_rejected() {
        assert_eq!(strip_prefix("/k", b"/k/a").unwrap(), "/a");
        assert_eq!(strip_prefix("", b"/a").unwrap(), "/a");
        assert!(strip_prefix("/k", b"/other/a").is_err());
        assert!(strip_prefix("", b"\xff").is_err());
    }
}
