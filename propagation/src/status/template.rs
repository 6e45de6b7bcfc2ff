//! The federation template's new `.status` from its binding's per-cluster statuses, per kind,
//! as Karmada's default interpreter aggregates it; kinds without a rule keep their status.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use karmada_api::work::binding::AggregatedStatusItem;
use serde_json::{Map, Value, json};

use super::{
    Error, NativeKind, array, at, int, loadbalancer::load_balancer, object, string, workloads,
};

/// The `.status` the template should have, or `None` to leave it as it is: the kind has no
/// aggregation rule, a Service is not a LoadBalancer, a Job already finished, or a Pod has no
/// members yet. `now` stamps conditions that appear or change status; a condition already
/// present with the same status keeps its times, so aggregating twice gives the same result.
pub fn aggregate_template_status(
    template: &Value,
    items: &[AggregatedStatusItem],
    now: &Time,
) -> Result<Option<Value>, Error> {
    let Some(kind) = NativeKind::of(template) else {
        return Ok(None);
    };
    match kind {
        NativeKind::Deployment
        | NativeKind::ReplicaSet
        | NativeKind::StatefulSet
        | NativeKind::DaemonSet => workloads::aggregate(kind, template, items).map(Some),
        NativeKind::Job => job(template, items, now),
        NativeKind::CronJob => cron_job(template, items).map(Some),
        NativeKind::Service => {
            if string(template, &["spec", "type"])? != "LoadBalancer" {
                return Ok(None);
            }
            load_balancer(items).map(Some)
        }
        NativeKind::Ingress => load_balancer(items).map(Some),
        NativeKind::Pod => pod(items),
        NativeKind::PersistentVolume => persistent_volume(items).map(Some),
        NativeKind::PersistentVolumeClaim => persistent_volume_claim(items).map(Some),
        NativeKind::PodDisruptionBudget => pod_disruption_budget(items).map(Some),
        NativeKind::HorizontalPodAutoscaler => horizontal_pod_autoscaler(items).map(Some),
    }
}

/// A member's reported status, which must be a JSON object when present.
pub(super) fn member_status(item: &AggregatedStatusItem) -> Result<Option<&Value>, Error> {
    match &item.status {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(other) => Err(in_member(
            item,
            Error::FieldType {
                field: "status".into(),
                expected: "an object",
                found: other.to_string(),
            },
        )),
    }
}

pub(super) fn in_member(item: &AggregatedStatusItem, e: Error) -> Error {
    Error::MemberStatus {
        cluster: item.cluster_name.clone(),
        source: Box::new(e),
    }
}

/// Each reported status with its item, so errors can name the cluster.
pub(super) fn reported(
    items: &[AggregatedStatusItem],
) -> impl Iterator<Item = Result<(&AggregatedStatusItem, &Value), Error>> {
    items.iter().filter_map(|item| {
        member_status(item)
            .transpose()
            .map(|s| s.map(|s| (item, s)))
    })
}

/// Sets `key` to `n`, or removes it when `n` is zero (Kubernetes omits these zero counters).
fn set_nonzero(status: &mut Map<String, Value>, key: &str, n: i64) {
    if n == 0 {
        status.remove(key);
    } else {
        status.insert(key.into(), n.into());
    }
}

fn time(item: &AggregatedStatusItem, status: &Value, key: &str) -> Result<Option<Time>, Error> {
    let Some(raw) = at(status, &[key]) else {
        return Ok(None);
    };
    serde_json::from_value(raw.clone()).map(Some).map_err(|_| {
        in_member(
            item,
            Error::FieldType {
                field: format!("status.{key}"),
                expected: "an RFC 3339 time",
                found: raw.to_string(),
            },
        )
    })
}

fn time_value(t: &Time) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn condition_is_true(status: &Value, type_: &str) -> Result<bool, Error> {
    Ok(array(status, &["conditions"])?.iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some(type_)
            && c.get("status").and_then(Value::as_str) == Some("True")
    }))
}

/// The finished state of a Job status: `Some("Complete")` or `Some("Failed")`.
fn job_finished(status: &Value) -> Result<Option<&'static str>, Error> {
    for type_ in ["Complete", "Failed"] {
        if condition_is_true(status, type_)? {
            return Ok(Some(type_));
        }
    }
    Ok(None)
}

