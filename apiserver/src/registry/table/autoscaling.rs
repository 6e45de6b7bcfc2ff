//! The HorizontalPodAutoscaler printer, whose TARGETS column summarises metric by metric.

use jiff::Timestamp;
use serde_json::Value;

use super::age;
use super::fields::{count, int, items, name, quantity, text};
use super::{AGE, Column, NAME, Printer, col};

pub(super) const PRINTERS: &[Printer] = &[Printer {
    group: "autoscaling",
    kind: "HorizontalPodAutoscaler",
    columns: HPA,
    cells: hpa,
}];

const HPA: &[Column] = &[
    NAME,
    col("Reference", "string", "The target resource being scaled."),
    col(
        "Targets",
        "string",
        "Current and target values of each metric.",
    ),
    col(
        "MinPods",
        "string",
        "The lower limit for the number of replicas.",
    ),
    col(
        "MaxPods",
        "string",
        "The upper limit for the number of replicas.",
    ),
    col(
        "Replicas",
        "string",
        "The current number of replicas of the scaled resource.",
    ),
    AGE,
];

fn hpa(hpa: &Value, now: Timestamp) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        text(hpa, "/spec/scaleTargetRef/kind"),
        text(hpa, "/spec/scaleTargetRef/name")
    );
    let min_pods = int(hpa, "/spec/minReplicas").map_or("<unset>".into(), |n| n.to_string());
    vec![
        name(hpa).into(),
        reference.into(),
        hpa_targets(hpa).into(),
        min_pods.into(),
        count(hpa, "/spec/maxReplicas").into(),
        count(hpa, "/status/currentReplicas").into(),
        age::created(hpa, now),
    ]
}

/// The TARGETS column: `cpu: 40%/80%, memory: <unknown>/1Gi + 1 more...`.
fn hpa_targets(hpa: &Value) -> String {
    let specs = items(hpa, "/spec/metrics");
    if specs.is_empty() {
        // autoscaling/v1 keeps its single CPU target outside `metrics`.
        return match int(hpa, "/spec/targetCPUUtilizationPercentage") {
            Some(target) => {
                let current = int(hpa, "/status/currentCPUUtilizationPercentage")
                    .map_or("<unknown>".into(), |c| format!("{c}%"));
                format!("cpu: {current}/{target}%")
            }
            None => "<none>".into(),
        };
    }
    let statuses = items(hpa, "/status/currentMetrics");
    let unknown = || "<unknown>".to_string();
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let source = match text(spec, "/type") {
                "External" => "external",
                "Pods" => "pods",
                "Object" => "object",
                "Resource" => "resource",
                "ContainerResource" => "containerResource",
                _ => return "<unknown type>".to_string(),
            };
            let target = spec.get(source).unwrap_or(&Value::Null);
            let current = statuses
                .get(i)
                .and_then(|s| s.get(source))
                .map(|s| s.get("current").unwrap_or(&Value::Null));
            let average = quantity(target, "/target/averageValue");
            match source {
                "resource" | "containerResource" => {
                    let resource = text(target, "/name");
                    match average {
                        Some(avg) => {
                            let now = current
                                .and_then(|c| quantity(c, "/averageValue"))
                                .unwrap_or_else(unknown);
                            format!("{resource}: {now}/{avg}")
                        }
                        None => {
                            let now = current
                                .and_then(|c| int(c, "/averageUtilization"))
                                .map_or_else(unknown, |u| format!("{u}%"));
                            let want = int(target, "/target/averageUtilization")
                                .map_or("<auto>".into(), |u| format!("{u}%"));
                            format!("{resource}: {now}/{want}")
                        }
                    }
                }
                "pods" => {
                    let now = current
                        .and_then(|c| quantity(c, "/averageValue"))
                        .unwrap_or_else(unknown);
                    format!("{now}/{}", average.unwrap_or_default())
                }
                _ => match average {
                    Some(avg) => {
                        let now = current
                            .and_then(|c| quantity(c, "/averageValue"))
                            .unwrap_or_else(unknown);
                        format!("{now}/{avg} (avg)")
                    }
                    None => {
                        let now = current
                            .map_or_else(unknown, |c| quantity(c, "/value").unwrap_or("0".into()));
                        format!(
                            "{now}/{}",
                            quantity(target, "/target/value").unwrap_or("0".into())
                        )
                    }
                },
            }
        })
        .collect();
    const MAX: usize = 2;
    let shown = list[..list.len().min(MAX)].join(", ");
    if list.len() > MAX {
        format!("{shown} + {} more...", list.len() - MAX)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn autoscaler_targets_cover_both_api_versions() {
        let v2 = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
            ]},
            "status": {"currentReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}]}});
        let row = hpa(&v2, now());
        assert_eq!(
            row[1..6],
            [
                json!("Deployment/web"),
                json!("cpu: 40%/80%, memory: <unknown>/1Gi + 1 more..."),
                json!("1"),
                json!(5),
                json!(2)
            ]
        );
        let v1 = json!({"spec": {"targetCPUUtilizationPercentage": 50}, "status": {}});
        assert_eq!(hpa_targets(&v1), "cpu: <unknown>/50%");
        assert_eq!(hpa_targets(&json!({})), "<none>");
    }
}
