//! The control plane's side of Push clusters: for every Cluster in Push mode it builds a client
//! of the member from the Secret the Cluster's `secretRef` names, then runs the same heartbeat,
//! status and Work execution a pull agent runs for its own cluster.

pub mod credentials;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use karmada_api::cluster::{Cluster, ClusterSyncMode};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::agent::cluster::{self, Registration, status};
use crate::agent::execution;
use credentials::Credentials;

/// How the control plane serves Push clusters.
#[derive(Clone)]
pub struct Config {
    pub federation: Client,
    /// Heartbeat and status periods, as a pull agent's (`name` and endpoint are ignored).
    pub periods: Registration,
    /// How often every Push cluster's Secret is re-read, so rotated credentials take effect,
    /// and a member that could not be reached with them is tried again.
    pub resync: Duration,
}

impl Config {
    pub fn new(federation: Client) -> Self {
        Config {
            federation,
            periods: Registration::new("push", "unused"),
            resync: Duration::from_secs(30),
        }
    }
}

/// What a running cluster task was started from; a change restarts it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    uid: String,
    endpoint: Option<String>,
    secret: Option<(String, String)>,
    insecure: Option<bool>,
    proxy: Option<String>,
}

impl Key {
    fn of(cluster: &Cluster) -> Key {
        Key {
            uid: cluster.uid().unwrap_or_default(),
            endpoint: cluster.spec.api_endpoint.clone(),
            secret: cluster
                .spec
                .secret_ref
                .as_ref()
                .map(|r| (r.namespace.clone(), r.name.clone())),
            insecure: cluster.spec.insecure_skip_tls_verification,
            proxy: cluster.spec.proxy_url.clone(),
        }
    }
}

struct Running {
    key: Key,
    cluster: Cluster,
    /// The resourceVersion of the Secret the task connected with, once it has.
    secret_version: Arc<Mutex<Option<String>>>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// Serves every Push cluster until `cancel`, then stops their tasks and waits for them.
pub async fn run(config: Config, cancel: CancellationToken) {
    let clusters: Api<Cluster> = Api::all(config.federation.clone());
    let mut events = watcher(clusters, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut resync = tokio::time::interval(config.resync);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running: HashMap<String, Running> = HashMap::new();
    // Names seen during a relist; those not seen again were deleted meanwhile.
    let mut relisted: Option<HashSet<String>> = None;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            event = events.next() => match event {
                Some(Ok(watcher::Event::Init)) => relisted = Some(HashSet::new()),
                Some(Ok(watcher::Event::InitApply(c))) => {
                    if let Some(seen) = &mut relisted {
                        seen.insert(c.name_any());
                    }
                    observe(&config, &mut running, c);
                }
                Some(Ok(watcher::Event::InitDone)) => {
                    if let Some(seen) = relisted.take() {
                        running.retain(|name, r| {
                            let keep = seen.contains(name);
                            if !keep {
                                stop(name, r);
                            }
                            keep
                        });
                    }
                }
                Some(Ok(watcher::Event::Apply(c))) => observe(&config, &mut running, c),
                Some(Ok(watcher::Event::Delete(c))) => {
                    if let Some(r) = running.remove(&c.name_any()) {
                        stop(&c.name_any(), &r);
                    }
                }
                Some(Err(e)) => tracing::debug!(error = %e, "Cluster watch failed; retrying"),
                None => break,
            },
            _ = resync.tick() => resync_all(&config, &mut running).await,
        }
    }
    for (_, r) in running.drain() {
        r.cancel.cancel();
        let _ = r.task.await;
    }
}

/// Starts, restarts or stops the task of one Cluster after it changed.
fn observe(config: &Config, running: &mut HashMap<String, Running>, cluster: Cluster) {
    let name = cluster.name_any();
    if cluster.spec.sync_mode != ClusterSyncMode::Push {
        if let Some(r) = running.remove(&name) {
            stop(&name, &r);
        }
        return;
    }
    let key = Key::of(&cluster);
    match running.get_mut(&name) {
        Some(r) if r.key == key && !r.task.is_finished() => r.cluster = cluster,
        _ => {
            if let Some(old) = running.remove(&name) {
                stop(&name, &old);
            }
            running.insert(name, start(config, cluster, key));
        }
    }
}

