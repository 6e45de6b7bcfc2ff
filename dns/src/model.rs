//! What the DNS answers from: a snapshot of the federation's clusters, exported Services and
//! global names, rebuilt from watches and swapped in whole, so a query never sees half an
//! update.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

/// The federation as the DNS sees it at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Every Cluster by name.
    pub clusters: BTreeMap<String, Cluster>,
    /// Every exported Service (one with a ServiceImport), by `(namespace, name)`.
    pub services: BTreeMap<(String, String), Service>,
    /// Every global name, by its name relative to the global zone, lowercase (`shop` for
    /// `shop.example.global`, `web.default` for `web.default.example.global`).
    pub globals: BTreeMap<String, Global>,
}

/// A member cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cluster {
    /// Its Ready condition is True. Nothing of a cluster that is not Ready is ever answered.
    pub ready: bool,
    /// `spec.region`, for the nearest-region policy.
    pub region: Option<String>,
}

/// An exported Service, with what each cluster reported for it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Service {
    /// `clusterIP: None`: names resolve to the ready endpoints themselves, and each endpoint
    /// with a hostname gets its own name. Otherwise each cluster's Service IPs are answered.
    pub headless: bool,
    /// The Service's ports, for SRV (a headless Service's SRV use the endpoints' ports).
    pub ports: Vec<Port>,
    pub policy: Policy,
    /// What each source cluster reported, by cluster name.
    pub backends: BTreeMap<String, Backend>,
}

/// One port of a Service or of endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// `None` for the unnamed single port (which has no SRV name).
    pub name: Option<String>,
    pub protocol: Protocol,
    pub port: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// From a Kubernetes protocol name (`TCP` when absent or unknown).
    pub fn from_kubernetes(name: Option<&str>) -> Protocol {
        match name {
            Some("UDP") => Protocol::Udp,
            Some("SCTP") => Protocol::Sctp,
            _ => Protocol::Tcp,
        }
    }

    /// The SRV label without its underscore: `tcp`, `udp`, `sctp`.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// What one cluster reported for an exported Service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Backend {
    /// The Service's ClusterIPs in that cluster (empty for a headless Service).
    pub service_ips: Vec<IpAddr>,
    /// Its endpoints, ready or not.
    pub endpoints: Vec<Endpoint>,
}

impl Backend {
    /// How many endpoints are ready.
    pub fn ready_endpoints(&self) -> usize {
        self.endpoints.iter().filter(|e| e.ready).count()
    }
}

/// One endpoint (a pod) of an exported Service.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub addresses: Vec<IpAddr>,
    /// Its `conditions.ready` (absent counts as ready, as Kubernetes says).
    pub ready: bool,
    /// Its `hostname`, which names it under a headless Service.
    pub hostname: Option<String>,
    /// The ports of the EndpointSlice it came from.
    pub ports: Vec<Port>,
}

/// How the clusters behind a name are chosen and ordered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Every eligible cluster, the order rotating from one answer to the next.
    #[default]
    RoundRobin,
    /// Every eligible cluster, ordered by a random draw weighted by ready endpoints.
    Weighted,
    /// Only the first eligible cluster of this list; when none of the list is eligible, every
    /// eligible cluster (round-robin).
    Failover(Vec<String>),
    /// The eligible clusters in the client's region (from EDNS Client Subnet, else the source
    /// address, through the configured prefix map); every eligible cluster when none is there.
    Nearest,
}

/// A global name (k8gb-style GSLB): a LoadBalancer Service's ingress IPs per cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Global {
    pub policy: Policy,
    /// Ingress IPs by cluster name.
    pub backends: BTreeMap<String, Vec<IpAddr>>,
}

/// The snapshot queries read, replaced whole by the watcher.
#[derive(Debug, Default)]
pub struct Published {
    current: RwLock<Arc<Snapshot>>,
}

impl Published {
    pub fn new(snapshot: Snapshot) -> Self {
        Published {
            current: RwLock::new(Arc::new(snapshot)),
        }
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Snapshot> {
        // A writer never panics while holding the lock (it only swaps an Arc), so a poisoned
        // lock still holds a whole snapshot.
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the snapshot.
    pub fn store(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        match self.current.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_snapshot_is_what_the_next_load_sees() {
        let published = Published::default();
        assert!(published.load().clusters.is_empty());
        let before = published.load();
        let mut next = Snapshot::default();
        next.clusters.insert(
            "member1".into(),
            Cluster {
                ready: true,
                region: None,
            },
        );
        published.store(next.clone());
        assert_eq!(*published.load(), next);
        // A reader holding the old snapshot keeps it whole.
        assert!(before.clusters.is_empty());
    }

    #[test]
    fn protocols_and_ready_counts() {
        assert_eq!(Protocol::from_kubernetes(None), Protocol::Tcp);
        assert_eq!(Protocol::from_kubernetes(Some("UDP")).label(), "udp");
        assert_eq!(Protocol::from_kubernetes(Some("SCTP")).label(), "sctp");
        let endpoint = |ready| Endpoint {
            addresses: vec!["10.0.0.1".parse().unwrap()],
            ready,
            hostname: None,
            ports: vec![],
        };
        let backend = Backend {
            service_ips: vec![],
            endpoints: vec![endpoint(true), endpoint(false), endpoint(true)],
        };
        assert_eq!(backend.ready_endpoints(), 2);
    }
}
