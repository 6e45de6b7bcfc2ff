//! `karmada cordon`, `uncordon` and `taint` against a federation apiserver, read back with the
//! real kubectl: they change only the taints asked for, keep the others, and refuse bad input
//! with a message that says what to fix.

mod support;

use std::process::{Command, Output};

use anyhow::ensure;
use support::apiserver::{ApiServer, Store};
use support::kubectl::Kubectl;

const CLUSTER: &str = "apiVersion: cluster.karmada.io/v1alpha1
kind: Cluster
metadata: {name: member1}
spec:
  syncMode: Push
  apiEndpoint: https://member1.example.com:6443
  taints: [{key: team, value: a, effect: NoSchedule}]
";

fn karmada(server: &ApiServer, args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_karmada"))
        .args(args)
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .env("RUST_BACKTRACE", "0")
        .output()?)
}

fn taints(kubectl: &Kubectl) -> anyhow::Result<String> {
    Ok(kubectl
        .ok(&[
            "get",
            "cluster",
            "member1",
            "-o",
            "jsonpath={range .spec.taints[*]}{.key}={.value}:{.effect} {end}",
        ])?
        .trim()
        .to_string())
}

#[test]
fn cordon_uncordon_and_taint_change_only_what_they_are_asked() -> anyhow::Result<()> {
    let server = ApiServer::start(Store::Memory)?;
    let kubectl = Kubectl::new(&server)?;
    kubectl.ok_stdin(&["apply", "-f", "-"], CLUSTER)?;

    let out = karmada(&server, &["cordon", "member1"])?;
    ensure!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "cluster/member1 cordoned"
    );
    assert_eq!(
        taints(&kubectl)?,
        "team=a:NoSchedule cluster.karmada.io/unschedulable=:NoSchedule"
    );

    let out = karmada(
        &server,
        &["taint", "member1", "maintenance=now:NoExecute", "team-"],
    )?;
    ensure!(out.status.success(), "{out:?}");
    assert_eq!(
        taints(&kubectl)?,
        "cluster.karmada.io/unschedulable=:NoSchedule maintenance=now:NoExecute"
    );

    // Another value needs --overwrite; an unknown effect and a missing taint are refused;
    // nothing changes meanwhile.
    for (args, says) in [
        (
            vec!["taint", "member1", "maintenance=later:NoExecute"],
            "--overwrite",
        ),
        (
            vec!["taint", "member1", "x=y:Sometimes"],
            "NoSchedule, PreferNoSchedule, NoExecute",
        ),
        (vec!["taint", "member1", "nosuch-"], "no taint nosuch"),
        (
            vec!["cordon", "member9"],
            "cluster member9 is not registered",
        ),
    ] {
        let out = karmada(&server, &args)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(
            !out.status.success() && stderr.contains(says),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(
        taints(&kubectl)?,
        "cluster.karmada.io/unschedulable=:NoSchedule maintenance=now:NoExecute"
    );

    let out = karmada(
        &server,
        &[
            "taint",
            "member1",
            "maintenance=later:NoExecute",
            "--overwrite",
        ],
    )?;
    ensure!(out.status.success(), "{out:?}");
    let out = karmada(&server, &["uncordon", "member1"])?;
    ensure!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "cluster/member1 uncordoned"
    );
    assert_eq!(taints(&kubectl)?, "maintenance=later:NoExecute");
    // Uncordoning twice is fine.
    ensure!(karmada(&server, &["uncordon", "member1"])?.status.success());
    Ok(())
}
