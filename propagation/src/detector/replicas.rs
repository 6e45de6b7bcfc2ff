//! Karmada's built-in replica interpretation: how many replicas a workload template asks for
//! and what one replica needs (summed resource requests and node constraints).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use karmada_api::cluster::quantity::nanos;
use karmada_api::work::binding::{NodeClaim, ReplicaRequirements};
use serde_json::Value;

use super::Error;

/// What the interpreter reads from a workload template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Replicas {
    pub replicas: i32,
    /// `None` when the pods request nothing and have no node constraints.
    pub requirements: Option<ReplicaRequirements>,
}

/// The replicas of `template`, or `None` for kinds without a built-in replica interpreter
/// (only apps/v1 Deployment, ReplicaSet and StatefulSet, batch/v1 Job and v1 Pod have one).
///
/// Unset counts take the values the Kubernetes API server defaults them to (`replicas` and
/// `parallelism` 1), since Karmada only ever sees defaulted objects. A Job runs at most its
/// `completions` pods at once, so its replicas are `min(parallelism, completions)`.
pub fn interpret_replicas(template: &Value) -> Result<Option<Replicas>, Error> {
    let api_version = template["apiVersion"].as_str().unwrap_or_default();
    let kind = template["kind"].as_str().unwrap_or_default();
    let spec = &template["spec"];
    let count = |field: &'static str, value: &Value, default: i32| -> Result<i32, Error> {
        match value {
            Value::Null => Ok(default),
            value => value
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| replica_error(template, field)),
        }
    };
    let (replicas, pod_spec) = match (api_version, kind) {
        ("apps/v1", "Deployment" | "ReplicaSet" | "StatefulSet") => (
            count("spec.replicas", &spec["replicas"], 1)?,
            &spec["template"]["spec"],
        ),
        ("batch/v1", "Job") => {
            let parallelism = count("spec.parallelism", &spec["parallelism"], 1)?;
            // Kubernetes defaults completions to 1 only when parallelism is unset too.
            let completions_default = if spec["parallelism"].is_null() {
                1
            } else {
                parallelism
            };
            let completions = count(
                "spec.completions",
                &spec["completions"],
                completions_default,
            )?;
            (parallelism.min(completions), &spec["template"]["spec"])
        }
        ("v1", "Pod") => (1, spec),
        _ => return Ok(None),
    };
    let pod_spec = pod_spec_of(template, pod_spec)?;
    Ok(Some(Replicas {
        replicas,
        requirements: requirements(template, &pod_spec)?,
    }))
}

