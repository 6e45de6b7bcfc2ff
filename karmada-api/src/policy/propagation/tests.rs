//! Tests of the propagation policy kinds: generated CRDs, Karmada's samples, and admission of
//! whole objects.

use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Value, json};

use super::*;
use crate::policy::selectors::ClusterAffinity;
use crate::validation::{Admit, Reason};

/// The CRD as JSON, after checking it deserializes as an apiextensions.k8s.io/v1 CRD.
pub(crate) fn crd_json(crd: &CustomResourceDefinition) -> Value {
    let value = serde_json::to_value(crd).unwrap();
    let back: CustomResourceDefinition = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(&back, crd);
    assert_eq!(value["apiVersion"], "apiextensions.k8s.io/v1");
    value
}

/// A Karmada sample as JSON.
pub(crate) fn sample(relative: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/karmada")
        .join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap()
}

fn policy_columns(crd: &Value) -> Vec<(String, String, String)> {
    crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap().to_owned();
            (text("name"), text("type"), text("jsonPath"))
        })
        .collect()
}

/// The allowed values of an enum schema; kube lists `null` too for optional enums, which a
/// serialized object never sends.
fn enum_values(schema: &Value) -> Vec<&str> {
    schema["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn crds_have_karmada_names_scope_and_columns() {
    let cases = [
        (
            PropagationPolicy::crd(),
            "propagationpolicies",
            "PropagationPolicy",
            "pp",
            "Namespaced",
        ),
        (
            ClusterPropagationPolicy::crd(),
            "clusterpropagationpolicies",
            "ClusterPropagationPolicy",
            "cpp",
            "Cluster",
        ),
    ];
    let expected_columns = [
        ("CONFLICT-RESOLUTION", "string", ".spec.conflictResolution"),
        ("PRIORITY", "string", ".spec.priority"),
        ("AGE", "date", ".metadata.creationTimestamp"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    for (crd, plural, kind, short, scope) in cases {
        let crd = crd_json(&crd);
        assert_eq!(
            crd["metadata"]["name"],
            format!("{plural}.policy.karmada.io")
        );
        assert_eq!(crd["spec"]["group"], "policy.karmada.io");
        assert_eq!(crd["spec"]["scope"], scope);
        let names = &crd["spec"]["names"];
        assert_eq!(names["kind"], kind);
        assert_eq!(names["plural"], plural);
        assert_eq!(names["singular"], kind.to_lowercase());
        assert_eq!(names["shortNames"], json!([short]));
        assert_eq!(names["categories"], json!(["karmada-io"]));
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        assert_eq!(
            (version["served"].clone(), version["storage"].clone()),
            (json!(true), json!(true))
        );
        assert!(
            version
                .get("subresources")
                .is_none_or(|s| s.get("status").is_none()),
            "{kind} has no status"
        );
        assert_eq!(policy_columns(&crd), expected_columns);

        let schema = &version["schema"]["openAPIV3Schema"];
        crate::structural::assert_structural(schema);
        let spec = &schema["properties"]["spec"];
        assert_eq!(spec["required"], json!(["resourceSelectors"]), "{kind}");
        let placement = &spec["properties"]["placement"]["properties"];
        let term = &placement["clusterAffinities"]["items"]["properties"];
        assert!(
            term["clusterNames"].is_object() && term["overflowAffinities"].is_object(),
            "{kind}"
        );
        assert_eq!(
            enum_values(&placement["spreadConstraints"]["items"]["properties"]["spreadByField"]),
            ["cluster", "region", "zone", "provider"]
        );
        assert_eq!(
            enum_values(&spec["properties"]["conflictResolution"]),
            ["Abort", "Overwrite"]
        );
    }
}

#[test]
fn samples_round_trip_exactly() {
    let cases = [
        ("nginx/propagationpolicy.yaml", "PropagationPolicy"),
        (
            "guestbook/guestbooks-propagationpolicy.yaml",
            "PropagationPolicy",
        ),
        (
            "guestbook/guestbooks-clusterpropagationpolicy.yaml",
            "ClusterPropagationPolicy",
        ),
    ];
    for (file, kind) in cases {
        let original = sample(file);
        assert_eq!(original["kind"], kind, "{file}");
        let again = if kind == "PropagationPolicy" {
            let parsed: PropagationPolicy = serde_json::from_value(original.clone()).unwrap();
            assert!(
                parsed.validate(None).is_empty(),
                "{file}: {:?}",
                parsed.validate(None)
            );
            serde_json::to_value(&parsed).unwrap()
        } else {
            let parsed: ClusterPropagationPolicy =
                serde_json::from_value(original.clone()).unwrap();
            assert!(
                parsed.validate(None).is_empty(),
                "{file}: {:?}",
                parsed.validate(None)
            );
            serde_json::to_value(&parsed).unwrap()
        };
        assert_eq!(again, original, "{file}");
    }
}

#[test]
fn nginx_sample_reads_as_divided_static_weights() {
    let pp: PropagationPolicy =
        serde_json::from_value(sample("nginx/propagationpolicy.yaml")).unwrap();
    let placement = pp.spec.placement.as_ref().unwrap();
    assert_eq!(
        placement.replica_scheduling_type(),
        ReplicaSchedulingType::Divided
    );
    let weights = &placement
        .replica_scheduling
        .as_ref()
        .unwrap()
        .weight_preference;
    let list = &weights.as_ref().unwrap().static_weight_list;
    assert_eq!(list[1].target_cluster.cluster_names, ["member2"]);
    assert_eq!(list[1].weight, 1);
}

fn namespaced_policy(selector_namespace: Option<&str>) -> PropagationPolicy {
    let mut pp = PropagationPolicy::new(
        "web",
        PropagationSpec {
            resource_selectors: vec![ResourceSelector {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: selector_namespace.map(str::to_owned),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    pp.metadata.namespace = Some("prod".into());
    pp
}

#[test]
fn namespaced_policy_selects_only_its_namespace() {
    let mut pp = namespaced_policy(None);
    pp.default_fields();
    assert_eq!(
        pp.spec.resource_selectors[0].namespace.as_deref(),
        Some("prod")
    );
    assert_eq!(pp.spec.scheduler_name.as_deref(), Some("default-scheduler"));
    assert!(pp.validate(None).is_empty());

    let mut other = namespaced_policy(Some("staging"));
    other.default_fields();
    let errors = other.validate(None);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "spec.resourceSelectors[0].namespace");
    assert!(
        errors[0].message.contains("\"prod\""),
        "{}",
        errors[0].message
    );
}

#[test]
fn cluster_policy_may_select_any_namespace() {
    let pp = namespaced_policy(Some("staging"));
    let mut cpp = ClusterPropagationPolicy::new("all", ClusterPropagationSpec(pp.spec));
    cpp.default_fields();
    assert_eq!(
        cpp.spec.resource_selectors[0].namespace.as_deref(),
        Some("staging")
    );
    assert_eq!(
        cpp.spec.conflict_resolution,
        Some(ConflictResolution::Abort)
    );
    assert!(cpp.validate(None).is_empty());
}

#[test]
fn updates_keep_scheduler_name_and_permanent_id() {
    let mut old = namespaced_policy(None);
    old.default_fields();
    old.metadata.labels = Some(
        [(
            PROPAGATION_POLICY_PERMANENT_ID_LABEL.to_owned(),
            "id-1".to_owned(),
        )]
        .into(),
    );

    let mut same = old.clone();
    same.spec.priority = Some(5);
    assert!(same.validate(Some(&old)).is_empty());

    let mut renamed = old.clone();
    renamed.spec.scheduler_name = Some("other".into());
    renamed.metadata.labels = None;
    let errors = renamed.validate(Some(&old));
    let fields: Vec<_> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.reason))
        .collect();
    assert_eq!(
        fields,
        [
            ("spec.schedulerName", Reason::Forbidden),
            (
                "metadata.labels[propagationpolicy.karmada.io/permanent-id]",
                Reason::Forbidden
            ),
        ]
    );

    let mut old_cpp = ClusterPropagationPolicy::new("c", ClusterPropagationSpec::default());
    old_cpp.spec.scheduler_name = None;
    let mut new_cpp = old_cpp.clone();
    new_cpp.spec.scheduler_name = Some("default-scheduler".into());
    let errors = new_cpp.validate(Some(&old_cpp));
    assert_eq!(errors.len(), 1, "only the empty selector list: {errors:?}");
    assert_eq!(errors[0].field, "spec.resourceSelectors");
}

#[test]
fn cluster_spec_dereferences_to_the_shared_spec() {
    let mut spec = ClusterPropagationSpec::from(PropagationSpec {
        priority: Some(3),
        ..Default::default()
    });
    spec.placement = Some(Placement {
        cluster_affinity: Some(ClusterAffinity {
            cluster_names: vec!["member1".into()],
            ..Default::default()
        }),
        ..Default::default()
    });
    let shared: &PropagationSpec = &spec;
    assert_eq!(shared.priority, Some(3));
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(
        json,
        json!({"resourceSelectors": [], "priority": 3, "placement": {"clusterAffinity": {"clusterNames": ["member1"]}}})
    );
}

#[test]
fn defaulting_the_nginx_sample_adds_only_karmada_defaults() {
    let original = sample("nginx/propagationpolicy.yaml");
    let mut pp: PropagationPolicy = serde_json::from_value(original.clone()).unwrap();
    pp.metadata.namespace = Some("default".into());
    pp.default_fields();
    assert!(pp.validate(None).is_empty(), "{:?}", pp.validate(None));

    let mut expected = original;
    expected["metadata"]["namespace"] = json!("default");
    let spec = &mut expected["spec"];
    spec["resourceSelectors"][0]["namespace"] = json!("default");
    spec["conflictResolution"] = json!("Abort");
    spec["preemption"] = json!("Never");
    spec["priority"] = json!(0);
    spec["schedulerName"] = json!("default-scheduler");
    assert_eq!(serde_json::to_value(&pp).unwrap(), expected);

    let mut again = pp.clone();
    again.default_fields();
    assert_eq!(again, pp, "defaulting is idempotent");
}
