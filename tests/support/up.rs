//! A whole federation started the way a user starts it, `karmada up` on port 0 in a temporary
//! data directory, with a kubectl bound to the kubeconfig it writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::apiserver::{drain, karmada, strip_ansi};
use super::kubectl::Kubectl;
use super::poll;

/// Longest `karmada up` may take to log its ready line (debug build, loaded machine).
const READY_DEADLINE: Duration = Duration::from_secs(180);
/// Longest it may take to stop after SIGTERM.
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// Longest a change may take to show in the members or on the federation.
const DEADLINE: Duration = Duration::from_secs(90);
/// The members of the default `karmada up`.
pub const MEMBERS: [&str; 3] = ["member1", "member2", "member3"];

/// A running `karmada up`; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Up {
    child: Child,
    dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
    /// kubectl with `DIR/kubeconfig`: the `karmada` context by default, `--context memberN`
    /// for a member.
    pub kubectl: Kubectl,
}

impl Up {
    /// Runs `karmada up --data-dir DIR --port 0 <args>` (a restart keeps the last run's port
    /// unless `--port` is given) and returns once it logged its ready line.
    pub fn start(dir: &Path, args: &[&str]) -> anyhow::Result<Up> {
        let mut child = karmada(&["up", "--data-dir", &dir.to_string_lossy()])
            .args(args)
            .spawn()
            .context("starting karmada up")?;
        let stderr = child.stderr.take().context("stderr was not piped")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = drain(stderr, Arc::clone(&log));
        let mut up = Up {
            child,
            dir: dir.to_path_buf(),
            log,
            kubectl: Kubectl::for_kubeconfig(&dir.join("kubeconfig"))?,
        };
        up.wait_ready(&lines)?;
        Ok(up)
    }