/// Restarts tasks whose Secret changed or that stopped.
async fn resync_all(config: &Config, running: &mut HashMap<String, Running>) {
    let mut restart = Vec::new();
    for (name, r) in running.iter() {
        if r.task.is_finished() {
            restart.push(name.clone());
            continue;
        }
        let connected_with = r.secret_version.lock().map(|v| v.clone()).unwrap_or(None);
        let Some(connected_with) = connected_with else {
            // Still connecting: the task retries by itself.
            continue;
        };
        let current = match secret(&config.federation, &r.cluster).await {
            Ok(s) => s.resource_version(),
            Err(e) => {
                tracing::debug!(cluster = %name, error = %e, "cannot re-read the credentials Secret");
                continue;
            }
        };
        if current.as_deref() != Some(connected_with.as_str()) {
            tracing::info!(cluster = %name, "credentials Secret changed; reconnecting");
            restart.push(name.clone());
        }
    }
    for name in restart {
        if let Some(old) = running.remove(&name) {
            stop(&name, &old);
            let key = old.key.clone();
            running.insert(name, start(config, old.cluster, key));
        }
    }
}

fn start(config: &Config, cluster: Cluster, key: Key) -> Running {
    let cancel = CancellationToken::new();
    let secret_version = Arc::new(Mutex::new(None));
    tracing::info!(cluster = %cluster.name_any(), "serving Push cluster");
    let task = tokio::spawn(serve(
        config.clone(),
        cluster.clone(),
        secret_version.clone(),
        cancel.clone(),
    ));
    Running {
        key,
        cluster,
        secret_version,
        cancel,
        task,
    }
}

/// Cancels a task without waiting; it finishes in the background.
fn stop(name: &str, running: &Running) {
    tracing::info!(cluster = %name, "no longer serving Push cluster");
    running.cancel.cancel();
}

#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("Cluster {0:?} has no spec.secretRef naming the Secret with its credentials")]
    NoSecretRef(String),
    #[error("cannot read credentials Secret {namespace}/{name}: {source}")]
    Secret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    Credentials(#[from] credentials::Error),
}

async fn secret(federation: &Client, cluster: &Cluster) -> Result<Secret, ConnectError> {
    let reference = cluster
        .spec
        .secret_ref
        .as_ref()
        .ok_or_else(|| ConnectError::NoSecretRef(cluster.name_any()))?;
    Api::<Secret>::namespaced(federation.clone(), &reference.namespace)
        .get(&reference.name)
        .await
        .map_err(|source| ConnectError::Secret {
            namespace: reference.namespace.clone(),
            name: reference.name.clone(),
            source,
        })
}

/// A client of the member and the resourceVersion of the Secret it was built from.
async fn connect(federation: &Client, cluster: &Cluster) -> Result<(Client, String), ConnectError> {
    let secret = secret(federation, cluster).await?;
    let credentials = Credentials::from_secret(cluster, &secret)?;
    let member = credentials.client(&cluster.name_any()).await?;
    Ok((member, secret.resource_version().unwrap_or_default()))
}

/// Serves one Push cluster until `cancel`: connects (reporting why it cannot in the Cluster's
/// Ready condition, and retrying), then keeps its heartbeat, status and Works.
async fn serve(
    config: Config,
    cluster: Cluster,
    secret_version: Arc<Mutex<Option<String>>>,
    cancel: CancellationToken,
) {
    let name = cluster.name_any();
    let mut registration = config.periods.clone();
    registration.name.clone_from(&name);
    registration.api_endpoint = cluster.spec.api_endpoint.clone().unwrap_or_default();
    registration.provider = None;
    registration.region = None;
    registration.zone = None;
    registration.labels.clear();
    let clusters: Api<Cluster> = Api::all(config.federation.clone());
    let member = loop {
        let failure = match connect(&config.federation, &cluster).await {
            Ok((member, version)) => {
                if let Ok(mut v) = secret_version.lock() {
                    *v = Some(version);
                }
                break member;
            }
            Err(e) => e.to_string(),
        };
        tracing::warn!(cluster = %name, error = %failure, "cannot connect to Push cluster");
        let observed = status::Observation {
            health: status::Health::Unreachable(failure),
            kubernetes_version: None,
            discovery: None,
            inventory: None,
        };
        if let Err(e) = status::publish(&clusters, &registration, &observed).await {
            tracing::debug!(cluster = %name, error = %e, "cannot report the connection failure");
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(config.resync) => {}
        }
    };
    let works = execution::Config::new(config.federation.clone(), member.clone(), &name);
    let (_, executed) = tokio::join!(
        cluster::maintain(
            config.federation.clone(),
            member,
            registration,
            &cluster,
            cancel.clone()
        ),
        execution::run(works, cancel.clone()),
    );
    if let Err(e) = executed {
        tracing::error!(cluster = %name, error = %e, "applying Works to the Push cluster stopped");
    }
}
