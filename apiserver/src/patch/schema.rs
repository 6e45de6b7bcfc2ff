//! Per-kind merge metadata: which lists merge by key, which are sets, which objects are atomic.

// Strategic merge patch (patchStrategy/patchMergeKey) and server-side apply
// (x-kubernetes-list-type/list-map-keys) read different annotations of the same Go types, so
// one rule carries both. Rules live in a tree indexed by field name; list elements do not add a
// level, so `spec.containers.env` names the `env` list of every container. Shared structures
// (object metadata, pod specs, containers) are written once and mounted wherever a kind embeds
// them.

use std::collections::BTreeMap;

use crate::registry::catalog::Gvk;

/// How a list merges under strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmpList {
    /// No patch strategy: the patch's list replaces the live one.
    Replace,
    /// `patchStrategy: merge` with `patchMergeKey`: elements merge by that key; scalar
    /// elements form a union.
    MergeByKey(&'static str),
    /// `patchStrategy: merge` on a list of scalars: a union.
    MergeScalars,
}

/// One key field of a server-side apply associative list, with the value the API server
/// defaults it to when the element omits it (ports default `protocol` to TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListKey {
    pub name: &'static str,
    pub default: Option<&'static str>,
}

/// How a field is tracked and merged by server-side apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SsaType {
    /// Objects merge field by field; lists are atomic (the schema default).
    Granular,
    /// The whole value is one field (`+structType=atomic`, `+mapType=atomic`).
    Atomic,
    /// `x-kubernetes-list-type: set`: scalar elements owned one by one.
    Set,
    /// `x-kubernetes-list-type: map`: elements identified by these key fields.
    Map(&'static [ListKey]),
}

/// Everything the patch engines need to know about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldRule {
    pub smp: SmpList,
    /// `patchStrategy: retainKeys`: a `$retainKeys` directive may clear unlisted fields.
    pub retain_keys: bool,
    pub ssa: SsaType,
}

impl FieldRule {
    const DEFAULT: FieldRule = FieldRule {
        smp: SmpList::Replace,
        retain_keys: false,
        ssa: SsaType::Granular,
    };
}

const fn key(name: &'static str) -> ListKey {
    ListKey {
        name,
        default: None,
    }
}

const NAME: &[ListKey] = &[key("name")];
const TYPE: &[ListKey] = &[key("type")];
const IP: &[ListKey] = &[key("ip")];
const PROTOCOL_TCP: ListKey = ListKey {
    name: "protocol",
    default: Some("TCP"),
};
const CONTAINER_PORT_KEYS: &[ListKey] = &[key("containerPort"), PROTOCOL_TCP];
const SERVICE_PORT_KEYS: &[ListKey] = &[key("port"), PROTOCOL_TCP];

/// A list merged by `merge_key` under SMP and keyed by `keys` under SSA.
const fn keyed(merge_key: &'static str, keys: &'static [ListKey]) -> FieldRule {
    FieldRule {
        smp: SmpList::MergeByKey(merge_key),
        retain_keys: false,
        ssa: SsaType::Map(keys),
    }
}

const fn keyed_retain(merge_key: &'static str, keys: &'static [ListKey]) -> FieldRule {
    FieldRule {
        retain_keys: true,
        ..keyed(merge_key, keys)
    }
}

/// SMP merges by `merge_key` but SSA treats the list as atomic (e.g. Job conditions).
const fn keyed_smp_only(merge_key: &'static str) -> FieldRule {
    FieldRule {
        smp: SmpList::MergeByKey(merge_key),
        retain_keys: false,
        ssa: SsaType::Granular,
    }
}

const SCALAR_SET: FieldRule = FieldRule {
    smp: SmpList::MergeScalars,
    retain_keys: false,
    ssa: SsaType::Set,
};
const ATOMIC: FieldRule = FieldRule {
    ssa: SsaType::Atomic,
    ..FieldRule::DEFAULT
};
const RETAIN_KEYS: FieldRule = FieldRule {
    retain_keys: true,
    ..FieldRule::DEFAULT
};
const CONDITIONS: FieldRule = keyed("type", TYPE);

type Table = &'static [(&'static str, FieldRule)];

/// `ObjectMeta`, mounted at `metadata` and at every embedded template's `metadata`.
const OBJECT_META: Table = &[
    ("finalizers", SCALAR_SET),
    ("ownerReferences", keyed("uid", &[key("uid")])),
];

