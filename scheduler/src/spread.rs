//! Which of the feasible clusters are selected under the placement's spread constraints: the
//! cluster path (top clusters, swapped for capacity) and the region path (a region combination
//! found by a group search, then the best clusters within it).

use std::collections::BTreeMap;

use karmada_api::cluster::Cluster;
use karmada_api::policy::propagation::{
    Placement, ReplicaDivisionPreference, ReplicaSchedulingType, SpreadConstraint, SpreadField,
};

use crate::Error;

/// A feasible cluster with what selection and assignment need to know about it.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    pub cluster: &'a Cluster,
    pub name: &'a str,
    /// Overflow tier: 0 for the affinity in force, n for its n-th overflow affinity.
    pub tier: u32,
    /// Sum of the score plugins.
    pub score: i64,
    /// Replicas the cluster could hold for this workload: free room plus what it holds already.
    pub available: i64,
    /// Free room only (the estimators' answer).
    pub allocatable: i32,
}

/// Karmada's cluster order: overflow tier, score descending, then available replicas
/// descending, then name.
pub fn sort(candidates: &mut [Candidate<'_>]) {
    candidates.sort_by(|a, b| {
        a.tier
            .cmp(&b.tier)
            .then(b.score.cmp(&a.score))
            .then(b.available.cmp(&a.available))
            .then(a.name.cmp(b.name))
    });
}

/// Whether the placement divides by static weights, for which spread constraints (and
/// topology) are ignored altogether.
pub fn is_static_weight(placement: &Placement) -> bool {
    let Some(strategy) = &placement.replica_scheduling else {
        return false;
    };
    placement.replica_scheduling_type() == ReplicaSchedulingType::Divided
        && strategy
            .replica_division_preference
            .unwrap_or(ReplicaDivisionPreference::Weighted)
            == ReplicaDivisionPreference::Weighted
        && strategy
            .weight_preference
            .as_ref()
            .is_none_or(|w| !w.static_weight_list.is_empty() && w.dynamic_weight.is_none())
}

/// Selects clusters from `candidates` (sorted with [`sort`]) for `replicas` replicas.
pub fn select<'a>(
    candidates: Vec<Candidate<'a>>,
    placement: &Placement,
    replicas: i32,
) -> Result<Vec<Candidate<'a>>, Error> {
    if placement.spread_constraints.is_empty() || is_static_weight(placement) {
        return Ok(candidates);
    }
    // Duplicated workloads run everything everywhere: capacity cannot be pooled across clusters.
    let need = (placement.replica_scheduling_type() == ReplicaSchedulingType::Divided)
        .then_some(i64::from(replicas));
    let by_field = |field| {
        placement
            .spread_constraints
            .iter()
            .rfind(|c| c.spread_by_field == Some(field))
    };
    match (by_field(SpreadField::Region), by_field(SpreadField::Cluster)) {
        (Some(region), cluster) => by_region(candidates, placement, replicas, region, cluster),
        (None, Some(cluster)) => by_cluster(candidates, cluster, need),
        (None, None) => Err(Error::Invalid {
            message: "only cluster and region spread constraints can be scheduled; add a spreadByField: cluster constraint"
                .into(),
        }),
    }
}

/// `minGroups`, at least 0, and `maxGroups`, where 0 or absent means no bound.
fn bounds(constraint: Option<&SpreadConstraint>, groups: usize) -> (usize, usize) {
    let min = constraint.and_then(|c| c.min_groups).unwrap_or(0).max(0);
    let max = constraint.and_then(|c| c.max_groups).unwrap_or(0).max(0);
    let to_usize = |n: i64| usize::try_from(n).unwrap_or(usize::MAX);
    (to_usize(min), if max == 0 { groups } else { to_usize(max) })
}

fn by_cluster<'a>(
    mut candidates: Vec<Candidate<'a>>,
    constraint: &SpreadConstraint,
    need: Option<i64>,
) -> Result<Vec<Candidate<'a>>, Error> {
    let (min, max) = bounds(Some(constraint), candidates.len());
    if candidates.len() < min {
        return Err(Error::Unschedulable {
            message: format!(
                "{} feasible cluster(s) are fewer than the cluster spread constraint's minGroups {min}",
                candidates.len()
            ),
        });
    }
    let count = candidates.len().min(max);
    let mut rest = candidates.split_off(count);
    let mut chosen = candidates;
    let Some(need) = need else {
        return Ok(chosen);
    };
    let enough = |chosen: &[Candidate<'_>]| chosen.iter().map(|c| c.available).sum::<i64>() >= need;
    // From the weakest selected position up, swap in the unselected cluster with the most room,
    // if it has more than the one it replaces.
    for position in (0..chosen.len()).rev() {
        if enough(&chosen) {
            break;
        }
        let mut best: Option<usize> = None;
        let mut most = chosen[position].available;
        for (i, c) in rest.iter().enumerate() {
            if c.available > most {
                most = c.available;
                best = Some(i);
            }
        }
        if let Some(i) = best {
            std::mem::swap(&mut chosen[position], &mut rest[i]);
        }
    }
    if !enough(&chosen) {
        return Err(Error::Unschedulable {
            message: format!("no enough resource when selecting {count} clusters"),
        });
    }
    Ok(chosen)
}

