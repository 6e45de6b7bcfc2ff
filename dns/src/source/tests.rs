use serde_json::{Value, json};

use super::*;

fn object<K: serde::de::DeserializeOwned>(value: &Value) -> Arc<K> {
    Arc::new(K::deserialize(value).unwrap())
}

fn cluster(name: &str, ready: &str, region: &str) -> Arc<KubeCluster> {
    object(&json!({
        "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"syncMode": "Pull", "region": region},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "r", "message": "",
                                   "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    }))
}

fn import(name: &str, type_: &str, annotations: &Value) -> Arc<ServiceImport> {
    object(&json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
        "spec": {"type": type_, "ports": [{"name": "http", "port": 80, "protocol": "TCP"},
                                         {"name": "dns", "port": 53, "protocol": "UDP"}]}
    }))
}

fn slice(cluster: &str, service: &str, ips: Option<&str>, endpoints: &Value) -> Arc<EndpointSlice> {
    let mut annotations = serde_json::Map::new();
    if let Some(ips) = ips {
        annotations.insert(mcs::ANNOTATION_SERVICE_IPS.into(), json!(ips));
    }
    object(&json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": format!("shop.{service}-{cluster}"),
            "namespace": format!("karmada-es-{cluster}"),
            "labels": {
                mcs::LABEL_SOURCE_CLUSTER: cluster,
                mcs::LABEL_SERVICE_NAME: service,
                mcs::LABEL_SERVICE_NAMESPACE: "shop",
                "endpointslice.kubernetes.io/managed-by": mcs::REPORTER,
            },
            "annotations": annotations,
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
    }))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn exported_services_gather_what_each_cluster_reported() {
    let objects = Objects {
        clusters: vec![
            cluster("member1", "True", "us-east"),
            cluster("member2", "False", "us-west"),
        ],
        imports: vec![
            import("web", "ClusterSetIP", &json!({})),
            import("db", "Headless", &json!({})),
        ],
        slices: vec![
            slice(
                "member1",
                "web",
                Some("10.96.0.10"),
                &json!([{"addresses": ["10.1.0.5"], "conditions": {"ready": true}},
                       {"addresses": ["10.1.0.6"], "conditions": {"ready": false}}]),
            ),
            slice(
                "member2",
                "web",
                Some("10.97.0.10, bad"),
                &json!([{"addresses": ["10.2.0.5"]}]),
            ),
            slice(
                "member1",
                "db",
                None,
                &json!([{"addresses": ["10.1.0.9"], "hostname": "db-0"}]),
            ),
            // Not exported: ignored.
            slice(
                "member1",
                "cache",
                Some("10.96.0.11"),
                &json!([{"addresses": ["10.1.0.7"]}]),
            ),
        ],
        ..Objects::default()
    };
    let built = build(&objects);
    let snapshot = &built.snapshot;
    assert_eq!(
        snapshot.clusters["member1"],
        Cluster {
            ready: true,
            region: Some("us-east".into())
        }
    );
    assert!(!snapshot.clusters["member2"].ready);
    let web = &snapshot.services[&("shop".to_string(), "web".to_string())];
    assert!(!web.headless);
    assert_eq!(web.policy, Policy::RoundRobin);
    assert_eq!(
        web.ports,
        [
            Port {
                name: Some("http".into()),
                protocol: Protocol::Tcp,
                port: 80
            },
            Port {
                name: Some("dns".into()),
                protocol: Protocol::Udp,
                port: 53
            }
        ]
    );
    let m1 = &web.backends["member1"];
    assert_eq!(m1.service_ips, [ip("10.96.0.10")]);
    assert_eq!(m1.endpoints.len(), 2);
    assert_eq!(m1.ready_endpoints(), 1);
    assert_eq!(m1.endpoints[0].ports[0].port, 8080);
    // An absent ready condition counts as ready; a bad IP is skipped and reported.
    let m2 = &web.backends["member2"];
    assert_eq!(m2.service_ips, [ip("10.97.0.10")]);
    assert_eq!(m2.ready_endpoints(), 1);
    assert!(
        built.problems.iter().any(|p| p.contains("\"bad\"")),
        "{:?}",
        built.problems
    );
    let db = &snapshot.services[&("shop".to_string(), "db".to_string())];
    assert!(db.headless);
    assert_eq!(
        db.backends["member1"].endpoints[0].hostname.as_deref(),
        Some("db-0")
    );
    assert!(db.backends["member1"].service_ips.is_empty());
    assert!(
        !snapshot
            .services
            .contains_key(&("shop".to_string(), "cache".to_string()))
    );
}

