//! A what-if scenario file read into what the scheduler sees: member clusters and the binding
//! spec the detector would build from a policy (or bare placement) and a workload.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use karmada_api::cluster::Cluster;
use karmada_api::policy::propagation::{
    ClusterPropagationPolicy, ClusterPropagationSpec, Placement, PropagationPolicy, PropagationSpec,
};
use karmada_api::policy::selectors::ResourceSelector;
use karmada_api::validation::{Admit, FieldError};
use karmada_api::work::binding::{ReplicaRequirements, ResourceBindingSpec, TargetCluster};
use karmada_propagation::detector::{BindingInputs, Match, best_policy, binding_for};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The top-level keys a scenario may have.
const KEYS: [&str; 9] = [
    "clusters",
    "policy",
    "placement",
    "workload",
    "replicas",
    "replicaRequirements",
    "previous",
    "availableReplicas",
    "uid",
];

/// Name and namespace of the stand-in objects a scenario without a workload or without a
/// policy gets; they only show up in messages.
const STAND_IN_NAME: &str = "scenario";
const STAND_IN_NAMESPACE: &str = "default";

/// A scenario ready to schedule.
#[derive(Debug)]
pub struct Scenario {
    pub clusters: Vec<Cluster>,
    pub spec: ResourceBindingSpec,
    /// `availableReplicas`: stands in for the replica estimators' answers.
    pub available: Option<BTreeMap<String, i32>>,
    /// What looks unintended but does not stop the preview (printed on stderr).
    pub warnings: Vec<String>,
}

/// What is wrong with a scenario: the field, as a dotted path from the top of the file, and
/// how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub field: String,
    pub message: String,
}

impl Error {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// Reads a scenario from its YAML text.
pub fn parse(text: &str) -> Result<Scenario, Error> {
    let document: Value = serde_saphyr::from_str(text)
        .map_err(|e| Error::new("", format!("the scenario is not valid YAML: {e}")))?;
    let Value::Object(top) = document else {
        return Err(Error::new(
            "",
            format!(
                "the scenario must be a YAML mapping with the keys {}",
                KEYS.join(", ")
            ),
        ));
    };
    if let Some(key) = top.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(Error::new(
            key.as_str(),
            format!("unknown top-level key; expected one of {}", KEYS.join(", ")),
        ));
    }
    let field = |key: &str| top.get(key).filter(|v| !v.is_null());

    let clusters = clusters(field("clusters"))?;
    let mut warnings = Vec::new();
    let (template, replicas) = workload(
        field("workload"),
        field("replicas"),
        field("replicaRequirements"),
    )?;
    let policy = policy(field("policy"), field("placement"), &template)?;
    if field("workload").is_some()
        && let Some(name) = policy.unselected(&template)
    {
        warnings.push(format!(
            "policy {name:?} does not select the workload; previewing its placement anyway"
        ));
    }

    let inputs = BindingInputs {
        permanent_id: None,
        // A single binding's placement does not depend on its priority, only its queue order.
        schedule_priority: Some(0),
    };
    let binding = binding_for(&template, policy.as_match(), &inputs)
        .map_err(|e| Error::new("workload", e.to_string()))?;
    let mut spec = binding.spec().clone();
    if let Some((count, requirements)) = replicas {
        spec.replicas = Some(count);
        spec.replica_requirements = requirements;
    }
    if let Some(uid) = field("uid") {
        let uid = uid
            .as_str()
            .ok_or_else(|| Error::new("uid", "must be a string"))?;
        spec.resource.uid = Some(uid.to_string());
    }
    if let Some(previous) = field("previous") {
        spec.clusters = typed::<Vec<TargetCluster>>("previous", previous)?;
        if let Some(i) = spec.clusters.iter().position(|t| t.name.is_empty()) {
            return Err(Error::new(format!("previous[{i}].name"), "is required"));
        }
    }
    let available = field("availableReplicas")
        .map(|v| typed::<BTreeMap<String, i32>>("availableReplicas", v))
        .transpose()?;
    let known: BTreeSet<&str> = clusters
        .iter()
        .filter_map(|c| c.metadata.name.as_deref())
        .collect();
    for name in available.iter().flat_map(|a| a.keys()) {
        if !known.contains(name.as_str()) {
            warnings.push(format!(
                "availableReplicas names {name:?}, which is not among the clusters"
            ));
        }
    }
    Ok(Scenario {
        clusters,
        spec,
        available,
        warnings,
    })
}

