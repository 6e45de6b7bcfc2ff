//! One resource template examined: its claim decided, written, and its binding created or
//! brought up to date.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::scheduling::v1::PriorityClass;
use karmada_api::policy::propagation::{ClusterPropagationPolicy, PropagationPolicy};
use karmada_api::work::binding::{ClusterResourceBinding, ResourceBinding};
use karmada_runtime::events::{self, Report};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use serde_json::Value;

use super::kinds::skipped_namespace;
use super::{Error, Shared, binding_ref};
use crate::detector::{
    Binding, BindingInputs, Claim, Match, binding_for, binding_name, claim_patch, decide, refresh,
    release_patch,
};

/// How soon a template is examined again after a write lost a race.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);
/// How soon a template is examined again after any other failure.
const RETRY: Duration = Duration::from_secs(5);

/// Karmada's event reasons for a template's policy being applied or not.
const APPLY_POLICY_SUCCEED: &str = "ApplyPolicySucceed";
const APPLY_POLICY_FAILED: &str = "ApplyPolicyFailed";

/// What the controller of one kind knows besides the shared state.
pub(super) struct KindContext {
    pub(super) shared: Arc<Shared>,
    pub(super) resource: ApiResource,
    pub(super) namespaced: bool,
}

pub(super) fn error_policy(_: Arc<DynamicObject>, error: &Error, _: Arc<KindContext>) -> Action {
    if error.is_conflict() {
        Action::requeue(CONFLICT_RETRY)
    } else {
        Action::requeue(RETRY)
    }
}

pub(super) async fn reconcile(
    object: Arc<DynamicObject>,
    context: Arc<KindContext>,
) -> Result<Action, Error> {
    let namespace = object.namespace();
    let scope_name = namespace.clone().unwrap_or_else(|| object.name_any());
    // Namespaces are judged by their own name, everything else by the namespace it lives in.
    if skipped_namespace(&scope_name) || object.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    match examine(&object, &context).await {
        Ok(Some(policy)) => {
            record(
                &context,
                &object,
                EventType::Normal,
                APPLY_POLICY_SUCCEED,
                format!("Apply policy({policy}) succeed"),
            )
            .await;
            Ok(Action::await_change())
        }
        Ok(None) => Ok(Action::await_change()),
        Err(error) => {
            if !error.is_conflict() {
                record(
                    &context,
                    &object,
                    EventType::Warning,
                    APPLY_POLICY_FAILED,
                    format!("Apply policy failed: {error}"),
                )
                .await;
            }
            Err(error)
        }
    }
}

/// Decides and acts; returns the policy's name when the binding was created or changed.
async fn examine(object: &DynamicObject, context: &KindContext) -> Result<Option<String>, Error> {
    let shared = &context.shared;
    let what = describe(object, &context.resource);
    let mut template = serde_json::to_value(object).map_err(|source| Error::Serialize {
        what: what.clone(),
        source,
    })?;
    // Listed objects may lack their type; the detector's own resource knows it.
    template["apiVersion"] = Value::from(context.resource.api_version.clone());
    template["kind"] = Value::from(context.resource.kind.clone());

    let namespace = object.namespace();
    let namespaced: Vec<PropagationPolicy> = match &namespace {
        Some(ns) => shared
            .policies
            .state()
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
            .map(|p| (**p).clone())
            .collect(),
        None => Vec::new(),
    };
    let cluster: Vec<ClusterPropagationPolicy> = shared
        .cluster_policies
        .state()
        .iter()
        .map(|p| (**p).clone())
        .collect();
    let decision = decide(&template, &namespaced, &cluster);

    let api = templates(context, namespace.as_deref());
    if let Some(claim) = &decision.release {
        if let Some(patch) = release_patch(&template, claim) {
            template = patch_template(&api, object, &what, patch).await?;
        }
        release_binding(context, object, claim).await?;
    }
    let Some(policy) = decision.bind else {
        return Ok(None);
    };
    if let Some(patch) = claim_patch(&template, policy) {
        template = patch_template(&api, object, &what, patch).await?;
        template["apiVersion"] = Value::from(context.resource.api_version.clone());
        template["kind"] = Value::from(context.resource.kind.clone());
    }
    let schedule_priority = schedule_priority(shared, policy).await?;
    let name = binding_name(&context.resource.kind, &object.name_any());
    let existing = existing_binding(shared, namespace.as_deref(), &name);
    let permanent_id = uuid::Uuid::new_v4().to_string();
    let inputs = BindingInputs {
        permanent_id: existing.is_none().then_some(permanent_id.as_str()),
        schedule_priority,
    };
    let desired = binding_for(&template, policy, &inputs).map_err(|source| Error::Binding {
        what: what.clone(),
        source,
    })?;
    let key = format!("{}/{name}", namespace.as_deref().unwrap_or_default());
    let specification = specification(&template);
    let wrote = match existing {
        None => {
            create_binding(shared, &desired).await?;
            true
        }
        Some(existing) => {
            let mut updated = refresh(&existing, &desired).map_err(|source| Error::Binding {
                what: what.clone(),
                source,
            })?;
            // A template change that touched only its status (or server bookkeeping) keeps the
            // resourceVersion the binding recorded, as Karmada's detector ignores such updates:
            // otherwise every status aggregation would ripple back into the binding and its Works.
            if shared.specifications.unchanged(&key, specification) {
                updated.spec_mut().resource.resource_version =
                    existing.spec().resource.resource_version.clone();
            }
            if updated == existing {
                false
            } else {
                replace_binding(shared, &updated).await?;
                true
            }
        }
    };
    shared.specifications.record(key, specification);
    Ok(wrote.then(|| policy_name(policy)))
}

