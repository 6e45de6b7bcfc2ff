//! Table tests of the resolver over a fixed snapshot: every name form, the header rules, EDNS,
//! truncation and the answer policies.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::net::xfer::Protocol;

use super::Resolver;
use crate::config::Config;
use crate::model::{Backend, Cluster, Endpoint, Global, Policy, Port, Protocol as PortProtocol};
use crate::model::{Service, Snapshot};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn port(name: &str, protocol: PortProtocol, number: u16) -> Port {
    Port {
        name: Some(name.to_owned()),
        protocol,
        port: number,
    }
}

fn endpoint(address: &str, ready: bool, hostname: Option<&str>, ports: Vec<Port>) -> Endpoint {
    Endpoint {
        addresses: vec![ip(address)],
        ready,
        hostname: hostname.map(str::to_owned),
        ports,
    }
}

/// A backend with Service IPs and `ready` ready endpoints (plus one that is not ready).
fn backend(service_ips: &[&str], ready: usize) -> Backend {
    let mut endpoints: Vec<Endpoint> = (0..ready)
        .map(|i| endpoint(&format!("10.99.0.{i}"), true, None, vec![]))
        .collect();
    endpoints.push(endpoint("10.99.1.1", false, None, vec![]));
    Backend {
        service_ips: service_ips.iter().map(|s| ip(s)).collect(),
        endpoints,
    }
}

fn service(headless: bool, policy: Policy, backends: Vec<(&str, Backend)>) -> Service {
    Service {
        headless,
        ports: vec![],
        policy,
        backends: backends
            .into_iter()
            .map(|(cluster, backend)| (cluster.to_owned(), backend))
            .collect(),
    }
}

fn cluster(ready: bool, region: &str) -> Cluster {
    Cluster {
        ready,
        region: Some(region.to_owned()),
    }
}

fn fixture() -> Snapshot {
    let mut snapshot = Snapshot::default();
    for (name, ready, region) in [
        ("m1", true, "eu"),
        ("m2", true, "us"),
        ("m3", false, "eu"),
        ("m4", true, "eu"),
    ] {
        snapshot
            .clusters
            .insert(name.into(), cluster(ready, region));
    }
    let mut web = service(
        false,
        Policy::RoundRobin,
        vec![
            ("m1", backend(&["10.1.0.10", "fd01::10"], 1)),
            ("m2", backend(&["10.2.0.10"], 2)),
            ("m3", backend(&["10.3.0.10"], 1)),
            ("m4", backend(&["10.4.0.10"], 0)),
        ],
    );
    web.ports = vec![
        port("http", PortProtocol::Tcp, 80),
        port("dns", PortProtocol::Udp, 53),
    ];
    let sql = || vec![port("sql", PortProtocol::Tcp, 5432)];
    let mut db = service(
        true,
        Policy::RoundRobin,
        vec![
            (
                "m1",
                Backend {
                    service_ips: vec![],
                    endpoints: vec![
                        endpoint("10.1.1.1", true, Some("db-0"), sql()),
                        endpoint("10.1.1.2", false, Some("db-1"), sql()),
                    ],
                },
            ),
            (
                "m2",
                Backend {
                    service_ips: vec![],
                    endpoints: vec![endpoint("10.2.1.1", true, None, sql())],
                },
            ),
        ],
    );
    db.ports = sql();
    let services = [
        ("default", "web", web),
        ("default", "db", db),
        (
            "default",
            "empty",
            service(
                false,
                Policy::RoundRobin,
                vec![("m1", backend(&["10.1.0.20"], 0))],
            ),
        ),
        (
            "default",
            "noip",
            service(false, Policy::RoundRobin, vec![("m1", backend(&[], 1))]),
        ),
        (
            "prod",
            "fail",
            service(
                false,
                Policy::Failover(vec!["ghost".into(), "m3".into(), "m2".into(), "m1".into()]),
                vec![
                    ("m1", backend(&["10.1.0.30"], 1)),
                    ("m2", backend(&["10.2.0.30"], 1)),
                ],
            ),
        ),
        (
            "prod",
            "fallback",
            service(
                false,
                Policy::Failover(vec!["m3".into()]),
                vec![
                    ("m1", backend(&["10.1.0.40"], 1)),
                    ("m2", backend(&["10.2.0.40"], 1)),
                ],
            ),
        ),
        (
            "prod",
            "near",
            service(
                false,
                Policy::Nearest,
                vec![
                    ("m1", backend(&["10.1.0.50"], 1)),
                    ("m2", backend(&["10.2.0.50"], 1)),
                ],
            ),
        ),
        (
            "prod",
            "weighted",
            service(
                false,
                Policy::Weighted,
                vec![
                    ("m1", backend(&["10.1.0.60"], 1)),
                    ("m2", backend(&["10.2.0.60"], 3)),
                    ("m3", backend(&["10.3.0.60"], 9)),
                ],
            ),
        ),
    ];
    for (namespace, name, service) in services {
        snapshot
            .services
            .insert((namespace.into(), name.into()), service);
    }
    let global = |policy, backends: &[(&str, &[&str])]| Global {
        policy,
        backends: backends
            .iter()
            .map(|(cluster, ips)| (cluster.to_string(), ips.iter().map(|s| ip(s)).collect()))
            .collect(),
    };
    snapshot.globals.insert(
        "shop".into(),
        global(
            Policy::RoundRobin,
            &[
                ("m1", &["192.0.2.1"]),
                ("m2", &["192.0.2.2", "2001:db8::2"]),
                ("m3", &["192.0.2.3"]),
                ("m4", &[]),
            ],
        ),
    );
    snapshot.globals.insert(
        "web.default".into(),
        global(
            Policy::Failover(vec!["m2".into()]),
            &[("m1", &["192.0.2.11"]), ("m2", &["192.0.2.12"])],
        ),
    );
    snapshot
}

