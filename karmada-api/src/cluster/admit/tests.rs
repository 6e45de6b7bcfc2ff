//! Table tests of admit: one case per rule.

use super::*;
use crate::cluster::ClusterSyncMode;

fn cluster(name: &str, spec: ClusterSpec) -> Cluster {
    Cluster::new(name, spec)
}

fn push() -> ClusterSpec {
    ClusterSpec {
        id: None,
        sync_mode: ClusterSyncMode::Push,
        api_endpoint: Some("https://10.0.0.1:6443".into()),
        secret_ref: None,
        impersonator_secret_ref: None,
        insecure_skip_tls_verification: None,
        proxy_url: None,
        proxy_header: Default::default(),
        provider: None,
        region: None,
        zone: None,
        zones: vec![],
        taints: vec![],
        resource_models: vec![],
    }
}

fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: value.map(Into::into),
        effect: effect.into(),
        time_added: None,
    }
}

fn range(name: &str, min: &str, max: &str) -> ResourceModelRange {
    ResourceModelRange {
        name: name.into(),
        min: Quantity(min.into()),
        max: Quantity(max.into()),
    }
}

#[test]
fn defaults_migrate_zone_and_fill_models() {
    let mut c = cluster(
        "m",
        ClusterSpec {
            zone: Some("z1".into()),
            ..push()
        },
    );
    c.default_fields();
    assert_eq!(c.spec.zone, None);
    assert_eq!(c.spec.zones, ["z1"]);
    assert_eq!(c.spec.resource_models.len(), 9);
    assert_eq!(
        c.spec.resource_models[1].ranges[1],
        range("memory", "4Gi", "16Gi")
    );
    assert_eq!(
        c.spec.resource_models[8].ranges[0].max.0,
        "9223372036854775807"
    );
    assert_eq!(c.spec.resource_models[7].ranges[1].max.0, "1Ti");
    assert!(c.validate(None).is_empty(), "{:?}", c.validate(None));
}

#[test]
fn defaults_standardize_given_models() {
    let mut c = cluster(
        "m",
        ClusterSpec {
            resource_models: vec![
                ResourceModel {
                    grade: 1,
                    ranges: vec![range("cpu", "2", "5")],
                },
                ResourceModel {
                    grade: 0,
                    ranges: vec![range("cpu", "1", "2")],
                },
            ],
            ..push()
        },
    );
    c.default_fields();
    assert_eq!(c.spec.resource_models[0].ranges[0], range("cpu", "0", "2"));
    assert_eq!(
        c.spec.resource_models[1].ranges[0],
        range("cpu", "2", "9223372036854775807")
    );
    assert!(c.validate(None).is_empty());
}

#[test]
fn no_execute_taints_get_a_time() {
    let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    let mut taints = vec![
        taint("a", None, "NoExecute"),
        taint("b", None, "NoSchedule"),
    ];
    stamp_no_execute_taints(&mut taints, &now);
    assert_eq!(taints[0].time_added, Some(now));
    assert_eq!(taints[1].time_added, None);
}

/// Case name, cluster name, spec, and the (field, reason) errors expected.
type Case<'a> = (&'a str, &'a str, ClusterSpec, Vec<(&'a str, Reason)>);

