//! One manifest of a Work as the member cluster sees it: its kind and name, the object the agent
//! applies, whether an existing member object belongs to the Work, and how to let one go.

use karmada_api::work::work::{WORK_NAME_ANNOTATION, WORK_NAMESPACE_ANNOTATION};
use karmada_propagation::binding::{CONFLICT_RESOLUTION_ANNOTATION, MANAGED_BY_KARMADA_LABEL};
use kube::api::GroupVersionKind;
use serde_json::{Map, Value, json};

/// Prefix of the keys Karmada stamps on member objects to tie them to a Work.
const WORK_KEY_PREFIX: &str = "work.karmada.io/";

/// The metadata fields the member's apiserver owns; a manifest copied from another cluster may
/// still carry them, and applying them would be rejected or meaningless.
const SERVER_METADATA: [&str; 7] = [
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "generation",
    "managedFields",
    "selfLink",
];

/// Why a manifest cannot be applied at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error(
        "manifest {ordinal} has no {field}; every manifest must be a Kubernetes object with apiVersion, kind and metadata.name"
    )]
    Missing { ordinal: usize, field: &'static str },
}

/// The Work a member object is applied for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkRef<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
}

/// Which member object a manifest describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub gvk: GroupVersionKind,
    /// As written in the manifest; namespaced kinds without one go to `default`.
    pub namespace: Option<String>,
    pub name: String,
}

impl Target {
    /// `Kind namespace/name`, for messages.
    pub fn describe(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!("{} {ns}/{}", self.gvk.kind, self.name),
            None => format!("{} {}", self.gvk.kind, self.name),
        }
    }
}

/// Reads the kind and name of the manifest at `ordinal`.
pub fn target(manifest: &Map<String, Value>, ordinal: usize) -> Result<Target, Error> {
    let text = |value: Option<&Value>, field| {
        value
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(Error::Missing { ordinal, field })
    };
    let api_version = text(manifest.get("apiVersion"), "apiVersion")?;
    let kind = text(manifest.get("kind"), "kind")?;
    let metadata = manifest.get("metadata");
    let name = text(metadata.and_then(|m| m.get("name")), "metadata.name")?;
    let namespace = metadata
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    Ok(Target {
        gvk: GroupVersionKind::gvk(group, version, &kind),
        namespace,
        name,
    })
}

/// The object to apply: the manifest without server-owned metadata, in `namespace` (`None` for
/// cluster-scoped kinds), stamped with the Karmada label and the annotations naming `work`, so
/// the agent's member watches find it and ownership can be told later.
pub fn desired(manifest: &Map<String, Value>, namespace: Option<&str>, work: WorkRef) -> Value {
    let mut object = manifest.clone();
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(metadata) = metadata.as_object_mut() {
        for field in SERVER_METADATA {
            metadata.remove(field);
        }
        match namespace {
            Some(ns) => metadata.insert("namespace".into(), ns.into()),
            None => metadata.remove("namespace"),
        };
        insert(metadata, "labels", MANAGED_BY_KARMADA_LABEL, "true");
        insert(
            metadata,
            "annotations",
            WORK_NAMESPACE_ANNOTATION,
            work.namespace,
        );
        insert(metadata, "annotations", WORK_NAME_ANNOTATION, work.name);
    }
    // Status belongs to the member; applying it would only be ignored.
    object.remove("status");
    Value::Object(object)
}

fn insert(metadata: &mut Map<String, Value>, map: &str, key: &str, value: &str) {
    let entry = metadata
        .entry(map)
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Some(entries) = entry.as_object_mut() {
        entries.insert(key.into(), value.into());
    }
}

/// Whether `live` (a member object) was applied for `work`, as its annotations record.
pub fn is_ours(live: &Value, work: WorkRef) -> bool {
    let annotation = |key: &str| live["metadata"]["annotations"][key].as_str();
    annotation(WORK_NAMESPACE_ANNOTATION) == Some(work.namespace)
        && annotation(WORK_NAME_ANNOTATION) == Some(work.name)
}

/// Whether the manifest allows taking over an object someone else created in the member.
pub fn may_overwrite(manifest: &Map<String, Value>) -> bool {
    manifest
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(CONFLICT_RESOLUTION_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("overwrite"))
}

