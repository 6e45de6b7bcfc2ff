//! Karmada's scheduling queue without I/O or clocks: bindings wait in priority order, failed
//! cycles back off per binding, and bindings that fit nowhere park until a cluster changes.
//!
//! Every key is in exactly one place: active (ready, ordered by priority, higher first, then
//! by when it became ready), backoff (a failed cycle, waiting out a per-key delay that doubles
//! with each failure in a row), unschedulable (no cluster could take it; released all at once
//! by a cluster change, or each after a timeout), or processing (popped by a worker). A key
//! added while it is processing is marked dirty and becomes active again when its cycle ends,
//! whatever the cycle's outcome: the binding changed under the cycle, so its verdict is stale.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How a scheduling cycle of a popped key ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Scheduled, settled or gone: nothing to retry.
    Done,
    /// The cycle failed; try again after the key's backoff.
    Retry,
    /// No cluster could take the binding; wait for a cluster change or the timeout.
    Unschedulable,
}

/// The queue's delays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The wait after a first failure; each further failure in a row doubles it.
    pub backoff_first: Duration,
    /// The longest wait after failures.
    pub backoff_max: Duration,
    /// How long an unschedulable key waits when no cluster changes.
    pub unschedulable_timeout: Duration,
}

/// Position in the active queue: higher priority first, then earlier, then first added.
type Rank = (Reverse<i32>, Instant, u64);

/// Position in a timed queue: when the key leaves it, then first added.
type Due = (Instant, u64);

#[derive(Clone, Copy, Debug)]
enum Place {
    Active(Rank),
    Backoff,
    Unschedulable(Due),
    Processing {
        /// Added again during the cycle.
        dirty: bool,
        /// A cluster changed during the cycle, so an Unschedulable verdict may be stale.
        clusters_changed: bool,
    },
}

#[derive(Debug)]
struct Entry {
    priority: i32,
    /// Failed cycles in a row.
    failures: u32,
    place: Place,
}

/// A scheduling queue of keys `K` (one per binding).
#[derive(Debug)]
pub struct Queue<K> {
    timing: Timing,
    /// Breaks ties between keys queued at the same instant, first come first.
    sequence: u64,
    entries: HashMap<K, Entry>,
    active: BTreeMap<Rank, K>,
    backoff: BTreeMap<Due, K>,
    unschedulable: BTreeMap<Due, K>,
}

impl<K: Clone + Eq + Hash> Queue<K> {
    pub fn new(timing: Timing) -> Self {
        Queue {
            timing,
            sequence: 0,
            entries: HashMap::new(),
            active: BTreeMap::new(),
            backoff: BTreeMap::new(),
            unschedulable: BTreeMap::new(),
        }
    }

    /// Queues `key` with `priority`, or updates a queued key: an active key moves to its new
    /// priority keeping its place in time, a backing-off key keeps waiting, an unschedulable
    /// key becomes active (the binding changed, so it may fit now), and a processing key is
    /// marked dirty.
    pub fn add(&mut self, key: K, priority: i32, now: Instant) {
        let Some(entry) = self.entries.get_mut(&key) else {
            let rank = self.rank(priority, now);
            self.active.insert(rank, key.clone());
            self.entries.insert(
                key,
                Entry {
                    priority,
                    failures: 0,
                    place: Place::Active(rank),
                },
            );
            return;
        };
        entry.priority = priority;
        match entry.place {
            Place::Active(old) => {
                let rank = (Reverse(priority), old.1, old.2);
                if let Some(key) = self.active.remove(&old) {
                    self.active.insert(rank, key);
                }
                entry.place = Place::Active(rank);
            }
            Place::Backoff => {}
            Place::Unschedulable(due) => {
                self.unschedulable.remove(&due);
                self.activate(&key, now);
            }
            Place::Processing {
                clusters_changed, ..
            } => {
                entry.place = Place::Processing {
                    dirty: true,
                    clusters_changed,
                };
            }
        }
    }

