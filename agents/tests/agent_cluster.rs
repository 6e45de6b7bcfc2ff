//! The pull agent's cluster side against an in-process federation and member: registration
//! (create, adopt, refuse Push), Ready and the member's inventory in the Cluster status, and a
//! heartbeat Lease that keeps renewing after the member goes down.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use karmada_agents::agent::cluster::{self, Error, Registration};
use karmada_agents::member::kubelet;
use karmada_api::cluster::{CONDITION_COMPLETE_API_ENABLEMENTS, CONDITION_READY, Cluster};
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::{Value, json};
use support::{Apiserver, eventually};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

const NAME: &str = "member1";

/// Test-speed periods: every few hundred milliseconds instead of seconds.
fn registration(endpoint: &str) -> Registration {
    let mut r = Registration::new(NAME, endpoint);
    r.provider = Some("kind".into());
    r.region = Some("eu-west".into());
    r.zone = Some("eu-west-1a".into());
    r.labels = BTreeMap::from([("team".into(), "blue".into())]);
    r.lease_duration = Duration::from_secs(2);
    r.lease_renew_period = Duration::from_millis(200);
    r.status_period = Duration::from_millis(200);
    r.probe_period = Duration::from_millis(200);
    r.failure_threshold = Duration::from_secs(1);
    r.request_timeout = Duration::from_secs(2);
    r
}

struct Agent {
    cancel: CancellationToken,
    task: JoinHandle<Result<(), Error>>,
}

impl Agent {
    fn start(federation: &Client, member: &Client, registration: Registration) -> Agent {
        let cancel = CancellationToken::new();
        let task = tokio::spawn(cluster::run(
            federation.clone(),
            member.clone(),
            registration,
            cancel.clone(),
        ));
        Agent { cancel, task }
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .context("agent did not stop on cancel")???;
        Ok(())
    }
}

/// A member with three 4-CPU/8Gi nodes, its scheduler and kubelets.
async fn member(tasks: &mut JoinSet<()>) -> anyhow::Result<Apiserver> {
    let member = support::apiserver().await?;
    let nodes = kubelet::Config {
        nodes: 3,
        cpu: "4".into(),
        memory: "8Gi".into(),
        pods: 110,
        heartbeat: Duration::from_secs(1),
        ..kubelet::Config::default()
    };
    support::spawn_nodes(tasks, &member.client, &member.cancel, nodes);
    Ok(member)
}

async fn create_pod(client: &Client, name: &str, spec: Value) -> anyhow::Result<()> {
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }))?;
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await?;
    Ok(())
}

fn container(name: &str, cpu: &str, memory: &str) -> Value {
    json!({"name": name, "image": "nginx", "resources": {"requests": {"cpu": cpu, "memory": memory}}})
}

/// The Cluster once `check` accepts it, else the deadline error with what it said last.
async fn cluster_when(
    federation: &Client,
    what: &str,
    check: impl Fn(&Cluster) -> Result<(), String>,
) -> anyhow::Result<Cluster> {
    let clusters: Api<Cluster> = Api::all(federation.clone());
    eventually(what, || {
        let clusters = clusters.clone();
        let check = &check;
        async move {
            Ok(match clusters.get_opt(NAME).await? {
                None => Err("no Cluster yet".into()),
                Some(c) => check(&c).map(|()| c),
            })
        }
    })
    .await
}

fn ready(c: &Cluster) -> Option<(String, String)> {
    let cond = c
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == CONDITION_READY)?;
    Some((cond.status.clone(), cond.reason.clone()))
}

fn quantities(
    map: &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
) -> Value {
    json!(
        map.iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect::<BTreeMap<_, _>>()
    )
}

