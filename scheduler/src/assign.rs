//! How many replicas each selected cluster gets: Duplicated, static weights, dynamic weights by
//! available replicas, and Aggregated, with Karmada's scale-up/scale-down rules.

use karmada_api::policy::propagation::{
    Placement, ReplicaDivisionPreference, ReplicaSchedulingType,
};
use karmada_api::work::binding::{ResourceBindingSpec, TargetCluster};

use crate::Error;
use crate::affinity;
use crate::spread::Candidate;
use crate::webster::{self, TieBreak};

/// A cluster's weight in an apportionment.
type Weight = (String, i64);
/// Replicas of a cluster.
type Count = (String, i32);

/// The replica division strategy a placement asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Duplicated,
    StaticWeight,
    DynamicWeight,
    Aggregated,
}

impl Strategy {
    /// The strategy of `placement`; a Divided placement without a preference is Weighted (the
    /// webhook default), and Weighted without a dynamic factor uses static weights.
    pub fn of(placement: &Placement) -> Strategy {
        let Some(strategy) = &placement.replica_scheduling else {
            return Strategy::Duplicated;
        };
        match placement.replica_scheduling_type() {
            ReplicaSchedulingType::Duplicated => Strategy::Duplicated,
            ReplicaSchedulingType::Divided => match strategy.replica_division_preference {
                Some(ReplicaDivisionPreference::Aggregated) => Strategy::Aggregated,
                _ if strategy
                    .weight_preference
                    .as_ref()
                    .is_some_and(|w| w.dynamic_weight.is_some()) =>
                {
                    Strategy::DynamicWeight
                }
                _ => Strategy::StaticWeight,
            },
        }
    }
}

