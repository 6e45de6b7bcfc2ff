//! The scheduling queue shared by the watches (which fill it), cluster changes (which release
//! unschedulable bindings) and the workers (which drain it), with the bindings as last seen.

use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding, ResourceBindingSpec};
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::queue::{self, Queue};

/// A binding in the shared queue; both kinds share one priority order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Namespaced(ObjectRef<ResourceBinding>),
    Cluster(ObjectRef<ClusterResourceBinding>),
}

/// The queue, filled by the watches and the cluster changes and drained by the workers, with
/// the bindings as last seen.
pub(super) struct Shared {
    pub(super) queue: Mutex<Queue<Key>>,
    /// Rung whenever the queue changes, so idle workers look again.
    pub(super) changed: Notify,
    pub(super) namespaced: Store<ResourceBinding>,
    pub(super) cluster: Store<ClusterResourceBinding>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Queue<Key>> {
        // The lock is held only for queue calls, which do not await; if one ever panicked,
        // the other workers carry on with the queue as it was left rather than stop.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn add(&self, key: Key, spec: &ResourceBindingSpec) {
        self.lock().add(key, priority(spec), Instant::now());
        self.changed.notify_waiters();
    }

    /// A cluster changed: every binding, unschedulable ones first, gets another look.
    pub(super) fn requeue_all(&self) {
        let now = Instant::now();
        let mut queue = self.lock();
        queue.move_all_unschedulable(now);
        for binding in self.namespaced.state() {
            let key = Key::Namespaced(ObjectRef::from_obj(&*binding));
            queue.add(key, priority(&binding.spec), now);
        }
        for binding in self.cluster.state() {
            let key = Key::Cluster(ObjectRef::from_obj(&*binding));
            queue.add(key, priority(&binding.spec), now);
        }
        tracing::debug!(
            queued = queue.len(),
            "scheduler: a cluster changed; re-examining bindings"
        );
        drop(queue);
        self.changed.notify_waiters();
    }

    /// The next binding to schedule, waiting for one to be added or come due; `None` once
    /// `cancel` fires.
    pub(super) async fn next(&self, cancel: &CancellationToken) -> Option<Key> {
        loop {
            // Registered before looking, so a change between the look and the wait still
            // wakes this worker.
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            if cancel.is_cancelled() {
                return None;
            }
            let wakeup = {
                let mut queue = self.lock();
                if let Some(key) = queue.pop(Instant::now()) {
                    return Some(key);
                }
                queue.next_wakeup()
            };
            let due = async {
                match wakeup {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = changed => {}
                () = due => {}
                () = cancel.cancelled() => return None,
            }
        }
    }

    pub(super) fn done(&self, key: &Key, outcome: queue::Outcome) -> Option<Duration> {
        let wait = self.lock().done(key, outcome, Instant::now());
        // The key may be active again, or wait less than what idle workers sleep for.
        self.changed.notify_waiters();
        wait
    }
}

/// Karmada's `spec.schedulePriority.priority`; absent is 0.
pub(super) fn priority(spec: &ResourceBindingSpec) -> i32 {
    spec.schedule_priority
        .as_ref()
        .and_then(|p| p.priority)
        .unwrap_or(0)
}
