//! The pull agent's cluster side: registers the member as a Pull Cluster in the federation,
//! keeps its heartbeat Lease renewed and its status current.

pub mod failure;
pub mod lease;
pub mod status;
pub mod summary;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use karmada_api::cluster::{Cluster, ClusterSpec, ClusterSyncMode, ESTIMATOR_ADDRESS_ANNOTATION};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a member must fail every probe before it is reported not Ready, by default:
/// several probes, so one lost answer does not fail a cluster over, and short enough that a
/// member that is really down is failed over within the federation's grace period.
pub const DEFAULT_FAILURE_THRESHOLD: Duration = Duration::from_secs(10);

/// Who the member is and how often the agent reports.
///
/// The defaults favour fast failure detection over Karmada's (40s lease, 10s status): a 10s
/// lease renewed every 2s lets the federation tell a dead agent within seconds, for the cost
/// of one small write every 2s per cluster.
#[derive(Clone, Debug)]
pub struct Registration {
    /// The Cluster's name in the federation.
    pub name: String,
    /// The member's API server URL as the federation should record it.
    pub api_endpoint: String,
    /// Topology; `None` leaves whatever the Cluster already has.
    pub provider: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    /// Labels the agent sets on the Cluster; other labels are left alone.
    pub labels: BTreeMap<String, String>,
    /// Where the agent serves the replica estimator (`host:port`), advertised to the
    /// scheduler through the Cluster's annotation; `None` withdraws it.
    pub estimator_address: Option<String>,
    /// How long the federation may wait for a renewal before it considers the agent gone.
    pub lease_duration: Duration,
    /// How often the Lease is renewed; well below `lease_duration` so one lost write is not
    /// an outage.
    pub lease_renew_period: Duration,
    /// How often the member's health endpoint is probed; a change of health is reported at
    /// once.
    pub probe_period: Duration,
    /// How often the whole status (version, APIs, nodes and resources) is refreshed.
    pub status_period: Duration,
    /// How long the member must fail every probe before it is reported not Ready (probes are
    /// repeated every second meanwhile); zero reports the first failure.
    pub failure_threshold: Duration,
    /// Longest wait for any single request to the member or the federation.
    pub request_timeout: Duration,
}

impl Registration {
    /// A registration with the default periods and no topology or labels.
    pub fn new(name: impl Into<String>, api_endpoint: impl Into<String>) -> Self {
        Registration {
            name: name.into(),
            api_endpoint: api_endpoint.into(),
            provider: None,
            region: None,
            zone: None,
            labels: BTreeMap::new(),
            estimator_address: None,
            lease_duration: Duration::from_secs(10),
            lease_renew_period: Duration::from_secs(2),
            probe_period: Duration::from_secs(2),
            status_period: Duration::from_secs(10),
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            request_timeout: Duration::from_secs(5),
        }
    }

    /// Checks the name, endpoint and periods.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| {
            Err(Error::InvalidRegistration {
                cluster: self.name.clone(),
                reason,
            })
        };
        if self.name.is_empty() {
            return invalid("the cluster name is empty".into());
        }
        if self.api_endpoint.is_empty() {
            return invalid("the API endpoint is empty".into());
        }
        if self.lease_renew_period.is_zero()
            || self.status_period.is_zero()
            || self.probe_period.is_zero()
        {
            return invalid(
                "the lease renew period, probe period and status period must be positive".into(),
            );
        }
        if self.lease_renew_period >= self.lease_duration {
            return invalid(format!(
                "the lease renew period ({:?}) must be shorter than the lease duration ({:?})",
                self.lease_renew_period, self.lease_duration
            ));
        }
        Ok(())
    }
}

