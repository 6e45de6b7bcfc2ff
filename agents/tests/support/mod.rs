//! Shared fixtures for the member's integration tests.

// Each test binary uses a different subset of these fixtures.
#![allow(dead_code, unused_imports)]

use std::future::Future;
use std::time::Duration;

use karmada_agents::member::runtime::Context;
use karmada_agents::member::{kubelet, scheduler};
use kube::Client;
use tokio_util::sync::CancellationToken;

/// In-memory apiservers, plain or serving the Karmada API, each with a client.
pub use karmada_runtime::testing::{Apiserver, apiserver, federation};

/// Starts the member scheduler and the simulated kubelets `nodes` describes in `tasks`, so
/// pods of the controller under test get bound, run and turn Ready.
pub fn spawn_nodes(
    tasks: &mut tokio::task::JoinSet<()>,
    client: &Client,
    cancel: &CancellationToken,
    nodes: kubelet::Config,
) {
    let ctx = |name: &str| Context::new(client.clone(), name, cancel.clone());
    tasks.spawn(scheduler::run(ctx("default-scheduler")));
    let kubelet_ctx = ctx("kubelet");
    tasks.spawn(async move {
        kubelet::run(kubelet_ctx, nodes).await.expect("kubelet");
    });
}

/// How long a test waits for a state before failing.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Calls `check` until it yields `Ok(value)`, failing after [`DEADLINE`] with the last state it
/// reported through `Err`.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Result<T, String>>>,
{
    karmada_runtime::testing::until(what, DEADLINE, check).await
}
