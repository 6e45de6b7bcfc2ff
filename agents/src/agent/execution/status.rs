//! The Work status the agent reports: Applied and Dispatching conditions whose transition times
//! move only when their status flips, and the manifest statuses observed in the member.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use karmada_api::work::work::{
    CONDITION_APPLIED, CONDITION_DISPATCHING, ManifestStatus, WorkStatus,
};

pub const REASON_APPLIED_SUCCESSFUL: &str = "AppliedSuccessful";
pub const REASON_APPLIED_FAILED: &str = "AppliedFailed";
pub const REASON_DISPATCHING: &str = "Dispatching";
pub const REASON_SUSPEND_DISPATCHING: &str = "SuspendDispatching";

/// What became of this pass over the Work's manifests.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every manifest was applied.
    Applied,
    /// At least one manifest was not; the message says which and why.
    Failed(String),
    /// Dispatching is suspended: nothing was applied and the Applied condition stays as it was.
    Suspended,
}

/// The status to write after a pass: `current` with its conditions updated for `outcome` and
/// its manifest statuses replaced by `observed` (sorted by ordinal). Conditions keep their
/// `lastTransitionTime` unless their status changes; `now` stamps the ones that do.
pub fn next(
    current: Option<&WorkStatus>,
    outcome: &Outcome,
    mut observed: Vec<ManifestStatus>,
    generation: Option<i64>,
    now: &Time,
) -> WorkStatus {
    let mut status = current.cloned().unwrap_or_default();
    let condition = |type_: &str, ok: bool, reason: &str, message: String| Condition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    };
    let dispatching = match outcome {
        Outcome::Suspended => condition(
            CONDITION_DISPATCHING,
            false,
            REASON_SUSPEND_DISPATCHING,
            "Dispatching to the member cluster is suspended (spec.suspendDispatching); nothing is applied until it is resumed".into(),
        ),
        _ => condition(
            CONDITION_DISPATCHING,
            true,
            REASON_DISPATCHING,
            "The Work is dispatched to the member cluster".into(),
        ),
    };
    set(&mut status.conditions, dispatching);
    match outcome {
        Outcome::Applied => set(
            &mut status.conditions,
            condition(
                CONDITION_APPLIED,
                true,
                REASON_APPLIED_SUCCESSFUL,
                "Manifest has been successfully applied".into(),
            ),
        ),
        Outcome::Failed(message) => set(
            &mut status.conditions,
            condition(
                CONDITION_APPLIED,
                false,
                REASON_APPLIED_FAILED,
                message.clone(),
            ),
        ),
        Outcome::Suspended => {}
    }
    observed.sort_by_key(|m| m.identifier.ordinal);
    status.manifest_statuses = observed;
    status
}

/// Replaces the condition of the same type, keeping its transition time when the status stays.
fn set(conditions: &mut Vec<Condition>, mut new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            if old.status == new.status {
                new.last_transition_time = old.last_transition_time.clone();
            }
            *old = new;
        }
        None => conditions.push(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use karmada_api::work::work::ResourceIdentifier;

    fn time(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).expect("a timestamp"))
    }

    fn find<'a>(status: &'a WorkStatus, type_: &str) -> Option<&'a Condition> {
        status.conditions.iter().find(|c| c.type_ == type_)
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        // (previous outcome, next outcome, Applied status, Applied reason, transition time)
        let cases = [
            (
                Outcome::Applied,
                Outcome::Applied,
                "True",
                REASON_APPLIED_SUCCESSFUL,
                1,
            ),
            (
                Outcome::Applied,
                Outcome::Failed("x".into()),
                "False",
                REASON_APPLIED_FAILED,
                2,
            ),
            (
                Outcome::Failed("x".into()),
                Outcome::Failed("y".into()),
                "False",
                REASON_APPLIED_FAILED,
                1,
            ),
            (
                Outcome::Failed("x".into()),
                Outcome::Applied,
                "True",
                REASON_APPLIED_SUCCESSFUL,
                2,
            ),
            (
                Outcome::Applied,
                Outcome::Suspended,
                "True",
                REASON_APPLIED_SUCCESSFUL,
                1,
            ),
        ];
        for (before, after, status, reason, at) in cases {
            let first = next(None, &before, vec![], Some(1), &time(1));
            let second = next(Some(&first), &after, vec![], Some(2), &time(2));
            let applied = find(&second, CONDITION_APPLIED).expect("Applied");
            assert_eq!(applied.status, status, "{before:?} -> {after:?}");
            assert_eq!(applied.reason, reason, "{before:?} -> {after:?}");
            assert_eq!(
                applied.last_transition_time,
                time(at),
                "{before:?} -> {after:?}"
            );
        }
    }

    #[test]
    fn dispatching_follows_suspension_and_failure_message_is_kept() {
        let suspended = next(None, &Outcome::Suspended, vec![], None, &time(1));
        let dispatching = find(&suspended, CONDITION_DISPATCHING).expect("Dispatching");
        assert_eq!(
            (dispatching.status.as_str(), dispatching.reason.as_str()),
            ("False", REASON_SUSPEND_DISPATCHING)
        );
        assert!(find(&suspended, CONDITION_APPLIED).is_none());

        let failed = next(
            Some(&suspended),
            &Outcome::Failed("ConfigMap default/c exists".into()),
            vec![],
            None,
            &time(2),
        );
        let dispatching = find(&failed, CONDITION_DISPATCHING).expect("Dispatching");
        assert_eq!(dispatching.status, "True");
        assert_eq!(dispatching.last_transition_time, time(2));
        let applied = find(&failed, CONDITION_APPLIED).expect("Applied");
        assert_eq!(applied.message, "ConfigMap default/c exists");
    }

    #[test]
    fn an_unchanged_pass_yields_an_equal_status() {
        let observed = |ordinal| ManifestStatus {
            identifier: ResourceIdentifier {
                ordinal,
                version: "v1".into(),
                kind: "ConfigMap".into(),
                resource: "configmaps".into(),
                name: format!("c{ordinal}"),
                ..Default::default()
            },
            ..Default::default()
        };
        let first = next(
            None,
            &Outcome::Applied,
            vec![observed(1), observed(0)],
            Some(3),
            &time(1),
        );
        let ordinals: Vec<_> = first
            .manifest_statuses
            .iter()
            .map(|m| m.identifier.ordinal)
            .collect();
        assert_eq!(ordinals, [0, 1]);
        let again = next(
            Some(&first),
            &Outcome::Applied,
            vec![observed(0), observed(1)],
            Some(3),
            &time(9),
        );
        assert_eq!(again, first);
    }
}
