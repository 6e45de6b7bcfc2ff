use super::*;

/// A ready cluster serving Deployments and ConfigMaps, with room for 10 one-CPU replicas.
fn cluster(name: &str) -> String {
    format!(
        r#"
  - apiVersion: cluster.karmada.io/v1alpha1
    kind: Cluster
    metadata: {{name: {name}}}
    spec: {{syncMode: Push}}
    status:
      apiEnablements:
        - groupVersion: apps/v1
          resources: [{{name: deployments, kind: Deployment}}]
      resourceSummary:
        allocatable: {{cpu: "10", pods: "110"}}"#
    )
}

fn clusters() -> String {
    format!("clusters:{}{}\n", cluster("member1"), cluster("member2"))
}

const DEPLOYMENT: &str = r#"
workload:
  apiVersion: apps/v1
  kind: Deployment
  metadata: {name: nginx, namespace: default, uid: template-uid}
  spec:
    replicas: 3
    template:
      spec:
        containers: [{name: nginx, resources: {requests: {cpu: 500m}}}]
"#;

const POLICY: &str = r#"
policy:
  apiVersion: policy.karmada.io/v1alpha1
  kind: PropagationPolicy
  metadata: {name: nginx}
  spec:
    resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: nginx}]
    placement:
      spreadConstraints: [{maxGroups: 2}]
      replicaScheduling: {replicaSchedulingType: Divided}
"#;

#[test]
fn policy_and_workload_build_the_detectors_binding() {
    let scenario = parse(&format!("{}{POLICY}{DEPLOYMENT}", clusters())).unwrap();
    let names: Vec<_> = scenario
        .clusters
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["member1", "member2"]);
    let spec = &scenario.spec;
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(
        spec.replica_requirements.as_ref().unwrap().resource_request["cpu"].0,
        "500m"
    );
    assert_eq!(
        spec.resource.to_string(),
        "Deployment default/nginx",
        "the binding points at the workload"
    );
    assert_eq!(spec.resource.uid.as_deref(), Some("template-uid"));
    let placement = spec.placement.as_ref().unwrap();
    assert_eq!(
        placement.spread_constraints[0].min_groups,
        Some(1),
        "the policy is defaulted as the API server would"
    );
    assert_eq!(
        serde_json::to_value(placement.replica_scheduling.as_ref().unwrap()).unwrap()["replicaDivisionPreference"],
        "Weighted"
    );
    assert!(scenario.warnings.is_empty(), "{:?}", scenario.warnings);
    assert_eq!(scenario.available, None);
}

#[test]
fn kind_list_clusters_and_the_optional_keys() {
    let text = format!(
        "clusters:\n  kind: List\n  items:{}\nplacement: {{}}\nreplicas: 4\n\
         replicaRequirements: {{resourceRequest: {{memory: 1Gi}}}}\n\
         previous: [{{name: member1, replicas: 4}}]\n\
         availableReplicas: {{member1: 2, member9: 1}}\nuid: u-1\n",
        cluster("member1").replace("\n  ", "\n    ")
    );
    let scenario = parse(&text).unwrap();
    assert_eq!(scenario.clusters.len(), 1);
    let spec = &scenario.spec;
    assert_eq!(spec.replicas, Some(4));
    assert_eq!(
        spec.replica_requirements.as_ref().unwrap().resource_request["memory"].0,
        "1Gi"
    );
    assert_eq!(
        spec.resource.to_string(),
        "Deployment default/scenario",
        "a bare replica count stands in for a Deployment"
    );
    assert_eq!(spec.resource.uid.as_deref(), Some("u-1"));
    assert_eq!(spec.clusters.len(), 1);
    assert_eq!(
        (spec.clusters[0].name.as_str(), spec.clusters[0].replicas),
        ("member1", Some(4))
    );
    assert_eq!(
        scenario.available,
        Some([("member1".into(), 2), ("member9".into(), 1)].into())
    );
    assert_eq!(
        scenario.warnings,
        ["availableReplicas names \"member9\", which is not among the clusters"]
    );
}

#[test]
fn a_policy_that_does_not_select_the_workload_is_a_warning() {
    let text = format!(
        "{}{}{DEPLOYMENT}",
        clusters(),
        POLICY.replace("name: nginx}]", "name: other}]")
    );
    let scenario = parse(&text).unwrap();
    assert_eq!(
        scenario.warnings,
        ["policy \"nginx\" does not select the workload; previewing its placement anyway"]
    );
}

#[test]
fn non_workloads_have_no_replicas() {
    let text = format!(
        "{}placement: {{}}\nworkload: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c, namespace: d}}}}\n",
        clusters()
    );
    let spec = parse(&text).unwrap().spec;
    assert_eq!((spec.replicas, spec.replica_requirements), (None, None));
}