/// Why the agent could not register or report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid registration of cluster {cluster:?}: {reason}")]
    InvalidRegistration { cluster: String, reason: String },
    #[error(
        "cluster {cluster:?} is already registered in Push mode; the control plane manages it \
         directly, so an agent must not. Unjoin it first or register under another name"
    )]
    PushMode { cluster: String },
    #[error("registering cluster {cluster:?} with the federation failed: {source}")]
    Register {
        cluster: String,
        #[source]
        source: kube::Error,
    },
    #[error("reading cluster {cluster:?} from the federation failed: {source}")]
    ReadCluster {
        cluster: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the status of cluster {cluster:?} failed: {source}")]
    WriteStatus {
        cluster: String,
        #[source]
        source: kube::Error,
    },
    #[error("renewing the heartbeat Lease of cluster {cluster:?} failed: {source}")]
    Heartbeat {
        cluster: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// Whether retrying can help: unreachable or overloaded servers and conflicts can pass;
    /// a refused registration or a rejected object will not.
    fn is_transient(&self) -> bool {
        match self {
            Error::InvalidRegistration { .. } | Error::PushMode { .. } => false,
            Error::Register { source, .. }
            | Error::ReadCluster { source, .. }
            | Error::WriteStatus { source, .. }
            | Error::Heartbeat { source, .. } => !matches!(
                source,
                kube::Error::Api(s) if matches!(s.code, 400 | 422)
            ),
        }
    }
}

/// Registers the member, then renews its Lease and reports its status until `cancel`.
///
/// Returns an error only for what retrying cannot fix (a Push Cluster of that name, an invalid
/// registration, a rejected Cluster); unreachable servers are logged and retried.
pub async fn run(
    federation: Client,
    member: Client,
    registration: Registration,
    cancel: CancellationToken,
) -> Result<(), Error> {
    registration.validate()?;
    let clusters: Api<Cluster> = Api::all(federation.clone());
    let cluster = loop {
        match register(&clusters, &registration).await {
            Ok(cluster) => break cluster,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "cluster registration failed; retrying");
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(registration.lease_renew_period) => {}
        }
    };
    tracing::info!(cluster = %registration.name, "cluster registered in Pull mode");
    maintain(federation, member, registration, &cluster, cancel).await;
    Ok(())
}

/// Renews the heartbeat Lease of a registered `cluster` and reports the member's status until
/// `cancel`: what the pull agent does once registered, and what the control plane does for a
/// Push cluster it reaches itself.
pub async fn maintain(
    federation: Client,
    member: Client,
    registration: Registration,
    cluster: &Cluster,
    cancel: CancellationToken,
) {
    let clusters: Api<Cluster> = Api::all(federation.clone());
    let mut tasks = JoinSet::new();
    tasks.spawn(super::mcs::run(
        federation.clone(),
        member.clone(),
        registration.name.clone(),
        cancel.clone(),
    ));
    tasks.spawn(lease::run(
        federation,
        registration.clone(),
        lease::owner_reference(cluster),
        cancel.clone(),
    ));
    let (caches, fill) = status::Caches::start(&member, &cancel);
    tasks.spawn(fill);
    tasks.spawn(report(clusters, member, caches, registration, cancel));
    while tasks.join_next().await.is_some() {}
}

/// How soon a status write that failed is tried again.
const STATUS_RETRY: Duration = Duration::from_millis(500);

