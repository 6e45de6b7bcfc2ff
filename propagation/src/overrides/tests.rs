//! Policy selection, ordering and end-to-end application, including Karmada's nginx sample.

use super::*;
use serde_json::json;

fn cluster(name: &str, labels: &Value) -> Cluster {
    serde_json::from_value(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name, "labels": labels},
        "spec": {"syncMode": "Push", "region": "eu-west"}
    }))
    .unwrap()
}

fn cluster_policy(name: &str, spec: Value) -> ClusterOverridePolicy {
    ClusterOverridePolicy::new(name, serde_json::from_value(spec).unwrap())
}

fn policy(namespace: &str, name: &str, spec: Value) -> OverridePolicy {
    let mut policy = OverridePolicy::new(name, serde_json::from_value(spec).unwrap());
    policy.metadata.namespace = Some(namespace.into());
    policy
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.0"}]}}}
    })
}

/// A rule that adds label `order=<tag>` so the application order shows in the result.
fn stamp(tag: &str) -> Value {
    json!({"labelsOverrider": [{"operator": "add", "value": {"order": tag}}]})
}

fn names(applied: &[AppliedOverride]) -> Vec<String> {
    applied.iter().map(AppliedOverride::policy_label).collect()
}

#[test]
fn orders_by_kind_then_implicit_priority_then_name() {
    let by_name = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}]);
    let by_label = json!([{"apiVersion": "apps/v1", "kind": "Deployment",
                           "labelSelector": {"matchLabels": {"app": "web"}}}]);
    let by_kind = json!([{"apiVersion": "apps/v1", "kind": "Deployment"}]);
    let rule = |tag: &str| json!([{"overriders": stamp(tag)}]);
    let cluster_policies = [
        cluster_policy(
            "c-name",
            json!({"resourceSelectors": by_name, "overrideRules": rule("c1")}),
        ),
        cluster_policy("c-all", json!({"overrideRules": rule("c2")})),
    ];
    let policies = [
        policy(
            "shop",
            "b-name",
            json!({"resourceSelectors": by_name, "overrideRules": rule("n1")}),
        ),
        policy(
            "shop",
            "a-name",
            json!({"resourceSelectors": by_name, "overrideRules": rule("n2")}),
        ),
        policy(
            "shop",
            "z-label",
            json!({"resourceSelectors": by_label, "overrideRules": rule("n3")}),
        ),
        policy(
            "shop",
            "y-kind",
            json!({"resourceSelectors": by_kind, "overrideRules": rule("n4")}),
        ),
        policy("other", "elsewhere", json!({"overrideRules": rule("x")})),
        policy(
            "shop",
            "mismatch",
            json!({
                "resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "db"}],
                "overrideRules": rule("x")
            }),
        ),
    ];
    let member = cluster("member1", &json!({}));
    let applied = apply_overrides(&deployment(), &member, &cluster_policies, &policies).unwrap();
    assert_eq!(
        names(&applied.applied),
        [
            "c-all",
            "c-name",
            "shop/y-kind",
            "shop/z-label",
            "shop/a-name",
            "shop/b-name"
        ]
    );
    // The most specific OverridePolicy applies last and wins.
    assert_eq!(applied.manifest["metadata"]["labels"]["order"], "n1");
}

#[test]
fn cluster_scoped_templates_skip_override_policies() {
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    let cluster_policies = [cluster_policy(
        "all",
        json!({"overrideRules": [{"overriders": stamp("c")}]}),
    )];
    let policies = [policy(
        "shop",
        "p",
        json!({"overrideRules": [{"overriders": stamp("n")}]}),
    )];
    let member = cluster("member1", &json!({}));
    let applied = apply_overrides(&namespace, &member, &cluster_policies, &policies).unwrap();
    assert_eq!(names(&applied.applied), ["all"]);
    assert_eq!(applied.applied_overrides(), None);
}

#[test]
fn rules_follow_their_target_clusters_in_order() {
    let spec = json!({"overrideRules": [
        {"targetCluster": {"clusterNames": ["member1"]}, "overriders": stamp("one")},
        {"targetCluster": {"labelSelector": {"matchLabels": {"env": "prod"}}}, "overriders": stamp("prod")},
        {"overriders": stamp("every")},
        {"targetCluster": {"exclude": ["member2"]}, "overriders": stamp("not-two")},
    ]});
    let policies = [policy("shop", "p", spec)];
    let cases = [
        (
            cluster("member1", &json!({})),
            vec![Some(0), Some(2), Some(3)],
            "not-two",
        ),
        (
            cluster("member2", &json!({"env": "prod"})),
            vec![Some(1), Some(2)],
            "every",
        ),
        (
            cluster("member3", &json!({"env": "prod"})),
            vec![Some(1), Some(2), Some(3)],
            "not-two",
        ),
    ];
    for (member, rules, last) in cases {
        let applied = apply_overrides(&deployment(), &member, &[], &policies).unwrap();
        let got: Vec<_> = applied.applied.iter().map(|a| a.rule).collect();
        assert_eq!(got, rules, "{:?}", member.metadata.name);
        assert_eq!(applied.manifest["metadata"]["labels"]["order"], last);
    }
}

