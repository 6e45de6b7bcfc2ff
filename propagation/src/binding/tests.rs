//! Rendering bindings into Works (Karmada's nginx sample included) and stale Work detection.

use super::*;
use crate::overrides::APPLIED_OVERRIDES_ANNOTATION;
use serde_json::json;

fn cluster(name: &str) -> Cluster {
    serde_json::from_value(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name}, "spec": {"syncMode": "Push"}
    }))
    .unwrap()
}

fn binding(spec: Value) -> ResourceBinding {
    let mut binding =
        ResourceBinding::new("nginx-deployment", serde_json::from_value(spec).unwrap());
    binding.metadata.namespace = Some("default".into());
    binding.metadata.labels = Some(BTreeMap::from([(
        RESOURCE_BINDING_PERMANENT_ID_LABEL.to_string(),
        "rb-id".to_string(),
    )]));
    binding
}

fn resource() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "nginx"})
}

fn sample(path: &str) -> Value {
    crate::samples::nginx(path)
}

fn stored_template() -> Value {
    let mut template = sample("deployment.yaml");
    let meta = &mut template["metadata"];
    meta["uid"] = json!("tpl-uid");
    meta["generation"] = json!(3);
    meta["resourceVersion"] = json!("42");
    meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    template["status"] = json!({"replicas": 2});
    template
}

fn manifest(work: &Work) -> &Map<String, Value> {
    &work.spec.workload.manifests[0]
}

