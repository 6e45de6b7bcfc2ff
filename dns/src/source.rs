//! The federation as the DNS sees it: watches of the Clusters, ServiceImports, the
//! EndpointSlices agents report, Services and their ResourceBindings, turned into a new
//! [`Snapshot`] after every change (no polling).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Service as KubeService;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use karmada_api::cluster::Cluster as KubeCluster;
use karmada_api::mcs::{self, ServiceImport, ServiceImportType};
use karmada_api::work::binding::ResourceBinding;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::model::{
    Backend, Cluster, Endpoint, Global, Policy, Port, Protocol, Published, Service, Snapshot,
};

/// LoadBalancer ingress IPs of each exported Service's copies, by `(namespace, name)`, then by
/// cluster: what the ResourceBindings of Services report.
pub type Ingresses = BTreeMap<(String, String), BTreeMap<String, Vec<IpAddr>>>;

/// Everything a snapshot is built from.
#[derive(Default)]
pub struct Objects {
    pub clusters: Vec<Arc<KubeCluster>>,
    pub imports: Vec<Arc<ServiceImport>>,
    /// The EndpointSlices agents reported (in the clusters' execution namespaces).
    pub slices: Vec<Arc<EndpointSlice>>,
    /// The federation's Service templates.
    pub services: Vec<Arc<KubeService>>,
    pub ingresses: Ingresses,
}

/// A snapshot and the configuration problems found building it (each worth one log line).
#[derive(Debug, Default, PartialEq)]
pub struct Built {
    pub snapshot: Snapshot,
    pub problems: BTreeSet<String>,
}

/// Builds the snapshot: clusters with their readiness and region; every Service with a
/// ServiceImport, with the slices each cluster reported for it; every global name.
pub fn build(objects: &Objects) -> Built {
    let mut built = Built::default();
    for cluster in &objects.clusters {
        built.snapshot.clusters.insert(
            cluster.name_any(),
            Cluster {
                ready: cluster.is_ready(),
                region: cluster.spec.region.clone(),
            },
        );
    }
    for import in &objects.imports {
        let (Some(namespace), name) = (import.namespace(), import.name_any()) else {
            continue;
        };
        let ports = import
            .spec
            .ports
            .iter()
            .filter_map(|p| {
                Some(Port {
                    name: p.name.clone().filter(|n| !n.is_empty()),
                    protocol: Protocol::from_kubernetes(p.protocol.as_deref()),
                    port: u16::try_from(p.port).ok()?,
                })
            })
            .collect();
        let what = format!("ServiceImport {namespace}/{name}");
        let policy = policy(import.annotations(), &what, &mut built.problems);
        built.snapshot.services.insert(
            (namespace, name),
            Service {
                headless: import.spec.type_ == ServiceImportType::Headless,
                ports,
                policy,
                backends: BTreeMap::new(),
            },
        );
    }
    for slice in &objects.slices {
        let labels = slice.labels();
        let (Some(cluster), Some(namespace), Some(name)) = (
            labels.get(mcs::LABEL_SOURCE_CLUSTER),
            labels.get(mcs::LABEL_SERVICE_NAMESPACE),
            labels.get(mcs::LABEL_SERVICE_NAME),
        ) else {
            continue;
        };
        let Some(service) = built
            .snapshot
            .services
            .get_mut(&(namespace.clone(), name.clone()))
        else {
            continue;
        };
        let backend = service.backends.entry(cluster.clone()).or_default();
        add_slice(backend, slice, &mut built.problems);
    }
    globals(objects, &mut built);
    built
}

/// Adds one reported slice's endpoints (and the Service IPs it carries) to `backend`.
fn add_slice(backend: &mut Backend, slice: &EndpointSlice, problems: &mut BTreeSet<String>) {
    if let Some(ips) = slice.annotations().get(mcs::ANNOTATION_SERVICE_IPS) {
        for ip in ips.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match ip.parse::<IpAddr>() {
                Ok(ip) if !backend.service_ips.contains(&ip) => backend.service_ips.push(ip),
                Ok(_) => {}
                Err(_) => {
                    problems.insert(format!(
                        "EndpointSlice {}/{}: {ip:?} in {} is not an IP address",
                        slice.namespace().unwrap_or_default(),
                        slice.name_any(),
                        mcs::ANNOTATION_SERVICE_IPS
                    ));
                }
            }
        }
    }
    let ports: Vec<Port> = slice
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(Port {
                name: p.name.clone().filter(|n| !n.is_empty()),
                protocol: Protocol::from_kubernetes(p.protocol.as_deref()),
                port: u16::try_from(p.port?).ok()?,
            })
        })
        .collect();
    for endpoint in &slice.endpoints {
        let addresses = endpoint
            .addresses
            .iter()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .collect();
        backend.endpoints.push(Endpoint {
            addresses,
            // Kubernetes: an absent ready condition means ready.
            ready: endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true),
            hostname: endpoint.hostname.clone(),
            ports: ports.clone(),
        });
    }
}

