//! Conversion between the versions of a kind that share one storage location: HPA
//! `autoscaling/v1` and `v2`, core `v1` and `events.k8s.io/v1` Events, and custom resources
//! (whose `None` strategy changes only `apiVersion`).

use serde_json::{Map, Value, json};

use super::catalog::split_api_version;

/// Annotations that carry v2-only HPA fields through a v1 round trip.
const HPA_METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const HPA_BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const HPA_CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const HPA_CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";

/// Whether `object` already names `api_version` and `kind`, so converting it would change nothing.
pub fn is_shaped(object: &Value, api_version: &str, kind: &str) -> bool {
    object.get("apiVersion").and_then(Value::as_str) == Some(api_version)
        && object.get("kind").and_then(Value::as_str) == Some(kind)
}

/// Converts `object` to `api_version` (same kind family). Unknown pairs only change `apiVersion`.
pub fn convert(mut object: Value, api_version: &str, kind: &str) -> Value {
    let from = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if from == api_version || !object.is_object() {
        return set_type(object, api_version, kind);
    }
    let (from_group, from_version) = split_api_version(&from);
    let (to_group, to_version) = split_api_version(api_version);
    object = match (from_group, from_version, to_group, to_version, kind) {
        ("autoscaling", "v2", "autoscaling", "v1", "HorizontalPodAutoscaler") => {
            hpa_v2_to_v1(object)
        }
        ("autoscaling", "v1", "autoscaling", "v2", "HorizontalPodAutoscaler") => {
            hpa_v1_to_v2(object)
        }
        ("", "v1", "events.k8s.io", "v1", "Event") => event_core_to_events(object),
        ("events.k8s.io", "v1", "", "v1", "Event") => event_events_to_core(object),
        _ => object,
    };
    set_type(object, api_version, kind)
}

fn set_type(mut object: Value, api_version: &str, kind: &str) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), api_version.into());
        map.insert("kind".into(), kind.into());
    }
    object
}

fn take(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    map.remove(key)
}

fn annotations(object: &mut Value) -> &mut Map<String, Value> {
    let meta = super::object::meta_mut(object);
    let entry = meta.entry("annotations").or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("annotations object")
}

fn take_annotation(object: &mut Value, key: &str) -> Option<Value> {
    let meta = object.get_mut("metadata")?.as_object_mut()?;
    let annotations = meta.get_mut("annotations")?.as_object_mut()?;
    let text = annotations.remove(key)?;
    if annotations.is_empty() {
        meta.remove("annotations");
    }
    serde_json::from_str(text.as_str()?).ok()
}

fn is_cpu_utilization(metric: &Value) -> bool {
    metric.get("type") == Some(&json!("Resource"))
        && metric.pointer("/resource/name") == Some(&json!("cpu"))
        && metric.pointer("/resource/target/type") == Some(&json!("Utilization"))
}

fn is_cpu_current(metric: &Value) -> bool {
    metric.get("type") == Some(&json!("Resource"))
        && metric.pointer("/resource/name") == Some(&json!("cpu"))
}

fn hpa_v2_to_v1(mut object: Value) -> Value {
    let mut spec = object
        .get("spec")
        .cloned()
        .and_then(|s| s.as_object().cloned())
        .unwrap_or_default();
    let metrics = take(&mut spec, "metrics")
        .and_then(|m| m.as_array().cloned())
        .unwrap_or_default();
    let behavior = take(&mut spec, "behavior");
    let (cpu, others): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(is_cpu_utilization);
    if let Some(target) = cpu
        .first()
        .and_then(|m| m.pointer("/resource/target/averageUtilization"))
    {
        spec.insert("targetCPUUtilizationPercentage".into(), target.clone());
    }
    let mut status = object
        .get("status")
        .cloned()
        .and_then(|s| s.as_object().cloned())
        .unwrap_or_default();
    let current = take(&mut status, "currentMetrics")
        .and_then(|m| m.as_array().cloned())
        .unwrap_or_default();
    let conditions = take(&mut status, "conditions");
    let (cpu_now, other_now): (Vec<Value>, Vec<Value>) =
        current.into_iter().partition(is_cpu_current);
    if let Some(now) = cpu_now
        .first()
        .and_then(|m| m.pointer("/resource/current/averageUtilization"))
    {
        status.insert("currentCPUUtilizationPercentage".into(), now.clone());
    }
    object["spec"] = Value::Object(spec);
    if object.get("status").is_some() {
        object["status"] = Value::Object(status);
    }
    let keep = [
        (HPA_METRICS, (!others.is_empty()).then(|| json!(others))),
        (HPA_BEHAVIOR, behavior),
        (HPA_CONDITIONS, conditions),
        (
            HPA_CURRENT_METRICS,
            (!other_now.is_empty()).then(|| json!(other_now)),
        ),
    ];
    for (key, value) in keep {
        if let Some(v) = value {
            annotations(&mut object).insert(key.into(), v.to_string().into());
        }
    }
    object
}

