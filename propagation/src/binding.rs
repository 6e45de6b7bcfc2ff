//! The binding controller's decisions: the Work each target cluster of a (Cluster)ResourceBinding
//! gets, and which existing Works no longer belong to it, as Karmada's binding controller decides.
//!
//! Per target cluster the template is copied, its replicas revised to the cluster's share,
//! override policies applied, binding labels and annotations stamped, and server-owned fields
//! pruned, in Karmada's order. The controller writes the Works and deletes the stale ones.

mod completions;
pub mod controller;
pub(crate) mod name;
mod prune;
mod replicas;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use karmada_api::cluster::Cluster;
use karmada_api::policy::overrides::{ClusterOverridePolicy, OverridePolicy};
use karmada_api::policy::propagation::{ConflictResolution, PurgeMode};
use karmada_api::work::binding::{
    CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL, ClusterResourceBinding,
    RESOURCE_BINDING_PERMANENT_ID_LABEL, ResourceBinding, ResourceBindingSpec, TargetCluster,
};
use karmada_api::work::work::{
    WORK_NAME_ANNOTATION, WORK_NAMESPACE_ANNOTATION, Work, WorkSpec, WorkloadTemplate,
};
use karmada_api::{EXECUTION_NAMESPACE_PREFIX, execution_namespace};
use serde_json::{Map, Value};

use crate::overrides;
use crate::status::RESOURCE_TEMPLATE_GENERATION_ANNOTATION;

pub use self::completions::{divides_completions, split_completions};
pub use self::name::work_name;
pub use self::prune::{prune, prune_in_place};
pub use self::replicas::{ReviseError, is_workload, replica_field, revise_replicas};

/// Annotation naming the namespace of the ResourceBinding a Work (and its manifest) came from.
pub const RESOURCE_BINDING_NAMESPACE_ANNOTATION: &str = "resourcebinding.karmada.io/namespace";
/// Annotation naming the ResourceBinding a Work (and its manifest) came from.
pub const RESOURCE_BINDING_NAME_ANNOTATION: &str = "resourcebinding.karmada.io/name";
/// Annotation naming the ClusterResourceBinding a Work (and its manifest) came from.
pub const CLUSTER_RESOURCE_BINDING_NAME_ANNOTATION: &str = "clusterresourcebinding.karmada.io/name";
/// Annotation telling the member's execution controller whether it may take over an object that
/// already exists there: `overwrite` or `abort`.
pub const CONFLICT_RESOLUTION_ANNOTATION: &str = "work.karmada.io/conflict-resolution";
/// Annotation on the manifest carrying the resource template's uid.
pub const RESOURCE_TEMPLATE_UID_ANNOTATION: &str = "resourcetemplate.karmada.io/uid";
/// Annotation on the manifest listing the annotation keys Karmada manages on the member copy.
pub const MANAGED_ANNOTATIONS_ANNOTATION: &str = "resourcetemplate.karmada.io/managed-annotations";
/// Annotation on the manifest listing the label keys Karmada manages on the member copy.
pub const MANAGED_LABELS_ANNOTATION: &str = "resourcetemplate.karmada.io/managed-labels";
/// Label marking a member object as managed by Karmada.
pub const MANAGED_BY_KARMADA_LABEL: &str = "karmada.io/managed";
/// Finalizer of the execution controller, which removes the member copy before the Work goes.
pub const EXECUTION_CONTROLLER_FINALIZER: &str = "karmada.io/execution-controller";

/// Why a binding could not be rendered into Works; every variant names the cluster involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("resource template {template} is not a JSON object")]
    NotAnObject { template: String },
    #[error("cluster {cluster}: no such Cluster is registered, so its overrides cannot be chosen")]
    ClusterNotFound { cluster: String },
    #[error("cluster {cluster}: cannot revise replicas: {source}")]
    Revise {
        cluster: String,
        #[source]
        source: ReviseError,
    },
    #[error("cluster {cluster}: cannot apply overrides: {source}")]
    Override {
        cluster: String,
        #[source]
        source: overrides::Error,
    },
    #[error(
        "Work {namespace}/{name} is not in an execution namespace ({EXECUTION_NAMESPACE_PREFIX}<cluster>)"
    )]
    NotInExecutionNamespace { namespace: String, name: String },
}

