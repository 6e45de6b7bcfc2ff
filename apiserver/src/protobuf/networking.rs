//! Field tables for networking.k8s.io/v1 Ingress.

use k8s_pb::api::networking::v1 as networking_v1;

use super::json::messages;

messages! {
    "networking.v1" in networking_v1;

    HttpIngressPath { path, path_type: "pathType", backend }
    HttpIngressRuleValue { paths }
    Ingress { metadata, spec, status }
    IngressBackend { service, resource }
    IngressLoadBalancerIngress { ip, hostname, ports }
    IngressLoadBalancerStatus { ingress }
    IngressPortStatus { port, protocol, error }
    IngressRule[ingress_rule_value] { host }
    IngressRuleValue { http }
    IngressServiceBackend { name, port }
    IngressSpec {
        ingress_class_name: "ingressClassName", default_backend: "defaultBackend", tls, rules,
    }
    IngressStatus { load_balancer: "loadBalancer" }
    IngressTls { hosts, secret_name: "secretName" }
    ServiceBackendPort { name, number }
}