fn hpa_v1_to_v2(mut object: Value) -> Value {
    let extra_metrics = take_annotation(&mut object, HPA_METRICS);
    let behavior = take_annotation(&mut object, HPA_BEHAVIOR);
    let conditions = take_annotation(&mut object, HPA_CONDITIONS);
    let extra_current = take_annotation(&mut object, HPA_CURRENT_METRICS);
    let mut spec = object
        .get("spec")
        .cloned()
        .and_then(|s| s.as_object().cloned())
        .unwrap_or_default();
    let mut metrics = Vec::new();
    if let Some(target) = take(&mut spec, "targetCPUUtilizationPercentage") {
        metrics.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}));
    }
    metrics.extend(
        extra_metrics
            .and_then(|m| m.as_array().cloned())
            .unwrap_or_default(),
    );
    if !metrics.is_empty() {
        spec.insert("metrics".into(), json!(metrics));
    }
    if let Some(b) = behavior {
        spec.insert("behavior".into(), b);
    }
    object["spec"] = Value::Object(spec);
    if let Some(mut status) = object
        .get("status")
        .cloned()
        .and_then(|s| s.as_object().cloned())
    {
        let mut current = Vec::new();
        if let Some(now) = take(&mut status, "currentCPUUtilizationPercentage") {
            current.push(json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": now}}}));
        }
        current.extend(
            extra_current
                .and_then(|m| m.as_array().cloned())
                .unwrap_or_default(),
        );
        if !current.is_empty() {
            status.insert("currentMetrics".into(), json!(current));
        }
        if let Some(c) = conditions {
            status.insert("conditions".into(), c);
        }
        object["status"] = Value::Object(status);
    }
    object
}

/// Field renames between core `v1` Event (left) and `events.k8s.io/v1` Event (right).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

fn rename(mut object: Value, forward: bool) -> Value {
    if let Some(map) = object.as_object_mut() {
        for (core, events) in EVENT_FIELDS {
            let (from, to) = if forward {
                (*core, *events)
            } else {
                (*events, *core)
            };
            if let Some(v) = map.remove(from) {
                map.insert(to.into(), v);
            }
        }
    }
    object
}

fn event_core_to_events(object: Value) -> Value {
    rename(object, true)
}

fn event_events_to_core(object: Value) -> Value {
    let mut object = rename(object, false);
    // kubectl describe reads source.component; events written through events.k8s.io only
    // name their reporting controller.
    if object.get("source").is_none()
        && let Some(component) = object.get("reportingComponent").cloned()
    {
        object["source"] = json!({"component": component});
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_round_trips_through_v1() {
        let v2 = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}
                ]},
        });
        let v1 = convert(v2.clone(), "autoscaling/v1", "HorizontalPodAutoscaler");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert!(v1["spec"].get("metrics").is_none());
        assert!(
            v1["metadata"]["annotations"][HPA_METRICS]
                .as_str()
                .is_some_and(|s| s.contains("memory"))
        );
        let back = convert(v1, "autoscaling/v2", "HorizontalPodAutoscaler");
        assert_eq!(back, v2);
    }

    #[test]
    fn events_rename_fields_both_ways() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "involvedObject": {"name": "p"}, "message": "m", "reason": "r", "count": 2});
        let events = convert(core.clone(), "events.k8s.io/v1", "Event");
        assert_eq!(events["regarding"]["name"], "p");
        assert_eq!(events["note"], "m");
        assert_eq!(events["deprecatedCount"], 2);
        assert_eq!(convert(events, "v1", "Event"), core);
    }

    #[test]
    fn events_from_recorders_get_a_source() {
        let e = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "reportingController": "scheduler", "note": "x"});
        assert_eq!(
            convert(e, "v1", "Event")["source"]["component"],
            "scheduler"
        );
    }

    #[test]
    fn unknown_pairs_change_api_version_only() {
        let cr = json!({"apiVersion": "x.io/v1beta1", "kind": "Thing", "spec": {"a": 1}});
        let out = convert(cr, "x.io/v1", "Thing");
        assert_eq!(
            out,
            json!({"apiVersion": "x.io/v1", "kind": "Thing", "spec": {"a": 1}})
        );
    }
}
