//! The frame every controller that owns pods runs in (ReplicaSet, StatefulSet, DaemonSet,
//! Job): a kube-runtime Controller for its kind that also wakes on changes to the pods it
//! owns, the member's pod cache, expectations for its own writes, and an event recorder.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use karmada_runtime::events::Recorder;
use kube::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::watcher;

use super::expectations::Expectations;
use super::pod_cache::PodCache;
use super::runtime::{self, Context, Kind};

/// A pass is retried this long after it failed.
const RETRY: Duration = Duration::from_secs(2);
/// Pod changes trigger through the controller's own watch; the short debounce lets the pod
/// cache, fed by another watch, catch up before the owner is looked at.
const DEBOUNCE: Duration = Duration::from_millis(50);

/// What a pod-owning controller keeps between passes.
pub struct PodOwner {
    pub pods: PodCache,
    pub expectations: Expectations,
    pub recorder: Recorder,
}

/// Runs the controller of `K` until `ctx.cancel` fires. `extend` adds further triggers to the
/// controller (say, node changes); `reconcile` is called with the shared [`PodOwner`].
pub async fn run<K, E, F, Fut>(
    ctx: Arc<Context>,
    extend: impl FnOnce(Controller<K>) -> Controller<K>,
    reconcile: F,
) where
    K: Kind,
    E: std::error::Error + Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<Context>, Arc<PodOwner>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
{
    let client = ctx.client.clone();
    let (pods, cache) = runtime::pod_cache(&ctx);
    let controller = Controller::new(Api::<K>::all(client.clone()), watcher::Config::default())
        .owns(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .with_config(controller::Config::default().debounce(DEBOUNCE));
    let owner = Arc::new(PodOwner {
        pods,
        expectations: Expectations::default(),
        recorder: Recorder::new(client, ctx.reporter.clone()),
    });
    let reconcile = move |object: Arc<K>, ctx: Arc<Context>| reconcile(object, ctx, owner.clone());
    tokio::join!(
        cache,
        runtime::run(extend(controller), ctx, reconcile, RETRY)
    );
}
