//! A private etcd for the apiserver's integration tests, killed on drop.

use karmada_apiserver::storage::etcd::Etcd;
use karmada_apiserver::storage::etcd::process;

/// A private etcd that lives as long as this value. Fails (never skips) when etcd is missing.
pub struct EtcdProcess(process::EtcdProcess);

impl EtcdProcess {
    pub async fn start() -> anyhow::Result<EtcdProcess> {
        Ok(EtcdProcess(process::EtcdProcess::start_temporary().await?))
    }

    /// The client URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        self.0.endpoint()
    }

    /// A storage client on this etcd with every key under `prefix`.
    pub async fn storage(&self, prefix: &str) -> anyhow::Result<Etcd> {
        Ok(Etcd::connect(&[self.endpoint().to_string()], prefix).await?)
    }
}
