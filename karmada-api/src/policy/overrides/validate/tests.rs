//! Table tests of validate: one case per rule.

use super::*;
use crate::policy::overrides::{
    ClusterOverrideSpec, CommandArgsOperator, CommandArgsOverrider, FieldOverrider, ImageComponent,
    ImageOverrider, ImagePredicate, LabelAnnotationOverrider, PlaintextOverrider, RuleWithCluster,
};
use crate::policy::selectors::{FieldSelector, FieldSelectorRequirement};
use crate::validation::Reason;
use kube::api::ObjectMeta;
use serde_json::json;

fn selector(namespace: Option<&str>) -> ResourceSelector {
    ResourceSelector {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: namespace.map(Into::into),
        ..Default::default()
    }
}

fn op(spec: OverrideSpec) -> OverridePolicy {
    let mut policy = OverridePolicy::new("p", spec);
    policy.metadata = ObjectMeta {
        name: Some("p".into()),
        namespace: Some("default".into()),
        ..Default::default()
    };
    policy
}

fn rule(overriders: Overriders) -> OverrideSpec {
    OverrideSpec {
        resource_selectors: vec![selector(None)],
        override_rules: vec![RuleWithCluster {
            target_cluster: None,
            overriders,
        }],
        ..Default::default()
    }
}