/// Replicas per selected cluster, in Karmada's output order, without 0-replica entries.
///
/// `fresh` is a user-requested rebalance (`rescheduleTriggeredAt` after the last schedule):
/// dynamic strategies then ignore where replicas are now. `overflow` divides tier by tier
/// (the affinity term in force has `overflowAffinities`).
pub fn assign(
    selected: &[Candidate<'_>],
    spec: &ResourceBindingSpec,
    placement: &Placement,
    fresh: bool,
    overflow: bool,
) -> Result<Vec<TargetCluster>, Error> {
    if selected.is_empty() {
        return Err(Error::Unschedulable {
            message: "no clusters available to schedule".into(),
        });
    }
    let replicas = spec.replicas.unwrap_or(0);
    let workload =
        (replicas > 0 || spec.replica_requirements.is_some()) && spec.components.len() <= 1;
    if !workload {
        return Ok(selected
            .iter()
            .map(|c| TargetCluster {
                name: c.name.to_string(),
                ..Default::default()
            })
            .collect());
    }
    let counts = if overflow {
        tiered(selected, spec, placement, fresh)?
    } else {
        divide(selected, spec, placement, fresh, replicas)?
    };
    Ok(counts
        .into_iter()
        .map(|(name, n)| TargetCluster {
            name,
            replicas: Some(n),
            components: Vec::new(),
        })
        .collect())
}

/// Overflow tiers in order: each tier takes what it has room for of the replicas left, divided
/// by the placement's strategy within the tier.
fn tiered(
    selected: &[Candidate<'_>],
    spec: &ResourceBindingSpec,
    placement: &Placement,
    fresh: bool,
) -> Result<Vec<Count>, Error> {
    let mut tiers: Vec<u32> = selected.iter().map(|c| c.tier).collect();
    tiers.sort_unstable();
    tiers.dedup();
    let mut remaining = spec.replicas.unwrap_or(0);
    let mut counts = Vec::new();
    for tier in tiers {
        let members: Vec<Candidate<'_>> = selected
            .iter()
            .filter(|c| c.tier == tier)
            .cloned()
            .collect();
        let room: i64 = members.iter().map(|c| c.available).sum();
        // Bounded by `remaining`, an i32.
        let quota = i64::from(remaining).min(room).max(0) as i32;
        counts.extend(divide(&members, spec, placement, fresh, quota)?);
        remaining -= quota;
        if remaining <= 0 {
            return Ok(counts);
        }
    }
    Err(Error::Unschedulable {
        message: "Clusters available replicas are not enough to schedule.".into(),
    })
}

/// `replicas` divided over `selected` by the placement's strategy, without 0-replica entries.
fn divide(
    selected: &[Candidate<'_>],
    spec: &ResourceBindingSpec,
    placement: &Placement,
    fresh: bool,
    replicas: i32,
) -> Result<Vec<Count>, Error> {
    let tie = TieBreak::for_uid(spec.resource.uid.as_deref());
    let mut counts: Vec<Count> = match Strategy::of(placement) {
        Strategy::Duplicated => selected
            .iter()
            .map(|c| (c.name.to_string(), replicas))
            .collect(),
        Strategy::StaticWeight => static_weights(selected, placement, replicas, tie),
        strategy => dynamic(
            selected,
            spec,
            replicas,
            strategy == Strategy::Aggregated,
            fresh,
            tie,
        )?,
    };
    counts.retain(|(_, n)| *n > 0);
    Ok(counts)
}

/// Apportions all replicas from scratch by the highest matching static weight of each cluster;
/// clusters without a positive weight get none, unless no cluster has one (then all weigh 1).
fn static_weights(
    selected: &[Candidate<'_>],
    placement: &Placement,
    replicas: i32,
    tie: TieBreak,
) -> Vec<Count> {
    let rules = placement
        .replica_scheduling
        .as_ref()
        .and_then(|s| s.weight_preference.as_ref())
        .map(|w| w.static_weight_list.as_slice());
    let mut weights: Vec<Weight> = selected
        .iter()
        .filter_map(|c| {
            let weight = match rules {
                // No weight preference at all means equal weights.
                None => 1,
                Some(rules) => rules
                    .iter()
                    .filter(|r| affinity::matches(&r.target_cluster, c.cluster))
                    .map(|r| r.weight)
                    .max()
                    .unwrap_or(0),
            };
            (weight > 0).then(|| (c.name.to_string(), weight))
        })
        .collect();
    if weights.is_empty() {
        weights = selected.iter().map(|c| (c.name.to_string(), 1)).collect();
    }
    seats(webster::apportion(replicas, &weights, &[], tie))
}

/// Dynamic weights and Aggregated ("Steady" mode unless `fresh`): scale-down follows the
/// current distribution, scale-up divides only the extra replicas by free room.
fn dynamic(
    selected: &[Candidate<'_>],
    spec: &ResourceBindingSpec,
    desired: i32,
    aggregated: bool,
    fresh: bool,
    tie: TieBreak,
) -> Result<Vec<Count>, Error> {
    // Previous replicas on clusters still selected; the rest are placed again as scale-up.
    let scheduled: Vec<Count> = spec
        .clusters
        .iter()
        .filter(|t| selected.iter().any(|c| c.name == t.name))
        .map(|t| (t.name.clone(), t.replicas.unwrap_or(0)))
        .collect();
    let assigned: i64 = scheduled.iter().map(|(_, n)| i64::from(*n)).sum();
    let previous = |name: &str| {
        scheduled
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, r)| *r)
    };

    let (mut weights, target, keep): (Vec<Weight>, i32, &[Count]) = if fresh {
        let weights = selected
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    i64::from(c.allocatable) + i64::from(previous(c.name)),
                )
            })
            .collect();
        (weights, desired, &[])
    } else if assigned > i64::from(desired) {
        let weights = scheduled
            .iter()
            .map(|(n, r)| (n.clone(), i64::from(*r)))
            .collect();
        (weights, desired, &[])
    } else if assigned < i64::from(desired) {
        let weights = selected
            .iter()
            .map(|c| (c.name.to_string(), i64::from(c.allocatable)))
            .collect();
        // assigned < desired, so the difference fits in i32.
        (weights, desired - assigned as i32, &scheduled)
    } else {
        return Ok(scheduled);
    };
    weights.sort_by_key(|w| std::cmp::Reverse(w.1));

    let total: i64 = weights.iter().map(|(_, w)| w).sum();
    if total < i64::from(target) {
        return Err(Error::Unschedulable {
            message: format!("Clusters available replicas {total} are not enough to schedule."),
        });
    }
    if aggregated {
        // Clusters already running replicas come first, so the workload stays where it is
        // and grows into as few new clusters as possible.
        let holds = |name: &str| keep.iter().any(|(n, r)| n == name && *r > 0);
        let (mut front, back): (Vec<_>, Vec<_>) = weights.into_iter().partition(|(n, _)| holds(n));
        front.extend(back);
        let mut sum = 0;
        let prefix = front
            .iter()
            .position(|(_, w)| {
                sum += w;
                sum >= i64::from(target)
            })
            .map_or(front.len(), |i| i + 1);
        front.truncate(prefix);
        weights = front;
    }
    let new = seats(webster::apportion(target, &weights, &[], tie));
    Ok(merge(keep, new))
}

fn seats(parties: Vec<webster::Party>) -> Vec<Count> {
    parties.into_iter().map(|p| (p.name, p.seats)).collect()
}

/// Adds `old` replicas onto `new` per cluster; clusters only in `old` follow in their order.
fn merge(old: &[Count], mut new: Vec<Count>) -> Vec<Count> {
    for (name, replicas) in old {
        match new.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 += replicas,
            None => new.push((name.clone(), *replicas)),
        }
    }
    new
}

#[cfg(test)]
mod tests;