/// A ResourceBinding or a ClusterResourceBinding: they render alike, but stamp different labels
/// and annotations.
#[derive(Clone, Copy, Debug)]
pub enum BindingRef<'a> {
    Namespaced(&'a ResourceBinding),
    Cluster(&'a ClusterResourceBinding),
}

impl<'a> From<&'a ResourceBinding> for BindingRef<'a> {
    fn from(binding: &'a ResourceBinding) -> Self {
        BindingRef::Namespaced(binding)
    }
}

impl<'a> From<&'a ClusterResourceBinding> for BindingRef<'a> {
    fn from(binding: &'a ClusterResourceBinding) -> Self {
        BindingRef::Cluster(binding)
    }
}

impl<'a> BindingRef<'a> {
    pub fn spec(self) -> &'a ResourceBindingSpec {
        match self {
            BindingRef::Namespaced(b) => &b.spec,
            BindingRef::Cluster(b) => &b.spec,
        }
    }

    fn metadata(self) -> &'a ObjectMeta {
        match self {
            BindingRef::Namespaced(b) => &b.metadata,
            BindingRef::Cluster(b) => &b.metadata,
        }
    }

    /// The permanent-id label key and the binding's value for it (empty when not yet assigned,
    /// as Karmada reads a missing label).
    fn permanent_id(self) -> (&'static str, String) {
        let key = match self {
            BindingRef::Namespaced(_) => RESOURCE_BINDING_PERMANENT_ID_LABEL,
            BindingRef::Cluster(_) => CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL,
        };
        let value = self
            .metadata()
            .labels
            .as_ref()
            .and_then(|labels| labels.get(key))
            .cloned()
            .unwrap_or_default();
        (key, value)
    }

    /// The annotations naming the binding, for both the Work and its manifest.
    fn name_annotations(self) -> Vec<(&'static str, String)> {
        let meta = self.metadata();
        let name = meta.name.clone().unwrap_or_default();
        match self {
            BindingRef::Namespaced(_) => vec![
                (
                    RESOURCE_BINDING_NAMESPACE_ANNOTATION,
                    meta.namespace.clone().unwrap_or_default(),
                ),
                (RESOURCE_BINDING_NAME_ANNOTATION, name),
            ],
            BindingRef::Cluster(_) => vec![(CLUSTER_RESOURCE_BINDING_NAME_ANNOTATION, name)],
        }
    }
}

/// The Works for every cluster the binding targets: its scheduled clusters, then clusters of
/// the bindings that depend on it (`requiredBy`) not already among them. Clusters being
/// gracefully evicted get no new Work: their existing Work is simply kept (see [`stale_works`]).
pub fn render<'a>(
    binding: impl Into<BindingRef<'a>>,
    template: &Value,
    clusters: &[Cluster],
    cluster_overrides: &[ClusterOverridePolicy],
    overrides: &[OverridePolicy],
) -> Result<Vec<Work>, Error> {
    let binding = binding.into();
    if !template.is_object() {
        return Err(Error::NotAnObject {
            template: binding.spec().resource.to_string(),
        });
    }
    let spec = binding.spec();
    let revise = is_workload(spec);
    let targets = target_clusters(spec);
    let is_job = template.get("kind").and_then(Value::as_str) == Some("Job");
    let completions = if is_job && divides_completions(spec) {
        split_completions(template, &targets).map_err(|source| Error::Revise {
            cluster: targets
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            source,
        })?
    } else {
        None
    };
    targets
        .into_iter()
        .map(|target| {
            let cluster_error = || target.name.clone();
            let cluster = clusters
                .iter()
                .find(|c| c.metadata.name.as_deref() == Some(target.name.as_str()))
                .ok_or_else(|| Error::ClusterNotFound {
                    cluster: cluster_error(),
                })?;
            let mut manifest = template.clone();
            if revise {
                revise_replicas(&mut manifest, target.replicas.unwrap_or(0)).map_err(|source| {
                    Error::Revise {
                        cluster: cluster_error(),
                        source,
                    }
                })?;
            }
            if let Some(share) = completions.as_ref().and_then(|c| c.get(&target.name)) {
                set_spec_int_if_present(&mut manifest, "completions", *share);
            }
            // Overrides come last so a policy can still change anything, replicas included.
            let applied =
                overrides::apply_overrides(&manifest, cluster, cluster_overrides, overrides)
                    .map_err(|source| Error::Override {
                        cluster: cluster_error(),
                        source,
                    })?;
            let annotations = applied.annotations();
            work_for(binding, &target, applied.manifest, &annotations)
        })
        .collect()
}

