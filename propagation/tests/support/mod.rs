//! Shared fixtures for the federation controllers' integration tests.

// Each test binary uses a different subset of these fixtures.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use anyhow::bail;
use karmada_apiserver::server::{self, Backend, Config, Running};
use kube::Client;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// An in-memory federation apiserver (serving the Karmada API) and a client for it.
pub struct Federation {
    pub running: Running,
    pub client: Client,
    /// Cancelling it stops the apiserver and every controller started with a child of it.
    pub cancel: CancellationToken,
}

pub async fn federation() -> anyhow::Result<Federation> {
    let cancel = CancellationToken::new();
    let config = Config {
        karmada_api: true,
        ..Config::new("127.0.0.1:0".parse()?, Backend::Memory)
    };
    let running = server::start(config, cancel.clone()).await?;
    let client = Client::try_from(kube::Config::new(running.url().parse()?))?;
    Ok(Federation {
        running,
        client,
        cancel,
    })
}

/// Polls `check` every 50 ms until it yields `Ok(value)`, failing after 20 s with what it last
/// reported through `Err`.
pub async fn until<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Result<T, String>>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let last = match check().await? {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}; last saw {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Parses a YAML document into a typed object.
pub fn yaml<T: DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    Ok(serde_saphyr::from_str(text)?)
}
