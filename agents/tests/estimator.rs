//! The agent's replica estimator over real gRPC against an in-process member: answers counted
//! node by node from live nodes and pods, following changes, unschedulable pods of a workload
//! counted by owner chain, and clear refusals.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use karmada_agents::agent::estimator;
use karmada_estimator::Client;
use karmada_estimator::request::{
    MaxAvailableReplicas, ReplicaRequirements, Toleration, UnschedulableReplicas, WorkloadRef,
};
use karmada_estimator::tonic::Code;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::{Apiserver, eventually};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const CLUSTER: &str = "member1";

/// A member apiserver with its estimator served on a loopback port, and a client of it.
struct Fixture {
    member: Apiserver,
    client: Client,
    server: JoinHandle<Result<(), estimator::Error>>,
}

impl Fixture {
    async fn start() -> anyhow::Result<Fixture> {
        let member = support::apiserver().await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let server = tokio::spawn(estimator::serve(
            listener,
            CLUSTER.into(),
            member.client.clone(),
            member.cancel.child_token(),
        ));
        let client = Client::connect(&addr, Duration::from_secs(5)).await?;
        Ok(Fixture {
            member,
            client,
            server,
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.member.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.server).await???;
        Ok(())
    }

    /// Asks until the estimator answers `want`, tolerating `Unavailable` while it syncs.
    async fn expect_max(
        &self,
        what: &str,
        r: &ReplicaRequirements,
        want: i32,
    ) -> anyhow::Result<()> {
        let request = MaxAvailableReplicas {
            cluster: CLUSTER.into(),
            requirements: r.clone(),
        };
        eventually(what, || async {
            match self.client.max_available_replicas(request.clone()).await {
                Ok(got) if got == want => Ok(Ok(())),
                Ok(got) => Ok(Err(format!("{got} replicas"))),
                Err(e) if e.code() == Some(Code::Unavailable) => Ok(Err(e.to_string())),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn node(&self, name: &str, cpu: &str, labels: Value, spec: Value) -> anyhow::Result<()> {
        let nodes: Api<Node> = Api::all(self.member.client.clone());
        let node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels}, "spec": spec}))?;
        nodes.create(&PostParams::default(), &node).await?;
        let status = json!({"status": {
            "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await?;
        Ok(())
    }

    /// Creates `object` in `default` and returns its uid.
    async fn create(&self, object: Value) -> anyhow::Result<String> {
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let gvk = kube::api::GroupVersionKind::gvk("apps", "v1", &kind);
        let (resource, _) = kube::discovery::pinned_kind(&self.member.client, &gvk).await?;
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(self.member.client.clone(), "default", &resource);
        let created = api
            .create(&PostParams::default(), &serde_json::from_value(object)?)
            .await?;
        created
            .metadata
            .uid
            .ok_or_else(|| anyhow::anyhow!("{kind} created without a uid"))
    }

    async fn pod(&self, name: &str, metadata: Value, spec: Value) -> anyhow::Result<()> {
        let pods: Api<Pod> = Api::namespaced(self.member.client.clone(), "default");
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": "app", "image": "busybox"}]}});
        pod["metadata"]["name"] = json!(name);
        for (k, v) in spec.as_object().into_iter().flatten() {
            pod["spec"][k] = v.clone();
        }
        pods.create(&PostParams::default(), &serde_json::from_value(pod)?)
            .await?;
        Ok(())
    }

    async fn bound_pod(&self, name: &str, node: &str, cpu: &str) -> anyhow::Result<()> {
        self.pod(
            name,
            json!({}),
            json!({"nodeName": node, "containers": [{"name": "app",
            "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]}),
        )
        .await
    }
}

/// An apps/v1 workload of `kind` with no replicas, optionally controlled by `owner`.
fn workload(kind: &str, name: &str, owner: Option<Value>) -> Value {
    json!({"apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": name, "ownerReferences": owner.into_iter().collect::<Vec<_>>()},
        "spec": {"replicas": 0, "serviceName": name, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "busybox"}]}}}})
}

fn owner(kind: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": true})
}

fn cpu(amount: &str) -> ReplicaRequirements {
    ReplicaRequirements {
        resource_request: BTreeMap::from([("cpu".into(), amount.into())]),
        namespace: "default".into(),
        ..ReplicaRequirements::default()
    }
}

#[tokio::test]
async fn answers_node_by_node_and_follow_the_member() -> anyhow::Result<()> {
    let f = Fixture::start().await?;
    f.node("node-a", "2", json!({"zone": "a"}), json!({}))
        .await?;
    f.node(
        "node-b",
        "2",
        json!({"zone": "b", "disk": "ssd"}),
        json!({}),
    )
    .await?;
    f.bound_pod("a-used", "node-a", "500m").await?;
    f.bound_pod("b-used", "node-b", "1500m").await?;

    // node-a has 1500m free (one replica), node-b 500m (none): 2 CPUs free in sum, 1 replica.
    let one_cpu = cpu("1");
    f.expect_max("one replica on node-a only", &one_cpu, 1)
        .await?;
    let ssd = ReplicaRequirements {
        node_selector: BTreeMap::from([("disk".into(), "ssd".into())]),
        ..cpu("1")
    };
    f.expect_max("the selector leaves only the full node-b", &ssd, 0)
        .await?;

    // A tainted node with 4 free CPUs counts only for a replica that tolerates the taint.
    f.node(
        "node-c",
        "4",
        json!({"zone": "c"}),
        json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}),
    )
    .await?;
    let tolerating = ReplicaRequirements {
        tolerations: vec![Toleration {
            key: Some("dedicated".into()),
            operator: Some("Equal".into()),
            value: Some("gpu".into()),
            effect: Some("NoSchedule".into()),
        }],
        ..cpu("1")
    };
    f.expect_max("the tolerated node-c adds four", &tolerating, 5)
        .await?;
    f.expect_max("the taint keeps node-c out", &one_cpu, 1)
        .await?;

    // Deleting node-b's pod frees two replicas' worth there.
    let pods: Api<Pod> = Api::namespaced(f.member.client.clone(), "default");
    // Forced: no kubelet runs here to finish a graceful deletion.
    pods.delete("b-used", &DeleteParams::default().grace_period(0))
        .await?;
    f.expect_max("node-b empty after the deletion", &one_cpu, 3)
        .await?;
    f.expect_max("the selector now finds node-b's room", &ssd, 2)
        .await?;
    f.stop().await
}

#[tokio::test]
async fn counts_pods_unschedulable_longer_than_the_threshold() -> anyhow::Result<()> {
    let f = Fixture::start().await?;
    // Owners must exist: the apiserver's garbage collector removes orphans of missing owners.
    let mut uids = BTreeMap::new();
    for (kind, name) in [
        ("Deployment", "web"),
        ("Deployment", "api"),
        ("StatefulSet", "db"),
    ] {
        uids.insert(name, f.create(workload(kind, name, None)).await?);
    }
    for (rs, deployment) in [("web-1", "web"), ("api-1", "api")] {
        let owner = owner("Deployment", deployment, &uids[deployment]);
        uids.insert(rs, f.create(workload("ReplicaSet", rs, Some(owner))).await?);
    }
    let long_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10)).to_string();
    let just_now = jiff::Timestamp::now().to_string();
    // (pod, controller kind, controller name, unschedulable since)
    let pods = [
        ("web-old", "ReplicaSet", "web-1", long_ago.as_str()),
        ("web-new", "ReplicaSet", "web-1", just_now.as_str()),
        ("api-old", "ReplicaSet", "api-1", long_ago.as_str()),
        ("db-0", "StatefulSet", "db", long_ago.as_str()),
    ];
    let api: Api<Pod> = Api::namespaced(f.member.client.clone(), "default");
    for (name, kind, owner_name, since) in pods {
        let metadata = json!({"ownerReferences": [owner(kind, owner_name, &uids[owner_name])]});
        f.pod(name, metadata, json!({})).await?;
        let status = json!({"status": {"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/0 nodes are available", "lastTransitionTime": since}]}});
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await?;
    }
    // A pod of web bound to a node is not waiting, whatever its old condition says.
    f.bound_pod("web-running", "node-a", "100m").await?;

    let ask = |kind: &str, name: &str, threshold: u64| UnschedulableReplicas {
        cluster: CLUSTER.into(),
        workload: WorkloadRef {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            namespace: "default".into(),
            name: name.into(),
        },
        threshold: Duration::from_secs(threshold),
    };
    let cases = [
        ("web past a minute", ask("Deployment", "web", 60), 1),
        ("web past an hour", ask("Deployment", "web", 3600), 0),
        ("db past a minute", ask("StatefulSet", "db", 60), 1),
        (
            "a Deployment named db owns nothing",
            ask("Deployment", "db", 60),
            0,
        ),
    ];
    for (what, request, want) in cases {
        eventually(what, || async {
            match f.client.unschedulable_replicas(request.clone()).await {
                Ok(got) if got == want => Ok(Ok(())),
                Ok(got) => Ok(Err(format!("{got} unschedulable"))),
                Err(e) if e.code() == Some(Code::Unavailable) => Ok(Err(e.to_string())),
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    }
    f.stop().await
}

#[tokio::test]
async fn refuses_other_clusters_and_bad_quantities() -> anyhow::Result<()> {
    let f = Fixture::start().await?;
    let misrouted = MaxAvailableReplicas {
        cluster: "member2".into(),
        requirements: cpu("1"),
    };
    let err = f
        .client
        .max_available_replicas(misrouted)
        .await
        .expect_err("another cluster's request");
    assert_eq!(err.code(), Some(Code::InvalidArgument), "{err}");
    assert!(
        err.to_string()
            .contains("serves cluster \"member1\", not \"member2\""),
        "{err}"
    );

    let bad = MaxAvailableReplicas {
        cluster: CLUSTER.into(),
        requirements: cpu("lots"),
    };
    let err = eventually("a refusal once synced", || async {
        match f.client.max_available_replicas(bad.clone()).await {
            Ok(got) => Err(anyhow::anyhow!("answered {got} for a bad quantity")),
            Err(e) if e.code() == Some(Code::Unavailable) => Ok(Err(e.to_string())),
            Err(e) => Ok(Ok(e)),
        }
    })
    .await?;
    assert_eq!(err.code(), Some(Code::InvalidArgument), "{err}");
    assert!(
        err.to_string()
            .contains("replica_requirements.resource_request[cpu]: invalid quantity \"lots\""),
        "{err}"
    );
    f.stop().await
}
