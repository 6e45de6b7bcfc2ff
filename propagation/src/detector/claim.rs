//! The labels and annotations that mark a resource template (and its binding) as claimed by a
//! policy, as JSON merge patches that add or remove them.

pub use karmada_api::policy::propagation::{
    CLUSTER_PROPAGATION_POLICY_ANNOTATION, PROPAGATION_POLICY_NAME_ANNOTATION,
    PROPAGATION_POLICY_NAMESPACE_ANNOTATION,
};
use karmada_api::policy::propagation::{
    CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL, PROPAGATION_POLICY_PERMANENT_ID_LABEL,
};
use serde_json::{Map, Value, json};

use super::policy::Match;

/// Metadata keys with their values.
type Pairs<'a> = Vec<(&'static str, &'a str)>;

/// The policy a template's metadata says claimed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    Namespaced {
        namespace: String,
        name: String,
        id: String,
    },
    Cluster {
        name: String,
        id: String,
    },
}

impl Claim {
    /// The claim `policy` makes.
    pub fn of(policy: Match<'_>) -> Self {
        let name = policy.name().to_string();
        let id = policy.permanent_id().to_string();
        match policy.namespace() {
            Some(namespace) => Claim::Namespaced {
                namespace: namespace.to_string(),
                name,
                id,
            },
            None => Claim::Cluster { name, id },
        }
    }

    /// Whether this claim names `policy`.
    pub fn is(&self, policy: Match<'_>) -> bool {
        *self == Claim::of(policy)
    }

    /// Labels and annotations recording the claim.
    fn metadata(&self) -> (Pairs<'_>, Pairs<'_>) {
        match self {
            Claim::Namespaced {
                namespace,
                name,
                id,
            } => (
                vec![(PROPAGATION_POLICY_PERMANENT_ID_LABEL, id)],
                vec![
                    (PROPAGATION_POLICY_NAMESPACE_ANNOTATION, namespace),
                    (PROPAGATION_POLICY_NAME_ANNOTATION, name),
                ],
            ),
            Claim::Cluster { name, id } => (
                vec![(CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL, id)],
                vec![(CLUSTER_PROPAGATION_POLICY_ANNOTATION, name)],
            ),
        }
    }

