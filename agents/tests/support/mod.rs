//! Shared fixtures for the member's integration tests.

// Each test binary uses a different subset of these fixtures.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;
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
    let cancel = CancellationToken::new();
    let running = server::start(
        Config::new("127.0.0.1:0".parse()?, Backend::Memory),
        cancel.clone(),
    )
    .await?;
    let client = Client::try_from(kube::Config::new(running.url().parse()?))?;
    Ok(Apiserver {
        running,
        client,
        cancel,
    })
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