/// `PodSpec`, mounted at each kind's pod-spec path.
const POD_SPEC: Table = &[
    ("containers", keyed("name", NAME)),
    ("initContainers", keyed("name", NAME)),
    ("ephemeralContainers", keyed("name", NAME)),
    ("volumes", keyed_retain("name", NAME)),
    ("imagePullSecrets", keyed("name", NAME)),
    ("hostAliases", keyed("ip", IP)),
    (
        "topologySpreadConstraints",
        keyed(
            "topologyKey",
            &[key("topologyKey"), key("whenUnsatisfiable")],
        ),
    ),
    ("topologySpreadConstraints.labelSelector", ATOMIC),
    ("schedulingGates", keyed("name", NAME)),
    ("resourceClaims", keyed_retain("name", NAME)),
    ("nodeSelector", ATOMIC),
];

/// `Container`, mounted under each of the pod spec's container lists.
const CONTAINER: Table = &[
    ("ports", keyed("containerPort", CONTAINER_PORT_KEYS)),
    ("env", keyed("name", NAME)),
    ("volumeMounts", keyed("mountPath", &[key("mountPath")])),
    ("volumeDevices", keyed("devicePath", &[key("devicePath")])),
];

const POD_STATUS: Table = &[
    ("conditions", CONDITIONS),
    ("podIPs", keyed("ip", IP)),
    ("hostIPs", keyed("ip", IP)),
];

/// A node of the rule tree: the rule of the field reached so far and rules below it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Schema {
    rule: FieldRule,
    children: BTreeMap<String, Schema>,
}

/// The schema of a field nothing is known about: granular objects, atomic lists.
static UNKNOWN: Schema = Schema {
    rule: FieldRule::DEFAULT,
    children: BTreeMap::new(),
};

impl Schema {
    fn empty() -> Schema {
        Schema {
            rule: FieldRule::DEFAULT,
            children: BTreeMap::new(),
        }
    }

    /// The rules of one kind. Kinds the table does not know (custom resources) get only the
    /// object-metadata rules, which hold for every Kubernetes object.
    pub(crate) fn for_kind(gvk: &Gvk) -> Schema {
        let mut schema = Schema::empty();
        schema.mount("metadata", OBJECT_META);
        if let Some(template) = pod_template_path(gvk) {
            schema.mount_pod_template(template);
        }
        match (gvk.group.as_str(), gvk.kind.as_str()) {
            ("", "Pod") => {
                schema.mount_pod_spec("spec");
                schema.mount("status", POD_STATUS);
            }
            ("", "Service") => {
                schema.insert("spec.ports", keyed("port", SERVICE_PORT_KEYS));
                schema.insert("spec.selector", ATOMIC);
            }
            ("", "ServiceAccount") => {
                schema.insert("secrets", keyed("name", NAME));
                schema.insert("imagePullSecrets", keyed("name", NAME));
            }
            ("", "Node") => {
                schema.insert("spec.podCIDRs", SCALAR_SET);
                schema.insert("status.addresses", keyed("type", TYPE));
            }
            ("", "ReplicationController") => schema.insert("spec.selector", ATOMIC),
            ("apps", "Deployment") => {
                schema.insert("spec.strategy", RETAIN_KEYS);
                schema.insert("spec.selector", ATOMIC);
            }
            ("apps", "ReplicaSet" | "StatefulSet" | "DaemonSet")
            | ("policy", "PodDisruptionBudget") => schema.insert("spec.selector", ATOMIC),
            ("batch", "Job") => {
                schema.insert("spec.selector", ATOMIC);
                schema.insert("status.conditions", keyed_smp_only("type"));
            }
            _ => {}
        }
        if is_native(gvk) && !schema.has("status.conditions") {
            schema.insert("status.conditions", CONDITIONS);
        }
        schema
    }

    /// The rule of the field this node stands for.
    pub(crate) fn rule(&self) -> FieldRule {
        self.rule
    }

    /// The schema of a field of this object (of each element's field, for lists).
    pub(crate) fn field(&self, name: &str) -> &Schema {
        self.children.get(name).unwrap_or(&UNKNOWN)
    }

    fn has(&self, path: &str) -> bool {
        path.split('.')
            .try_fold(self, |node, name| node.children.get(name))
            .is_some()
    }

    fn insert(&mut self, path: &str, rule: FieldRule) {
        let node = path.split('.').fold(self, |node, name| {
            node.children
                .entry(name.to_string())
                .or_insert_with(Schema::empty)
        });
        node.rule = rule;
    }