/// Job: counts summed; Failed when any member failed, Complete (and SuccessCriteriaMet) when
/// every member completed; the earliest start once all started, the latest completion once all
/// completed. A finished template Job never changes again.
fn job(
    template: &Value,
    items: &[AggregatedStatusItem],
    now: &Time,
) -> Result<Option<Value>, Error> {
    let old = at(template, &["status"]).cloned().unwrap_or(json!({}));
    if job_finished(&old)?.is_some() {
        return Ok(None);
    }
    let (mut active, mut succeeded, mut failed) = (0, 0, 0);
    let mut failed_clusters = Vec::new();
    let (mut completed, mut criteria_met) = (0, 0);
    let (mut started, mut start) = (0, None::<Time>);
    let (mut finished, mut completion) = (0, None::<Time>);
    for reported in reported(items) {
        let (item, s) = reported?;
        let read = |key: &str| int(s, &[key]).map_err(|e| in_member(item, e));
        active += read("active")?;
        succeeded += read("succeeded")?;
        failed += read("failed")?;
        match job_finished(s).map_err(|e| in_member(item, e))? {
            Some("Complete") => completed += 1,
            Some(_) => failed_clusters.push(item.cluster_name.as_str()),
            None => {}
        }
        if condition_is_true(s, "SuccessCriteriaMet").map_err(|e| in_member(item, e))? {
            criteria_met += 1;
        }
        if let Some(t) = time(item, s, "startTime")? {
            started += 1;
            if start.as_ref().is_none_or(|cur| t.0 < cur.0) {
                start = Some(t);
            }
        }
        if let Some(t) = time(item, s, "completionTime")? {
            finished += 1;
            if completion.as_ref().is_none_or(|cur| t.0 > cur.0) {
                completion = Some(t);
            }
        }
    }
    let mut conditions = Vec::new();
    if !failed_clusters.is_empty() {
        conditions.push((
            "Failed",
            "JobFailed",
            format!(
                "Job executed failed in member clusters {}",
                failed_clusters.join(",")
            ),
        ));
    }
    if completed > 0 && completed == items.len() {
        conditions.push(("Complete", "Completed", "Job completed".to_string()));
        if criteria_met == items.len() {
            conditions.push((
                "SuccessCriteriaMet",
                "CompletionsReached",
                "All member clusters have met success criteria".to_string(),
            ));
        }
    }
    let old_conditions = array(&old, &["conditions"])?;
    let conditions: Vec<Value> = conditions
        .into_iter()
        .map(|(type_, reason, message)| {
            // Keep the times of a condition that already says the same thing.
            let kept = old_conditions.iter().find(|c| {
                c.get("type").and_then(Value::as_str) == Some(type_)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            });
            let stamp = |key: &str| {
                kept.and_then(|c| c.get(key).cloned())
                    .unwrap_or_else(|| time_value(now))
            };
            json!({"type": type_, "status": "True", "reason": reason, "message": message,
                   "lastProbeTime": stamp("lastProbeTime"),
                   "lastTransitionTime": stamp("lastTransitionTime")})
        })
        .collect();

    let mut status = Map::new();
    set_nonzero(&mut status, "active", active);
    set_nonzero(&mut status, "succeeded", succeeded);
    set_nonzero(&mut status, "failed", failed);
    if !conditions.is_empty() {
        status.insert("conditions".into(), Value::Array(conditions));
    }
    match (at(&old, &["startTime"]), start) {
        (Some(kept), _) => {
            status.insert("startTime".into(), kept.clone());
        }
        (None, Some(t)) if started == items.len() => {
            status.insert("startTime".into(), time_value(&t));
        }
        _ => {}
    }
    if let Some(t) = completion.filter(|_| finished == items.len()) {
        status.insert("completionTime".into(), time_value(&t));
    }
    Ok(Some(Value::Object(status)))
}

/// CronJob: every member's active Jobs, and the latest schedule and success times.
fn cron_job(template: &Value, items: &[AggregatedStatusItem]) -> Result<Value, Error> {
    let mut status = object(template, &["status"])?.cloned().unwrap_or_default();
    let mut active = Vec::new();
    let (mut scheduled, mut succeeded) = (None::<Time>, None::<Time>);
    for reported in reported(items) {
        let (item, s) = reported?;
        active.extend(
            array(s, &["active"])
                .map_err(|e| in_member(item, e))?
                .iter()
                .cloned(),
        );
        for (key, latest) in [
            ("lastScheduleTime", &mut scheduled),
            ("lastSuccessfulTime", &mut succeeded),
        ] {
            if let Some(t) = time(item, s, key)?
                && latest.as_ref().is_none_or(|cur| cur.0 < t.0)
            {
                *latest = Some(t);
            }
        }
    }
    if active.is_empty() {
        status.remove("active");
    } else {
        status.insert("active".into(), Value::Array(active));
    }
    for (key, t) in [
        ("lastScheduleTime", scheduled),
        ("lastSuccessfulTime", succeeded),
    ] {
        match t {
            Some(t) => status.insert(key.into(), time_value(&t)),
            None => status.remove(key),
        };
    }
    Ok(Value::Object(status))
}

