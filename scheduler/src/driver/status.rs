//! The scheduler's part of a binding's status: the `Scheduled` condition, the observed
//! generation, the last schedule time and the observed affinity term, as a merge patch that
//! leaves every other field (and every other condition) as it was.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use karmada_api::work::binding::status::reason;
use karmada_api::work::binding::{ResourceBindingStatus, SCHEDULED_CONDITION};
use serde_json::{Value, json};

/// Message of the `Scheduled` condition after a successful cycle.
pub const SCHEDULED_MESSAGE: &str = "Binding has been scheduled successfully.";

/// What the driver learned about a binding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome<'a> {
    /// A cycle succeeded and its result is in the spec at `generation`.
    Scheduled {
        generation: i64,
        affinity_name: Option<&'a str>,
    },
    /// A cycle failed on the spec at `generation`; the spec keeps the previous result.
    Failed {
        generation: Option<i64>,
        reason: &'static str,
        message: &'a str,
    },
    /// No cycle was needed, but the spec moved on to `generation`.
    Observed { generation: i64 },
}

/// The `Scheduled` condition reason for a scheduling error.
pub fn failure_reason(error: &crate::Error) -> &'static str {
    match error {
        crate::Error::NoClusterFit { .. } => reason::NO_CLUSTER_FIT,
        crate::Error::Unschedulable { .. } => reason::UNSCHEDULABLE,
        crate::Error::Invalid { .. } => reason::SCHEDULER_ERROR,
    }
}

/// The merge patch for the status subresource that records `outcome`, guarded by
/// `resource_version` so the conditions list (which a merge patch replaces whole) cannot
/// overwrite another controller's condition written in between. `None` when the status
/// already says it all.
pub fn patch(
    current: Option<&ResourceBindingStatus>,
    resource_version: Option<&str>,
    outcome: &Outcome<'_>,
    now: Timestamp,
) -> Option<Value> {
    let conditions = current.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let observed = current.and_then(|s| s.scheduler_observed_generation);
    let mut status = serde_json::Map::new();
    match *outcome {
        Outcome::Scheduled {
            generation,
            affinity_name,
        } => {
            let condition = scheduled(
                true,
                reason::SUCCESS,
                SCHEDULED_MESSAGE,
                Some(generation),
                now,
            );
            status.insert("conditions".into(), json!(set(conditions, condition)));
            status.insert("schedulerObservedGeneration".into(), json!(generation));
            status.insert("lastScheduledTime".into(), json!(Time(now)));
            status.insert(
                "schedulerObservingAffinityName".into(),
                json!(affinity_name),
            );
        }
        Outcome::Failed {
            generation,
            reason,
            message,
        } => {
            // The condition's observedGeneration tells which spec failed: the status's
            // schedulerObservedGeneration only moves on success, as in Karmada.
            let condition = scheduled(false, reason, message, generation, now);
            let updated = set(conditions, condition);
            if updated == conditions {
                return None;
            }
            status.insert("conditions".into(), json!(updated));
        }
        Outcome::Observed { generation } => {
            if observed == Some(generation) {
                return None;
            }
            status.insert("schedulerObservedGeneration".into(), json!(generation));
        }
    }
    let mut patch = json!({"status": status});
    if let Some(resource_version) = resource_version {
        patch["metadata"] = json!({"resourceVersion": resource_version});
    }
    Some(patch)
}

fn scheduled(
    ok: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    Condition {
        type_: SCHEDULED_CONDITION.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: Time(now),
        observed_generation: generation,
    }
}

