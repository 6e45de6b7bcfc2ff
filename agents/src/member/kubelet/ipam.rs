//! Address management for simulated nodes: each node's slice of the pod CIDR, its InternalIP,
//! and a per-node pool handing out pod IPs (freed ones are reused, lowest first).

use std::net::Ipv4Addr;

/// An IPv4 network, `10.244.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

/// Why an address plan cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("{0:?} is not an IPv4 CIDR such as 10.244.0.0/16")]
    Parse(String),
    #[error("{cidr} cannot hold {nodes} nodes: {reason}")]
    TooSmall {
        cidr: String,
        nodes: usize,
        reason: &'static str,
    },
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || Error::Parse(text.to_string());
        let (ip, prefix) = text.trim().split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        // Normalise host bits away so `10.1.2.3/16` means `10.1.0.0/16`, as Kubernetes does.
        let base = Ipv4Addr::from(u32::from(ip) & mask(prefix));
        Ok(Cidr { base, prefix })
    }

    /// How many addresses the network spans.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The `index`th address of the network (0 is the network address), if inside it.
    pub fn nth(&self, index: u64) -> Option<Ipv4Addr> {
        (index < self.size()).then(|| Ipv4Addr::from(u32::from(self.base) + index as u32))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.base)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// Splits `pod_cidr` into one subnet per node: a /24 each when they fit (the usual kube-controller
/// manager `--node-cidr-mask-size`), otherwise the largest equal slices that do, so that 1,000
/// nodes still fit in a /16 (with fewer pod IPs per node).
pub fn node_subnets(pod_cidr: Cidr, nodes: usize) -> Result<Vec<Cidr>, Error> {
    let too_small = |reason| Error::TooSmall {
        cidr: pod_cidr.to_string(),
        nodes,
        reason,
    };
    let bits_needed = usize::BITS - nodes.saturating_sub(1).leading_zeros();
    let prefix = u32::from(pod_cidr.prefix) + bits_needed;
    let prefix = prefix.max(24);
    // A /30 leaves a single usable pod address once network, gateway and broadcast are gone.
    if prefix > 30 {
        return Err(too_small("each node needs at least a /30 of pod addresses"));
    }
    let prefix = prefix as u8;
    let step = 1u64 << (32 - u32::from(prefix));
    (0..nodes as u64)
        .map(|i| {
            let base = pod_cidr
                .nth(i * step)
                .ok_or_else(|| too_small("not enough node subnets"))?;
            Ok(Cidr { base, prefix })
        })
        .collect()
}

/// The InternalIP of node `index`: hosts from `.2` on, leaving `.1` to a notional gateway.
pub fn node_ip(node_cidr: Cidr, index: usize, nodes: usize) -> Result<Ipv4Addr, Error> {
    // Addresses .2 ..= .(nodes + 1) must all sit below the broadcast address.
    if nodes as u64 + 2 >= node_cidr.size() || index >= nodes {
        return Err(Error::TooSmall {
            cidr: node_cidr.to_string(),
            nodes,
            reason: "not enough node addresses",
        });
    }
    Ok(Ipv4Addr::from(u32::from(node_cidr.base) + index as u32 + 2))
}

/// The pod addresses of one node's subnet. The network address, `.1` (the bridge a CNI plugin
/// would own) and the broadcast address are never handed out.
#[derive(Debug, Clone)]
pub struct Pool {
    subnet: Cidr,
    used: Vec<bool>,
}

impl Pool {
    pub fn new(subnet: Cidr) -> Self {
        Pool {
            subnet,
            used: vec![false; subnet.size() as usize],
        }
    }

    pub fn subnet(&self) -> Cidr {
        self.subnet
    }

    fn offset(&self, ip: Ipv4Addr) -> Option<usize> {
        if !self.subnet.contains(ip) {
            return None;
        }
        let offset = (u32::from(ip) - u32::from(self.subnet.base)) as usize;
        (offset >= 2 && offset + 1 < self.used.len()).then_some(offset)
    }

