//! Makes CustomResourceDefinitions servable: registers their versions in the catalog, sets
//! `Established`/`NamesAccepted`, and on deletion removes every custom resource first.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::registry::catalog::{Origin, PrinterColumn, Resource, ScalePaths};
use crate::registry::object::{Meta, now_rfc3339};
use crate::registry::store::{Store, WriteOptions};
use crate::registry::strategy::Subresource;

/// Finalizer that holds a CRD until its custom resources are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";
const PREFIX: &str = "/registry/apiextensions.k8s.io/customresourcedefinitions/";

/// Registers the CRDs already stored. Run before serving so custom resources are there at once.
pub fn load(store: &Store) {
    let (crds, _) = store.cache().list(PREFIX);
    for (_, crd) in crds {
        if !crd.is_deleting() {
            register(store, &crd);
        }
    }
}

/// Installs CRDs the server serves from start (created, or updated when their spec changed
/// since the stored copy) and registers them at once, so their kinds are served before the
/// first request.
pub async fn install(store: &Store, crds: Vec<Value>) -> Result<(), crate::registry::error::Error> {
    let resource = store
        .catalog()
        .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("CRDs are native");
    let options = WriteOptions {
        field_manager: Some("karmada-apiserver".into()),
        ..Default::default()
    };
    for crd in crds {
        let name = crd.name().unwrap_or_default().to_string();
        let stored = store
            .update_with(
                &resource,
                None,
                &name,
                Subresource::Main,
                &options,
                true,
                |current| {
                    Ok(match current {
                        // Unchanged: written back as it is, which stores nothing new.
                        Some(current) if current.get("spec") == crd.get("spec") => current.clone(),
                        Some(current) => {
                            let mut updated = current.clone();
                            updated["spec"] = crd["spec"].clone();
                            updated
                        }
                        None => crd.clone(),
                    })
                },
            )
            .await?
            .0;
        register(store, &stored);
    }
    Ok(())
}

pub async fn run(store: Store, cancel: CancellationToken) {
    let Ok(mut receiver) = store.cache().watch(None).map(|s| s.receiver) else {
        return;
    };
    loop {
        let (crds, _) = store.cache().list(PREFIX);
        for (_, crd) in crds {
            if let Err(e) = reconcile(&store, &crd).await {
                tracing::warn!(crd = crd.name().unwrap_or_default(), error = %e, "CRD reconcile failed");
            }
        }
        if !super::next_batch(&mut receiver, PREFIX, &cancel, Duration::from_secs(10)).await {
            return;
        }
    }
}

async fn reconcile(store: &Store, crd: &Value) -> Result<(), crate::registry::error::Error> {
    let name = crd.name().unwrap_or_default().to_string();
    let crds = store
        .catalog()
        .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("native CRDs");
    let options = WriteOptions {
        field_manager: Some("apiextensions-controller".into()),
        ..Default::default()
    };
    if crd.is_deleting() {
        store.catalog().remove_crd(&name);
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let plural = crd
            .pointer("/spec/names/plural")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let prefix = format!("/registry/{group}/{plural}/");
        let (remaining, _) = store.cache().list(&prefix);
        if !remaining.is_empty() {
            // Custom resources are no longer in the catalog: delete them by key.
            for (key, _) in remaining {
                let _ = store.storage().delete(&key, None).await;
            }
            return Ok(());
        }
        store
            .set_finalizer(&crds, None, &name, CLEANUP_FINALIZER, false, &options)
            .await?;
        return Ok(());
    }
    if !crd.finalizers().iter().any(|f| f == CLEANUP_FINALIZER) {
        store
            .set_finalizer(&crds, None, &name, CLEANUP_FINALIZER, true, &options)
            .await?;
    }
    register(store, crd);
    let desired = status(crd);
    if crd.get("status").map(strip_times) != Some(strip_times(&desired)) {
        store
            .update_with(
                &crds,
                None,
                &name,
                Subresource::Status,
                &options,
                false,
                |current| {
                    let mut new = current.cloned().unwrap_or_default();
                    new["status"] = desired.clone();
                    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove("resourceVersion");
                    }
                    Ok(new)
                },
            )
            .await?;
    }
    Ok(())
}

