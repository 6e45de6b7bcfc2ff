//! Short, stable names from content, as Kubernetes' controllers make them for pod-template
//! hashes and ControllerRevisions: FNV-1a over the bytes (and the collision count), written in
//! an alphabet that cannot spell words or be misread.

/// Characters that cannot spell words or be confused with each other, as Kubernetes uses for
/// generated names.
pub const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV_OFFSET: u32 = 0x811c_9dc5;

/// A short lowercase alphanumeric hash of `bytes` and the collision count, the same in every
/// process and build.
pub fn short_hash(bytes: &[u8], collision_count: Option<i32>) -> String {
    let mut hash = fnv32a(FNV_OFFSET, bytes);
    if let Some(count) = collision_count {
        hash = fnv32a(hash, count.to_string().as_bytes());
    }
    // Render the decimal digits through the safe alphabet, so a hash never reads as a number or
    // a word; digit `d` maps to a fixed character.
    hash.to_string()
        .bytes()
        .map(|digit| ALPHABET[usize::from(digit - b'0')] as char)
        .collect()
}

fn fnv32a(mut hash: u32, bytes: &[u8]) -> u32 {
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv32a(FNV_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(FNV_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(FNV_OFFSET, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn hashes_are_stable_short_and_safe() {
        let cases: [(&[u8], Option<i32>); 3] = [(b"a", None), (b"b", None), (b"a", Some(1))];
        let hashes: Vec<String> = cases.iter().map(|(b, c)| short_hash(b, *c)).collect();
        for (hash, (b, c)) in hashes.iter().zip(&cases) {
            assert_eq!(hash, &short_hash(b, *c), "stable");
            assert!(!hash.is_empty() && hash.len() <= 10, "{hash}");
            assert!(hash.bytes().all(|b| ALPHABET.contains(&b)), "{hash}");
        }
        assert_ne!(hashes[0], hashes[1], "content changes the hash");
        assert_ne!(hashes[0], hashes[2], "collision count changes the hash");
    }
}