#[test]
fn policies_come_from_annotations_and_bad_ones_fall_back_to_round_robin() {
    let cases = [
        (json!({}), Policy::RoundRobin, false),
        (
            json!({"dns.karmada.io/policy": "weighted"}),
            Policy::Weighted,
            false,
        ),
        (
            json!({"dns.karmada.io/policy": "nearest"}),
            Policy::Nearest,
            false,
        ),
        (
            json!({"dns.karmada.io/policy": "failover",
                   "dns.karmada.io/failover-order": "member2, member1,"}),
            Policy::Failover(vec!["member2".into(), "member1".into()]),
            false,
        ),
        (
            json!({"dns.karmada.io/policy": "failover"}),
            Policy::RoundRobin,
            true,
        ),
        (
            json!({"dns.karmada.io/policy": "random"}),
            Policy::RoundRobin,
            true,
        ),
    ];
    for (annotations, want, problem) in cases {
        let objects = Objects {
            imports: vec![import("web", "ClusterSetIP", &annotations)],
            ..Objects::default()
        };
        let built = build(&objects);
        let web = &built.snapshot.services[&("shop".to_string(), "web".to_string())];
        assert_eq!(web.policy, want, "{annotations}");
        assert_eq!(
            !built.problems.is_empty(),
            problem,
            "{annotations}: {:?}",
            built.problems
        );
    }
}

fn service(name: &str, type_: &str, annotations: &Value) -> Arc<KubeService> {
    object(&json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
        "spec": {"type": type_, "ports": [{"port": 80}]}
    }))
}

#[test]
fn global_names_come_from_load_balancers_and_annotations() {
    let binding: ResourceBinding = serde_json::from_value(json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
        "metadata": {"name": "front-service", "namespace": "shop"},
        "spec": {"resource": {"apiVersion": "v1", "kind": "Service", "namespace": "shop", "name": "front"}},
        "status": {"aggregatedStatus": [
            {"clusterName": "member1", "status": {"loadBalancer": {"ingress": [{"ip": "172.30.0.2"}]}}},
            {"clusterName": "member2", "status": {"loadBalancer": {}}},
        ]}
    }))
    .unwrap();
    let (key, ips) = ingress_of(&binding).unwrap();
    assert_eq!(key, ("shop".to_string(), "front".to_string()));
    assert_eq!(
        ips,
        BTreeMap::from([("member1".to_string(), vec![ip("172.30.0.2")])])
    );
    let objects = Objects {
        services: vec![
            service(
                "front",
                "LoadBalancer",
                &json!({"dns.karmada.io/policy": "weighted"}),
            ),
            service(
                "api",
                "ClusterIP",
                &json!({"dns.karmada.io/global-name": "API.Example."}),
            ),
            service(
                "other",
                "LoadBalancer",
                &json!({"dns.karmada.io/global-name": "api.example"}),
            ),
            service("internal", "ClusterIP", &json!({})),
        ],
        ingresses: BTreeMap::from([(key, ips)]),
        ..Objects::default()
    };
    let built = build(&objects);
    let globals = &built.snapshot.globals;
    assert_eq!(
        globals.keys().collect::<Vec<_>>(),
        ["api.example", "front.shop"]
    );
    assert_eq!(globals["front.shop"].policy, Policy::Weighted);
    assert_eq!(
        globals["front.shop"].backends["member1"],
        [ip("172.30.0.2")]
    );
    assert!(globals["api.example"].backends.is_empty());
    // Two Services claiming one name: the first (by namespace and name) keeps it.
    assert!(
        built
            .problems
            .iter()
            .any(|p| p.contains("Service shop/other") && p.contains("taken")),
        "{:?}",
        built.problems
    );
    // Bindings of other kinds carry no ingress.
    let mut deployment = binding;
    deployment.spec.resource.kind = "Deployment".into();
    deployment.spec.resource.api_version = "apps/v1".into();
    assert!(ingress_of(&deployment).is_none());
}