/// Deserializes one section, naming it in the error.
fn typed<T: DeserializeOwned>(field: &str, value: &Value) -> Result<T, Error> {
    serde_json::from_value(value.clone()).map_err(|e| Error::new(field, e.to_string()))
}

/// `clusters:` as a list of Clusters or a `kind: List` with `items:` (what
/// `kubectl get clusters -o yaml` prints).
fn clusters(value: Option<&Value>) -> Result<Vec<Cluster>, Error> {
    let value = value.ok_or_else(|| {
        Error::new(
            "clusters",
            "is required: the member clusters, as `kubectl get clusters -o yaml` prints them",
        )
    })?;
    let (items, prefix) = match value {
        Value::Array(items) => (items, "clusters"),
        Value::Object(list) => match list.get("items") {
            Some(Value::Array(items))
                if list
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List")) =>
            {
                (items, "clusters.items")
            }
            _ => {
                return Err(Error::new(
                    "clusters",
                    "must be a list of Clusters or a `kind: List` with `items:`",
                ));
            }
        },
        _ => {
            return Err(Error::new(
                "clusters",
                "must be a list of Clusters or a `kind: List` with `items:`",
            ));
        }
    };
    let mut seen = BTreeSet::new();
    let mut clusters = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        if let Some(kind) = item.get("kind").and_then(Value::as_str)
            && kind != "Cluster"
        {
            return Err(Error::new(
                format!("{at}.kind"),
                format!("is {kind:?}, expected Cluster"),
            ));
        }
        let cluster: Cluster = typed(&at, item)?;
        let name = cluster.metadata.name.clone().unwrap_or_default();
        if name.is_empty() {
            return Err(Error::new(format!("{at}.metadata.name"), "is required"));
        }
        if !seen.insert(name.clone()) {
            return Err(Error::new(
                format!("{at}.metadata.name"),
                format!("cluster {name:?} appears twice"),
            ));
        }
        clusters.push(cluster);
    }
    Ok(clusters)
}

/// The template to build the binding from and, with `replicas:`, the replicas to use instead
/// of interpreting them.
type Workload = (Value, Option<(i32, Option<ReplicaRequirements>)>);

fn workload(
    template: Option<&Value>,
    replicas: Option<&Value>,
    requirements: Option<&Value>,
) -> Result<Workload, Error> {
    match (template, replicas) {
        (Some(_), Some(_)) => Err(Error::new(
            "replicas",
            "cannot be set with `workload:`, whose replicas are interpreted from the template",
        )),
        (None, None) => Err(Error::new(
            "workload",
            "is required: set `workload:` (a resource template) or `replicas:` (with optional \
             `replicaRequirements:`)",
        )),
        (Some(template), None) => {
            if requirements.is_some() {
                return Err(Error::new(
                    "replicaRequirements",
                    "cannot be set with `workload:`, whose requests are interpreted from the \
                     template; use it with `replicas:`",
                ));
            }
            if !template.is_object() {
                return Err(Error::new(
                    "workload",
                    "must be a resource template (a mapping)",
                ));
            }
            for (field, value) in [
                ("workload.apiVersion", &template["apiVersion"]),
                ("workload.kind", &template["kind"]),
                ("workload.metadata.name", &template["metadata"]["name"]),
            ] {
                if value.as_str().is_none_or(str::is_empty) {
                    return Err(Error::new(field, "is required"));
                }
            }
            Ok((template.clone(), None))
        }
        (None, Some(count)) => {
            let count = count
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| Error::new("replicas", "must be a non-negative 32-bit integer"))?;
            let requirements = requirements
                .map(|r| typed::<ReplicaRequirements>("replicaRequirements", r))
                .transpose()?;
            // The scheduler checks the template's API is served, so the stand-in is the
            // commonest workload.
            let template = json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": STAND_IN_NAME, "namespace": STAND_IN_NAMESPACE},
            });
            Ok((template, Some((count, requirements))))
        }
    }
}