/// The most pressing phase present, in `order`; a member without status counts as `missing`.
fn worst_phase(
    items: &[AggregatedStatusItem],
    order: &[&str],
    missing: &str,
) -> Result<Option<String>, Error> {
    let mut phases = BTreeSet::new();
    for item in items {
        match member_status(item)? {
            None => phases.insert(missing.to_string()),
            Some(s) => phases.insert(
                string(s, &["phase"])
                    .map_err(|e| in_member(item, e))?
                    .to_string(),
            ),
        };
    }
    Ok(order
        .iter()
        .find(|p| phases.contains(**p))
        .map(|p| p.to_string()))
}

/// Pod: the most pressing phase (Failed, Pending, Running, Succeeded) and every member's
/// container readiness and state.
fn pod(items: &[AggregatedStatusItem]) -> Result<Option<Value>, Error> {
    if items.is_empty() {
        return Ok(None);
    }
    let mut status = Map::new();
    let phase = worst_phase(
        items,
        &["Failed", "Pending", "Running", "Succeeded"],
        "Pending",
    )?;
    if let Some(phase) = phase {
        status.insert("phase".into(), phase.into());
    }
    for key in ["initContainerStatuses", "containerStatuses"] {
        let mut containers = Vec::new();
        for reported in reported(items) {
            let (item, s) = reported?;
            for c in array(s, &[key]).map_err(|e| in_member(item, e))? {
                // Name, image and restart count are kept beside Karmada's ready and state so
                // `kubectl get` and `describe` can show which container is which.
                let mut entry = Map::new();
                for field in ["name", "ready", "state", "image", "imageID", "restartCount"] {
                    if let Some(v) = at(c, &[field]) {
                        entry.insert(field.into(), v.clone());
                    }
                }
                entry.entry("ready").or_insert(Value::Bool(false));
                containers.push(Value::Object(entry));
            }
        }
        if !containers.is_empty() {
            status.insert(key.into(), Value::Array(containers));
        }
    }
    Ok(Some(Value::Object(status)))
}

/// PersistentVolume: the most pressing phase (Failed, Pending, Available, Bound, Released).
fn persistent_volume(items: &[AggregatedStatusItem]) -> Result<Value, Error> {
    let order = ["Failed", "Pending", "Available", "Bound", "Released"];
    Ok(match worst_phase(items, &order, "Pending")? {
        Some(phase) => json!({ "phase": phase }),
        None => json!({}),
    })
}

/// PersistentVolumeClaim: Bound unless a member reports otherwise; Lost wins over all.
fn persistent_volume_claim(items: &[AggregatedStatusItem]) -> Result<Value, Error> {
    let mut phase = "Bound".to_string();
    for reported in reported(items) {
        let (item, s) = reported?;
        let member = string(s, &["phase"]).map_err(|e| in_member(item, e))?;
        if member == "Lost" {
            phase = member.to_string();
            break;
        }
        if member != "Bound" {
            phase = member.to_string();
        }
    }
    Ok(if phase.is_empty() {
        json!({})
    } else {
        json!({ "phase": phase })
    })
}

/// PodDisruptionBudget: counts summed, disrupted pods named `<cluster>/<pod>`.
fn pod_disruption_budget(items: &[AggregatedStatusItem]) -> Result<Value, Error> {
    let keys = [
        "disruptionsAllowed",
        "currentHealthy",
        "desiredHealthy",
        "expectedPods",
    ];
    let mut sums = [0_i64; 4];
    let mut disrupted = Map::new();
    for reported in reported(items) {
        let (item, s) = reported?;
        for (sum, key) in sums.iter_mut().zip(keys) {
            *sum += int(s, &[key]).map_err(|e| in_member(item, e))?;
        }
        if let Some(pods) = object(s, &["disruptedPods"]).map_err(|e| in_member(item, e))? {
            for (pod, at) in pods {
                disrupted.insert(format!("{}/{pod}", item.cluster_name), at.clone());
            }
        }
    }
    let mut status: Map<String, Value> = keys
        .iter()
        .zip(sums)
        .map(|(k, n)| ((*k).to_string(), n.into()))
        .collect();
    if !disrupted.is_empty() {
        status.insert("disruptedPods".into(), Value::Object(disrupted));
    }
    Ok(Value::Object(status))
}

/// HorizontalPodAutoscaler: current and desired replicas summed.
fn horizontal_pod_autoscaler(items: &[AggregatedStatusItem]) -> Result<Value, Error> {
    let (mut current, mut desired) = (0, 0);
    for reported in reported(items) {
        let (item, s) = reported?;
        current += int(s, &["currentReplicas"]).map_err(|e| in_member(item, e))?;
        desired += int(s, &["desiredReplicas"]).map_err(|e| in_member(item, e))?;
    }
    let mut status = Map::new();
    set_nonzero(&mut status, "currentReplicas", current);
    status.insert("desiredReplicas".into(), desired.into());
    Ok(Value::Object(status))
}

#[cfg(test)]
mod tests;
