//! The Service controller: gives Services their ClusterIP, nodePorts and load-balancer address,
//! and keeps the `default/kubernetes` Service in place.

mod allocator;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use karmada_runtime::events::Recorder;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::member::runtime::{self, Context};
use allocator::{Allocation, Cidr, CidrError, Exhausted, Pools, Used, Want};

/// Where Services get their addresses and ports from.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// ClusterIPs come from here (IPv4 CIDR such as 10.96.0.0/16).
    pub service_cidr: String,
    pub node_port_range: RangeInclusive<u16>,
    /// Load-balancer ingress IPs come from these CIDRs, in order.
    pub load_balancer_pool: Vec<String>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            service_cidr: "10.96.0.0/16".into(),
            node_port_range: 30000..=32767,
            load_balancer_pool: vec!["172.30.0.0/24".into()],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid service configuration: {0}")]
    Config(#[from] CidrError),
    #[error("service {service}: {source}")]
    Exhausted {
        service: String,
        #[source]
        source: Exhausted,
    },
    #[error("writing allocation of service {service}")]
    Write {
        service: String,
        #[source]
        source: kube::Error,
    },
}

struct Shared {
    pools: Pools,
    services: Store<Service>,
    /// Allocations written but maybe not yet in the store, by service key; the objects stay the
    /// truth, this only covers the store's lag behind our own patches.
    recent: Mutex<HashMap<String, Allocation>>,
    recorder: Recorder,
}

/// Runs the Service controller until `ctx.cancel` fires.
pub async fn run(ctx: Arc<Context>, config: ServiceConfig) -> Result<(), Error> {
    let pools = Pools {
        service_cidr: Cidr::parse(&config.service_cidr)?,
        node_ports: config.node_port_range.clone(),
        load_balancer: config
            .load_balancer_pool
            .iter()
            .map(|c| Cidr::parse(c))
            .collect::<Result<_, _>>()?,
    };
    let client = ctx.client.clone();
    ensure_kubernetes_service(&client).await;
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let shared = Arc::new(Shared {
        pools,
        services: controller.store(),
        recent: Mutex::new(HashMap::new()),
        recorder: Recorder::new(client, ctx.reporter.clone()),
    });
    let reconcile = move |svc: Arc<Service>, ctx: Arc<Context>| {
        let shared = shared.clone();
        async move { reconcile(&svc, &ctx, &shared).await }
    };
    runtime::run(controller, ctx, reconcile, Duration::from_secs(5)).await;
    Ok(())
}

