//! A StatefulSet pod's stable identity: its name, hostname, labels and the
//! PersistentVolumeClaims made for its ordinal from the set's claim templates.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::plan::REVISION_LABEL;
use crate::member::runtime::{controller_reference, owned_pod};

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.name_any())
}

/// The claim of template `claim` for `ordinal`: `<claim>-<set>-<ordinal>`.
pub fn claim_name(claim: &str, set: &StatefulSet, ordinal: i32) -> String {
    format!("{claim}-{}", pod_name(set, ordinal))
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

/// Whether the set's retention policy deletes claims when `when` ("whenScaled" or
/// "whenDeleted") happens; Kubernetes retains them by default.
pub fn deletes_claims(set: &StatefulSet, when: &str) -> bool {
    let policy = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let value = match when {
        "whenScaled" => policy.and_then(|p| p.when_scaled.as_deref()),
        _ => policy.and_then(|p| p.when_deleted.as_deref()),
    };
    value == Some("Delete")
}

/// The claims the pod of `ordinal` mounts. With `whenDeleted: Delete` the set owns them, so
/// garbage collection removes them with the set.
pub fn claims(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let selector_labels = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    let owned = deletes_claims(set, "whenDeleted");
    claim_templates(set)
        .iter()
        .map(|template| {
            let mut labels = template.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector_labels.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(&template.name_any(), set, ordinal)),
                    namespace: set.namespace(),
                    labels: Some(labels),
                    annotations: template.metadata.annotations.clone(),
                    owner_references: owned.then(|| vec![controller_reference(set)]),
                    ..Default::default()
                },
                spec: template.spec.clone(),
                status: None,
            }
        })
        .collect()
}

/// The pod of `ordinal` made from `template` (the recorded template of `revision`).
pub fn pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let name = pod_name(set, ordinal);
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.into());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    spec.subdomain = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
    let mut volumes = spec.volumes.take().unwrap_or_default();
    for template in claim_templates(set) {
        let volume = template.name_any();
        volumes.retain(|v| v.name != volume);
        volumes.push(Volume {
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&volume, set, ordinal),
                read_only: None,
            }),
            name: volume,
            ..Default::default()
        });
    }
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
    let identity = ObjectMeta {
        name: Some(name),
        labels: Some(labels),
        annotations: meta.annotations,
        finalizers: meta.finalizers,
        ..Default::default()
    };
    owned_pod(set, identity, Some(spec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(policy: serde_json::Value) -> StatefulSet {
        let mut value = json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {
                "serviceName": "nginx",
                "selector": {"matchLabels": {"app": "nginx"}},
                "template": {"metadata": {"labels": {"app": "nginx"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}],
                        "volumes": [{"name": "www", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
            }
        });
        value["spec"]["persistentVolumeClaimRetentionPolicy"] = policy;
        serde_json::from_value(value).expect("statefulset")
    }

    #[test]
    fn pods_carry_their_identity_and_claims() {
        let s = set(json!({}));
        let template = s.spec.as_ref().map(|s| s.template.clone());
        let p = pod(&s, &template.expect("template"), 2, "web-abc");
        assert_eq!(p.name_any(), "web-2");
        let labels = p.labels();
        assert_eq!(labels[POD_NAME_LABEL], "web-2");
        assert_eq!(labels[POD_INDEX_LABEL], "2");
        assert_eq!(labels[REVISION_LABEL], "web-abc");
        assert_eq!(labels["app"], "nginx");
        let spec = p.spec.expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let volumes: Vec<(String, Option<String>)> = spec
            .volumes
            .expect("volumes")
            .into_iter()
            .map(|v| (v.name, v.persistent_volume_claim.map(|c| c.claim_name)))
            .collect();
        assert_eq!(
            volumes,
            [
                ("tmp".to_owned(), None),
                ("www".to_owned(), Some("www-web-2".to_owned()))
            ]
        );
    }

    #[test]
    fn claims_follow_the_retention_policy() {
        let cases = [
            (json!({}), false, false),
            (json!({"whenDeleted": "Delete"}), true, false),
            (json!({"whenScaled": "Delete"}), false, true),
        ];
        for (policy, owned, scaled) in cases {
            let s = set(policy.clone());
            let c = claims(&s, 1);
            assert_eq!(c.len(), 1);
            assert_eq!(c[0].name_any(), "www-web-1");
            assert_eq!(c[0].labels()["app"], "nginx");
            assert_eq!(
                c[0].owner_references().len(),
                usize::from(owned),
                "{policy}"
            );
            assert_eq!(deletes_claims(&s, "whenScaled"), scaled, "{policy}");
        }
    }
}
