//! End to end: a federation apiserver, controller-manager and scheduler, two member clusters
//! each with its pull agent, all real processes. Karmada's own nginx sample, applied unchanged
//! with the real kubectl, lands one replica in each member with the overrides; the federation
//! shows READY 2/2; narrowing the policy moves the workload; deleting it removes it everywhere.

mod support;

use std::time::Duration;

use support::federation::{Federation, Member, NGINX};
use support::kubectl::Kubectl;
use support::poll;

const POLICY: &str = include_str!("../samples/karmada/nginx/propagationpolicy.yaml");
const OVERRIDES: &str = include_str!("../samples/karmada/nginx/overridepolicy.yaml");
const DEADLINE: Duration = Duration::from_secs(60);
/// `kubectl` arguments printing the nginx Deployment's replicas.
const REPLICAS: [&str; 5] = [
    "get",
    "deployment",
    "nginx",
    "-o",
    "jsonpath={.spec.replicas}",
];

/// Waits until the member has no nginx Deployment.
fn until_gone(m: &Member) -> anyhow::Result<()> {
    poll::until(&format!("nginx gone from {}", m.name), DEADLINE, || {
        let out = m
            .kubectl
            .ok(&["get", "deployments", "-o", "name"])
            .map_err(|e| e.to_string())?;
        if out.contains("nginx") {
            Err(out)
        } else {
            Ok(())
        }
    })
}

/// `kubectl get deploy nginx` columns NAME READY ... as "READY", or an error text.
fn ready_column(k: &Kubectl) -> Result<String, String> {
    let out = k
        .ok(&["get", "deployment", "nginx", "--no-headers"])
        .map_err(|e| e.to_string())?;
    out.split_whitespace().nth(1).map(str::to_string).ok_or(out)
}

#[test]
fn karmadas_nginx_sample_spreads_overrides_aggregates_and_follows_the_policy() -> anyhow::Result<()>
{
    let federation = Federation::start(&[])?;
    let member1 = Member::start("member1", &federation)?;
    let member2 = Member::start("member2", &federation)?;
    let members = [&member1, &member2];
    let k = &federation.kubectl;

    let run = || -> anyhow::Result<()> {
        poll::until("both clusters Ready", DEADLINE, || {
            let out = k.ok(&["get", "clusters"]).map_err(|e| e.to_string())?;
            let ready = out.lines().filter(|l| l.contains("True")).count();
            if ready == 2 { Ok(()) } else { Err(out) }
        })?;
        for manifest in [NGINX, POLICY, OVERRIDES] {
            k.ok_stdin(&["apply", "-f", "-"], manifest)?;
        }

        // One replica in each member, each with its own overrides: labels on member2, an
        // annotation on member1.
        for (m, field, wanted) in [
            (&member1, "annotations", &[r#""env":"skoala-stage""#][..]),
            (
                &member2,
                "labels",
                &[r#""env":"skoala-dev""#, r#""env-stat":"skoala-stage""#][..],
            ),
        ] {
            m.kubectl.until_prints(
                "nginx with 1 replica in the member",
                DEADLINE,
                &REPLICAS,
                "1",
            )?;
            // The OverridePolicy may arrive after the first Work was rendered; the Work is
            // re-rendered when it does.
            let path = format!("jsonpath={{.metadata.{field}}}");
            poll::until(
                &format!("the member's override of {field}"),
                DEADLINE,
                || {
                    let got = m
                        .kubectl
                        .ok(&["get", "deployment", "nginx", "-o", &path])
                        .map_err(|e| e.to_string())?;
                    match wanted.iter().find(|want| !got.contains(*want)) {
                        None => Ok(()),
                        Some(want) => Err(format!("{field} lack {want}: {got}")),
                    }
                },
            )?;
        }
        let member1_labels = member1.kubectl.ok(&[
            "get",
            "deployment",
            "nginx",
            "-o",
            "jsonpath={.metadata.labels}",
        ])?;
        anyhow::ensure!(
            !member1_labels.contains("skoala-dev"),
            "member2's override leaked into member1: {member1_labels}"
        );
        poll::until("READY 2/2 on the federation", DEADLINE, || {
            let ready = ready_column(k)?;
            if ready == "2/2" { Ok(()) } else { Err(ready) }
        })?;

        // Narrowing the policy to member1 removes the workload from member2.
        k.ok(&[
            "patch",
            "propagationpolicy",
            "nginx-propagation",
            "--type=merge",
            "-p",
            r#"{"spec":{"placement":{"clusterAffinity":{"clusterNames":["member1"]}}}}"#,
        ])?;
        until_gone(&member2)?;
        member1
            .kubectl
            .until_prints("both replicas in member1", DEADLINE, &REPLICAS, "2")?;

        // Deleting the template removes it everywhere.
        k.ok(&["delete", "deployment", "nginx"])?;
        for m in members {
            until_gone(m)?;
        }
        Ok(())
    };
    run().map_err(|e| anyhow::anyhow!("{e:#}\n{}", federation.logs(&members)))
}
