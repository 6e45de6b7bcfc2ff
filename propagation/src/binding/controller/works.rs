//! Writes a binding's Works: creates the missing ones with a fresh permanent id, updates those
//! whose content drifted while keeping what others put on them, and deletes unneeded ones.

use karmada_api::work::work::{WORK_PERMANENT_ID_LABEL, Work};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client, ResourceExt};

/// Why a Work could not be read or written; each names the Work or selector involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot list Works labelled {selector}: {source}")]
    List {
        selector: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "execution namespace {namespace} does not exist yet (the cluster may have just joined and its namespace is still being created); Work {name} will be created once it exists"
    )]
    NamespaceMissing { namespace: String, name: String },
    #[error("Work {namespace}/{name} is still being deleted; it is written again once it is gone")]
    Terminating { namespace: String, name: String },
    #[error("cannot create Work {namespace}/{name}: {source}")]
    Create {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot update Work {namespace}/{name}: {source}")]
    Update {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot delete Work {namespace}/{name}: {source}")]
    Delete {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// A fresh permanent id, as Karmada's webhook gives a new Work.
fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What writing one Work did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Every Work labelled `label=id`, across execution namespaces.
pub async fn list(client: &Client, label: &str, id: &str) -> Result<Vec<Work>, Error> {
    let selector = format!("{label}={id}");
    Api::<Work>::all(client.clone())
        .list(&ListParams::default().labels(&selector))
        .await
        .map(|list| list.items)
        .map_err(|source| Error::List { selector, source })
}

/// Creates `desired`, or updates `existing` (the stored Work of the same name) to match it.
pub async fn apply(
    client: &Client,
    desired: Work,
    existing: Option<&Work>,
) -> Result<Outcome, Error> {
    let namespace = desired.namespace().unwrap_or_default();
    let name = desired.name_any();
    let api: Api<Work> = Api::namespaced(client.clone(), &namespace);
    let current = match existing {
        Some(work) => work.clone(),
        None => {
            let mut fresh = desired.clone();
            fresh.ensure_permanent_id(new_id);
            match api.create(&PostParams::default(), &fresh).await {
                Ok(_) => return Ok(Outcome::Created),
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    return Err(Error::NamespaceMissing { namespace, name });
                }
                // There already, but not labelled for this binding (e.g. left by an earlier
                // binding of the same template): adopt it.
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    api.get(&name).await.map_err(|source| Error::Update {
                        namespace: namespace.clone(),
                        name: name.clone(),
                        source,
                    })?
                }
                Err(source) => {
                    return Err(Error::Create {
                        namespace,
                        name,
                        source,
                    });
                }
            }
        }
    };
    if current.metadata.deletion_timestamp.is_some() {
        return Err(Error::Terminating { namespace, name });
    }
    let Some(updated) = merged(&current, desired) else {
        return Ok(Outcome::Unchanged);
    };
    // `updated` carries the resourceVersion read, so a concurrent writer makes this fail
    // with a conflict and the retry starts from the newer Work.
    api.replace(&name, &PostParams::default(), &updated)
        .await
        .map(|_| Outcome::Updated)
        .map_err(|source| Error::Update {
            namespace,
            name,
            source,
        })
}

/// Deletes `work` unless it is already going.
pub async fn delete(client: &Client, work: &Work) -> Result<(), Error> {
    if work.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let namespace = work.namespace().unwrap_or_default();
    let name = work.name_any();
    match Api::<Work>::namespaced(client.clone(), &namespace)
        .delete(&name, &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(Error::Delete {
            namespace,
            name,
            source,
        }),
    }
}

/// `current` brought in line with `desired`, or `None` when nothing differs: the spec is
/// replaced, labels, annotations and finalizers are merged (desired values win), and the
/// Work keeps its permanent id.
pub fn merged(current: &Work, mut desired: Work) -> Option<Work> {
    let id = current.labels().get(WORK_PERMANENT_ID_LABEL).cloned();
    if let Some(labels) = desired.metadata.labels.as_mut() {
        labels.remove(WORK_PERMANENT_ID_LABEL);
    }
    desired.ensure_permanent_id(|| id.filter(|id| !id.is_empty()).unwrap_or_else(new_id));

    let mut updated = current.clone();
    updated.spec = desired.spec;
    updated
        .labels_mut()
        .extend(desired.metadata.labels.unwrap_or_default());
    updated
        .annotations_mut()
        .extend(desired.metadata.annotations.unwrap_or_default());
    for finalizer in desired.metadata.finalizers.unwrap_or_default() {
        if !updated.finalizers().contains(&finalizer) {
            updated.finalizers_mut().push(finalizer);
        }
    }
    (updated != *current).then_some(updated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn work(value: serde_json::Value) -> Work {
        serde_json::from_value(value).unwrap()
    }

    fn desired() -> Work {
        work(json!({
            "apiVersion": "work.karmada.io/v1alpha1", "kind": "Work",
            "metadata": {
                "name": "nginx-687f7fb96f", "namespace": "karmada-es-member1",
                "labels": {"resourcebinding.karmada.io/permanent-id": "rb-id"},
                "annotations": {"resourcebinding.karmada.io/name": "nginx-deployment"},
                "finalizers": ["karmada.io/execution-controller"]
            },
            "spec": {"workload": {"manifests": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"},
                 "spec": {"replicas": 1}}
            ]}}
        }))
    }

    #[test]
    fn an_identical_work_is_left_alone() {
        let mut stored = desired();
        stored.ensure_permanent_id(|| "work-id".into());
        stored.metadata.resource_version = Some("5".into());
        assert_eq!(merged(&stored, desired()), None);
    }

    #[test]
    fn drift_is_corrected_keeping_others_fields_and_the_permanent_id() {
        let mut stored = desired();
        stored.ensure_permanent_id(|| "work-id".into());
        stored.spec.workload.manifests[0]["spec"]["replicas"] = json!(3);
        stored.labels_mut().insert("team".into(), "a".into());
        stored.finalizers_mut().insert(0, "example.io/audit".into());
        stored
            .annotations_mut()
            .insert("resourcebinding.karmada.io/name".into(), "old".into());

        let updated = merged(&stored, desired()).expect("drifted");
        assert_eq!(
            updated.spec.workload.manifests[0]["spec"]["replicas"],
            json!(1)
        );
        assert_eq!(updated.labels()[WORK_PERMANENT_ID_LABEL], "work-id");
        assert_eq!(
            updated.spec.workload.manifests[0]["metadata"]["labels"][WORK_PERMANENT_ID_LABEL],
            json!("work-id")
        );
        assert_eq!(updated.labels()["team"], "a");
        assert_eq!(
            updated.annotations()["resourcebinding.karmada.io/name"],
            "nginx-deployment"
        );
        assert_eq!(
            updated.finalizers(),
            ["example.io/audit", "karmada.io/execution-controller"]
        );
    }

    #[test]
    fn an_adopted_work_without_an_id_gets_one() {
        let stored = desired();
        let updated = merged(&stored, desired()).expect("needs an id");
        let id = &updated.labels()[WORK_PERMANENT_ID_LABEL];
        assert_eq!(id.len(), 36);
    }
}
