//! End to end against a real `karmada up` (port 0, temporary data directory, the real kubectl
//! with the kubeconfig it writes): every sample of the README lands where the README says,
//! with each replica scheduling type, overrides, status aggregation, namespace propagation,
//! scaling and deletion, on pull and push members mixed; and a stopped federation resumes with
//! its data, its ports and its workloads, leaving no process behind.

mod support;

use std::time::Duration;

use anyhow::{Context, ensure};
use support::poll;
use support::up::{MEMBERS, Up, processes_mentioning, signal};

const DEADLINE: Duration = Duration::from_secs(90);

fn sample(name: &str) -> String {
    format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn up_runs_a_federation_where_every_sample_lands_as_the_readme_says() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let up = Up::start(dir.path(), &["--port", "0", "--push-members", "member3"])?;
    let kubectl = &up.kubectl;

    // The files a user and their tools read.
    let endpoints = up.endpoints()?;
    let apiserver = endpoints["apiserver"].as_str().context("apiserver URL")?;
    ensure!(apiserver.starts_with("https://127.0.0.1:"), "{endpoints}");
    for member in MEMBERS {
        ensure!(endpoints["members"][member].is_string(), "{endpoints}");
    }
    let contexts = kubectl.ok(&["config", "get-contexts", "-o", "name"])?;
    let mut contexts: Vec<&str> = contexts.lines().collect();
    contexts.sort_unstable();
    assert_eq!(contexts, ["karmada", "member1", "member2", "member3"]);
    assert_eq!(
        kubectl.ok(&["config", "current-context"])?.trim(),
        "karmada"
    );

    // Pull and push members mixed, each in its own region.
    let clusters = kubectl.ok(&[
        "get",
        "clusters",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.spec.syncMode},{.spec.region} {end}",
    ])?;
    assert_eq!(
        clusters.trim(),
        "member1=Pull,us-east member2=Pull,us-west member3=Push,eu-central"
    );
    let nodes = kubectl.ok(&["--context", "member1", "get", "nodes", "-o", "name"])?;
    assert_eq!(nodes.lines().count(), 3, "{nodes}");

    // Dynamic weights first, while every member is empty: 12, 8 and 4 replicas of 2 CPU fit.
    kubectl.ok(&["apply", "-f", &sample("dynamic-weights.yaml")])?;
    up.until_placed(
        "web-dynamic",
        &[("member1", 3), ("member2", 2), ("member3", 1)],
    )?;
    up.until_ready("web-dynamic", 6)?;

    kubectl.ok(&["apply", "-f", &sample("static-weights.yaml")])?;
    up.until_placed(
        "web-static",
        &[("member1", 1), ("member2", 2), ("member3", 3)],
    )?;
    up.until_ready("web-static", 6)?;

    // Duplicated over exactly two of the three regions.
    kubectl.ok(&["apply", "-f", &sample("region-spread.yaml")])?;
    poll::until("web-regions in two regions", DEADLINE, || {
        let placed = up.placement("web-regions")?;
        if placed.len() == 2 && placed.values().all(|n| *n == 3) {
            Ok(())
        } else {
            Err(format!("{placed:?}"))
        }
    })
    .with_context(|| up.logs())?;

    // Aggregated: as few clusters as fit, here one.
    kubectl.ok_stdin(&["apply", "-f", "-"], AGGREGATED)?;
    poll::until("web-aggregated in one cluster", DEADLINE, || {
        let placed = up.placement("web-aggregated")?;
        if placed.values().copied().collect::<Vec<_>>() == [4] {
            Ok(())
        } else {
            Err(format!("{placed:?}"))
        }
    })
    .with_context(|| up.logs())?;

    // One OverridePolicy shapes each member's copy differently.
    kubectl.ok(&["apply", "-f", &sample("override-per-cluster.yaml")])?;
    let jsonpath = "jsonpath={.spec.template.spec.containers[0].image}|\
                    {.metadata.labels.tier}|{.metadata.annotations.owner}|\
                    {.spec.template.spec.containers[0].args}";
    for (member, want) in [
        (
            "member1",
            "registry.us-east.example.com/library/nginx:1.25|||[\"-g\",\"daemon off;\"]",
        ),
        (
            "member2",
            "docker.io/library/nginx:1.25-alpine|canary||[\"-g\",\"daemon off;\"]",
        ),
        (
            "member3",
            "docker.io/library/nginx:1.25||team-eu|[\"-g\",\"daemon off;\",\"-e\",\"stderr\"]",
        ),
    ] {
        kubectl
            .until_prints(
                &format!("web-override shaped for {member}"),
                DEADLINE,
                &[
                    "--context",
                    member,
                    "get",
                    "deployment",
                    "web-override",
                    "-o",
                    jsonpath,
                ],
                want,
            )
            .with_context(|| up.logs())?;
    }

    // The exported Service goes with its Deployment to member1 and member2, each copy with a
    // ClusterIP from its member's own range and endpoints for its own pod.
    kubectl.ok(&["apply", "-f", &sample("service-export.yaml")])?;
    for (member, range) in [("member1", "10.1."), ("member2", "10.2.")] {
        poll::until(&format!("hello exported in {member}"), DEADLINE, || {
            let ip = kubectl
                .ok(&[
                    "--context",
                    member,
                    "get",
                    "service",
                    "hello",
                    "-o",
                    "jsonpath={.spec.clusterIP}",
                ])
                .map_err(|e| e.to_string())?;
            kubectl
                .ok(&["--context", member, "get", "serviceexport", "hello"])
                .map_err(|e| e.to_string())?;
            let endpoints = kubectl
                .ok(&[
                    "--context",
                    member,
                    "get",
                    "endpointslices",
                    "-l",
                    "kubernetes.io/service-name=hello",
                    "-o",
                    "jsonpath={.items[*].endpoints[*].addresses[*]}",
                ])
                .map_err(|e| e.to_string())?;
            if ip.starts_with(range) && endpoints.split_whitespace().count() == 1 {
                Ok(())
            } else {
                Err(format!("clusterIP {ip:?}, endpoints {endpoints:?}"))
            }
        })
        .with_context(|| up.logs())?;
    }
    ensure!(
        up.replicas("member3", "hello")
            .map_err(anyhow::Error::msg)?
            .is_none(),
        "hello must not reach member3"
    );

    // Scaling on the federation re-divides by the same weights; the status follows.
    kubectl.ok(&["scale", "deployment", "web-static", "--replicas", "12"])?;
    up.until_placed(
        "web-static",
        &[("member1", 2), ("member2", 4), ("member3", 6)],
    )?;
    up.until_ready("web-static", 12)?;

    // A namespace created in the federation appears in every member.
    kubectl.ok(&["create", "namespace", "team-a"])?;
    for member in MEMBERS {
        kubectl
            .until_prints(
                &format!("namespace team-a in {member}"),
                DEADLINE,
                &[
                    "--context",
                    member,
                    "get",
                    "namespace",
                    "team-a",
                    "-o",
                    "name",
                ],
                "namespace/team-a",
            )
            .with_context(|| up.logs())?;
    }

    // Deleting on the federation removes the workload from every member.
    kubectl.ok(&["delete", "-f", &sample("static-weights.yaml")])?;
    up.until_placed("web-static", &[])?;
    Ok(())
}