#[test]
fn deprecated_target_cluster_and_overriders_pair() {
    let spec = json!({
        "targetCluster": {"clusterNames": ["member1"]},
        "overriders": {"plaintext": [{"path": "/spec/replicas", "operator": "replace", "value": 3}]}
    });
    let policies = [policy("shop", "legacy", spec)];
    let one = apply_overrides(
        &deployment(),
        &cluster("member1", &json!({})),
        &[],
        &policies,
    )
    .unwrap();
    assert_eq!(one.manifest["spec"]["replicas"], 3);
    assert_eq!(one.applied[0].rule, None);
    let two = apply_overrides(
        &deployment(),
        &cluster("member2", &json!({})),
        &[],
        &policies,
    )
    .unwrap();
    assert!(two.applied.is_empty());
    assert_eq!(two.manifest, deployment());
}

#[test]
fn overriders_run_in_karmada_order() {
    // Plaintext runs last, so it sees the image the image overrider wrote.
    let spec = json!({"overrideRules": [{"overriders": {
        "plaintext": [{"path": "/metadata/annotations/seen",
                       "operator": "add", "value": "plaintext"}],
        "imageOverrider": [{"component": "Registry", "operator": "replace", "value": "mirror.io"}],
        "argsOverrider": [{"containerName": "web", "operator": "add", "value": ["--x"]}],
        "annotationsOverrider": [{"operator": "add", "value": {"by": "annotations"}}]
    }}]});
    let policies = [policy("shop", "p", spec)];
    let applied =
        apply_overrides(&deployment(), &cluster("m", &json!({})), &[], &policies).unwrap();
    let container = &applied.manifest["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "mirror.io/nginx:1.0");
    assert_eq!(container["args"], json!(["--x"]));
    assert_eq!(
        applied.manifest["metadata"]["annotations"],
        json!({"by": "annotations", "seen": "plaintext"})
    );
}

#[test]
fn errors_name_the_policy_and_path() {
    let spec = json!({"overrideRules": [{"overriders": {
        "plaintext": [{"path": "/spec/nothing/here", "operator": "replace", "value": 1}]
    }}]});
    let policies = [policy("shop", "broken", spec)];
    let err =
        apply_overrides(&deployment(), &cluster("m", &json!({})), &[], &policies).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("OverridePolicy shop/broken: plaintext"),
        "{message}"
    );
    assert!(message.contains("/spec/nothing/here"), "{message}");
}

#[test]
fn annotation_values_match_karmadas_encoding() {
    let cluster_policies = [
        cluster_policy(
            "z-images",
            json!({"overrideRules": [{"overriders": {
                "imageOverrider": [{"component": "Tag", "operator": "remove"}],
                "plaintext": [{"path": "/metadata/labels/app", "operator": "remove"}]
            }}]}),
        ),
        cluster_policy(
            "a-args",
            json!({"overrideRules": [{"overriders": {
                "argsOverrider": [{"containerName": "web", "operator": "add", "value": ["<x>&"]}]
            }}]}),
        ),
    ];
    let member = cluster("m", &json!({}));
    let applied = apply_overrides(&deployment(), &member, &cluster_policies, &[]).unwrap();
    let want = concat!(
        r#"[{"policyName":"a-args","overriders":{"argsOverrider":[{"containerName":"web","#,
        r#""operator":"add","value":["\u003cx\u003e\u0026"]}]}},"#,
        r#"{"policyName":"z-images","overriders":{"plaintext":[{"path":"/metadata/labels/app","#,
        r#""operator":"remove","value":null}],"imageOverrider":[{"component":"Tag","operator":"remove"}]}}]"#
    );
    assert_eq!(applied.applied_cluster_overrides().as_deref(), Some(want));
    assert_eq!(applied.applied_overrides(), None);
    let annotations = applied.annotations();
    assert_eq!(annotations.len(), 1);
    assert_eq!(annotations[APPLIED_CLUSTER_OVERRIDES_ANNOTATION], want);
}

fn sample(path: &str) -> Value {
    crate::samples::nginx(path)
}

#[test]
fn karmada_nginx_sample() {
    let template = sample("deployment.yaml");
    let policies: Vec<OverridePolicy> =
        vec![serde_json::from_value(sample("overridepolicy.yaml")).unwrap()];

    let member2 =
        apply_overrides(&template, &cluster("member2", &json!({})), &[], &policies).unwrap();
    assert_eq!(
        member2.manifest["metadata"]["labels"],
        json!({"app": "nginx", "env": "skoala-dev", "env-stat": "skoala-stage"})
    );
    assert!(member2.manifest["metadata"].get("annotations").is_none());
    assert_eq!(
        member2.applied_overrides().as_deref(),
        Some(concat!(
            r#"[{"policyName":"nginx-op","overriders":{"labelsOverrider":["#,
            r#"{"operator":"add","value":{"env":"skoala-dev"}},"#,
            r#"{"operator":"add","value":{"env-stat":"skoala-stage"}},"#,
            r#"{"operator":"remove","value":{"for":"for"}},"#,
            r#"{"operator":"replace","value":{"bar":"test"}}]}}]"#
        ))
    );

    let member1 =
        apply_overrides(&template, &cluster("member1", &json!({})), &[], &policies).unwrap();
    assert_eq!(
        member1.manifest["metadata"]["labels"],
        json!({"app": "nginx"})
    );
    assert_eq!(
        member1.manifest["metadata"]["annotations"],
        json!({"env": "skoala-stage"})
    );
    assert_eq!(member1.applied[0].rule, Some(1));

    let member3 =
        apply_overrides(&template, &cluster("member3", &json!({})), &[], &policies).unwrap();
    assert_eq!(member3.manifest, template);
    assert!(member3.annotations().is_empty());
}
