//! `metadata.managedFields`: decoding, encoding, and recording which manager set which fields
//! on non-apply writes (create, update, patch).

use serde_json::{Map, Value, json};

use super::fieldset::FieldSet;
use super::schema::Schema;
use super::{Error, fields};
use crate::registry::catalog::{Gvk, split_api_version};

/// Upstream's `DefaultMaxUpdateManagers`: older `Update` entries are merged past this many.
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager that merged-away `Update` entries are folded into.
pub const ANCIENT_CHANGES: &str = "ancient-changes";

/// Metadata fields no manager owns: identity and bookkeeping set by the server.
const UNTRACKED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// One `managedFields` entry with its field set decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    /// Whether this entry belongs to the writer identified by these three (upstream keys
    /// entries by manager, operation and subresource).
    pub fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }
}

/// Decodes `metadata.managedFields` of an object; an object without it has no entries.
pub fn decode(object: &Value) -> Result<Vec<Entry>, Error> {
    match object.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(decode_entry).collect(),
        Some(other) => Err(Error::InvalidManagedFields(format!(
            "expected a list, not {other}"
        ))),
    }
}

fn decode_entry(item: &Value) -> Result<Entry, Error> {
    let invalid = Error::InvalidManagedFields;
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
    let operation = text("operation").unwrap_or_default();
    if operation != "Apply" && operation != "Update" {
        return Err(invalid(format!(
            "operation must be Apply or Update, not {operation:?}"
        )));
    }
    if let Some(kind) = text("fieldsType").filter(|t| t != "FieldsV1") {
        return Err(invalid(format!(
            "fieldsType must be FieldsV1, not {kind:?}"
        )));
    }
    let fields = match item.get("fieldsV1") {
        None | Some(Value::Null) => FieldSet::default(),
        Some(v1) => FieldSet::from_fields_v1(v1)?,
    };
    Ok(Entry {
        manager: text("manager").unwrap_or_default(),
        operation,
        api_version: text("apiVersion").unwrap_or_default(),
        time: text("time"),
        subresource: text("subresource").filter(|s| !s.is_empty()),
        fields,
    })
}

/// Writes `entries` into `metadata.managedFields`, in Kubernetes' order (Apply entries first,
/// then oldest first); no entries removes the field.
pub fn encode(object: &mut Value, mut entries: Vec<Entry>) {
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        metadata.shift_remove("managedFields");
        return;
    }
    let items = entries.into_iter().map(|e| {
        let mut item = json!({
            "manager": e.manager,
            "operation": e.operation,
            "apiVersion": e.api_version,
        });
        if let Some(time) = e.time {
            item["time"] = Value::String(time);
        }
        item["fieldsType"] = json!("FieldsV1");
        item["fieldsV1"] = e.fields.to_fields_v1();
        if let Some(sub) = e.subresource {
            item["subresource"] = Value::String(sub);
        }
        item
    });
    metadata.insert("managedFields".into(), Value::Array(items.collect()));
}

/// The schema of an object, read from its own `apiVersion` and `kind`.
pub(crate) fn schema_of(object: &Value) -> Schema {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (group, version) = split_api_version(api_version);
    Schema::for_kind(&Gvk::new(group, version, kind))
}

/// The part of an object field managers can own: without type, identity and bookkeeping
/// metadata, and restricted to (writes of the `status` subresource) or stripped of `status`.
pub(crate) fn tracked(object: &Value, subresource: Option<&str>) -> Value {
    let Value::Object(root) = object else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for (name, value) in root {
        let keep = match (subresource, name.as_str()) {
            (_, "apiVersion" | "kind") => false,
            (Some("status"), field) => field == "status",
            (_, "status") => false,
            _ => true,
        };
        if keep {
            out.insert(name.clone(), value.clone());
        }
    }
    if let Some(Value::Object(metadata)) = out.get_mut("metadata") {
        metadata.retain(|k, _| !UNTRACKED_METADATA.contains(&k.as_str()));
        if metadata.is_empty() {
            out.shift_remove("metadata");
        }
    }
    Value::Object(out)
}

/// The `fieldsV1` set of every field of a whole object that a manager can own.
pub fn fields_of(object: &Value) -> FieldSet {
    fields::field_set(&tracked(object, None), &schema_of(object), true)
}