/// The global names: a Service template annotated with `dns.karmada.io/global-name` is
/// published under that name; any other LoadBalancer Service as `<name>.<namespace>`. Each
/// cluster contributes its copy's LoadBalancer ingress IPs.
fn globals(objects: &Objects, built: &mut Built) {
    let mut services: Vec<&KubeService> = objects.services.iter().map(Arc::as_ref).collect();
    services.sort_by_key(|s| (s.namespace(), s.name_any()));
    for service in services {
        let (Some(namespace), name) = (service.namespace(), service.name_any()) else {
            continue;
        };
        let annotated = service
            .annotations()
            .get(mcs::dns::GLOBAL_NAME)
            .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.is_empty());
        let load_balancer =
            service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
        let global = match annotated {
            Some(global) => global,
            None if load_balancer => format!("{name}.{namespace}").to_ascii_lowercase(),
            None => continue,
        };
        let what = format!("Service {namespace}/{name}");
        if built.snapshot.globals.contains_key(&global) {
            built.problems.insert(format!(
                "{what}: the global name {global:?} is already taken by another Service; ignored"
            ));
            continue;
        }
        let policy = policy(service.annotations(), &what, &mut built.problems);
        let backends = objects
            .ingresses
            .get(&(namespace, name))
            .cloned()
            .unwrap_or_default();
        built
            .snapshot
            .globals
            .insert(global, Global { policy, backends });
    }
}

/// The answer policy the annotations of `what` ask for; round-robin when they ask for nothing
/// or for something that cannot be done (recorded in `problems`).
fn policy(
    annotations: &BTreeMap<String, String>,
    what: &str,
    problems: &mut BTreeSet<String>,
) -> Policy {
    match annotations.get(mcs::dns::POLICY).map(|p| p.trim()) {
        None | Some("" | "round-robin") => Policy::RoundRobin,
        Some("weighted") => Policy::Weighted,
        Some("nearest") => Policy::Nearest,
        Some("failover") => {
            let order: Vec<String> = annotations
                .get(mcs::dns::FAILOVER_ORDER)
                .map(|o| {
                    o.split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            if order.is_empty() {
                problems.insert(format!(
                    "{what}: policy failover needs the clusters in order in {}; answering round-robin",
                    mcs::dns::FAILOVER_ORDER
                ));
                Policy::RoundRobin
            } else {
                Policy::Failover(order)
            }
        }
        Some(other) => {
            problems.insert(format!(
                "{what}: unknown {} {other:?} (use round-robin, weighted, failover or nearest); answering round-robin",
                mcs::dns::POLICY
            ));
            Policy::RoundRobin
        }
    }
}

/// The LoadBalancer ingress IPs per cluster a Service's binding reports, `None` when the
/// binding is not a Service's.
/// A Service's `(namespace, name)` with its ingress IPs by cluster.
type Ingress = ((String, String), BTreeMap<String, Vec<IpAddr>>);

fn ingress_of(binding: &ResourceBinding) -> Option<Ingress> {
    let resource = &binding.spec.resource;
    if resource.api_version != "v1" || resource.kind != "Service" {
        return None;
    }
    let key = (resource.namespace.clone()?, resource.name.clone());
    let mut per_cluster = BTreeMap::new();
    for item in binding.status.iter().flat_map(|s| &s.aggregated_status) {
        let ips: Vec<IpAddr> = item
            .status
            .as_ref()
            .and_then(|s| s.pointer("/loadBalancer/ingress"))
            .and_then(|i| i.as_array())
            .into_iter()
            .flatten()
            .filter_map(|i| i.get("ip")?.as_str()?.parse().ok())
            .collect();
        if !ips.is_empty() {
            per_cluster.insert(item.cluster_name.clone(), ips);
        }
    }
    Some((key, per_cluster))
}

/// Why the federation could not be watched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the federation's {kind} could not be listed: {reason}")]
    Sync { kind: &'static str, reason: String },
}

/// Watches the federation and keeps `published` current: returns once every watch has listed
/// once and the first snapshot is published, with the future that keeps it current (until
/// `cancel`).
pub async fn start(
    client: Client,
    published: Arc<Published>,
    cancel: CancellationToken,
) -> Result<impl Future<Output = ()> + Send + 'static, Error> {
    let (bump, mut changes) = watch::channel(0_u64);
    let (clusters, clusters_driver) = reflect::<KubeCluster>(
        Api::all(client.clone()),
        watcher::Config::default(),
        bump.clone(),
    );
    let (imports, imports_driver) = reflect::<ServiceImport>(
        Api::all(client.clone()),
        watcher::Config::default(),
        bump.clone(),
    );
    let reported = watcher::Config::default().labels(&format!(
        "endpointslice.kubernetes.io/managed-by={}",
        mcs::REPORTER
    ));
    let (slices, slices_driver) =
        reflect::<EndpointSlice>(Api::all(client.clone()), reported, bump.clone());
    let (services, services_driver) = reflect::<KubeService>(
        Api::all(client.clone()),
        watcher::Config::default(),
        bump.clone(),
    );
    let ingresses = Arc::new(Mutex::new(Ingresses::new()));
    let (ingresses_synced, bindings_driver) =
        watch_ingresses(Api::all(client), Arc::clone(&ingresses), bump);
    let drivers = futures::future::join5(
        clusters_driver,
        imports_driver,
        slices_driver,
        services_driver,
        bindings_driver,
    );
    let drivers = tokio::spawn(Box::pin(drivers));
    let stores_ready = async {
        let waits = [
            ("Clusters", clusters.wait_until_ready().await.is_ok()),
            ("ServiceImports", imports.wait_until_ready().await.is_ok()),
            ("EndpointSlices", slices.wait_until_ready().await.is_ok()),
            ("Services", services.wait_until_ready().await.is_ok()),
            ("ResourceBindings", ingresses_synced.await.is_ok()),
        ];
        match waits.into_iter().find(|(_, ok)| !ok) {
            Some((kind, _)) => Err(Error::Sync {
                kind,
                reason: "the watch ended before it listed".into(),
            }),
            None => Ok(()),
        }
    };
    tokio::select! {
        ready = stores_ready => ready?,
        () = cancel.cancelled() => {
            drivers.abort();
            return Err(Error::Sync { kind: "objects", reason: "stopped before the first list".into() });
        }
    }
    let snapshot = move || Objects {
        clusters: clusters.state(),
        imports: imports.state(),
        slices: slices.state(),
        services: services.state(),
        ingresses: ingresses.lock().map(|i| i.clone()).unwrap_or_default(),
    };
    let mut logged = HashSet::new();
    let mut publish = move || {
        let built = build(&snapshot());
        for problem in built.problems {
            if logged.insert(problem.clone()) {
                tracing::warn!("{problem}");
            }
        }
        published.store(built.snapshot);
    };
    publish();
    changes.mark_unchanged();
    Ok(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                changed = changes.changed() => if changed.is_err() { break },
            }
            // Everything that changed meanwhile is in the stores already: one rebuild covers it.
            changes.mark_unchanged();
            publish();
        }
        drivers.abort();
    })
}

