//! Answers one DNS request from a snapshot: the header rules (opcode, question count, EDNS,
//! which zone), the apex SOA/NS, NXDOMAIN versus NODATA, and the wire encoding with truncation.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Edns, Header, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use hickory_server::zone_handler::{
    MessageRequest, MessageResponse, MessageResponseBuilder, Queries,
};

use crate::config::Config;
use crate::lookup::{Family, Lookup, push_addresses};
use crate::model::Snapshot;
use crate::policy::Chooser;

/// The UDP payload size this server advertises in its OPT record (the DNS flag day value).
pub const ADVERTISED_PAYLOAD: u16 = 1232;

/// Why a configuration cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("zone {zone:?} is not a valid DNS name: {reason}")]
    BadZone { zone: String, reason: String },
}

/// A computed reply, before encoding.
#[derive(Clone, Debug)]
pub struct Reply {
    pub metadata: Metadata,
    /// Whether the question section is echoed (a FORMERR reply leaves it out).
    pub question: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    pub edns: Option<Edns>,
}

impl Reply {
    /// A reply of only a header with `code`: no question, records or EDNS (SERVFAIL, FORMERR).
    fn bare(mut metadata: Metadata, code: ResponseCode) -> Self {
        metadata.response_code = code;
        Reply {
            metadata,
            question: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: None,
        }
    }
}

/// A reply as hickory-server sends it.
pub type Response<'q> = MessageResponse<
    'q,
    'q,
    std::slice::Iter<'q, Record>,
    std::slice::Iter<'q, Record>,
    std::iter::Empty<&'q Record>,
    std::slice::Iter<'q, Record>,
>;

#[derive(Debug)]
enum ZoneKind {
    Services,
    Global,
}

/// One zone served, its fixed names prepared once.
#[derive(Debug)]
struct Zone {
    apex: Name,
    kind: ZoneKind,
    ns_host: Name,
    hostmaster: Name,
}

/// The SOA serial: bumped whenever a different snapshot is seen. The `Weak` keeps the old
/// snapshot's allocation, so a new snapshot can never reuse its address and go unnoticed.
#[derive(Debug)]
struct Serial {
    seen: Weak<Snapshot>,
    value: u32,
}

/// Answers requests for the configured zones; holds the per-server policy state.
pub struct Resolver {
    config: Config,
    /// Most specific zone first, so a zone nested in another wins.
    zones: Vec<Zone>,
    chooser: Chooser,
    serial: Mutex<Serial>,
    no_queries: Queries,
}

impl Resolver {
    pub fn new(config: Config) -> Result<Resolver, ConfigError> {
        let mut zones = vec![zone(&config.zone, ZoneKind::Services)?];
        if let Some(global) = &config.global_zone {
            zones.push(zone(global, ZoneKind::Global)?);
        }
        zones.sort_by_key(|z| std::cmp::Reverse(z.apex.num_labels()));
        // Starting from the clock keeps serials increasing across restarts.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let serial = Serial {
            seen: Weak::new(),
            value: u32::try_from(now).unwrap_or(u32::MAX).wrapping_sub(1),
        };
        let no_queries =
            Queries::read(&mut BinDecoder::new(&[]), 0).map_err(|e| ConfigError::BadZone {
                zone: config.zone.clone(),
                reason: e.to_string(),
            })?;
        Ok(Resolver {
            config,
            zones,
            chooser: Chooser::new(),
            serial: Mutex::new(serial),
            no_queries,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The reply to `request` from `snapshot`, for a client at `client`.
    pub fn answer(
        &self,
        snapshot: &Arc<Snapshot>,
        request: &MessageRequest,
        client: IpAddr,
    ) -> Reply {
        let mut reply = Reply {
            metadata: Metadata::response_from_request(&request.metadata),
            question: true,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: request.edns.as_ref().map(|query| {
                let mut edns = Edns::new();
                // Never promise more than the client can take: the encoder truncates at this.
                edns.set_max_payload(query.max_payload().clamp(512, ADVERTISED_PAYLOAD));
                edns.set_version(0);
                edns
            }),
        };
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            reply.metadata.response_code = ResponseCode::BADVERS;
            return reply;
        }
        if request.metadata.op_code != OpCode::Query {
            reply.metadata.response_code = ResponseCode::NotImp;
            return reply;
        }
        let [query] = request.queries.queries() else {
            reply.metadata.response_code = ResponseCode::FormErr;
            reply.question = false;
            return reply;
        };
        let qname: &Name = query.name();
        let qtype = query.query_type();
        let zone = self.zones.iter().find(|z| z.apex.zone_of(qname));
        let (Some(zone), DNSClass::IN) = (zone, query.query_class()) else {
            reply.metadata.response_code = ResponseCode::Refused;
            return reply;
        };
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            reply.metadata.response_code = ResponseCode::Refused;
            return reply;
        }
        reply.metadata.authoritative = true;

        let ecs = request
            .edns
            .as_ref()
            .and_then(|e| match e.option(EdnsCode::Subnet) {
                Some(EdnsOption::Subnet(subnet)) => Some(subnet),
                _ => None,
            });
        let mut lookup = Lookup {
            snapshot,
            chooser: &self.chooser,
            config: &self.config,
            qname,
            qtype,
            ecs,
            source: client,
            answers: Vec::new(),
            additionals: Vec::new(),
            scope: None,
        };
        let exists = self.resolve(zone, snapshot, &mut lookup);
        let scope = lookup.scope;
        reply.answers = lookup.answers;
        reply.additionals = lookup.additionals;
        if !exists {
            reply.metadata.response_code = ResponseCode::NXDomain;
        }
        if !exists || reply.answers.is_empty() {
            reply.authorities.push(self.soa(zone, snapshot));
        }
        if let (Some(edns), Some(subnet)) = (reply.edns.as_mut(), ecs) {
            let mut echo = ClientSubnet::new(subnet.addr(), subnet.source_prefix(), 0);
            echo.set_scope_prefix(scope.unwrap_or(0));
            edns.options_mut().insert(EdnsOption::Subnet(echo));
        }
        reply
    }