/// The Work for one target cluster, from the manifest already revised and overridden for it.
/// `override_annotations` are the applied-overrides annotations ([`overrides::Applied::annotations`]),
/// recorded on the Work.
pub fn work_for<'a>(
    binding: impl Into<BindingRef<'a>>,
    target: &TargetCluster,
    manifest: Value,
    override_annotations: &BTreeMap<String, String>,
) -> Result<Work, Error> {
    let binding = binding.into();
    let spec = binding.spec();
    let (id_key, id) = binding.permanent_id();
    let origin = Origin {
        labels: vec![(id_key, id)],
        annotations: binding.name_annotations(),
        conflict_resolution: spec.conflict_resolution,
        suspend_dispatching: suspend_dispatching(spec, &target.name),
        preserve_resources_on_deletion: spec.preserve_resources_on_deletion.unwrap_or(false),
        work_annotations: override_annotations.clone(),
    };
    build_work(&target.name, manifest, origin).map_err(|NotAnObject| Error::NotAnObject {
        template: spec.resource.to_string(),
    })
}

/// A manifest that is not a JSON object cannot be carried by a Work.
#[derive(Debug, thiserror::Error)]
#[error("the manifest is not a JSON object")]
pub struct NotAnObject;

/// Where a Work comes from, beyond its manifest: what it records about its origin and how the
/// member's execution controller must treat it.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// Stamped on both the Work and its manifest (e.g. the binding's permanent id).
    pub labels: Vec<(&'static str, String)>,
    /// Stamped on both the Work and its manifest (e.g. the binding's name).
    pub annotations: Vec<(&'static str, String)>,
    /// The policy's conflict resolution; the manifest's own annotation wins when valid.
    pub conflict_resolution: Option<ConflictResolution>,
    pub suspend_dispatching: bool,
    pub preserve_resources_on_deletion: bool,
    /// Recorded on the Work only (e.g. which overrides were applied).
    pub work_annotations: BTreeMap<String, String>,
}

/// The Work carrying `manifest` to `cluster`'s execution namespace, stamped as Karmada's
/// CreateOrUpdateWork does: the origin's labels and annotations, the template's generation,
/// the managed-by label, the Work's own name and namespace, the conflict resolution, then
/// server-owned fields pruned and the managed keys recorded.
pub fn build_work(cluster: &str, mut manifest: Value, origin: Origin) -> Result<Work, NotAnObject> {
    let Some(object) = manifest.as_object_mut() else {
        return Err(NotAnObject);
    };
    let name = work_name(
        &str_at(object, &["kind"]),
        Some(&str_at(object, &["metadata", "namespace"])),
        &str_at(object, &["metadata", "name"]),
    );
    let namespace = execution_namespace(cluster);

    let mut work_labels = BTreeMap::new();
    for (key, value) in origin.labels {
        set_meta(object, "labels", key, &value);
        work_labels.insert(key.to_string(), value);
    }

    let generation = object
        .get("metadata")
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .filter(|g| *g > 0);
    if let Some(generation) = generation {
        set_meta(
            object,
            "annotations",
            RESOURCE_TEMPLATE_GENERATION_ANNOTATION,
            &generation.to_string(),
        );
    }
    let mut work_annotations = BTreeMap::new();
    for (key, value) in origin.annotations {
        set_meta(object, "annotations", key, &value);
        work_annotations.insert(key.to_string(), value);
    }
    let conflict = conflict_resolution(object, origin.conflict_resolution);
    work_annotations.insert(
        CONFLICT_RESOLUTION_ANNOTATION.to_string(),
        conflict.to_string(),
    );
    work_annotations.extend(origin.work_annotations);

    // What Karmada's CreateOrUpdateWork adds to the manifest before pruning it.
    set_meta(object, "labels", MANAGED_BY_KARMADA_LABEL, "true");
    let uid = str_at(object, &["metadata", "uid"]);
    set_meta(
        object,
        "annotations",
        RESOURCE_TEMPLATE_UID_ANNOTATION,
        &uid,
    );
    set_meta(object, "annotations", WORK_NAME_ANNOTATION, &name);
    set_meta(object, "annotations", WORK_NAMESPACE_ANNOTATION, &namespace);
    set_meta(
        object,
        "annotations",
        CONFLICT_RESOLUTION_ANNOTATION,
        conflict,
    );
    prune_in_place(&mut manifest);
    let Value::Object(mut object) = manifest else {
        unreachable!("checked to be an object above and pruning keeps it one");
    };
    record_managed_keys(&mut object);

    let mut work = Work::new(
        &name,
        WorkSpec {
            workload: WorkloadTemplate {
                manifests: vec![object],
            },
            suspend_dispatching: Some(origin.suspend_dispatching),
            preserve_resources_on_deletion: Some(origin.preserve_resources_on_deletion),
        },
    );
    work.metadata.namespace = Some(namespace);
    work.metadata.labels = Some(work_labels);
    work.metadata.annotations = Some(work_annotations);
    work.metadata.finalizers = Some(vec![EXECUTION_CONTROLLER_FINALIZER.to_string()]);
    Ok(work)
}

/// The Works among `existing` (all Works carrying the binding's permanent id) whose cluster the
/// binding no longer needs: not scheduled, not required by a dependent binding, and not kept by
/// a graceful eviction task. A task with purge mode `Directly` keeps nothing; any other task
/// keeps its cluster's Work until the eviction controller removes the task (when the new
/// clusters are healthy or its grace period ran out).
pub fn stale_works<'w>(
    spec: &ResourceBindingSpec,
    existing: &'w [Work],
) -> Result<Vec<&'w Work>, Error> {
    let mut wanted: BTreeSet<String> = target_clusters(spec)
        .into_iter()
        .map(|target| target.name)
        .collect();
    wanted.extend(
        spec.graceful_eviction_tasks
            .iter()
            .filter(|task| task.purge_mode != Some(PurgeMode::Directly))
            .map(|task| task.from_cluster.clone()),
    );
    let mut stale = Vec::new();
    for work in existing {
        let namespace = work.metadata.namespace.as_deref().unwrap_or_default();
        let Some(cluster) = namespace.strip_prefix(EXECUTION_NAMESPACE_PREFIX) else {
            return Err(Error::NotInExecutionNamespace {
                namespace: namespace.to_string(),
                name: work.metadata.name.clone().unwrap_or_default(),
            });
        };
        if !wanted.contains(cluster) {
            stale.push(work);
        }
    }
    Ok(stale)
}

