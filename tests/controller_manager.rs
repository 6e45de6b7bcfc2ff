//! `karmada controller-manager` against a federation apiserver, driven with the real kubectl:
//! a joined Cluster gets its execution namespace, and takes it along when deleted.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::apiserver::{ApiServer, Store};
use support::kubectl::Kubectl;
use support::poll;

const CLUSTER: &str = "apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata: {name: member1}
spec: {syncMode: Pull, region: us-east}
";

/// The controller-manager process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn clusters_get_execution_namespaces_from_the_controller_manager() -> anyhow::Result<()> {
    let server = ApiServer::start(Store::Memory)?;
    let _manager = Running(
        Command::new(env!("CARGO_BIN_EXE_karmada"))
            .arg("controller-manager")
            .arg("--kubeconfig")
            .arg(server.kubeconfig())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let k = Kubectl::new(&server)?;
    k.ok_stdin(&["apply", "-f", "-"], CLUSTER)?;
    poll::until("karmada-es-member1", Duration::from_secs(20), || {
        k.ok(&["get", "namespace", "karmada-es-member1", "-o", "name"])
            .map(drop)
            .map_err(|e| e.to_string())
    })?;
    let clusters = k.ok(&["get", "clusters"])?;
    anyhow::ensure!(
        clusters.contains("member1") && clusters.contains("Pull"),
        "{clusters}"
    );

    k.ok(&[
        "delete",
        "cluster",
        "member1",
        "--wait=true",
        "--timeout=20s",
    ])?;
    let left = k.ok(&["get", "namespaces", "-o", "name"])?;
    anyhow::ensure!(!left.contains("karmada-es-member1"), "{left}");
    Ok(())
}