fn resolver() -> Resolver {
    Resolver::new(Config {
        zone: "clusterset.local".into(),
        global_zone: Some("example.global".into()),
        ttl: 5,
        regions: vec![
            ("10.1.0.0/16".parse().unwrap(), "eu".into()),
            ("10.2.0.0/16".parse().unwrap(), "us".into()),
        ],
        ns_address: Some(ip("192.0.2.53")),
    })
    .unwrap()
}

/// One query to send.
struct Ask<'a> {
    name: &'a str,
    qtype: RecordType,
    op_code: OpCode,
    /// EDNS payload size and version, when the query has an OPT record.
    edns: Option<(u16, u8)>,
    ecs: Option<&'a str>,
    source: &'a str,
    protocol: Protocol,
    questions: usize,
}

fn ask(name: &str, qtype: RecordType) -> Ask<'_> {
    Ask {
        name,
        qtype,
        op_code: OpCode::Query,
        edns: None,
        ecs: None,
        source: "192.0.2.200",
        protocol: Protocol::Udp,
        questions: 1,
    }
}

impl Ask<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut message = Message::new(0x1234, MessageType::Query, self.op_code);
        message.metadata.recursion_desired = true;
        for _ in 0..self.questions {
            message.add_query(Query::query(
                Name::from_ascii(self.name).unwrap(),
                self.qtype,
            ));
        }
        if let Some((payload, version)) = self.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(payload);
            edns.set_version(version);
            if let Some(ecs) = self.ecs {
                let subnet = ClientSubnet::from_str(ecs).unwrap();
                edns.options_mut().insert(EdnsOption::Subnet(subnet));
            }
            message.set_edns(edns);
        }
        message.to_vec().unwrap()
    }

    fn send(&self, resolver: &Resolver, snapshot: &Arc<Snapshot>) -> (Message, usize) {
        let source = SocketAddr::new(ip(self.source), 5353);
        let bytes = resolver
            .answer_bytes(snapshot, &self.bytes(), source, self.protocol)
            .expect("a reply");
        (Message::from_vec(&bytes).unwrap(), bytes.len())
    }
}

fn render(record: &Record) -> String {
    match &record.data {
        RData::A(a) => format!("A {}", a.0),
        RData::AAAA(aaaa) => format!("AAAA {}", aaaa.0),
        RData::SRV(srv) => format!("SRV {} {}", srv.port, srv.target),
        RData::NS(ns) => format!("NS {}", ns.0),
        RData::SOA(_) => "SOA".to_owned(),
        other => format!("{other:?}"),
    }
}

fn sorted(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = records.iter().map(render).collect();
    out.sort();
    out
}

fn first_ip(message: &Message) -> String {
    render(&message.answers[0])
}

const NOERROR: ResponseCode = ResponseCode::NoError;
const NXDOMAIN: ResponseCode = ResponseCode::NXDomain;
const REFUSED: ResponseCode = ResponseCode::Refused;

