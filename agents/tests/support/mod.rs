//! Shared fixtures for the member's integration tests.

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
