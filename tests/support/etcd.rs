//! A private etcd for the binary tests, killed on drop.

use karmada_apiserver::storage::etcd::process;

/// A private etcd that lives as long as this value. Fails (never skips) when etcd is missing.
pub struct EtcdProcess(process::EtcdProcess);

impl EtcdProcess {
    pub fn start() -> anyhow::Result<EtcdProcess> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(EtcdProcess(
            runtime.block_on(process::EtcdProcess::start_temporary())?,
        ))
    }

    /// The client URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        self.0.endpoint().to_string()
    }
}