/// The merge patch that hands `live` back to the member's users when its Work is deleted with
/// `preserveResourcesOnDeletion`: Karmada's label and every `work.karmada.io/` key go. `None`
/// when there is nothing to remove.
pub fn release_patch(live: &Value) -> Option<Value> {
    let removals = |map: &str, karmada: fn(&str) -> bool| -> Map<String, Value> {
        live["metadata"][map]
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|key| karmada(key))
            .map(|key| (key.clone(), Value::Null))
            .collect()
    };
    let labels = removals("labels", |k| {
        k == MANAGED_BY_KARMADA_LABEL || k.starts_with(WORK_KEY_PREFIX)
    });
    let annotations = removals("annotations", |k| k.starts_with(WORK_KEY_PREFIX));
    if labels.is_empty() && annotations.is_empty() {
        return None;
    }
    Some(json!({"metadata": {"labels": labels, "annotations": annotations}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORK: WorkRef = WorkRef {
        namespace: "karmada-es-m1",
        name: "nginx-deployment",
    };

    fn map(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else {
            panic!("not an object: {value}")
        };
        map
    }

    #[test]
    fn target_table() {
        let cases = [
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "nginx", "namespace": "web"}}),
                Ok(("apps", "v1", "Deployment", Some("web"), "nginx")),
            ),
            (
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}),
                Ok(("", "v1", "Namespace", None, "web")),
            ),
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "c"}}),
                Err("apiVersion"),
            ),
            (
                json!({"apiVersion": "v1", "metadata": {"name": "c"}}),
                Err("kind"),
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ""}}),
                Err("metadata.name"),
            ),
        ];
        for (manifest, want) in cases {
            let got = target(&map(manifest.clone()), 3);
            match want {
                Ok((group, version, kind, namespace, name)) => {
                    let got = got.expect("a target");
                    assert_eq!(got.gvk, GroupVersionKind::gvk(group, version, kind));
                    assert_eq!(got.namespace.as_deref(), namespace, "{manifest}");
                    assert_eq!(got.name, name);
                }
                Err(field) => assert_eq!(got, Err(Error::Missing { ordinal: 3, field })),
            }
        }
    }

    #[test]
    fn desired_strips_server_fields_and_stamps_ownership() {
        let manifest = map(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "resourceVersion": "7", "uid": "u", "generation": 2,
                         "labels": {"app": "x"}},
            "data": {"k": "v"},
            "status": {"phase": "x"}
        }));
        let got = desired(&manifest, Some("default"), WORK);
        assert_eq!(
            got,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "default",
                             "labels": {"app": "x", MANAGED_BY_KARMADA_LABEL: "true"},
                             "annotations": {WORK_NAMESPACE_ANNOTATION: "karmada-es-m1",
                                             WORK_NAME_ANNOTATION: "nginx-deployment"}},
                "data": {"k": "v"}
            })
        );
        let cluster_scoped = map(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "web", "namespace": "stray"}}));
        let got = desired(&cluster_scoped, None, WORK);
        assert_eq!(got["metadata"].get("namespace"), None);
    }

    #[test]
    fn ownership_and_overwrite_table() {
        let annotated = |ns: &str, name: &str| {
            json!({"metadata": {"annotations": {WORK_NAMESPACE_ANNOTATION: ns,
                                                WORK_NAME_ANNOTATION: name}}})
        };
        assert!(is_ours(
            &annotated("karmada-es-m1", "nginx-deployment"),
            WORK
        ));
        assert!(!is_ours(
            &annotated("karmada-es-m2", "nginx-deployment"),
            WORK
        ));
        assert!(!is_ours(&annotated("karmada-es-m1", "other"), WORK));
        assert!(!is_ours(&json!({"metadata": {"name": "x"}}), WORK));

        let with = |value: &str| {
            map(json!({"metadata": {"annotations": {CONFLICT_RESOLUTION_ANNOTATION: value}}}))
        };
        assert!(may_overwrite(&with("overwrite")));
        assert!(may_overwrite(&with("Overwrite")));
        assert!(!may_overwrite(&with("abort")));
        assert!(!may_overwrite(&map(json!({"metadata": {}}))));
    }

    #[test]
    fn release_removes_only_karmada_keys() {
        let live = json!({"metadata": {
            "labels": {"app": "x", MANAGED_BY_KARMADA_LABEL: "true",
                       "work.karmada.io/permanent-id": "id"},
            "annotations": {"note": "keep", WORK_NAME_ANNOTATION: "w",
                            WORK_NAMESPACE_ANNOTATION: "ns",
                            CONFLICT_RESOLUTION_ANNOTATION: "overwrite"}
        }});
        assert_eq!(
            release_patch(&live),
            Some(json!({"metadata": {
                "labels": {MANAGED_BY_KARMADA_LABEL: null, "work.karmada.io/permanent-id": null},
                "annotations": {WORK_NAME_ANNOTATION: null, WORK_NAMESPACE_ANNOTATION: null,
                                CONFLICT_RESOLUTION_ANNOTATION: null}
            }}))
        );
        assert_eq!(
            release_patch(&json!({"metadata": {"labels": {"app": "x"}}})),
            None
        );
    }
}
