//! One deadline queue for every pod's pending transition, so 10,000 pods need no task each.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use tokio::time::Instant;

/// The transitions a pod waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The ready delay has passed.
    Ready,
    /// The containers' run duration has passed.
    Finish,
    /// The shortened grace period of a deleted pod has passed.
    Remove,
    /// A failed status write is worth another try.
    Retry,
}

/// A pending transition of the pod `key` (namespace/name) with `uid`; a timer whose pod was
/// replaced or removed meanwhile is simply ignored when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub at: Instant,
    seq: u64,
    pub key: String,
    pub uid: String,
    pub due: Due,
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Timers ordered by deadline, then by insertion.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
    seq: u64,
}

impl Timers {
    pub fn push(&mut self, at: Instant, key: &str, uid: &str, due: Due) {
        self.seq += 1;
        self.heap.push(Reverse(Timer {
            at,
            seq: self.seq,
            key: key.to_string(),
            uid: uid.to_string(),
            due,
        }));
    }

    /// The earliest deadline, if any timer is pending.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|t| t.0.at)
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn pop_due(&mut self, now: Instant) -> Vec<Timer> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|t| t.0.at <= now) {
            if let Some(Reverse(timer)) = self.heap.pop() {
                due.push(timer);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_deadline_then_insertion_order() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.push(t0 + Duration::from_secs(5), "ns/c", "3", Due::Finish);
        timers.push(t0 + Duration::from_secs(1), "ns/a", "1", Due::Ready);
        timers.push(t0 + Duration::from_secs(1), "ns/b", "2", Due::Remove);
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(1)));
        assert!(timers.pop_due(t0).is_empty());
        let fired: Vec<(String, Due)> = timers
            .pop_due(t0 + Duration::from_secs(2))
            .into_iter()
            .map(|t| (t.key, t.due))
            .collect();
        assert_eq!(
            fired,
            [("ns/a".into(), Due::Ready), ("ns/b".into(), Due::Remove)]
        );
        assert_eq!(timers.pop_due(t0 + Duration::from_secs(9)).len(), 1);
        assert!(timers.next().is_none());
    }
}