/// Creates `default/kubernetes`; the controller then gives it the reserved first address.
async fn ensure_kubernetes_service(client: &kube::Client) {
    let svc = Service {
        metadata: ObjectMeta {
            name: Some("kubernetes".into()),
            namespace: Some("default".into()),
            labels: Some(
                [
                    ("component".to_string(), "apiserver".to_string()),
                    ("provider".to_string(), "kubernetes".to_string()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            ports: Some(vec![ServicePort {
                name: Some("https".into()),
                port: 443,
                protocol: Some("TCP".into()),
                target_port: Some(IntOrString::Int(6443)),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let api: Api<Service> = Api::namespaced(client.clone(), "default");
    match api.create(&PostParams::default(), &svc).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => tracing::warn!(error = %e, "cannot create the default/kubernetes service"),
    }
}

fn key(svc: &Service) -> String {
    format!("{}/{}", svc.namespace().unwrap_or_default(), svc.name_any())
}

fn service_type(svc: &Service) -> &str {
    svc.spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("ClusterIP")
}

fn cluster_ip(svc: &Service) -> Option<&str> {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .filter(|ip| !ip.is_empty())
}

fn needs_node_ports(svc: &Service) -> bool {
    matches!(service_type(svc), "NodePort" | "LoadBalancer")
}

fn lb_ips(svc: &Service) -> impl Iterator<Item = Ipv4Addr> + '_ {
    svc.status
        .iter()
        .flat_map(|s| s.load_balancer.iter())
        .flat_map(|lb| lb.ingress.iter().flatten())
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
}

/// What a Service still lacks.
fn want(svc: &Service) -> Want {
    let ty = service_type(svc);
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
    Want {
        cluster_ip: ty != "ExternalName" && cluster_ip(svc).is_none(),
        is_kubernetes: key(svc) == "default/kubernetes",
        node_ports: if needs_node_ports(svc) {
            ports
                .into_iter()
                .flatten()
                .filter(|p| p.node_port.is_none_or(|n| n == 0))
                .count()
        } else {
            0
        },
        load_balancer_ip: ty == "LoadBalancer" && lb_ips(svc).next().is_none(),
    }
}

fn add_used(used: &mut Used, svc: &Service) {
    if let Some(ip) = cluster_ip(svc).and_then(|ip| ip.parse().ok()) {
        used.cluster_ips.insert(ip);
    }
    if needs_node_ports(svc) {
        let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
        used.node_ports.extend(
            ports
                .into_iter()
                .flatten()
                .filter_map(|p| u16::try_from(p.node_port?).ok()),
        );
    }
    used.load_balancer_ips.extend(lb_ips(svc));
}

fn add_allocation(used: &mut Used, a: &Allocation) {
    used.cluster_ips.extend(a.cluster_ip);
    used.node_ports.extend(a.node_ports.iter().copied());
    used.load_balancer_ips.extend(a.load_balancer_ip);
}

impl Want {
    fn any(&self) -> bool {
        self.cluster_ip || self.node_ports > 0 || self.load_balancer_ip
    }
}

/// Picks what `svc` lacks given everything the store and our recent writes hold. A service
/// whose earlier allocation the store does not show yet gets that same allocation again.
fn plan(svc: &Service, shared: &Shared) -> Result<Allocation, Exhausted> {
    let name = key(svc);
    let wanted = want(svc);
    let mut recent = shared.recent.lock().unwrap_or_else(PoisonError::into_inner);
    let services = shared.services.state();
    let mut used = Used::default();
    let mut pending = std::collections::HashSet::new();
    for s in &services {
        add_used(&mut used, s);
        if want(s).any() {
            pending.insert(key(s));
        }
    }
    // Once the store shows a write (or the service is gone) the object itself is the record.
    recent.retain(|k, _| pending.contains(k));
    if let Some(previous) = recent.get(&name) {
        return Ok(previous.clone());
    }
    for a in recent.values() {
        add_allocation(&mut used, a);
    }
    let allocation = allocator::allocate(&wanted, &used, &shared.pools)?;
    recent.insert(name, allocation.clone());
    Ok(allocation)
}

async fn reconcile(svc: &Service, ctx: &Context, shared: &Shared) -> Result<Action, Error> {
    if svc.metadata.deletion_timestamp.is_some() || !want(svc).any() {
        return Ok(Action::await_change());
    }
    let name = key(svc);
    let allocation = match plan(svc, shared) {
        Ok(a) => a,
        Err(source) => {
            runtime::record(
                &shared.recorder,
                svc,
                EventType::Warning,
                "AllocationFailed",
                format!("Failed to allocate: {source}"),
            )
            .await;
            return Err(Error::Exhausted {
                service: name,
                source,
            });
        }
    };
    let result = write(svc, ctx, &allocation).await;
    if result.is_err() {
        // A failed write allocated nothing; the retry plans afresh.
        shared
            .recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&name);
    }
    result.map_err(|source| Error::Write {
        service: name,
        source,
    })?;
    Ok(Action::await_change())
}

/// The merge patch setting the ClusterIP and the missing nodePorts, if any is needed.
fn spec_patch(svc: &Service, a: &Allocation) -> Option<serde_json::Value> {
    let mut spec = serde_json::Map::new();
    if let Some(ip) = a.cluster_ip {
        spec.insert("clusterIP".into(), json!(ip.to_string()));
        spec.insert("clusterIPs".into(), json!([ip.to_string()]));
    }
    if !a.node_ports.is_empty() {
        let mut free = a.node_ports.iter();
        let ports: Vec<ServicePort> = svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|mut p| {
                if p.node_port.is_none_or(|n| n == 0) {
                    p.node_port = free.next().map(|n| i32::from(*n));
                }
                p
            })
            .collect();
        spec.insert("ports".into(), json!(ports));
    }
    (!spec.is_empty()).then(|| json!({ "spec": spec }))
}

async fn write(svc: &Service, ctx: &Context, a: &Allocation) -> Result<(), kube::Error> {
    let api: Api<Service> =
        Api::namespaced(ctx.client.clone(), &svc.namespace().unwrap_or_default());
    let name = svc.name_any();
    let params = PatchParams::default();
    if let Some(patch) = spec_patch(svc, a) {
        api.patch(&name, &params, &Patch::Merge(&patch)).await?;
    }
    if let Some(ip) = a.load_balancer_ip {
        let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip.to_string(), "ipMode": "VIP"}]}}});
        api.patch_status(&name, &params, &Patch::Merge(&status))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(value: serde_json::Value) -> Service {
        serde_json::from_value(value).expect("service")
    }

    #[test]
    fn what_services_lack() {
        let cases = [
            (
                json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"ports": [{"port": 80}]}}),
                (true, false, 0, false),
            ),
            (
                json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"clusterIP": ""}}),
                (true, false, 0, false),
            ),
            (
                json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"clusterIP": "None"}}),
                (false, false, 0, false),
            ),
            (
                json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"type": "ExternalName", "externalName": "e.com"}}),
                (false, false, 0, false),
            ),
            (
                json!({"metadata": {"name": "kubernetes", "namespace": "default"}, "spec": {}}),
                (true, true, 0, false),
            ),
            (
                json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"type": "NodePort", "clusterIP": "10.0.0.9", "ports": [{"port": 80, "nodePort": 30001}, {"port": 81}]}}),
                (false, false, 1, false),
            ),
            (
                json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.9", "ports": [{"port": 80, "nodePort": 30001}]}, "status": {"loadBalancer": {"ingress": [{"ip": "172.30.0.1"}]}}}),
                (false, false, 0, false),
            ),
            (
                json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
                (true, false, 1, true),
            ),
        ];
        for (object, (ip, kube, ports, lb)) in cases {
            let w = want(&svc(object.clone()));
            assert_eq!(
                (
                    w.cluster_ip,
                    w.is_kubernetes,
                    w.node_ports,
                    w.load_balancer_ip
                ),
                (ip, kube, ports, lb),
                "{object}"
            );
        }
    }

    #[test]
    fn spec_patch_fills_only_missing_node_ports() {
        let s = svc(
            json!({"metadata": {"name": "a"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30005}, {"port": 81}]}}),
        );
        let a = Allocation {
            cluster_ip: Some(Ipv4Addr::new(10, 0, 0, 2)),
            node_ports: vec![30000],
            load_balancer_ip: None,
        };
        let patch = spec_patch(&s, &a).expect("patch");
        assert_eq!(patch["spec"]["clusterIPs"], json!(["10.0.0.2"]));
        assert_eq!(patch["spec"]["ports"][0]["nodePort"], json!(30005));
        assert_eq!(patch["spec"]["ports"][1]["nodePort"], json!(30000));
        assert!(spec_patch(&s, &Allocation::default()).is_none());
    }
}