/// Probes the member every probe period and publishes its status when its health changes or
/// the status period has passed, until `cancel`. A failing member is reported only once it
/// has failed for the failure threshold.
async fn report(
    clusters: Api<Cluster>,
    member: Client,
    caches: status::Caches,
    registration: Registration,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(registration.probe_period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = failure::FailureWindow::new(registration.failure_threshold);
    // When the status was last published, and the health it reported.
    let mut published: Option<(Instant, status::Health)> = None;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let sent = Instant::now();
        let health = status::health(&member, registration.request_timeout).await;
        let healthy = health == status::Health::Healthy;
        if let failure::Verdict::Hold(wait) = failures.judge(healthy, sent, Instant::now()) {
            tracing::info!(cluster = %registration.name, ?health, "the member failed its health probe; probing again before reporting it");
            ticker.reset_after(wait);
            continue;
        }
        let due = published.as_ref().is_none_or(|(at, reported)| {
            std::mem::discriminant(reported) != std::mem::discriminant(&health)
                || at.elapsed() >= registration.status_period
        });
        if !due {
            continue;
        }
        let observed = status::observe(
            &member,
            &caches,
            health.clone(),
            registration.request_timeout,
        )
        .await;
        let publish = status::publish(&clusters, &registration, &observed);
        let failure = match tokio::time::timeout(registration.request_timeout, publish).await {
            Ok(Ok(_)) => {
                published = Some((Instant::now(), health));
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_string(),
        };
        // A lost race with another writer of the Cluster (the federation stamps finalizers and
        // taints on it) must not leave the status stale for a whole period.
        tracing::debug!(cluster = %registration.name, error = %failure, "cluster status not written; retrying soon");
        ticker.reset_after(STATUS_RETRY.min(registration.probe_period));
    }
}

/// Creates the Cluster, or adopts an existing Pull one by patching the fields the agent owns.
async fn register(clusters: &Api<Cluster>, registration: &Registration) -> Result<Cluster, Error> {
    let name = &registration.name;
    let register_err = |source| Error::Register {
        cluster: name.clone(),
        source,
    };
    let existing = clusters
        .get_opt(name)
        .await
        .map_err(|source| Error::ReadCluster {
            cluster: name.clone(),
            source,
        })?;
    let Some(existing) = existing else {
        // Should another agent instance create it meanwhile, the conflict is transient and the
        // next attempt adopts it.
        return clusters
            .create(&PostParams::default(), &desired(registration))
            .await
            .map_err(register_err);
    };
    match adoption_patch(&existing, registration)? {
        None => Ok(existing),
        Some(patch) => clusters
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(register_err),
    }
}

/// The Cluster a fresh registration creates.
pub fn desired(registration: &Registration) -> Cluster {
    let spec = ClusterSpec {
        sync_mode: ClusterSyncMode::Pull,
        api_endpoint: Some(registration.api_endpoint.clone()),
        provider: registration.provider.clone(),
        region: registration.region.clone(),
        zone: None,
        zones: registration.zone.iter().cloned().collect(),
        id: None,
        secret_ref: None,
        impersonator_secret_ref: None,
        insecure_skip_tls_verification: None,
        proxy_url: None,
        proxy_header: BTreeMap::new(),
        taints: Vec::new(),
        resource_models: Vec::new(),
    };
    Cluster {
        metadata: ObjectMeta {
            name: Some(registration.name.clone()),
            labels: (!registration.labels.is_empty()).then(|| registration.labels.clone()),
            annotations: registration.estimator_address.as_ref().map(|addr| {
                BTreeMap::from([(ESTIMATOR_ADDRESS_ANNOTATION.to_string(), addr.clone())])
            }),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    }
}

/// The merge patch that brings an existing Cluster's agent-owned fields (endpoint, topology,
/// the agent's labels) to `registration`, `None` when they already match; a Push Cluster is
/// refused because the control plane, not an agent, manages it.
///
/// The zone is written as `zones: [zone]`: the federation's defaulting moves a single `zone`
/// there anyway, and comparing against `zones` keeps adoption idempotent.
pub fn adoption_patch(
    existing: &Cluster,
    registration: &Registration,
) -> Result<Option<Value>, Error> {
    if existing.spec.sync_mode == ClusterSyncMode::Push {
        return Err(Error::PushMode {
            cluster: registration.name.clone(),
        });
    }
    let spec = &existing.spec;
    let mut spec_patch = Map::new();
    if spec.api_endpoint.as_deref() != Some(registration.api_endpoint.as_str()) {
        spec_patch.insert("apiEndpoint".into(), json!(registration.api_endpoint));
    }
    for (field, want, have) in [
        ("provider", &registration.provider, &spec.provider),
        ("region", &registration.region, &spec.region),
    ] {
        if let Some(want) = want
            && have.as_ref() != Some(want)
        {
            spec_patch.insert(field.into(), json!(want));
        }
    }
    if let Some(zone) = &registration.zone
        && (spec.zones != [zone.clone()] || spec.zone.is_some())
    {
        spec_patch.insert("zones".into(), json!([zone]));
        spec_patch.insert("zone".into(), Value::Null);
    }
    let labels = existing.metadata.labels.clone().unwrap_or_default();
    let label_patch: Map<String, Value> = registration
        .labels
        .iter()
        .filter(|(k, v)| labels.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();

    let mut metadata = Map::new();
    if !label_patch.is_empty() {
        metadata.insert("labels".into(), Value::Object(label_patch));
    }
    let advertised = existing.annotations().get(ESTIMATOR_ADDRESS_ANNOTATION);
    if advertised != registration.estimator_address.as_ref() {
        metadata.insert(
            "annotations".into(),
            json!({ESTIMATOR_ADDRESS_ANNOTATION: registration.estimator_address}),
        );
    }
    let mut patch = Map::new();
    if !metadata.is_empty() {
        patch.insert("metadata".into(), Value::Object(metadata));
    }
    if !spec_patch.is_empty() {
        patch.insert("spec".into(), Value::Object(spec_patch));
    }
    Ok((!patch.is_empty()).then_some(Value::Object(patch)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> Registration {
        let mut r = Registration::new("member1", "https://10.0.0.1:6443");
        r.region = Some("eu-west".into());
        r.zone = Some("eu-west-1a".into());
        r.labels = BTreeMap::from([("team".into(), "blue".into())]);
        r
    }

    fn cluster(spec: &Value, labels: &Value) -> Cluster {
        serde_json::from_value(json!({
            "apiVersion": "cluster.karmada.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": "member1", "labels": labels},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn fresh_registration_is_a_pull_cluster_with_topology() {
        let c = desired(&registration());
        assert_eq!(c.spec.sync_mode, ClusterSyncMode::Pull);
        assert_eq!(
            c.spec.api_endpoint.as_deref(),
            Some("https://10.0.0.1:6443")
        );
        assert_eq!(c.spec.zones, ["eu-west-1a"]);
        assert_eq!(c.spec.region.as_deref(), Some("eu-west"));
        assert_eq!(c.spec.provider, None);
        assert_eq!(c.metadata.labels.unwrap()["team"], "blue");
    }

    #[test]
    fn adoption_patches_only_what_differs() {
        let in_sync = json!({"syncMode": "Pull", "apiEndpoint": "https://10.0.0.1:6443",
                             "region": "eu-west", "zones": ["eu-west-1a"], "provider": "aws"});
        for (spec, labels, want) in [
            (in_sync.clone(), json!({"team": "blue", "other": "x"}), None),
            (
                in_sync,
                json!({"team": "red"}),
                Some(json!({"metadata": {"labels": {"team": "blue"}}})),
            ),
            (
                json!({"syncMode": "Pull", "apiEndpoint": "https://old:6443",
                       "region": "us-east", "zone": "eu-west-1a"}),
                json!({"team": "blue"}),
                Some(json!({"spec": {"apiEndpoint": "https://10.0.0.1:6443",
                                     "region": "eu-west", "zones": ["eu-west-1a"], "zone": null}})),
            ),
        ] {
            let got = adoption_patch(&cluster(&spec, &labels), &registration()).unwrap();
            assert_eq!(got, want, "{spec}");
        }
    }

    #[test]
    fn the_estimator_address_is_advertised_and_withdrawn() {
        let mut serving = registration();
        serving.estimator_address = Some("10.0.0.1:10352".into());
        let fresh = desired(&serving);
        assert_eq!(
            fresh.annotations()[ESTIMATOR_ADDRESS_ANNOTATION],
            "10.0.0.1:10352"
        );
        let spec = json!({"syncMode": "Pull", "apiEndpoint": "https://10.0.0.1:6443",
                          "region": "eu-west", "zones": ["eu-west-1a"]});
        let plain = cluster(&spec, &json!({"team": "blue"}));
        assert_eq!(
            adoption_patch(&plain, &serving).unwrap(),
            Some(
                json!({"metadata": {"annotations": {ESTIMATOR_ADDRESS_ANNOTATION: "10.0.0.1:10352"}}})
            )
        );
        assert_eq!(adoption_patch(&fresh, &serving).unwrap(), None);
        // An agent restarted without the estimator withdraws the address.
        let mut advertised = plain;
        advertised.metadata.annotations = fresh.metadata.annotations;
        assert_eq!(
            adoption_patch(&advertised, &registration()).unwrap(),
            Some(json!({"metadata": {"annotations": {ESTIMATOR_ADDRESS_ANNOTATION: null}}}))
        );
    }

    #[test]
    fn push_clusters_are_refused() {
        let push = cluster(&json!({"syncMode": "Push"}), &json!({}));
        let err = adoption_patch(&push, &registration()).unwrap_err();
        assert!(matches!(err, Error::PushMode { .. }));
        assert!(!err.is_transient());
        assert!(err.to_string().contains("Push mode"), "{err}");
    }

    #[test]
    fn registration_periods_are_checked() {
        let mut r = registration();
        assert!(r.validate().is_ok());
        r.lease_renew_period = r.lease_duration;
        let err = r.validate().unwrap_err();
        assert!(
            err.to_string().contains("shorter than the lease duration"),
            "{err}"
        );
        r.lease_renew_period = Duration::ZERO;
        assert!(r.validate().is_err());
    }
}
