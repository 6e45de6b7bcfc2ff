//! Server-side apply: merge an applied configuration into the live object, track which
//! manager owns which field, prune fields an applier dropped, and detect conflicts.

use serde_json::{Map, Value};

use super::fields::{self, element_ids};
use super::fieldset::{self, Element, FieldSet};
use super::managed_fields::{self, Entry, tracked};
use super::schema::{Schema, SsaType};
use super::{Error, FieldConflict};
use crate::registry::catalog::Gvk;

/// Who applies what, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyContext {
    /// The `fieldManager` of the request.
    pub manager: String,
    /// `force=true`: take ownership of conflicting fields instead of failing.
    pub force: bool,
    /// The API version the request was made with (`apps/v1`), recorded in the entry.
    pub api_version: String,
    pub kind_gvk: Gvk,
    /// The request time, RFC 3339 (`2025-01-01T00:00:00Z`).
    pub now: String,
    /// `Some("status")` when applying to the status subresource.
    pub subresource: Option<String>,
}

/// Applies `config` on behalf of `ctx.manager` and returns the object to store, with its
/// `managedFields` updated. `live` is `None` when the apply creates the object.
///
/// The fields `config` sets become owned by the manager (shared with managers that set the
/// same values); fields it applied before and no longer sets are removed unless another
/// manager owns them; changing a value another manager owns is a [`Error::Conflict`] unless
/// `ctx.force`, which moves the ownership instead. Re-applying the same configuration returns
/// the live object unchanged.
pub fn apply(live: Option<&Value>, config: &Value, ctx: &ApplyContext) -> Result<Value, Error> {
    let Value::Object(_) = config else {
        return Err(Error::InvalidPatch(
            "an apply configuration must be a JSON or YAML object".into(),
        ));
    };
    match config.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.is_empty() => {}
        Some(_) => {
            return Err(Error::InvalidPatch(
                "metadata.managedFields must not be set in an apply configuration".into(),
            ));
        }
    }
    let schema = Schema::for_kind(&ctx.kind_gvk);
    let subresource = ctx.subresource.as_deref();
    let config = without_nulls(config);
    let live = live.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    // Undecodable stored entries are dropped, as upstream resets them.
    let mut entries = managed_fields::decode(&live).unwrap_or_default();
    let mine = entries
        .iter()
        .position(|e| e.is(&ctx.manager, "Apply", subresource));
    let previous = mine.map(|i| entries.remove(i));
    let last_set = previous
        .as_ref()
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let config_set = fields::field_set(&tracked(&config, subresource), &schema, false);

    let mut merged = merge(live.clone(), &config, &schema);
    let others = entries
        .iter()
        .fold(FieldSet::default(), |all, e| all.union(&e.fields));
    prune(&mut merged, &schema, &last_set, &others.union(&config_set));

    let cmp = fields::compare(
        &tracked(&live, subresource),
        &tracked(&merged, subresource),
        &schema,
    );
    let changed = cmp.added.union(&cmp.modified);
    let conflicts = conflicts(&entries, &changed);
    if !conflicts.is_empty() && !ctx.force {
        return Err(Error::Conflict { conflicts });
    }
    for entry in &mut entries {
        entry.fields = entry.fields.difference(&changed).difference(&cmp.removed);
    }
    entries.retain(|e| !e.fields.is_empty());

    let unchanged = previous.as_ref().is_some_and(|p| {
        cmp.is_empty() && p.fields == config_set && p.api_version == ctx.api_version
    });
    let time = match &previous {
        Some(p) if unchanged => p.time.clone(),
        _ => Some(ctx.now.clone()),
    };
    if !config_set.is_empty() {
        entries.push(Entry {
            manager: ctx.manager.clone(),
            operation: "Apply".into(),
            api_version: ctx.api_version.clone(),
            time,
            subresource: ctx.subresource.clone(),
            fields: config_set,
        });
    }
    managed_fields::encode(&mut merged, entries);
    Ok(merged)
}