/// A reflector of `K` whose every event bumps `bump`.
fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    bump: watch::Sender<u64>,
) -> (Store<K>, impl Future<Output = ()> + Send + 'static)
where
    K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (store, writer) = reflector::store::<K>();
    let driver = reflector::reflector(writer, watcher(api, config))
        .default_backoff()
        .for_each(move |event| {
            if let Err(e) = &event {
                tracing::debug!(error = %e, "federation watch failed; retrying");
            }
            bump.send_modify(|n| *n = n.wrapping_add(1));
            futures::future::ready(())
        });
    (store, driver)
}

/// Watches the ResourceBindings, keeping only the LoadBalancer ingress of Services' copies
/// (a DNS need not hold every binding of the federation). The receiver resolves after the
/// first full list.
fn watch_ingresses(
    api: Api<ResourceBinding>,
    ingresses: Arc<Mutex<Ingresses>>,
    bump: watch::Sender<u64>,
) -> (
    tokio::sync::oneshot::Receiver<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (synced, synced_rx) = tokio::sync::oneshot::channel();
    let mut synced = Some(synced);
    let mut listing = Ingresses::new();
    let events = watcher(api, watcher::Config::default()).default_backoff();
    let driver = drive(events, move |event| {
        let Ok(mut current) = ingresses.lock() else {
            return;
        };
        match event {
            watcher::Event::Init => listing.clear(),
            watcher::Event::InitApply(binding) => {
                if let Some((key, ips)) = ingress_of(&binding) {
                    listing.insert(key, ips);
                }
            }
            watcher::Event::InitDone => {
                *current = std::mem::take(&mut listing);
                if let Some(synced) = synced.take() {
                    let _ = synced.send(());
                }
            }
            watcher::Event::Apply(binding) => {
                if let Some((key, ips)) = ingress_of(&binding) {
                    current.insert(key, ips);
                }
            }
            watcher::Event::Delete(binding) => {
                if let Some((key, _)) = ingress_of(&binding) {
                    current.remove(&key);
                }
            }
        }
        bump.send_modify(|n| *n = n.wrapping_add(1));
    });
    (synced_rx, driver)
}

/// Feeds every successful event of `events` to `handle`, logging failures (the stream retries
/// them with backoff).
async fn drive<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    mut handle: impl FnMut(watcher::Event<K>) + Send,
) {
    futures::pin_mut!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => handle(event),
            Err(e) => tracing::debug!(error = %e, "federation watch failed; retrying"),
        }
    }
}

#[cfg(test)]
mod tests;
