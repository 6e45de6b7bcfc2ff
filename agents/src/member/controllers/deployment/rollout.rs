//! Rollout arithmetic and step planning: how far a Deployment may surge above and fall below its
//! replica count, and which ReplicaSet sizes take the next step of a rolling or recreate update.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Why a surge or unavailability budget cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("invalid {field} {value:?}: want an integer or a percentage such as \"25%\"")]
    InvalidIntOrPercent { field: &'static str, value: String },
}

/// An integer, or a percentage of `total` rounded up (surge) or down (unavailability).
pub fn scaled_value(
    field: &'static str,
    value: Option<&IntOrString>,
    total: i32,
    round_up: bool,
) -> Result<i32, Error> {
    let invalid = |v: &str| Error::InvalidIntOrPercent {
        field,
        value: v.to_owned(),
    };
    match value {
        None => Ok(percent_of(25, total, round_up)),
        Some(IntOrString::Int(n)) if *n >= 0 => Ok(*n),
        Some(IntOrString::Int(n)) => Err(invalid(&n.to_string())),
        Some(IntOrString::String(s)) => {
            let pct = s.strip_suffix('%').ok_or_else(|| invalid(s))?;
            let pct: i64 = pct.trim().parse().map_err(|_| invalid(s))?;
            if pct < 0 {
                return Err(invalid(s));
            }
            Ok(percent_of(pct, total, round_up))
        }
    }
}

fn percent_of(pct: i64, total: i32, round_up: bool) -> i32 {
    let product = pct * i64::from(total.max(0));
    let value = if round_up {
        (product + 99) / 100
    } else {
        product / 100
    };
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Resolved (maxSurge, maxUnavailable). Both zero would never make progress, so unavailability
/// becomes 1, as Kubernetes resolves it; unavailability never exceeds the replica count.
pub fn fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: i32,
) -> Result<(i32, i32), Error> {
    let surge = scaled_value("maxSurge", max_surge, replicas, true)?;
    let mut unavailable = scaled_value("maxUnavailable", max_unavailable, replicas, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable.min(replicas.max(0))))
}

/// What the planner needs of one ReplicaSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsView {
    pub name: String,
    /// spec.replicas
    pub desired: i32,
    /// status.replicas: pods that exist now.
    pub current: i32,
    pub available: i32,
}

impl RsView {
    /// An upper bound on this ReplicaSet's pods: pods not yet deleted after a scale-down still
    /// count, as do pods not yet created after a scale-up.
    fn pods_bound(&self) -> i32 {
        self.desired.max(self.current)
    }
}

/// One rolling-update step: the new sizes of the ReplicaSets that change, by name.
/// `olds` are ordered oldest first; they are scaled down in that order.
pub fn rolling_step(
    replicas: i32,
    surge: i32,
    unavailable: i32,
    new: &RsView,
    olds: &[RsView],
) -> Vec<(String, i32)> {
    let mut changes = Vec::new();
    let old_bound: i32 = olds.iter().map(RsView::pods_bound).sum();
    let new_desired = if new.desired >= replicas {
        replicas
    } else {
        let room = replicas + surge - old_bound - new.pods_bound();
        new.desired + room.clamp(0, replicas - new.desired)
    };
    if new_desired != new.desired {
        changes.push((new.name.clone(), new_desired));
    }

    let old_desired: i32 = olds.iter().map(|rs| rs.desired).sum();
    if old_desired == 0 {
        return changes;
    }
    let min_available = replicas - unavailable;
    let new_unavailable = (new_desired - new.available).max(0);
    let all_desired = old_desired + new_desired;
    let mut budget = all_desired - min_available - new_unavailable;
    if budget <= 0 {
        return changes;
    }
    let mut targets: Vec<i32> = olds.iter().map(|rs| rs.desired).collect();
    // Pods that are not available cost nothing to remove: take them first.
    for (target, rs) in targets.iter_mut().zip(olds) {
        let cut = (*target - rs.available).max(0).min(budget);
        *target -= cut;
        budget -= cut;
    }
    // Then available pods, as far as the rollout may dip below its available minimum.
    let available: i32 = olds.iter().map(|rs| rs.available).sum::<i32>() + new.available;
    let mut excess = (available - min_available).max(0);
    for target in &mut targets {
        let cut = (*target).min(excess);
        *target -= cut;
        excess -= cut;
    }
    for (target, rs) in targets.into_iter().zip(olds) {
        if target != rs.desired {
            changes.push((rs.name.clone(), target));
        }
    }
    changes
}

/// One step of a Recreate update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecreateStep {
    /// Scale these old ReplicaSets to zero.
    ScaleDownOld(Vec<String>),
    /// Old pods still exist; nothing may start until they are gone.
    WaitForOldPods,
    /// Scale (or create) the new ReplicaSet to this size.
    ScaleNew(i32),
    Done,
}

pub fn recreate_step(replicas: i32, new: Option<&RsView>, olds: &[RsView]) -> RecreateStep {
    let to_zero: Vec<String> = olds
        .iter()
        .filter(|rs| rs.desired > 0)
        .map(|rs| rs.name.clone())
        .collect();
    if !to_zero.is_empty() {
        return RecreateStep::ScaleDownOld(to_zero);
    }
    if olds.iter().any(|rs| rs.current > 0) {
        return RecreateStep::WaitForOldPods;
    }
    match new {
        Some(rs) if rs.desired == replicas => RecreateStep::Done,
        _ => RecreateStep::ScaleNew(replicas),
    }
}

