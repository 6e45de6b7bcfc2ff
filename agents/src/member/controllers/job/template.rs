//! What a Job stamps on its pods: the generated selector and labels that tie them to the Job,
//! and the pod built from the template for one completion (index).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use serde_json::{Value, json};

use super::indexes::INDEX_KEY;
use crate::member::runtime::owned_pod;

/// The label the generated selector matches, and its pre-1.27 spelling pods also carry.
pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_JOB_NAME: &str = "job-name";

/// Whether the controller generates the Job's selector (the user did not ask to write it).
fn generated(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.manual_selector) != Some(true)
}

/// Labels every pod of a Job with a generated selector carries.
pub fn job_labels(job: &Job) -> BTreeMap<String, String> {
    let uid = job.uid().unwrap_or_default();
    let name = job.name_any();
    [
        (CONTROLLER_UID, uid.clone()),
        (LEGACY_CONTROLLER_UID, uid),
        (JOB_NAME, name.clone()),
        (LEGACY_JOB_NAME, name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The spec patch that fills in the generated selector and template labels, as the Kubernetes
/// apiserver does on create; `None` when they are already there or the selector is manual.
pub fn selector_patch(job: &Job) -> Option<Value> {
    let spec = job.spec.as_ref()?;
    if !generated(job) || spec.selector.is_some() || job.uid().is_none() {
        return None;
    }
    let uid = job.uid().unwrap_or_default();
    Some(json!({"spec": {
        "selector": {"matchLabels": {CONTROLLER_UID: uid}},
        "template": {"metadata": {"labels": job_labels(job)}},
    }}))
}

/// The pod for one completion of `job`; `index` for Indexed Jobs.
pub fn pod_for(job: &Job, index: Option<i32>) -> Pod {
    let template = job.spec.clone().unwrap_or_default().template;
    let meta = template.metadata.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    if generated(job) {
        labels.extend(job_labels(job));
    }
    let mut annotations = meta.annotations.unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    let mut generate_name = format!("{}-", job.name_any());
    if let Some(i) = index {
        labels.insert(INDEX_KEY.into(), i.to_string());
        annotations.insert(INDEX_KEY.into(), i.to_string());
        generate_name = format!("{}-{i}-", job.name_any());
        spec.hostname
            .get_or_insert_with(|| format!("{}-{i}", job.name_any()));
        for container in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            let env = container.env.get_or_insert_with(Vec::new);
            if !env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX") {
                env.push(EnvVar {
                    name: "JOB_COMPLETION_INDEX".into(),
                    value: Some(i.to_string()),
                    value_from: None,
                });
            }
        }
    }
    let identity = ObjectMeta {
        generate_name: Some(generate_name),
        labels: Some(labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        finalizers: meta.finalizers,
        ..ObjectMeta::default()
    };
    owned_pod(job, identity, Some(spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(extra: Value) -> Job {
        let mut v = json!({
            "metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
            "spec": {"template": {
                "metadata": {"labels": {"app": "pi"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]},
            }},
        });
        if let (Some(spec), Value::Object(more)) = (v["spec"].as_object_mut(), extra) {
            spec.extend(more);
        }
        serde_json::from_value(v).expect("job")
    }

    #[test]
    fn generated_selectors_are_filled_in_once() {
        let patch = selector_patch(&job(json!({}))).expect("patch");
        assert_eq!(
            patch["spec"]["selector"],
            json!({"matchLabels": {CONTROLLER_UID: "u1"}})
        );
        assert_eq!(
            patch["spec"]["template"]["metadata"]["labels"]["job-name"],
            "pi"
        );
        let cases = [
            json!({"selector": {"matchLabels": {CONTROLLER_UID: "u1"}}}),
            json!({"manualSelector": true, "selector": null}),
        ];
        for extra in cases {
            assert_eq!(selector_patch(&job(extra.clone())), None, "{extra}");
        }
    }

    #[test]
    fn pods_carry_the_job_labels_and_their_index() {
        let plain = pod_for(&job(json!({})), None);
        assert_eq!(plain.metadata.generate_name.as_deref(), Some("pi-"));
        let labels = plain.labels();
        for key in [
            CONTROLLER_UID,
            LEGACY_CONTROLLER_UID,
            JOB_NAME,
            LEGACY_JOB_NAME,
            "app",
        ] {
            assert!(labels.contains_key(key), "{key}");
        }
        assert_eq!(plain.owner_references()[0].kind, "Job");

        let indexed = pod_for(&job(json!({"completionMode": "Indexed"})), Some(2));
        assert_eq!(indexed.metadata.generate_name.as_deref(), Some("pi-2-"));
        assert_eq!(
            indexed.annotations().get(INDEX_KEY).map(String::as_str),
            Some("2")
        );
        assert_eq!(
            indexed.labels().get(INDEX_KEY).map(String::as_str),
            Some("2")
        );
        let spec = indexed.spec.expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some("pi-2"));
        let env = spec.containers[0].env.clone().unwrap_or_default();
        assert_eq!(env[0].value.as_deref(), Some("2"));

        let manual = pod_for(&job(json!({"manualSelector": true})), None);
        assert!(!manual.labels().contains_key(CONTROLLER_UID));
    }
}