/// How long the controller waits before looking again while [`awaiting_direct_purge`] holds.
pub const DIRECT_PURGE_REQUEUE: Duration = Duration::from_secs(5);

/// Whether a Work still exists on a cluster whose eviction purges `Directly`: Karmada's binding
/// controller then writes no Works and requeues after [`DIRECT_PURGE_REQUEUE`], so the old copy
/// is gone before the new one starts (the point of a direct purge, e.g. for stateful failover).
pub fn awaiting_direct_purge(spec: &ResourceBindingSpec, existing: &[Work]) -> bool {
    let direct: BTreeSet<String> = spec
        .graceful_eviction_tasks
        .iter()
        .filter(|task| task.purge_mode == Some(PurgeMode::Directly))
        .map(|task| execution_namespace(&task.from_cluster))
        .collect();
    existing.iter().any(|work| {
        work.metadata
            .namespace
            .as_ref()
            .is_some_and(|ns| direct.contains(ns))
    })
}

/// Scheduled clusters, then those of dependent bindings not already scheduled, in order.
pub(crate) fn target_clusters(spec: &ResourceBindingSpec) -> Vec<TargetCluster> {
    let mut targets = spec.clusters.clone();
    for dependent in &spec.required_by {
        for cluster in &dependent.clusters {
            if !targets.iter().any(|t| t.name == cluster.name) {
                targets.push(cluster.clone());
            }
        }
    }
    targets
}

