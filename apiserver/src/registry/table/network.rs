//! Printers for networking kinds: Services, Endpoints, EndpointSlices, Ingresses, classes
//! and network policies.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::age;
use super::fields::{
    count, int, items, labels, list_with_more, name, non_empty, selector_or_none, text,
};
use super::{AGE, Column, NAME, Printer, col, wide};

pub(super) const PRINTERS: &[Printer] = &[
    Printer {
        group: "",
        kind: "Service",
        columns: SERVICE,
        cells: service,
    },
    Printer {
        group: "",
        kind: "Endpoints",
        columns: ENDPOINTS,
        cells: endpoints,
    },
    Printer {
        group: "discovery.k8s.io",
        kind: "EndpointSlice",
        columns: ENDPOINT_SLICE,
        cells: endpoint_slice,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "Ingress",
        columns: INGRESS,
        cells: ingress,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "IngressClass",
        columns: INGRESS_CLASS,
        cells: ingress_class,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "NetworkPolicy",
        columns: NETWORK_POLICY,
        cells: network_policy,
    },
];

const SERVICE: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        "How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName.",
    ),
    col(
        "Cluster-IP",
        "string",
        "The IP address of the service inside the cluster.",
    ),
    col(
        "External-IP",
        "string",
        "External addresses of the service.",
    ),
    col("Port(s)", "string", "The ports the service exposes."),
    AGE,
    wide(
        "Selector",
        "string",
        "Label selector of the pods traffic is routed to.",
    ),
];

const ENDPOINTS: &[Column] = &[
    NAME,
    col(
        "Endpoints",
        "string",
        "Addresses and ports of the ready endpoints.",
    ),
    AGE,
];

const ENDPOINT_SLICE: &[Column] = &[
    NAME,
    col(
        "AddressType",
        "string",
        "The type of address carried by this slice.",
    ),
    col("Ports", "string", "Network ports exposed by each endpoint."),
    col(
        "Endpoints",
        "string",
        "Addresses of the endpoints in this slice.",
    ),
    AGE,
];