#[test]
fn malformed_scenarios_name_the_field() {
    let base = clusters();
    let cases = [
        (
            "not yaml",
            "clusters: [\n".to_string(),
            "",
            "not valid YAML",
        ),
        ("a list", "- a\n".to_string(), "", "must be a YAML mapping"),
        (
            "unknown key",
            format!("{base}placement: {{}}\nreplicas: 1\nreplica: 2\n"),
            "replica",
            "unknown top-level key",
        ),
        (
            "no clusters",
            "placement: {}\nreplicas: 1\n".to_string(),
            "clusters",
            "is required",
        ),
        (
            "clusters a mapping",
            "clusters: {a: 1}\nplacement: {}\nreplicas: 1\n".to_string(),
            "clusters",
            "kind: List",
        ),
        (
            "not a cluster",
            "clusters: [{kind: Node}]\nplacement: {}\nreplicas: 1\n".to_string(),
            "clusters[0].kind",
            "expected Cluster",
        ),
        (
            "cluster missing its spec",
            "clusters: [{metadata: {name: a}}]\nplacement: {}\nreplicas: 1\n".to_string(),
            "clusters[0]",
            "missing field `spec`",
        ),
        (
            "nameless cluster",
            "clusters: [{metadata: {}, spec: {syncMode: Push}}]\nplacement: {}\nreplicas: 1\n"
                .to_string(),
            "clusters[0].metadata.name",
            "is required",
        ),
        (
            "duplicate cluster",
            format!(
                "clusters:{}{}\nplacement: {{}}\nreplicas: 1\n",
                cluster("a"),
                cluster("a")
            ),
            "clusters[1].metadata.name",
            "appears twice",
        ),
        (
            "policy and placement",
            format!("{base}{POLICY}placement: {{}}\nreplicas: 1\n"),
            "placement",
            "cannot be set with `policy:`",
        ),
        (
            "neither policy nor placement",
            format!("{base}replicas: 1\n"),
            "policy",
            "is required",
        ),
        (
            "neither workload nor replicas",
            format!("{base}placement: {{}}\n"),
            "workload",
            "is required",
        ),
        (
            "workload and replicas",
            format!("{base}placement: {{}}\nreplicas: 1\n{DEPLOYMENT}"),
            "replicas",
            "cannot be set with `workload:`",
        ),
        (
            "requirements with a workload",
            format!("{base}placement: {{}}\nreplicaRequirements: {{}}\n{DEPLOYMENT}"),
            "replicaRequirements",
            "use it with `replicas:`",
        ),
        (
            "negative replicas",
            format!("{base}placement: {{}}\nreplicas: -1\n"),
            "replicas",
            "non-negative",
        ),
        (
            "kindless workload",
            format!("{base}placement: {{}}\nworkload: {{apiVersion: v1, metadata: {{name: a}}}}\n"),
            "workload.kind",
            "is required",
        ),
        (
            "policy of another kind",
            format!("{base}policy: {{kind: OverridePolicy}}\nreplicas: 1\n"),
            "policy.kind",
            "PropagationPolicy or ClusterPropagationPolicy",
        ),
        (
            "invalid placement",
            format!(
                "{base}placement: {{spreadConstraints: [{{spreadByField: region, minGroups: 3, maxGroups: 2}}]}}\nreplicas: 1\n"
            ),
            "placement.spreadConstraints[0]",
            "",
        ),
        (
            "invalid policy",
            format!(
                "{base}{}replicas: 1\n",
                POLICY.replace("maxGroups: 2", "minGroups: 3, maxGroups: 2")
            ),
            "policy.spec.placement.spreadConstraints[0]",
            "",
        ),
        (
            "bad previous",
            format!("{base}placement: {{}}\nreplicas: 1\nprevious: [{{replicas: 1}}]\n"),
            "previous",
            "missing field `name`",
        ),
        (
            "bad estimate",
            format!("{base}placement: {{}}\nreplicas: 1\navailableReplicas: {{member1: lots}}\n"),
            "availableReplicas",
            "invalid type",
        ),
        (
            "uid not a string",
            format!("{base}placement: {{}}\nreplicas: 1\nuid: [1]\n"),
            "uid",
            "must be a string",
        ),
    ];
    for (case, text, field, message) in cases {
        let err = parse(&text).expect_err(case);
        assert!(
            err.field.starts_with(field),
            "{case}: field {:?}, want {field:?} ({err})",
            err.field
        );
        assert!(err.message.contains(message), "{case}: {err}");
    }
}