/// Every (manager, field) pair where another manager owns a field this apply changes.
fn conflicts(entries: &[Entry], changed: &FieldSet) -> Vec<FieldConflict> {
    let mut out: Vec<FieldConflict> = entries
        .iter()
        .flat_map(|entry| {
            entry
                .fields
                .intersection(changed)
                .paths()
                .into_iter()
                .map(|path| FieldConflict {
                    manager: entry.manager.clone(),
                    operation: entry.operation.clone(),
                    api_version: entry.api_version.clone(),
                    subresource: entry.subresource.clone(),
                    field: fieldset::display(&path),
                })
        })
        .collect();
    out.sort_by(|a, b| (&a.manager, &a.field).cmp(&(&b.manager, &b.field)));
    out
}

/// Merges the applied configuration into the live object: objects field by field,
/// associative lists and sets element by element (new elements appended), anything atomic
/// replaced.
fn merge(live: Value, config: &Value, schema: &Schema) -> Value {
    if schema.rule().ssa == SsaType::Atomic {
        return config.clone();
    }
    match (live, config) {
        (Value::Object(mut live), Value::Object(config)) => {
            for (name, value) in config {
                let merged = match live.get_mut(name).map(Value::take) {
                    Some(current) => merge(current, value, schema.field(name)),
                    None => value.clone(),
                };
                live.insert(name.clone(), merged);
            }
            Value::Object(live)
        }
        (Value::Array(mut live), Value::Array(config)) => {
            let (Some(live_ids), Some(config_ids)) =
                (element_ids(&live, schema), element_ids(config, schema))
            else {
                return Value::Array(config.clone());
            };
            for (id, item) in config_ids.iter().zip(config) {
                match live_ids.iter().position(|l| l == id) {
                    Some(i) => live[i] = merge(live[i].take(), item, schema),
                    None => live.push(item.clone()),
                }
            }
            Value::Array(live)
        }
        (_, config) => config.clone(),
    }
}

/// Removes what the manager applied last time (`last`) and nobody owns now (`keep`), then
/// the object fields that removal left empty and nobody owns.
fn prune(merged: &mut Value, schema: &Schema, last: &FieldSet, keep: &FieldSet) {
    for path in last.paths() {
        if keep.covers(&path) || !fields::remove(merged, schema, &path) {
            continue;
        }
        let mut parent: Vec<Element> = path;
        while parent.pop().is_some() {
            let is_field = parent.last().is_some_and(|e| e.starts_with("f:"));
            if parent.is_empty() || !is_field || keep.covers(&parent) {
                break;
            }
            let empty = fields::locate(merged, schema, &parent)
                .is_some_and(|(value, _)| value.as_object().is_some_and(Map::is_empty));
            if !empty || !fields::remove(merged, schema, &parent) {
                break;
            }
        }
    }
}

