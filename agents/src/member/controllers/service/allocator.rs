//! Pure address and port allocation for Services: which ClusterIP, nodePorts and load-balancer
//! IP a Service still needs, given everything already in use.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

/// An IPv4 CIDR such as `10.96.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: u32,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{cidr:?} is not an IPv4 CIDR with a prefix between /8 and /30 (like 10.96.0.0/16)")]
pub struct CidrError {
    pub cidr: String,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let invalid = || CidrError { cidr: s.into() };
        let (addr, prefix) = s.split_once('/').ok_or_else(invalid)?;
        let addr: Ipv4Addr = addr.trim().parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.trim().parse().map_err(|_| invalid())?;
        // Narrower than /30 leaves no usable host besides network and broadcast.
        if !(8..=30).contains(&prefix) {
            return Err(invalid());
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Cidr {
            network: u32::from(addr) & mask,
            prefix,
        })
    }

    /// Usable host addresses, lowest first: never the network or broadcast address.
    pub fn hosts(self) -> impl Iterator<Item = Ipv4Addr> {
        let size = 1u32 << (32 - self.prefix);
        (self.network + 1..self.network + size - 1).map(Ipv4Addr::from)
    }

    /// The first usable address, reserved for the `default/kubernetes` Service.
    pub fn first_usable(self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }
}

/// Where Services get their addresses and ports from.
#[derive(Debug, Clone)]
pub struct Pools {
    pub service_cidr: Cidr,
    pub node_ports: RangeInclusive<u16>,
    pub load_balancer: Vec<Cidr>,
}

/// Everything already allocated, across all Services.
#[derive(Debug, Default, Clone)]
pub struct Used {
    pub cluster_ips: HashSet<Ipv4Addr>,
    pub node_ports: HashSet<u16>,
    pub load_balancer_ips: HashSet<Ipv4Addr>,
}

/// What a Service needs, as the allocator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// Needs a ClusterIP (ClusterIP/NodePort/LoadBalancer without one; not headless).
    pub cluster_ip: bool,
    /// The Service is `default/kubernetes`, which owns the first usable address.
    pub is_kubernetes: bool,
    /// Number of ports needing a nodePort.
    pub node_ports: usize,
    /// Needs a load-balancer ingress IP.
    pub load_balancer_ip: bool,
}

/// What was allocated for one Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation {
    pub cluster_ip: Option<Ipv4Addr>,
    pub node_ports: Vec<u16>,
    pub load_balancer_ip: Option<Ipv4Addr>,
}

/// Which pool ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exhausted {
    #[error("no free ClusterIP left in the service CIDR")]
    ClusterIp,
    #[error("no free nodePort left in the node port range")]
    NodePort,
    #[error("no free address left in the load-balancer pool")]
    LoadBalancer,
}