/// The policy the binding is built from, defaulted and validated as the API server would.
enum Policy {
    Namespaced(PropagationPolicy),
    Cluster(ClusterPropagationPolicy),
}

impl Policy {
    fn as_match(&self) -> Match<'_> {
        match self {
            Policy::Namespaced(p) => Match::Namespaced(p),
            Policy::Cluster(p) => Match::Cluster(p),
        }
    }

    /// The policy's name when its resource selectors do not pick `template`.
    fn unselected(&self, template: &Value) -> Option<String> {
        let found = match self {
            Policy::Namespaced(p) => best_policy(template, std::slice::from_ref(p), &[]),
            Policy::Cluster(p) => best_policy(template, &[], std::slice::from_ref(p)),
        };
        found.is_none().then(|| self.as_match().name().to_string())
    }
}

fn policy(
    policy: Option<&Value>,
    placement: Option<&Value>,
    template: &Value,
) -> Result<Policy, Error> {
    match (policy, placement) {
        (Some(_), Some(_)) => Err(Error::new(
            "placement",
            "cannot be set with `policy:`; give either a policy or a bare placement",
        )),
        (None, None) => Err(Error::new(
            "policy",
            "is required: set `policy:` (a PropagationPolicy or ClusterPropagationPolicy) or \
             `placement:`",
        )),
        (Some(policy), None) => from_policy(policy, template),
        (None, Some(placement)) => from_placement(placement, template),
    }
}

fn from_policy(value: &Value, template: &Value) -> Result<Policy, Error> {
    match value.get("kind").and_then(Value::as_str) {
        Some("PropagationPolicy") => {
            let mut policy: PropagationPolicy = typed("policy", value)?;
            if policy.metadata.namespace.is_none() {
                // `kubectl apply` puts a namespaced object in the template's namespace.
                let namespace = template["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or(STAND_IN_NAMESPACE);
                policy.metadata.namespace = Some(namespace.to_string());
            }
            admit(&mut policy, "policy.")?;
            Ok(Policy::Namespaced(policy))
        }
        Some("ClusterPropagationPolicy") => {
            let mut policy: ClusterPropagationPolicy = typed("policy", value)?;
            admit(&mut policy, "policy.")?;
            Ok(Policy::Cluster(policy))
        }
        _ => Err(Error::new(
            "policy.kind",
            "must be PropagationPolicy or ClusterPropagationPolicy",
        )),
    }
}

/// A bare placement goes into a stand-in policy selecting the template, so it gets the same
/// defaults and validation as one written in a policy.
fn from_placement(value: &Value, template: &Value) -> Result<Policy, Error> {
    let placement: Placement = typed("placement", value)?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let spec = PropagationSpec {
        resource_selectors: vec![ResourceSelector {
            api_version: text(&template["apiVersion"]),
            kind: text(&template["kind"]),
            ..ResourceSelector::default()
        }],
        placement: Some(placement),
        ..PropagationSpec::default()
    };
    // Admission reports `spec.placement.x`; the user wrote `placement.x`.
    let prefix = "";
    match template["metadata"]["namespace"].as_str() {
        Some(namespace) => {
            let mut policy = PropagationPolicy::new(STAND_IN_NAME, spec);
            policy.metadata.namespace = Some(namespace.to_string());
            admit(&mut policy, prefix)?;
            Ok(Policy::Namespaced(policy))
        }
        None => {
            let mut policy =
                ClusterPropagationPolicy::new(STAND_IN_NAME, ClusterPropagationSpec(spec));
            admit(&mut policy, prefix)?;
            Ok(Policy::Cluster(policy))
        }
    }
}

/// Defaults `object` and fails on its first invalid field, named from the top of the file.
fn admit(object: &mut impl Admit, prefix: &str) -> Result<(), Error> {
    object.default_fields();
    let errors = object.validate(None);
    let Some(FieldError { field, message, .. }) = errors.into_iter().next() else {
        return Ok(());
    };
    let field = if prefix.is_empty() {
        field.strip_prefix("spec.").unwrap_or(&field).to_string()
    } else {
        format!("{prefix}{field}")
    };
    Err(Error::new(field, message))
}

#[cfg(test)]
mod tests;