/// Fingerprints of the template specifications bindings were last written from, by binding.
#[derive(Default)]
pub(super) struct Specifications(std::sync::Mutex<std::collections::HashMap<String, u64>>);

impl Specifications {
    fn unchanged(&self, key: &str, fingerprint: u64) -> bool {
        self.lock().get(key) == Some(&fingerprint)
    }

    fn record(&self, key: String, fingerprint: u64) {
        self.lock().insert(key, fingerprint);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u64>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A fingerprint of everything in the template but its status and what the server keeps for
/// itself (resourceVersion, managedFields): what a binding must follow.
fn specification(template: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut specification = template.clone();
    if let Some(object) = specification.as_object_mut() {
        object.remove("status");
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("resourceVersion");
            metadata.remove("managedFields");
        }
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    specification.to_string().hash(&mut hasher);
    hasher.finish()
}

fn templates(context: &KindContext, namespace: Option<&str>) -> Api<DynamicObject> {
    let client = context.shared.client.clone();
    match namespace.filter(|_| context.namespaced) {
        Some(ns) => Api::namespaced_with(client, ns, &context.resource),
        None => Api::all_with(client, &context.resource),
    }
}

/// Merge-patches the template's metadata, returning the template as it now is.
async fn patch_template(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    what: &str,
    patch: Value,
) -> Result<Value, Error> {
    let patched = api
        .patch(
            &object.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(|source| Error::Write {
            what: what.to_string(),
            source,
        })?;
    serde_json::to_value(&patched).map_err(|source| Error::Serialize {
        what: what.to_string(),
        source,
    })
}

/// Removes a released claim from the template's binding too, so the binding no longer names a
/// policy that gave the template up. The binding itself stays: its Works keep running until
/// another policy claims the template or the template is deleted.
async fn release_binding(
    context: &KindContext,
    object: &DynamicObject,
    claim: &Claim,
) -> Result<(), Error> {
    let shared = &context.shared;
    let namespace = object.namespace();
    let name = binding_name(&context.resource.kind, &object.name_any());
    let Some(existing) = existing_binding(shared, namespace.as_deref(), &name) else {
        return Ok(());
    };
    let value = match &existing {
        Binding::Namespaced(b) => serde_json::to_value(b),
        Binding::Cluster(b) => serde_json::to_value(b),
    }
    .map_err(|source| Error::Serialize {
        what: format!("binding {name}"),
        source,
    })?;
    let Some(patch) = release_patch(&value, claim) else {
        return Ok(());
    };
    let params = PatchParams::default();
    let result = match (&existing, namespace) {
        (Binding::Namespaced(_), Some(ns)) => {
            Api::<ResourceBinding>::namespaced(shared.client.clone(), &ns)
                .patch(&name, &params, &Patch::Merge(&patch))
                .await
                .map(drop)
        }
        _ => Api::<ClusterResourceBinding>::all(shared.client.clone())
            .patch(&name, &params, &Patch::Merge(&patch))
            .await
            .map(drop),
    };
    match result {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other.map_err(|source| Error::Write {
            what: format!("binding {name}"),
            source,
        }),
    }
}

/// The value of the PriorityClass the policy's `schedulePriority` names, if it names one.
async fn schedule_priority(shared: &Shared, policy: Match<'_>) -> Result<Option<i32>, Error> {
    let Some(requested) = &policy.spec().schedule_priority else {
        return Ok(None);
    };
    let class = &requested.priority_class_name;
    let api: Api<PriorityClass> = Api::all(shared.client.clone());
    match api.get_opt(class).await {
        Ok(found) => Ok(found.map(|pc| pc.value)),
        Err(source) => Err(Error::PriorityClass {
            class: class.clone(),
            policy: policy_name(policy),
            source,
        }),
    }
}

fn existing_binding(shared: &Shared, namespace: Option<&str>, name: &str) -> Option<Binding> {
    match namespace {
        Some(_) => shared
            .bindings
            .get(&binding_ref(namespace, name))
            .map(|b| Binding::Namespaced((*b).clone())),
        None => shared
            .cluster_bindings
            .get(&binding_ref(None, name))
            .map(|b| Binding::Cluster((*b).clone())),
    }
}

async fn create_binding(shared: &Shared, binding: &Binding) -> Result<(), Error> {
    let params = PostParams {
        field_manager: Some(super::DETECTOR.into()),
        ..PostParams::default()
    };
    let result = match binding {
        Binding::Namespaced(b) => {
            let ns = b.metadata.namespace.clone().unwrap_or_default();
            Api::<ResourceBinding>::namespaced(shared.client.clone(), &ns)
                .create(&params, b)
                .await
                .map(drop)
        }
        Binding::Cluster(b) => Api::<ClusterResourceBinding>::all(shared.client.clone())
            .create(&params, b)
            .await
            .map(drop),
    };
    result.map_err(|source| Error::Write {
        what: format!(
            "binding {}",
            binding.metadata().name.clone().unwrap_or_default()
        ),
        source,
    })
}

/// Writes the refreshed binding; its resourceVersion (from the store) makes a stale write fail
/// with a conflict instead of undoing someone else's change.
async fn replace_binding(shared: &Shared, binding: &Binding) -> Result<(), Error> {
    let params = PostParams {
        field_manager: Some(super::DETECTOR.into()),
        ..PostParams::default()
    };
    let name = binding.metadata().name.clone().unwrap_or_default();
    let result = match binding {
        Binding::Namespaced(b) => {
            let ns = b.metadata.namespace.clone().unwrap_or_default();
            Api::<ResourceBinding>::namespaced(shared.client.clone(), &ns)
                .replace(&name, &params, b)
                .await
                .map(drop)
        }
        Binding::Cluster(b) => Api::<ClusterResourceBinding>::all(shared.client.clone())
            .replace(&name, &params, b)
            .await
            .map(drop),
    };
    result.map_err(|source| Error::Write {
        what: format!("binding {name}"),
        source,
    })
}

/// `namespace/name` for a PropagationPolicy, `name` for a ClusterPropagationPolicy.
fn policy_name(policy: Match<'_>) -> String {
    match policy.namespace() {
        Some(ns) => format!("{ns}/{}", policy.name()),
        None => policy.name().to_string(),
    }
}

fn describe(object: &DynamicObject, resource: &ApiResource) -> String {
    match object.namespace() {
        Some(ns) => format!("{} {ns}/{}", resource.kind, object.name_any()),
        None => format!("{} {}", resource.kind, object.name_any()),
    }
}

async fn record(
    context: &KindContext,
    object: &DynamicObject,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let report = Report {
        type_,
        action: "ApplyPolicy",
        reason,
        note: &note,
    };
    let reference = object.object_ref(&context.resource);
    events::record(&context.shared.recorder, [&reference], report).await;
}