/// Old ReplicaSets to delete beyond the history limit: only empty ones, oldest revision first.
/// `olds` are (name, revision, desired, current).
pub fn history_to_delete(olds: &[(String, i64, i32, i32)], limit: i32) -> Vec<String> {
    let mut empty: Vec<&(String, i64, i32, i32)> = olds
        .iter()
        .filter(|(_, _, desired, current)| *desired == 0 && *current == 0)
        .collect();
    let excess = empty
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(0));
    empty.sort_by_key(|(name, revision, _, _)| (*revision, name.clone()));
    empty
        .into_iter()
        .take(excess)
        .map(|(name, ..)| name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i32) -> Option<IntOrString> {
        Some(IntOrString::Int(n))
    }
    fn pct(s: &str) -> Option<IntOrString> {
        Some(IntOrString::String(s.into()))
    }
    fn rs(name: &str, desired: i32, current: i32, available: i32) -> RsView {
        RsView {
            name: name.into(),
            desired,
            current,
            available,
        }
    }

    #[test]
    fn surge_rounds_up_and_unavailability_down() {
        let cases = [
            (None, None, 4, Ok((1, 1))),
            (None, None, 10, Ok((3, 2))),
            (pct("50%"), pct("50%"), 3, Ok((2, 1))),
            (int(2), int(0), 4, Ok((2, 0))),
            (int(0), int(0), 4, Ok((0, 1))),
            (int(0), int(9), 4, Ok((0, 4))),
            (pct("0%"), pct("10%"), 4, Ok((0, 1))),
        ];
        for (surge, unavailable, replicas, want) in cases {
            assert_eq!(
                fenceposts(surge.as_ref(), unavailable.as_ref(), replicas),
                want,
                "{surge:?} {unavailable:?} {replicas}"
            );
        }
        assert!(fenceposts(pct("abc").as_ref(), None, 4).is_err());
        assert!(fenceposts(None, int(-1).as_ref(), 4).is_err());
    }

    /// (name, replicas, surge, unavailable, new set, old sets, expected changes)
    type Case = (
        &'static str,
        i32,
        i32,
        i32,
        RsView,
        Vec<RsView>,
        Vec<(&'static str, i32)>,
    );

    #[test]
    fn rolling_steps() {
        let cases: Vec<Case> = vec![
            (
                "fresh deployment",
                4,
                1,
                1,
                rs("new", 0, 0, 0),
                vec![],
                vec![("new", 4)],
            ),
            (
                "surge first",
                4,
                1,
                1,
                rs("new", 0, 0, 0),
                vec![rs("old", 4, 4, 4)],
                vec![("new", 1), ("old", 3)],
            ),
            (
                "new pods not yet available: no further dip",
                4,
                1,
                1,
                rs("new", 2, 2, 0),
                vec![rs("old", 3, 3, 3)],
                vec![],
            ),
            (
                "old pods still terminating block the surge",
                4,
                1,
                0,
                rs("new", 1, 1, 1),
                vec![rs("old", 3, 4, 3)],
                vec![],
            ),
            (
                "unavailable old pods go first",
                4,
                0,
                1,
                rs("new", 0, 0, 0),
                vec![rs("old", 4, 4, 2)],
                vec![("old", 3)],
            ),
            (
                "finish",
                4,
                1,
                1,
                rs("new", 4, 4, 4),
                vec![rs("old", 1, 1, 1)],
                vec![("old", 0)],
            ),
            (
                "scale down",
                2,
                1,
                0,
                rs("new", 4, 4, 4),
                vec![],
                vec![("new", 2)],
            ),
            (
                "oldest scaled down first",
                4,
                0,
                2,
                rs("new", 0, 0, 0),
                vec![rs("a", 2, 2, 2), rs("b", 2, 2, 2)],
                vec![("a", 0)],
            ),
        ];
        for (name, replicas, surge, unavailable, new, olds, want) in cases {
            let want: Vec<(String, i32)> = want.into_iter().map(|(n, r)| (n.into(), r)).collect();
            assert_eq!(
                rolling_step(replicas, surge, unavailable, &new, &olds),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn recreate_steps() {
        let cases = [
            (
                Some(rs("new", 0, 0, 0)),
                vec![rs("old", 3, 3, 3)],
                RecreateStep::ScaleDownOld(vec!["old".into()]),
            ),
            (None, vec![rs("old", 0, 2, 0)], RecreateStep::WaitForOldPods),
            (None, vec![rs("old", 0, 0, 0)], RecreateStep::ScaleNew(3)),
            (Some(rs("new", 1, 1, 1)), vec![], RecreateStep::ScaleNew(3)),
            (Some(rs("new", 3, 3, 3)), vec![], RecreateStep::Done),
        ];
        for (new, olds, want) in cases {
            assert_eq!(
                recreate_step(3, new.as_ref(), &olds),
                want,
                "{new:?} {olds:?}"
            );
        }
    }

    #[test]
    fn history_keeps_the_newest_empty_sets() {
        let olds = vec![
            ("r3".to_string(), 3, 0, 0),
            ("r1".to_string(), 1, 0, 0),
            ("r2".to_string(), 2, 0, 0),
            ("busy".to_string(), 0, 1, 1),
        ];
        assert_eq!(history_to_delete(&olds, 1), vec!["r1", "r2"]);
        assert_eq!(history_to_delete(&olds, 10), Vec::<String>::new());
        assert_eq!(history_to_delete(&olds, 0), vec!["r1", "r2", "r3"]);
    }
}
