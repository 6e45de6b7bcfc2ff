//! What a pod occupies on a node: its effective resource requests and host ports, counted the
//! way kube-scheduler counts them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use karmada_apiserver::registry::quantity::{self, Quantity};

/// CPU assumed for a container without a CPU request when spreading (not when fitting).
const DEFAULT_CPU_MILLI: i128 = 100;
/// Memory assumed for a container without a memory request when spreading: 200Mi.
const DEFAULT_MEMORY: i128 = 200 * 1024 * 1024;

/// Why a pod's or node's resources could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid quantity {value:?} for resource {resource}: {source}")]
pub struct Error {
    pub resource: String,
    pub value: String,
    #[source]
    pub source: quantity::Error,
}

/// Amounts of schedulable resources. CPU is kept in whole millicores and everything else in
/// whole units, rounded up, as the scheduler's `MilliValue`/`Value` do.
#[derive(Clone, Debug, PartialEq)]
pub struct Resources {
    pub cpu: Quantity,
    pub memory: Quantity,
    pub ephemeral_storage: Quantity,
    /// Extended resources, hugepages and anything else besides `pods`.
    pub scalar: BTreeMap<String, Quantity>,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpu: Quantity::ZERO,
            memory: Quantity::ZERO,
            ephemeral_storage: Quantity::ZERO,
            scalar: BTreeMap::new(),
        }
    }
}

impl Resources {
    /// Reads a `requests`/`allocatable` map; `pods` is a count, not a resource, and is skipped.
    pub fn from_list(list: &BTreeMap<String, WireQuantity>) -> Result<Self, Error> {
        let mut out = Resources::default();
        for (name, value) in list {
            if name == "pods" {
                continue;
            }
            let q = Quantity::parse(&value.0).map_err(|source| Error {
                resource: name.clone(),
                value: value.0.clone(),
                source,
            })?;
            *out.slot(name) = normalize(name, q);
        }
        Ok(out)
    }

    fn slot(&mut self, name: &str) -> &mut Quantity {
        match name {
            "cpu" => &mut self.cpu,
            "memory" => &mut self.memory,
            "ephemeral-storage" => &mut self.ephemeral_storage,
            other => self
                .scalar
                .entry(other.to_string())
                .or_insert(Quantity::ZERO),
        }
    }

    /// The amount of resource `name`, zero when absent.
    pub fn get(&self, name: &str) -> Quantity {
        match name {
            "cpu" => self.cpu,
            "memory" => self.memory,
            "ephemeral-storage" => self.ephemeral_storage,
            other => self.scalar.get(other).copied().unwrap_or(Quantity::ZERO),
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.combine(other, |a, b| a + b);
    }

    pub fn sub(&mut self, other: &Resources) {
        self.combine(other, |a, b| a - b);
        self.scalar.retain(|_, q| !q.is_zero());
    }

    /// Raises every amount to at least `other`'s.
    pub fn max(&mut self, other: &Resources) {
        self.combine(other, |a, b| if b > a { b } else { a });
    }

    fn combine(&mut self, other: &Resources, f: impl Fn(Quantity, Quantity) -> Quantity) {
        self.cpu = f(self.cpu, other.cpu);
        self.memory = f(self.memory, other.memory);
        self.ephemeral_storage = f(self.ephemeral_storage, other.ephemeral_storage);
        for (name, q) in &other.scalar {
            let mine = self.scalar.entry(name.clone()).or_insert(Quantity::ZERO);
            *mine = f(*mine, *q);
        }
    }
}

/// Rounds like the scheduler: CPU up to a millicore, other resources up to a whole unit.
fn normalize(name: &str, q: Quantity) -> Quantity {
    if name == "cpu" {
        Quantity::from_milli(q.as_milli())
    } else {
        Quantity::from_milli(q.as_units() * 1000)
    }
}

/// A host port a container binds; it conflicts with the same port and protocol on an
/// overlapping address (`0.0.0.0` overlaps every address).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// Everything a pod takes from the node it lands on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Demand {
    /// What the fit filter compares against free allocatable.
    pub requests: Resources,
    /// CPU millicores counted for spreading: unset container requests count as 100m.
    pub spread_cpu_milli: i128,
    /// Memory bytes counted for spreading: unset container requests count as 200Mi.
    pub spread_memory: i128,
    pub host_ports: Vec<HostPort>,
}

