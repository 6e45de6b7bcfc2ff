//! What the driver needs of a ResourceBinding or ClusterResourceBinding, so one generic
//! reconciler schedules both kinds.

use std::fmt::Debug;

use karmada_api::work::binding::{
    ClusterResourceBinding, ResourceBinding, ResourceBindingSpec, ResourceBindingStatus,
};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A binding kind: its spec and status, and where its objects live.
pub trait Binding:
    Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Serialize + Send + Sync + 'static
{
    fn spec(&self) -> &ResourceBindingSpec;

    fn status(&self) -> Option<&ResourceBindingStatus>;

    /// An API for the binding's own scope (its namespace, or cluster-wide).
    fn api_for(&self, client: Client) -> Api<Self>;

    /// `Kind namespace/name` or `Kind name`, for messages.
    fn describe(&self) -> String {
        karmada_runtime::controller::describe(self)
    }
}

impl Binding for ResourceBinding {
    fn spec(&self) -> &ResourceBindingSpec {
        &self.spec
    }

    fn status(&self) -> Option<&ResourceBindingStatus> {
        self.status.as_ref()
    }

    fn api_for(&self, client: Client) -> Api<Self> {
        Api::namespaced(client, &self.namespace().unwrap_or_default())
    }
}

impl Binding for ClusterResourceBinding {
    fn spec(&self) -> &ResourceBindingSpec {
        &self.spec
    }

    fn status(&self) -> Option<&ResourceBindingStatus> {
        self.status.as_ref()
    }

    fn api_for(&self, client: Client) -> Api<Self> {
        Api::all(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_describe_themselves_with_their_scope() {
        let mut namespaced = ResourceBinding::new("nginx-deployment", Default::default());
        namespaced.metadata.namespace = Some("apps".into());
        assert_eq!(
            namespaced.describe(),
            "ResourceBinding apps/nginx-deployment"
        );
        let cluster = ClusterResourceBinding::new("reader-clusterrole", Default::default());
        assert_eq!(
            cluster.describe(),
            "ClusterResourceBinding reader-clusterrole"
        );
    }
}
