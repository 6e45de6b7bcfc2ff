//! Shared fixtures for the member's integration tests.

// Each test binary uses a different subset of these fixtures.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;
use karmada_agents::member::runtime::Context;
use karmada_agents::member::{kubelet, scheduler};
use karmada_apiserver::server::{self, Backend, Config, Running};
use kube::Client;
use tokio_util::sync::CancellationToken;

/// An in-memory apiserver on a free loopback port and a kube-rs client for it.
pub struct Apiserver {
    pub running: Running,
    pub client: Client,
    /// Cancelling it stops the apiserver and anything started with a child of it.
    pub cancel: CancellationToken,
}

pub async fn apiserver() -> anyhow::Result<Apiserver> {
    start(Config::new("127.0.0.1:0".parse()?, Backend::Memory)).await
}

/// A federation apiserver: in memory, serving the Karmada API (CRDs and admission) from start.
pub async fn federation() -> anyhow::Result<Apiserver> {
    let mut config = Config::new("127.0.0.1:0".parse()?, Backend::Memory);
    config.karmada_api = true;
    start(config).await
}

async fn start(config: Config) -> anyhow::Result<Apiserver> {
    let cancel = CancellationToken::new();
    let running = server::start(config, cancel.clone()).await?;
    let client = Client::try_from(kube::Config::new(running.url().parse()?))?;
    Ok(Apiserver {
        running,
        client,
        cancel,
    })
}

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

/// Calls `check` until it yields `Ok(value)`, failing after the deadline with the last state it
/// reported through `Err`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Result<T, String>>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        let last = match check().await? {
            Ok(value) => return Ok(value),
            Err(observed) => observed,
        };
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}; last observed: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
