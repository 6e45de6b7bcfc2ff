//! Template status of replicated workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet):
//! members' counts summed, and `observedGeneration` advanced only once every member runs and
//! has observed the template's current generation.

use karmada_api::work::binding::AggregatedStatusItem;
use serde_json::{Map, Value};

use super::template::member_status;
use super::{Error, NativeKind, int, object};

/// The counters summed per kind; `true` marks fields Kubernetes always writes, the others are
/// omitted when zero, as the API server would serialise them.
fn counters(kind: NativeKind) -> &'static [(&'static str, bool)] {
    match kind {
        NativeKind::Deployment => &[
            ("replicas", false),
            ("updatedReplicas", false),
            ("readyReplicas", false),
            ("availableReplicas", false),
            ("unavailableReplicas", false),
        ],
        NativeKind::ReplicaSet => &[
            ("replicas", true),
            ("readyReplicas", false),
            ("availableReplicas", false),
        ],
        NativeKind::StatefulSet => &[
            ("replicas", true),
            ("readyReplicas", false),
            ("currentReplicas", false),
            ("updatedReplicas", false),
            ("availableReplicas", true),
        ],
        NativeKind::DaemonSet => &[
            ("currentNumberScheduled", true),
            ("numberMisscheduled", true),
            ("desiredNumberScheduled", true),
            ("numberReady", true),
            ("updatedNumberScheduled", false),
            ("numberAvailable", false),
            ("numberUnavailable", false),
        ],
        _ => &[],
    }
}

/// The template's new status: its current status with the summed counters and
/// `observedGeneration` replaced, every other field (e.g. conditions) kept.
pub(super) fn aggregate(
    kind: NativeKind,
    template: &Value,
    items: &[AggregatedStatusItem],
) -> Result<Value, Error> {
    let generation = int(template, &["metadata", "generation"])?;
    let mut status: Map<String, Value> =
        object(template, &["status"])?.cloned().unwrap_or_default();
    let fields = counters(kind);
    let mut sums = vec![0_i64; fields.len()];
    let mut observed_current = 0;
    for item in items {
        let Some(member) = member_status(item)? else {
            continue;
        };
        let read = |field: &str| {
            int(member, &[field]).map_err(|e| Error::MemberStatus {
                cluster: item.cluster_name.clone(),
                source: Box::new(e),
            })
        };
        // The member has acted on its own latest spec, and that spec was rendered from the
        // template's current generation.
        if read("observedGeneration")? >= read("generation")?
            && read("resourceTemplateGeneration")? >= generation
        {
            observed_current += 1;
        }
        for (sum, (field, _)) in sums.iter_mut().zip(fields) {
            *sum += read(field)?;
        }
    }
    for (sum, (field, always)) in sums.into_iter().zip(fields) {
        if sum != 0 || *always {
            status.insert((*field).to_string(), sum.into());
        } else {
            status.remove(*field);
        }
    }
    // A cluster without a reported status has not observed anything, so it holds the
    // generation back, as in Karmada.
    if observed_current == items.len() && generation != 0 {
        status.insert("observedGeneration".into(), generation.into());
    }
    Ok(Value::Object(status))
}
