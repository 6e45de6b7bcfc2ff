//! A network namespace the test makes for itself, linked to the host by a veth pair, so that
//! one cluster can be started inside it and its network cut and restored (needs root and
//! iproute2). The namespace, and with it the veth pair, is deleted on drop.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};

/// Prefix of every namespace these tests make; a left-over one (its test process gone) is
/// removed by the next test that makes one.
const PREFIX: &str = "karmada-test-";

/// A namespace `karmada-test-<pid>-<n>` holding one end of a veth pair, addressed
/// `10.213.<x>.2/30` inside and `10.213.<x>.1/30` on the host.
pub struct NetNs {
    name: String,
    inner_if: String,
    host_if: String,
    address: String,
}

impl NetNs {
    /// Makes the namespace and its link, up and addressed.
    pub fn create() -> anyhow::Result<NetNs> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        remove_left_overs();
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // Interface names are limited to 15 bytes; the namespace name is not.
        let tag = format!("{:x}", (pid << 4 | n) & 0xff_ffff);
        let subnet = (pid.wrapping_mul(7).wrapping_add(n * 31)) % 250 + 1;
        let netns = NetNs {
            name: format!("{PREFIX}{pid}-{n}"),
            inner_if: format!("kti{tag}"),
            host_if: format!("kth{tag}"),
            address: format!("10.213.{subnet}.2"),
        };
        ip(&["netns", "add", &netns.name])?;
        // From here on, drop deletes the namespace with whatever was made in it.
        let host_address = format!("10.213.{subnet}.1/30");
        let inner_address = format!("{}/30", netns.address);
        ip(&[
            "link",
            "add",
            &netns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &netns.inner_if,
            "netns",
            &netns.name,
        ])?;
        ip(&["addr", "add", &host_address, "dev", &netns.host_if])?;
        ip(&["link", "set", &netns.host_if, "up"])?;
        netns.inside(&["addr", "add", &inner_address, "dev", &netns.inner_if])?;
        netns.inside(&["link", "set", &netns.inner_if, "up"])?;
        netns.inside(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// The address of the namespace's end of the link.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The launcher that runs a program inside the namespace: `ip netns exec NAME`.
    pub fn launcher(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }

    /// Cuts the namespace off: its end of the link goes down, so packets to and from it are
    /// dropped silently, as in a network partition (no resets, connections just hang).
    pub fn cut(&self) -> anyhow::Result<()> {
        self.inside(&["link", "set", &self.inner_if, "down"])
    }

    /// Brings the link back up.
    pub fn restore(&self) -> anyhow::Result<()> {
        self.inside(&["link", "set", &self.inner_if, "up"])
    }

    fn inside(&self, args: &[&str]) -> anyhow::Result<()> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Runs `ip <args>`, failing with what it printed.
fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2); the network namespace tests need it and root")?;
    if !out.status.success() {
        bail!(
            "ip {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Deletes namespaces of these tests whose process is gone (a test killed before its drop ran).
fn remove_left_overs() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or_default();
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}
