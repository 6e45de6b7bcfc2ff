//! The dependencies distributor: for every scheduled ResourceBinding with `propagateDeps`, keeps
//! an attached binding per dependency of its template that lists where the binding went, and
//! takes its entries (and attached bindings nothing needs any more) away when it lets go.

mod edit;
mod index;
mod triggers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use karmada_api::work::binding::{ObjectReference, ResourceBinding};
use karmada_runtime::Backoff;
use karmada_runtime::controller::{drain, reconciled, requeue_failed};
use karmada_runtime::events::Recorder;
use karmada_runtime::events::{Report, record};
use kube::api::{DynamicObject, ListParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use self::index::Index;
use self::triggers::{attached_to, binding_fingerprint, changes_of, dependents, related};
use crate::dependencies::{Dependency, Selection, dependencies, selections};
use crate::resources::{self, Resources};

pub use self::edit::Error as EditError;

/// How soon a binding with a dependency that does not exist yet is looked at again; the
/// dependency's creation normally wakes it first, through the dependency watches.
const MISSING_RECHECK: Duration = Duration::from_secs(30);
const CONTROLLER_NAME: &str = "dependencies-distributor";
/// Event reason on a binding: its schedule was written to its dependencies' bindings.
pub const SYNC_SUCCEED_REASON: &str = "SyncScheduleResultToDependenciesSucceed";
/// Event reason on a binding: its schedule could not be written to its dependencies' bindings.
pub const SYNC_FAILED_REASON: &str = "SyncScheduleResultToDependenciesFailed";
/// The action events of this controller report.
const SYNC_ACTION: &str = "SyncDependencies";
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Why a binding's dependencies could not be distributed; every variant names the binding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{binding}: cannot find the kind of {object}: {source}")]
    Resolve {
        binding: String,
        object: String,
        #[source]
        source: resources::Error,
    },
    #[error("{binding}: cannot read {object}: {source}")]
    Read {
        binding: String,
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error("{binding}: {source}")]
    Edit {
        binding: String,
        #[source]
        source: edit::Error,
    },
}

struct Context {
    client: Client,
    resources: Resources,
    backoff: Backoff,
    recorder: Recorder,
    bindings: Store<ResourceBinding>,
    index: Arc<Index>,
}

