//! The estimator's requests as domain types, validated on receipt from their protobuf form.
//!
//! Quantities stay strings here: parsing them needs the Kubernetes quantity grammar, which
//! lives with the server; the server rejects a bad one naming the resource.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::proto;

/// A field of a request that cannot be honoured, named by its protobuf path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Error {
    pub field: String,
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error {
        field: field.into(),
        reason: reason.into(),
    }
}

/// How many replicas of `requirements` fit in `cluster`?
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaxAvailableReplicas {
    pub cluster: String,
    pub requirements: ReplicaRequirements,
}

/// The shape of one replica and where it may run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaRequirements {
    /// Resource name to Kubernetes quantity, e.g. `cpu` to `500m`.
    pub resource_request: BTreeMap<String, String>,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    /// Required node affinity terms, ORed; empty means no constraint.
    pub node_affinity: Vec<NodeSelectorTerm>,
    pub namespace: String,
    pub priority_class_name: String,
}

/// A Kubernetes toleration; `None` stands for an unset field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    pub match_expressions: Vec<NodeSelectorRequirement>,
    pub match_fields: Vec<NodeSelectorRequirement>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorRequirement {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// How many pods of `workload` in `cluster` have been unschedulable for longer than
/// `threshold`?
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnschedulableReplicas {
    pub cluster: String,
    pub workload: WorkloadRef,
    pub threshold: Duration,
}

/// A workload by API version, kind, namespace and name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl WorkloadRef {
    /// The API group: empty for the core group (`v1`).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }
}

