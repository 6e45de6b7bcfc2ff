//! The WorkloadRebalancer controller against an in-process federation: it stamps the bindings
//! of the listed workloads with its creation time (the scheduler's cue for a fresh placement),
//! reports each workload's result, and deletes itself once its TTL after finishing has passed.

mod support;

use karmada_api::apps::{RebalanceResult, WorkloadRebalancer};
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding};
use karmada_propagation::rebalancer;
use kube::Api;
use kube::api::PostParams;

use support::{create_namespace, federation, until, yaml};

const BINDING: &str = "
apiVersion: work.karmada.io/v1alpha2
kind: ResourceBinding
metadata: {name: web-deployment, namespace: shop}
spec:
  resource: {apiVersion: apps/v1, kind: Deployment, namespace: shop, name: web}
  replicas: 4
  placement:
    replicaScheduling: {replicaSchedulingType: Divided, replicaDivisionPreference: Weighted,
                        weightPreference: {dynamicWeight: AvailableReplicas}}
  clusters: [{name: member1, replicas: 4}]
";

const CLUSTER_BINDING: &str = "
apiVersion: work.karmada.io/v1alpha2
kind: ClusterResourceBinding
metadata: {name: reader-clusterrole}
spec:
  resource: {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, name: reader}
  placement: {}
";

const REBALANCER: &str = "
apiVersion: apps.karmada.io/v1alpha1
kind: WorkloadRebalancer
metadata: {name: rebalance}
spec:
  ttlSecondsAfterFinished: 2
  workloads:
  - {apiVersion: apps/v1, kind: Deployment, namespace: shop, name: web}
  - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, name: reader}
  - {apiVersion: apps/v1, kind: Deployment, namespace: shop, name: missing}
";

#[tokio::test]
async fn listed_bindings_are_stamped_results_reported_and_the_rebalancer_expires()
-> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    create_namespace(&client, "shop").await?;
    let bindings: Api<ResourceBinding> = Api::namespaced(client.clone(), "shop");
    let cluster_bindings: Api<ClusterResourceBinding> = Api::all(client.clone());
    bindings
        .create(&PostParams::default(), &yaml(BINDING)?)
        .await?;
    cluster_bindings
        .create(&PostParams::default(), &yaml(CLUSTER_BINDING)?)
        .await?;
    let rebalancers: Api<WorkloadRebalancer> = Api::all(client.clone());
    let created = rebalancers
        .create(&PostParams::default(), &yaml(REBALANCER)?)
        .await?;
    let stamp = created
        .metadata
        .creation_timestamp
        .clone()
        .expect("the apiserver sets creationTimestamp");
    tokio::spawn(rebalancer::run(client.clone(), fed.cancel.child_token()));

    let status = until("the rebalancer to finish", || {
        let rebalancers = rebalancers.clone();
        async move {
            let r = rebalancers.get("rebalance").await?;
            Ok(match r.status {
                Some(s) if s.finish_time.is_some() => Ok(s),
                other => Err(format!("{other:?}")),
            })
        }
    })
    .await?;
    let results: Vec<_> = status
        .observed_workloads
        .iter()
        .map(|w| (w.workload.name.as_str(), w.result, w.reason.as_deref()))
        .collect();
    assert_eq!(
        results,
        [
            ("web", Some(RebalanceResult::Successful), None),
            ("reader", Some(RebalanceResult::Successful), None),
            (
                "missing",
                Some(RebalanceResult::Failed),
                Some("ReferencedBindingNotFound")
            ),
        ]
    );
    assert_eq!(status.observed_generation, created.metadata.generation);

    let web = bindings.get("web-deployment").await?;
    assert_eq!(web.spec.reschedule_triggered_at.as_ref(), Some(&stamp));
    let reader = cluster_bindings.get("reader-clusterrole").await?;
    assert_eq!(reader.spec.reschedule_triggered_at.as_ref(), Some(&stamp));
    // Nothing else of the binding changed: the scheduler decides the new placement.
    assert_eq!(web.spec.clusters.len(), 1);

    until("the rebalancer deleted after its TTL", || {
        let rebalancers = rebalancers.clone();
        async move {
            Ok(match rebalancers.get_opt("rebalance").await? {
                None => Ok(()),
                Some(r) => Err(format!(
                    "still there, finished at {:?}",
                    r.status.and_then(|s| s.finish_time)
                )),
            })
        }
    })
    .await?;
    Ok(())
}
