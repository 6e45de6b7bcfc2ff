//! Integration-test fixtures: an in-memory apiserver with a client for it, and polling for a
//! state with a deadline instead of sleeping.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;
use karmada_apiserver::server::{self, Backend, Config, Running};
use kube::Client;
use tokio_util::sync::CancellationToken;

/// How often [`until`] looks again.
const POLL: Duration = Duration::from_millis(50);

/// An in-memory apiserver on a free loopback port and a kube-rs client for it.
pub struct Apiserver {
    pub running: Running,
    pub client: Client,
    /// Cancelling it stops the apiserver and anything started with a child of it.
    pub cancel: CancellationToken,
}

/// A plain Kubernetes apiserver, as a member cluster's.
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

/// Calls `check` every 50 ms until it yields `Ok(value)`, failing once `deadline` has passed
/// with the last state it reported through `Err`. An `Err` of the outer result (the check
/// itself broke) fails at once.
pub async fn until<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Result<T, String>>>,
{
    let give_up = Instant::now() + deadline;
    loop {
        let last = match check().await? {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        if Instant::now() > give_up {
            bail!("timed out after {deadline:?} waiting for {what}; last saw: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn until_returns_the_first_ready_value() {
        let calls = Cell::new(0);
        let value = until("three calls", Duration::from_secs(5), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                Ok(if n >= 3 {
                    Ok(n)
                } else {
                    Err(format!("{n} calls"))
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn until_times_out_with_the_last_state_and_stops_on_errors() {
        let error = until::<(), _, _>("never", Duration::ZERO, || async {
            Ok(Err("still pending".to_string()))
        })
        .await
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "timed out after 0ns waiting for never; last saw: still pending"
        );

        let error = until::<(), _, _>("broken", Duration::from_secs(5), || async {
            bail!("cannot list")
        })
        .await
        .unwrap_err();
        assert_eq!(error.to_string(), "cannot list");
    }

    #[tokio::test]
    async fn a_federation_apiserver_serves_the_karmada_api() {
        let federation = federation().await.unwrap();
        let clusters: kube::Api<karmada_api::cluster::Cluster> =
            kube::Api::all(federation.client.clone());
        assert!(
            clusters
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
        federation.cancel.cancel();
    }
}