/// Runs the dependencies distributor until `cancel` fires.
pub async fn run(client: Client, cancel: CancellationToken) {
    let (reader, writer) = reflector::store::<ResourceBinding>();
    let index = Arc::new(Index::default());
    let ctx = Arc::new(Context {
        resources: Resources::new(client.clone()),
        backoff: Backoff::new(RETRY_FIRST, RETRY_MAX),
        recorder: Recorder::new(client.clone(), Reporter::from(CONTROLLER_NAME)),
        bindings: reader.clone(),
        index: index.clone(),
        client: client.clone(),
    });
    let api = Api::<ResourceBinding>::all(client.clone());
    let bindings = watcher::watcher(api.clone(), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .touched_objects()
        .predicate_filter(
            |binding: &ResourceBinding| Some(binding_fingerprint(binding)),
            PredicateConfig::default(),
        );
    let controller = Controller::for_stream(bindings, reader);
    let store = controller.store();
    let results = controller
        // A parent's change (its deletion included) wakes its attached bindings, and an
        // attached binding's change (someone edited or deleted it) wakes its parents.
        .watches_stream(changes_of(api), move |binding| related(&store, &binding))
        .watches_stream(triggers::dependency_changes::<ConfigMap>(&client), {
            let index = index.clone();
            move |object| dependents(&index, &object)
        })
        .watches_stream(triggers::dependency_changes::<Secret>(&client), {
            let index = index.clone();
            move |object| dependents(&index, &object)
        })
        .watches_stream(triggers::dependency_changes::<ServiceAccount>(&client), {
            let index = index.clone();
            move |object| dependents(&index, &object)
        })
        .watches_stream(
            triggers::dependency_changes::<PersistentVolumeClaim>(&client),
            {
                let index = index.clone();
                move |object| dependents(&index, &object)
            },
        )
        // A ServiceImport's derived Service and its slices (selected by label).
        .watches_stream(triggers::dependency_changes::<Service>(&client), {
            let index = index.clone();
            move |object| dependents(&index, &object)
        })
        .watches_stream(
            triggers::dependency_changes::<EndpointSlice>(&client),
            move |object| dependents(&index, &object),
        )
        .graceful_shutdown_on(async move { cancel.cancelled().await })
        .run(
            reconcile,
            |binding, error, ctx| requeue_failed(&ctx.backoff, CONTROLLER_NAME, &*binding, error),
            ctx,
        );
    drain(results, CONTROLLER_NAME).await;
}

/// A binding whose dependencies are distributed: it asks for it, is scheduled and not going.
fn distributes(binding: &ResourceBinding) -> bool {
    binding.spec.propagate_deps == Some(true)
        && binding.metadata.deletion_timestamp.is_none()
        && !binding.spec.clusters.is_empty()
}

fn describe(binding: &ResourceBinding) -> String {
    karmada_runtime::controller::describe(binding)
}

async fn reconcile(binding: Arc<ResourceBinding>, ctx: Arc<Context>) -> Result<Action, Error> {
    let parent = ObjectRef::from_obj(&*binding);
    let action = if distributes(&binding) {
        let result = distribute(&binding, &ctx).await;
        report(&binding, &result, &ctx).await;
        result?.0
    } else {
        // Scanning for attached bindings only pays for bindings that did or might distribute;
        // others' stale entries are found from the attached side (`release_orphaned`).
        if binding.spec.propagate_deps == Some(true) || ctx.index.knows(&parent) {
            release_all(&binding, &ctx).await?;
        }
        ctx.index.forget(&parent);
        Action::await_change()
    };
    release_orphaned(&binding, &ctx).await?;
    reconciled(&ctx.backoff, &*binding);
    Ok(action)
}

/// An event on the parent when its dependencies' bindings were written, or could not be.
async fn report(parent: &ResourceBinding, result: &Result<(Action, bool), Error>, ctx: &Context) {
    let note;
    let report = match result {
        Ok((_, false)) => return,
        Ok((_, true)) => Report {
            type_: EventType::Normal,
            action: SYNC_ACTION,
            reason: SYNC_SUCCEED_REASON,
            note: "Sync schedule results to dependencies succeed.",
        },
        Err(error) => {
            note = error.to_string();
            Report {
                type_: EventType::Warning,
                action: SYNC_ACTION,
                reason: SYNC_FAILED_REASON,
                note: &note,
            }
        }
    };
    record(&ctx.recorder, [&parent.object_ref(&())], report).await;
}

/// Records the parent on the attached binding of each dependency that exists, and lets go of
/// attached bindings of objects it no longer depends on; `true` when it wrote any.
async fn distribute(parent: &ResourceBinding, ctx: &Context) -> Result<(Action, bool), Error> {
    let Some(template) = template(parent, ctx).await? else {
        // The detector deletes the binding of a deleted template; that deletion releases.
        return Ok((Action::await_change(), false));
    };
    let selected = selections(&template);
    let mut wanted = dependencies(&template);
    // What the selections listed is attached without reading each object again.
    let mut listed = BTreeMap::new();
    for selection in &selected {
        for (dependency, reference) in select(parent, selection, ctx).await? {
            wanted.push(dependency.clone());
            listed.insert(dependency, reference);
        }
    }
    wanted.sort();
    wanted.dedup();
    ctx.index
        .record(ObjectRef::from_obj(parent), &wanted, &selected);

    let mut kept = Vec::new();
    let mut missing = false;
    let mut wrote = false;
    let mut first_error = None;
    for dependency in &wanted {
        let attached = match listed.get(dependency) {
            Some(reference) => attach(parent, reference, ctx).await.map(Some),
            None => require(parent, dependency, ctx).await,
        };
        match attached {
            Ok(Some(written)) => {
                wrote |= written;
                kept.push(crate::detector::binding_name(
                    &dependency.kind,
                    &dependency.name,
                ));
            }
            Ok(None) => missing = true,
            // One broken dependency must not hold the others back.
            Err(error) => {
                tracing::warn!(%error, "dependencies distributor: cannot attach dependency");
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    let stale: Vec<Arc<ResourceBinding>> = attached_to(&ctx.bindings, parent)
        .filter(|b| !kept.contains(&b.name_any()))
        .collect();
    for attached in stale {
        wrote |= release(&attached, parent, ctx).await?;
    }
    let action = if missing {
        Action::requeue(MISSING_RECHECK)
    } else {
        Action::await_change()
    };
    Ok((action, wrote))
}

/// A client for `kind` (in `namespace` when namespaced); an error names `object` and `parent`.
async fn api(
    ctx: &Context,
    parent: &ResourceBinding,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    object: &str,
) -> Result<Api<DynamicObject>, Error> {
    ctx.resources
        .api(api_version, kind, namespace)
        .await
        .map_err(|source| Error::Resolve {
            binding: describe(parent),
            object: object.to_string(),
            source,
        })
}

/// The objects `selection` picks today, as named dependencies with their references.
async fn select(
    parent: &ResourceBinding,
    selection: &Selection,
    ctx: &Context,
) -> Result<Vec<(Dependency, ObjectReference)>, Error> {
    let object = format!(
        "{} {} in {}",
        selection.kind,
        selection.label_selector(),
        selection.namespace
    );
    let api = api(
        ctx,
        parent,
        &selection.api_version,
        &selection.kind,
        Some(&selection.namespace),
        &object,
    )
    .await?;
    let listed = api
        .list_metadata(&ListParams::default().labels(&selection.label_selector()))
        .await
        .map_err(|source| Error::Read {
            binding: describe(parent),
            object,
            source,
        })?;
    Ok(listed
        .items
        .into_iter()
        .filter(|o| o.metadata.deletion_timestamp.is_none())
        .map(|o| {
            let dependency = Dependency {
                api_version: selection.api_version.clone(),
                kind: selection.kind.clone(),
                namespace: selection.namespace.clone(),
                name: o.name_any(),
            };
            let reference = reference(&dependency, &o.metadata);
            (dependency, reference)
        })
        .collect())
}

/// Records `parent` on `dependency`'s attached binding: whether that took a write, or `None`
/// when the dependency does not exist (yet).
async fn require(
    parent: &ResourceBinding,
    dependency: &Dependency,
    ctx: &Context,
) -> Result<Option<bool>, Error> {
    let object = format!(
        "{} {}/{}",
        dependency.kind, dependency.namespace, dependency.name
    );
    let api = api(
        ctx,
        parent,
        &dependency.api_version,
        &dependency.kind,
        Some(&dependency.namespace),
        &object,
    )
    .await?;
    let found = api
        .get_opt(&dependency.name)
        .await
        .map_err(|source| Error::Read {
            binding: describe(parent),
            object,
            source,
        })?;
    let Some(found) = found else {
        tracing::debug!(binding = %describe(parent), ?dependency, "dependency does not exist yet");
        return Ok(None);
    };
    attach(parent, &reference(dependency, &found.metadata), ctx)
        .await
        .map(Some)
}

/// The reference an attached binding records for `dependency`, as it was when read.
fn reference(dependency: &Dependency, metadata: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        api_version: dependency.api_version.clone(),
        kind: dependency.kind.clone(),
        namespace: Some(dependency.namespace.clone()),
        name: dependency.name.clone(),
        uid: metadata.uid.clone(),
        resource_version: metadata.resource_version.clone(),
    }
}

/// Records `parent` on the attached binding of the object `reference` names: whether that
/// took a write.
async fn attach(
    parent: &ResourceBinding,
    reference: &ObjectReference,
    ctx: &Context,
) -> Result<bool, Error> {
    edit::require(&ctx.client, parent, reference)
        .await
        .map_err(|source| Error::Edit {
            binding: describe(parent),
            source,
        })
}

/// The parent's resource template as JSON, or `None` when it no longer exists.
async fn template(parent: &ResourceBinding, ctx: &Context) -> Result<Option<Value>, Error> {
    let r = &parent.spec.resource;
    let object = format!("resource template {r}");
    let api = api(
        ctx,
        parent,
        &r.api_version,
        &r.kind,
        r.namespace.as_deref(),
        &object,
    )
    .await?;
    let found = api.get_opt(&r.name).await.map_err(|source| Error::Read {
        binding: describe(parent),
        object,
        source,
    })?;
    Ok(found.map(|found| {
        let mut template = serde_json::to_value(found).unwrap_or_default();
        // The interpreter keys on apiVersion and kind, which the reference states for sure.
        template["apiVersion"] = Value::from(r.api_version.clone());
        template["kind"] = Value::from(r.kind.clone());
        template
    }))
}

/// Takes `parent` off every attached binding that records it.
async fn release_all(parent: &ResourceBinding, ctx: &Context) -> Result<(), Error> {
    let attached: Vec<Arc<ResourceBinding>> = attached_to(&ctx.bindings, parent).collect();
    for binding in attached {
        release(&binding, parent, ctx).await?;
    }
    Ok(())
}

async fn release(
    attached: &ResourceBinding,
    parent: &ResourceBinding,
    ctx: &Context,
) -> Result<bool, Error> {
    edit::release(
        &ctx.client,
        &attached.namespace().unwrap_or_default(),
        &attached.name_any(),
        &parent.namespace().unwrap_or_default(),
        &parent.name_any(),
    )
    .await
    .map_err(|source| Error::Edit {
        binding: describe(parent),
        source,
    })
}

/// For an attached binding: drops the entries of dependents that are gone or no longer
/// distribute (missed while this controller was not running, or deleted between events).
async fn release_orphaned(attached: &ResourceBinding, ctx: &Context) -> Result<(), Error> {
    for entry in &attached.spec.required_by {
        let namespace = entry.namespace.clone().unwrap_or_default();
        let key = ObjectRef::<ResourceBinding>::new(&entry.name).within(&namespace);
        let parent = match ctx.bindings.get(&key) {
            Some(parent) => Some(parent),
            // Confirm with the apiserver: the store may not have seen a new parent yet.
            None => Api::<ResourceBinding>::namespaced(ctx.client.clone(), &namespace)
                .get_opt(&entry.name)
                .await
                .map_err(|source| Error::Read {
                    binding: describe(attached),
                    object: format!("dependent ResourceBinding {namespace}/{}", entry.name),
                    source,
                })?
                .map(Arc::new),
        };
        if parent.as_deref().is_some_and(distributes) {
            continue;
        }
        edit::release(
            &ctx.client,
            &attached.namespace().unwrap_or_default(),
            &attached.name_any(),
            &namespace,
            &entry.name,
        )
        .await
        .map_err(|source| Error::Edit {
            binding: describe(attached),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn binding(spec: &Value) -> ResourceBinding {
        serde_json::from_value(json!({
            "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
            "metadata": {"name": "web-deployment", "namespace": "shop"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn only_scheduled_bindings_that_ask_for_it_distribute() {
        let resource = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
        let scheduled = json!([{"name": "member1", "replicas": 1}]);
        let cases = [
            (json!(true), scheduled.clone(), false, true),
            (json!(false), scheduled.clone(), false, false),
            (Value::Null, scheduled.clone(), false, false),
            (json!(true), json!([]), false, false),
            (json!(true), scheduled, true, false),
        ];
        for (propagate_deps, clusters, deleting, want) in cases {
            let mut b = binding(&json!({
                "resource": resource, "propagateDeps": propagate_deps, "clusters": clusters
            }));
            if deleting {
                b.metadata.deletion_timestamp = Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
                );
            }
            assert_eq!(distributes(&b), want, "{propagate_deps} {deleting}");
        }
    }

    #[test]
    fn attached_bindings_wake_their_parents_and_parents_their_attached_bindings() {
        let mut writer = reflector::store::Writer::<ResourceBinding>::default();
        let mut attached = binding(&json!({
            "resource": {"apiVersion": "v1", "kind": "ConfigMap", "name": "cfg"},
            "requiredBy": [{"namespace": "shop", "name": "api-deployment"}],
        }));
        attached.metadata.name = Some("cfg-configmap".into());
        writer.apply_watcher_event(&watcher::Event::Apply(attached.clone()));
        let store = writer.as_reader();
        assert_eq!(
            related(&store, &attached),
            [ObjectRef::new("api-deployment").within("shop")]
        );

        let mut api = binding(&json!({
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
            "propagateDeps": true,
        }));
        api.metadata.name = Some("api-deployment".into());
        assert_eq!(
            related(&store, &api),
            [ObjectRef::new("cfg-configmap").within("shop")]
        );
        api.spec.propagate_deps = None;
        assert!(
            related(&store, &api).is_empty(),
            "only bindings that distribute look for attached bindings"
        );
    }
}