/// Allocates the lowest free values for what `want` asks, or says which pool is exhausted.
/// Nothing is taken from `used`; the caller records the result once it is written.
pub fn allocate(want: &Want, used: &Used, pools: &Pools) -> Result<Allocation, Exhausted> {
    let mut out = Allocation::default();
    if want.cluster_ip {
        let reserved = pools.service_cidr.first_usable();
        let ip = if want.is_kubernetes && !used.cluster_ips.contains(&reserved) {
            Some(reserved)
        } else {
            pools
                .service_cidr
                .hosts()
                .find(|ip| *ip != reserved && !used.cluster_ips.contains(ip))
        };
        out.cluster_ip = Some(ip.ok_or(Exhausted::ClusterIp)?);
    }
    let mut ports = pools
        .node_ports
        .clone()
        .filter(|p| !used.node_ports.contains(p));
    for _ in 0..want.node_ports {
        out.node_ports
            .push(ports.next().ok_or(Exhausted::NodePort)?);
    }
    if want.load_balancer_ip {
        let ip = pools
            .load_balancer
            .iter()
            .flat_map(|c| c.hosts())
            .find(|ip| !used.load_balancer_ips.contains(ip));
        out.load_balancer_ip = Some(ip.ok_or(Exhausted::LoadBalancer)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools(cidr: &str, ports: RangeInclusive<u16>, lb: &[&str]) -> Pools {
        Pools {
            service_cidr: Cidr::parse(cidr).expect("cidr"),
            node_ports: ports,
            load_balancer: lb.iter().map(|c| Cidr::parse(c).expect("lb")).collect(),
        }
    }

    fn ips(list: &[&str]) -> HashSet<Ipv4Addr> {
        list.iter().map(|s| s.parse().expect("ip")).collect()
    }

    fn want(cluster_ip: bool, kubernetes: bool, node_ports: usize, lb: bool) -> Want {
        Want {
            cluster_ip,
            is_kubernetes: kubernetes,
            node_ports,
            load_balancer_ip: lb,
        }
    }

    #[test]
    fn parses_cidrs() {
        let c = Cidr::parse("10.96.3.4/16").expect("cidr");
        assert_eq!(c.first_usable(), Ipv4Addr::new(10, 96, 0, 1));
        for bad in [
            "10.96.0.0",
            "10.96.0.0/31",
            "x/16",
            "10.96.0.0/abc",
            "10.96.0.0/7",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        let hosts: Vec<_> = Cidr::parse("10.0.0.0/30").expect("cidr").hosts().collect();
        assert_eq!(
            hosts,
            [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
    }

    #[test]
    fn allocation_table() {
        let p = pools("10.0.0.0/29", 30000..=30002, &["172.30.0.0/30"]);
        let used = |c: &[&str], n: &[u16], l: &[&str]| Used {
            cluster_ips: ips(c),
            node_ports: n.iter().copied().collect(),
            load_balancer_ips: ips(l),
        };
        let ip = |s: &str| Some(s.parse::<Ipv4Addr>().expect("ip"));
        let cases: Vec<(&str, Want, Used, Result<Allocation, Exhausted>)> = vec![
            (
                "first service skips the reserved address",
                want(true, false, 0, false),
                Used::default(),
                Ok(Allocation {
                    cluster_ip: ip("10.0.0.2"),
                    ..Allocation::default()
                }),
            ),
            (
                "kubernetes gets the first usable address",
                want(true, true, 0, false),
                Used::default(),
                Ok(Allocation {
                    cluster_ip: ip("10.0.0.1"),
                    ..Allocation::default()
                }),
            ),
            (
                "lowest free hole is reused",
                want(true, false, 0, false),
                used(&["10.0.0.1", "10.0.0.3"], &[], &[]),
                Ok(Allocation {
                    cluster_ip: ip("10.0.0.2"),
                    ..Allocation::default()
                }),
            ),
            (
                "never the broadcast address",
                want(true, false, 0, false),
                used(
                    &["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"],
                    &[],
                    &[],
                ),
                Err(Exhausted::ClusterIp),
            ),
            (
                "node ports lowest free, one per port",
                want(false, false, 2, false),
                used(&[], &[30000], &[]),
                Ok(Allocation {
                    node_ports: vec![30001, 30002],
                    ..Allocation::default()
                }),
            ),
            (
                "node ports exhausted",
                want(false, false, 2, false),
                used(&[], &[30000, 30001], &[]),
                Err(Exhausted::NodePort),
            ),
            (
                "load balancer from the pool",
                want(true, false, 1, true),
                used(&[], &[], &["172.30.0.1"]),
                Ok(Allocation {
                    cluster_ip: ip("10.0.0.2"),
                    node_ports: vec![30000],
                    load_balancer_ip: ip("172.30.0.2"),
                }),
            ),
            (
                "load balancer pool exhausted",
                want(false, false, 0, true),
                used(&[], &[], &["172.30.0.1", "172.30.0.2"]),
                Err(Exhausted::LoadBalancer),
            ),
        ];
        for (name, w, u, expected) in cases {
            assert_eq!(allocate(&w, &u, &p), expected, "{name}");
        }
    }
}