#[tokio::test]
async fn registers_a_pull_cluster_and_reports_the_members_inventory() -> anyhow::Result<()> {
    let federation = support::federation().await?;
    let mut tasks = JoinSet::new();
    let member = member(&mut tasks).await?;
    // Bound: 500m + max(1 CPU, 2-CPU init container) = 2500m; unschedulable: 100 CPUs.
    create_pod(
        &member.client,
        "small",
        json!({"containers": [container("c", "500m", "256Mi")]}),
    )
    .await?;
    create_pod(
        &member.client,
        "with-init",
        json!({"initContainers": [container("init", "2", "64Mi")], "containers": [container("c", "1", "1Gi")]}),
    )
    .await?;
    create_pod(
        &member.client,
        "huge",
        json!({"containers": [container("c", "100", "1Gi")]}),
    )
    .await?;

    let agent = Agent::start(
        &federation.client,
        &member.client,
        registration(&member.running.url()),
    );

    let c = cluster_when(
        &federation.client,
        "Cluster registered and Ready",
        |c| match ready(c) {
            Some((s, r)) if s == "True" && r == "ClusterReady" => Ok(()),
            other => Err(format!("Ready is {other:?}")),
        },
    )
    .await?;
    assert_eq!(c.spec.sync_mode.as_str(), "Pull");
    assert_eq!(
        c.spec.api_endpoint.as_deref(),
        Some(member.running.url().as_str())
    );
    assert_eq!(c.spec.provider.as_deref(), Some("kind"));
    assert_eq!(c.spec.region.as_deref(), Some("eu-west"));
    assert_eq!(c.spec.zones, ["eu-west-1a"]);
    assert_eq!(c.metadata.labels.as_ref().unwrap()["team"], "blue");

    let c = cluster_when(
        &federation.client,
        "inventory of 3 nodes and 2 bound pods",
        |c| {
            let status = c.status.as_ref().ok_or("no status")?;
            let nodes = status.node_summary.as_ref().ok_or("no nodeSummary")?;
            let resources = status
                .resource_summary
                .as_ref()
                .ok_or("no resourceSummary")?;
            let allocated = quantities(&resources.allocated);
            if nodes.ready_num != Some(3) || allocated["pods"] != "2" {
                return Err(format!("nodes {nodes:?}, allocated {allocated}"));
            }
            Ok(())
        },
    )
    .await?;
    let status = c.status.unwrap();
    let resources = status.resource_summary.unwrap();
    assert_eq!(status.node_summary.unwrap().total_num, Some(3));
    assert_eq!(
        quantities(&resources.allocatable),
        json!({"cpu": "12", "memory": "24Gi", "pods": "330", "ephemeral-storage": "300Gi"})
    );
    assert_eq!(
        quantities(&resources.allocated),
        json!({"cpu": "2500m", "memory": "1280Mi", "ephemeral-storage": "0", "pods": "2"})
    );
    assert_eq!(
        quantities(&resources.allocating),
        json!({"cpu": "100", "memory": "1Gi", "ephemeral-storage": "0", "pods": "1"})
    );

    let version = member.client.apiserver_version().await?.git_version;
    assert_eq!(status.kubernetes_version.as_deref(), Some(version.as_str()));
    let apps = status
        .api_enablements
        .iter()
        .find(|e| e.group_version == "apps/v1")
        .context("apps/v1 not in apiEnablements")?;
    assert!(
        apps.resources
            .iter()
            .any(|r| r.name == "deployments" && r.kind == "Deployment"),
        "{apps:?}"
    );
    assert!(apps.resources.iter().all(|r| !r.name.contains('/')));
    let complete = status
        .conditions
        .iter()
        .find(|c| c.type_ == CONDITION_COMPLETE_API_ENABLEMENTS)
        .context("no CompleteAPIEnablements condition")?;
    assert_eq!(complete.status, "True", "{complete:?}");

    agent.stop().await?;
    member.cancel.cancel();
    federation.cancel.cancel();
    Ok(())
}

#[tokio::test]
async fn adopts_an_existing_pull_cluster_and_updates_its_labels() -> anyhow::Result<()> {
    let federation = support::federation().await?;
    let member = support::apiserver().await?;
    let existing: Cluster = serde_json::from_value(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": NAME, "labels": {"team": "red", "owner": "ops"}},
        "spec": {"syncMode": "Pull", "apiEndpoint": "https://old.example:6443"},
    }))?;
    let created = Api::<Cluster>::all(federation.client.clone())
        .create(&PostParams::default(), &existing)
        .await?;

    let agent = Agent::start(
        &federation.client,
        &member.client,
        registration(&member.running.url()),
    );
    let c = cluster_when(&federation.client, "adopted Cluster relabelled", |c| {
        let labels = c.metadata.labels.clone().unwrap_or_default();
        match labels.get("team").map(String::as_str) {
            Some("blue") => Ok(()),
            other => Err(format!("team label {other:?}")),
        }
    })
    .await?;
    assert_eq!(
        c.metadata.uid, created.metadata.uid,
        "the Cluster was replaced, not adopted"
    );
    assert_eq!(c.metadata.labels.as_ref().unwrap()["owner"], "ops");
    assert_eq!(
        c.spec.api_endpoint.as_deref(),
        Some(member.running.url().as_str())
    );
    assert_eq!(c.spec.region.as_deref(), Some("eu-west"));

    agent.stop().await?;
    member.cancel.cancel();
    federation.cancel.cancel();
    Ok(())
}

