//! What the detector does with one resource template given every policy it knows: keep its
//! claim, move it to a preempting policy, release a claim whose policy is gone or no longer
//! selects it, or claim it for the best policy.

use karmada_api::policy::propagation::{ClusterPropagationPolicy, PropagationPolicy};
use serde_json::Value;

use super::claim::{Claim, claimed_by};
use super::policy::{Match, best_policy, may_preempt};
use crate::select::ImplicitPriority;

/// The detector's decision for a template.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision<'a> {
    /// A claim to remove first: its policy was deleted, recreated (new permanent id), or no
    /// longer selects the template, or another policy preempted it.
    pub release: Option<Claim>,
    /// The policy that claims the template and shapes its binding; `None` leaves the template
    /// unpropagated until a policy selects it.
    pub bind: Option<Match<'a>>,
}

/// Decides for `template`. A claim stands while its policy exists with the same permanent id,
/// is not being deleted and still selects the template, unless a better policy with
/// `preemption: Always` may take it; otherwise the best policy claims it afresh.
pub fn decide<'a>(
    template: &Value,
    namespaced: &'a [PropagationPolicy],
    cluster: &'a [ClusterPropagationPolicy],
) -> Decision<'a> {
    let best = best_policy(template, namespaced, cluster);
    let Some(claim) = claimed_by(template) else {
        return Decision {
            release: None,
            bind: best,
        };
    };
    let current = holder(&claim, namespaced, cluster).filter(|policy| {
        !deleting(*policy) && policy.implicit_priority(template) > ImplicitPriority::Mismatch
    });
    match current {
        Some(current) => match best {
            Some(challenger)
                if !claim.is(challenger) && may_preempt(challenger, current, template) =>
            {
                // Claiming for the challenger rewrites the claim labels in one patch, except
                // that a cluster policy's claim must be removed when a namespaced one takes over
                // (the claim patch does that too); nothing to release separately.
                Decision {
                    release: None,
                    bind: Some(challenger),
                }
            }
            _ => Decision {
                release: None,
                bind: Some(current),
            },
        },
        None => Decision {
            release: Some(claim),
            bind: best,
        },
    }
}

/// The policy a claim names, matched by namespace, name and permanent id.
fn holder<'a>(
    claim: &Claim,
    namespaced: &'a [PropagationPolicy],
    cluster: &'a [ClusterPropagationPolicy],
) -> Option<Match<'a>> {
    match claim {
        Claim::Namespaced {
            namespace, name, ..
        } => namespaced
            .iter()
            .filter(|p| {
                p.metadata.namespace.as_deref() == Some(namespace)
                    && p.metadata.name.as_deref() == Some(name)
            })
            .map(Match::Namespaced)
            .find(|p| claim.is(*p)),
        Claim::Cluster { name, .. } => cluster
            .iter()
            .filter(|p| p.metadata.name.as_deref() == Some(name))
            .map(Match::Cluster)
            .find(|p| claim.is(*p)),
    }
}