#[test]
fn every_name_form_answers_right() {
    use RecordType::{A, AAAA, MX, NS, SOA, SRV, TXT};
    let z = "clusterset.local";
    let cases: Vec<(String, RecordType, ResponseCode, Vec<&str>)> = vec![
        // The Service name: eligible clusters only (m3 not Ready, m4 no ready endpoint).
        (
            format!("web.default.svc.{z}"),
            A,
            NOERROR,
            vec!["A 10.1.0.10", "A 10.2.0.10"],
        ),
        (
            "WEB.Default.SVC.ClusterSet.Local".to_owned(),
            A,
            NOERROR,
            vec!["A 10.1.0.10", "A 10.2.0.10"],
        ),
        (
            format!("web.default.svc.{z}"),
            AAAA,
            NOERROR,
            vec!["AAAA fd01::10"],
        ),
        (format!("web.default.svc.{z}"), TXT, NOERROR, vec![]),
        (format!("web.default.svc.{z}"), MX, NOERROR, vec![]),
        (
            format!("noip.default.svc.{z}"),
            A,
            NOERROR,
            vec!["A 10.99.0.0"],
        ),
        (format!("empty.default.svc.{z}"), A, NOERROR, vec![]),
        (format!("nothere.default.svc.{z}"), A, NXDOMAIN, vec![]),
        // One cluster's records.
        (
            format!("m1.web.default.svc.{z}"),
            A,
            NOERROR,
            vec!["A 10.1.0.10"],
        ),
        (format!("m3.web.default.svc.{z}"), A, NOERROR, vec![]),
        (format!("m4.web.default.svc.{z}"), A, NOERROR, vec![]),
        (format!("m9.web.default.svc.{z}"), A, NXDOMAIN, vec![]),
        // SRV of named ports.
        (
            format!("_http._tcp.web.default.svc.{z}"),
            SRV,
            NOERROR,
            vec![
                "SRV 80 m1.web.default.svc.clusterset.local.",
                "SRV 80 m2.web.default.svc.clusterset.local.",
            ],
        ),
        (
            format!("_dns._udp.web.default.svc.{z}"),
            SRV,
            NOERROR,
            vec![
                "SRV 53 m1.web.default.svc.clusterset.local.",
                "SRV 53 m2.web.default.svc.clusterset.local.",
            ],
        ),
        (
            format!("_http._tcp.web.default.svc.{z}"),
            A,
            NOERROR,
            vec![],
        ),
        (
            format!("_http._udp.web.default.svc.{z}"),
            SRV,
            NXDOMAIN,
            vec![],
        ),
        (format!("_tcp.web.default.svc.{z}"), A, NOERROR, vec![]),
        (format!("_sctp.web.default.svc.{z}"), A, NXDOMAIN, vec![]),
        // Headless: endpoints, hostnames, per-endpoint SRV.
        (
            format!("db.default.svc.{z}"),
            A,
            NOERROR,
            vec!["A 10.1.1.1", "A 10.2.1.1"],
        ),
        (
            format!("m1.db.default.svc.{z}"),
            A,
            NOERROR,
            vec!["A 10.1.1.1"],
        ),
        (
            format!("db-0.m1.db.default.svc.{z}"),
            A,
            NOERROR,
            vec!["A 10.1.1.1"],
        ),
        (format!("db-1.m1.db.default.svc.{z}"), A, NOERROR, vec![]),
        (format!("db-9.m1.db.default.svc.{z}"), A, NXDOMAIN, vec![]),
        (format!("db-0.m1.web.default.svc.{z}"), A, NXDOMAIN, vec![]),
        (
            format!("_sql._tcp.db.default.svc.{z}"),
            SRV,
            NOERROR,
            vec![
                "SRV 5432 db-0.m1.db.default.svc.clusterset.local.",
                "SRV 5432 m2.db.default.svc.clusterset.local.",
            ],
        ),
        // Empty non-terminals and names that do not exist.
        (format!("default.svc.{z}"), A, NOERROR, vec![]),
        (format!("nons.svc.{z}"), A, NXDOMAIN, vec![]),
        (format!("svc.{z}"), A, NOERROR, vec![]),
        (format!("foo.{z}"), A, NXDOMAIN, vec![]),
        (format!("a.b.web.default.svc.{z}"), A, NXDOMAIN, vec![]),
        (format!("a.b.c.d.e.f.{z}"), A, NXDOMAIN, vec![]),
        // The apex and the name server's name.
        (z.to_owned(), SOA, NOERROR, vec!["SOA"]),
        (
            z.to_owned(),
            NS,
            NOERROR,
            vec!["NS ns.dns.clusterset.local."],
        ),
        (z.to_owned(), A, NOERROR, vec![]),
        (format!("ns.dns.{z}"), A, NOERROR, vec!["A 192.0.2.53"]),
        (format!("ns.dns.{z}"), AAAA, NOERROR, vec![]),
        (format!("dns.{z}"), A, NOERROR, vec![]),
        // Global names: Ready clusters with IPs, per policy.
        (
            "shop.example.global".into(),
            A,
            NOERROR,
            vec!["A 192.0.2.1", "A 192.0.2.2"],
        ),
        (
            "Shop.Example.Global".into(),
            AAAA,
            NOERROR,
            vec!["AAAA 2001:db8::2"],
        ),
        (
            "web.default.example.global".into(),
            A,
            NOERROR,
            vec!["A 192.0.2.12"],
        ),
        ("shop.example.global".into(), TXT, NOERROR, vec![]),
        ("default.example.global".into(), A, NOERROR, vec![]),
        ("missing.example.global".into(), A, NXDOMAIN, vec![]),
        ("example.global".into(), SOA, NOERROR, vec!["SOA"]),
        (
            "ns.dns.example.global".into(),
            A,
            NOERROR,
            vec!["A 192.0.2.53"],
        ),
        // Outside every zone.
        ("example.com".into(), A, REFUSED, vec![]),
        ("local".into(), A, REFUSED, vec![]),
        ("global".into(), A, REFUSED, vec![]),
    ];
    let resolver = resolver();
    let snapshot = Arc::new(fixture());
    for (name, qtype, rcode, answers) in cases {
        let (reply, _) = ask(&name, qtype).send(&resolver, &snapshot);
        let what = format!("{name} {qtype}");
        assert_eq!(reply.metadata.response_code, rcode, "{what}");
        assert_eq!(sorted(&reply.answers), answers, "{what}");
        assert_eq!(reply.metadata.id, 0x1234, "{what}");
        assert!(reply.metadata.recursion_desired, "{what}");
        assert!(!reply.metadata.recursion_available, "{what}");
        assert_eq!(reply.metadata.authoritative, rcode != REFUSED, "{what}");
        assert_eq!(reply.queries.len(), 1, "{what}");
        assert_eq!(
            reply.queries[0].name().to_ascii(),
            format!("{name}."),
            "{what}"
        );
        // Negative answers (NXDOMAIN and NODATA) carry the SOA, with minimum = TTL.
        let negative = rcode == NXDOMAIN || (rcode == NOERROR && answers.is_empty());
        let soa: Vec<_> = reply
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa),
                _ => None,
            })
            .collect();
        assert_eq!(
            soa.len(),
            usize::from(negative),
            "{what}: {:?}",
            reply.authorities
        );
        if let Some(soa) = soa.first() {
            assert_eq!(soa.minimum, 5, "{what}");
        }
        for record in &reply.answers {
            assert_eq!(record.ttl, 5, "{what}");
        }
    }
}

