//! What the controllers need to know about a ResourceBinding or ClusterResourceBinding, so one
//! generic reconciler serves both kinds.

use std::fmt::Debug;

use karmada_api::work::binding::{
    CLUSTER_RESOURCE_BINDING_FINALIZER, CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL,
    ClusterResourceBinding, RESOURCE_BINDING_FINALIZER, RESOURCE_BINDING_PERMANENT_ID_LABEL,
    ResourceBinding, ResourceBindingSpec, ResourceBindingStatus,
};
use karmada_api::work::work::Work;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::binding::{
    BindingRef, CLUSTER_RESOURCE_BINDING_NAME_ANNOTATION, RESOURCE_BINDING_NAME_ANNOTATION,
    RESOURCE_BINDING_NAMESPACE_ANNOTATION,
};

/// A binding kind: where its objects live, which finalizer and permanent-id label it uses, and
/// how a Work names the binding it came from.
pub trait BindingObject:
    Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Serialize + Send + Sync + 'static
{
    /// The finalizer the detector puts on the binding and the binding controller removes.
    const FINALIZER: &'static str;
    /// The label carrying the binding's permanent id, copied onto its Works.
    const PERMANENT_ID_LABEL: &'static str;

    fn binding_ref(&self) -> BindingRef<'_>;

    fn status(&self) -> Option<&ResourceBindingStatus>;

    fn status_mut(&mut self) -> &mut ResourceBindingStatus;

    fn spec_mut(&mut self) -> &mut ResourceBindingSpec;

    /// The binding a Work belongs to, read from the Work's annotations.
    fn owner_of(work: &Work) -> Option<ObjectRef<Self>>;

    /// An API for the binding's own scope (its namespace, or cluster-wide).
    fn api_for(&self, client: Client) -> Api<Self>;

    fn spec(&self) -> &ResourceBindingSpec {
        self.binding_ref().spec()
    }

    /// The binding's permanent id, when the detector has stamped one.
    fn permanent_id(&self) -> Option<&str> {
        self.meta()
            .labels
            .as_ref()?
            .get(Self::PERMANENT_ID_LABEL)
            .map(String::as_str)
            .filter(|id| !id.is_empty())
    }

    /// `Kind namespace/name` or `Kind name`, for messages.
    fn describe(&self) -> String {
        karmada_runtime::controller::describe(self)
    }
}

fn annotation<'a>(work: &'a Work, key: &str) -> Option<&'a str> {
    work.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
        .filter(|value| !value.is_empty())
}

impl BindingObject for ResourceBinding {
    const FINALIZER: &'static str = RESOURCE_BINDING_FINALIZER;
    const PERMANENT_ID_LABEL: &'static str = RESOURCE_BINDING_PERMANENT_ID_LABEL;

    fn binding_ref(&self) -> BindingRef<'_> {
        BindingRef::Namespaced(self)
    }

    fn api_for(&self, client: Client) -> Api<Self> {
        Api::namespaced(client, &self.namespace().unwrap_or_default())
    }

    fn status(&self) -> Option<&ResourceBindingStatus> {
        self.status.as_ref()
    }

    fn status_mut(&mut self) -> &mut ResourceBindingStatus {
        self.status.get_or_insert_with(Default::default)
    }

    fn spec_mut(&mut self) -> &mut ResourceBindingSpec {
        &mut self.spec
    }

    fn owner_of(work: &Work) -> Option<ObjectRef<Self>> {
        let namespace = annotation(work, RESOURCE_BINDING_NAMESPACE_ANNOTATION)?;
        let name = annotation(work, RESOURCE_BINDING_NAME_ANNOTATION)?;
        Some(ObjectRef::new(name).within(namespace))
    }
}

impl BindingObject for ClusterResourceBinding {
    const FINALIZER: &'static str = CLUSTER_RESOURCE_BINDING_FINALIZER;
    const PERMANENT_ID_LABEL: &'static str = CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL;

    fn binding_ref(&self) -> BindingRef<'_> {
        BindingRef::Cluster(self)
    }

    fn api_for(&self, client: Client) -> Api<Self> {
        Api::all(client)
    }

    fn status(&self) -> Option<&ResourceBindingStatus> {
        self.status.as_ref()
    }

    fn status_mut(&mut self) -> &mut ResourceBindingStatus {
        self.status.get_or_insert_with(Default::default)
    }

    fn spec_mut(&mut self) -> &mut ResourceBindingSpec {
        &mut self.spec.0
    }

    fn owner_of(work: &Work) -> Option<ObjectRef<Self>> {
        annotation(work, CLUSTER_RESOURCE_BINDING_NAME_ANNOTATION).map(ObjectRef::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn work(annotations: &[(&str, &str)]) -> Work {
        let mut work = Work::new("w", Default::default());
        work.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        );
        work
    }

    #[test]
    fn works_name_their_binding_through_annotations() {
        let namespaced = work(&[
            (RESOURCE_BINDING_NAMESPACE_ANNOTATION, "default"),
            (RESOURCE_BINDING_NAME_ANNOTATION, "nginx-deployment"),
        ]);
        let cluster = work(&[(
            CLUSTER_RESOURCE_BINDING_NAME_ANNOTATION,
            "admin-clusterrole",
        )]);
        let partial = work(&[(RESOURCE_BINDING_NAME_ANNOTATION, "nginx-deployment")]);

        assert_eq!(
            ResourceBinding::owner_of(&namespaced),
            Some(ObjectRef::new("nginx-deployment").within("default"))
        );
        assert_eq!(ClusterResourceBinding::owner_of(&namespaced), None);
        assert_eq!(
            ClusterResourceBinding::owner_of(&cluster),
            Some(ObjectRef::new("admin-clusterrole"))
        );
        assert_eq!(ResourceBinding::owner_of(&cluster), None);
        // A Work without the binding's namespace cannot be traced back.
        assert_eq!(ResourceBinding::owner_of(&partial), None);
    }

    #[test]
    fn permanent_id_reads_the_kinds_own_label() {
        let mut binding = ResourceBinding::new("b", Default::default());
        assert_eq!(binding.permanent_id(), None);
        binding.metadata.labels = Some(BTreeMap::from([(
            RESOURCE_BINDING_PERMANENT_ID_LABEL.to_string(),
            "id-1".to_string(),
        )]));
        assert_eq!(binding.permanent_id(), Some("id-1"));
        binding.metadata.namespace = Some("apps".into());
        assert_eq!(binding.describe(), "ResourceBinding apps/b");
    }
}
