//! Load-balancer addresses of a LoadBalancer Service or an Ingress merged across members, as
//! Karmada dedupes and orders them.

use std::collections::BTreeSet;

use karmada_api::work::binding::AggregatedStatusItem;
use serde_json::{Map, Value, json};

use super::template::{in_member, reported};
use super::{Error, array, int, string};

/// Service (LoadBalancer) and Ingress: every member's load-balancer addresses, one entry per
/// address with the union of its port statuses, hostnames first then IPs, in order.
pub(super) fn load_balancer(items: &[AggregatedStatusItem]) -> Result<Value, Error> {
    // Keyed by (hostname-less last, hostname, ip, ipMode-less last, ipMode).
    type Key = (bool, String, String, bool, String);
    let mut merged: Vec<(Key, BTreeSet<PortKey>)> = Vec::new();
    for reported in reported(items) {
        let (item, s) = reported?;
        let ingresses = array(s, &["loadBalancer", "ingress"]).map_err(|e| in_member(item, e))?;
        for ingress in ingresses {
            let field = |key: &str| string(ingress, &[key]).map_err(|e| in_member(item, e));
            let (hostname, ip, mode) = (field("hostname")?, field("ip")?, field("ipMode")?);
            let key: Key = (
                hostname.is_empty(),
                hostname.to_string(),
                ip.to_string(),
                mode.is_empty(),
                mode.to_string(),
            );
            let ports = array(ingress, &["ports"])
                .map_err(|e| in_member(item, e))?
                .iter()
                .map(|p| port_key(p).map_err(|e| in_member(item, e)))
                .collect::<Result<Vec<_>, _>>()?;
            match merged.iter_mut().find(|(k, _)| *k == key) {
                Some((_, set)) => set.extend(ports),
                None => merged.push((key, ports.into_iter().collect())),
            }
        }
    }
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    let ingress: Vec<Value> = merged
        .into_iter()
        .map(|((_, hostname, ip, _, mode), ports)| {
            let mut entry = Map::new();
            for (key, value) in [("hostname", hostname), ("ip", ip), ("ipMode", mode)] {
                if !value.is_empty() {
                    entry.insert(key.into(), value.into());
                }
            }
            if !ports.is_empty() {
                let ports = ports.into_iter().map(PortKey::into_value).collect();
                entry.insert("ports".into(), Value::Array(ports));
            }
            Value::Object(entry)
        })
        .collect();
    let mut lb = Map::new();
    if !ingress.is_empty() {
        lb.insert("ingress".into(), Value::Array(ingress));
    }
    Ok(json!({ "loadBalancer": lb }))
}

/// A load-balancer port status, ordered by port, protocol, then error (none first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct PortKey {
    port: i64,
    protocol: String,
    error: Option<String>,
}

impl PortKey {
    fn into_value(self) -> Value {
        let mut v = json!({"port": self.port, "protocol": self.protocol});
        if let Some(error) = self.error {
            v["error"] = error.into();
        }
        v
    }
}

fn port_key(p: &Value) -> Result<PortKey, Error> {
    let error = string(p, &["error"])?;
    Ok(PortKey {
        port: int(p, &["port"])?,
        protocol: string(p, &["protocol"])?.to_string(),
        error: (!error.is_empty()).then(|| error.to_string()),
    })
}
