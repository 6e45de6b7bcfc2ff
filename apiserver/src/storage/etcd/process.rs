//! A private etcd server on loopback, for benchmarks and tests: free ports, the caller's data
//! directory, killed on drop.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Etcd;
use crate::storage::Storage;

/// Where Debian's `etcd-server` package installs etcd.
pub const ETCD_BINARY: &str = "/usr/bin/etcd";
const READY_DEADLINE: Duration = Duration::from_secs(20);

/// Why a private etcd could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{ETCD_BINARY} not found: install etcd with `apt-get install etcd-server`")]
    NotInstalled,
    #[error("cannot prepare etcd's files in {dir}: {source}")]
    Files {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {ETCD_BINARY}: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("etcd exited during startup ({status}); its log:\n{log}")]
    Exited {
        status: std::process::ExitStatus,
        log: String,
    },
    #[error("etcd did not answer on {endpoint} within {READY_DEADLINE:?}; its log:\n{log}")]
    NotReady { endpoint: String, log: String },
}

/// One etcd process bound to 127.0.0.1 only.
pub struct EtcdProcess {
    child: Child,
    endpoint: String,
    log: PathBuf,
    /// The directory removed when the process goes, for [`EtcdProcess::start_temporary`].
    _temporary: Option<tempfile::TempDir>,
}

impl EtcdProcess {
    /// Starts etcd with its data and log under `dir` and waits until it answers requests.
    pub async fn start(dir: &Path) -> Result<EtcdProcess, Error> {
        if !Path::new(ETCD_BINARY).exists() {
            return Err(Error::NotInstalled);
        }
        let files = |source| Error::Files {
            dir: dir.to_path_buf(),
            source,
        };
        let [client_port, peer_port] = free_ports().map_err(files)?;
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let log = dir.join("etcd.log");
        let log_file = File::create(&log).map_err(files)?;
        let child = Command::new(ETCD_BINARY)
            .arg("--name=private")
            .arg(format!("--data-dir={}", dir.join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=private={peer_url}"))
            .arg("--initial-cluster-state=new")
            .arg("--logger=zap")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(files)?)
            .stderr(log_file)
            .spawn()
            .map_err(Error::Spawn)?;
        let mut etcd = EtcdProcess {
            child,
            endpoint: client_url,
            log,
            _temporary: None,
        };
        etcd.wait_ready().await?;
        Ok(etcd)
    }

    /// Starts etcd in a new temporary directory that is removed when the process goes.
    pub async fn start_temporary() -> Result<EtcdProcess, Error> {
        let dir = tempfile::tempdir().map_err(|source| Error::Files {
            dir: std::env::temp_dir(),
            source,
        })?;
        let mut etcd = EtcdProcess::start(dir.path()).await?;
        etcd._temporary = Some(dir);
        Ok(etcd)
    }

    /// The process id (to measure etcd's memory, for example).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The client URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn wait_ready(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Exited {
                    status,
                    log: self.log_text(),
                });
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
                return Err(Error::NotReady {
                    endpoint: self.endpoint.clone(),
                    log: self.log_text(),
                });
            }
            // Polling interval while etcd elects itself leader; the deadline above bounds it.
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
fn free_ports() -> std::io::Result<[u16; 2]> {
    let first = TcpListener::bind("127.0.0.1:0")?;
    let second = TcpListener::bind("127.0.0.1:0")?;
    Ok([first.local_addr()?.port(), second.local_addr()?.port()])
}
