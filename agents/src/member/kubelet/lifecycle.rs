//! The pod side of the simulated kubelets: one watch over all pods, the ones bound to our nodes
//! played through start, readiness, completion and termination by one timer queue, with status
//! writes and deletes issued a bounded number at a time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{Future, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, ResourceExt};
use tokio::time::Instant;

use super::ipam::Pool;
use super::node::Identity;
use super::pod::{self, Runtime, Stage};
use super::timers::{Due, Timers};
use super::{Config, is_status};
use crate::member::runtime::Context;

/// Status writes and deletes in flight at once.
const IN_FLIGHT: usize = 64;
/// Deleted pods' containers stop at once; the grace period is cut to at most this.
const MAX_GRACE: Duration = Duration::from_secs(1);
/// Pause before retrying a failed write.
const RETRY: Duration = Duration::from_secs(1);

/// Where a tracked pod stands.
#[derive(Debug)]
enum Life {
    /// Bound to us but no pod IP could be allocated yet.
    Waiting,
    /// Running (or finished) under our control.
    Live { runtime: Runtime, holds_ip: bool },
    /// Finished before we first saw it; nothing left to report.
    Settled,
}

#[derive(Debug)]
struct Tracked {
    uid: String,
    node: usize,
    /// The newest version seen, from the watch or a write's response.
    pod: Pod,
    life: Life,
    deleting: bool,
    queued: bool,
    writing: bool,
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Status,
    Delete,
}

type Outcome = (String, Job, Result<Option<Pod>, kube::Error>);
type Write = Pin<Box<dyn Future<Output = Outcome> + Send>>;

struct Kubelet {
    config: Arc<Config>,
    nodes: Arc<Vec<Identity>>,
    by_name: HashMap<String, usize>,
    pools: Vec<Pool>,
    pods: HashMap<String, Tracked>,
    timers: Timers,
    queue: VecDeque<(String, Job)>,
    relisted: Option<HashSet<String>>,
}

fn key_of(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

fn resource_version(pod: &Pod) -> Option<u64> {
    pod.resource_version().and_then(|rv| rv.parse().ok())
}

/// Whether `candidate` is at least as new as `current` (unknown versions count as newer).
fn newer(candidate: &Pod, current: &Pod) -> bool {
    match (resource_version(candidate), resource_version(current)) {
        (Some(a), Some(b)) => a >= b,
        _ => true,
    }
}

fn host_network(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.host_network) == Some(true)
}

/// Runs until cancelled.
pub async fn run(ctx: Arc<Context>, config: Arc<Config>, nodes: Arc<Vec<Identity>>) {
    let mut kubelet = Kubelet {
        by_name: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect(),
        pools: nodes.iter().map(|n| Pool::new(n.subnet)).collect(),
        config,
        nodes,
        pods: HashMap::new(),
        timers: Timers::default(),
        queue: VecDeque::new(),
        relisted: None,
    };
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut writes: FuturesUnordered<Write> = FuturesUnordered::new();
    loop {
        let next_timer = kubelet.timers.next();
        tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            event = events.next() => match event {
                Some(Ok(event)) => kubelet.on_event(event),
                Some(Err(error)) => tracing::warn!(%error, "pod watch failed; retrying"),
                None => break,
            },
            _ = tokio::time::sleep_until(next_timer.unwrap_or_else(Instant::now)), if next_timer.is_some() => {
                kubelet.on_timers(Instant::now());
            }
            Some(outcome) = writes.next(), if !writes.is_empty() => kubelet.on_written(outcome),
        }
        while writes.len() < IN_FLIGHT {
            let Some((key, job)) = kubelet.queue.pop_front() else {
                break;
            };
            if let Some(write) = kubelet.start(&ctx, key, job) {
                writes.push(write);
            }
        }
    }
    // Let in-flight writes land so the apiserver sees what we decided.
    while writes.next().await.is_some() {}
}

impl Kubelet {
    fn on_event(&mut self, event: Event<Pod>) {
        match event {
            Event::Apply(pod) => self.on_pod(pod),
            Event::Delete(pod) => self.forget(&key_of(&pod)),
            Event::Init => self.relisted = Some(HashSet::new()),
            Event::InitApply(pod) => {
                if let Some(seen) = self.relisted.as_mut() {
                    seen.insert(key_of(&pod));
                }
                self.on_pod(pod);
            }
            Event::InitDone => {
                // Pods deleted while the watch was down never sent a Delete.
                if let Some(seen) = self.relisted.take() {
                    let gone: Vec<String> = self
                        .pods
                        .keys()
                        .filter(|k| !seen.contains(*k))
                        .cloned()
                        .collect();
                    for key in gone {
                        self.forget(&key);
                    }
                }
            }
        }
    }