    /// Hands out the lowest free address, or `None` when the subnet is full.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let end = self.used.len().saturating_sub(1);
        let offset = (2..end).find(|&i| !self.used[i])?;
        self.used[offset] = true;
        self.subnet.nth(offset as u64)
    }

    /// Marks an address seen on an existing pod as taken; false when it is outside the
    /// usable range or already taken.
    pub fn reserve(&mut self, ip: Ipv4Addr) -> bool {
        match self.offset(ip) {
            Some(offset) if !self.used[offset] => {
                self.used[offset] = true;
                true
            }
            _ => false,
        }
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(offset) = self.offset(ip) {
            self.used[offset] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).expect("cidr")
    }

    #[test]
    fn parses_and_normalises() {
        let table = [
            ("10.244.0.0/16", Some("10.244.0.0/16")),
            ("10.244.7.9/16", Some("10.244.0.0/16")),
            ("172.20.0.0/24", Some("172.20.0.0/24")),
            ("10.0.0.0/33", None),
            ("10.0.0.0", None),
            ("fd00::/64", None),
        ];
        for (input, want) in table {
            let got = Cidr::parse(input).ok().map(|c| c.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }

    #[test]
    fn node_subnets_are_slash_24_when_they_fit() {
        let table = [
            ("10.7.0.0/16", 3, 24, "10.7.2.0"),
            ("10.7.0.0/16", 256, 24, "10.7.255.0"),
            ("10.7.0.0/16", 1000, 26, "10.7.249.192"),
            ("10.7.0.0/22", 4, 24, "10.7.3.0"),
            ("10.7.0.0/24", 1, 24, "10.7.0.0"),
        ];
        for (pod_cidr, nodes, prefix, last) in table {
            let subnets = node_subnets(cidr(pod_cidr), nodes).expect(pod_cidr);
            assert_eq!(subnets.len(), nodes);
            assert!(subnets.iter().all(|s| s.prefix == prefix), "{pod_cidr}");
            assert_eq!(subnets[nodes - 1].base.to_string(), last, "{pod_cidr}");
        }
        assert!(node_subnets(cidr("10.7.0.0/24"), 200).is_err());
    }

    #[test]
    fn node_ips_skip_network_and_gateway() {
        let net = cidr("172.20.0.0/16");
        assert_eq!(node_ip(net, 0, 3).unwrap().to_string(), "172.20.0.2");
        assert_eq!(node_ip(net, 300, 1000).unwrap().to_string(), "172.20.1.46");
        assert!(node_ip(cidr("172.20.0.0/30"), 0, 3).is_err());
    }

    #[test]
    fn pool_hands_out_lowest_free_and_reuses() {
        let mut pool = Pool::new(cidr("10.7.3.0/24"));
        let a = pool.allocate().unwrap();
        let b = pool.allocate().unwrap();
        assert_eq!(
            (a.to_string().as_str(), b.to_string().as_str()),
            ("10.7.3.2", "10.7.3.3")
        );
        pool.release(a);
        assert_eq!(pool.allocate(), Some(a));
        assert!(pool.reserve("10.7.3.9".parse().unwrap()));
        assert!(!pool.reserve("10.7.3.9".parse().unwrap()), "taken twice");
        assert!(!pool.reserve("10.7.3.255".parse().unwrap()), "broadcast");
        assert!(!pool.reserve("10.7.4.9".parse().unwrap()), "other subnet");
    }

    #[test]
    fn pool_runs_dry() {
        let mut pool = Pool::new(cidr("10.7.3.0/29"));
        let got: Vec<_> = std::iter::from_fn(|| pool.allocate()).collect();
        // .0 network, .1 gateway, .7 broadcast are never used.
        assert_eq!(got.len(), 5);
        assert_eq!(got.last().unwrap().to_string(), "10.7.3.6");
    }
}