#[tokio::test]
async fn refuses_a_cluster_registered_in_push_mode() -> anyhow::Result<()> {
    let federation = support::federation().await?;
    let member = support::apiserver().await?;
    let push: Cluster = serde_json::from_value(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": NAME},
        "spec": {"syncMode": "Push", "apiEndpoint": "https://member1.example:6443"},
    }))?;
    Api::<Cluster>::all(federation.client.clone())
        .create(&PostParams::default(), &push)
        .await?;

    let agent = Agent::start(
        &federation.client,
        &member.client,
        registration(&member.running.url()),
    );
    let result = tokio::time::timeout(support::DEADLINE, agent.task)
        .await
        .context("agent kept running against a Push cluster")??;
    let err = result.expect_err("a Push cluster must be refused");
    assert!(matches!(err, Error::PushMode { .. }), "{err}");
    assert!(err.to_string().contains("Push mode"), "{err}");
    let c = Api::<Cluster>::all(federation.client.clone())
        .get(NAME)
        .await?;
    assert_eq!(c.spec.sync_mode.as_str(), "Push");
    assert_eq!(
        c.spec.api_endpoint.as_deref(),
        Some("https://member1.example:6443")
    );

    member.cancel.cancel();
    federation.cancel.cancel();
    Ok(())
}

/// The Lease's renewTime, once it exists.
async fn renew_time(leases: &Api<Lease>) -> anyhow::Result<Option<jiff::Timestamp>> {
    Ok(leases
        .get_opt(NAME)
        .await?
        .and_then(|l| l.spec?.renew_time)
        .map(|t| t.0))
}

async fn renewed_after(
    leases: &Api<Lease>,
    after: jiff::Timestamp,
    what: &str,
) -> anyhow::Result<jiff::Timestamp> {
    eventually(what, || async move {
        Ok(match renew_time(leases).await? {
            Some(t) if t > after => Ok(t),
            other => Err(format!(
                "renewTime {other:?}, waiting for later than {after}"
            )),
        })
    })
    .await
}

#[tokio::test]
async fn lease_keeps_renewing_after_the_member_goes_down() -> anyhow::Result<()> {
    let federation = support::federation().await?;
    let mut tasks = JoinSet::new();
    let member = member(&mut tasks).await?;
    let agent = Agent::start(
        &federation.client,
        &member.client,
        registration(&member.running.url()),
    );

    let c = cluster_when(&federation.client, "Cluster Ready", |c| match ready(c) {
        Some((s, _)) if s == "True" => Ok(()),
        other => Err(format!("Ready is {other:?}")),
    })
    .await?;
    let leases: Api<Lease> = Api::namespaced(federation.client.clone(), "karmada-cluster");
    let first = renewed_after(&leases, jiff::Timestamp::UNIX_EPOCH, "heartbeat Lease").await?;
    let lease = leases.get(NAME).await?;
    let spec = lease.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(NAME));
    assert_eq!(spec.lease_duration_seconds, Some(2));
    let owner = &lease.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Cluster", NAME)
    );
    assert_eq!(Some(&owner.uid), c.metadata.uid.as_ref());
    renewed_after(&leases, first, "Lease renewal").await?;

    // The member's apiserver, scheduler and kubelets all stop.
    member.cancel.cancel();
    while tasks.join_next().await.is_some() {}
    member.running.shutdown().await;

    let c = cluster_when(
        &federation.client,
        "Ready False after the member stopped",
        |c| match ready(c) {
            Some((s, r)) if s == "False" && r == "ClusterNotReachable" => Ok(()),
            other => Err(format!("Ready is {other:?}")),
        },
    )
    .await?;
    // The last inventory is kept while the member is unreachable.
    assert_eq!(c.status.unwrap().node_summary.unwrap().total_num, Some(3));
    let down = renew_time(&leases).await?.context("Lease disappeared")?;
    renewed_after(&leases, down, "Lease renewal while the member is down").await?;

    agent.stop().await?;
    federation.cancel.cancel();
    Ok(())
}