impl Demand {
    /// What `pod` requests: the larger of its running containers (with sidecars) and its
    /// heaviest init container, plus the pod overhead.
    pub fn of(pod: &Pod) -> Result<Self, Error> {
        let Some(spec) = pod.spec.as_ref() else {
            return Ok(Demand::default());
        };
        let init = spec.init_containers.as_deref().unwrap_or_default();
        let requests = aggregate(&spec.containers, init, container_requests)?;
        let spread = aggregate(&spec.containers, init, |c| {
            let mut r = container_requests(c)?;
            let explicit = explicit_requests(c);
            if !explicit.contains_key("cpu") {
                r.cpu = Quantity::from_milli(DEFAULT_CPU_MILLI);
            }
            if !explicit.contains_key("memory") {
                r.memory = Quantity::from_milli(DEFAULT_MEMORY * 1000);
            }
            Ok(r)
        })?;
        let overhead = match spec.overhead.as_ref() {
            Some(o) => Resources::from_list(o)?,
            None => Resources::default(),
        };
        let mut total = requests;
        total.add(&overhead);
        let host_ports = spec
            .containers
            .iter()
            .chain(init.iter().filter(|c| is_sidecar(c)))
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let port = p.host_port.filter(|&p| p > 0)?;
                Some(HostPort {
                    ip: p
                        .host_ip
                        .clone()
                        .filter(|ip| !ip.is_empty())
                        .unwrap_or_else(|| "0.0.0.0".into()),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    port,
                })
            })
            .collect();
        Ok(Demand {
            requests: total,
            spread_cpu_milli: spread.cpu.as_milli() + overhead.cpu.as_milli(),
            spread_memory: spread.memory.as_units() + overhead.memory.as_units(),
            host_ports,
        })
    }
}

/// An init container with `restartPolicy: Always` keeps running beside the app containers.
fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// Combines container requests as the kubelet runs them: app containers and sidecars run
/// together; each ordinary init container runs alone beside the sidecars started before it.
fn aggregate(
    containers: &[Container],
    init: &[Container],
    requests: impl Fn(&Container) -> Result<Resources, Error>,
) -> Result<Resources, Error> {
    let mut running = Resources::default();
    for c in containers {
        running.add(&requests(c)?);
    }
    let mut sidecars = Resources::default();
    let mut peak_init = Resources::default();
    for c in init {
        let r = requests(c)?;
        let mut during = r.clone();
        if is_sidecar(c) {
            running.add(&r);
            sidecars.add(&r);
            during = sidecars.clone();
        } else {
            during.add(&sidecars);
        }
        peak_init.max(&during);
    }
    running.max(&peak_init);
    Ok(running)
}

/// The requests a container states; the apiserver defaults a missing request to its limit.
fn container_requests(c: &Container) -> Result<Resources, Error> {
    let Some(res) = c.resources.as_ref() else {
        return Ok(Resources::default());
    };
    let mut list = res.limits.clone().unwrap_or_default();
    list.extend(res.requests.clone().unwrap_or_default());
    Resources::from_list(&list)
}

fn explicit_requests(c: &Container) -> BTreeMap<String, WireQuantity> {
    let res = c.resources.as_ref();
    let mut list = res.and_then(|r| r.limits.clone()).unwrap_or_default();
    list.extend(res.and_then(|r| r.requests.clone()).unwrap_or_default());
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: &serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).expect("pod")
    }

    fn c(name: &str, cpu: &str, memory: &str) -> serde_json::Value {
        json!({"name": name, "resources": {"requests": {"cpu": cpu, "memory": memory}}})
    }

    #[test]
    fn requests_take_the_larger_of_containers_and_init_containers() {
        let cases = [
            (
                json!({"containers": [c("a", "1", "1Gi"), c("b", "500m", "1Gi")]}),
                1500,
                2,
            ),
            (
                json!({"containers": [c("a", "1", "1Gi")], "initContainers": [c("i", "2", "512Mi")]}),
                2000,
                1,
            ),
            (
                json!({"containers": [c("a", "1", "1Gi")], "overhead": {"cpu": "250m", "memory": "1Gi"}}),
                1250,
                2,
            ),
            // A sidecar runs beside the app and beside the init containers after it.
            (
                json!({"containers": [c("a", "1", "1Gi")], "initContainers": [
                    {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
                    c("i", "1500m", "1Gi")]}),
                2500,
                2,
            ),
        ];
        for (spec, cpu_milli, mem_gi) in cases {
            let d = Demand::of(&pod(&spec)).expect("demand");
            assert_eq!(d.requests.cpu.as_milli(), cpu_milli, "{spec}");
            assert_eq!(d.requests.memory.as_units(), mem_gi << 30, "{spec}");
        }
    }

    #[test]
    fn limits_stand_in_for_missing_requests_and_extended_resources_count() {
        let d = Demand::of(&pod(&json!({"containers": [{"name": "a", "resources": {
            "limits": {"cpu": "2", "example.com/gpu": "1"}, "requests": {"cpu": "1"}}}]})))
        .expect("demand");
        assert_eq!(d.requests.cpu.as_milli(), 1000);
        assert_eq!(d.requests.get("example.com/gpu").as_units(), 1);
        assert!(d.requests.memory.is_zero());
        // Spreading assumes defaults for what the pod leaves unset.
        assert_eq!(
            (d.spread_cpu_milli, d.spread_memory),
            (1000, DEFAULT_MEMORY)
        );
    }

    #[test]
    fn host_ports_and_invalid_quantities() {
        let d = Demand::of(&pod(&json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]}]})))
        .expect("demand");
        assert_eq!(
            d.host_ports,
            vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
        let other = HostPort {
            ip: "10.0.0.1".into(),
            ..d.host_ports[0].clone()
        };
        assert!(d.host_ports[0].conflicts(&other));
        let err = Demand::of(&pod(&json!({"containers": [c("a", "lots", "1Gi")]})))
            .expect_err("invalid cpu");
        assert!(err.to_string().contains("resource cpu"), "{err}");
    }
}