    /// Takes the highest-priority, earliest active key after releasing what is due at `now`
    /// (see [`Queue::flush`]), and marks it processing until [`Queue::done`].
    pub fn pop(&mut self, now: Instant) -> Option<K> {
        self.flush(now);
        let (_, key) = self.active.pop_first()?;
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.place = Place::Processing {
                dirty: false,
                clusters_changed: false,
            };
        }
        Some(key)
    }

    /// Ends the cycle of a processing `key` and returns how long the key now waits, if it
    /// waits. Done forgets the key and its failures; Retry backs it off; Unschedulable parks
    /// it. A key added or released by a cluster change during the cycle is active at once
    /// instead. Keys not processing are left alone.
    pub fn done(&mut self, key: &K, outcome: Outcome, now: Instant) -> Option<Duration> {
        let entry = self.entries.get_mut(key)?;
        let Place::Processing {
            dirty,
            clusters_changed,
        } = entry.place
        else {
            return None;
        };
        match outcome {
            Outcome::Done | Outcome::Unschedulable => entry.failures = 0,
            Outcome::Retry => entry.failures = entry.failures.saturating_add(1),
        }
        let stale = dirty || (outcome == Outcome::Unschedulable && clusters_changed);
        if stale {
            self.activate(key, now);
            return None;
        }
        match outcome {
            Outcome::Done => {
                self.entries.remove(key);
                None
            }
            Outcome::Retry => {
                let delay = self
                    .timing
                    .backoff_first
                    .saturating_mul(2_u32.saturating_pow(entry.failures - 1))
                    .min(self.timing.backoff_max);
                let due = self.due(now + delay);
                self.backoff.insert(due, key.clone());
                self.place(key, Place::Backoff);
                Some(delay)
            }
            Outcome::Unschedulable => {
                let wait = self.timing.unschedulable_timeout;
                let due = self.due(now + wait);
                self.unschedulable.insert(due, key.clone());
                self.place(key, Place::Unschedulable(due));
                Some(wait)
            }
        }
    }

    /// A cluster changed: every unschedulable key becomes active, and an Unschedulable verdict
    /// of a cycle under way no longer parks its key.
    pub fn move_all_unschedulable(&mut self, now: Instant) {
        for (_, key) in std::mem::take(&mut self.unschedulable) {
            self.activate(&key, now);
        }
        for entry in self.entries.values_mut() {
            if let Place::Processing { dirty, .. } = entry.place {
                entry.place = Place::Processing {
                    dirty,
                    clusters_changed: true,
                };
            }
        }
    }

    /// When the next backing-off or unschedulable key is due, if any waits.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let backoff = self.backoff.keys().next().map(|due| due.0);
        let unschedulable = self.unschedulable.keys().next().map(|due| due.0);
        backoff.into_iter().chain(unschedulable).min()
    }

    /// Makes active every backing-off key whose delay has passed and every unschedulable key
    /// whose timeout has, ranked by when each became due.
    pub fn flush(&mut self, now: Instant) {
        // `split_off` keeps what is due (at or before `now`) and returns the rest.
        let cut = (now, u64::MAX);
        let waiting_backoff = self.backoff.split_off(&cut);
        let waiting_unschedulable = self.unschedulable.split_off(&cut);
        let due_backoff = std::mem::replace(&mut self.backoff, waiting_backoff);
        let due_unschedulable = std::mem::replace(&mut self.unschedulable, waiting_unschedulable);
        for ((at, _), key) in due_backoff.into_iter().chain(due_unschedulable) {
            self.activate(&key, at);
        }
    }

    /// Keys in the queue, processing ones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Puts a known key, already out of the timed queues, into the active queue as of `at`.
    fn activate(&mut self, key: &K, at: Instant) {
        let Some(priority) = self.entries.get(key).map(|e| e.priority) else {
            return;
        };
        let rank = self.rank(priority, at);
        self.active.insert(rank, key.clone());
        self.place(key, Place::Active(rank));
    }

    fn place(&mut self, key: &K, place: Place) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.place = place;
        }
    }

    fn rank(&mut self, priority: i32, at: Instant) -> Rank {
        self.sequence += 1;
        (Reverse(priority), at, self.sequence)
    }

    fn due(&mut self, at: Instant) -> Due {
        self.sequence += 1;
        (at, self.sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: Timing = Timing {
        backoff_first: Duration::from_secs(1),
        backoff_max: Duration::from_secs(10),
        unschedulable_timeout: Duration::from_secs(30),
    };

    /// Keys with their priorities, in the order they are added.
    type Adds = &'static [(&'static str, i32)];

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Pops everything ready at `now`, finishing each with Done.
    fn drain(queue: &mut Queue<&'static str>, now: Instant) -> Vec<&'static str> {
        let mut order = Vec::new();
        while let Some(key) = queue.pop(now) {
            queue.done(&key, Outcome::Done, now);
            order.push(key);
        }
        order
    }

    #[test]
    fn active_keys_pop_by_priority_then_arrival() {
        let cases: [(Adds, &[&str]); 4] = [
            (&[("a", 0), ("b", 10), ("c", 5)], &["b", "c", "a"]),
            (&[("a", 1), ("b", 1), ("c", 1)], &["a", "b", "c"]),
            (
                &[("low", -3), ("none", 0), ("high", 7), ("none2", 0)],
                &["high", "none", "none2", "low"],
            ),
            (&[("a", 0), ("a", 0), ("b", 0), ("a", 0)], &["a", "b"]),
        ];
        for (adds, want) in cases {
            let t0 = Instant::now();
            let mut queue = Queue::new(TIMING);
            for (i, (key, priority)) in adds.iter().enumerate() {
                queue.add(*key, *priority, t0 + Duration::from_millis(i as u64));
            }
            assert_eq!(drain(&mut queue, t0 + secs(1)), want, "{adds:?}");
            assert_eq!(queue.len(), 0);
        }
    }

    #[test]
    fn a_priority_change_while_queued_takes_effect() {
        let t0 = Instant::now();
        let mut queue = Queue::new(TIMING);
        queue.add("a", 0, t0);
        queue.add("b", 5, t0 + secs(1));
        queue.add("c", 0, t0 + secs(2));
        queue.add("c", 9, t0 + secs(3));
        queue.add("b", 0, t0 + secs(4));
        // b keeps its arrival at 1 s, after a at 0 s.
        assert_eq!(drain(&mut queue, t0 + secs(5)), ["c", "a", "b"]);
    }

    #[test]
    fn a_key_added_while_processing_comes_back_once_after_its_cycle() {
        for outcome in [Outcome::Done, Outcome::Retry, Outcome::Unschedulable] {
            let t0 = Instant::now();
            let mut queue = Queue::new(TIMING);
            queue.add("a", 0, t0);
            assert_eq!(queue.pop(t0), Some("a"));
            queue.add("a", 3, t0);
            queue.add("a", 3, t0);
            assert_eq!(
                queue.pop(t0),
                None,
                "processing keys are not handed out twice"
            );
            assert_eq!(queue.done(&"a", outcome, t0), None, "{outcome:?}");
            assert_eq!(queue.pop(t0), Some("a"), "{outcome:?}");
            assert_eq!(queue.pop(t0), None, "{outcome:?}");
            assert_eq!(queue.len(), 1);
        }
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_ceiling_and_reset_on_success() {
        let t0 = Instant::now();
        let mut queue = Queue::new(TIMING);
        let mut now = t0;
        queue.add("a", 0, now);
        let mut delays = Vec::new();
        for _ in 0..6 {
            let key = queue.pop(now).expect("a is due");
            let delay = queue.done(&key, Outcome::Retry, now).expect("a backs off");
            assert_eq!(queue.next_wakeup(), Some(now + delay));
            assert_eq!(queue.pop(now + delay - Duration::from_millis(1)), None);
            now += delay;
            delays.push(delay.as_secs());
        }
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);

        let key = queue.pop(now).expect("a is due");
        queue.done(&key, Outcome::Done, now);
        assert_eq!(queue.len(), 0);
        queue.add("a", 0, now);
        let key = queue.pop(now).expect("a is active");
        assert_eq!(queue.done(&key, Outcome::Retry, now), Some(secs(1)));
    }

    #[test]
    fn an_add_does_not_cut_a_backoff_short() {
        let t0 = Instant::now();
        let mut queue = Queue::new(TIMING);
        queue.add("a", 0, t0);
        queue.pop(t0);
        queue.done(&"a", Outcome::Retry, t0);
        queue.add("a", 4, t0);
        queue.add("b", 1, t0);
        assert_eq!(drain(&mut queue, t0), ["b"]);
        assert_eq!(drain(&mut queue, t0 + secs(1)), ["a"]);
    }

    #[test]
    fn unschedulable_keys_wait_for_a_cluster_change_or_the_timeout() {
        let t0 = Instant::now();
        let mut queue = Queue::new(TIMING);
        for key in ["a", "b"] {
            queue.add(key, 0, t0);
            let popped = queue.pop(t0).expect("active");
            assert_eq!(
                queue.done(&popped, Outcome::Unschedulable, t0),
                Some(secs(30))
            );
        }
        assert_eq!(queue.next_wakeup(), Some(t0 + secs(30)));
        assert_eq!(queue.pop(t0 + secs(29)), None);
        queue.move_all_unschedulable(t0 + secs(29));
        assert_eq!(queue.next_wakeup(), None);
        assert_eq!(drain(&mut queue, t0 + secs(29)), ["a", "b"]);

        queue.add("c", 0, t0);
        queue.pop(t0);
        queue.done(&"c", Outcome::Unschedulable, t0);
        assert_eq!(queue.pop(t0 + secs(29)), None);
        assert_eq!(queue.pop(t0 + secs(30)), Some("c"), "timed out");
    }

    #[test]
    fn a_change_to_an_unschedulable_binding_makes_it_active() {
        let t0 = Instant::now();
        let mut queue = Queue::new(TIMING);
        queue.add("a", 0, t0);
        queue.pop(t0);
        queue.done(&"a", Outcome::Unschedulable, t0);
        queue.add("a", 0, t0 + secs(1));
        assert_eq!(queue.next_wakeup(), None);
        assert_eq!(queue.pop(t0 + secs(1)), Some("a"));
    }

    #[test]
    fn a_cluster_change_during_a_cycle_voids_only_an_unschedulable_verdict() {
        let cases = [
            (Outcome::Unschedulable, true),
            (Outcome::Retry, false),
            (Outcome::Done, false),
        ];
        for (outcome, again) in cases {
            let t0 = Instant::now();
            let mut queue = Queue::new(TIMING);
            queue.add("a", 0, t0);
            queue.pop(t0);
            queue.move_all_unschedulable(t0);
            queue.done(&"a", outcome, t0);
            assert_eq!(queue.pop(t0).is_some(), again, "{outcome:?}");
        }
    }

    #[test]
    fn released_keys_rank_by_priority_then_by_when_they_became_due() {
        let t0 = Instant::now();
        let mut queue = Queue::new(TIMING);
        for (key, priority) in [("slow", 0), ("fast", 0), ("urgent", 5)] {
            queue.add(key, priority, t0);
        }
        assert_eq!(queue.pop(t0), Some("urgent"));
        queue.done(&"urgent", Outcome::Unschedulable, t0);
        assert_eq!(queue.pop(t0), Some("slow"));
        queue.done(&"slow", Outcome::Retry, t0);
        assert_eq!(queue.pop(t0), Some("fast"));
        assert_eq!(queue.pop(t0 + secs(1)), Some("slow"));
        // slow's second failure in a row waits 2 s (due at 3 s), fast's first 1 s (at 2 s).
        queue.done(&"slow", Outcome::Retry, t0 + secs(1));
        queue.done(&"fast", Outcome::Retry, t0 + secs(1));
        queue.add("late", 0, t0 + secs(40));
        assert_eq!(
            drain(&mut queue, t0 + secs(40)),
            ["urgent", "fast", "slow", "late"]
        );
    }

    #[test]
    fn done_ignores_keys_that_are_not_processing() {
        let t0 = Instant::now();
        let mut queue = Queue::new(TIMING);
        queue.add("a", 0, t0);
        assert_eq!(queue.done(&"a", Outcome::Retry, t0), None);
        assert_eq!(queue.done(&"b", Outcome::Done, t0), None);
        assert_eq!(queue.pop(t0), Some("a"));
    }
}
