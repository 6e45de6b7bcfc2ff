//! A private etcd server for tests: started on free loopback ports, killed on drop.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use karmada_apiserver::storage::Storage;
use karmada_apiserver::storage::etcd::Etcd;

/// Where Debian's `etcd-server` package installs etcd; CI installs it.
pub const ETCD_BINARY: &str = "/usr/bin/etcd";
const READY_DEADLINE: Duration = Duration::from_secs(20);

/// One etcd process with its own data directory, bound to 127.0.0.1 only.
pub struct EtcdProcess {
    child: Child,
    endpoint: String,
    log: PathBuf,
    _data: tempfile::TempDir,
}

impl EtcdProcess {
    /// Starts etcd and waits until it answers requests. Fails (never skips) when etcd is not
    /// installed, so a machine without it cannot pass the etcd tests by accident.
    pub async fn start() -> anyhow::Result<EtcdProcess> {
        ensure!(
            Path::new(ETCD_BINARY).exists(),
            "{ETCD_BINARY} not found: install etcd with `apt-get install etcd-server` to run the etcd tests"
        );
        let data = tempfile::tempdir().context("creating etcd's data directory")?;
        let [client_port, peer_port] = free_ports()?;
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let log = data.path().join("etcd.log");
        let log_file = File::create(&log).context("creating etcd's log file")?;
        let child = Command::new(ETCD_BINARY)
            .arg("--name=test")
            .arg(format!("--data-dir={}", data.path().join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            .arg("--initial-cluster-state=new")
            .arg("--logger=zap")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {ETCD_BINARY}"))?;
        let mut etcd = EtcdProcess {
            child,
            endpoint: client_url,
            log,
            _data: data,
        };
        etcd.wait_ready().await?;
        Ok(etcd)
    }

    /// The client URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A storage client on this etcd with every key under `prefix`.
    pub async fn storage(&self, prefix: &str) -> anyhow::Result<Etcd> {
        Ok(Etcd::connect(std::slice::from_ref(&self.endpoint), prefix).await?)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "etcd exited during startup with {status}; its log:\n{}",
                    self.log_text()
                );
            }
            let attempt = tokio::time::timeout(Duration::from_secs(2), async {
                Etcd::connect(std::slice::from_ref(&self.endpoint), "")
                    .await?
                    .current_revision()
                    .await
            });
            if let Ok(Ok(_)) = attempt.await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "etcd did not answer on {} within {READY_DEADLINE:?}; its log:\n{}",
                    self.endpoint,
                    self.log_text()
                );
            }
            // Polling interval while etcd elects itself leader; the deadline above is the check.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log)
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log.display()))
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two distinct free loopback ports (both listeners are held until both are known).
fn free_ports() -> anyhow::Result<[u16; 2]> {
    let first = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    let second = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok([first.local_addr()?.port(), second.local_addr()?.port()])
}
