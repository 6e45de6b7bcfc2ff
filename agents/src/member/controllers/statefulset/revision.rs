//! ControllerRevisions: the pod-template history of a StatefulSet or DaemonSet. Each distinct
//! template gets one revision (named `<owner>-<hash>`, numbered in the order it became the
//! target); going back to an older template renumbers its revision instead of copying it.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use crate::member::hash::short_hash;
use crate::member::runtime::{controlled_by, controller_reference};

/// Label carrying a revision's hash on the revision itself.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listing the controller revisions of {owner}")]
    List {
        owner: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing controller revision {name}")]
    Write {
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Another object already holds the name the hash gives; the owner must bump its
    /// `status.collisionCount` and try again.
    #[error("controller revision {name} already exists with other contents")]
    Collision { name: String },
    #[error("raising the collision count of {owner}")]
    BumpCollisions {
        owner: String,
        #[source]
        source: kube::Error,
    },
}

/// What a revision records: the template, replacing (not merging into) the owner's.
pub fn data(template: &PodTemplateSpec) -> serde_json::Value {
    let mut template = serde_json::to_value(template).unwrap_or_default();
    if let Some(t) = template.as_object_mut() {
        t.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The template a revision recorded.
pub fn template(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut value = revision
        .data
        .as_ref()?
        .0
        .get("spec")?
        .get("template")?
        .clone();
    value.as_object_mut()?.remove("$patch");
    serde_json::from_value(value).ok()
}

/// A short lowercase hash of revision data and the collision count. Maps serialize in key
/// order, so equal data always hashes alike.
pub fn hash(data: &serde_json::Value, collision_count: i32) -> String {
    short_hash(data.to_string().as_bytes(), Some(collision_count))
}

/// The revisions to delete so that at most `limit` remain besides the `live` ones (those pods
/// or the status still name), oldest first.
pub fn prune<'a>(
    revisions: &'a [ControllerRevision],
    live: &HashSet<&str>,
    limit: usize,
) -> Vec<&'a ControllerRevision> {
    let mut old: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| !live.contains(r.name_any().as_str()))
        .collect();
    old.sort_by_key(|r| r.revision);
    let excess = old.len().saturating_sub(limit);
    old.truncate(excess);
    old
}

/// An owner's revisions after [`sync`]: the one its template asks for, and all of them.
pub struct History {
    pub update: ControllerRevision,
    pub all: Vec<ControllerRevision>,
}

impl History {
    pub fn find(&self, name: &str) -> Option<&ControllerRevision> {
        self.all.iter().find(|r| r.name_any() == name)
    }
}

/// Makes sure a revision for `template` exists and is the newest, creating or renumbering one.
pub async fn sync<K: Resource<DynamicType = ()>>(
    client: &Client,
    owner: &K,
    selector: &Selector,
    template: &PodTemplateSpec,
    collision_count: i32,
) -> Result<History, Error> {
    let ns = owner.namespace().unwrap_or_default();
    let uid = owner.uid().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    let mut all: Vec<ControllerRevision> = api
        .list(&ListParams::default().labels_from(selector))
        .await
        .map_err(|source| Error::List {
            owner: owner.name_any(),
            source,
        })?
        .items
        .into_iter()
        .filter(|r| controlled_by(r, &uid))
        .collect();
    let wanted = data(template);
    let newest = all.iter().map(|r| r.revision).max().unwrap_or(0);
    let write = |name: String| move |source: kube::Error| Error::Write { name, source };
    if let Some(i) = all
        .iter()
        .position(|r| r.data.as_ref().map(|d| &d.0) == Some(&wanted))
    {
        if all[i].revision < newest {
            let name = all[i].name_any();
            let patch = json!({"revision": newest + 1});
            all[i] = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(write(name.clone()))?;
        }
        return Ok(History {
            update: all[i].clone(),
            all,
        });
    }
    let hash = hash(&wanted, collision_count);
    let name = format!("{}-{hash}", owner.name_any());
    // Labelled like the pods, so a query by the owner's selector finds them, as upstream.
    let mut labels: BTreeMap<String, String> = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash);
    let revision = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns),
            labels: Some(labels),
            owner_references: Some(vec![controller_reference(owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(wanted)),
        revision: newest + 1,
    };
    let update = match api.create(&PostParams::default(), &revision).await {
        Ok(created) => created,
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let existing = api.get(&name).await.map_err(write(name.clone()))?;
            if !controlled_by(&existing, &uid) || existing.data != revision.data {
                return Err(Error::Collision { name });
            }
            existing
        }
        Err(source) => return Err(Error::Write { name, source }),
    };
    all.push(update.clone());
    Ok(History { update, all })
}

/// [`sync`] for an owner whose status carries `collisionCount`: on a name collision the count
/// is raised (so the next hash differs) and `None` returned; the caller tries again.
pub async fn sync_or_bump<K>(
    client: &Client,
    owner: &K,
    selector: &Selector,
    template: &PodTemplateSpec,
    collision_count: i32,
) -> Result<Option<History>, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    match sync(client, owner, selector, template, collision_count).await {
        Ok(history) => Ok(Some(history)),
        Err(Error::Collision { .. }) => {
            let api: Api<K> =
                Api::namespaced(client.clone(), &owner.namespace().unwrap_or_default());
            let patch = json!({"status": {"collisionCount": collision_count + 1}});
            api.patch_status(
                &owner.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|source| Error::BumpCollisions {
                owner: owner.name_any(),
                source,
            })?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Deletes revisions beyond the history limit; failures are logged, the next pass retries.
pub async fn delete(client: &Client, doomed: &[&ControllerRevision]) {
    for revision in doomed {
        let api: Api<ControllerRevision> =
            Api::namespaced(client.clone(), &revision.namespace().unwrap_or_default());
        if let Err(e) = api
            .delete(&revision.name_any(), &DeleteParams::default())
            .await
        {
            tracing::debug!(error = %e, revision = %revision.name_any(), "could not prune revision");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template_with(image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]}}))
        .expect("template")
    }

    fn revision(name: &str, number: i64) -> ControllerRevision {
        ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            data: None,
            revision: number,
        }
    }

    #[test]
    fn data_round_trips_and_hashes_stably() {
        let t = template_with("nginx:1");
        let d = data(&t);
        assert_eq!(d["spec"]["template"]["$patch"], "replace");
        let r = ControllerRevision {
            data: Some(RawExtension(d.clone())),
            ..revision("r", 1)
        };
        assert_eq!(template(&r), Some(t));
        assert_eq!(hash(&d, 0), hash(&d, 0));
        assert_ne!(hash(&d, 0), hash(&d, 1));
        assert_ne!(hash(&d, 0), hash(&data(&template_with("nginx:2")), 0));
    }

    #[test]
    fn prunes_oldest_dead_revisions_beyond_the_limit() {
        let all = [
            revision("a", 1),
            revision("b", 2),
            revision("c", 3),
            revision("d", 4),
        ];
        let live: HashSet<&str> = ["a", "d"].into();
        let cases = [
            (0, vec!["b", "c"]),
            (1, vec!["b"]),
            (2, vec![]),
            (10, vec![]),
        ];
        for (limit, want) in cases {
            let got: Vec<String> = prune(&all, &live, limit)
                .iter()
                .map(|r| r.name_any())
                .collect();
            assert_eq!(got, want, "limit {limit}");
        }
    }
}
