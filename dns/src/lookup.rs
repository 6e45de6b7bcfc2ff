//! Name resolution inside a zone: which names exist under the services and global names of a
//! snapshot, and the address and SRV records each answers with.

use std::net::IpAddr;

use hickory_proto::rr::rdata::opt::ClientSubnet;
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::config::Config;
use crate::keys::{namespace_exists, service};
use crate::model::{Backend, Endpoint, Global, Port, Service, Snapshot};
use crate::policy::{Candidate, Choice, Chooser};

/// Which address families a query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
    Both,
}

impl Family {
    /// The families a query type asks for; `None` for types that are not addresses.
    pub fn of(qtype: RecordType) -> Option<Family> {
        match qtype {
            RecordType::A => Some(Family::V4),
            RecordType::AAAA => Some(Family::V6),
            RecordType::ANY => Some(Family::Both),
            _ => None,
        }
    }

    fn admits(self, ip: &IpAddr) -> bool {
        matches!(
            (self, ip),
            (Family::Both, _) | (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
        )
    }
}

/// Appends an A or AAAA record at `name` for each address of the family.
pub(crate) fn push_addresses<'i>(
    out: &mut Vec<Record>,
    name: &Name,
    ttl: u32,
    family: Family,
    ips: impl IntoIterator<Item = &'i IpAddr>,
) {
    for ip in ips.into_iter().filter(|ip| family.admits(ip)) {
        let data = match *ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        out.push(Record::from_rdata(name.clone(), ttl, data));
    }
}

/// One query being resolved, and the records found so far.
pub(crate) struct Lookup<'a> {
    pub snapshot: &'a Snapshot,
    pub chooser: &'a Chooser,
    pub config: &'a Config,
    /// The query name, lowercase.
    pub qname: &'a Name,
    pub qtype: RecordType,
    pub ecs: Option<&'a ClientSubnet>,
    pub source: IpAddr,
    pub answers: Vec<Record>,
    pub additionals: Vec<Record>,
    /// The EDNS Client Subnet scope to answer with, once the answer depended on the client.
    pub scope: Option<u8>,
}