    fn forget(&mut self, key: &str) {
        if let Some(tracked) = self.pods.remove(key) {
            self.release(tracked.node, &tracked.life);
        }
    }

    fn release(&mut self, node: usize, life: &Life) {
        if let Life::Live {
            runtime,
            holds_ip: true,
        } = life
        {
            self.pools[node].release(runtime.pod_ip);
        }
    }

    fn on_pod(&mut self, pod: Pod) {
        let Some(&node) = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .and_then(|n| self.by_name.get(n))
        else {
            return;
        };
        let key = key_of(&pod);
        let uid = pod.uid().unwrap_or_default();
        if self.pods.get(&key).is_some_and(|t| t.uid != uid) {
            // Same name, new pod: the old one is gone.
            self.forget(&key);
        }
        let tracked = self.pods.entry(key.clone()).or_insert_with(|| Tracked {
            uid: uid.clone(),
            node,
            pod: pod.clone(),
            life: Life::Waiting,
            deleting: false,
            queued: false,
            writing: false,
        });
        if newer(&pod, &tracked.pod) {
            tracked.pod = pod;
        }
        let now = Instant::now();
        if tracked.pod.metadata.deletion_timestamp.is_some() {
            if !tracked.deleting {
                tracked.deleting = true;
                let grace = tracked
                    .pod
                    .metadata
                    .deletion_grace_period_seconds
                    .unwrap_or(0)
                    .max(0) as u64;
                let wait = Duration::from_secs(grace).min(MAX_GRACE);
                self.timers.push(now + wait, &key, &uid, Due::Remove);
            }
            return;
        }
        if matches!(tracked.life, Life::Waiting) {
            self.start_pod(&key, now);
        }
        self.enqueue_status(&key);
    }

