//! Schema-free reading of the protobuf wire format, used to find request fields that prost skipped as unknown.
//!
//! prost silently drops fields whose numbers its generated struct lacks (a client built for a
//! newer Kubernetes). Re-encoding the decoded struct and comparing it with the request reveals
//! them. The comparison tolerates the one legitimate difference: Go writes empty map keys and
//! values (`labels: {"a": ""}`) which prost leaves out when re-encoding.

/// One field occurrence on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload<'a> {
    Varint(u64),
    Fixed64(&'a [u8]),
    Fixed32(&'a [u8]),
    Bytes(&'a [u8]),
}

impl Payload<'_> {
    fn is_default(&self) -> bool {
        match self {
            Payload::Varint(v) => *v == 0,
            Payload::Bytes(b) => b.is_empty(),
            Payload::Fixed64(b) | Payload::Fixed32(b) => b.iter().all(|&x| x == 0),
        }
    }
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn take<'a>(buf: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if buf.len() < len {
        return None;
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Some(head)
}

/// Splits a message into (field number, payload) pairs; `None` if it is not a valid message.
fn fields(mut buf: &[u8]) -> Option<Vec<(u32, Payload<'_>)>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let number = u32::try_from(key >> 3).ok().filter(|&n| n > 0)?;
        let payload = match key & 7 {
            0 => Payload::Varint(varint(&mut buf)?),
            1 => Payload::Fixed64(take(&mut buf, 8)?),
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                Payload::Bytes(take(&mut buf, len)?)
            }
            5 => Payload::Fixed32(take(&mut buf, 4)?),
            _ => return None,
        };
        out.push((number, payload));
    }
    Some(out)
}

/// The distinct field numbers present at the top level of an encoded message, in order.
pub(super) fn field_numbers(buf: &[u8]) -> Vec<u32> {
    let mut numbers: Vec<u32> = fields(buf)
        .unwrap_or_default()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    numbers.dedup();
    numbers
}

/// Checks that `reencoded` (prost's encoding of what it decoded from `original`) carries every
/// field of `original`. On a loss, returns the path of field numbers leading to the lost field.
pub(super) fn lost_field(original: &[u8], reencoded: &[u8]) -> Option<Vec<u32>> {
    if original == reencoded {
        return None;
    }
    let (Some(theirs), Some(ours)) = (fields(original), fields(reencoded)) else {
        return Some(Vec::new());
    };
    let mut numbers: Vec<u32> = theirs.iter().chain(&ours).map(|(n, _)| *n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    for number in numbers {
        let sent: Vec<_> = theirs
            .iter()
            .filter(|(n, _)| *n == number)
            .map(|(_, p)| p)
            .collect();
        let kept: Vec<_> = ours
            .iter()
            .filter(|(n, _)| *n == number)
            .map(|(_, p)| p)
            .collect();
        // Map entries are the only messages using numbers 1 and 2 for defaults prost omits;
        // every real Kubernetes message has had fields 1 and 2 since its first version.
        if kept.is_empty() && number <= 2 && sent.iter().all(|p| p.is_default()) {
            continue;
        }
        if sent.len() != kept.len() {
            return Some(vec![number]);
        }
        for (sent, kept) in sent.iter().zip(&kept) {
            match (sent, kept) {
                _ if sent == kept => {}
                (Payload::Bytes(a), Payload::Bytes(b)) => {
                    if let Some(mut path) = lost_field(a, b) {
                        path.insert(0, number);
                        return Some(path);
                    }
                }
                _ => return Some(vec![number]),
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_field_numbers() {
        // field 1 varint 150, field 2 "hi", field 2 again, field 5 fixed32
        let buf = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x12, 0x00, 0x2d, 1, 2, 3, 4,
        ];
        assert_eq!(field_numbers(&buf), vec![1, 2, 5]);
        assert_eq!(field_numbers(&[0x08]), Vec::<u32>::new());
    }

    #[test]
    fn compares_original_with_reencoding() {
        type Case<'a> = (&'a str, &'a [u8], &'a [u8], Option<Vec<u32>>);
        let cases: &[Case] = &[
            ("identical", &[0x0a, 0x01, b'a'], &[0x0a, 0x01, b'a'], None),
            (
                "dropped top-level field",
                &[0x0a, 0x01, b'a', 0x78, 0x01],
                &[0x0a, 0x01, b'a'],
                Some(vec![15]),
            ),
            // field 11 is a map entry {1: "a", 2: ""}; prost re-encodes it without the value
            (
                "empty map value",
                &[0x5a, 0x05, 0x0a, 0x01, b'a', 0x12, 0x00],
                &[0x5a, 0x03, 0x0a, 0x01, b'a'],
                None,
            ),
            // field 3 holds a message whose field 9 was dropped
            (
                "dropped nested field",
                &[0x1a, 0x05, 0x0a, 0x01, b'x', 0x48, 0x01],
                &[0x1a, 0x03, 0x0a, 0x01, b'x'],
                Some(vec![3, 9]),
            ),
            (
                "changed scalar",
                &[0x08, 0x01],
                &[0x08, 0x02],
                Some(vec![1]),
            ),
        ];
        for (name, original, reencoded, want) in cases {
            assert_eq!(&lost_field(original, reencoded), want, "{name}");
        }
    }
}
