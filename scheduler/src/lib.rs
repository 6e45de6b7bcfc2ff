//! Where a binding's replicas land: a pure pipeline from a snapshot of clusters and a binding to
//! a placement (or a typed error with per-cluster reasons), following Karmada's semantics.
//!
//! One cycle: filter every cluster ([`filter`]), score the feasible ones ([`score`]), estimate
//! their room ([`available`]), select under spread constraints ([`spread`]) and divide the
//! replicas ([`assign`], apportioning with [`webster`]). With `clusterAffinities` the cycle
//! runs per term, from the observed one, until a term succeeds.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use karmada_api::cluster::Cluster;
use karmada_api::policy::propagation::{OverflowClusterAffinity, Placement as PlacementPolicy};
use karmada_api::policy::selectors::ClusterAffinity;
use karmada_api::work::binding::{ResourceBindingSpec, TargetCluster};

mod affinity;
pub mod assign;
pub mod available;
pub mod driver;
pub mod filter;
pub mod score;
pub mod spread;
pub mod webster;

#[cfg(test)]
mod fixture;

pub use assign::Strategy;
pub use spread::Candidate;

/// What to schedule.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The binding: placement, replicas, replicaRequirements, current `clusters` (the previous
    /// result), gracefulEvictionTasks, and the resource (apiVersion/kind for API enablement,
    /// uid for the per-workload tie-break direction).
    pub spec: &'a ResourceBindingSpec,
    /// `status.schedulerObservedAffinityName`: the `clusterAffinities` term to start from.
    pub observed_affinity: Option<&'a str>,
    /// Other estimators' answers by cluster name (`-1` = unknown); each lowers the estimate
    /// from the cluster's resource summary.
    pub available: Option<&'a BTreeMap<String, i32>>,
    /// A user-requested reschedule (`spec.rescheduleTriggeredAt` later than
    /// `status.lastScheduledTime`): start from the first affinity term and divide replicas
    /// afresh instead of from the current distribution.
    pub fresh: bool,
}

impl<'a> Request<'a> {
    /// A steady-state request for `spec` without external estimators or an observed term.
    pub fn new(spec: &'a ResourceBindingSpec) -> Self {
        Request {
            spec,
            observed_affinity: None,
            available: None,
            fresh: false,
        }
    }
}

/// The schedule result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement {
    /// The new `spec.clusters`.
    pub clusters: Vec<TargetCluster>,
    /// The `clusterAffinities` term that succeeded, for `status.schedulerObservedAffinityName`.
    pub affinity_name: Option<String>,
}

/// Why a binding could not be scheduled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// No cluster passed the filters; the reasons per cluster (deleting clusters are skipped
    /// and have none).
    #[error("{}", fit_message(*.total, .reasons))]
    NoClusterFit {
        total: usize,
        reasons: BTreeMap<String, Vec<String>>,
    },
    /// Clusters fit but lack capacity (or count) for the replicas; worth retrying when
    /// clusters change.
    #[error("{message}")]
    Unschedulable { message: String },
    /// The placement cannot be scheduled as written.
    #[error("invalid placement: {message}")]
    Invalid { message: String },
}

fn fit_message(total: usize, reasons: &BTreeMap<String, Vec<String>>) -> String {
    if total == 0 || reasons.is_empty() {
        return format!("0/{total} clusters are available: no cluster exists.");
    }
    let per_cluster: Vec<String> = reasons
        .iter()
        .map(|(cluster, why)| format!("{cluster}: {}", why.join(", ")))
        .collect();
    format!(
        "0/{total} clusters are available: {}.",
        per_cluster.join("; ")
    )
}

