//! Which propagation policy claims a resource template, and when a claimed template may be
//! taken over (preempted) by another policy.

use std::cmp::Reverse;

use karmada_api::policy::propagation::{
    CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL, ClusterPropagationPolicy,
    PROPAGATION_POLICY_PERMANENT_ID_LABEL, PreemptionBehavior, PropagationPolicy, PropagationSpec,
};
use serde_json::Value;

use crate::select::{ImplicitPriority, selectors_priority};

/// A policy that selects a template: a namespaced PropagationPolicy or a
/// ClusterPropagationPolicy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Match<'a> {
    Namespaced(&'a PropagationPolicy),
    Cluster(&'a ClusterPropagationPolicy),
}

impl<'a> Match<'a> {
    pub fn spec(&self) -> &'a PropagationSpec {
        match self {
            Match::Namespaced(policy) => &policy.spec,
            Match::Cluster(policy) => &policy.spec,
        }
    }

    pub fn name(&self) -> &'a str {
        let metadata = match self {
            Match::Namespaced(policy) => &policy.metadata,
            Match::Cluster(policy) => &policy.metadata,
        };
        metadata.name.as_deref().unwrap_or_default()
    }

    /// The policy's namespace; `None` for a ClusterPropagationPolicy.
    pub fn namespace(&self) -> Option<&'a str> {
        match self {
            Match::Namespaced(policy) => Some(policy.metadata.namespace.as_deref().unwrap_or("")),
            Match::Cluster(_) => None,
        }
    }

    /// The permanent id the policy's webhook stamped on it (empty if not yet stamped).
    pub fn permanent_id(&self) -> &'a str {
        let (labels, key) = match self {
            Match::Namespaced(policy) => (
                &policy.metadata.labels,
                PROPAGATION_POLICY_PERMANENT_ID_LABEL,
            ),
            Match::Cluster(policy) => (
                &policy.metadata.labels,
                CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL,
            ),
        };
        labels
            .as_ref()
            .and_then(|labels| labels.get(key))
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// `spec.priority`, 0 when unset (Karmada's explicit priority).
    pub fn explicit_priority(&self) -> i32 {
        self.spec().priority.unwrap_or(0)
    }

    /// How specifically the policy's selectors match `template`.
    pub fn implicit_priority(&self, template: &Value) -> ImplicitPriority {
        selectors_priority(&self.spec().resource_selectors, template)
    }

    fn deleting(&self) -> bool {
        match self {
            Match::Namespaced(policy) => policy.metadata.deletion_timestamp.is_some(),
            Match::Cluster(policy) => policy.metadata.deletion_timestamp.is_some(),
        }
    }
}

/// The policy that claims an unclaimed `template`, as Karmada's detector picks it.
///
/// A PropagationPolicy of the template's own namespace wins over every ClusterPropagationPolicy
/// whatever their priorities (the detector only looks at cluster policies when no namespaced one
/// matches); cluster-scoped templates can only be claimed by ClusterPropagationPolicies. Within
/// one kind the highest `spec.priority` wins, then the most specific selector match (name, then
/// labels, then kind only), then the alphabetically first name. Policies being deleted claim
/// nothing.
pub fn best_policy<'a>(
    template: &Value,
    namespaced: &'a [PropagationPolicy],
    cluster: &'a [ClusterPropagationPolicy],
) -> Option<Match<'a>> {
    let namespace = template["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let local = (!namespace.is_empty())
        .then(|| {
            highest(
                template,
                namespaced
                    .iter()
                    .filter(|policy| policy.metadata.namespace.as_deref() == Some(namespace))
                    .map(Match::Namespaced),
            )
        })
        .flatten();
    local.or_else(|| highest(template, cluster.iter().map(Match::Cluster)))
}

fn highest<'a>(template: &Value, candidates: impl Iterator<Item = Match<'a>>) -> Option<Match<'a>> {
    candidates
        .filter(|candidate| !candidate.deleting())
        .map(|candidate| (candidate, candidate.implicit_priority(template)))
        .filter(|(_, implicit)| *implicit > ImplicitPriority::Mismatch)
        .max_by_key(|(candidate, implicit)| {
            (
                candidate.explicit_priority(),
                *implicit,
                Reverse(candidate.name()),
            )
        })
        .map(|(candidate, _)| candidate)
}

