//! Printers for storage kinds: volumes, claims, storage classes, attachments and CSI objects.

use jiff::Timestamp;
use serde_json::Value;

use super::age;
use super::fields::{entry, flag, items, len, name, non_empty, quantity, text};
use super::{AGE, Column, NAME, Printer, col, column, wide};

pub(super) const PRINTERS: &[Printer] = &[
    Printer {
        group: "",
        kind: "PersistentVolume",
        columns: PERSISTENT_VOLUME,
        cells: persistent_volume,
    },
    Printer {
        group: "",
        kind: "PersistentVolumeClaim",
        columns: CLAIM,
        cells: claim,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "StorageClass",
        columns: STORAGE_CLASS,
        cells: storage_class,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "VolumeAttachment",
        columns: ATTACHMENT,
        cells: attachment,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "CSIDriver",
        columns: CSI_DRIVER,
        cells: csi_driver,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "CSINode",
        columns: CSI_NODE,
        cells: csi_node,
    },
];

const PERSISTENT_VOLUME: &[Column] = &[
    NAME,
    col("Capacity", "string", "The storage capacity of the volume."),
    col(
        "Access Modes",
        "string",
        "The ways the volume can be mounted.",
    ),
    col(
        "Reclaim Policy",
        "string",
        "What happens to the volume when released from its claim.",
    ),
    col("Status", "string", "The phase of the volume."),
    col("Claim", "string", "The claim bound to the volume."),
    col("StorageClass", "string", "StorageClass of the pv"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pv",
    ),
    col("Reason", "string", "Why the volume is in its phase."),
    AGE,
    wide(
        "VolumeMode",
        "string",
        "Whether the volume is a filesystem or a raw block device.",
    ),
];

const CLAIM: &[Column] = &[
    NAME,
    col("Status", "string", "The phase of the claim."),
    col("Volume", "string", "The volume bound to the claim."),
    col("Capacity", "string", "The capacity of the bound volume."),
    col(
        "Access Modes",
        "string",
        "The access modes of the bound volume.",
    ),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pvc",
    ),
    AGE,
    wide(
        "VolumeMode",
        "string",
        "Whether the volume is a filesystem or a raw block device.",
    ),
];

const STORAGE_CLASS: &[Column] = &[
    NAME,
    col(
        "Provisioner",
        "string",
        "The provisioner of volumes of this class.",
    ),
    col(
        "ReclaimPolicy",
        "string",
        "The reclaim policy of volumes of this class.",
    ),
    col(
        "VolumeBindingMode",
        "string",
        "When volumes are bound and provisioned.",
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        "Whether volumes of this class can be expanded.",
    ),
    AGE,
];

const ATTACHMENT: &[Column] = &[
    NAME,
    column(
        "Attacher",
        "string",
        "name",
        0,
        "The volume driver attaching.",
    ),
    col("PV", "string", "The persistent volume being attached."),
    col("Node", "string", "The node the volume is attached to."),
    col(
        "Attached",
        "boolean",
        "Whether the attach operation succeeded.",
    ),
    AGE,
];

const CSI_DRIVER: &[Column] = &[
    NAME,
    col(
        "AttachRequired",
        "boolean",
        "Whether the driver needs an attach operation.",
    ),
    col(
        "PodInfoOnMount",
        "boolean",
        "Whether pod information is passed on mount.",
    ),
    col(
        "StorageCapacity",
        "boolean",
        "Whether the scheduler considers storage capacity.",
    ),
    col(
        "TokenRequests",
        "string",
        "Audiences of the service account tokens passed to the driver.",
    ),
    col(
        "RequiresRepublish",
        "boolean",
        "Whether volumes are periodically republished.",
    ),
    col(
        "Modes",
        "string",
        "The volume lifecycle modes the driver supports.",
    ),
    AGE,
];

const CSI_NODE: &[Column] = &[
    NAME,
    col(
        "Drivers",
        "integer",
        "Drivers indicates the number of CSI drivers registered on the node",
    ),
    AGE,
];

/// `RWO,ROX,RWX,RWOP` in that fixed order.
fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The storage class, from the beta annotation first as the API still honours it.
fn class(object: &Value) -> &str {
    entry(
        object,
        "/metadata/annotations",
        "volume.beta.kubernetes.io/storage-class",
    )
    .unwrap_or(text(object, "/spec/storageClassName"))
}