/// Records a non-apply write: `manager`'s `Update` entry comes to own every field this write
/// added or changed, other managers lose those fields, and fields the write removed leave
/// every set. Entries left empty are dropped and at most [`MAX_UPDATE_MANAGERS`] `Update`
/// entries are kept. `old` is `None` for a create.
///
/// As upstream, managedFields sent in `new` replace the stored ones when they are valid and
/// non-empty (that is how clients such as kubectl migrate ownership); `[{}]` clears them.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    now: &str,
    subresource: Option<&str>,
) {
    let mut entries = base_entries(old, new, subresource);
    let schema = schema_of(new);
    let empty = Value::Object(Map::new());
    let before = tracked(old.unwrap_or(&empty), subresource);
    let after = tracked(new, subresource);
    let cmp = fields::compare(&before, &after, &schema);
    if !cmp.is_empty() {
        let changed = cmp.added.union(&cmp.modified);
        for entry in entries
            .iter_mut()
            .filter(|e| !e.is(manager, "Update", subresource))
        {
            entry.fields = entry.fields.difference(&changed).difference(&cmp.removed);
        }
        let index = match entries
            .iter()
            .position(|e| e.is(manager, "Update", subresource))
        {
            Some(index) => index,
            None => {
                entries.push(Entry {
                    manager: manager.into(),
                    operation: "Update".into(),
                    api_version: api_version.into(),
                    time: None,
                    subresource: subresource.map(str::to_string),
                    fields: FieldSet::default(),
                });
                entries.len() - 1
            }
        };
        let mine = &mut entries[index];
        mine.fields = mine.fields.difference(&cmp.removed).union(&changed);
        mine.api_version = api_version.into();
        mine.time = Some(now.into());
        entries.retain(|e| !e.fields.is_empty());
        cap_update_entries(&mut entries);
    }
    encode(new, entries);
}

/// The entries a write starts from: those sent with the object when they are meant to replace
/// the stored ones, else the stored ones. Undecodable stored entries are dropped, as upstream.
fn base_entries(old: Option<&Value>, new: &Value, subresource: Option<&str>) -> Vec<Entry> {
    let stored = || {
        old.map(|o| decode(o).unwrap_or_default())
            .unwrap_or_default()
    };
    if subresource.is_some() {
        return stored();
    }
    match new.pointer("/metadata/managedFields") {
        Some(Value::Array(items)) if items.len() == 1 && items[0] == json!({}) => Vec::new(),
        Some(Value::Array(items)) if !items.is_empty() => match decode(new) {
            Ok(sent) if sent.iter().any(|e| !e.fields.is_empty()) => sent,
            _ => stored(),
        },
        _ => stored(),
    }
}