fn by_region<'a>(
    candidates: Vec<Candidate<'a>>,
    placement: &Placement,
    replicas: i32,
    region: &SpreadConstraint,
    cluster: Option<&SpreadConstraint>,
) -> Result<Vec<Candidate<'a>>, Error> {
    let mut regions: BTreeMap<&str, Vec<Candidate<'a>>> = BTreeMap::new();
    for c in candidates {
        if let Some(r) = c.cluster.spec.region.as_deref().filter(|r| !r.is_empty()) {
            regions.entry(r).or_default().push(c);
        }
    }
    let total: usize = regions.values().map(Vec::len).sum();
    let (region_min, region_max) = bounds(Some(region), regions.len());
    let (cluster_min, cluster_max) = bounds(cluster, total);
    if regions.len() < region_min {
        return Err(Error::Unschedulable {
            message: format!(
                "{} feasible region(s) are fewer than the region spread constraint's minGroups {region_min}",
                regions.len()
            ),
        });
    }
    let groups: Vec<Group<'_>> = regions
        .iter()
        .map(|(name, clusters)| Group {
            name,
            value: clusters.len(),
            weight: group_score(clusters, placement, replicas, region_min, cluster_min),
        })
        .collect();
    let chosen = select_groups(groups, region_min, region_max, cluster_min);
    if chosen.is_empty() {
        return Err(Error::Unschedulable {
            message: format!(
                "no combination of regions holds the cluster spread constraint's minGroups {cluster_min} clusters"
            ),
        });
    }
    let mut selected = Vec::new();
    let mut rest = Vec::new();
    for name in chosen {
        let mut clusters = regions.remove(name).unwrap_or_default().into_iter();
        selected.extend(clusters.next());
        rest.extend(clusters);
    }
    let want = (selected.len() + rest.len()).min(cluster_max);
    if want > selected.len() {
        sort(&mut rest);
        let more = want - selected.len();
        selected.extend(rest.into_iter().take(more));
    }
    Ok(selected)
}

/// Weight unit of group scores: capacity dominates, the plugin score only breaks ties.
const WEIGHT_UNIT: i64 = 1000;

/// The score of a group of clusters (in [`sort`] order).
fn group_score(
    clusters: &[Candidate<'_>],
    placement: &Placement,
    replicas: i32,
    group_min: usize,
    cluster_min: usize,
) -> i64 {
    let replicas = i64::from(replicas);
    if placement.replica_scheduling_type() == ReplicaSchedulingType::Duplicated {
        let valid: Vec<_> = clusters
            .iter()
            .filter(|c| c.available >= replicas)
            .collect();
        if valid.is_empty() {
            return 0;
        }
        let count = valid.len() as i64;
        return count * WEIGHT_UNIT + valid.iter().map(|c| c.score).sum::<i64>() / count;
    }
    let group_min = group_min.max(1) as i64;
    let target = (replicas + group_min - 1) / group_min;
    let needed_clusters = cluster_min.max(group_min as usize);
    let (mut sum, mut score, mut walked) = (0i64, 0i64, 0usize);
    for c in clusters {
        sum += c.available;
        score += c.score;
        walked += 1;
        if walked >= needed_clusters && sum >= target {
            break;
        }
    }
    if sum < target {
        sum * WEIGHT_UNIT + score / clusters.len().max(1) as i64
    } else {
        target * WEIGHT_UNIT + score / walked.max(1) as i64
    }
}

/// A group in the combination search: its number of clusters and its score.
#[derive(Clone, Copy, Debug)]
struct Group<'a> {
    name: &'a str,
    value: usize,
    weight: i64,
}

/// A feasible combination, in the order it was found.
struct Path<'a> {
    id: usize,
    groups: Vec<Group<'a>>,
    weight: i64,
    value: usize,
}

/// Picks a combination of `min..=max` groups holding at least `target` clusters: highest total
/// score, then most clusters, then first found; a shorter feasible prefix of it wins.
fn select_groups<'a>(
    mut groups: Vec<Group<'a>>,
    min: usize,
    max: usize,
    target: usize,
) -> Vec<&'a str> {
    groups.sort_by(|a, b| {
        a.value
            .cmp(&b.value)
            .then(b.weight.cmp(&a.weight))
            .then(a.name.cmp(b.name))
    });
    let mut paths = Vec::new();
    let mut current = Vec::new();
    search(&groups, (min, max, target), 0, 0, &mut current, &mut paths);
    paths.sort_by(|a, b| {
        b.weight
            .cmp(&a.weight)
            .then(b.value.cmp(&a.value))
            .then(a.id.cmp(&b.id))
    });
    let mut paths = paths.into_iter();
    let Some(mut best) = paths.next() else {
        return Vec::new();
    };
    for path in paths {
        let prefix = path.groups.len() < best.groups.len()
            && path
                .groups
                .iter()
                .zip(&best.groups)
                .all(|(a, b)| a.name == b.name);
        if prefix {
            best = path;
        }
    }
    best.groups.into_iter().map(|g| g.name).collect()
}

/// Depth-first enumeration of combinations, recording each as soon as it is feasible (and not
/// extending it further). With exactly `min` groups the only candidate is all of them.
fn search<'a>(
    groups: &[Group<'a>],
    (min, max, target): (usize, usize, usize),
    sum: usize,
    begin: usize,
    current: &mut Vec<Group<'a>>,
    paths: &mut Vec<Path<'a>>,
) {
    if sum >= target && current.len() >= min && current.len() <= max {
        let mut found = current.clone();
        found.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.name.cmp(b.name)));
        paths.push(Path {
            id: paths.len(),
            weight: found.iter().map(|g| g.weight).sum(),
            value: found.iter().map(|g| g.value).sum(),
            groups: found,
        });
        return;
    }
    if current.len() >= max {
        return;
    }
    for i in begin..groups.len() {
        current.push(groups[i]);
        search(
            groups,
            (min, max, target),
            sum + groups[i].value,
            i + 1,
            current,
            paths,
        );
        current.pop();
        if groups.len() == min {
            break;
        }
    }
}

#[cfg(test)]
mod tests;
