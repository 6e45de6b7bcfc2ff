//! The agent's replica estimator: answers the federation scheduler's `Estimator` gRPC calls
//! for its member from watch caches of the member's nodes, pods and ReplicaSets.
//!
//! Every answer is computed from the caches at the moment of the call (no LIST per call); the
//! decisions themselves are pure, in `capacity` (what fits, reusing the member scheduler's
//! filters) and `unschedulable` (which pods belong to a workload and how long they waited).

pub mod capacity;
pub mod unschedulable;

use std::fmt::Debug;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use karmada_estimator::proto::estimator_server::Estimator;
use karmada_estimator::proto::{
    MaxAvailableReplicasRequest, MaxAvailableReplicasResponse, UnschedulableReplicasRequest,
    UnschedulableReplicasResponse,
};
use karmada_estimator::request::{MaxAvailableReplicas, UnschedulableReplicas};
use karmada_estimator::tonic::{self, Request, Response, Status};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Why the estimator stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "estimator cluster name must not be empty; use the name the cluster is registered with"
    )]
    ClusterName,
    #[error("estimator on {addr} stopped serving: {source}")]
    Serve {
        addr: String,
        #[source]
        source: karmada_estimator::server::Error,
    },
}

/// Serves the estimator for member `cluster` on `listener` until `cancel` fires, answering from
/// watches of `member`. Calls made before the watches have listed everything get
/// `Unavailable`.
pub async fn serve(
    listener: TcpListener,
    cluster: String,
    member: Client,
    cancel: CancellationToken,
) -> Result<(), Error> {
    if cluster.is_empty() {
        return Err(Error::ClusterName);
    }
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let watches = cancel.child_token();
    let mut tasks = JoinSet::new();
    let service = Service {
        cluster,
        nodes: cache::<Node>(&mut tasks, Api::all(member.clone()), &watches),
        pods: cache::<Pod>(&mut tasks, Api::all(member.clone()), &watches),
        replica_sets: cache::<ReplicaSet>(&mut tasks, Api::all(member), &watches),
    };
    tracing::info!(%addr, cluster = %service.cluster, "estimator serving");
    let served =
        karmada_estimator::server::serve(listener, service, cancel.cancelled_owned()).await;
    watches.cancel();
    while tasks.join_next().await.is_some() {}
    served.map_err(|source| Error::Serve { addr, source })
}

/// Keeps a store of every `K` of the member current until `cancel` fires.
fn cache<K>(tasks: &mut JoinSet<()>, api: Api<K>, cancel: &CancellationToken) -> Store<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let cancel = cancel.clone();
    tasks.spawn(async move {
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .boxed();
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                event = events.next() => match event {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => tracing::warn!(
                        kind = %K::kind(&()), error = %e, "estimator watch failed; retrying"),
                    None => break,
                },
            }
        }
    });
    store
}

/// The gRPC service over the member's caches.
struct Service {
    cluster: String,
    nodes: Store<Node>,
    pods: Store<Pod>,
    replica_sets: Store<ReplicaSet>,
}

impl Service {
    /// Refuses requests meant for another member: a misrouted answer would schedule replicas
    /// onto capacity that is not there.
    fn check_cluster(&self, asked: &str) -> Result<(), Status> {
        if asked == self.cluster {
            return Ok(());
        }
        Err(Status::invalid_argument(format!(
            "cluster: this estimator serves cluster {:?}, not {asked:?}",
            self.cluster
        )))
    }

    /// Answers only from complete caches: before the first list is in, free capacity would
    /// look larger than it is.
    fn check_synced(&self, kinds: &[(&str, bool)]) -> Result<(), Status> {
        let waiting: Vec<&str> = kinds
            .iter()
            .filter(|(_, ready)| !ready)
            .map(|(k, _)| *k)
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        Err(Status::unavailable(format!(
            "estimator for cluster {:?} is still listing {}; retry shortly",
            self.cluster,
            waiting.join(", ")
        )))
    }
}

fn ready<K: kube::Resource<DynamicType = ()> + Clone>(store: &Store<K>) -> bool {
    matches!(store.wait_until_ready().now_or_never(), Some(Ok(())))
}

#[tonic::async_trait]
impl Estimator for Service {
    async fn max_available_replicas(
        &self,
        request: Request<MaxAvailableReplicasRequest>,
    ) -> Result<Response<MaxAvailableReplicasResponse>, Status> {
        let request = MaxAvailableReplicas::try_from(request.into_inner())?;
        self.check_cluster(&request.cluster)?;
        self.check_synced(&[("nodes", ready(&self.nodes)), ("pods", ready(&self.pods))])?;
        let pod = capacity::replica_pod(&request.requirements);
        let demand =
            capacity::replica_demand(&pod).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let nodes = capacity::node_infos(&self.nodes.state(), &self.pods.state());
        let max_replicas = capacity::max_replicas(&pod, &demand, &nodes);
        Ok(Response::new(MaxAvailableReplicasResponse { max_replicas }))
    }

    async fn get_unschedulable_replicas(
        &self,
        request: Request<UnschedulableReplicasRequest>,
    ) -> Result<Response<UnschedulableReplicasResponse>, Status> {
        let request = UnschedulableReplicas::try_from(request.into_inner())?;
        self.check_cluster(&request.cluster)?;
        self.check_synced(&[
            ("pods", ready(&self.pods)),
            ("replicasets", ready(&self.replica_sets)),
        ])?;
        let workload = &request.workload;
        let now = jiff::Timestamp::now();
        let owner_of = |name: &str| {
            let rs = self
                .replica_sets
                .get(&ObjectRef::new(name).within(&workload.namespace))?;
            crate::member::runtime::controller_of(rs.metadata.owner_references.as_deref()).cloned()
        };
        let count = self
            .pods
            .state()
            .iter()
            .filter(|pod| {
                unschedulable::unschedulable_since(pod).is_some_and(|since| {
                    unschedulable::waited_longer(since, now, request.threshold)
                })
            })
            .filter(|pod| unschedulable::belongs(pod, workload, owner_of))
            .count();
        Ok(Response::new(UnschedulableReplicasResponse {
            unschedulable_replicas: i32::try_from(count).unwrap_or(i32::MAX),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misrouted_requests_and_cold_caches_are_refused_clearly() {
        let (nodes, _) = reflector::store::<Node>();
        let (pods, _) = reflector::store::<Pod>();
        let (replica_sets, _) = reflector::store::<ReplicaSet>();
        let service = Service {
            cluster: "member1".into(),
            nodes,
            pods,
            replica_sets,
        };
        assert!(service.check_cluster("member1").is_ok());
        let refused = service.check_cluster("member2").expect_err("other cluster");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(refused.message().contains("\"member2\""), "{refused:?}");
        let cold = service
            .check_synced(&[("nodes", ready(&service.nodes)), ("pods", true)])
            .expect_err("never listed");
        assert_eq!(cold.code(), tonic::Code::Unavailable);
        assert!(cold.message().contains("still listing nodes;"), "{cold:?}");
    }
}