fn deleting(policy: Match<'_>) -> bool {
    match policy {
        Match::Namespaced(p) => p.metadata.deletion_timestamp.is_some(),
        Match::Cluster(p) => p.metadata.deletion_timestamp.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::policy::propagation::{
        CLUSTER_PROPAGATION_POLICY_ANNOTATION, CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL,
        PROPAGATION_POLICY_NAME_ANNOTATION, PROPAGATION_POLICY_NAMESPACE_ANNOTATION,
        PROPAGATION_POLICY_PERMANENT_ID_LABEL,
    };
    use serde_json::json;

    fn pp(name: &str, id: &str, selector: &Value, extra: &Value) -> PropagationPolicy {
        let mut spec = json!({"resourceSelectors": [selector.clone()]});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default",
                         "labels": {PROPAGATION_POLICY_PERMANENT_ID_LABEL: id}},
            "spec": spec,
        }))
        .unwrap()
    }

    fn cpp(name: &str, id: &str, extra: &Value) -> ClusterPropagationPolicy {
        let mut spec =
            json!({"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"}]});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(json!({
            "metadata": {"name": name,
                         "labels": {CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL: id}},
            "spec": spec,
        }))
        .unwrap()
    }

    fn all_deployments() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment"})
    }

    fn by_name(name: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": name})
    }

    fn nginx(claim: Option<Claim>) -> Value {
        let mut template = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "nginx", "namespace": "default", "labels": {}, "annotations": {}}});
        match claim {
            Some(Claim::Namespaced {
                namespace,
                name,
                id,
            }) => {
                template["metadata"]["labels"][PROPAGATION_POLICY_PERMANENT_ID_LABEL] = json!(id);
                template["metadata"]["annotations"][PROPAGATION_POLICY_NAMESPACE_ANNOTATION] =
                    json!(namespace);
                template["metadata"]["annotations"][PROPAGATION_POLICY_NAME_ANNOTATION] =
                    json!(name);
            }
            Some(Claim::Cluster { name, id }) => {
                template["metadata"]["labels"][CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL] =
                    json!(id);
                template["metadata"]["annotations"][CLUSTER_PROPAGATION_POLICY_ANNOTATION] =
                    json!(name);
            }
            None => {}
        }
        template
    }

    fn claim(name: &str, id: &str) -> Claim {
        Claim::Namespaced {
            namespace: "default".into(),
            name: name.into(),
            id: id.into(),
        }
    }

    /// (case, template claim, namespaced policies, cluster policies, want release, want bind)
    type Case = (
        &'static str,
        Option<Claim>,
        Vec<PropagationPolicy>,
        Vec<ClusterPropagationPolicy>,
        Option<Claim>,
        Option<&'static str>,
    );

    #[test]
    fn decisions_follow_the_claim_rules() {
        let always = json!({"preemption": "Always", "priority": 5});
        let cases: Vec<Case> = vec![
            (
                "unclaimed, nothing matches",
                None,
                vec![pp("other", "1", &by_name("other"), &json!({}))],
                vec![],
                None,
                None,
            ),
            (
                "unclaimed, the best policy claims",
                None,
                vec![
                    pp("all", "1", &all_deployments(), &json!({})),
                    pp("named", "2", &by_name("nginx"), &json!({})),
                ],
                vec![],
                None,
                Some("named"),
            ),
            (
                "claim kept though a better policy appeared",
                Some(claim("all", "1")),
                vec![
                    pp("all", "1", &all_deployments(), &json!({})),
                    pp("named", "2", &by_name("nginx"), &json!({})),
                ],
                vec![],
                None,
                Some("all"),
            ),
            (
                "preemption takes it",
                Some(claim("all", "1")),
                vec![
                    pp("all", "1", &all_deployments(), &json!({})),
                    pp("named", "2", &by_name("nginx"), &always),
                ],
                vec![],
                None,
                Some("named"),
            ),
            (
                "policy gone: released and re-claimed",
                Some(claim("gone", "9")),
                vec![pp("all", "1", &all_deployments(), &json!({}))],
                vec![],
                Some(claim("gone", "9")),
                Some("all"),
            ),
            (
                "policy recreated with a new id: released, new one claims",
                Some(claim("all", "1")),
                vec![pp("all", "2", &all_deployments(), &json!({}))],
                vec![],
                Some(claim("all", "1")),
                Some("all"),
            ),
            (
                "policy no longer selects it: released, nothing else matches",
                Some(claim("named", "2")),
                vec![pp("named", "2", &by_name("other"), &json!({}))],
                vec![],
                Some(claim("named", "2")),
                None,
            ),
            (
                "cluster claim preempted by a namespaced policy with preemption",
                Some(Claim::Cluster {
                    name: "c".into(),
                    id: "c1".into(),
                }),
                vec![pp("named", "2", &by_name("nginx"), &always)],
                vec![cpp("c", "c1", &json!({}))],
                None,
                Some("named"),
            ),
            (
                "cluster claim kept without preemption",
                Some(Claim::Cluster {
                    name: "c".into(),
                    id: "c1".into(),
                }),
                vec![pp("named", "2", &by_name("nginx"), &json!({}))],
                vec![cpp("c", "c1", &json!({}))],
                None,
                Some("c"),
            ),
            (
                "cluster policy claims an unclaimed template",
                None,
                vec![],
                vec![cpp("c", "c1", &json!({}))],
                None,
                Some("c"),
            ),
        ];
        for (case, claim, namespaced, cluster, release, bind) in cases {
            let template = nginx(claim);
            let got = decide(&template, &namespaced, &cluster);
            assert_eq!(got.release, release, "{case}: release");
            assert_eq!(got.bind.map(|p| p.name()), bind, "{case}: bind");
        }
    }

    #[test]
    fn a_deleting_policy_loses_its_claim() {
        let mut policy = pp("all", "1", &all_deployments(), &json!({}));
        policy.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        let policies = [policy];
        let template = nginx(Some(claim("all", "1")));
        let got = decide(&template, &policies, &[]);
        assert_eq!(got.release, Some(claim("all", "1")));
        assert_eq!(got.bind, None);
    }
}