fn pod_spec_of(template: &Value, spec: &Value) -> Result<PodSpec, Error> {
    let spec = if spec.is_null() {
        serde_json::json!({"containers": []})
    } else {
        spec.clone()
    };
    serde_json::from_value(spec).map_err(|source| Error::PodTemplate {
        kind: template["kind"].as_str().unwrap_or_default().to_string(),
        name: template["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        source,
    })
}

fn replica_error(template: &Value, field: &'static str) -> Error {
    Error::ReplicaCount {
        kind: template["kind"].as_str().unwrap_or_default().to_string(),
        name: template["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        field,
    }
}

fn requirements(template: &Value, spec: &PodSpec) -> Result<Option<ReplicaRequirements>, Error> {
    let node_claim = node_claim(spec);
    let resource_request = pod_request(spec).map_err(|(resource, value)| Error::Quantity {
        kind: template["kind"].as_str().unwrap_or_default().to_string(),
        name: template["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        resource,
        value,
    })?;
    if node_claim.is_none() && resource_request.is_empty() {
        return Ok(None);
    }
    Ok(Some(ReplicaRequirements {
        node_claim,
        resource_request,
        ..ReplicaRequirements::default()
    }))
}

/// The pods' node selector, tolerations and required node affinity; `None` if all are unset.
fn node_claim(spec: &PodSpec) -> Option<NodeClaim> {
    let claim = NodeClaim {
        hard_node_affinity: spec
            .affinity
            .as_ref()
            .and_then(|affinity| affinity.node_affinity.as_ref())
            .and_then(|node| {
                node.required_during_scheduling_ignored_during_execution
                    .clone()
            }),
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        tolerations: spec.tolerations.clone().unwrap_or_default(),
    };
    (claim != NodeClaim::default()).then_some(claim)
}

/// A pod's effective request, the way the scheduler counts it: app containers summed, then
/// raised to the largest single init container, plus the pod overhead. A container's limit
/// stands in for a missing request. CPU is counted in millicores and everything else in whole
/// units (both rounded up, like Kubernetes' `MilliValue` and `Value`); resources the scheduler
/// does not count (e.g. `storage`) are dropped.
fn pod_request(spec: &PodSpec) -> Result<BTreeMap<String, Quantity>, (String, String)> {
    let mut total: BTreeMap<String, i128> = BTreeMap::new();
    for container in &spec.containers {
        for (name, amount) in effective_requests(container.resources.as_ref())? {
            *total.entry(name).or_default() += amount;
        }
    }
    for container in spec.init_containers.iter().flatten() {
        for (name, amount) in effective_requests(container.resources.as_ref())? {
            let slot = total.entry(name).or_default();
            *slot = (*slot).max(amount);
        }
    }
    for (name, quantity) in spec.overhead.iter().flatten() {
        if let Some(amount) = counted(name, quantity)? {
            *total.entry(name.clone()).or_default() += amount;
        }
    }
    Ok(total
        .into_iter()
        .filter(|(_, amount)| *amount > 0)
        .map(|(name, amount)| {
            let quantity = format_quantity(&name, amount);
            (name, quantity)
        })
        .collect())
}

fn effective_requests(
    resources: Option<&k8s_openapi::api::core::v1::ResourceRequirements>,
) -> Result<Vec<(String, i128)>, (String, String)> {
    let Some(resources) = resources else {
        return Ok(Vec::new());
    };
    let mut merged = resources.requests.clone().unwrap_or_default();
    for (name, limit) in resources.limits.iter().flatten() {
        merged.entry(name.clone()).or_insert_with(|| limit.clone());
    }
    let mut out = Vec::new();
    for (name, quantity) in &merged {
        if let Some(amount) = counted(name, quantity)? {
            out.push((name.clone(), amount));
        }
    }
    Ok(out)
}

/// The amount the scheduler counts for `name`, or `None` for a resource it ignores.
fn counted(name: &str, quantity: &Quantity) -> Result<Option<i128>, (String, String)> {
    const NANO: i128 = 1_000_000_000;
    let scalar = name.contains('/')
        || name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-");
    let unit = match name {
        "cpu" => NANO / 1_000,
        "memory" | "ephemeral-storage" | "pods" => NANO,
        _ if scalar => NANO,
        _ => return Ok(None),
    };
    let value = nanos(quantity).ok_or_else(|| (name.to_string(), quantity.0.clone()))?;
    // Round up, as Kubernetes does when it reads a quantity as an integer.
    Ok(Some(
        value.div_euclid(unit) + i128::from(value.rem_euclid(unit) != 0),
    ))
}

/// Renders an amount the way Kubernetes canonicalises the quantity Karmada builds from it:
/// CPU from millicores in decimal SI, byte-like resources in binary SI, the rest in decimal SI.
fn format_quantity(name: &str, amount: i128) -> Quantity {
    let binary = matches!(name, "memory" | "ephemeral-storage") || name.starts_with("hugepages-");
    let text = if name == "cpu" {
        decimal(amount, -3)
    } else if binary && amount >= 1024 {
        let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
        let (mut mantissa, mut power) = (amount, 0);
        while mantissa % 1024 == 0 && power + 1 < suffixes.len() {
            mantissa /= 1024;
            power += 1;
        }
        format!("{mantissa}{}", suffixes[power])
    } else {
        decimal(amount, 0)
    };
    Quantity(text)
}

/// `mantissa * 10^exponent` with the largest SI suffix that keeps the mantissa whole.
fn decimal(mut mantissa: i128, mut exponent: i32) -> String {
    if mantissa == 0 {
        return "0".to_string();
    }
    while mantissa % 1000 == 0 && exponent < 18 {
        mantissa /= 1000;
        exponent += 3;
    }
    let suffix = match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => "",
    };
    format!("{mantissa}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workload(api_version: &str, kind: &str, spec: Value) -> Value {
        let mut template = json!({"apiVersion": api_version, "kind": kind,
                                  "metadata": {"name": "w", "namespace": "default"}});
        template["spec"] = spec;
        template
    }

    fn pod_template(pod: Value) -> Value {
        let mut spec = json!({"template": {}});
        spec["template"]["spec"] = pod;
        spec
    }

    fn requests(found: &Replicas) -> BTreeMap<&str, &str> {
        found
            .requirements
            .iter()
            .flat_map(|r| r.resource_request.iter())
            .map(|(k, v)| (k.as_str(), v.0.as_str()))
            .collect()
    }

    #[test]
    fn replica_counts_per_kind() {
        let bare = json!({"containers": [{"name": "c", "image": "nginx"}]});
        let mut with_replicas = pod_template(bare.clone());
        with_replicas["replicas"] = json!(3);
        let job = |parallelism: Value, completions: Value| {
            let mut spec = pod_template(bare.clone());
            spec["parallelism"] = parallelism;
            spec["completions"] = completions;
            workload("batch/v1", "Job", spec)
        };
        let cases = [
            (
                "deployment",
                workload("apps/v1", "Deployment", with_replicas.clone()),
                Some(3),
            ),
            (
                "deployment default",
                workload("apps/v1", "Deployment", pod_template(bare.clone())),
                Some(1),
            ),
            (
                "statefulset",
                workload("apps/v1", "StatefulSet", with_replicas.clone()),
                Some(3),
            ),
            (
                "replicaset",
                workload("apps/v1", "ReplicaSet", with_replicas.clone()),
                Some(3),
            ),
            (
                "scaled to zero",
                workload("apps/v1", "Deployment", json!({"replicas": 0})),
                Some(0),
            ),
            ("job parallelism", job(json!(4), Value::Null), Some(4)),
            (
                "job capped by completions",
                job(json!(4), json!(2)),
                Some(2),
            ),
            ("job below completions", job(json!(2), json!(10)), Some(2)),
            ("job defaults", job(Value::Null, Value::Null), Some(1)),
            ("pod", workload("v1", "Pod", bare.clone()), Some(1)),
            (
                "service has none",
                workload("v1", "Service", json!({})),
                None,
            ),
            (
                "other group has none",
                workload("extensions/v1beta1", "Deployment", with_replicas),
                None,
            ),
        ];
        for (name, template, want) in cases {
            let got = interpret_replicas(&template).unwrap().map(|r| r.replicas);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn requests_are_summed_with_init_containers_and_limits() {
        let pod = json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "1250m", "memory": "64Mi",
                                                         "nvidia.com/gpu": "1", "storage": "1Gi"}}},
                {"name": "c", "resources": {"limits": {"cpu": "500m", "ephemeral-storage": "1000"}}},
            ],
            "initContainers": [
                {"name": "big", "resources": {"requests": {"memory": "1Gi", "cpu": "100m"}}},
            ],
            "overhead": {"cpu": "1"},
        });
        let found = interpret_replicas(&workload("apps/v1", "Deployment", pod_template(pod)))
            .unwrap()
            .unwrap();
        assert_eq!(
            requests(&found),
            BTreeMap::from([
                ("cpu", "3"),
                ("memory", "1Gi"),
                ("ephemeral-storage", "1k"),
                ("nvidia.com/gpu", "1"),
            ])
        );
        assert_eq!(found.requirements.unwrap().node_claim, None);
    }

    #[test]
    fn quantities_render_like_kubernetes() {
        for (name, amount, want) in [
            ("cpu", 1500, "1500m"),
            ("cpu", 2000, "2"),
            ("memory", 192 * 1024 * 1024, "192Mi"),
            ("memory", 1_000_000_000, "1000000000"),
            ("pods", 110, "110"),
            ("example.com/foo", 3000, "3k"),
        ] {
            assert_eq!(format_quantity(name, amount).0, want, "{name} {amount}");
        }
    }

    #[test]
    fn node_claim_collects_selector_tolerations_and_required_affinity() {
        let pod = json!({
            "containers": [{"name": "a"}],
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}],
            }},
        });
        let found = interpret_replicas(&workload("v1", "Pod", pod))
            .unwrap()
            .unwrap();
        let claim = found.requirements.unwrap().node_claim.unwrap();
        assert_eq!(
            claim.node_selector,
            BTreeMap::from([("disk".to_string(), "ssd".to_string())])
        );
        assert_eq!(claim.tolerations[0].key.as_deref(), Some("gpu"));
        let affinity = claim.hard_node_affinity.unwrap();
        assert_eq!(
            affinity.node_selector_terms[0]
                .match_expressions
                .as_ref()
                .unwrap()[0]
                .key,
            "zone"
        );
    }

    #[test]
    fn unreadable_templates_are_reported() {
        let bad_count = workload("apps/v1", "Deployment", json!({"replicas": "two"}));
        assert!(matches!(
            interpret_replicas(&bad_count),
            Err(Error::ReplicaCount {
                field: "spec.replicas",
                ..
            })
        ));
        let bad_pod = workload("v1", "Pod", json!({"containers": "nope"}));
        assert!(matches!(
            interpret_replicas(&bad_pod),
            Err(Error::PodTemplate { .. })
        ));
        let bad_quantity = workload(
            "v1",
            "Pod",
            json!({"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "lots"}}}]}),
        );
        let err = interpret_replicas(&bad_quantity).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Pod \"w\" requests cpu \"lots\", which is not a valid quantity"
        );
    }
}