/// A status without its timestamps, to compare desired and current conditions.
fn strip_times(status: &Value) -> Value {
    let mut s = status.clone();
    if let Some(conditions) = s.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conditions.iter_mut().filter_map(Value::as_object_mut) {
            c.remove("lastTransitionTime");
        }
    }
    s
}

fn status(crd: &Value) -> Value {
    let now = now_rfc3339();
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "acceptedNames": crd.pointer("/spec/names").cloned().unwrap_or(json!({})),
        "storedVersions": storage,
    })
}

/// Adds every served version of a CRD to the catalog.
pub fn register(store: &Store, crd: &Value) {
    let name = crd.name().unwrap_or_default();
    store.catalog().replace_crd(name, resources(crd));
}

/// The catalog entries of a CRD's served versions.
pub fn resources(crd: &Value) -> Vec<Resource> {
    let spec = crd.get("spec").cloned().unwrap_or_default();
    let names = spec.get("names").cloned().unwrap_or_default();
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let strings = |v: &Value, k: &str| -> Vec<String> {
        v.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let kind = text(&names, "kind");
    let plural = text(&names, "plural");
    let singular = match text(&names, "singular") {
        s if s.is_empty() => kind.to_ascii_lowercase(),
        s => s,
    };
    let Some(versions) = spec.get("versions").and_then(Value::as_array) else {
        return Vec::new();
    };
    versions
        .iter()
        .filter(|v| v.get("served") != Some(&json!(false)))
        .map(|v| {
            let schema = v.pointer("/schema/openAPIV3Schema").cloned();
            let printer_columns = v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .map(|c| PrinterColumn {
                            name: text(c, "name"),
                            type_: text(c, "type"),
                            format: text(c, "format"),
                            description: text(c, "description"),
                            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                            json_path: text(c, "jsonPath"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let subresources = v.get("subresources").cloned().unwrap_or_default();
            let scale = subresources.get("scale").map(|s| ScalePaths {
                spec_replicas: text(s, "specReplicasPath"),
                status_replicas: text(s, "statusReplicasPath"),
                label_selector: s
                    .get("labelSelectorPath")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
            let preserve = schema
                .as_ref()
                .and_then(|s| s.get("x-kubernetes-preserve-unknown-fields"))
                .is_some_and(|p| p == &json!(true));
            Resource {
                group: text(&spec, "group"),
                version: text(v, "name"),
                kind: kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced: text(&spec, "scope") != "Cluster",
                short_names: strings(&names, "shortNames"),
                categories: strings(&names, "categories"),
                status_subresource: subresources.get("status").is_some(),
                scale,
                preferred: v.get("storage") == Some(&json!(true)),
                origin: Origin::Custom {
                    crd_name: crd.name().unwrap_or_default().to_string(),
                    schema,
                    printer_columns,
                    preserve_unknown_fields: preserve,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_versions_become_resources() {
        let crd = json!({
            "metadata": {"name": "guestbooks.webapp.my.domain"},
            "spec": {"group": "webapp.my.domain", "scope": "Namespaced",
                "names": {"kind": "Guestbook", "plural": "guestbooks", "shortNames": ["gb"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object"}},
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}},
                     "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]},
                    {"name": "v0", "served": false, "storage": false}
                ]}
        });
        let rs = resources(&crd);
        assert_eq!(rs.len(), 1);
        let r = &rs[0];
        assert_eq!(
            (r.kind.as_str(), r.plural.as_str(), r.singular.as_str()),
            ("Guestbook", "guestbooks", "guestbook")
        );
        assert!(r.namespaced && r.status_subresource && r.preferred);
        assert_eq!(
            r.scale.as_ref().map(|s| s.spec_replicas.as_str()),
            Some(".spec.size")
        );
        assert!(
            matches!(&r.origin, Origin::Custom { printer_columns, .. } if printer_columns[0].name == "Size")
        );
    }
}
