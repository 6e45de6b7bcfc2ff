//! A private etcd for the binary tests, with its own temporary directory, killed on drop.

use anyhow::Context;
use karmada_apiserver::storage::etcd::process;

/// A private etcd that lives as long as this value. Fails (never skips) when etcd is missing.
pub struct EtcdProcess {
    process: process::EtcdProcess,
    _dir: tempfile::TempDir,
}

impl EtcdProcess {
    pub fn start() -> anyhow::Result<EtcdProcess> {
        let dir = tempfile::tempdir().context("creating etcd's directory")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let process = runtime.block_on(process::EtcdProcess::start(dir.path()))?;
        Ok(EtcdProcess { process, _dir: dir })
    }

    /// The client URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        self.process.endpoint().to_string()
    }
}
