//! Which eligible clusters a name answers with, and in what order, under each answer policy.

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::Rng;

use crate::model::{Cluster, Policy};

/// Rotation counters, picked by a hash of the name, so names queried in lockstep still each
/// rotate (one shared counter would hand two alternating names the same order every time).
const ROTATIONS: usize = 256;

/// One cluster that may be answered for a name.
#[derive(Debug)]
pub(crate) struct Candidate<'s, T> {
    pub name: &'s str,
    /// Relative share under the weighted policy (ready endpoints, or 1 for global names).
    pub weight: usize,
    pub region: Option<&'s str>,
    /// What the cluster answers with (its backend or its IPs).
    pub item: &'s T,
}

/// Per-server policy state: rotation counters and which configuration problems were logged.
pub(crate) struct Chooser {
    rotations: Box<[AtomicUsize]>,
    warned: Mutex<HashSet<u64>>,
}

/// What a policy needs besides the candidates.
pub(crate) struct Choice<'a> {
    /// The name's owner (`[ns, svc]` or `[global name]`), to log problems and pick a counter.
    pub owner: &'a [&'a str],
    /// Every known cluster, to tell a failover entry that names no cluster.
    pub clusters: &'a BTreeMap<String, Cluster>,
}

impl Chooser {
    pub fn new() -> Chooser {
        Chooser {
            rotations: (0..ROTATIONS).map(|_| AtomicUsize::new(0)).collect(),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Reduces and orders `candidates` under `policy`. `region` is asked only by the nearest
    /// policy and gives the client's region, if it has one.
    pub fn order<'r, T>(
        &self,
        policy: &Policy,
        choice: &Choice<'_>,
        region: impl FnOnce() -> Option<&'r str>,
        candidates: &mut Vec<Candidate<'_, T>>,
    ) {
        if candidates.is_empty() {
            return;
        }
        match policy {
            Policy::RoundRobin => self.rotate(choice.owner, candidates),
            Policy::Weighted => weighted_shuffle(candidates),
            Policy::Failover(list) => {
                self.check_failover(choice, list);
                let first = list
                    .iter()
                    .find_map(|name| candidates.iter().position(|c| c.name == name));
                match first {
                    Some(index) => {
                        candidates.swap(0, index);
                        candidates.truncate(1);
                    }
                    None => self.rotate(choice.owner, candidates),
                }
            }
            Policy::Nearest => {
                if let Some(region) = region() {
                    let local = candidates
                        .iter()
                        .filter(|c| c.region == Some(region))
                        .count();
                    if local > 0 {
                        candidates.retain(|c| c.region == Some(region));
                    }
                }
                self.rotate(choice.owner, candidates);
            }
        }
    }

    fn rotate<T>(&self, owner: &[&str], candidates: &mut [Candidate<'_, T>]) {
        let slot = (hash(owner) as usize) % self.rotations.len();
        let turn = self.rotations[slot].fetch_add(1, Ordering::Relaxed);
        let len = candidates.len();
        candidates.rotate_left(turn % len);
    }

    /// Logs, once per distinct problem, a failover list entry that names no known cluster.
    fn check_failover(&self, choice: &Choice<'_>, list: &[String]) {
        for name in list {
            if choice.clusters.contains_key(name) {
                continue;
            }
            let problem = hash(&(choice.owner, name.as_str()));
            let first_time = match self.warned.lock() {
                Ok(mut warned) => warned.insert(problem),
                Err(poisoned) => poisoned.into_inner().insert(problem),
            };
            if first_time {
                tracing::warn!(
                    name = %choice.owner.join("/"),
                    cluster = name.as_str(),
                    "failover list names a cluster that does not exist; it is skipped"
                );
            }
        }
    }
}

fn hash(value: &(impl Hash + ?Sized)) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Orders by a weighted draw without replacement: each candidate gets the key `ln(u) / w` for
/// a uniform `u`, and the largest keys come first, so a candidate leads with probability
/// proportional to its weight. A zero weight counts as the smallest positive one.
fn weighted_shuffle<T>(candidates: &mut [Candidate<'_, T>]) {
    let mut rng = rand::rng();
    let mut keyed: Vec<(f64, usize)> = candidates
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
            (u.ln() / c.weight.max(1) as f64, index)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Apply the permutation in place: position i takes the candidate keyed[i] names.
    let mut order: Vec<usize> = keyed.into_iter().map(|(_, index)| index).collect();
    for i in 0..order.len() {
        let mut source = order[i];
        while source < i {
            source = order[source];
        }
        candidates.swap(i, source);
        order[i] = source;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates<'s>(names: &[&'s str], weights: &[usize]) -> Vec<Candidate<'s, ()>> {
        names
            .iter()
            .zip(weights)
            .map(|(name, weight)| Candidate {
                name,
                weight: *weight,
                region: None,
                item: &(),
            })
            .collect()
    }

    fn names(candidates: &[Candidate<'_, ()>]) -> Vec<String> {
        candidates.iter().map(|c| c.name.to_owned()).collect()
    }

    #[test]
    fn a_weighted_shuffle_is_a_permutation_favouring_weight() {
        let mut heavy_first = 0;
        for _ in 0..400 {
            let mut list = candidates(&["a", "b", "c", "d"], &[1, 1, 30, 1]);
            weighted_shuffle(&mut list);
            let mut sorted = names(&list);
            sorted.sort();
            assert_eq!(sorted, ["a", "b", "c", "d"]);
            if list[0].name == "c" {
                heavy_first += 1;
            }
        }
        // c leads with probability 30/33; far below that means the weights are ignored.
        assert!(heavy_first > 300, "c led {heavy_first} of 400 draws");
    }

    #[test]
    fn separate_names_rotate_separately() {
        let chooser = Chooser::new();
        let clusters = BTreeMap::new();
        let mut seen = HashSet::new();
        for _ in 0..4 {
            for owner in [&["default", "a"], &["default", "b"]] {
                let mut list = candidates(&["m1", "m2"], &[1, 1]);
                let choice = Choice {
                    owner: owner.as_slice(),
                    clusters: &clusters,
                };
                chooser.order(&Policy::RoundRobin, &choice, || None, &mut list);
                if owner[1] == "a" {
                    seen.insert(names(&list));
                }
            }
        }
        assert_eq!(seen.len(), 2, "default/a saw only {seen:?}");
    }
}
