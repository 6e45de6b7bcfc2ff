//! Components the end-to-end benches run as child processes of this binary, and what each cost:
//! peak memory and CPU time, over the whole run and over the measured part.

use std::fmt::Write as _;
use std::process::Stdio;

use anyhow::Context as _;
use serde::Serialize;
use tokio::process::{Child, Command};

use super::machine;

/// One `karmada` child process, killed when dropped.
pub struct Component {
    pub name: String,
    pub child: Child,
    /// CPU seconds spent before the measured part began, once marked.
    cpu_at_mark: Option<f64>,
}

/// CPU time and memory of one component process.
#[derive(Debug, Clone, Serialize)]
pub struct Footprint {
    pub component: String,
    pub peak_rss_bytes: Option<u64>,
    /// Over the whole run, start-up and setup included.
    pub cpu_seconds: Option<f64>,
    /// From [`Component::mark`] to the end, when marked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_cpu_seconds: Option<f64>,
}

impl Component {
    /// Starts `karmada <args...>` with warnings-only logs.
    pub fn spawn(name: &str, args: &[&str]) -> anyhow::Result<Component> {
        let exe = std::env::current_exe().context("cannot find the karmada binary")?;
        let child = Command::new(exe)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the {name}"))?;
        Ok(Component {
            name: name.to_string(),
            child,
            cpu_at_mark: None,
        })
    }

    fn cpu_seconds(&self) -> Option<f64> {
        self.child.id().and_then(machine::cpu_seconds)
    }

    /// Notes the CPU time spent so far: the measured part begins.
    pub fn mark(&mut self) {
        self.cpu_at_mark = self.cpu_seconds();
    }

    pub fn footprint(&self) -> Footprint {
        let cpu_seconds = self.cpu_seconds();
        Footprint {
            component: self.name.clone(),
            peak_rss_bytes: self.child.id().and_then(machine::peak_rss_bytes),
            cpu_seconds,
            measured_cpu_seconds: cpu_seconds
                .zip(self.cpu_at_mark)
                .map(|(after, before)| after - before),
        }
    }
}

/// The components' table: peak memory, CPU seconds, and measured CPU seconds when any has them.
pub fn footprint_table(out: &mut String, footprints: &[Footprint]) {
    let measured = footprints.iter().any(|f| f.measured_cpu_seconds.is_some());
    let seconds = |s: Option<f64>| s.map_or("?".into(), |s| format!("{s:.2}"));
    let _ = write!(out, "{:<20} {:>12} {:>9}", "component", "peak rss", "cpu s");
    if measured {
        let _ = write!(out, " {:>10}", "measured s");
    }
    let _ = writeln!(out);
    for f in footprints {
        let rss = f
            .peak_rss_bytes
            .map_or("?".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0));
        let _ = write!(
            out,
            "{:<20} {:>12} {:>9}",
            f.component,
            rss,
            seconds(f.cpu_seconds)
        );
        if measured {
            let _ = write!(out, " {:>10}", seconds(f.measured_cpu_seconds));
        }
        let _ = writeln!(out);
    }
}