/// `conditions` with `new` in place of the condition of its type; the transition time only
/// moves when the status flips, so it tells when the binding last became (un)scheduled.
fn set(conditions: &[Condition], mut new: Condition) -> Vec<Condition> {
    let mut updated = conditions.to_vec();
    match updated.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            if existing.status == new.status {
                new.last_transition_time = existing.last_transition_time.clone();
            }
            *existing = new;
        }
        None => updated.push(new),
    }
    updated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn status(v: Value) -> ResourceBindingStatus {
        serde_json::from_value(v).unwrap()
    }

    fn condition(status: &str, reason: &str, since: i64) -> Value {
        json!({"type": "Scheduled", "status": status, "reason": reason, "message": "m",
               "lastTransitionTime": Time(at(since))})
    }

    fn applied() -> Value {
        json!({"type": "FullyApplied", "status": "True", "reason": "FullyAppliedSuccess",
               "message": "ok", "lastTransitionTime": Time(at(0))})
    }

    #[test]
    fn success_records_generation_time_and_term_and_keeps_other_conditions() {
        let current =
            status(json!({"conditions": [applied(), condition("False", "NoClusterFit", 1)]}));
        let outcome = Outcome::Scheduled {
            generation: 4,
            affinity_name: Some("primary"),
        };
        let patch = patch(Some(&current), Some("17"), &outcome, at(10)).unwrap();
        assert_eq!(patch["metadata"]["resourceVersion"], "17");
        let status = &patch["status"];
        assert_eq!(status["schedulerObservedGeneration"], 4);
        assert_eq!(status["schedulerObservingAffinityName"], "primary");
        assert_eq!(status["lastScheduledTime"], json!(Time(at(10))));
        let conditions = status["conditions"].as_array().unwrap();
        assert_eq!(conditions[0], applied(), "FullyApplied is untouched");
        assert_eq!(conditions[1]["status"], "True");
        assert_eq!(conditions[1]["reason"], "Success");
        assert_eq!(conditions[1]["message"], SCHEDULED_MESSAGE);
        assert_eq!(
            conditions[1]["lastTransitionTime"],
            json!(Time(at(10))),
            "flipped"
        );
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let current = status(json!({"conditions": [condition("False", "Unschedulable", 1)]}));
        let outcome = Outcome::Failed {
            generation: None,
            reason: "NoClusterFit",
            message: "0/3 clusters are available",
        };
        let patch = patch(Some(&current), None, &outcome, at(10)).unwrap();
        let scheduled = &patch["status"]["conditions"][0];
        assert_eq!(scheduled["reason"], "NoClusterFit");
        assert_eq!(scheduled["message"], "0/3 clusters are available");
        assert_eq!(scheduled["lastTransitionTime"], json!(Time(at(1))));
        assert!(patch["status"].get("schedulerObservedGeneration").is_none());
        assert!(patch["status"].get("lastScheduledTime").is_none());
        assert!(
            patch.get("metadata").is_none(),
            "no precondition without a version"
        );
    }

    #[test]
    fn repeating_a_failure_or_an_observed_generation_writes_nothing() {
        let mut current = status(json!({"schedulerObservedGeneration": 2, "conditions": [
            {"type": "Scheduled", "status": "False", "reason": "NoClusterFit", "message": "none",
             "lastTransitionTime": Time(at(1))},
        ]}));
        let failed = Outcome::Failed {
            generation: None,
            reason: "NoClusterFit",
            message: "none",
        };
        assert_eq!(patch(Some(&current), None, &failed, at(10)), None);
        let observed = Outcome::Observed { generation: 2 };
        assert_eq!(patch(Some(&current), None, &observed, at(10)), None);
        current.scheduler_observed_generation = Some(1);
        let patch = patch(Some(&current), Some("5"), &observed, at(10)).unwrap();
        assert_eq!(
            patch,
            json!({"metadata": {"resourceVersion": "5"}, "status": {"schedulerObservedGeneration": 2}})
        );
    }

    #[test]
    fn a_first_failure_adds_the_condition() {
        let outcome = Outcome::Failed {
            generation: None,
            reason: "SchedulerError",
            message: "invalid placement: x",
        };
        let patch = patch(None, None, &outcome, at(3)).unwrap();
        assert_eq!(patch["status"]["conditions"][0]["status"], "False");
        assert_eq!(
            patch["status"]["conditions"][0]["lastTransitionTime"],
            json!(Time(at(3)))
        );
    }

    #[test]
    fn errors_map_to_karmadas_reasons() {
        let fit = crate::Error::NoClusterFit {
            total: 0,
            reasons: Default::default(),
        };
        let capacity = crate::Error::Unschedulable {
            message: "no room".into(),
        };
        let invalid = crate::Error::Invalid {
            message: "x".into(),
        };
        assert_eq!(failure_reason(&fit), reason::NO_CLUSTER_FIT);
        assert_eq!(failure_reason(&capacity), reason::UNSCHEDULABLE);
        assert_eq!(failure_reason(&invalid), reason::SCHEDULER_ERROR);
    }
}
