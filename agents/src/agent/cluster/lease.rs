//! The agent's heartbeat: a `coordination.k8s.io/v1` Lease in `karmada-cluster`, named after
//! the cluster and renewed every renew period whatever state the member is in.

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use karmada_api::cluster::Cluster;
use kube::api::PostParams;
use kube::{Api, Client, Resource};
use tokio_util::sync::CancellationToken;

use super::{Error, Registration};

/// Where cluster Leases live in the federation, as in Karmada.
pub const LEASE_NAMESPACE: &str = karmada_api::CLUSTER_NAMESPACE;

/// The Lease `registration`'s agent holds, owned by its Cluster (so it goes when the Cluster
/// does), renewed at `now`.
pub fn desired(registration: &Registration, owner: &OwnerReference, now: Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(registration.name.clone()),
            namespace: Some(LEASE_NAMESPACE.into()),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(registration.name.clone()),
            lease_duration_seconds: Some(duration_seconds(registration)),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    }
}

/// Whole seconds of the lease duration, at least one (the field's minimum).
fn duration_seconds(registration: &Registration) -> i32 {
    i32::try_from(registration.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
}

/// The ownerReference a heartbeat Lease carries to its Cluster.
pub fn owner_reference(cluster: &Cluster) -> OwnerReference {
    OwnerReference {
        api_version: Cluster::api_version(&()).into_owned(),
        kind: Cluster::kind(&()).into_owned(),
        name: cluster.metadata.name.clone().unwrap_or_default(),
        uid: cluster.metadata.uid.clone().unwrap_or_default(),
        controller: None,
        block_owner_deletion: None,
    }
}

/// Renews the Lease every renew period until `cancel`. It only talks to the federation, so a
/// member outage never delays it; federation errors are logged and retried next period.
pub async fn run(
    federation: Client,
    registration: Registration,
    owner: OwnerReference,
    cancel: CancellationToken,
) {
    let leases: Api<Lease> = Api::namespaced(federation.clone(), LEASE_NAMESPACE);
    let namespaces: Api<Namespace> = Api::all(federation);
    let mut ticker = tokio::time::interval(registration.lease_renew_period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The last Lease written, so a renewal is one update rather than a read and an update.
    let mut held: Option<Lease> = None;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let renewal = renew(&leases, &namespaces, &registration, &owner, held.take());
        match tokio::time::timeout(registration.request_timeout, renewal).await {
            Ok(Ok(lease)) => held = Some(lease),
            Ok(Err(e)) => {
                tracing::warn!(cluster = %registration.name, error = %e, "heartbeat not renewed; retrying");
            }
            Err(_) => {
                tracing::warn!(cluster = %registration.name, "heartbeat renewal timed out; retrying");
            }
        }
    }
}

/// One renewal: update the held Lease, or read (or create) it when nothing is held.
async fn renew(
    leases: &Api<Lease>,
    namespaces: &Api<Namespace>,
    registration: &Registration,
    owner: &OwnerReference,
    held: Option<Lease>,
) -> Result<Lease, Error> {
    let name = &registration.name;
    let now = Timestamp::now();
    let current = match held {
        Some(lease) => Some(lease),
        None => leases
            .get_opt(name)
            .await
            .map_err(|source| Error::Heartbeat {
                cluster: name.clone(),
                source,
            })?,
    };
    let Some(mut lease) = current else {
        ensure_namespace(namespaces, name).await?;
        return leases
            .create(&PostParams::default(), &desired(registration, owner, now))
            .await
            .map_err(|source| Error::Heartbeat {
                cluster: name.clone(),
                source,
            });
    };
    let fresh = desired(registration, owner, now);
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let fresh_spec = fresh.spec.unwrap_or_default();
    if spec.holder_identity != fresh_spec.holder_identity {
        spec.acquire_time = fresh_spec.acquire_time;
    }
    spec.holder_identity = fresh_spec.holder_identity;
    spec.lease_duration_seconds = fresh_spec.lease_duration_seconds;
    spec.renew_time = fresh_spec.renew_time;
    lease.metadata.owner_references = fresh.metadata.owner_references;
    lease.metadata.managed_fields = None;
    // A stale resourceVersion (someone else wrote the Lease) fails with a conflict; the next
    // period then starts from a fresh read.
    leases
        .replace(name, &PostParams::default(), &lease)
        .await
        .map_err(|source| Error::Heartbeat {
            cluster: name.clone(),
            source,
        })
}

/// Creates the Lease namespace; it already existing is fine. An agent with its own identity
/// may not create namespaces: whoever granted it access made this one.
async fn ensure_namespace(namespaces: &Api<Namespace>, cluster: &str) -> Result<(), Error> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(LEASE_NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match namespaces.create(&PostParams::default(), &namespace).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 || s.code == 403 => Ok(()),
        Err(source) => Err(Error::Heartbeat {
            cluster: cluster.into(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lease_names_the_cluster_as_holder_and_owner() {
        let mut registration = Registration::new("member1", "https://10.0.0.1:6443");
        registration.lease_duration = Duration::from_millis(2500);
        let cluster = Cluster {
            metadata: ObjectMeta {
                name: Some("member1".into()),
                uid: Some("u-1".into()),
                ..ObjectMeta::default()
            },
            spec: serde_json::from_value(serde_json::json!({"syncMode": "Pull"})).unwrap(),
            status: None,
        };
        let now = Timestamp::from_second(100).unwrap();
        let lease = desired(&registration, &owner_reference(&cluster), now);
        assert_eq!(lease.metadata.namespace.as_deref(), Some(LEASE_NAMESPACE));
        assert_eq!(lease.metadata.name.as_deref(), Some("member1"));
        let owner = &lease.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.api_version.as_str(),
                owner.uid.as_str()
            ),
            ("Cluster", "cluster.karmada.io/v1alpha1", "u-1")
        );
        let spec = lease.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("member1"));
        assert_eq!(spec.lease_duration_seconds, Some(2));
        assert_eq!(spec.renew_time, Some(MicroTime(now)));

        registration.lease_duration = Duration::from_millis(300);
        assert_eq!(duration_seconds(&registration), 1);
    }
}
