//! Webster/Sainte-Laguë apportionment: replicas handed out seat by seat in proportion to weights.

use std::cmp::Ordering;

/// How seats are handed out when two clusters have exactly the same priority: fewer current
/// seats first, then by name in this direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TieBreak {
    NameAscending,
    NameDescending,
}

impl TieBreak {
    /// The per-workload direction: descending when the FNV-1a (32-bit) hash of the workload's
    /// UID is odd, so equal-weight ties do not always favour the same cluster names across
    /// workloads, yet stay stable for one workload. No UID means ascending.
    pub fn for_uid(uid: Option<&str>) -> TieBreak {
        match uid.filter(|u| !u.is_empty()) {
            Some(uid) if fnv1a32(uid.as_bytes()) & 1 == 1 => TieBreak::NameDescending,
            _ => TieBreak::NameAscending,
        }
    }
}

/// FNV-1a, 32-bit.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// One cluster taking part in an apportionment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    /// Relative claim on the new seats; 0 takes part only through its initial seats.
    pub weight: i64,
    /// Seats held, initial ones included.
    pub seats: i32,
}

/// Hands `new_seats` seats one at a time to the party maximising `weight / (2·seats + 1)`,
/// starting from `initial` seats (parties only listed there have weight 0). Returns every party
/// sorted by name, including those left with no seats.
pub fn apportion(
    new_seats: i32,
    weights: &[(String, i64)],
    initial: &[(String, i32)],
    tie: TieBreak,
) -> Vec<Party> {
    let mut parties: Vec<Party> = Vec::with_capacity(weights.len() + initial.len());
    for (name, seats) in initial {
        match parties.iter_mut().find(|p| &p.name == name) {
            Some(p) => p.seats = *seats,
            None => parties.push(Party {
                name: name.clone(),
                weight: 0,
                seats: *seats,
            }),
        }
    }
    for (name, weight) in weights {
        match parties.iter_mut().find(|p| &p.name == name) {
            Some(p) => p.weight = *weight,
            None => parties.push(Party {
                name: name.clone(),
                weight: *weight,
                seats: 0,
            }),
        }
    }
    if !parties.is_empty() {
        for _ in 0..new_seats.max(0) {
            // A linear scan per seat; seats are replicas and parties clusters, both small
            // next to the API round trips around a scheduling cycle.
            let next = (0..parties.len())
                .reduce(|best, i| {
                    if before(&parties[i], &parties[best], tie) {
                        i
                    } else {
                        best
                    }
                })
                .unwrap_or_default();
            parties[next].seats += 1;
        }
    }
    parties.sort_by(|a, b| a.name.cmp(&b.name));
    parties
}