    /// The claim's labels and annotations as maps, for stamping a new object (a binding).
    pub fn labels_and_annotations(
        &self,
    ) -> (
        std::collections::BTreeMap<String, String>,
        std::collections::BTreeMap<String, String>,
    ) {
        let (labels, annotations) = self.metadata();
        let owned = |pairs: Vec<(&str, &str)>| {
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        (owned(labels), owned(annotations))
    }
}

/// The claim recorded on `object`'s metadata. A PropagationPolicy claim (namespace, name and
/// id all present) is read first, as Karmada's detector does; a partial claim counts as none.
pub fn claimed_by(object: &Value) -> Option<Claim> {
    let label = |key: &str| non_empty(&object["metadata"]["labels"][key]);
    let annotation = |key: &str| non_empty(&object["metadata"]["annotations"][key]);
    if let (Some(namespace), Some(name), Some(id)) = (
        annotation(PROPAGATION_POLICY_NAMESPACE_ANNOTATION),
        annotation(PROPAGATION_POLICY_NAME_ANNOTATION),
        label(PROPAGATION_POLICY_PERMANENT_ID_LABEL),
    ) {
        return Some(Claim::Namespaced {
            namespace,
            name,
            id,
        });
    }
    if let (Some(name), Some(id)) = (
        annotation(CLUSTER_PROPAGATION_POLICY_ANNOTATION),
        label(CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL),
    ) {
        return Some(Claim::Cluster { name, id });
    }
    None
}

fn non_empty(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// The JSON merge patch that makes `policy` the claimant of `template`, or `None` when it
/// already is. Claiming for a PropagationPolicy also drops any ClusterPropagationPolicy claim,
/// since a namespaced policy overrides a cluster one.
pub fn claim_patch(template: &Value, policy: Match<'_>) -> Option<Value> {
    let labels = &template["metadata"]["labels"];
    let has_cluster_claim = !labels[CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL].is_null();
    let claim = Claim::of(policy);
    // Karmada decides "already claimed" from the permanent-id label alone.
    let already = match &claim {
        Claim::Namespaced { id, .. } => {
            !has_cluster_claim && labels[PROPAGATION_POLICY_PERMANENT_ID_LABEL].as_str() == Some(id)
        }
        Claim::Cluster { id, .. } => {
            labels[CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL].as_str() == Some(id)
        }
    };
    if already {
        return None;
    }
    let (add_labels, add_annotations) = claim.metadata();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    if matches!(claim, Claim::Namespaced { .. }) && has_cluster_claim {
        labels.insert(
            CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL.into(),
            Value::Null,
        );
        annotations.insert(CLUSTER_PROPAGATION_POLICY_ANNOTATION.into(), Value::Null);
    }
    for (key, value) in add_labels {
        labels.insert(key.into(), json!(value));
    }
    for (key, value) in add_annotations {
        annotations.insert(key.into(), json!(value));
    }
    Some(json!({"metadata": {"labels": labels, "annotations": annotations}}))
}

/// The JSON merge patch removing `claim`'s metadata from `object`, or `None` when `object` is
/// not claimed with that claim's permanent id: a template already re-claimed by a newer policy
/// of the same name must keep its claim (Karmada issue 5307).
pub fn release_patch(object: &Value, claim: &Claim) -> Option<Value> {
    let (labels, annotations) = claim.metadata();
    let owned = labels
        .iter()
        .all(|(key, id)| object["metadata"]["labels"][*key].as_str() == Some(*id));
    if !owned {
        return None;
    }
    let nulls = |pairs: Pairs<'_>| -> Map<String, Value> {
        pairs
            .into_iter()
            .map(|(key, _)| (key.to_string(), Value::Null))
            .collect()
    };
    Some(json!({"metadata": {"labels": nulls(labels), "annotations": nulls(annotations)}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::policy::propagation::{ClusterPropagationPolicy, PropagationPolicy};

    fn pp() -> PropagationPolicy {
        serde_json::from_value(json!({
            "metadata": {"name": "nginx-propagation", "namespace": "default",
                         "labels": {PROPAGATION_POLICY_PERMANENT_ID_LABEL: "pp-id"}},
            "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"}]},
        }))
        .unwrap()
    }

    fn cpp() -> ClusterPropagationPolicy {
        serde_json::from_value(json!({
            "metadata": {"name": "all", "labels": {CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL: "cpp-id"}},
            "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"}]},
        }))
        .unwrap()
    }

    fn template(labels: Value, annotations: Value) -> Value {
        let mut template = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                  "metadata": {"name": "nginx", "namespace": "default"}});
        template["metadata"]["labels"] = labels;
        template["metadata"]["annotations"] = annotations;
        template
    }

    fn apply(mut target: Value, patch: &Value) -> Value {
        json_patch::merge(&mut target, patch);
        target
    }

    #[test]
    fn claim_patches_add_karmadas_labels_and_annotations() {
        let (pp, cpp) = (pp(), cpp());
        let fresh = template(json!({"app": "nginx"}), json!({}));
        let by_pp = apply(
            fresh.clone(),
            &claim_patch(&fresh, Match::Namespaced(&pp)).unwrap(),
        );
        assert_eq!(
            by_pp["metadata"]["labels"],
            json!({"app": "nginx", PROPAGATION_POLICY_PERMANENT_ID_LABEL: "pp-id"})
        );
        assert_eq!(
            by_pp["metadata"]["annotations"],
            json!({
                PROPAGATION_POLICY_NAMESPACE_ANNOTATION: "default",
                PROPAGATION_POLICY_NAME_ANNOTATION: "nginx-propagation",
            })
        );
        assert_eq!(claimed_by(&by_pp), Some(Claim::of(Match::Namespaced(&pp))));
        assert_eq!(
            claim_patch(&by_pp, Match::Namespaced(&pp)),
            None,
            "already claimed"
        );

        let by_cpp = apply(
            fresh.clone(),
            &claim_patch(&fresh, Match::Cluster(&cpp)).unwrap(),
        );
        assert_eq!(
            by_cpp["metadata"]["labels"][CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL],
            "cpp-id"
        );
        assert_eq!(
            by_cpp["metadata"]["annotations"],
            json!({CLUSTER_PROPAGATION_POLICY_ANNOTATION: "all"})
        );
        assert_eq!(
            claimed_by(&by_cpp),
            Some(Claim::Cluster {
                name: "all".into(),
                id: "cpp-id".into()
            })
        );

        // A PropagationPolicy taking over a ClusterPropagationPolicy's template drops its claim.
        let taken = apply(
            by_cpp.clone(),
            &claim_patch(&by_cpp, Match::Namespaced(&pp)).unwrap(),
        );
        assert_eq!(taken["metadata"]["labels"], by_pp["metadata"]["labels"]);
        assert_eq!(
            taken["metadata"]["annotations"],
            by_pp["metadata"]["annotations"]
        );
    }

    #[test]
    fn release_patches_remove_only_the_owning_claim() {
        let pp = pp();
        let claim = Claim::of(Match::Namespaced(&pp));
        let claimed = template(
            json!({"app": "nginx", PROPAGATION_POLICY_PERMANENT_ID_LABEL: "pp-id"}),
            json!({PROPAGATION_POLICY_NAMESPACE_ANNOTATION: "default",
                   PROPAGATION_POLICY_NAME_ANNOTATION: "nginx-propagation", "keep": "me"}),
        );
        let released = apply(claimed.clone(), &release_patch(&claimed, &claim).unwrap());
        assert_eq!(released["metadata"]["labels"], json!({"app": "nginx"}));
        assert_eq!(released["metadata"]["annotations"], json!({"keep": "me"}));
        assert_eq!(claimed_by(&released), None);

        let reclaimed = template(
            json!({PROPAGATION_POLICY_PERMANENT_ID_LABEL: "newer-id"}),
            json!({}),
        );
        assert_eq!(release_patch(&reclaimed, &claim), None);
    }

    #[test]
    fn partial_claims_are_no_claims() {
        let only_label = template(
            json!({PROPAGATION_POLICY_PERMANENT_ID_LABEL: "pp-id"}),
            json!({}),
        );
        assert_eq!(claimed_by(&only_label), None);
        let empty_name = template(
            json!({CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL: "cpp-id"}),
            json!({CLUSTER_PROPAGATION_POLICY_ANNOTATION: ""}),
        );
        assert_eq!(claimed_by(&empty_name), None);
    }
}
