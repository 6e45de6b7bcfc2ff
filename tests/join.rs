//! Push mode end to end: `karmada join` registers a member from its kubeconfig and the
//! controller-manager serves it (status, Works) without an agent; a member that goes down turns
//! Ready False; `karmada unjoin` removes the workload from the member, then the Cluster, its
//! execution namespace and its credentials.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use anyhow::Context as _;
use support::federation::{Federation, Member, NGINX, NGINX_ON_MEMBER1};
use support::kubectl::Kubectl;
use support::poll;

const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `karmada <args>` to completion.
fn karmada(args: &[&str]) -> anyhow::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_karmada"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .with_context(|| format!("running karmada {}", args.join(" ")))
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn join(federation: &Federation, name: &str, member_kubeconfig: &str) -> anyhow::Result<Output> {
    karmada(&[
        "join",
        name,
        "--kubeconfig",
        &federation.apiserver.kubeconfig().to_string_lossy(),
        "--cluster-kubeconfig",
        member_kubeconfig,
        "--cluster-region",
        "eu-west",
    ])
}

fn ready(k: &Kubectl, name: &str, field: &str, want: &str) -> anyhow::Result<()> {
    k.until_prints(
        &format!("{name} Ready {field} {want}"),
        DEADLINE,
        &[
            "get",
            "cluster",
            name,
            "-o",
            &format!(r#"jsonpath={{.status.conditions[?(@.type=="Ready")].{field}}}"#),
        ],
        want,
    )
}

/// Waits until `kubectl get <args>` reports NotFound.
fn gone(k: &Kubectl, what: &str, args: &[&str]) -> anyhow::Result<()> {
    poll::until(what, DEADLINE, || {
        let out = k.run(args).map_err(|e| e.to_string())?;
        if !out.status.success() && out.stderr.contains("NotFound") {
            Ok(())
        } else {
            Err(format!("still there: {}", out.stdout))
        }
    })
}

#[test]
fn a_joined_push_cluster_runs_work_without_an_agent_and_unjoin_cleans_up() -> anyhow::Result<()> {
    let federation = Federation::start(&["--cluster-status-update-frequency-seconds", "1"])?;
    let (member1, _data1) = Member::control_plane("member1")?;
    let (member2, _data2) = Member::control_plane("member2")?;
    let k = &federation.kubectl;
    let m1 = Kubectl::new(&member1)?;
    let run = || -> anyhow::Result<()> {
        let joined = join(
            &federation,
            "member1",
            &member1.kubeconfig().to_string_lossy(),
        )?;
        anyhow::ensure!(joined.status.success(), "join failed: {}", text(&joined));
        anyhow::ensure!(
            String::from_utf8_lossy(&joined.stdout).contains("joined in Push mode"),
            "{}",
            text(&joined)
        );
        ready(k, "member1", "status", "True")?;
        let spec = k.ok(&["get", "cluster", "member1", "-o", "jsonpath={.spec.syncMode} {.spec.region} {.spec.secretRef.namespace}/{.spec.secretRef.name}"])?;
        anyhow::ensure!(spec == "Push eu-west karmada-cluster/member1", "{spec}");
        k.until_prints(
            "member1's node summary",
            DEADLINE,
            &[
                "get",
                "cluster",
                "member1",
                "-o",
                "jsonpath={.status.nodeSummary.totalNum}",
            ],
            "2",
        )?;

        // A name already taken is refused.
        let again = join(
            &federation,
            "member1",
            &member1.kubeconfig().to_string_lossy(),
        )?;
        anyhow::ensure!(!again.status.success(), "second join succeeded");
        anyhow::ensure!(
            String::from_utf8_lossy(&again.stderr).contains("already registered"),
            "{}",
            text(&again)
        );

        // Work reaches the member through the controller-manager, and status comes back.
        k.ok_stdin(&["apply", "-f", "-"], NGINX)?;
        k.ok_stdin(&["apply", "-f", "-"], NGINX_ON_MEMBER1)?;
        m1.until_prints(
            "nginx with both replicas in member1",
            DEADLINE,
            &[
                "get",
                "deployment",
                "nginx",
                "-o",
                "jsonpath={.spec.replicas}",
            ],
            "2",
        )?;
        k.until_prints(
            "nginx ready on the federation",
            DEADLINE,
            &[
                "get",
                "deployment",
                "nginx",
                "-o",
                "jsonpath={.status.readyReplicas}",
            ],
            "2",
        )?;

        // A Push member that goes down is seen by the probe: Ready False, not reachable.
        let joined = join(
            &federation,
            "member2",
            &member2.kubeconfig().to_string_lossy(),
        )?;
        anyhow::ensure!(joined.status.success(), "join failed: {}", text(&joined));
        ready(k, "member2", "status", "True")?;
        member2.kill()?;
        ready(k, "member2", "reason", "ClusterNotReachable")?;
        ready(k, "member2", "status", "False")?;

        // Unjoin: the member's copy goes first, then everything the federation held for it.
        let unjoined = karmada(&[
            "unjoin",
            "member1",
            "--kubeconfig",
            &federation.apiserver.kubeconfig().to_string_lossy(),
        ])?;
        anyhow::ensure!(
            unjoined.status.success(),
            "unjoin failed: {}",
            text(&unjoined)
        );
        gone(
            &m1,
            "nginx removed from member1",
            &["get", "deployment", "nginx"],
        )?;
        gone(k, "Cluster member1", &["get", "cluster", "member1"])?;
        gone(
            k,
            "execution namespace",
            &["get", "namespace", "karmada-es-member1"],
        )?;
        gone(
            k,
            "credentials Secret",
            &["get", "secret", "member1", "-n", "karmada-cluster"],
        )?;
        Ok(())
    };
    run().map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\n--- controller-manager\n{}\n--- scheduler\n{}",
            federation.manager.log(),
            federation.scheduler.log()
        )
    })
}

#[test]
fn join_refuses_an_unreachable_member_and_stores_nothing() -> anyhow::Result<()> {
    let federation = Federation::start(&[])?;
    let dir = tempfile::tempdir()?;
    let dead = dir.path().join("dead.kubeconfig");
    std::fs::write(
        &dead,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n\
         users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n\
         current-context: x\n",
    )?;
    let out = join(&federation, "member9", &dead.to_string_lossy())?;
    anyhow::ensure!(!out.status.success(), "join of a dead member succeeded");
    anyhow::ensure!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot reach cluster member9 at http://127.0.0.1:9"),
        "{}",
        text(&out)
    );
    let k = &federation.kubectl;
    gone(k, "no Cluster member9", &["get", "cluster", "member9"])?;
    let unjoin = karmada(&[
        "unjoin",
        "member9",
        "--kubeconfig",
        &federation.apiserver.kubeconfig().to_string_lossy(),
    ])?;
    anyhow::ensure!(
        !unjoin.status.success()
            && String::from_utf8_lossy(&unjoin.stderr).contains("not registered"),
        "{}",
        text(&unjoin)
    );
    Ok(())
}