/// The template's own `work.karmada.io/conflict-resolution` annotation wins when valid;
/// otherwise the binding's policy decides, and anything but Overwrite means abort.
fn conflict_resolution(
    object: &Map<String, Value>,
    from_binding: Option<ConflictResolution>,
) -> &'static str {
    match str_at(
        object,
        &["metadata", "annotations", CONFLICT_RESOLUTION_ANNOTATION],
    )
    .as_str()
    {
        "overwrite" => "overwrite",
        "abort" => "abort",
        _ if from_binding == Some(ConflictResolution::Overwrite) => "overwrite",
        _ => "abort",
    }
}

/// Dispatching is paused for every cluster, or for the listed ones.
fn suspend_dispatching(spec: &ResourceBindingSpec, cluster: &str) -> bool {
    let Some(suspension) = &spec.suspension else {
        return false;
    };
    suspension.policy.dispatching.unwrap_or(false)
        || suspension
            .policy
            .dispatching_on_clusters
            .as_ref()
            .is_some_and(|on| on.cluster_names.iter().any(|c| c == cluster))
}

/// Lists the annotation and label keys now on the manifest, so the member's execution
/// controller knows which keys it may later remove.
fn record_managed_keys(object: &mut Map<String, Value>) {
    let keys = |field: &str, object: &Map<String, Value>| -> Vec<String> {
        object
            .get("metadata")
            .and_then(|m| m.get(field))
            .and_then(Value::as_object)
            .map(|map| map.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut annotations: Vec<String> = keys("annotations", object)
        .into_iter()
        .filter(|k| k != MANAGED_ANNOTATIONS_ANNOTATION && k != MANAGED_LABELS_ANNOTATION)
        .chain([
            MANAGED_ANNOTATIONS_ANNOTATION.to_string(),
            MANAGED_LABELS_ANNOTATION.to_string(),
        ])
        .collect();
    annotations.sort();
    set_meta(
        object,
        "annotations",
        MANAGED_ANNOTATIONS_ANNOTATION,
        &annotations.join(","),
    );
    let mut labels = keys("labels", object);
    labels.sort();
    set_meta(
        object,
        "annotations",
        MANAGED_LABELS_ANNOTATION,
        &labels.join(","),
    );
}

/// Sets `spec.<field>` when the manifest already has it, as Karmada's `ApplyReplica` does.
fn set_spec_int_if_present(manifest: &mut Value, field: &str, value: i32) {
    if let Some(current) = manifest
        .get_mut("spec")
        .and_then(Value::as_object_mut)
        .and_then(|spec| spec.get_mut(field))
    {
        *current = Value::from(value);
    }
}

/// Sets `metadata.<field>.<key>`, creating the maps on the way.
fn set_meta(object: &mut Map<String, Value>, field: &str, key: &str, value: &str) {
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let map = metadata
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !map.is_object() {
        *map = Value::Object(Map::new());
    }
    if let Some(map) = map.as_object_mut() {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// The string at `path`, or empty.
fn str_at(object: &Map<String, Value>, path: &[&str]) -> String {
    let Some((first, rest)) = path.split_first() else {
        return String::new();
    };
    let mut value = object.get(*first);
    for key in rest {
        value = value.and_then(|v| v.get(*key));
    }
    value
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests;