/// Whether `a` gets the next seat before `b`. Priorities are compared exactly as fractions
/// (cross-multiplied), never as floats.
fn before(a: &Party, b: &Party, tie: TieBreak) -> bool {
    let left = i128::from(a.weight) * (2 * i128::from(b.seats) + 1);
    let right = i128::from(b.weight) * (2 * i128::from(a.seats) + 1);
    match left.cmp(&right) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal if a.seats != b.seats => a.seats < b.seats,
        Ordering::Equal => match tie {
            TieBreak::NameAscending => a.name < b.name,
            TieBreak::NameDescending => a.name > b.name,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(list: &[(&str, i64)]) -> Vec<(String, i64)> {
        list.iter().map(|(n, w)| (n.to_string(), *w)).collect()
    }

    fn seats(parties: &[Party]) -> Vec<(&str, i32)> {
        parties.iter().map(|p| (p.name.as_str(), p.seats)).collect()
    }

    #[test]
    fn apportionment_table() {
        use TieBreak::*;
        type Case = (
            &'static str,
            i32,
            Vec<(&'static str, i64)>,
            TieBreak,
            Vec<(&'static str, i32)>,
        );
        let cases: Vec<Case> = vec![
            (
                "favours smaller clusters unlike largest remainder",
                5,
                vec![("a", 170), ("b", 110), ("c", 60)],
                NameAscending,
                vec![("a", 2), ("b", 2), ("c", 1)],
            ),
            (
                "2:1 with one seat",
                1,
                vec![("a", 2), ("b", 1)],
                NameAscending,
                vec![("a", 1), ("b", 0)],
            ),
            (
                "2:1 with two seats",
                2,
                vec![("a", 2), ("b", 1)],
                NameAscending,
                vec![("a", 1), ("b", 1)],
            ),
            (
                "equal weights, ascending tie",
                3,
                vec![("a", 1), ("b", 1)],
                NameAscending,
                vec![("a", 2), ("b", 1)],
            ),
            (
                "equal weights, descending tie",
                3,
                vec![("a", 1), ("b", 1)],
                NameDescending,
                vec![("a", 1), ("b", 2)],
            ),
            (
                "7 at 2:1:1:1",
                7,
                vec![("m1", 2), ("m2", 1), ("m3", 1), ("m4", 1)],
                NameAscending,
                vec![("m1", 3), ("m2", 2), ("m3", 1), ("m4", 1)],
            ),
            (
                "8 at 2:1:1:1",
                8,
                vec![("m1", 2), ("m2", 1), ("m3", 1), ("m4", 1)],
                NameAscending,
                vec![("m1", 3), ("m2", 2), ("m3", 2), ("m4", 1)],
            ),
            (
                "9 at 2:1:1:1",
                9,
                vec![("m1", 2), ("m2", 1), ("m3", 1), ("m4", 1)],
                NameAscending,
                vec![("m1", 3), ("m2", 2), ("m3", 2), ("m4", 2)],
            ),
            (
                "zero weight gets nothing",
                4,
                vec![("a", 0), ("b", 3)],
                NameAscending,
                vec![("a", 0), ("b", 4)],
            ),
            ("no seats", 0, vec![("a", 1)], NameAscending, vec![("a", 0)]),
        ];
        for (name, n, w, tie, want) in cases {
            assert_eq!(seats(&apportion(n, &weights(&w), &[], tie)), want, "{name}");
        }
    }

    #[test]
    fn initial_seats_count_towards_priority() {
        // b already holds 2 seats: priorities a=1/1, b=1/5, so both new seats go to a.
        let got = apportion(
            2,
            &weights(&[("a", 1), ("b", 1)]),
            &[("b".into(), 2)],
            TieBreak::NameAscending,
        );
        assert_eq!(seats(&got), [("a", 2), ("b", 2)]);
        // A party only in the initial list keeps its seats and gains none.
        let got = apportion(
            1,
            &weights(&[("a", 1)]),
            &[("z".into(), 3)],
            TieBreak::NameAscending,
        );
        assert_eq!(seats(&got), [("a", 1), ("z", 3)]);
    }

    #[test]
    fn tie_with_unequal_seats_prefers_fewer_seats_before_names() {
        // a:2 seats weight 5 -> 5/5 = 1; b:0 seats weight 1 -> 1/1 = 1. Equal priority; b has
        // fewer seats, whichever the name direction.
        for tie in [TieBreak::NameAscending, TieBreak::NameDescending] {
            let got = apportion(1, &weights(&[("a", 5), ("b", 1)]), &[("a".into(), 2)], tie);
            assert_eq!(seats(&got), [("a", 2), ("b", 1)], "{tie:?}");
        }
    }

    #[test]
    fn tie_direction_follows_fnv1a_of_the_uid() {
        // Reference values of FNV-1a 32: "" -> 0x811c9dc5, "a" -> 0xe40c292c.
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
        assert_eq!(TieBreak::for_uid(None), TieBreak::NameAscending);
        assert_eq!(TieBreak::for_uid(Some("")), TieBreak::NameAscending);
        // 0xe40c292c is even, 0xbf9cf968 is even; "b" hashes to 0xe70c2de5, odd.
        assert_eq!(TieBreak::for_uid(Some("a")), TieBreak::NameAscending);
        assert_eq!(fnv1a32(b"b"), 0xe70c_2de5);
        assert_eq!(TieBreak::for_uid(Some("b")), TieBreak::NameDescending);
    }
}