    /// Whether the query name exists in `zone`; fills the lookup's records.
    fn resolve(&self, zone: &Zone, snapshot: &Arc<Snapshot>, lookup: &mut Lookup<'_>) -> bool {
        let qname = lookup.qname;
        let relative = usize::from(qname.num_labels() - zone.apex.num_labels());
        // Labels left of the apex, as text; the services zone never goes deeper than five.
        let mut labels = [""; 5];
        let mut count = 0;
        let mut global_name = [0u8; 255];
        let mut global_len = 0;
        for label in qname.iter().take(relative) {
            let Ok(label) = std::str::from_utf8(label) else {
                return false;
            };
            if let Some(slot) = labels.get_mut(count) {
                *slot = label;
            }
            count += 1;
            if let ZoneKind::Global = zone.kind {
                // The global name relative to the zone, dots and all, without allocating.
                let end = global_len + usize::from(global_len > 0) + label.len();
                if end > global_name.len() {
                    return false;
                }
                if global_len > 0 {
                    global_name[global_len] = b'.';
                    global_len += 1;
                }
                global_name[global_len..end].copy_from_slice(label.as_bytes());
                global_len = end;
            }
        }
        let labels = &labels[..count.min(labels.len())];
        let (family, ttl) = (Family::of(lookup.qtype), self.config.ttl);
        match labels {
            [] => {
                if matches!(lookup.qtype, RecordType::SOA | RecordType::ANY) {
                    lookup.answers.push(self.soa(zone, snapshot));
                }
                if matches!(lookup.qtype, RecordType::NS | RecordType::ANY) {
                    let ns = RData::NS(NS(zone.ns_host.clone()));
                    lookup
                        .answers
                        .push(Record::from_rdata(zone.apex.clone(), ttl, ns));
                    let ips = self.config.ns_address.iter();
                    push_addresses(
                        &mut lookup.additionals,
                        &zone.ns_host,
                        ttl,
                        Family::Both,
                        ips,
                    );
                }
                true
            }
            ["dns"] => true,
            ["ns", "dns"] => {
                if let Some(family) = family {
                    let ips = self.config.ns_address.iter();
                    push_addresses(&mut lookup.answers, &zone.ns_host, ttl, family, ips);
                }
                true
            }
            _ if count > labels.len() && matches!(zone.kind, ZoneKind::Services) => false,
            _ => match zone.kind {
                ZoneKind::Services => lookup.services(labels),
                ZoneKind::Global => match std::str::from_utf8(&global_name[..global_len]) {
                    Ok(name) => lookup.global(name),
                    Err(_) => false,
                },
            },
        }
    }