/// Folds the oldest `Update` entries into one `ancient-changes` entry until at most
/// [`MAX_UPDATE_MANAGERS`] remain.
pub(crate) fn cap_update_entries(entries: &mut Vec<Entry>) {
    loop {
        let updates = entries.iter().filter(|e| e.operation == "Update").count();
        if updates <= MAX_UPDATE_MANAGERS {
            return;
        }
        let oldest = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.operation == "Update" && e.manager != ANCIENT_CHANGES)
            .min_by(|(_, a), (_, b)| a.time.cmp(&b.time))
            .map(|(i, _)| i);
        let Some(oldest) = oldest else { return };
        let folded = entries.remove(oldest);
        match entries
            .iter_mut()
            .find(|e| e.is(ANCIENT_CHANGES, "Update", None))
        {
            Some(bucket) => bucket.fields = bucket.fields.union(&folded.fields),
            None => entries.push(Entry {
                manager: ANCIENT_CHANGES.into(),
                subresource: None,
                ..folded
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "2025-01-01T00:00:00Z";
    const T2: &str = "2025-01-02T00:00:00Z";

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "1",
                         "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}},
            "status": {"replicas": 0}
        })
    }

    fn entries(object: &Value) -> Vec<Entry> {
        decode(object).unwrap()
    }

    #[test]
    fn create_records_every_tracked_field_for_the_manager() {
        let mut obj = deployment(1, "nginx");
        record_update(None, &mut obj, "kubectl-create", "apps/v1", T1, None);
        let managed = &obj["metadata"]["managedFields"];
        assert_eq!(
            managed,
            &json!([{
                "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": T1,
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}
                }
            }])
        );
    }

    #[test]
    fn updates_move_changed_fields_between_managers() {
        let mut created = deployment(1, "nginx");
        record_update(None, &mut created, "creator", "apps/v1", T1, None);
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(3);
        record_update(
            Some(&created),
            &mut scaled,
            "kubectl-scale",
            "apps/v1",
            T2,
            None,
        );

        let all = entries(&scaled);
        assert_eq!(all.len(), 2);
        let replicas = vec!["f:spec".to_string(), "f:replicas".to_string()];
        assert!(!all[0].fields.contains(&replicas), "creator lost replicas");
        assert_eq!(all[1].manager, "kubectl-scale");
        assert_eq!(all[1].fields.paths(), vec![replicas]);
        assert_eq!(all[1].time.as_deref(), Some(T2));

        // The same manager scaling again only refreshes its own entry.
        let mut again = scaled.clone();
        again["spec"]["replicas"] = json!(4);
        record_update(
            Some(&scaled),
            &mut again,
            "kubectl-scale",
            "apps/v1",
            T2,
            None,
        );
        assert_eq!(entries(&again).len(), 2);
    }

    #[test]
    fn unchanged_writes_leave_managed_fields_alone_and_status_is_not_tracked() {
        let mut created = deployment(1, "nginx");
        record_update(None, &mut created, "creator", "apps/v1", T1, None);
        let mut same = created.clone();
        same["status"]["replicas"] = json!(5);
        same["metadata"]["resourceVersion"] = json!("9");
        record_update(Some(&created), &mut same, "other", "apps/v1", T2, None);
        assert_eq!(
            same["metadata"]["managedFields"],
            created["metadata"]["managedFields"]
        );

        let mut status = same.clone();
        status["status"]["replicas"] = json!(6);
        record_update(
            Some(&same),
            &mut status,
            "controller",
            "apps/v1",
            T2,
            Some("status"),
        );
        let all = entries(&status);
        let ctrl = all.iter().find(|e| e.manager == "controller").unwrap();
        assert_eq!(ctrl.subresource.as_deref(), Some("status"));
        assert_eq!(
            ctrl.fields.to_fields_v1(),
            json!({"f:status": {"f:replicas": {}}})
        );
    }

    #[test]
    fn removed_fields_leave_every_manager_and_empty_entries_disappear() {
        let mut created = deployment(1, "nginx");
        created["metadata"]["annotations"] = json!({"note": "x"});
        record_update(None, &mut created, "creator", "apps/v1", T1, None);
        let mut annotated = created.clone();
        annotated["metadata"]["annotations"]["note"] = json!("y");
        record_update(
            Some(&created),
            &mut annotated,
            "annotator",
            "apps/v1",
            T2,
            None,
        );
        let mut cleared = annotated.clone();
        cleared["metadata"]
            .as_object_mut()
            .unwrap()
            .shift_remove("annotations");
        record_update(
            Some(&annotated),
            &mut cleared,
            "creator",
            "apps/v1",
            T2,
            None,
        );
        let all = entries(&cleared);
        assert_eq!(
            all.iter().map(|e| e.manager.as_str()).collect::<Vec<_>>(),
            ["creator"]
        );
    }

    #[test]
    fn managed_fields_sent_by_the_client_replace_the_stored_ones() {
        let mut created = deployment(1, "nginx");
        record_update(
            None,
            &mut created,
            "kubectl-client-side-apply",
            "apps/v1",
            T1,
            None,
        );
        let mut migrated = created.clone();
        migrated["metadata"]["managedFields"][0]["manager"] = json!("kubectl");
        migrated["metadata"]["managedFields"][0]["operation"] = json!("Apply");
        record_update(
            Some(&created),
            &mut migrated,
            "kubectl",
            "apps/v1",
            T2,
            None,
        );
        let all = entries(&migrated);
        assert_eq!(all.len(), 1);
        assert!(all[0].is("kubectl", "Apply", None));

        let mut reset = created.clone();
        reset["metadata"]["managedFields"] = json!([{}]);
        record_update(Some(&created), &mut reset, "x", "apps/v1", T2, None);
        assert!(reset["metadata"].get("managedFields").is_none());

        let mut garbage = created.clone();
        garbage["metadata"]["managedFields"] = json!([{"operation": "Frobnicate"}]);
        record_update(Some(&created), &mut garbage, "x", "apps/v1", T2, None);
        assert_eq!(
            garbage["metadata"]["managedFields"],
            created["metadata"]["managedFields"]
        );
    }

    #[test]
    fn update_entries_are_capped_by_folding_the_oldest() {
        let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"seed": "x"}});
        for i in 0..12 {
            let old = obj.clone();
            obj["data"][format!("k{i}")] = json!("v");
            let time = format!("2025-01-01T00:00:{i:02}Z");
            record_update(Some(&old), &mut obj, &format!("m{i}"), "v1", &time, None);
        }
        let all = entries(&obj);
        assert_eq!(all.len(), MAX_UPDATE_MANAGERS);
        let bucket = all.iter().find(|e| e.manager == ANCIENT_CHANGES).unwrap();
        assert_eq!(
            bucket.fields.to_fields_v1(),
            json!({"f:data": {"f:k0": {}, "f:k1": {}, "f:k2": {}}})
        );
        assert!(all.iter().any(|e| e.manager == "m11"));
        assert!(!all.iter().any(|e| e.manager == "m2"));
    }

    #[test]
    fn fields_of_a_whole_object() {
        let set = fields_of(&deployment(1, "nginx"));
        assert_eq!(
            set.to_fields_v1()["f:metadata"],
            json!({"f:labels": {".": {}, "f:app": {}}})
        );
        assert!(set.to_fields_v1().get("f:status").is_none());
    }
}