#[test]
fn validation_table() {
    let models = |ranges: Vec<Vec<ResourceModelRange>>| {
        ranges
            .into_iter()
            .enumerate()
            .map(|(g, ranges)| ResourceModel {
                grade: g as u32,
                ranges,
            })
            .collect::<Vec<_>>()
    };
    let max = "9223372036854775807";
    let long_name = "a".repeat(49);
    let cases: Vec<Case> = vec![
        ("valid", "member1", push(), vec![]),
        (
            "empty name",
            "",
            push(),
            vec![("metadata.name", Reason::Invalid)],
        ),
        (
            "name too long",
            &long_name,
            push(),
            vec![("metadata.name", Reason::Invalid)],
        ),
        (
            "name not a label",
            "Member_1",
            push(),
            vec![("metadata.name", Reason::Invalid)],
        ),
        (
            "endpoint without host",
            "m",
            ClusterSpec {
                api_endpoint: Some("10.0.0.1:6443".into()),
                ..push()
            },
            vec![("spec.apiEndpoint", Reason::Invalid)],
        ),
        (
            "endpoint with user, query and fragment",
            "m",
            ClusterSpec {
                api_endpoint: Some("https://u:p@h:6443/x?y=1#z".into()),
                ..push()
            },
            vec![
                ("spec.apiEndpoint", Reason::Invalid),
                ("spec.apiEndpoint", Reason::Invalid),
                ("spec.apiEndpoint", Reason::Invalid),
            ],
        ),
        (
            "secret refs need namespace and name",
            "m",
            ClusterSpec {
                secret_ref: Some(LocalSecretReference::default()),
                impersonator_secret_ref: Some(LocalSecretReference {
                    namespace: "ns".into(),
                    name: String::new(),
                }),
                ..push()
            },
            vec![
                ("spec.secretRef.namespace", Reason::Required),
                ("spec.secretRef.name", Reason::Required),
                ("spec.impersonatorSecretRef.name", Reason::Required),
            ],
        ),
        (
            "proxy scheme",
            "m",
            ClusterSpec {
                proxy_url: Some("ftp://p:21".into()),
                ..push()
            },
            vec![("spec.proxyURL", Reason::Invalid)],
        ),
        (
            "socks5 proxy",
            "m",
            ClusterSpec {
                proxy_url: Some("socks5://p:1080".into()),
                ..push()
            },
            vec![],
        ),
        (
            "provider and region label values",
            "m",
            ClusterSpec {
                provider: Some("a b".into()),
                region: Some("-r".into()),
                ..push()
            },
            vec![
                ("spec.provider", Reason::Invalid),
                ("spec.region", Reason::Invalid),
            ],
        ),
        (
            "zone and zones",
            "m",
            ClusterSpec {
                zone: Some("z".into()),
                zones: vec!["z".into()],
                ..push()
            },
            vec![("spec.zones", Reason::Invalid)],
        ),
        (
            "bad zone in zones",
            "m",
            ClusterSpec {
                zones: vec!["ok".into(), "not ok".into()],
                ..push()
            },
            vec![("spec.zones[1]", Reason::Invalid)],
        ),
        (
            "taint rules",
            "m",
            ClusterSpec {
                taints: vec![
                    taint("bad key!", Some("v"), "NoSchedule"),
                    taint("k", Some("bad value!"), "PreferNoSchedule"),
                    taint("k", None, ""),
                    taint("dup", None, "NoExecute"),
                    taint("dup", Some("x"), "NoExecute"),
                ],
                ..push()
            },
            vec![
                ("spec.taints[0].key", Reason::Invalid),
                ("spec.taints[1].value", Reason::Invalid),
                ("spec.taints[1].effect", Reason::NotSupported),
                ("spec.taints[2].effect", Reason::Required),
                ("spec.taints[4]", Reason::Duplicate),
            ],
        ),
        (
            "model first min not 0",
            "m",
            ClusterSpec {
                resource_models: models(vec![vec![range("cpu", "1", max)]]),
                ..push()
            },
            vec![("spec.resourceModels", Reason::Invalid)],
        ),
        (
            "model max not above min",
            "m",
            ClusterSpec {
                resource_models: models(vec![
                    vec![range("cpu", "0", "0")],
                    vec![range("cpu", "0", max)],
                ]),
                ..push()
            },
            vec![("spec.resourceModels", Reason::Invalid)],
        ),
        (
            "model gap",
            "m",
            ClusterSpec {
                resource_models: models(vec![
                    vec![range("cpu", "0", "1")],
                    vec![range("cpu", "2", max)],
                ]),
                ..push()
            },
            vec![("spec.resourceModels", Reason::Invalid)],
        ),
        (
            "model last bounded",
            "m",
            ClusterSpec {
                resource_models: models(vec![
                    vec![range("cpu", "0", "1")],
                    vec![range("cpu", "1000m", "2")],
                ]),
                ..push()
            },
            vec![("spec.resourceModels", Reason::Invalid)],
        ),
        (
            "model resource names differ",
            "m",
            ClusterSpec {
                resource_models: models(vec![
                    vec![range("cpu", "0", "1")],
                    vec![range("memory", "1", max)],
                ]),
                ..push()
            },
            vec![("spec.resourceModels", Reason::Invalid)],
        ),
        (
            "model resource counts differ",
            "m",
            ClusterSpec {
                resource_models: models(vec![vec![range("cpu", "0", "1")], vec![]]),
                ..push()
            },
            vec![("spec.resourceModels", Reason::Invalid)],
        ),
        (
            "model grades repeat",
            "m",
            ClusterSpec {
                resource_models: vec![
                    ResourceModel {
                        grade: 0,
                        ranges: vec![range("cpu", "0", "1")],
                    },
                    ResourceModel {
                        grade: 0,
                        ranges: vec![range("cpu", "1", max)],
                    },
                ],
                ..push()
            },
            vec![("spec.resourceModels", Reason::Invalid)],
        ),
        (
            "model bad quantity",
            "m",
            ClusterSpec {
                resource_models: models(vec![vec![range("cpu", "zero", max)]]),
                ..push()
            },
            vec![("spec.resourceModels", Reason::Invalid)],
        ),
        (
            "contiguous models in mixed units",
            "m",
            ClusterSpec {
                resource_models: models(vec![
                    vec![range("memory", "0", "1Gi")],
                    vec![range("memory", "1024Mi", max)],
                ]),
                ..push()
            },
            vec![],
        ),
    ];
    for (case, name, spec, want) in cases {
        crate::validation::assert_fields(case, cluster(name, spec).validate(None), &want);
    }
}