impl<'a> Lookup<'a> {
    /// Resolves a name of the services zone from its labels left of the zone; returns whether
    /// the name exists.
    pub fn services(&mut self, labels: &[&str]) -> bool {
        let snapshot = self.snapshot;
        match *labels {
            ["svc"] => true,
            [namespace, "svc"] => namespace_exists(snapshot, namespace),
            [name, namespace, "svc"] => match service(snapshot, namespace, name) {
                Some(service) => {
                    self.service_addresses(&[namespace, name], service);
                    true
                }
                None => false,
            },
            [label, name, namespace, "svc"] => match service(snapshot, namespace, name) {
                Some(service) => match label.strip_prefix('_') {
                    Some(protocol) => has_protocol(service, protocol),
                    None => self.cluster_addresses(service, label),
                },
                None => false,
            },
            [first, second, name, namespace, "svc"] => {
                let Some(service) = service(snapshot, namespace, name) else {
                    return false;
                };
                match (first.strip_prefix('_'), second.strip_prefix('_')) {
                    (Some(port), Some(protocol)) => {
                        self.srv(&[namespace, name], service, port, protocol)
                    }
                    (None, None) => self.endpoint_addresses(service, second, first),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// Resolves a global name (relative to the global zone, lowercase); returns whether the
    /// name exists.
    pub fn global(&mut self, relative: &str) -> bool {
        let snapshot = self.snapshot;
        let Some(global) = snapshot.globals.get(relative) else {
            // An empty non-terminal: a proper suffix of some global name.
            return snapshot.globals.keys().any(|key| {
                key.len() > relative.len()
                    && key.ends_with(relative)
                    && key.as_bytes()[key.len() - relative.len() - 1] == b'.'
            });
        };
        let Some(family) = Family::of(self.qtype) else {
            return true;
        };
        let mut candidates = global_candidates(snapshot, global);
        self.order(&[relative], &global.policy, &mut candidates);
        for candidate in candidates {
            push_addresses(
                &mut self.answers,
                self.qname,
                self.config.ttl,
                family,
                candidate.item,
            );
        }
        true
    }

    fn order<T>(
        &mut self,
        owner: &[&str],
        policy: &crate::model::Policy,
        list: &mut Vec<Candidate<'_, T>>,
    ) {
        let choice = Choice {
            owner,
            clusters: &self.snapshot.clusters,
        };
        let (config, ecs, source, scope) = (self.config, self.ecs, self.source, &mut self.scope);
        self.chooser.order(
            policy,
            &choice,
            || {
                let address = ecs.map_or(source, ClientSubnet::addr);
                match config.region_of(address) {
                    Some((region, len)) => {
                        *scope = Some(len);
                        Some(region)
                    }
                    None => {
                        // The answer holds for every address the client's subnet covers.
                        *scope = ecs.map(ClientSubnet::source_prefix);
                        None
                    }
                }
            },
            list,
        );
    }

    fn service_addresses(&mut self, owner: &[&str], service: &Service) {
        let Some(family) = Family::of(self.qtype) else {
            return;
        };
        let mut candidates = service_candidates(self.snapshot, service);
        self.order(owner, &service.policy, &mut candidates);
        for candidate in candidates {
            let ips = backend_ips(service, candidate.item);
            push_addresses(&mut self.answers, self.qname, self.config.ttl, family, ips);
        }
    }

    /// `<cluster>.<svc>...`: exists when the cluster is known; answers when it is eligible.
    fn cluster_addresses(&mut self, service: &Service, cluster: &str) -> bool {
        let backend = service.backends.get(cluster);
        if backend.is_none() && !self.snapshot.clusters.contains_key(cluster) {
            return false;
        }
        if let (Some(family), Some(backend)) = (Family::of(self.qtype), backend)
            && self.cluster_ready(cluster)
            && backend.ready_endpoints() > 0
        {
            let ips = backend_ips(service, backend);
            push_addresses(&mut self.answers, self.qname, self.config.ttl, family, ips);
        }
        true
    }

    /// `<hostname>.<cluster>.<svc>...` of a headless Service: that endpoint's addresses.
    fn endpoint_addresses(&mut self, service: &Service, cluster: &str, hostname: &str) -> bool {
        let Some(backend) = service.backends.get(cluster).filter(|_| service.headless) else {
            return false;
        };
        let named = |e: &&Endpoint| {
            e.hostname
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(hostname))
        };
        if !backend.endpoints.iter().any(|e| named(&e)) {
            return false;
        }
        if let Some(family) = Family::of(self.qtype)
            && self.cluster_ready(cluster)
        {
            for endpoint in backend.endpoints.iter().filter(named).filter(|e| e.ready) {
                let (name, ttl) = (self.qname, self.config.ttl);
                push_addresses(&mut self.answers, name, ttl, family, &endpoint.addresses);
            }
        }
        true
    }

    /// `_<port>._<proto>.<svc>...`: one SRV per eligible cluster, or per ready endpoint of a
    /// headless Service, with the targets' addresses as additional records.
    fn srv(&mut self, owner: &[&str], service: &Service, port: &str, protocol: &str) -> bool {
        let service_port = find_port(&service.ports, port, protocol);
        let exists = service_port.is_some()
            || (service.headless
                && service.backends.values().any(|b| {
                    b.endpoints
                        .iter()
                        .any(|e| find_port(&e.ports, port, protocol).is_some())
                }));
        if !exists || !matches!(self.qtype, RecordType::SRV | RecordType::ANY) {
            return exists;
        }
        // `<svc>.<ns>.svc.<zone>`: the query name without `_<port>._<proto>`.
        let base = self.qname.trim_to(usize::from(self.qname.num_labels()) - 2);
        let mut candidates = service_candidates(self.snapshot, service);
        self.order(owner, &service.policy, &mut candidates);
        let ttl = self.config.ttl;
        for candidate in candidates {
            let Some(cluster_name) = child(&base, candidate.name) else {
                continue;
            };
            let backend = candidate.item;
            if !service.headless {
                if let Some(service_port) = service_port {
                    let srv = SRV::new(0, 0, service_port.port, cluster_name.clone());
                    self.answers
                        .push(Record::from_rdata(self.qname.clone(), ttl, RData::SRV(srv)));
                    let ips = backend_ips(service, backend);
                    push_addresses(&mut self.additionals, &cluster_name, ttl, Family::Both, ips);
                }
                continue;
            }
            let mut cluster_listed = false;
            for endpoint in backend.endpoints.iter().filter(|e| e.ready) {
                let Some(endpoint_port) = find_port(&endpoint.ports, port, protocol) else {
                    continue;
                };
                let target = match endpoint.hostname.as_deref() {
                    Some(hostname) => match child(&cluster_name, hostname) {
                        Some(name) => name,
                        None => continue,
                    },
                    None => cluster_name.clone(),
                };
                let srv = SRV::new(0, 0, endpoint_port.port, target.clone());
                self.answers
                    .push(Record::from_rdata(self.qname.clone(), ttl, RData::SRV(srv)));
                if endpoint.hostname.is_some() {
                    let ips = &endpoint.addresses;
                    push_addresses(&mut self.additionals, &target, ttl, Family::Both, ips);
                } else if !cluster_listed {
                    cluster_listed = true;
                    let ips = backend_ips(service, backend);
                    push_addresses(&mut self.additionals, &target, ttl, Family::Both, ips);
                }
            }
        }
        true
    }

    fn cluster_ready(&self, cluster: &str) -> bool {
        self.snapshot.clusters.get(cluster).is_some_and(|c| c.ready)
    }
}

/// `label.parent`, or `None` (logged) when the label cannot be a DNS label.
fn child(parent: &Name, label: &str) -> Option<Name> {
    match parent.prepend_label(label) {
        Ok(name) => Some(name),
        Err(error) => {
            tracing::debug!(label, %error, "skipping a name that is not a valid DNS label");
            None
        }
    }
}

/// The clusters a Service may answer from: Ready, with at least one ready endpoint.
fn service_candidates<'s>(
    snapshot: &'s Snapshot,
    service: &'s Service,
) -> Vec<Candidate<'s, Backend>> {
    let mut candidates = Vec::with_capacity(service.backends.len());
    for (name, backend) in &service.backends {
        let Some(cluster) = snapshot.clusters.get(name).filter(|c| c.ready) else {
            continue;
        };
        let weight = backend.ready_endpoints();
        if weight > 0 {
            candidates.push(Candidate {
                name,
                weight,
                region: cluster.region.as_deref(),
                item: backend,
            });
        }
    }
    candidates
}

/// The clusters a global name may answer from: Ready, with at least one IP.
fn global_candidates<'s>(
    snapshot: &'s Snapshot,
    global: &'s Global,
) -> Vec<Candidate<'s, Vec<IpAddr>>> {
    let mut candidates = Vec::with_capacity(global.backends.len());
    for (name, ips) in &global.backends {
        if let Some(cluster) = snapshot.clusters.get(name).filter(|c| c.ready)
            && !ips.is_empty()
        {
            candidates.push(Candidate {
                name,
                weight: 1,
                region: cluster.region.as_deref(),
                item: ips,
            });
        }
    }
    candidates
}

/// What a cluster's backend answers with: its Service IPs, or for a headless Service (or one
/// with no IPs reported) its ready endpoints' addresses.
fn backend_ips<'b>(service: &Service, backend: &'b Backend) -> impl Iterator<Item = &'b IpAddr> {
    let use_service_ips = !service.headless && !backend.service_ips.is_empty();
    let service_ips: &[IpAddr] = if use_service_ips {
        &backend.service_ips
    } else {
        &[]
    };
    let endpoint_ips = backend
        .endpoints
        .iter()
        .filter(move |e| !use_service_ips && e.ready)
        .flat_map(|e| &e.addresses);
    service_ips.iter().chain(endpoint_ips)
}

fn find_port<'p>(ports: &'p [Port], name: &str, protocol: &str) -> Option<&'p Port> {
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some(name) && p.protocol.label() == protocol)
}

fn has_protocol(service: &Service, protocol: &str) -> bool {
    let named = |p: &Port| p.name.is_some() && p.protocol.label() == protocol;
    service.ports.iter().any(named)
        || (service.headless
            && service
                .backends
                .values()
                .any(|b| b.endpoints.iter().any(|e| e.ports.iter().any(named))))
}
