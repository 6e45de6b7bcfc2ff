//! `karmada controller-manager` against a federation apiserver, driven with the real kubectl:
//! a joined Cluster gets its execution namespace, and takes it along when deleted.

mod support;

use std::time::Duration;

use support::apiserver::{ApiServer, Store};
use support::component::Component;
use support::kubectl::Kubectl;
use support::poll;

const CLUSTER: &str = "apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata: {name: member1}
spec: {syncMode: Pull, region: us-east}
";

#[test]
fn clusters_get_execution_namespaces_from_the_controller_manager() -> anyhow::Result<()> {
    let server = ApiServer::start(Store::Memory)?;
    let kubeconfig = server.kubeconfig().to_string_lossy().into_owned();
    let _manager = Component::start(&["controller-manager", "--kubeconfig", &kubeconfig])?;
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