#[test]
fn srv_and_ns_answers_carry_the_targets_addresses() {
    let resolver = resolver();
    let snapshot = Arc::new(fixture());
    let name = "_http._tcp.web.default.svc.clusterset.local";
    let (reply, _) = ask(name, RecordType::SRV).send(&resolver, &snapshot);
    let additional: Vec<String> = reply
        .additionals
        .iter()
        .map(|r| format!("{} {}", r.name, render(r)))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut additional = additional;
    additional.sort();
    assert_eq!(
        additional,
        [
            "m1.web.default.svc.clusterset.local. A 10.1.0.10",
            "m1.web.default.svc.clusterset.local. AAAA fd01::10",
            "m2.web.default.svc.clusterset.local. A 10.2.0.10",
        ]
    );
    let name = "_sql._tcp.db.default.svc.clusterset.local";
    let (reply, _) = ask(name, RecordType::SRV).send(&resolver, &snapshot);
    let mut additional: Vec<String> = reply
        .additionals
        .iter()
        .map(|r| format!("{} {}", r.name, render(r)))
        .collect();
    additional.sort();
    assert_eq!(
        additional,
        [
            "db-0.m1.db.default.svc.clusterset.local. A 10.1.1.1",
            "m2.db.default.svc.clusterset.local. A 10.2.1.1",
        ]
    );
    let (reply, _) = ask("clusterset.local", RecordType::NS).send(&resolver, &snapshot);
    assert_eq!(sorted(&reply.additionals), ["A 192.0.2.53"]);
}

mod policies;
mod protocol;
