//! The member's kube-scheduler: watches nodes and pods, binds each pending pod to the best
//! fitting node through `pods/binding`, and marks pods that fit nowhere as unschedulable.
//!
//! One task owns all scheduling state; decisions are made synchronously against the
//! incremental `Cache` (see `fit` for the policy), and only API writes run concurrently, at
//! most `MAX_IN_FLIGHT` at a time. A pod is counted on its node ("assumed") the moment it is
//! chosen, so later decisions never overcommit while its binding and watch event are in flight.

mod cache;
pub mod demand;
pub mod fit;
pub mod node;
mod queue;
mod writes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Api, ResourceExt};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use self::cache::{Cache, PodKey};
use self::demand::Demand;
use self::queue::Queue;
use self::writes::Outcome;
use super::runtime::Context;

/// The `spec.schedulerName` this scheduler serves (an empty name means the same).
pub const SCHEDULER_NAME: &str = "default-scheduler";
/// API writes (bindings, status reports) in flight at once.
const MAX_IN_FLIGHT: usize = 64;
/// Pods decided per turn of the loop before watch events get a chance to be applied.
const BATCH: usize = 256;
/// How soon parked pods are retried after the cluster changed. Coalescing changes keeps a
/// burst of pod deletions from re-running every parked pod once per deletion.
const RETRY_AFTER_CHANGE: Duration = Duration::from_secs(1);
/// Parked pods are retried at least this often even if nothing seemed to change.
const RETRY_ANYWAY: Duration = Duration::from_secs(60);

/// Runs the scheduler until `ctx.cancel` fires, then waits for in-flight writes.
pub async fn run(ctx: Arc<Context>) {
    let (node_store, node_writer) = reflector::store::<Node>();
    let (pod_store, pod_writer) = reflector::store::<Pod>();
    let nodes = watcher(Api::<Node>::all(ctx.client.clone()))
        .reflect(node_writer)
        .boxed();
    let pods = watcher(Api::<Pod>::all(ctx.client.clone()))
        .reflect(pod_writer)
        .boxed();
    let mut scheduler = Scheduler {
        ctx: ctx.clone(),
        node_store,
        pod_store,
        cache: Cache::default(),
        queue: Queue::default(),
        reported: HashMap::new(),
        nodes_synced: false,
        pods_synced: false,
        retry_due: false,
        tasks: JoinSet::new(),
    };
    scheduler.run(nodes, pods).await;
}

fn watcher<K>(api: Api<K>) -> impl Stream<Item = watcher::Result<Event<K>>> + Send
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    kube::runtime::watcher(api, watcher::Config::default()).default_backoff()
}

struct Scheduler {
    ctx: Arc<Context>,
    node_store: Store<Node>,
    pod_store: Store<Pod>,
    cache: Cache,
    queue: Queue,
    /// The last unschedulable message reported per pod, so retries do not repeat it.
    reported: HashMap<PodKey, String>,
    nodes_synced: bool,
    pods_synced: bool,
    /// Something freed capacity or changed a node since parked pods were last retried.
    retry_due: bool,
    tasks: JoinSet<Outcome>,
}

impl Scheduler {
    async fn run(
        &mut self,
        mut nodes: impl Stream<Item = watcher::Result<Event<Node>>> + Unpin,
        mut pods: impl Stream<Item = watcher::Result<Event<Pod>>> + Unpin,
    ) {
        let cancel = self.ctx.cancel.clone();
        let mut tick = tokio::time::interval(RETRY_AFTER_CHANGE);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_full_retry = Instant::now();
        loop {
            // Decide only on a complete picture: before both initial lists are in, free
            // capacity would look larger than it is.
            let can_schedule = self.nodes_synced
                && self.pods_synced
                && self.queue.has_active()
                && self.tasks.len() < MAX_IN_FLIGHT;
            tokio::select! {
                () = cancel.cancelled() => break,
                Some(event) = nodes.next() => match event {
                    Ok(event) => self.on_node(event),
                    Err(e) => tracing::warn!(error = %e, "node watch failed; retrying"),
                },
                Some(event) = pods.next() => match event {
                    Ok(event) => self.on_pod(event),
                    Err(e) => tracing::warn!(error = %e, "pod watch failed; retrying"),
                },
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => match done {
                    Ok(outcome) => self.on_outcome(outcome),
                    Err(e) => tracing::error!(error = %e, "scheduler write task failed"),
                },
                _ = tick.tick() => {
                    if (self.retry_due || last_full_retry.elapsed() >= RETRY_ANYWAY)
                        && self.queue.has_parked()
                    {
                        self.queue.retry_all();
                        last_full_retry = Instant::now();
                    }
                    self.retry_due = false;
                }
                () = std::future::ready(()), if can_schedule => self.schedule_batch(),
            }
        }
        while self.tasks.join_next().await.is_some() {}
    }

