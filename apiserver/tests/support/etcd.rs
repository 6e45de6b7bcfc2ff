//! A private etcd for the apiserver's integration tests, with its own temporary directory.

use anyhow::Context;
use karmada_apiserver::storage::etcd::Etcd;
use karmada_apiserver::storage::etcd::process;

/// A private etcd that lives as long as this value. Fails (never skips) when etcd is missing.
pub struct EtcdProcess {
    process: process::EtcdProcess,
    _dir: tempfile::TempDir,
}

impl EtcdProcess {
    pub async fn start() -> anyhow::Result<EtcdProcess> {
        let dir = tempfile::tempdir().context("creating etcd's directory")?;
        let process = process::EtcdProcess::start(dir.path()).await?;
        Ok(EtcdProcess { process, _dir: dir })
    }

    /// The client URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        self.process.endpoint()
    }

    /// A storage client on this etcd with every key under `prefix`.
    pub async fn storage(&self, prefix: &str) -> anyhow::Result<Etcd> {
        Ok(Etcd::connect(&[self.endpoint().to_string()], prefix).await?)
    }
}
