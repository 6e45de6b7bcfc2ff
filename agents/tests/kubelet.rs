//! The simulated kubelets against the in-process apiserver: nodes and leases registered, bound
//! pods turning Running and Ready with an IP from their node's subnet, unready on demand, Job
//! pods succeeding, deleted pods going away.

mod support;

use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use karmada_agents::member::kubelet::{self, Config, UNREADY_ANNOTATION};
use karmada_agents::member::runtime::{Context, pod_ready};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Cluster {
    client: Client,
    cancel: CancellationToken,
    running: karmada_apiserver::server::Running,
    kubelet: tokio::task::JoinHandle<Result<(), kubelet::Error>>,
}

async fn cluster(config: Config) -> Result<Cluster> {
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let ctx = Context::new(client.clone(), "kubelet", cancel.clone());
    let kubelet = tokio::spawn(kubelet::run(Arc::clone(&ctx), config));
    Ok(Cluster {
        client,
        cancel,
        running,
        kubelet,
    })
}

impl Cluster {
    async fn stop(self) -> Result<()> {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.kubelet)
            .await
            .context("kubelet did not stop on cancel")???;
        self.running.shutdown().await;
        Ok(())
    }
}

/// Polls `check` until it yields a value or `deadline` passes.
async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if start.elapsed() > deadline {
            bail!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn config(nodes: usize) -> Config {
    Config {
        nodes,
        name_prefix: "member1-node".into(),
        labels: kubelet::topology_labels(Some("r1"), Some("z1"), None),
        pod_cidr: "10.7.0.0/16".into(),
        ready_delay: Duration::from_millis(300),
        job_duration: Duration::from_secs(1),
        heartbeat: Duration::from_millis(500),
        ..Config::default()
    }
}

async fn create_bound(client: &Client, name: &str, node: &str, extra: Value) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    });
    if let Some(meta) = extra.get("metadata").and_then(Value::as_object) {
        for (k, v) in meta {
            pod["metadata"][k] = v.clone();
        }
    }
    pods.create(&PostParams::default(), &serde_json::from_value(pod)?)
        .await?;
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    let _: Value = pods
        .create_subresource("binding", name, &PostParams::default(), &binding)
        .await?;
    Ok(())
}

async fn get_pod(client: &Client, name: &str) -> Result<Option<Pod>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    Ok(pods.get_opt(name).await?)
}

#[tokio::test]
async fn nodes_register_with_capacity_and_leases() -> Result<()> {
    let c = cluster(config(3)).await?;
    let nodes: Api<Node> = Api::all(c.client.clone());
    let listed = eventually("3 ready nodes", Duration::from_secs(10), || async {
        let list = nodes.list(&ListParams::default()).await?;
        let ready = list.items.iter().filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        });
        Ok((ready.count() == 3).then_some(list.items))
    })
    .await?;
    for (i, node) in listed.iter().enumerate() {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        assert_eq!(name, format!("member1-node-{i}"));
        let status = node.status.as_ref().context("status")?;
        let capacity = status.capacity.as_ref().context("capacity")?;
        assert_eq!(capacity["cpu"].0, "8");
        assert_eq!(capacity["memory"].0, "32Gi");
        assert_eq!(capacity["pods"].0, "110");
        assert_eq!(status.allocatable.as_ref(), Some(capacity));
        let labels = node.metadata.labels.as_ref().context("labels")?;
        assert_eq!(labels["topology.kubernetes.io/zone"], "z1");
        assert_eq!(labels["kubernetes.io/hostname"], name);
        let cidr = node.spec.as_ref().and_then(|s| s.pod_cidr.clone());
        assert_eq!(cidr, Some(format!("10.7.{i}.0/24")));
    }

    let leases: Api<Lease> = Api::namespaced(c.client.clone(), "kube-node-lease");
    let renew = |name: &'static str| {
        let leases = leases.clone();
        async move {
            let lease = leases.get(name).await?;
            let spec = lease.spec.context("lease spec")?;
            assert_eq!(spec.holder_identity.as_deref(), Some(name));
            assert_eq!(spec.lease_duration_seconds, Some(40));
            anyhow::Ok(spec.renew_time.context("renewTime")?.0)
        }
    };
    // Each node's lease loop starts on its own after registration: wait for all three.
    for name in ["member1-node-0", "member1-node-1", "member1-node-2"] {
        eventually("the node's lease", Duration::from_secs(5), || async {
            Ok(leases.get_opt(name).await?.map(|_| ()))
        })
        .await?;
        renew(name).await?;
    }
    let first = renew("member1-node-2").await?;
    eventually("a lease renewal", Duration::from_secs(5), || async {
        Ok((renew("member1-node-2").await? > first).then_some(()))
    })
    .await?;
    c.stop().await
}

