//! A member cluster driven by the real kubectl: scheduling by capacity, rollouts and undo,
//! Service addresses and EndpointSlices.

mod support;

use std::time::Duration;

use anyhow::{Context, ensure};
use support::apiserver::{ApiServer, Store};
use support::kubectl::Kubectl;
use support::poll;

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 10
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        resources: {requests: {cpu: \"1\"}}
";

fn pods_in_phase(k: &Kubectl, phase: &str) -> anyhow::Result<usize> {
    let out = k.ok(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "--field-selector",
        &format!("status.phase={phase}"),
        "-o",
        "name",
    ])?;
    Ok(out.lines().filter(|l| !l.trim().is_empty()).count())
}

#[test]
fn deployment_is_scheduled_by_capacity_rolled_and_undone() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let member = ApiServer::start_command(
        &["member", "--name", "m1", "--nodes", "2", "--node-cpu", "4"],
        Store::Embedded(data.path()),
    )?;
    let k = Kubectl::new(&member)?;
    let run = || -> anyhow::Result<()> {
        poll::until("2 Ready nodes", Duration::from_secs(20), || {
            let out = k.ok(&["get", "nodes"]).map_err(|e| e.to_string())?;
            let ready = out.lines().filter(|l| l.contains(" Ready ")).count();
            if ready == 2 { Ok(()) } else { Err(out) }
        })?;
        k.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT)?;
        poll::until(
            "8 Running and 2 Pending pods",
            Duration::from_secs(30),
            || {
                let running = pods_in_phase(&k, "Running").map_err(|e| e.to_string())?;
                let pending = pods_in_phase(&k, "Pending").map_err(|e| e.to_string())?;
                if (running, pending) == (8, 2) {
                    Ok(())
                } else {
                    Err(format!("{running} running, {pending} pending"))
                }
            },
        )?;
        poll::until("FailedScheduling events", Duration::from_secs(20), || {
            let events = k
                .ok(&[
                    "get",
                    "events",
                    "--field-selector",
                    "reason=FailedScheduling",
                ])
                .map_err(|e| e.to_string())?;
            if events.contains("0/2 nodes are available: 2 Insufficient cpu.") {
                Ok(())
            } else {
                Err(events)
            }
        })?;
        poll::until("8 ready replicas", Duration::from_secs(20), || {
            let ready = k
                .ok(&[
                    "get",
                    "deploy",
                    "web",
                    "-o",
                    "jsonpath={.status.readyReplicas}",
                ])
                .map_err(|e| e.to_string())?;
            if ready.trim() == "8" {
                Ok(())
            } else {
                Err(format!("ready replicas: {ready}"))
            }
        })?;

        k.ok(&["scale", "deploy", "web", "--replicas=8"])?;
        k.ok(&["rollout", "status", "deploy/web", "--timeout=60s"])?;
        ensure!(
            pods_in_phase(&k, "Pending")? == 0,
            "pods still pending after scaling to 8"
        );

        k.ok(&["set", "image", "deploy/web", "nginx=nginx:1.26"])?;
        k.ok(&["rollout", "status", "deploy/web", "--timeout=60s"])?;
        let images = k.ok(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ])?;
        ensure!(
            images.split_whitespace().all(|i| i == "nginx:1.26"),
            "images after the rollout: {images}"
        );

        k.ok(&["rollout", "undo", "deploy/web"])?;
        k.ok(&["rollout", "status", "deploy/web", "--timeout=60s"])?;
        let image = k.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])?;
        ensure!(image.trim() == "nginx:1.25", "image after undo: {image}");

        k.ok(&["expose", "deploy", "web", "--port", "80"])?;
        let ip = poll::until("a ClusterIP", Duration::from_secs(20), || {
            let ip = k
                .ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"])
                .map_err(|e| e.to_string())?;
            if ip.starts_with("10.96.") {
                Ok(ip)
            } else {
                Err(format!("clusterIP {ip:?}"))
            }
        })?;
        ensure!(
            ip != "10.96.0.1",
            "the first address belongs to the kubernetes service"
        );
        poll::until(
            "an EndpointSlice of exactly the ready pods",
            Duration::from_secs(20),
            || {
                let mut ready: Vec<String> = k
                    .ok(&[
                        "get",
                        "pods",
                        "-l",
                        "app=web",
                        "--field-selector",
                        "status.phase=Running",
                        "-o",
                        "jsonpath={.items[*].status.podIP}",
                    ])
                    .map_err(|e| e.to_string())?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                let slice = k
                    .ok(&[
                        "get",
                        "endpointslices",
                        "-l",
                        "kubernetes.io/service-name=web",
                        "-o",
                        "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}",
                    ])
                    .map_err(|e| e.to_string())?;
                let mut listed: Vec<String> =
                    slice.split_whitespace().map(str::to_string).collect();
                ready.sort();
                listed.sort();
                if !ready.is_empty() && ready == listed {
                    Ok(())
                } else {
                    Err(format!("ready pods {ready:?}, slice {listed:?}"))
                }
            },
        )?;

        let node = k.ok(&["describe", "node", "m1-node-0"])?;
        for want in [
            "Allocatable:",
            "Non-terminated Pods:",
            "Allocated resources:",
            "cpu                4 (100%)",
        ] {
            ensure!(
                node.contains(want),
                "`describe node` lacks {want:?}:\n{node}"
            );
        }
        Ok(())
    };
    run().with_context(|| format!("member log:\n{}", member.log()))
}

const WORKLOADS: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: fluent-bit:3}]
";

#[test]
fn statefulsets_daemonsets_jobs_and_namespace_defaults_work_with_kubectl() -> anyhow::Result<()> {
    let member =
        ApiServer::start_command(&["member", "--name", "m2", "--nodes", "2"], Store::Memory)?;
    let k = Kubectl::new(&member)?;
    // Every namespace carries the cluster CA and a default ServiceAccount.
    poll::until(
        "kube-root-ca.crt in default",
        Duration::from_secs(20),
        || {
            let out = k
                .run(&[
                    "get",
                    "configmap",
                    "kube-root-ca.crt",
                    "-o",
                    "jsonpath={.data.ca\\.crt}",
                ])
                .map_err(|e| e.to_string())?;
            if out.stdout.starts_with("-----BEGIN CERTIFICATE-----") {
                Ok(())
            } else {
                Err(format!("{}{}", out.stdout, out.stderr))
            }
        },
    )?;
    k.ok(&["get", "serviceaccount", "default"])?;

    k.ok_stdin(&["apply", "-f", "-"], WORKLOADS)?;
    for rollout in ["statefulset/db", "daemonset/agent"] {
        let out = k.ok(&["rollout", "status", rollout, "--timeout=60s"])?;
        ensure!(
            out.contains("rolled out") || out.contains("complete"),
            "{rollout}: {out}"
        );
    }
    let pods = k.ok(&["get", "pods", "-l", "app=db", "-o", "name"])?;
    ensure!(
        pods.contains("pod/db-0") && pods.contains("pod/db-1"),
        "{pods}"
    );
    let agents = k.ok(&["get", "pods", "-l", "app=agent", "-o", "wide"])?;
    ensure!(
        agents.contains("m2-node-0") && agents.contains("m2-node-1"),
        "{agents}"
    );

    k.ok(&["create", "job", "pi", "--image=perl:5.34"])?;
    k.ok(&[
        "wait",
        "--for=condition=complete",
        "job/pi",
        "--timeout=60s",
    ])
    .context("the job did not complete")?;
    let jobs = k.ok(&["get", "jobs"])?;
    ensure!(jobs.contains("1/1"), "{jobs}");
    Ok(())
}