/// Schedules `request` onto `clusters` (a snapshot; order does not matter). The clusters may
/// be owned or shared (`Arc`s from a reflector store), so a caller need not copy its snapshot.
pub fn schedule<C: Borrow<Cluster>>(
    clusters: &[C],
    request: &Request<'_>,
) -> Result<Placement, Error> {
    let placement = request
        .spec
        .placement
        .as_ref()
        .ok_or_else(|| Error::Invalid {
            message: "the binding has no placement".into(),
        })?;
    let terms = placement.cluster_affinities.as_deref().unwrap_or_default();
    if terms.is_empty() {
        let scope = Scope {
            affinity: placement.cluster_affinity.as_ref(),
            overflow: None,
        };
        let clusters = cycle(clusters, request, placement, scope)?;
        return Ok(Placement {
            clusters,
            affinity_name: None,
        });
    }
    if placement.cluster_affinity.is_some() {
        return Err(Error::Invalid {
            message: "clusterAffinity and clusterAffinities cannot both be set".into(),
        });
    }
    let start = match request.observed_affinity {
        Some(observed) if !request.fresh => terms
            .iter()
            .position(|t| t.affinity_name == observed)
            .unwrap_or(0),
        _ => 0,
    };
    let mut first_error = None;
    for term in &terms[start..] {
        let scope = Scope {
            affinity: Some(&term.affinity),
            overflow: term.overflow_affinities.as_deref(),
        };
        match cycle(clusters, request, placement, scope) {
            Ok(clusters) => {
                return Ok(Placement {
                    clusters,
                    affinity_name: Some(term.affinity_name.clone()),
                });
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| Error::Invalid {
        message: "clusterAffinities has no terms".into(),
    }))
}

/// Why each cluster the filter stage rejects was rejected, for explaining a successful
/// [`schedule`] (a failed one carries its reasons in [`Error::NoClusterFit`]).
///
/// `term` is the `clusterAffinities` term to filter with (the [`Placement::affinity_name`] that
/// succeeded); `None`, or a name no term has, means `clusterAffinity` or the first term.
/// Deleting clusters are left out, as the scheduler skips them without a reason.
pub fn explain<C: Borrow<Cluster>>(
    clusters: &[C],
    request: &Request<'_>,
    term: Option<&str>,
) -> BTreeMap<String, Vec<String>> {
    let Some(placement) = request.spec.placement.as_ref() else {
        return BTreeMap::new();
    };
    let terms = placement.cluster_affinities.as_deref().unwrap_or_default();
    let chosen = term
        .and_then(|name| terms.iter().find(|t| t.affinity_name == name))
        .or_else(|| terms.first());
    let scope = match chosen {
        Some(term) => Scope {
            affinity: Some(&term.affinity),
            overflow: term.overflow_affinities.as_deref(),
        },
        None => Scope {
            affinity: placement.cluster_affinity.as_ref(),
            overflow: None,
        },
    };
    let filter = scope.filter(request.spec, placement);
    clusters
        .iter()
        .map(Borrow::borrow)
        .filter(|cluster: &&Cluster| cluster.metadata.deletion_timestamp.is_none())
        .filter_map(|cluster| {
            let why = filter.reasons(cluster);
            (!why.is_empty()).then(|| (affinity::name(cluster).to_string(), why))
        })
        .collect()
}

/// The clusters one cycle may use: an affinity and, for a `clusterAffinities` term with
/// `overflowAffinities`, its overflow tiers.
#[derive(Clone, Copy)]
struct Scope<'a> {
    affinity: Option<&'a ClusterAffinity>,
    overflow: Option<&'a [OverflowClusterAffinity]>,
}

impl<'a> Scope<'a> {
    /// The filter stage of a cycle in this scope.
    fn filter(
        self,
        spec: &'a ResourceBindingSpec,
        placement: &'a PlacementPolicy,
    ) -> filter::Filter<'a> {
        let workload = spec.replicas.unwrap_or(0) > 0
            || spec.replica_requirements.is_some()
            || !spec.components.is_empty();
        filter::Filter {
            spec,
            placement,
            affinity: self.affinity,
            // Only workloads can overflow: a configuration has no replicas to spill.
            overflow: if workload {
                self.overflow.unwrap_or_default()
            } else {
                &[]
            },
        }
    }

    /// 0 for clusters the affinity matches, n for the n-th overflow tier; clusters matching
    /// nothing (only possible for non-workloads, which ignore tiers) go last.
    fn tier(&self, cluster: &Cluster) -> u32 {
        let (Some(affinity), Some(overflow)) = (self.affinity, self.overflow) else {
            return 0;
        };
        if affinity::matches(affinity, cluster) {
            return 0;
        }
        overflow
            .iter()
            .position(|o| affinity::matches(&o.affinity, cluster))
            .map_or(UNMATCHED_TIER, |i| {
                u32::try_from(i + 1).unwrap_or(UNMATCHED_TIER)
            })
    }
}

/// Tier of a cluster outside the affinity and every overflow tier.
const UNMATCHED_TIER: u32 = 1000;

/// One scheduling cycle within one scope.
fn cycle<C: Borrow<Cluster>>(
    clusters: &[C],
    request: &Request<'_>,
    placement: &PlacementPolicy,
    scope: Scope<'_>,
) -> Result<Vec<TargetCluster>, Error> {
    let spec = request.spec;
    let filter = scope.filter(spec, placement);
    let mut feasible = Vec::new();
    let mut reasons = BTreeMap::new();
    for cluster in clusters.iter().map(Borrow::borrow) {
        // A cluster being removed gets no new work; it is not a reason anyone can fix.
        if cluster.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let why = filter.reasons(cluster);
        if why.is_empty() {
            feasible.push(cluster);
        } else {
            reasons.insert(affinity::name(cluster).to_string(), why);
        }
    }
    if feasible.is_empty() {
        return Err(Error::NoClusterFit {
            total: clusters.len(),
            reasons,
        });
    }

    let allocatable = available::allocatable(&feasible, spec, request.available);
    let mut candidates: Vec<Candidate<'_>> = feasible
        .iter()
        .zip(allocatable)
        .map(|(cluster, allocatable)| {
            let name = affinity::name(cluster);
            let held = spec
                .clusters
                .iter()
                .find(|t| t.name == name)
                .and_then(|t| t.replicas)
                .unwrap_or(0);
            Candidate {
                cluster,
                name,
                tier: scope.tier(cluster),
                score: score::score(spec, cluster),
                available: i64::from(allocatable) + i64::from(held),
                allocatable,
            }
        })
        .collect();
    spread::sort(&mut candidates);
    let selected = spread::select(candidates, placement, spec.replicas.unwrap_or(0))?;
    let overflow = scope.overflow.is_some();
    assign::assign(&selected, spec, placement, request.fresh, overflow)
}

#[cfg(test)]
mod tests;