#[tokio::test]
async fn pods_run_turn_ready_unready_succeed_and_terminate() -> Result<()> {
    let c = cluster(config(3)).await?;
    let client = c.client.clone();
    let nodes: Api<Node> = Api::all(client.clone());
    eventually("node registration", Duration::from_secs(10), || async {
        Ok(nodes
            .get_opt("member1-node-1")
            .await?
            .and_then(|n| n.status)
            .map(|_| ()))
    })
    .await?;

    // Bound by hand: Running, then Ready after the delay, with an IP of node 1's /24.
    create_bound(&client, "web", "member1-node-1", json!({})).await?;
    let pod = eventually("web Running and Ready", Duration::from_secs(10), || async {
        let pod = get_pod(&client, "web").await?;
        Ok(pod.filter(pod_ready))
    })
    .await?;
    let status = pod.status.context("status")?;
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let ip: Ipv4Addr = status.pod_ip.as_deref().context("podIP")?.parse()?;
    assert_eq!(ip.octets()[..3], [10, 7, 1], "{ip} is outside 10.7.1.0/24");
    assert_eq!(status.host_ip.as_deref(), Some("172.20.0.3"));
    let container = &status.container_statuses.context("containerStatuses")?[0];
    assert!(container.ready && container.started == Some(true));
    assert!(
        container
            .container_id
            .as_deref()
            .is_some_and(|id| id.starts_with("containerd://"))
    );

    // The unready annotation turns Ready False; removing it restores Ready.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let annotate = |value: Value| {
        let pods = pods.clone();
        async move {
            let patch = json!({"metadata": {"annotations": {UNREADY_ANNOTATION: value}}});
            pods.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
                .await
        }
    };
    annotate(json!("true")).await?;
    let pod = eventually("web unready", Duration::from_secs(10), || async {
        Ok(get_pod(&client, "web").await?.filter(|p| !pod_ready(p)))
    })
    .await?;
    let ready = pod
        .status
        .and_then(|s| s.conditions)
        .and_then(|c| c.into_iter().find(|c| c.type_ == "Ready"))
        .context("Ready condition")?;
    assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
    annotate(Value::Null).await?;
    eventually("web ready again", Duration::from_secs(10), || async {
        Ok(get_pod(&client, "web").await?.filter(pod_ready).map(|_| ()))
    })
    .await?;

    // A pod owned by a Job succeeds after the job duration.
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = jobs
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "batch"},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "work", "image": "busybox"}]}}},
            }))?,
        )
        .await?;
    let owner = json!({"metadata": {"ownerReferences": [{
        "apiVersion": "batch/v1", "kind": "Job", "name": "batch",
        "uid": job.metadata.uid, "controller": true,
    }]}});
    create_bound(&client, "batch-x1", "member1-node-0", owner).await?;
    let done = eventually("job pod Succeeded", Duration::from_secs(10), || async {
        let pod = get_pod(&client, "batch-x1").await?;
        Ok(pod.filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")))
    })
    .await?;
    let terminated = done
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|c| c.into_iter().next())
        .and_then(|c| c.state)
        .and_then(|s| s.terminated)
        .context("terminated state")?;
    assert_eq!(terminated.exit_code, 0);
    assert_eq!(terminated.reason.as_deref(), Some("Completed"));

    // Deleting a running pod: graceful mark, then the kubelet removes it.
    pods.delete("web", &DeleteParams::default()).await?;
    eventually("web gone", Duration::from_secs(10), || async {
        Ok(get_pod(&client, "web").await?.is_none().then_some(()))
    })
    .await?;
    // Its IP is free again: the next pod on node 1 gets the same one.
    create_bound(&client, "web2", "member1-node-1", json!({})).await?;
    let reused = eventually("web2 with an IP", Duration::from_secs(10), || async {
        let pod = get_pod(&client, "web2").await?;
        Ok(pod.and_then(|p| p.status?.pod_ip))
    })
    .await?;
    assert_eq!(reused, ip.to_string());
    c.stop().await
}