/// Four replicas packed into as few clusters as can take them.
const AGGREGATED: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web-aggregated}
spec:
  replicas: 4
  selector: {matchLabels: {app: web-aggregated}}
  template:
    metadata: {labels: {app: web-aggregated}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.25
          resources: {requests: {cpu: 500m}}
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: web-aggregated}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: web-aggregated}]
  placement:
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Aggregated
";

#[test]
fn up_stops_cleanly_and_resumes_the_same_federation() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let needle = dir.path().to_string_lossy().into_owned();
    let mut up = Up::start(dir.path(), &["--members", "2", "--port", "0"])?;
    let before = up.endpoints()?;
    let kubectl = &up.kubectl;
    kubectl.ok(&["apply", "-f", &sample("karmada/nginx/")])?;
    up.until_placed("nginx", &[("member1", 1), ("member2", 1)])?;
    up.until_ready("nginx", 2)?;

    // One federation per data directory.
    let second = Up::start(dir.path(), &[]);
    let refused = format!("{:#}", second.err().context("a second up must be refused")?);
    ensure!(
        refused.contains("another `karmada up` is running"),
        "{refused}"
    );

    // A component that dies is started again.
    let agents = processes_mentioning(&format!("{needle}/member1/kubeconfig"));
    ensure!(
        agents.len() == 1,
        "one agent of member1 expected: {agents:?}"
    );
    signal(agents[0].0, "KILL")?;
    poll::until("member1's agent restarted", DEADLINE, || {
        let now = processes_mentioning(&format!("{needle}/member1/kubeconfig"));
        match now.as_slice() {
            [(pid, _)] if *pid != agents[0].0 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .with_context(|| up.logs())?;

    // SIGTERM stops everything, and nothing is left running.
    let status = up.terminate()?;
    ensure!(
        status.success(),
        "karmada up exited with {status}:\n{}",
        up.logs()
    );
    let left = processes_mentioning(&needle);
    ensure!(left.is_empty(), "processes left running: {left:?}");
    drop(up);

    // Started again with only the data directory: same endpoints, same workload.
    let up = Up::start(dir.path(), &[])?;
    assert_eq!(up.endpoints()?, before);
    up.until_ready("nginx", 2)?;
    up.until_placed("nginx", &[("member1", 1), ("member2", 1)])?;
    // And the controllers run again: scaling reaches the members.
    up.kubectl
        .ok(&["scale", "deployment", "nginx", "--replicas", "4"])?;
    up.until_placed("nginx", &[("member1", 2), ("member2", 2)])?;
    up.until_ready("nginx", 4)?;

    // Flags that contradict the data directory are refused with what to do.
    drop(up);
    let refused = format!(
        "{:#}",
        Up::start(dir.path(), &["--members", "3"])
            .err()
            .context("--members 3 on a 2-member federation must be refused")?
    );
    ensure!(refused.contains("another --data-dir"), "{refused}");
    Ok(())
}

#[test]
fn the_readme_shows_every_sample() -> anyhow::Result<()> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))?;
    let samples = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/samples"))?;
    for entry in samples.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") {
            let command = format!("kubectl apply -f samples/{name}");
            ensure!(
                readme.contains(&command),
                "the README never says `{command}`"
            );
        }
    }
    ensure!(
        readme.contains("karmada up"),
        "the README must start the federation with karmada up"
    );
    Ok(())
}

#[test]
fn up_says_when_its_port_is_taken_and_leaves_nothing_running() -> anyhow::Result<()> {
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port().to_string();
    let dir = tempfile::tempdir()?;
    let needle = dir.path().to_string_lossy().into_owned();
    let started = std::time::Instant::now();
    let refused = format!(
        "{:#}",
        Up::start(dir.path(), &["--port", &port, "--members", "1"])
            .err()
            .context("a taken port must stop karmada up")?
    );
    ensure!(
        refused.contains(&format!("port {port}: is another process using it?"))
            && refused.contains("Address already in use"),
        "{refused}"
    );
    // A component that fails exits at once (it does not wait on its standard input), so the
    // error comes quickly and nothing is left behind.
    ensure!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let left = processes_mentioning(&needle);
    ensure!(left.is_empty(), "processes left running: {left:?}");
    Ok(())
}
