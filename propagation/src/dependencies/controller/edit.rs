//! Read-modify-write of one attached binding, checked by resourceVersion and retried when
//! someone else (another dependent, the detector, the scheduler) wrote it in between.

use karmada_api::work::binding::{ObjectReference, ResourceBinding};
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::{Api, Client};

use crate::dependencies::attached::{self, Release};

/// How often a write that lost a race is tried again before the reconcile gives up (and is
/// retried later with backoff).
const ATTEMPTS: usize = 5;
const FIELD_MANAGER: &str = "dependencies-distributor";

/// Why an attached binding could not be written; every variant names it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read attached binding {binding}: {source}")]
    Read {
        binding: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot write attached binding {binding}: {source}")]
    Write {
        binding: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "attached binding {binding} is being deleted; its dependent is recorded again once it is gone"
    )]
    Terminating { binding: String },
    #[error(
        "attached binding {binding} belongs to a deleted namesake of its dependency; it is recreated once the garbage collector removes it"
    )]
    StaleOwner { binding: String },
    #[error("attached binding {binding} changed under every one of {ATTEMPTS} writes; will retry")]
    Contended { binding: String },
}

/// What one attempt decided.
enum Step {
    Done,
    Create(Box<ResourceBinding>),
    Replace(Box<ResourceBinding>),
    Delete(Preconditions),
}

/// Ensures the attached binding of `dependency` records `parent`, creating it when missing;
/// `true` when it wrote.
pub async fn require(
    client: &Client,
    parent: &ResourceBinding,
    dependency: &ObjectReference,
) -> Result<bool, Error> {
    let namespace = dependency.namespace.clone().unwrap_or_default();
    let name = crate::detector::binding_name(&dependency.kind, &dependency.name);
    edit(client, &namespace, &name, |existing| match existing {
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            Ok(Step::Create(Box::new(attached::attached_binding(
                parent, dependency, &id,
            ))))
        }
        Some(existing) if existing.metadata.deletion_timestamp.is_some() => {
            Err(Error::Terminating {
                binding: format!("{namespace}/{name}"),
            })
        }
        Some(existing) if !attached::owned_by(existing, dependency) => Err(Error::StaleOwner {
            binding: format!("{namespace}/{name}"),
        }),
        Some(existing) => Ok(match attached::require(existing, parent, dependency) {
            Some(updated) => Step::Replace(Box::new(updated)),
            None => Step::Done,
        }),
    })
    .await
}

/// Removes the binding `parent_namespace/parent_name` from attached binding `namespace/name`,
/// deleting the attached binding when nothing needs it any more; `true` when it wrote.
pub async fn release(
    client: &Client,
    namespace: &str,
    name: &str,
    parent_namespace: &str,
    parent_name: &str,
) -> Result<bool, Error> {
    edit(client, namespace, name, |existing| {
        let Some(existing) = existing else {
            return Ok(Step::Done);
        };
        Ok(
            match attached::release(existing, parent_namespace, parent_name) {
                Release::Unchanged => Step::Done,
                Release::Update(updated) => Step::Replace(updated),
                Release::Delete if existing.metadata.deletion_timestamp.is_some() => Step::Done,
                Release::Delete => Step::Delete(Preconditions {
                    resource_version: existing.metadata.resource_version.clone(),
                    uid: existing.metadata.uid.clone(),
                }),
            },
        )
    })
    .await
}

/// Reads the binding, lets `decide` choose a write, and performs it; a conflict (409: changed
/// since read, or created meanwhile) starts over from a fresh read. `true` when it wrote.
async fn edit(
    client: &Client,
    namespace: &str,
    name: &str,
    decide: impl Fn(Option<&ResourceBinding>) -> Result<Step, Error>,
) -> Result<bool, Error> {
    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), namespace);
    let binding = || format!("{namespace}/{name}");
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    };
    for _ in 0..ATTEMPTS {
        let existing = api.get_opt(name).await.map_err(|source| Error::Read {
            binding: binding(),
            source,
        })?;
        let result = match decide(existing.as_ref())? {
            Step::Done => return Ok(false),
            Step::Create(new) => api.create(&params, &new).await.map(drop),
            Step::Replace(updated) => api.replace(name, &params, &updated).await.map(drop),
            Step::Delete(preconditions) => {
                let params = DeleteParams {
                    preconditions: Some(preconditions),
                    ..DeleteParams::default()
                };
                match api.delete(name, &params).await {
                    Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                    other => other.map(drop),
                }
            }
        };
        match result {
            Ok(()) => return Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(source) => {
                return Err(Error::Write {
                    binding: binding(),
                    source,
                });
            }
        }
    }
    Err(Error::Contended { binding: binding() })
}