    fn mount(&mut self, prefix: &str, table: Table) {
        for (path, rule) in table {
            self.insert(&format!("{prefix}.{path}"), *rule);
        }
    }

    fn mount_pod_spec(&mut self, prefix: &str) {
        self.mount(prefix, POD_SPEC);
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            self.mount(&format!("{prefix}.{list}"), CONTAINER);
        }
    }

    fn mount_pod_template(&mut self, prefix: &str) {
        self.mount(&format!("{prefix}.metadata"), OBJECT_META);
        self.mount_pod_spec(&format!("{prefix}.spec"));
    }
}

/// Where a workload kind embeds its `PodTemplateSpec`.
fn pod_template_path(gvk: &Gvk) -> Option<&'static str> {
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("", "ReplicationController")
        | ("batch", "Job") => Some("spec.template"),
        ("batch", "CronJob") => Some("spec.jobTemplate.spec.template"),
        ("", "PodTemplate") => Some("template"),
        _ => None,
    }
}

/// Whether the kind is compiled into Kubernetes (and so has Go-type patch metadata).
fn is_native(gvk: &Gvk) -> bool {
    let group = gvk.group.as_str();
    !group.contains('.') || group.ends_with(".k8s.io")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_at(schema: &Schema, path: &str) -> FieldRule {
        path.split('.')
            .fold(schema, |node, name| node.field(name))
            .rule()
    }

    #[test]
    fn pod_spec_rules_are_mounted_at_each_kinds_pod_spec() {
        let cases = [
            (Gvk::new("", "v1", "Pod"), "spec"),
            (Gvk::new("apps", "v1", "Deployment"), "spec.template.spec"),
            (Gvk::new("apps", "v1", "StatefulSet"), "spec.template.spec"),
            (Gvk::new("batch", "v1", "Job"), "spec.template.spec"),
            (
                Gvk::new("batch", "v1", "CronJob"),
                "spec.jobTemplate.spec.template.spec",
            ),
            (Gvk::new("", "v1", "PodTemplate"), "template.spec"),
        ];
        for (gvk, pod_spec) in cases {
            let schema = Schema::for_kind(&gvk);
            let containers = rule_at(&schema, &format!("{pod_spec}.containers"));
            assert_eq!(containers.smp, SmpList::MergeByKey("name"), "{gvk:?}");
            let env = rule_at(&schema, &format!("{pod_spec}.initContainers.env"));
            assert_eq!(env.smp, SmpList::MergeByKey("name"), "{gvk:?}");
            let ports = rule_at(&schema, &format!("{pod_spec}.containers.ports"));
            assert_eq!(ports.smp, SmpList::MergeByKey("containerPort"), "{gvk:?}");
            assert_eq!(ports.ssa, SsaType::Map(CONTAINER_PORT_KEYS));
            assert!(rule_at(&schema, &format!("{pod_spec}.volumes")).retain_keys);
            assert_eq!(
                rule_at(&schema, &format!("{pod_spec}.tolerations")).smp,
                SmpList::Replace
            );
        }
    }

    #[test]
    fn metadata_rules_hold_for_every_kind_and_conditions_for_native_ones() {
        let crd = Schema::for_kind(&Gvk::new("example.com", "v1", "Widget"));
        assert_eq!(rule_at(&crd, "metadata.finalizers").ssa, SsaType::Set);
        assert_eq!(rule_at(&crd, "status.conditions").smp, SmpList::Replace);

        let ns = Schema::for_kind(&Gvk::new("", "v1", "Namespace"));
        assert_eq!(
            rule_at(&ns, "status.conditions").smp,
            SmpList::MergeByKey("type")
        );
        assert_eq!(rule_at(&ns, "spec.finalizers").smp, SmpList::Replace);

        let job = Schema::for_kind(&Gvk::new("batch", "v1", "Job"));
        assert_eq!(rule_at(&job, "status.conditions").ssa, SsaType::Granular);
        assert_eq!(
            rule_at(&job, "spec.template.metadata.finalizers").ssa,
            SsaType::Set
        );

        let deploy = Schema::for_kind(&Gvk::new("apps", "v1", "Deployment"));
        assert!(rule_at(&deploy, "spec.strategy").retain_keys);
        assert_eq!(rule_at(&deploy, "spec.selector").ssa, SsaType::Atomic);

        let svc = Schema::for_kind(&Gvk::new("", "v1", "Service"));
        assert_eq!(rule_at(&svc, "spec.ports").smp, SmpList::MergeByKey("port"));
    }
}