/// The configuration without `null` fields: applying `null` means not setting the field.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::managed_fields::{decode, record_update};
    use serde_json::json;

    const T1: &str = "2025-01-01T00:00:00Z";
    const T2: &str = "2025-01-02T00:00:00Z";

    fn ctx(manager: &str, force: bool, now: &str) -> ApplyContext {
        ApplyContext {
            manager: manager.into(),
            force,
            api_version: "apps/v1".into(),
            kind_gvk: Gvk::new("apps", "v1", "Deployment"),
            now: now.into(),
            subresource: None,
        }
    }

    #[allow(clippy::needless_pass_by_value)]
    fn config(replicas: i64, labels: Value, containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": containers}}}
        })
    }

    fn nginx() -> Value {
        json!([{"name": "nginx", "image": "nginx:1.25"}])
    }

    fn managers(object: &Value) -> Vec<(String, String)> {
        decode(object)
            .unwrap()
            .into_iter()
            .map(|e| (e.manager, e.operation))
            .collect()
    }

    fn owned(object: &Value, manager: &str) -> Value {
        let entries = decode(object).unwrap();
        entries
            .iter()
            .find(|e| e.manager == manager)
            .map(|e| e.fields.to_fields_v1())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn apply_creates_the_object_and_records_an_apply_entry() {
        let cfg = config(2, json!({"app": "web"}), nginx());
        let out = apply(None, &cfg, &ctx("kubectl", false, T1)).unwrap();
        assert_eq!(out["spec"], cfg["spec"]);
        assert_eq!(
            out["metadata"]["managedFields"],
            json!([{
                "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T1,
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}
                }
            }])
        );
    }

    #[test]
    fn reapplying_the_same_configuration_changes_nothing() {
        let cfg = config(2, json!({"app": "web"}), nginx());
        let created = apply(None, &cfg, &ctx("kubectl", false, T1)).unwrap();
        let again = apply(Some(&created), &cfg, &ctx("kubectl", false, T2)).unwrap();
        assert_eq!(again, created);
    }

    #[test]
    fn apply_removes_fields_it_no_longer_sets() {
        let containers =
            json!([{"name": "nginx", "image": "nginx"}, {"name": "sidecar", "image": "side"}]);
        let first = config(2, json!({"app": "web", "tier": "front"}), containers);
        let created = apply(None, &first, &ctx("kubectl", false, T1)).unwrap();
        let second = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}
        });
        let out = apply(Some(&created), &second, &ctx("kubectl", false, T2)).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "nginx", "image": "nginx"}])
        );
        assert!(out["spec"].get("replicas").is_none());
        assert_eq!(decode(&out).unwrap()[0].time.as_deref(), Some(T2));
    }

    #[test]
    fn pruning_removes_emptied_parents_but_keeps_what_others_own() {
        let with_strategy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "strategy": {"rollingUpdate": {"maxSurge": 1}}}
        });
        let created = apply(None, &with_strategy, &ctx("a", false, T1)).unwrap();
        let shared = apply(
            Some(&created),
            &json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": 1}}),
            &ctx("b", false, T1),
        )
        .unwrap();
        let dropped =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
        let out = apply(Some(&shared), &dropped, &ctx("a", false, T2)).unwrap();
        assert_eq!(
            out["spec"],
            json!({"replicas": 1}),
            "strategy pruned, replicas still owned by b"
        );
        assert_eq!(managers(&out), [("b".to_string(), "Apply".to_string())]);
    }

    #[test]
    fn changing_another_managers_field_conflicts_unless_forced() {
        let created = apply(
            None,
            &config(2, json!({"app": "web"}), nginx()),
            &ctx("a", false, T1),
        )
        .unwrap();
        let other = config(5, json!({"app": "web"}), nginx());
        let err = apply(Some(&created), &other, &ctx("b", false, T2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
        );
        let Error::Conflict { conflicts } = err else {
            panic!("not a conflict")
        };
        assert_eq!(conflicts[0].manager, "a");
        assert_eq!(conflicts[0].field, ".spec.replicas");

        let forced = apply(Some(&created), &other, &ctx("b", true, T2)).unwrap();
        assert_eq!(forced["spec"]["replicas"], json!(5));
        let replicas = ["f:spec".to_string(), "f:replicas".to_string()];
        let entries = decode(&forced).unwrap();
        let a = entries.iter().find(|e| e.manager == "a").unwrap();
        let b = entries.iter().find(|e| e.manager == "b").unwrap();
        assert!(!a.fields.contains(&replicas) && b.fields.contains(&replicas));
        assert!(
            a.fields.covers(&["f:spec".into(), "f:template".into()]),
            "a keeps its other fields"
        );
    }

    #[test]
    fn the_same_value_is_shared_ownership_not_a_conflict() {
        let cfg = config(2, json!({"app": "web"}), nginx());
        let created = apply(None, &cfg, &ctx("a", false, T1)).unwrap();
        let out = apply(Some(&created), &cfg, &ctx("b", false, T2)).unwrap();
        assert_eq!(owned(&out, "a"), owned(&out, "b"));
        // a drops everything: b still owns it, so nothing is removed.
        let bare =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
        let dropped = apply(Some(&out), &bare, &ctx("a", false, T2)).unwrap();
        assert_eq!(dropped["spec"], cfg["spec"]);
        assert_eq!(managers(&dropped), [("b".to_string(), "Apply".to_string())]);
    }

    #[test]
    fn kubectl_server_side_apply_over_a_client_side_applied_object() {
        let mut live = config(2, json!({"app": "web"}), nginx());
        record_update(
            None,
            &mut live,
            "kubectl-client-side-apply",
            "apps/v1",
            T1,
            None,
        );

        let same = apply(
            Some(&live),
            &config(2, json!({"app": "web"}), nginx()),
            &ctx("kubectl", false, T2),
        )
        .unwrap();
        assert_eq!(same["spec"], live["spec"]);
        assert_eq!(managers(&same).len(), 2);

        let err = apply(
            Some(&live),
            &config(3, json!({"app": "web"}), nginx()),
            &ctx("kubectl", false, T2),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );

        // kubectl migrates the client-side manager's entry to its own Apply entry first.
        let mut migrated = live.clone();
        migrated["metadata"]["managedFields"][0]["manager"] = json!("kubectl");
        migrated["metadata"]["managedFields"][0]["operation"] = json!("Apply");
        record_update(Some(&live), &mut migrated, "kubectl", "apps/v1", T2, None);
        let out = apply(
            Some(&migrated),
            &config(3, json!({"app": "web"}), nginx()),
            &ctx("kubectl", false, T2),
        )
        .unwrap();
        assert_eq!(out["spec"]["replicas"], json!(3));
        assert_eq!(
            managers(&out),
            [("kubectl".to_string(), "Apply".to_string())]
        );
    }

    #[test]
    fn an_update_that_took_a_field_makes_the_next_apply_conflict() {
        let cfg = config(2, json!({"app": "web"}), nginx());
        let created = apply(None, &cfg, &ctx("kubectl", false, T1)).unwrap();
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(7);
        record_update(
            Some(&created),
            &mut scaled,
            "kubectl-scale",
            "apps/v1",
            T2,
            Some("scale"),
        );
        let err = apply(Some(&scaled), &cfg, &ctx("kubectl", false, T2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-scale\" with subresource \"scale\" using apps/v1: .spec.replicas"
        );
    }

    #[test]
    fn associative_lists_merge_by_key_with_defaulted_keys() {
        let mut live = config(
            1,
            json!({"app": "web"}),
            json!([
                {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}
            ]),
        );
        record_update(None, &mut live, "creator", "apps/v1", T1, None);
        let cfg = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "nginx", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                {"name": "sidecar", "image": "side"}
            ]}}}
        });
        let out = apply(Some(&live), &cfg, &ctx("adder", false, T2)).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "nginx", "image": "nginx",
                 "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http", "hostPort": 8080}]},
                {"name": "sidecar", "image": "side"}
            ])
        );
        let port = "k:{\"containerPort\":80,\"protocol\":\"TCP\"}";
        assert_eq!(
            owned(&out, "adder")["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]
                ["f:ports"][port],
            json!({".": {}, "f:containerPort": {}, "f:hostPort": {}})
        );
    }

    #[test]
    fn status_applies_track_only_status() {
        let live = apply(
            None,
            &config(1, json!({"app": "web"}), nginx()),
            &ctx("kubectl", false, T1),
        )
        .unwrap();
        let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                            "status": {"replicas": 1}});
        let mut c = ctx("controller", false, T2);
        c.subresource = Some("status".into());
        let out = apply(Some(&live), &status, &c).unwrap();
        assert_eq!(out["status"], json!({"replicas": 1}));
        assert_eq!(
            owned(&out, "controller"),
            json!({"f:status": {"f:replicas": {}}})
        );
        assert_eq!(
            decode(&out)
                .unwrap()
                .iter()
                .find(|e| e.manager == "controller")
                .unwrap()
                .subresource
                .as_deref(),
            Some("status")
        );
    }

    #[test]
    fn rejects_configurations_that_are_not_objects_or_carry_managed_fields() {
        let c = ctx("kubectl", false, T1);
        assert!(matches!(
            apply(None, &json!([1]), &c),
            Err(Error::InvalidPatch(_))
        ));
        let with_managed = json!({"metadata": {"name": "x", "managedFields": [{"manager": "m"}]}});
        assert!(matches!(
            apply(None, &with_managed, &c),
            Err(Error::InvalidPatch(_))
        ));
    }
}