    fn on_node(&mut self, event: Event<Node>) {
        match event {
            Event::Apply(node) | Event::InitApply(node) => match self.cache.upsert_node(&node) {
                Ok(changed) => self.retry_due |= changed,
                Err(e) => {
                    tracing::warn!(node = %node.name_any(), error = %e, "ignoring node with invalid allocatable");
                    self.cache.remove_node(&node.name_any());
                }
            },
            Event::Delete(node) => self.cache.remove_node(&node.name_any()),
            Event::Init => {}
            Event::InitDone => {
                // After a relist the store is the truth: drop nodes deleted while we were away.
                for name in self.cache.node_names() {
                    if self.node_store.get(&ObjectRef::new(&name)).is_none() {
                        self.cache.remove_node(&name);
                    }
                }
                self.nodes_synced = true;
                self.retry_due = true;
            }
        }
    }

    fn on_pod(&mut self, event: Event<Pod>) {
        match event {
            Event::Apply(pod) | Event::InitApply(pod) => self.observe(pod),
            Event::Delete(pod) => self.forget(&key_of(&pod)),
            Event::Init => {}
            Event::InitDone => {
                let live: HashSet<PodKey> =
                    self.pod_store.state().iter().map(|p| key_of(p)).collect();
                for key in self
                    .cache
                    .placed_keys()
                    .chain(self.queue.keys())
                    .collect::<Vec<_>>()
                {
                    if !live.contains(&key) {
                        self.forget(&key);
                    }
                }
                self.pods_synced = true;
            }
        }
    }

    /// Accounts a pod the watch reports: bound pods take capacity, finished ones free it,
    /// pending ones of ours join the queue.
    fn observe(&mut self, pod: Pod) {
        let key = key_of(&pod);
        let finished = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty());
        if let Some(node) = node {
            self.queue.remove(&key);
            self.reported.remove(&key);
            if finished {
                self.retry_due |= self.cache.unplace(&key);
                return;
            }
            match Demand::of(&pod) {
                Ok(demand) => self.cache.confirm(&key, node, demand),
                Err(e) => {
                    tracing::warn!(pod = %key, error = %e, "bound pod has invalid requests; not counted");
                }
            }
            return;
        }
        if self.cache.is_placed(&key) {
            return; // Our binding is in flight; this event predates it.
        }
        if finished || pod.metadata.deletion_timestamp.is_some() || !is_ours(&pod) {
            self.queue.remove(&key);
            self.reported.remove(&key);
            return;
        }
        // Share the store's copy rather than keeping a second one per pending pod.
        let pod = self
            .pod_store
            .get(&ObjectRef::from_obj(&pod))
            .unwrap_or_else(|| Arc::new(pod));
        self.queue.upsert(&key, pod);
    }

    fn forget(&mut self, key: &str) {
        self.queue.remove(key);
        self.reported.remove(key);
        self.retry_due |= self.cache.unplace(key);
    }

    /// Decides for up to `BATCH` queued pods and starts the writes that carry the decisions out.
    fn schedule_batch(&mut self) {
        for _ in 0..BATCH {
            if self.tasks.len() >= MAX_IN_FLIGHT {
                break;
            }
            let Some((key, pod)) = self.queue.pop() else {
                break;
            };
            let demand = match Demand::of(&pod) {
                Ok(demand) => demand,
                Err(e) => {
                    self.queue.park(&key);
                    self.report(key, pod, e.to_string());
                    continue;
                }
            };
            match self.cache.schedule(&pod, &demand) {
                Ok(node) => {
                    let node = node.name.clone();
                    self.cache.place(&key, &node, demand, true);
                    self.reported.remove(&key);
                    let writer = self.writer();
                    self.tasks.spawn(writer.bind(key, pod, node));
                }
                Err(unfit) => {
                    self.queue.park(&key);
                    self.report(key, pod, unfit.to_string());
                }
            }
        }
    }

    /// Tells the user why `pod` waits, once per distinct reason.
    fn report(&mut self, key: PodKey, pod: Arc<Pod>, message: String) {
        if self.reported.get(&key) == Some(&message) {
            return;
        }
        self.reported.insert(key.clone(), message.clone());
        if writes::condition_says(&pod, &message) {
            return; // Reported before a restart of ours.
        }
        let writer = self.writer();
        self.tasks.spawn(writer.report(key, pod, message));
    }

    fn writer(&self) -> writes::Writer {
        writes::Writer {
            client: self.ctx.client.clone(),
            reporter: self.ctx.reporter.clone(),
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Bound {
                key,
                result: Ok(()),
            } => self.queue.remove(&key),
            Outcome::Bound {
                key,
                result: Err(e),
            } => {
                tracing::warn!(error = %e, "binding failed; will retry");
                self.cache.forget(&key);
                self.queue.park(&key);
                self.retry_due = true;
            }
            Outcome::Reported { result: Ok(()), .. } => {}
            Outcome::Reported {
                key,
                result: Err(e),
            } => {
                tracing::warn!(error = %e, "reporting an unschedulable pod failed");
                self.reported.remove(&key);
            }
        }
    }
}

fn key_of(pod: &Pod) -> PodKey {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

fn is_ours(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .is_none_or(|n| n.is_empty() || n == SCHEDULER_NAME)
}