fn set(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn required(field: &str, value: String) -> Result<String, Error> {
    if value.is_empty() {
        return Err(invalid(field, "required"));
    }
    Ok(value)
}

impl TryFrom<proto::MaxAvailableReplicasRequest> for MaxAvailableReplicas {
    type Error = Error;

    fn try_from(request: proto::MaxAvailableReplicasRequest) -> Result<Self, Error> {
        let r = request.replica_requirements.unwrap_or_default();
        let claim = r.node_claim.unwrap_or_default();
        let tolerations = claim
            .tolerations
            .into_iter()
            .enumerate()
            .map(|(i, t)| toleration(&format!("node_claim.tolerations[{i}]"), t))
            .collect::<Result<_, _>>()?;
        let node_affinity = claim
            .node_affinity
            .into_iter()
            .enumerate()
            .map(|(i, term)| {
                let field = format!("node_claim.node_affinity[{i}]");
                Ok(NodeSelectorTerm {
                    match_expressions: requirements(
                        &format!("{field}.match_expressions"),
                        term.match_expressions,
                    )?,
                    match_fields: requirements(
                        &format!("{field}.match_fields"),
                        term.match_fields,
                    )?,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(MaxAvailableReplicas {
            cluster: required("cluster", request.cluster)?,
            requirements: ReplicaRequirements {
                resource_request: r.resource_request,
                node_selector: claim.node_selector,
                tolerations,
                node_affinity,
                namespace: r.namespace,
                priority_class_name: r.priority_class_name,
            },
        })
    }
}

fn toleration(field: &str, t: proto::Toleration) -> Result<Toleration, Error> {
    let operator = set(t.operator);
    match operator.as_deref() {
        None | Some("Equal") => {
            if t.key.is_empty() {
                return Err(invalid(
                    format!("{field}.key"),
                    "required unless operator is Exists",
                ));
            }
        }
        Some("Exists") if !t.value.is_empty() => {
            return Err(invalid(
                format!("{field}.value"),
                "must be empty when operator is Exists",
            ));
        }
        Some("Exists") => {}
        Some(other) => {
            return Err(invalid(
                format!("{field}.operator"),
                format!("{other:?} is not Equal or Exists"),
            ));
        }
    }
    let effect = set(t.effect);
    if let Some(e) = effect.as_deref()
        && !matches!(e, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
    {
        return Err(invalid(
            format!("{field}.effect"),
            format!("{e:?} is not NoSchedule, PreferNoSchedule or NoExecute"),
        ));
    }
    Ok(Toleration {
        key: set(t.key),
        operator,
        value: set(t.value),
        effect,
    })
}

fn requirements(
    field: &str,
    list: Vec<proto::NodeSelectorRequirement>,
) -> Result<Vec<NodeSelectorRequirement>, Error> {
    list.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let field = format!("{field}[{i}]");
            let values_ok = match r.operator.as_str() {
                "In" | "NotIn" => !r.values.is_empty(),
                "Exists" | "DoesNotExist" => r.values.is_empty(),
                "Gt" | "Lt" => r.values.len() == 1 && r.values[0].parse::<i64>().is_ok(),
                other => {
                    return Err(invalid(
                        format!("{field}.operator"),
                        format!("{other:?} is not In, NotIn, Exists, DoesNotExist, Gt or Lt"),
                    ));
                }
            };
            if !values_ok {
                return Err(invalid(
                    format!("{field}.values"),
                    format!("do not suit operator {}", r.operator),
                ));
            }
            Ok(NodeSelectorRequirement {
                key: required(&format!("{field}.key"), r.key)?,
                operator: r.operator,
                values: r.values,
            })
        })
        .collect()
}

impl From<MaxAvailableReplicas> for proto::MaxAvailableReplicasRequest {
    fn from(request: MaxAvailableReplicas) -> Self {
        let r = request.requirements;
        let requirement = |r: NodeSelectorRequirement| proto::NodeSelectorRequirement {
            key: r.key,
            operator: r.operator,
            values: r.values,
        };
        proto::MaxAvailableReplicasRequest {
            cluster: request.cluster,
            replica_requirements: Some(proto::ReplicaRequirements {
                resource_request: r.resource_request,
                node_claim: Some(proto::NodeClaim {
                    node_selector: r.node_selector,
                    tolerations: r
                        .tolerations
                        .into_iter()
                        .map(|t| proto::Toleration {
                            key: t.key.unwrap_or_default(),
                            operator: t.operator.unwrap_or_default(),
                            value: t.value.unwrap_or_default(),
                            effect: t.effect.unwrap_or_default(),
                        })
                        .collect(),
                    node_affinity: r
                        .node_affinity
                        .into_iter()
                        .map(|term| proto::NodeSelectorTerm {
                            match_expressions: term
                                .match_expressions
                                .into_iter()
                                .map(requirement)
                                .collect(),
                            match_fields: term.match_fields.into_iter().map(requirement).collect(),
                        })
                        .collect(),
                }),
                namespace: r.namespace,
                priority_class_name: r.priority_class_name,
            }),
        }
    }
}

impl TryFrom<proto::UnschedulableReplicasRequest> for UnschedulableReplicas {
    type Error = Error;

    fn try_from(request: proto::UnschedulableReplicasRequest) -> Result<Self, Error> {
        let w = request.resource.unwrap_or_default();
        let seconds = u64::try_from(request.unschedulable_threshold_seconds).map_err(|_| {
            invalid(
                "unschedulable_threshold_seconds",
                format!("{} is negative", request.unschedulable_threshold_seconds),
            )
        })?;
        Ok(UnschedulableReplicas {
            cluster: required("cluster", request.cluster)?,
            workload: WorkloadRef {
                api_version: required("resource.api_version", w.api_version)?,
                kind: required("resource.kind", w.kind)?,
                namespace: required("resource.namespace", w.namespace)?,
                name: required("resource.name", w.name)?,
            },
            threshold: Duration::from_secs(seconds),
        })
    }
}

impl From<UnschedulableReplicas> for proto::UnschedulableReplicasRequest {
    fn from(request: UnschedulableReplicas) -> Self {
        let w = request.workload;
        proto::UnschedulableReplicasRequest {
            cluster: request.cluster,
            resource: Some(proto::ObjectReference {
                api_version: w.api_version,
                kind: w.kind,
                namespace: w.namespace,
                name: w.name,
            }),
            unschedulable_threshold_seconds: i64::try_from(request.threshold.as_secs())
                .unwrap_or(i64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> MaxAvailableReplicas {
        MaxAvailableReplicas {
            cluster: "member1".into(),
            requirements: ReplicaRequirements {
                resource_request: BTreeMap::from([("cpu".into(), "500m".into())]),
                node_selector: BTreeMap::from([("zone".into(), "a".into())]),
                tolerations: vec![Toleration {
                    key: Some("dedicated".into()),
                    operator: Some("Equal".into()),
                    value: Some("gpu".into()),
                    effect: Some("NoSchedule".into()),
                }],
                node_affinity: vec![NodeSelectorTerm {
                    match_expressions: vec![NodeSelectorRequirement {
                        key: "disk".into(),
                        operator: "In".into(),
                        values: vec!["ssd".into()],
                    }],
                    match_fields: vec![],
                }],
                namespace: "default".into(),
                priority_class_name: "high".into(),
            },
        }
    }

    #[test]
    fn requests_round_trip_through_protobuf() {
        let request = full();
        let wire = proto::MaxAvailableReplicasRequest::from(request.clone());
        assert_eq!(MaxAvailableReplicas::try_from(wire), Ok(request));

        let request = UnschedulableReplicas {
            cluster: "member1".into(),
            workload: WorkloadRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: "default".into(),
                name: "web".into(),
            },
            threshold: Duration::from_secs(60),
        };
        assert_eq!(request.workload.group(), "apps");
        let wire = proto::UnschedulableReplicasRequest::from(request.clone());
        assert_eq!(UnschedulableReplicas::try_from(wire), Ok(request));
    }

    #[test]
    fn invalid_fields_are_named() {
        type Edit = fn(&mut proto::MaxAvailableReplicasRequest);
        fn claim(r: &mut proto::MaxAvailableReplicasRequest) -> &mut proto::NodeClaim {
            r.replica_requirements
                .as_mut()
                .and_then(|r| r.node_claim.as_mut())
                .expect("claim")
        }
        let cases: [(Edit, &str); 5] = [
            (|r| r.cluster.clear(), "cluster: required"),
            (
                |r| claim(r).tolerations[0].operator = "Like".into(),
                "node_claim.tolerations[0].operator",
            ),
            (
                |r| {
                    let t = &mut claim(r).tolerations[0];
                    t.operator = "Exists".into();
                },
                "node_claim.tolerations[0].value: must be empty",
            ),
            (
                |r| claim(r).tolerations[0].effect = "Sometimes".into(),
                "node_claim.tolerations[0].effect",
            ),
            (
                |r| {
                    claim(r).node_affinity[0].match_expressions[0]
                        .values
                        .clear();
                },
                "node_claim.node_affinity[0].match_expressions[0].values",
            ),
        ];
        for (edit, want) in cases {
            let mut wire = proto::MaxAvailableReplicasRequest::from(full());
            edit(&mut wire);
            let err = MaxAvailableReplicas::try_from(wire).expect_err(want);
            assert!(err.to_string().starts_with(want), "{err} vs {want}");
        }
        let err = UnschedulableReplicas::try_from(proto::UnschedulableReplicasRequest {
            cluster: "m".into(),
            resource: None,
            unschedulable_threshold_seconds: 1,
        })
        .expect_err("no workload");
        assert_eq!(err.to_string(), "resource.api_version: required");
    }
}