const INGRESS: &[Column] = &[
    NAME,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

const INGRESS_CLASS: &[Column] = &[
    NAME,
    col(
        "Controller",
        "string",
        "Controller that is responsible for handling this class",
    ),
    col(
        "Parameters",
        "string",
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

const NETWORK_POLICY: &[Column] = &[
    NAME,
    col("Pod-Selector", "string", "The pods the policy applies to."),
    AGE,
];

/// Load-balancer ingress points (IP, else hostname), de-duplicated and sorted. The server
/// prints tables "wide", so nothing is truncated.
fn load_balancer(status: Option<&Value>) -> String {
    let points: BTreeSet<&str> = status
        .map(|s| items(s, "/ingress"))
        .unwrap_or_default()
        .iter()
        .filter_map(|i| non_empty(i, "/ip").or_else(|| non_empty(i, "/hostname")))
        .collect();
    points.into_iter().collect::<Vec<_>>().join(",")
}

/// `80/TCP,443:30443/TCP`.
pub(super) fn service_ports(ports: &[Value]) -> String {
    let pieces: Vec<String> = ports
        .iter()
        .map(|p| {
            let protocol = non_empty(p, "/protocol").unwrap_or("TCP");
            let port = count(p, "/port");
            match count(p, "/nodePort") {
                node_port if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    if pieces.is_empty() {
        "<none>".into()
    } else {
        pieces.join(",")
    }
}

fn service(svc: &Value, now: Timestamp) -> Vec<Value> {
    let kind = non_empty(svc, "/spec/type").unwrap_or("ClusterIP");
    let cluster_ip = items(svc, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .or_else(|| non_empty(svc, "/spec/clusterIP"))
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = items(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match kind {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            let balancer = load_balancer(svc.pointer("/status/loadBalancer"));
            let mut all: Vec<&str> = balancer.split(',').filter(|s| !s.is_empty()).collect();
            all.extend(&external_ips);
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(svc, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    };
    vec![
        name(svc).into(),
        kind.into(),
        cluster_ip.into(),
        external.into(),
        service_ports(items(svc, "/spec/ports")).into(),
        age::created(svc, now),
        labels(svc.pointer("/spec/selector")).into(),
    ]
}

/// `10.0.0.1:80,10.0.0.2:80 + 3 more...` over every subset's ready addresses and ports.
fn endpoint_list(subsets: &[Value]) -> String {
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut total = 0;
    for subset in subsets {
        let addresses: Vec<&str> = items(subset, "/addresses")
            .iter()
            .map(|a| text(a, "/ip"))
            .collect();
        let ports = items(subset, "/ports");
        let combos: Vec<String> = if ports.is_empty() {
            // Headless services may have no ports.
            addresses.iter().map(|ip| ip.to_string()).collect()
        } else {
            ports
                .iter()
                .flat_map(|p| {
                    addresses
                        .iter()
                        .map(move |ip| host_port(ip, count(p, "/port")))
                })
                .collect()
        };
        total += combos.len();
        list.extend(combos.into_iter().take(MAX - list.len().min(MAX)));
    }
    let shown = list.join(",");
    if total > MAX {
        format!("{shown} + {} more...", total - MAX)
    } else {
        shown
    }
}

fn host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn endpoints(ep: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(ep).into(),
        endpoint_list(items(ep, "/subsets")).into(),
        age::created(ep, now),
    ]
}

fn endpoint_slice(slice: &Value, now: Timestamp) -> Vec<Value> {
    let ports: Vec<String> = items(slice, "/ports")
        .iter()
        .map(|p| match int(p, "/port") {
            Some(port) => port.to_string(),
            None => non_empty(p, "/name").unwrap_or("*").to_string(),
        })
        .collect();
    let addresses: Vec<String> = items(slice, "/endpoints")
        .iter()
        .flat_map(|e| {
            items(e, "/addresses")
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
        })
        .collect();
    vec![
        name(slice).into(),
        text(slice, "/addressType").into(),
        list_with_more(&ports, 3).into(),
        list_with_more(&addresses, 3).into(),
        age::created(slice, now),
    ]
}

fn ingress(ing: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 3;
    let rules = items(ing, "/spec/rules");
    // Like kubectl, "more" means a rule follows once three hosts are listed, and the count
    // is of rules, hostless ones included.
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        more |= hosts.len() == MAX;
        if more {
            break;
        }
        hosts.extend(non_empty(rule, "/host"));
    }
    let hosts = match (hosts.is_empty(), more) {
        (true, _) => "*".to_string(),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - MAX),
        (false, false) => hosts.join(","),
    };
    let ports = if items(ing, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(ing).into(),
        non_empty(ing, "/spec/ingressClassName")
            .unwrap_or("<none>")
            .into(),
        hosts.into(),
        load_balancer(ing.pointer("/status/loadBalancer")).into(),
        ports.into(),
        age::created(ing, now),
    ]
}

fn ingress_class(class: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match class.pointer("/spec/parameters").filter(|p| p.is_object()) {
        None => "<none>".to_string(),
        Some(p) => {
            let kind = match non_empty(p, "/apiGroup") {
                Some(group) => format!("{}.{group}", text(p, "/kind")),
                None => text(p, "/kind").to_string(),
            };
            format!("{kind}/{}", text(p, "/name"))
        }
    };
    vec![
        name(class).into(),
        text(class, "/spec/controller").into(),
        parameters.into(),
        age::created(class, now),
    ]
}

fn network_policy(policy: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(policy).into(),
        selector_or_none(policy.pointer("/spec/podSelector")).into(),
        age::created(policy, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn service_ports_and_addresses() {
        let ports = json!([{"port": 80, "protocol": "TCP"}, {"port": 443, "nodePort": 30443}, {"port": 53, "protocol": "UDP"}]);
        assert_eq!(
            service_ports(ports.as_array().unwrap()),
            "80/TCP,443:30443/TCP,53/UDP"
        );
        assert_eq!(service_ports(&[]), "<none>");

        let svc = json!({"metadata": {"name": "web", "creationTimestamp": "2024-05-01T10:00:00Z"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "selector": {"app": "web"}}});
        assert_eq!(
            service(&svc, now()),
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP"),
                json!("120m"),
                json!("app=web")
            ]
        );

        let lb = json!({"spec": {"type": "LoadBalancer", "externalIPs": ["1.2.3.4"]},
            "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "5.6.7.8"}]}}});
        assert_eq!(service(&lb, now())[3], "5.6.7.8,lb.example.com,1.2.3.4");
        let pending = json!({"spec": {"type": "LoadBalancer"}});
        assert_eq!(service(&pending, now())[3], "<pending>");
        let external = json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}});
        assert_eq!(
            service(&external, now())[2..4],
            [json!("<none>"), json!("db.example.com")]
        );
    }

    #[test]
    fn endpoints_and_slices_list_three_then_count() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 81}]}]});
        assert_eq!(
            endpoint_list(items(&ep, "/subsets")),
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:81 + 1 more..."
        );
        assert_eq!(endpoint_list(&[]), "<none>");
        let slice = json!({"addressType": "IPv4", "ports": [{"port": 8080}, {"name": "dns"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}]});
        assert_eq!(
            endpoint_slice(&slice, now())[1..4],
            [json!("IPv4"), json!("8080,dns"), json!("10.0.0.1")]
        );
    }

    #[test]
    fn ingress_hosts_and_ports() {
        let ing = json!({"spec": {"ingressClassName": "nginx", "tls": [{}], "rules": [
            {"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "d.example.com"}, {"host": "e.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}});
        assert_eq!(
            ingress(&ing, now())[1..5],
            [
                json!("nginx"),
                json!("a.example.com,b.example.com,d.example.com + 2 more..."),
                json!("192.0.2.1"),
                json!("80, 443")
            ]
        );
        let three = json!({"spec": {"rules": [{"host": "a"}, {}, {"host": "c"}, {"host": "d"}]}});
        assert_eq!(ingress(&three, now())[2], "a,c,d");
        assert_eq!(ingress(&json!({"spec": {}}), now())[2], "*");
        for printer in PRINTERS {
            assert_eq!(
                (printer.cells)(&json!({}), now()).len(),
                printer.columns.len(),
                "{}",
                printer.kind
            );
        }
    }
}
