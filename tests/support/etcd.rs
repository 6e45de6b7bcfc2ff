//! A private etcd server for the binary tests: free loopback ports, own data directory, killed on drop.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};

use super::poll;

/// Where Debian's `etcd-server` package installs etcd.
pub const ETCD_BINARY: &str = "/usr/bin/etcd";
const READY_DEADLINE: Duration = Duration::from_secs(20);

/// One etcd process bound to 127.0.0.1 only.
pub struct EtcdProcess {
    child: Child,
    client: SocketAddr,
    log: PathBuf,
    _data: tempfile::TempDir,
}

impl EtcdProcess {
    /// Starts etcd and waits until `/health` reports healthy. Fails (never skips) when etcd is not
    /// installed, so a machine without it cannot pass the etcd tests by accident.
    pub fn start() -> anyhow::Result<EtcdProcess> {
        ensure!(
            Path::new(ETCD_BINARY).exists(),
            "{ETCD_BINARY} not found: install etcd with `apt-get install etcd-server` to run the etcd tests"
        );
        let data = tempfile::tempdir().context("creating etcd's data directory")?;
        let [client, peer] = free_addrs()?;
        let client_url = format!("http://{client}");
        let peer_url = format!("http://{peer}");
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
            client,
            log,
            _data: data,
        };
        etcd.wait_healthy()?;
        Ok(etcd)
    }

    /// The client URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.client)
    }

    fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let client = self.client;
        let child = &mut self.child;
        let log = &self.log;
        poll::until("etcd to report healthy", READY_DEADLINE, || {
            if let Ok(Some(status)) = child.try_wait() {
                return Ok(Err(format!("etcd exited with {status}")));
            }
            match health(client) {
                Ok(body) if body.contains(r#""health":"true""#) => Ok(Ok(())),
                Ok(body) => Err(format!("/health answered: {body}")),
                Err(e) => Err(format!("/health failed: {e}")),
            }
        })
        .and_then(|outcome| outcome.map_err(anyhow::Error::msg))
        .map_err(|e| {
            let text = std::fs::read_to_string(log)
                .unwrap_or_else(|read| format!("(cannot read {}: {read})", log.display()));
            e.context(format!("etcd did not start; its log:\n{text}"))
        })
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.0 `GET /health`, so the harness needs no HTTP client crate.
fn health(addr: SocketAddr) -> anyhow::Result<String> {
    let timeout = Duration::from_secs(1);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    match response.split_once("\r\n\r\n") {
        Some((_, body)) => Ok(body.to_owned()),
        None => bail!("incomplete HTTP response: {response:?}"),
    }
}

/// Two distinct free loopback addresses (both listeners are held until both are known).
fn free_addrs() -> anyhow::Result<[SocketAddr; 2]> {
    let first = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    let second = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok([first.local_addr()?, second.local_addr()?])
}