/// Whether `challenger` may take `template`, currently claimed by `claimed`, away from it.
///
/// Only a policy with `preemption: Always` that selects the template preempts. A
/// PropagationPolicy takes templates from any ClusterPropagationPolicy regardless of priority,
/// and from another PropagationPolicy only with a strictly higher explicit priority; a
/// ClusterPropagationPolicy preempts only a lower-priority ClusterPropagationPolicy, never a
/// PropagationPolicy. Karmada gates all of this behind `PropagationPolicyPreemption` (alpha,
/// off by default): the caller checks the gate.
pub fn may_preempt(challenger: Match<'_>, claimed: Match<'_>, template: &Value) -> bool {
    if challenger.spec().preemption != Some(PreemptionBehavior::Always)
        || challenger.deleting()
        || challenger.implicit_priority(template) == ImplicitPriority::Mismatch
    {
        return false;
    }
    let same = challenger.namespace() == claimed.namespace() && challenger.name() == claimed.name();
    if same {
        return false;
    }
    match (challenger, claimed) {
        (Match::Namespaced(_), Match::Cluster(_)) => true,
        (Match::Cluster(_), Match::Namespaced(_)) => false,
        _ => challenger.explicit_priority() > claimed.explicit_priority(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A test name, the policies present and the expected winner.
    type Case = (
        &'static str,
        Vec<PropagationPolicy>,
        Vec<ClusterPropagationPolicy>,
        Option<&'static str>,
    );

    fn deployment(name: &str, labels: Value) -> Value {
        let mut template = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                  "metadata": {"name": name, "namespace": "default"}});
        template["metadata"]["labels"] = labels;
        template
    }

    /// A policy of the given scope; `selector` is one resource selector, `extra` merges into
    /// the spec.
    fn policy_json(name: &str, namespace: Option<&str>, selector: Value, extra: Value) -> Value {
        let mut spec = json!({"resourceSelectors": Value::Array(vec![selector])});
        if let Value::Object(extra) = extra {
            for (key, value) in extra {
                spec[key] = value;
            }
        }
        let mut metadata = json!({"name": name, "labels": {
            PROPAGATION_POLICY_PERMANENT_ID_LABEL: format!("id-{name}"),
            CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL: format!("id-{name}"),
        }});
        if let Some(namespace) = namespace {
            metadata["namespace"] = json!(namespace);
        }
        json!({"metadata": metadata, "spec": spec})
    }

    fn pp(name: &str, selector: Value, extra: Value) -> PropagationPolicy {
        serde_json::from_value(policy_json(name, Some("default"), selector, extra)).unwrap()
    }

    fn cpp(name: &str, selector: Value, extra: Value) -> ClusterPropagationPolicy {
        serde_json::from_value(policy_json(name, None, selector, extra)).unwrap()
    }

    fn by_name(name: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": name})
    }

    fn by_labels() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "labelSelector": {"matchLabels": {"app": "nginx"}}})
    }

    fn by_kind() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment"})
    }

    fn winner(
        template: &Value,
        pps: &[PropagationPolicy],
        cpps: &[ClusterPropagationPolicy],
    ) -> Option<String> {
        best_policy(template, pps, cpps).map(|m| match m.namespace() {
            Some(_) => format!("pp/{}", m.name()),
            None => format!("cpp/{}", m.name()),
        })
    }

    #[test]
    fn picks_policies_in_karmadas_priority_order() {
        let nginx = deployment("nginx", json!({"app": "nginx"}));
        let none = json!({});
        let deleting: PropagationPolicy = {
            let mut policy = policy_json(
                "a-deleting",
                Some("default"),
                by_name("nginx"),
                json!({"priority": 100}),
            );
            policy["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
            serde_json::from_value(policy).unwrap()
        };
        let cases: Vec<Case> = vec![
            (
                "nothing selects",
                vec![pp("other", by_name("web"), none.clone())],
                vec![],
                None,
            ),
            (
                "name beats labels beats kind",
                vec![
                    pp("a-kind", by_kind(), none.clone()),
                    pp("b-labels", by_labels(), none.clone()),
                    pp("c-name", by_name("nginx"), none.clone()),
                ],
                vec![],
                Some("pp/c-name"),
            ),
            (
                "labels beat kind",
                vec![
                    pp("a-kind", by_kind(), none.clone()),
                    pp("b-labels", by_labels(), none.clone()),
                ],
                vec![],
                Some("pp/b-labels"),
            ),
            (
                "explicit priority beats implicit",
                vec![
                    pp("a-name", by_name("nginx"), json!({"priority": 1})),
                    pp("b-kind", by_kind(), json!({"priority": 2})),
                ],
                vec![],
                Some("pp/b-kind"),
            ),
            (
                "name tiebreak is alphabetical",
                vec![
                    pp("zeta", by_kind(), none.clone()),
                    pp("alpha", by_kind(), none.clone()),
                    pp("mid", by_kind(), none.clone()),
                ],
                vec![],
                Some("pp/alpha"),
            ),
            (
                "pp beats higher-priority cpp",
                vec![pp("low", by_kind(), none.clone())],
                vec![cpp("high", by_name("nginx"), json!({"priority": 100}))],
                Some("pp/low"),
            ),
            (
                "cpp when no pp matches",
                vec![pp("other", by_name("web"), none.clone())],
                vec![
                    cpp("b", by_kind(), none.clone()),
                    cpp("a", by_labels(), none.clone()),
                ],
                Some("cpp/a"),
            ),
            (
                "deleting policies are ignored",
                vec![deleting, pp("b-kind", by_kind(), none)],
                vec![],
                Some("pp/b-kind"),
            ),
        ];
        for (name, pps, cpps, want) in cases {
            assert_eq!(winner(&nginx, &pps, &cpps).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn namespaced_policies_only_claim_their_own_namespace() {
        let mut other = pp("other-ns", by_kind(), json!({}));
        other.metadata.namespace = Some("prod".into());
        let nginx = deployment("nginx", json!({}));
        assert_eq!(winner(&nginx, &[other.clone()], &[]), None);
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}});
        let all_namespaces = cpp(
            "ns",
            json!({"apiVersion": "v1", "kind": "Namespace"}),
            json!({}),
        );
        assert_eq!(
            winner(&namespace, &[other], &[all_namespaces]).as_deref(),
            Some("cpp/ns")
        );
    }

    #[test]
    fn preemption_follows_karmadas_rules() {
        let nginx = deployment("nginx", json!({"app": "nginx"}));
        let always = |priority: i32| json!({"priority": priority, "preemption": "Always"});
        let pp_low = pp("pp-low", by_kind(), json!({"priority": 1}));
        let pp_high = pp("pp-high", by_kind(), always(5));
        let pp_equal = pp("pp-equal", by_kind(), always(1));
        let pp_never = pp(
            "pp-never",
            by_kind(),
            json!({"priority": 9, "preemption": "Never"}),
        );
        let pp_other = pp("pp-other", by_name("web"), always(9));
        let cpp_high = cpp("cpp-high", by_kind(), always(100));
        let cpp_low = cpp("cpp-low", by_kind(), json!({"priority": 1}));
        let pp_zero = pp("pp-zero", by_kind(), always(0));
        let cases = [
            (
                "higher pp takes from pp",
                Match::Namespaced(&pp_high),
                Match::Namespaced(&pp_low),
                true,
            ),
            (
                "equal priority does not",
                Match::Namespaced(&pp_equal),
                Match::Namespaced(&pp_low),
                false,
            ),
            (
                "Never does not",
                Match::Namespaced(&pp_never),
                Match::Namespaced(&pp_low),
                false,
            ),
            (
                "must select the template",
                Match::Namespaced(&pp_other),
                Match::Namespaced(&pp_low),
                false,
            ),
            (
                "pp takes from any cpp",
                Match::Namespaced(&pp_zero),
                Match::Cluster(&cpp_high),
                true,
            ),
            (
                "cpp never takes from pp",
                Match::Cluster(&cpp_high),
                Match::Namespaced(&pp_low),
                false,
            ),
            (
                "higher cpp takes from cpp",
                Match::Cluster(&cpp_high),
                Match::Cluster(&cpp_low),
                true,
            ),
            (
                "lower cpp does not",
                Match::Cluster(&cpp_low),
                Match::Cluster(&cpp_high),
                false,
            ),
            (
                "not from itself",
                Match::Namespaced(&pp_high),
                Match::Namespaced(&pp_high),
                false,
            ),
        ];
        for (name, challenger, claimed, want) in cases {
            assert_eq!(may_preempt(challenger, claimed, &nginx), want, "{name}");
        }
    }
}
