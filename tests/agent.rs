//! The pull agent against a running federation: killed, its cluster turns Ready Unknown within
//! the grace period; a change made while it is away is applied when it returns, to the same
//! member objects (nothing re-created).

mod support;

use std::time::{Duration, Instant};

use support::federation::{Federation, Member, NGINX, NGINX_ON_MEMBER1};
use support::kubectl::Kubectl;
use support::poll;

const GRACE_SECONDS: u64 = 3;
const DEADLINE: Duration = Duration::from_secs(60);

/// Waits for member1's Ready condition to say `status`.
fn until_ready_is(k: &Kubectl, status: &str) -> anyhow::Result<()> {
    k.until_prints(
        &format!("member1 Ready {status}"),
        DEADLINE,
        &[
            "get",
            "cluster",
            "member1",
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
        ],
        status,
    )
}

const IMAGE_ARGS: [&str; 5] = [
    "get",
    "deployment",
    "nginx",
    "-o",
    "jsonpath={.spec.template.spec.containers[0].image}",
];

fn member_deployment(m: &Member, path: &str) -> Result<String, String> {
    m.kubectl
        .ok(&[
            "get",
            "deployment",
            "nginx",
            "-o",
            &format!("jsonpath={path}"),
        ])
        .map_err(|e| e.to_string())
}

#[test]
fn a_killed_agent_leaves_its_cluster_unknown_and_catches_up_when_restarted() -> anyhow::Result<()> {
    let grace = GRACE_SECONDS.to_string();
    let federation = Federation::start(&["--cluster-monitor-grace-period-seconds", &grace])?;
    let mut member1 = Member::start("member1", &federation)?;
    let k = &federation.kubectl;
    let mut run = || -> anyhow::Result<()> {
        until_ready_is(k, "True")?;
        k.ok_stdin(&["apply", "-f", "-"], NGINX)?;
        k.ok_stdin(&["apply", "-f", "-"], NGINX_ON_MEMBER1)?;
        let uid = poll::until("nginx in member1", DEADLINE, || {
            member_deployment(&member1, "{.metadata.uid}")
        })?;

        // The agent dies: the heartbeat stops and the cluster turns Unknown in time.
        let killed = Instant::now();
        member1.agent.stop();
        until_ready_is(k, "Unknown")?;
        let took = killed.elapsed();
        anyhow::ensure!(
            took < Duration::from_secs(GRACE_SECONDS + 5),
            "Unknown only after {took:?} with a {GRACE_SECONDS}s grace period"
        );

        // Meanwhile the template changes; the Work carries it, the member does not yet.
        k.ok(&["set", "image", "deployment/nginx", "nginx=nginx:1.26"])?;
        poll::until("the Work carrying nginx:1.26", DEADLINE, || {
            let works = k
                .ok(&["get", "works", "-n", "karmada-es-member1", "-o", "json"])
                .map_err(|e| e.to_string())?;
            if works.contains("nginx:1.26") {
                Ok(())
            } else {
                Err("old image".into())
            }
        })?;
        let image = member1.kubectl.ok(&IMAGE_ARGS)?;
        anyhow::ensure!(image != "nginx:1.26", "applied without an agent: {image}");

        // The agent returns: the cluster is Ready again and the change lands on the same object.
        member1.agent = Member::agent("member1", &federation, &member1.server)?;
        member1.kubectl.until_prints(
            "nginx:1.26 in member1",
            DEADLINE,
            &IMAGE_ARGS,
            "nginx:1.26",
        )?;
        let after = member_deployment(&member1, "{.metadata.uid}").map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            after == uid,
            "the Deployment was re-created: {uid} -> {after}"
        );
        until_ready_is(k, "True")?;
        Ok(())
    };
    let result = run();
    result.map_err(|e| anyhow::anyhow!("{e:#}\n{}", federation.logs(&[&member1])))
}