fn deleting(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

fn persistent_volume(pv: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match pv.pointer("/spec/claimRef").filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", text(c, "/namespace"), text(c, "/name")),
        None => String::new(),
    };
    let phase = if deleting(pv) {
        "Terminating"
    } else {
        text(pv, "/status/phase")
    };
    vec![
        name(pv).into(),
        quantity(pv, "/spec/capacity/storage")
            .unwrap_or_else(|| "0".into())
            .into(),
        access_modes(items(pv, "/spec/accessModes")).into(),
        text(pv, "/spec/persistentVolumeReclaimPolicy").into(),
        phase.into(),
        claim.into(),
        class(pv).into(),
        non_empty(pv, "/spec/volumeAttributesClassName")
            .unwrap_or("<unset>")
            .into(),
        text(pv, "/status/reason").into(),
        age::created(pv, now),
        non_empty(pv, "/spec/volumeMode")
            .unwrap_or("<unset>")
            .into(),
    ]
}

fn claim(pvc: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if deleting(pvc) {
        "Terminating"
    } else {
        text(pvc, "/status/phase")
    };
    let volume = text(pvc, "/spec/volumeName");
    // Capacity and modes describe the bound volume, so they stay blank until binding.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(pvc, "/status/capacity/storage").unwrap_or_else(|| "0".into()),
            access_modes(items(pvc, "/status/accessModes")),
        )
    };
    vec![
        name(pvc).into(),
        phase.into(),
        volume.into(),
        capacity.into(),
        modes.into(),
        class(pvc).into(),
        non_empty(pvc, "/spec/volumeAttributesClassName")
            .unwrap_or("<unset>")
            .into(),
        age::created(pvc, now),
        non_empty(pvc, "/spec/volumeMode")
            .unwrap_or("<unset>")
            .into(),
    ]
}

fn storage_class(sc: &Value, now: Timestamp) -> Vec<Value> {
    let is_default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|key| entry(sc, "/metadata/annotations", key) == Some("true"));
    let shown_name = if is_default {
        format!("{} (default)", name(sc))
    } else {
        name(sc).to_string()
    };
    vec![
        shown_name.into(),
        text(sc, "/provisioner").into(),
        non_empty(sc, "/reclaimPolicy").unwrap_or("Delete").into(),
        non_empty(sc, "/volumeBindingMode")
            .unwrap_or("Immediate")
            .into(),
        flag(sc, "/allowVolumeExpansion").unwrap_or(false).into(),
        age::created(sc, now),
    ]
}

fn attachment(va: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(va).into(),
        text(va, "/spec/attacher").into(),
        text(va, "/spec/source/persistentVolumeName").into(),
        text(va, "/spec/nodeName").into(),
        flag(va, "/status/attached").unwrap_or(false).into(),
        age::created(va, now),
    ]
}

fn csi_driver(driver: &Value, now: Timestamp) -> Vec<Value> {
    let token_requests = match driver
        .pointer("/spec/tokenRequests")
        .and_then(Value::as_array)
    {
        Some(requests) => requests
            .iter()
            .map(|r| text(r, "/audience"))
            .collect::<Vec<_>>()
            .join(","),
        None => "<unset>".into(),
    };
    let modes: Vec<&str> = items(driver, "/spec/volumeLifecycleModes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let modes = if modes.is_empty() {
        "<none>".to_string()
    } else {
        modes.join(",")
    };
    vec![
        name(driver).into(),
        flag(driver, "/spec/attachRequired").unwrap_or(true).into(),
        flag(driver, "/spec/podInfoOnMount").unwrap_or(false).into(),
        flag(driver, "/spec/storageCapacity")
            .unwrap_or(false)
            .into(),
        token_requests.into(),
        flag(driver, "/spec/requiresRepublish")
            .unwrap_or(false)
            .into(),
        modes.into(),
        age::created(driver, now),
    ]
}

fn csi_node(node: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(node).into(),
        len(node, "/spec/drivers").into(),
        age::created(node, now),
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
    fn claims_volumes_and_classes() {
        let pvc = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv-1", "storageClassName": "fast"},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}});
        assert_eq!(
            claim(&pvc, now())[1..7],
            [
                json!("Bound"),
                json!("pv-1"),
                json!("10Gi"),
                json!("RWO,RWX"),
                json!("fast"),
                json!("<unset>")
            ]
        );
        let pending = json!({"metadata": {"name": "data", "deletionTimestamp": "2024-05-01T11:00:00Z"}, "spec": {}});
        assert_eq!(
            claim(&pending, now())[1..5],
            [json!("Terminating"), json!(""), json!(""), json!("")]
        );

        let pv = json!({"metadata": {"name": "pv-1"}, "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": "db", "name": "data"}},
            "status": {"phase": "Bound"}});
        assert_eq!(
            persistent_volume(&pv, now())[1..6],
            [
                json!("10Gi"),
                json!("RWO"),
                json!("Retain"),
                json!("Bound"),
                json!("db/data")
            ]
        );

        let sc = json!({"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path"});
        assert_eq!(
            storage_class(&sc, now())[..5],
            [
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("Immediate"),
                json!(false)
            ]
        );
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
