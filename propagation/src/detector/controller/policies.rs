//! Propagation policies hold a finalizer while they claim templates, so that deleting one
//! releases its claims (on templates and bindings) before it goes, even if the detector was
//! down when the delete arrived.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use karmada_api::policy::propagation::{
    CLUSTER_PROPAGATION_POLICY_FINALIZER, ClusterPropagationPolicy, PROPAGATION_POLICY_FINALIZER,
    PropagationPolicy,
};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, Event};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::{Error, Shared};
use crate::detector::{Claim, Match, release_patch};

const RETRY: Duration = Duration::from_secs(5);

/// Runs the finalizer controllers of both policy kinds until `cancel` fires.
pub(super) async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    let namespaced = Controller::new(
        Api::<PropagationPolicy>::all(shared.client.clone()),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(cancel.clone().cancelled_owned())
    .run(
        |policy, shared| async move {
            let claim = Claim::of(Match::Namespaced(&policy));
            let api = Api::namespaced(
                shared.client.clone(),
                &policy.namespace().unwrap_or_default(),
            );
            guard(api, PROPAGATION_POLICY_FINALIZER, policy, claim, shared).await
        },
        |_, _, _| Action::requeue(RETRY),
        shared.clone(),
    )
    .for_each(log);
    let cluster = Controller::new(
        Api::<ClusterPropagationPolicy>::all(shared.client.clone()),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(cancel.cancelled_owned())
    .run(
        |policy, shared| async move {
            let claim = Claim::of(Match::Cluster(&policy));
            let api = Api::all(shared.client.clone());
            guard(
                api,
                CLUSTER_PROPAGATION_POLICY_FINALIZER,
                policy,
                claim,
                shared,
            )
            .await
        },
        |_, _, _| Action::requeue(RETRY),
        shared,
    )
    .for_each(log);
    futures::join!(namespaced, cluster);
}

async fn log<T, E: std::fmt::Display>(result: Result<T, E>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "policy reconcile failed; retrying");
    }
}

/// Adds the finalizer to a live policy; releases its claims and removes it on deletion.
async fn guard<K>(
    api: Api<K>,
    name: &str,
    policy: Arc<K>,
    claim: Claim,
    shared: Arc<Shared>,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let what = policy.name_any();
    let (shared, claim) = (&shared, &claim);
    finalizer::finalizer(&api, name, policy, |event| async move {
        match event {
            Event::Apply(_) => Ok(Action::await_change()),
            Event::Cleanup(_) => release_all(shared, claim)
                .await
                .map(|()| Action::await_change()),
        }
    })
    .await
    .map_err(|source| Error::Finalizer {
        policy: what,
        source: Box::new(source),
    })
}

/// Removes `claim` from every template and binding that carries it (matched by permanent id).
async fn release_all(shared: &Shared, claim: &Claim) -> Result<(), Error> {
    for (resource, template) in shared.kinds.templates() {
        let value = serde_json::to_value(template.as_ref()).map_err(|source| Error::Serialize {
            what: template.name_any(),
            source,
        })?;
        let Some(patch) = release_patch(&value, claim) else {
            continue;
        };
        let api: Api<DynamicObject> = match template.namespace() {
            Some(ns) => Api::namespaced_with(shared.client.clone(), &ns, &resource),
            None => Api::all_with(shared.client.clone(), &resource),
        };
        patch_ignoring_gone(&api, &template.name_any(), &patch).await?;
    }
    for binding in shared.bindings.state() {
        let api = Api::namespaced(
            shared.client.clone(),
            &binding.namespace().unwrap_or_default(),
        );
        release_one(&api, binding.as_ref(), claim).await?;
    }
    for binding in shared.cluster_bindings.state() {
        let api = Api::all(shared.client.clone());
        release_one(&api, binding.as_ref(), claim).await?;
    }
    Ok(())
}

async fn release_one<K>(api: &Api<K>, binding: &K, claim: &Claim) -> Result<(), Error>
where
    K: Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    let value = serde_json::to_value(binding).map_err(|source| Error::Serialize {
        what: binding.name_any(),
        source,
    })?;
    match release_patch(&value, claim) {
        Some(patch) => patch_ignoring_gone(api, &binding.name_any(), &patch).await,
        None => Ok(()),
    }
}

async fn patch_ignoring_gone<K>(
    api: &Api<K>,
    name: &str,
    patch: &serde_json::Value,
) -> Result<(), Error>
where
    K: Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(Error::Write {
            what: name.to_string(),
            source,
        }),
    }
}