#[test]
fn karmada_nginx_sample_renders_one_work_per_cluster() {
    let binding = binding(json!({
        "resource": resource(),
        "replicas": 2,
        "clusters": [{"name": "member1", "replicas": 1}, {"name": "member2", "replicas": 1}],
        "placement": {"replicaScheduling": {"replicaSchedulingType": "Divided"}}
    }));
    let policies: Vec<OverridePolicy> =
        vec![serde_json::from_value(sample("overridepolicy.yaml")).unwrap()];
    let clusters = [cluster("member1"), cluster("member2")];
    let works = render(&binding, &stored_template(), &clusters, &[], &policies).unwrap();
    assert_eq!(works.len(), 2);

    for (work, cluster) in works.iter().zip(["member1", "member2"]) {
        assert_eq!(work.metadata.name.as_deref(), Some("nginx-687f7fb96f"));
        assert_eq!(
            work.metadata.namespace.as_deref(),
            Some(format!("karmada-es-{cluster}").as_str())
        );
        assert_eq!(
            work.metadata.labels.as_ref().unwrap()[RESOURCE_BINDING_PERMANENT_ID_LABEL],
            "rb-id"
        );
        let annotations = work.metadata.annotations.as_ref().unwrap();
        assert_eq!(
            annotations[RESOURCE_BINDING_NAMESPACE_ANNOTATION],
            "default"
        );
        assert_eq!(
            annotations[RESOURCE_BINDING_NAME_ANNOTATION],
            "nginx-deployment"
        );
        assert_eq!(annotations[CONFLICT_RESOLUTION_ANNOTATION], "abort");
        assert!(annotations[APPLIED_OVERRIDES_ANNOTATION].contains(r#""policyName":"nginx-op""#));
        assert_eq!(
            work.metadata.finalizers,
            Some(vec![EXECUTION_CONTROLLER_FINALIZER.to_string()])
        );
        assert_eq!(work.spec.suspend_dispatching, Some(false));
        assert_eq!(work.spec.preserve_resources_on_deletion, Some(false));

        let m = manifest(work);
        assert_eq!(m["spec"]["replicas"], json!(1), "{cluster}");
        assert!(m.get("status").is_none());
        let meta = &m["metadata"];
        for gone in ["uid", "generation", "resourceVersion", "creationTimestamp"] {
            assert!(meta.get(gone).is_none(), "{gone} kept for {cluster}");
        }
        let a = &meta["annotations"];
        assert_eq!(a[RESOURCE_TEMPLATE_GENERATION_ANNOTATION], json!("3"));
        assert_eq!(a[RESOURCE_TEMPLATE_UID_ANNOTATION], json!("tpl-uid"));
        assert_eq!(a[WORK_NAME_ANNOTATION], json!("nginx-687f7fb96f"));
        assert_eq!(
            a[WORK_NAMESPACE_ANNOTATION],
            json!(format!("karmada-es-{cluster}"))
        );
        assert_eq!(a[CONFLICT_RESOLUTION_ANNOTATION], json!("abort"));
        assert_eq!(
            a[RESOURCE_BINDING_NAME_ANNOTATION],
            json!("nginx-deployment")
        );
        assert_eq!(meta["labels"][MANAGED_BY_KARMADA_LABEL], json!("true"));
        assert_eq!(
            meta["labels"][RESOURCE_BINDING_PERMANENT_ID_LABEL],
            json!("rb-id")
        );
    }

    // member1 gets the OverridePolicy's annotation, member2 its labels.
    let m1 = &manifest(&works[0])["metadata"];
    assert_eq!(m1["annotations"]["env"], json!("skoala-stage"));
    assert!(m1["labels"].get("env").is_none());
    let m2 = &manifest(&works[1])["metadata"];
    assert_eq!(m2["labels"]["env"], json!("skoala-dev"));
    assert_eq!(m2["labels"]["env-stat"], json!("skoala-stage"));
    assert!(m2["annotations"].get("env").is_none());
    assert_eq!(
        m2["annotations"][MANAGED_LABELS_ANNOTATION],
        json!("app,env,env-stat,karmada.io/managed,resourcebinding.karmada.io/permanent-id")
    );
    let managed = m2["annotations"][MANAGED_ANNOTATIONS_ANNOTATION]
        .as_str()
        .unwrap();
    assert!(
        managed.starts_with("resourcebinding.karmada.io/name,"),
        "{managed}"
    );
    assert!(managed.contains(MANAGED_LABELS_ANNOTATION));
}

#[test]
fn replicas_follow_the_schedule_for_divided_and_duplicated() {
    let template = stored_template();
    let clusters = [cluster("member1"), cluster("member2")];
    for mode in ["Divided", "Duplicated"] {
        let binding = binding(json!({
            "resource": resource(), "replicas": 2,
            "clusters": [{"name": "member1", "replicas": 2}, {"name": "member2", "replicas": 1}],
            "placement": {"replicaScheduling": {"replicaSchedulingType": mode}}
        }));
        let works = render(&binding, &template, &clusters, &[], &[]).unwrap();
        let got: Vec<_> = works
            .iter()
            .map(|w| manifest(w)["spec"]["replicas"].clone())
            .collect();
        assert_eq!(got, [json!(2), json!(1)], "{mode}");
    }
    // Without replicas the binding is no workload: the template's count is kept.
    let binding = binding(json!({"resource": resource(), "clusters": [{"name": "member1"}]}));
    let works = render(&binding, &template, &clusters, &[], &[]).unwrap();
    assert_eq!(manifest(&works[0])["spec"]["replicas"], json!(2));
}

#[test]
fn binding_settings_reach_the_work() {
    let template = stored_template();
    let clusters = [cluster("member1"), cluster("member2"), cluster("member3")];
    let binding = binding(json!({
        "resource": resource(), "replicas": 2,
        "clusters": [{"name": "member1", "replicas": 1}, {"name": "member2", "replicas": 1}],
        "requiredBy": [{"name": "parent", "clusters": [{"name": "member2"}, {"name": "member3"}]}],
        "conflictResolution": "Overwrite",
        "preserveResourcesOnDeletion": true,
        "suspension": {"dispatchingOnClusters": {"clusterNames": ["member2"]}}
    }));
    let works = render(&binding, &template, &clusters, &[], &[]).unwrap();
    let got: Vec<_> = works
        .iter()
        .map(|w| {
            (
                w.metadata.namespace.clone().unwrap(),
                w.spec.suspend_dispatching.unwrap(),
                w.spec.preserve_resources_on_deletion.unwrap(),
                w.metadata.annotations.as_ref().unwrap()[CONFLICT_RESOLUTION_ANNOTATION].clone(),
            )
        })
        .collect();
    let want = |ns: &str, suspended| (ns.to_string(), suspended, true, "overwrite".to_string());
    assert_eq!(
        got,
        [
            want("karmada-es-member1", false),
            want("karmada-es-member2", true),
            want("karmada-es-member3", false),
        ]
    );

    // The template's own annotation beats the binding's setting.
    let mut template = stored_template();
    template["metadata"]["annotations"] = json!({CONFLICT_RESOLUTION_ANNOTATION: "abort"});
    let works = render(&binding, &template, &clusters, &[], &[]).unwrap();
    assert_eq!(
        works[0].metadata.annotations.as_ref().unwrap()[CONFLICT_RESOLUTION_ANNOTATION],
        "abort"
    );
}

#[test]
fn cluster_bindings_stamp_their_own_keys() {
    let spec: ResourceBindingSpec = serde_json::from_value(json!({
        "resource": {"apiVersion": "v1", "kind": "Namespace", "name": "team"},
        "clusters": [{"name": "member1"}]
    }))
    .unwrap();
    let mut crb = ClusterResourceBinding::new("team-namespace", spec.into());
    crb.metadata.labels = Some(BTreeMap::from([(
        CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL.to_string(),
        "crb-id".to_string(),
    )]));
    let template = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
    let works = render(&crb, &template, &[cluster("member1")], &[], &[]).unwrap();
    let work = &works[0];
    assert_eq!(
        work.metadata.name.as_deref(),
        Some(work_name("Namespace", None, "team").as_str())
    );
    assert_eq!(
        work.metadata.labels.as_ref().unwrap()[CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL],
        "crb-id"
    );
    let annotations = work.metadata.annotations.as_ref().unwrap();
    assert_eq!(
        annotations[CLUSTER_RESOURCE_BINDING_NAME_ANNOTATION],
        "team-namespace"
    );
    assert!(!annotations.contains_key(RESOURCE_BINDING_NAME_ANNOTATION));
    // No generation, so no generation annotation.
    assert!(
        manifest(work)["metadata"]["annotations"]
            .get(RESOURCE_TEMPLATE_GENERATION_ANNOTATION)
            .is_none()
    );
}

#[test]
fn errors_name_the_cluster() {
    let binding = binding(json!({
        "resource": resource(), "replicas": 2,
        "clusters": [{"name": "member1", "replicas": 1}, {"name": "ghost", "replicas": 1}]
    }));
    let err = render(
        &binding,
        &stored_template(),
        &[cluster("member1")],
        &[],
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cluster ghost: no such Cluster is registered, so its overrides cannot be chosen"
    );

    let mut template = stored_template();
    template["spec"]["replicas"] = json!("two");
    let err = render(&binding, &template, &[cluster("member1")], &[], &[]).unwrap_err();
    assert!(
        matches!(&err, Error::Revise { cluster, .. } if cluster == "member1"),
        "{err}"
    );

    let err = render(&binding, &json!("nope"), &[], &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resource template Deployment default/nginx is not a JSON object"
    );
}

fn existing(cluster: &str) -> Work {
    let mut work = Work::new("nginx-687f7fb96f", WorkSpec::default());
    work.metadata.namespace = Some(execution_namespace(cluster));
    work
}

#[test]
fn stale_works_table() {
    let works: Vec<Work> = ["member1", "member2", "member3", "member4"]
        .into_iter()
        .map(existing)
        .collect();
    let cases = [
        (
            "unscheduled clusters are stale",
            json!({"clusters": [{"name": "member1"}, {"name": "member2"}]}),
            vec!["karmada-es-member3", "karmada-es-member4"],
        ),
        (
            "a graceful eviction task keeps its cluster's Work",
            json!({"clusters": [{"name": "member1"}],
                   "gracefulEvictionTasks": [
                       {"fromCluster": "member2", "reason": "TaintUntolerated",
                        "producer": "TaintManager", "purgeMode": "Gracefully"},
                       {"fromCluster": "member3", "reason": "TaintUntolerated",
                        "producer": "TaintManager"}]}),
            vec!["karmada-es-member4"],
        ),
        (
            "a Directly purged eviction keeps nothing",
            json!({"clusters": [{"name": "member1"}],
                   "gracefulEvictionTasks": [
                       {"fromCluster": "member2", "reason": "ApplicationFailure",
                        "producer": "ApplicationFailover", "purgeMode": "Directly"}]}),
            vec![
                "karmada-es-member2",
                "karmada-es-member3",
                "karmada-es-member4",
            ],
        ),
        (
            "clusters required by dependent bindings are kept",
            json!({"clusters": [{"name": "member1"}],
                   "requiredBy": [{"name": "app", "clusters": [{"name": "member4"}]}]}),
            vec!["karmada-es-member2", "karmada-es-member3"],
        ),
    ];
    for (case, spec, want) in cases {
        let mut spec = spec;
        spec["resource"] = resource();
        let spec: ResourceBindingSpec = serde_json::from_value(spec).unwrap();
        let stale = stale_works(&spec, &works).unwrap();
        let got: Vec<_> = stale
            .iter()
            .map(|w| w.metadata.namespace.as_deref().unwrap())
            .collect();
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn a_work_outside_execution_namespaces_is_an_error() {
    let mut work = existing("member1");
    work.metadata.namespace = Some("default".into());
    let spec: ResourceBindingSpec =
        serde_json::from_value(json!({"resource": resource()})).unwrap();
    let err = stale_works(&spec, &[work]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Work default/nginx-687f7fb96f is not in an execution namespace (karmada-es-<cluster>)"
    );
}

#[test]
fn divided_jobs_split_parallelism_and_completions() {
    let template = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default", "uid": "a"},
        "spec": {"parallelism": 5, "completions": 10, "ttlSecondsAfterFinished": 60}
    });
    let clusters = [cluster("member1"), cluster("member2")];
    let spec = |mode: &str| {
        binding(json!({
            "resource": {"apiVersion": "batch/v1", "kind": "Job", "namespace": "default", "name": "pi"},
            "replicas": 5,
            "clusters": [{"name": "member1", "replicas": 2}, {"name": "member2", "replicas": 3}],
            "placement": {"replicaScheduling": {"replicaSchedulingType": mode}}
        }))
    };
    let split = |mode: &str| -> Vec<Value> {
        render(&spec(mode), &template, &clusters, &[], &[])
            .unwrap()
            .iter()
            .map(|w| manifest(w)["spec"].clone())
            .collect()
    };
    assert_eq!(
        split("Divided"),
        [
            json!({"parallelism": 2, "completions": 4}),
            json!({"parallelism": 3, "completions": 6})
        ]
    );
    // Duplicated bindings keep the template's completions; parallelism still follows the
    // schedule, which for Duplicated is the full count per cluster.
    assert_eq!(
        split("Duplicated"),
        [
            json!({"parallelism": 2, "completions": 10}),
            json!({"parallelism": 3, "completions": 10})
        ]
    );
}

#[test]
fn direct_purges_hold_the_sync_until_the_old_work_is_gone() {
    let spec = |purge: &str| -> ResourceBindingSpec {
        serde_json::from_value(json!({
            "resource": resource(), "clusters": [{"name": "member1"}],
            "gracefulEvictionTasks": [{"fromCluster": "member2", "reason": "ApplicationFailure",
                                       "producer": "ApplicationFailover", "purgeMode": purge}]
        }))
        .unwrap()
    };
    let works = [existing("member1"), existing("member2")];
    assert!(awaiting_direct_purge(&spec("Directly"), &works));
    assert!(!awaiting_direct_purge(&spec("Directly"), &works[..1]));
    assert!(!awaiting_direct_purge(&spec("Gracefully"), &works));
}
