//! The agent's MCS reporter: keeps, in its cluster's execution namespace in the federation,
//! one EndpointSlice per member EndpointSlice of every exported Service, so the federation
//! (ServiceImports, DNS) knows where each exported Service's endpoints are.
//!
//! Four reflectors (the member's ServiceExports, Services and service slices; the reported
//! slices in the federation) wake one loop that compares the whole desired set with what the
//! federation holds and writes the difference. Comparing everything on every change is what
//! makes a deleted export or member slice, and slices left over from an earlier run, disappear
//! without finalizers on member objects.

mod report;

pub use self::report::{
    Addressing, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, ServiceKey, Write, addressing, desired, plan,
    reported_slice,
};

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use karmada_api::execution_namespace;
use karmada_api::mcs::{LABEL_SOURCE_CLUSTER, REPORTER, ServiceExport};
use karmada_runtime::Backoff;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// First and longest wait before a failed write is tried again; the first is short because
/// the usual cause (the execution namespace not created yet, a write racing the watch) passes
/// quickly.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// Longest wait for one write to the federation.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a reported slice could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot {verb} the reported EndpointSlice {namespace}/{name} in the federation: {source}"
    )]
    Write {
        verb: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "writing ({verb}) the reported EndpointSlice {namespace}/{name} in the federation timed out after {WRITE_TIMEOUT:?}"
    )]
    Timeout {
        verb: &'static str,
        namespace: String,
        name: String,
    },
}

impl Error {
    /// Whether the failure is expected to pass by itself: the execution namespace not there
    /// yet (404) or a write racing the federation watch (409).
    fn is_routine(&self) -> bool {
        matches!(self, Error::Write { source: kube::Error::Api(s), .. } if matches!(s.code, 404 | 409))
    }
}

/// The caches the loop compares.
struct Caches {
    exports: Store<ServiceExport>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    reported: Store<EndpointSlice>,
}

impl Caches {
    async fn ready(&self) -> bool {
        self.exports.wait_until_ready().await.is_ok()
            && self.services.wait_until_ready().await.is_ok()
            && self.slices.wait_until_ready().await.is_ok()
            && self.reported.wait_until_ready().await.is_ok()
    }
}

/// Reports the EndpointSlices of `member`'s exported Services to the execution namespace of
/// `cluster` in `federation` until `cancel`.
pub async fn run(federation: Client, member: Client, cluster: String, cancel: CancellationToken) {
    let changed = Arc::new(Notify::new());
    let mut fills = JoinSet::new();
    let namespace = execution_namespace(&cluster);
    let (exports, fill) = cache(
        Api::all(member.clone()),
        watcher::Config::default(),
        &changed,
        &cancel,
    );
    fills.spawn(fill);
    let (services, fill) = cache(
        Api::all(member.clone()),
        watcher::Config::default(),
        &changed,
        &cancel,
    );
    fills.spawn(fill);
    let (slices, fill) = cache(
        Api::all(member),
        watcher::Config::default().labels(SERVICE_NAME_LABEL),
        &changed,
        &cancel,
    );
    fills.spawn(fill);
    let reported_selector =
        format!("{LABEL_SOURCE_CLUSTER}={cluster},{MANAGED_BY_LABEL}={REPORTER}");
    let (reported, fill) = cache(
        Api::namespaced(federation.clone(), &namespace),
        watcher::Config::default().labels(&reported_selector),
        &changed,
        &cancel,
    );
    fills.spawn(fill);
    let caches = Caches {
        exports,
        services,
        slices,
        reported,
    };
    let api: Api<EndpointSlice> = Api::namespaced(federation, &namespace);
    tokio::select! {
        () = cancel.cancelled() => {}
        () = reconcile_loop(&cluster, &api, &caches, &changed) => {}
    }
    while fills.join_next().await.is_some() {}
}