    /// The zone's SOA record, its serial bumped if the snapshot changed since the last one.
    fn soa(&self, zone: &Zone, snapshot: &Arc<Snapshot>) -> Record {
        let serial = {
            let mut state = match self.serial.lock() {
                Ok(state) => state,
                Err(poisoned) => poisoned.into_inner(),
            };
            if !std::ptr::eq(state.seen.as_ptr(), Arc::as_ptr(snapshot)) {
                state.seen = Arc::downgrade(snapshot);
                state.value = state.value.wrapping_add(1);
            }
            state.value
        };
        let ttl = self.config.ttl;
        let soa = SOA::new(
            zone.ns_host.clone(),
            zone.hostmaster.clone(),
            serial,
            60,
            10,
            3600,
            ttl,
        );
        Record::from_rdata(zone.apex.clone(), ttl, RData::SOA(soa))
    }

    /// The reply in the form hickory-server sends; for UDP it truncates (setting TC) at the
    /// OPT payload size, or 512 bytes without EDNS.
    pub fn response<'q>(&'q self, reply: &'q Reply, request: &'q MessageRequest) -> Response<'q> {
        let queries = if reply.question {
            &request.queries
        } else {
            &self.no_queries
        };
        self.response_for(reply, queries)
    }

    fn response_for<'q>(&'q self, reply: &'q Reply, queries: &'q Queries) -> Response<'q> {
        MessageResponseBuilder::new(queries, reply.edns.as_ref()).build(
            reply.metadata,
            reply.answers.iter(),
            reply.authorities.iter(),
            std::iter::empty(),
            reply.additionals.iter(),
        )
    }

    /// The wire form of a reply, as hickory-server would send it over `protocol`.
    pub fn encode(&self, reply: &Reply, request: &MessageRequest, protocol: Protocol) -> Vec<u8> {
        let queries = if reply.question {
            &request.queries
        } else {
            &self.no_queries
        };
        self.emit(reply, queries, protocol)
    }

    fn emit(&self, reply: &Reply, queries: &Queries, protocol: Protocol) -> Vec<u8> {
        let limit = match (protocol, &reply.edns) {
            (Protocol::Udp, Some(edns)) => edns.max_payload(),
            (Protocol::Udp, None) => 512,
            _ => u16::MAX,
        };
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(limit);
        if self
            .response_for(reply, queries)
            .destructive_emit(&mut encoder)
            .is_ok()
        {
            return bytes;
        }
        // Cannot happen for records this server builds; answer SERVFAIL rather than nothing.
        let failed = Reply::bare(reply.metadata, ResponseCode::ServFail);
        bytes.clear();
        let mut encoder = BinEncoder::new(&mut bytes);
        match self
            .response_for(&failed, &self.no_queries)
            .destructive_emit(&mut encoder)
        {
            Ok(_) => bytes,
            Err(_) => Vec::new(),
        }
    }

    /// Answers a request in wire form, as the server does: `None` when nothing is sent back
    /// (shorter than a header, or itself a response); FORMERR when only the header reads.
    pub fn answer_bytes(
        &self,
        snapshot: &Arc<Snapshot>,
        bytes: &[u8],
        source: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        let header = Header::read(&mut BinDecoder::new(bytes)).ok()?;
        if header.metadata.message_type == MessageType::Response {
            return None;
        }
        match Request::from_bytes(bytes.to_vec(), source, protocol) {
            Ok(request) => {
                let reply = self.answer(snapshot, &request, source.ip());
                Some(self.encode(&reply, &request, protocol))
            }
            Err(_) => {
                let reply = Reply::bare(
                    Metadata::response_from_request(&header.metadata),
                    ResponseCode::FormErr,
                );
                Some(self.emit(&reply, &self.no_queries, protocol))
            }
        }
    }
}

fn zone(text: &str, kind: ZoneKind) -> Result<Zone, ConfigError> {
    let bad = |reason: String| ConfigError::BadZone {
        zone: text.to_owned(),
        reason,
    };
    let mut apex = Name::from_ascii(text.trim_end_matches('.'))
        .map_err(|e| bad(e.to_string()))?
        .to_lowercase();
    if apex.is_root() {
        return Err(bad("the root zone cannot be served".to_owned()));
    }
    apex.set_fqdn(true);
    let child = |labels: &[&str]| {
        labels
            .iter()
            .rev()
            .try_fold(apex.clone(), |name, label| name.prepend_label(*label))
            .map_err(|e| bad(e.to_string()))
    };
    Ok(Zone {
        ns_host: child(&["ns", "dns"])?,
        hostmaster: child(&["hostmaster"])?,
        apex,
        kind,
    })
}

#[cfg(test)]
mod tests;