    fn wait_ready(&mut self, lines: &mpsc::Receiver<String>) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if strip_ansi(&line).contains(" ready: ") => return Ok(()),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => bail!(
                    "karmada up did not log its ready line within {READY_DEADLINE:?}:\n{}",
                    self.logs()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    bail!(
                        "karmada up exited with {status} before it was ready:\n{}",
                        self.logs()
                    );
                }
            }
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/endpoints.json`.
    pub fn endpoints(&self) -> anyhow::Result<serde_json::Value> {
        let path = self.dir.join("endpoints.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// What `karmada up` logged, then the end of every component's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut all = self
            .log
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("logs"))
            .map(|dir| dir.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            all.push_str(&format!("\n--- {}\n{tail}", file.display()));
        }
        all
    }

    /// The Deployment's `spec.replicas` in the member of context `context` (see [`replicas`]).
    pub fn replicas(&self, context: &str, name: &str) -> Result<Option<i64>, String> {
        replicas(&self.kubectl, context, name)
    }

    /// Replicas of Deployment `name` in each of [`MEMBERS`] that has it.
    pub fn placement(&self, name: &str) -> Result<BTreeMap<String, i64>, String> {
        placement(&self.kubectl, name)
    }

    /// Waits until Deployment `name` has exactly `want` replicas per member (see
    /// [`until_placed`]).
    pub fn until_placed(&self, name: &str, want: &[(&str, i64)]) -> anyhow::Result<()> {
        until_placed(&self.kubectl, name, want).with_context(|| self.logs())
    }

    /// Waits until the federation's Deployment `name` reports `ready` ready replicas.
    pub fn until_ready(&self, name: &str, ready: i64) -> anyhow::Result<()> {
        until_ready(&self.kubectl, name, ready).with_context(|| self.logs())
    }

    /// The pid of the `karmada up` process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as `kill` or a service manager would, and waits for `karmada up` to exit.
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        signal(self.child.id(), "TERM")?;
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                bail!(
                    "karmada up did not stop within {STOP_DEADLINE:?} of SIGTERM:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) && self.terminate().is_err() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The Deployment's `spec.replicas` in the cluster of kubeconfig context `context` of
/// `kubectl`, `None` when it is not there.
pub fn replicas(kubectl: &Kubectl, context: &str, name: &str) -> Result<Option<i64>, String> {
    let out = kubectl
        .run(&[
            "--context",
            context,
            "get",
            "deployment",
            name,
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        return out
            .stdout
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| format!("{e}: {}", out.stdout));
    }
    if out.stderr.contains("NotFound") || out.stderr.contains("not found") {
        return Ok(None);
    }
    Err(out.stderr)
}

/// Replicas of Deployment `name` in each of [`MEMBERS`] (contexts of `kubectl`) that has it.
pub fn placement(kubectl: &Kubectl, name: &str) -> Result<BTreeMap<String, i64>, String> {
    let mut placed = BTreeMap::new();
    for member in MEMBERS {
        if let Some(n) = replicas(kubectl, member, name)? {
            placed.insert(member.to_string(), n);
        }
    }
    Ok(placed)
}

/// Waits until Deployment `name` has exactly `want` replicas per member (and is in no other
/// member), the members being contexts of `kubectl`.
pub fn until_placed(kubectl: &Kubectl, name: &str, want: &[(&str, i64)]) -> anyhow::Result<()> {
    let want: BTreeMap<String, i64> = want.iter().map(|(m, n)| (m.to_string(), *n)).collect();
    poll::until(&format!("{name} placed as {want:?}"), DEADLINE, || {
        let placed = placement(kubectl, name)?;
        if placed == want {
            Ok(())
        } else {
            Err(format!("{placed:?}"))
        }
    })
}

/// Waits until the federation (current context of `kubectl`) reports Cluster `cluster` Ready.
pub fn until_cluster_ready(kubectl: &Kubectl, cluster: &str) -> anyhow::Result<()> {
    kubectl.until_prints(
        &format!("cluster {cluster} Ready"),
        DEADLINE,
        &[
            "get",
            "cluster",
            cluster,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
        "True",
    )
}

/// Waits until the federation's Deployment `name` (current context of `kubectl`) reports
/// `ready` ready replicas, summed from the members.
pub fn until_ready(kubectl: &Kubectl, name: &str, ready: i64) -> anyhow::Result<()> {
    kubectl.until_prints(
        &format!("{name} showing {ready} ready replicas on the federation"),
        DEADLINE,
        &[
            "get",
            "deployment",
            name,
            "-o",
            "jsonpath={.status.readyReplicas}",
        ],
        &ready.to_string(),
    )
}

/// Sends `SIGNAL` (e.g. `TERM`, `KILL`) to process `pid` with `kill(1)`.
pub fn signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .context("running kill")?;
    anyhow::ensure!(status.success(), "kill -{signal} {pid} failed: {status}");
    Ok(())
}

/// A process stopped with SIGSTOP, continued (SIGCONT) when dropped, so nothing stays stopped
/// whatever happens.
pub struct Stopped(u32);

impl Stopped {
    pub fn stop(pid: u32) -> anyhow::Result<Stopped> {
        signal(pid, "STOP")?;
        Ok(Stopped(pid))
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = signal(self.0, "CONT");
    }
}

/// The pids of `member`'s apiserver and its agent in the federation whose data directory is
/// `dir`.
pub fn member_processes(dir: &str, member: &str) -> anyhow::Result<Vec<u32>> {
    let pids: Vec<u32> = processes_mentioning(dir)
        .into_iter()
        .filter(|(_, cmd)| {
            cmd.contains(&format!("member --name {member} "))
                || cmd.contains(&format!("agent --cluster {member} "))
        })
        .map(|(pid, _)| pid)
        .collect();
    anyhow::ensure!(pids.len() == 2, "{member} and its agent expected: {pids:?}");
    Ok(pids)
}

/// The processes whose command line mentions `needle` (a data directory, say), with their
/// command lines.
pub fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let own = std::process::id();
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            line.contains(needle)
                .then(|| (pid, line.trim().to_string()))
        })
        .collect()
}