    /// Gives a newly seen pod its IP and timers, adopting what an earlier run already reported.
    fn start_pod(&mut self, key: &str, now: Instant) {
        let Some(tracked) = self.pods.get_mut(key) else {
            return;
        };
        let status = tracked.pod.status.clone().unwrap_or_default();
        if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
            tracked.life = Life::Settled;
            return;
        }
        let host_ip = self.nodes[tracked.node].ip;
        let pool = &mut self.pools[tracked.node];
        let previous = status
            .pod_ip
            .as_deref()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
        let adopted = status.phase.as_deref() == Some("Running") && previous.is_some();
        let (pod_ip, holds_ip) = if host_network(&tracked.pod) {
            (host_ip, false)
        } else if let Some(ip) = previous.filter(|ip| adopted && pool.reserve(*ip)) {
            (ip, true)
        } else if let Some(ip) = pool.allocate() {
            (ip, true)
        } else {
            tracing::warn!(pod = %key, node = %self.nodes[tracked.node].name, "no free pod IP on the node; the pod stays Pending");
            return;
        };
        let wall = Timestamp::now();
        let started = status
            .start_time
            .as_ref()
            .map(|t| t.0)
            .filter(|_| adopted)
            .unwrap_or(wall);
        // Time already spent before an adoption counts toward the delays.
        let age = Duration::try_from(wall.duration_since(started)).unwrap_or_default();
        let since = now.checked_sub(age).unwrap_or(now);
        let ready_at = since + self.config.ready_delay;
        let stage = if ready_at <= now {
            Stage::Running
        } else {
            Stage::Starting
        };
        if stage == Stage::Starting {
            self.timers.push(ready_at, key, &tracked.uid, Due::Ready);
        }
        if let Some(duration) = pod::run_duration(&tracked.pod, self.config.job_duration) {
            self.timers
                .push(since + duration, key, &tracked.uid, Due::Finish);
        }
        tracked.life = Life::Live {
            runtime: Runtime {
                host_ip,
                pod_ip,
                started,
                stage,
                finished: None,
            },
            holds_ip,
        };
    }

    fn on_timers(&mut self, now: Instant) {
        for timer in self.timers.pop_due(now) {
            let Some(tracked) = self.pods.get_mut(&timer.key).filter(|t| t.uid == timer.uid) else {
                continue;
            };
            match timer.due {
                Due::Ready => {
                    if let Life::Live { runtime, .. } = &mut tracked.life
                        && runtime.stage == Stage::Starting
                    {
                        runtime.stage = Stage::Running;
                    }
                    self.enqueue_status(&timer.key);
                }
                Due::Finish => {
                    if tracked.deleting {
                        continue;
                    }
                    let node = tracked.node;
                    let released = match &mut tracked.life {
                        Life::Live { runtime, holds_ip }
                            if matches!(runtime.stage, Stage::Starting | Stage::Running) =>
                        {
                            runtime.stage = Stage::on_exit(&tracked.pod);
                            runtime.finished = Some(Timestamp::now());
                            // The sandbox is torn down with the containers for good; a
                            // crash-looping pod keeps it, and its IP.
                            (runtime.stage.is_final() && std::mem::take(holds_ip))
                                .then_some(runtime.pod_ip)
                        }
                        _ => None,
                    };
                    if let Some(ip) = released {
                        self.pools[node].release(ip);
                    }
                    self.enqueue_status(&timer.key);
                }
                Due::Remove => self.queue.push_back((timer.key, Job::Delete)),
                Due::Retry => self.enqueue_status(&timer.key),
            }
        }
    }

    fn enqueue_status(&mut self, key: &str) {
        if let Some(tracked) = self.pods.get_mut(key)
            && !tracked.queued
            && !tracked.writing
            && !tracked.deleting
            && needs_write(tracked)
        {
            tracked.queued = true;
            self.queue.push_back((key.to_string(), Job::Status));
        }
    }

    /// Builds the request for a queued job, or nothing when it is no longer needed.
    fn start(&mut self, ctx: &Context, key: String, job: Job) -> Option<Write> {
        let tracked = self.pods.get_mut(&key)?;
        let (namespace, name) = key.split_once('/')?;
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
        let name = name.to_string();
        match job {
            Job::Status => {
                tracked.queued = false;
                if tracked.deleting || !needs_write(tracked) {
                    return None;
                }
                let Life::Live { runtime, .. } = &tracked.life else {
                    return None;
                };
                let body = pod::status_patch(&tracked.pod, runtime, Timestamp::now());
                tracked.writing = true;
                Some(Box::pin(async move {
                    let result = api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
                        .await;
                    (key, job, result.map(Some))
                }))
            }
            Job::Delete => {
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions {
                        uid: Some(tracked.uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                Some(Box::pin(async move {
                    let result = api.delete(&name, &params).await;
                    (key, job, result.map(|_| None))
                }))
            }
        }
    }

    fn on_written(&mut self, (key, job, result): Outcome) {
        let Some(tracked) = self.pods.get_mut(&key) else {
            return;
        };
        let uid = tracked.uid.clone();
        match (job, result) {
            (Job::Status, Ok(pod)) => {
                tracked.writing = false;
                if let Some(pod) = pod
                    .filter(|p| p.uid().as_deref() == Some(uid.as_str()) && newer(p, &tracked.pod))
                {
                    tracked.pod = pod;
                }
                // Anything that changed while the write was in flight (say the unready
                // annotation) is caught up now.
                self.enqueue_status(&key);
            }
            (Job::Status, Err(error)) => {
                tracked.writing = false;
                if !is_status(&error, 404) {
                    tracing::debug!(pod = %key, %error, "pod status write failed; retrying");
                    self.timers
                        .push(Instant::now() + RETRY, &key, &uid, Due::Retry);
                }
            }
            (Job::Delete, Ok(_)) => {}
            // 404: already gone; 409: a precondition failed because a new pod took the name.
            (Job::Delete, Err(error)) if is_status(&error, 404) || is_status(&error, 409) => {}
            (Job::Delete, Err(error)) => {
                tracing::debug!(pod = %key, %error, "pod delete failed; retrying");
                self.timers
                    .push(Instant::now() + RETRY, &key, &uid, Due::Remove);
            }
        }
    }
}

fn needs_write(tracked: &Tracked) -> bool {
    match &tracked.life {
        Life::Live { runtime, .. } => {
            pod::observed(&tracked.pod) != pod::desired(&tracked.pod, runtime)
        }
        _ => false,
    }
}