fn plaintext(path: &str, operator: OverriderOperator, value: Option<Value>) -> Overriders {
    Overriders {
        plaintext: vec![PlaintextOverrider {
            path: path.into(),
            operator,
            value,
        }],
        ..Default::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field(
    json_ops: Vec<PatchOperation>,
    yaml_ops: Vec<PatchOperation>,
    field_path: &str,
) -> Overriders {
    Overriders {
        field_overrider: vec![FieldOverrider {
            field_path: field_path.into(),
            json: json_ops,
            yaml: yaml_ops,
        }],
        ..Default::default()
    }
}

fn patch(sub_path: &str, operator: OverriderOperator, value: Option<Value>) -> PatchOperation {
    PatchOperation {
        sub_path: sub_path.into(),
        operator,
        value,
    }
}

const R: &str = "spec.overrideRules[0].overriders";

#[test]
fn defaults_fill_selector_namespace_with_the_policy_namespace() {
    let mut policy = op(OverrideSpec {
        resource_selectors: vec![selector(None), selector(Some("")), selector(Some("other"))],
        ..Default::default()
    });
    policy.default_fields();
    let namespaces: Vec<_> = policy
        .spec
        .resource_selectors
        .iter()
        .map(|s| s.namespace.as_deref())
        .collect();
    assert_eq!(
        namespaces,
        [Some("default"), Some("default"), Some("other")]
    );
}

/// Case name, spec, and the (field, reason) errors expected.
type Case = (&'static str, OverrideSpec, Vec<(String, Reason)>);

#[test]
fn validation_table() {
    use OverriderOperator::{Add, Remove, Replace};
    let fo = "spec.overrideRules[0].overriders.fieldOverrider[0]";
    let cases: Vec<Case> = vec![
        ("valid plaintext replace", rule(plaintext("/spec/replicas", Replace, Some(json!(2)))), vec![]),
        ("valid remove without value", rule(plaintext("/metadata/labels/a", Remove, None)), vec![]),
        (
            "selector apiVersion and kind required",
            OverrideSpec { resource_selectors: vec![ResourceSelector::default()], ..Default::default() },
            vec![
                ("spec.resourceSelectors[0].apiVersion".into(), Reason::Required),
                ("spec.resourceSelectors[0].kind".into(), Reason::Required),
            ],
        ),
        (
            "selector in another namespace",
            OverrideSpec { resource_selectors: vec![selector(Some("kube-system"))], ..Default::default() },
            vec![("spec.resourceSelectors[0].namespace".into(), Reason::Invalid)],
        ),
        (
            "overrideRules with deprecated targetCluster and overriders",
            OverrideSpec {
                target_cluster: Some(ClusterAffinity::default()),
                overriders: plaintext("/a", Remove, None),
                ..rule(Overriders::default())
            },
            vec![("spec.targetCluster".into(), Reason::Invalid), ("spec.overriders".into(), Reason::Invalid)],
        ),
        (
            "deprecated pair alone is accepted and validated",
            OverrideSpec { target_cluster: Some(ClusterAffinity::default()), overriders: plaintext("a", Remove, None), ..Default::default() },
            vec![("spec.overriders.plaintext[0].path".into(), Reason::Invalid)],
        ),
        ("plaintext path empty", rule(plaintext("", Remove, None)), vec![(format!("{R}.plaintext[0].path"), Reason::Invalid)]),
        ("plaintext path without slash", rule(plaintext("spec/replicas", Remove, None)), vec![(format!("{R}.plaintext[0].path"), Reason::Invalid)]),
        ("plaintext path bad escape", rule(plaintext("/metadata/labels/a~2b", Remove, None)), vec![(format!("{R}.plaintext[0].path"), Reason::Invalid)]),
        ("plaintext add without value", rule(plaintext("/a", Add, None)), vec![(format!("{R}.plaintext[0].value"), Reason::Required)]),
        ("plaintext replace without value", rule(plaintext("/a", Replace, None)), vec![(format!("{R}.plaintext[0].value"), Reason::Required)]),
        ("plaintext remove with value", rule(plaintext("/a", Remove, Some(json!("x")))), vec![(format!("{R}.plaintext[0].value"), Reason::Forbidden)]),
        (
            "image predicate path not a pointer",
            rule(Overriders {
                image_overrider: vec![ImageOverrider {
                    predicate: Some(ImagePredicate { path: "spec/containers/0/image".into() }),
                    component: ImageComponent::Tag,
                    operator: Replace,
                    value: Some("v2".into()),
                }],
                ..Default::default()
            }),
            vec![(format!("{R}.imageOverrider[0].predicate.path"), Reason::Invalid)],
        ),
        (
            "command overrider without container name",
            rule(Overriders {
                command_overrider: vec![CommandArgsOverrider { container_name: String::new(), operator: CommandArgsOperator::Add, value: vec!["x".into()] }],
                ..Default::default()
            }),
            vec![(format!("{R}.commandOverrider[0].containerName"), Reason::Required)],
        ),
        (
            "label key and value invalid",
            rule(Overriders {
                labels_overrider: vec![LabelAnnotationOverrider { operator: Add, value: labels(&[("bad key", "ok"), ("env", "not valid!")]) }],
                ..Default::default()
            }),
            vec![(format!("{R}.labelsOverrider[0].value"), Reason::Invalid), (format!("{R}.labelsOverrider[0].value"), Reason::Invalid)],
        ),
        (
            "annotation key invalid, free-form value fine",
            rule(Overriders {
                annotations_overrider: vec![LabelAnnotationOverrider { operator: Add, value: labels(&[("-bad", "any value at all!"), ("Example.com/Ok", "x y")]) }],
                ..Default::default()
            }),
            vec![(format!("{R}.annotationsOverrider[0].value"), Reason::Invalid)],
        ),
        (
            "annotations too large",
            rule(Overriders {
                annotations_overrider: vec![LabelAnnotationOverrider { operator: Add, value: labels(&[("big", &"x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT))]) }],
                ..Default::default()
            }),
            vec![(format!("{R}.annotationsOverrider[0].value"), Reason::Invalid)],
        ),
        ("field overrider valid yaml", rule(field(vec![], vec![patch("/db/port", Replace, Some(json!(5432)))], "/data/config.yaml")), vec![]),
        ("field overrider empty subPath is the whole document", rule(field(vec![patch("", Replace, Some(json!({})))], vec![], "/data/c.json")), vec![]),
        (
            "field overrider with both json and yaml",
            rule(field(vec![patch("/a", Remove, None)], vec![patch("/a", Remove, None)], "/data/c")),
            vec![(fo.into(), Reason::Invalid)],
        ),
        ("field overrider with neither", rule(field(vec![], vec![], "/data/c")), vec![(fo.into(), Reason::Required)]),
        (
            "field overrider fieldPath not a pointer",
            rule(field(vec![patch("/a", Remove, None)], vec![], "data")),
            vec![(format!("{fo}.fieldPath"), Reason::Invalid)],
        ),
        (
            "field overrider subPath not a pointer",
            rule(field(vec![], vec![patch("a/b", Remove, None)], "/data/c")),
            vec![(format!("{fo}.yaml[0].subPath"), Reason::Invalid)],
        ),
        (
            "field overrider value rules",
            rule(field(vec![patch("/a", Add, None), patch("/b", Remove, Some(json!(1)))], vec![], "/data/c")),
            vec![(format!("{fo}.json[0].value"), Reason::Required), (format!("{fo}.json[1].value"), Reason::Forbidden)],
        ),
        (
            "target cluster field selector key and operator",
            OverrideSpec {
                override_rules: vec![RuleWithCluster {
                    target_cluster: Some(ClusterAffinity {
                        field_selector: Some(FieldSelector {
                            match_expressions: vec![FieldSelectorRequirement { key: "city".into(), operator: "Exists".into(), values: vec![] }],
                        }),
                        ..Default::default()
                    }),
                    overriders: Overriders::default(),
                }],
                ..Default::default()
            },
            vec![
                ("spec.overrideRules[0].targetCluster.fieldSelector.matchExpressions[0].key".into(), Reason::Invalid),
                ("spec.overrideRules[0].targetCluster.fieldSelector.matchExpressions[0].operator".into(), Reason::Invalid),
            ],
        ),
    ];
    for (name, spec, want) in cases {
        crate::validation::assert_fields(name, op(spec).validate(None), &want);
    }
}

#[test]
fn cluster_policy_selectors_may_name_any_namespace() {
    let spec = OverrideSpec {
        resource_selectors: vec![selector(Some("kube-system"))],
        ..Default::default()
    };
    let policy = ClusterOverridePolicy::new("c", ClusterOverrideSpec(spec.clone()));
    assert!(policy.validate(None).is_empty());
    assert_eq!(op(spec).validate(None).len(), 1);
}