/// Brings the reported slices to the desired set on every change, retrying failed writes
/// after their backoff. Waits for every cache to fill first: an empty cache would read as
/// "nothing exported" and delete what is reported.
async fn reconcile_loop(
    cluster: &str,
    api: &Api<EndpointSlice>,
    caches: &Caches,
    changed: &Notify,
) {
    if !caches.ready().await {
        return;
    }
    tracing::debug!(%cluster, "MCS reporter synced");
    let backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
    let mut failing: HashSet<String> = HashSet::new();
    loop {
        let exports = caches.exports.state();
        let services = caches.services.state();
        let slices = caches.slices.state();
        let want = desired(
            cluster,
            exports.iter().map(Arc::as_ref),
            services.iter().map(Arc::as_ref),
            slices.iter().map(Arc::as_ref),
        );
        let observed: BTreeMap<String, EndpointSlice> = caches
            .reported
            .state()
            .iter()
            .map(|s| (s.name_any(), (**s).clone()))
            .collect();
        let mut retry: Option<Duration> = None;
        let mut failed = HashSet::new();
        for write in plan(want, &observed) {
            let name = write.name();
            if let Err(e) = apply(api, write).await {
                let delay = backoff.failed(&name);
                retry = Some(retry.map_or(delay, |r| r.min(delay)));
                if e.is_routine() {
                    tracing::debug!(%cluster, error = %e, retry_in = ?delay, "reported slice not written");
                } else {
                    tracing::warn!(%cluster, error = %e, retry_in = ?delay, "reported slice not written");
                }
                failed.insert(name);
            }
        }
        // A slice that stopped failing (written, or no longer needing a write) starts its
        // next backoff from the shortest delay.
        for name in failing.difference(&failed) {
            backoff.succeeded(name);
        }
        failing = failed;
        let retry_at = retry.map(|d| Instant::now() + d);
        tokio::select! {
            () = changed.notified() => {}
            () = sleep_until(retry_at) => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Performs one write. A create of a slice that exists, or a delete of one already gone, means
/// the federation watch is behind this loop: the state is already right.
async fn apply(api: &Api<EndpointSlice>, write: Write) -> Result<(), Error> {
    let name = write.name();
    let (verb, result) = match write {
        Write::Create(slice) => (
            "create",
            timed(api.create(&PostParams::default(), &slice)).await,
        ),
        Write::Replace(slice) => (
            "update",
            timed(api.replace(&name, &PostParams::default(), &slice)).await,
        ),
        Write::Delete(_) => (
            "delete",
            timed(async { api.delete(&name, &DeleteParams::default()).await.map(drop) }).await,
        ),
    };
    let namespace = api.namespace().unwrap_or_default().to_string();
    match result {
        None => Err(Error::Timeout {
            verb,
            namespace,
            name,
        }),
        Some(Ok(())) => Ok(()),
        Some(Err(kube::Error::Api(s))) if (verb, s.code) == ("create", 409) => Ok(()),
        Some(Err(kube::Error::Api(s))) if (verb, s.code) == ("delete", 404) => Ok(()),
        Some(Err(source)) => Err(Error::Write {
            verb,
            namespace,
            name,
            source,
        }),
    }
}

async fn timed<T>(
    write: impl Future<Output = Result<T, kube::Error>>,
) -> Option<Result<(), kube::Error>> {
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .ok()
        .map(|r| r.map(drop))
}

/// A store of `api`'s objects and the future that fills it until `cancel`, waking `changed`
/// on every event. Watch failures (a member down, the MCS CRDs not installed) are retried
/// with backoff; the store keeps its last contents meanwhile.
fn cache<K>(
    api: Api<K>,
    config: watcher::Config,
    changed: &Arc<Notify>,
    cancel: &CancellationToken,
) -> (Store<K>, impl Future<Output = ()> + Send + use<K>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let (changed, cancel) = (Arc::clone(changed), cancel.clone());
    let stream = watcher(api, config)
        .default_backoff()
        // Managed fields are most of a large object and nothing here reads them.
        .modify(|obj| obj.managed_fields_mut().clear());
    let fill = reflector::reflector(writer, stream)
        .take_until(async move { cancel.cancelled().await })
        .for_each(move |event| {
            match event {
                Ok(_) => changed.notify_one(),
                Err(e) => {
                    tracing::debug!(error = %e, kind = %K::kind(&()), "MCS reporter watch failed; retrying");
                }
            }
            futures::future::ready(())
        });
    (store, fill)
}
