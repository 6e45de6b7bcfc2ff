//! The command and args overriders: append to or delete from a named container's `command` or
//! `args` in a Pod or a pod-template workload.

use karmada_api::policy::overrides::{CommandArgsOperator, CommandArgsOverrider};
use serde_json::{Value, json};

use super::OverriderError;
use super::image::pod_spec_path;
use super::patch::apply_patch;

/// Which container list an overrider edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    Command,
    Args,
}

impl Target {
    fn field(self) -> &'static str {
        match self {
            Target::Command => "command",
            Target::Args => "args",
        }
    }

    fn overrider(self) -> &'static str {
        match self {
            Target::Command => "commandOverrider",
            Target::Args => "argsOverrider",
        }
    }
}

/// Applies one command or args overrider to every container named `containerName`. A
/// container without the list gets one built from nothing (so `remove` leaves an empty list).
/// Kinds without a known pod spec, and workloads without containers, are left alone.
pub(super) fn apply_command_args_overrider(
    manifest: &mut Value,
    target: Target,
    overrider: &CommandArgsOverrider,
) -> Result<(), OverriderError> {
    let Some(prefix) = pod_spec_path(manifest) else {
        return Ok(());
    };
    let path = format!("{prefix}/containers");
    let containers = match manifest.pointer(&path) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(containers)) => containers,
        Some(_) => {
            return Err(OverriderError::Containers {
                path,
                reason: "not a list".into(),
            });
        }
    };
    let field = target.field();
    let mut operations = Vec::new();
    for (index, container) in containers.iter().enumerate() {
        if container["name"].as_str() != Some(overrider.container_name.as_str()) {
            continue;
        }
        let list_path = format!("{path}/{index}/{field}");
        let (op, current) = match &container[field] {
            Value::Null => ("add", Vec::new()),
            Value::Array(items) => ("replace", items.iter().map(as_text).collect()),
            _ => {
                return Err(OverriderError::Containers {
                    path: list_path,
                    reason: format!("{field} is not a list"),
                });
            }
        };
        let updated = edit(current, overrider);
        operations.push(json!({"op": op, "path": list_path, "value": updated}));
    }
    apply_patch(manifest, target.overrider(), operations)
}

/// Entries are strings in any valid manifest; anything else is kept as its JSON text.
fn as_text(item: &Value) -> String {
    match item {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn edit(mut current: Vec<String>, overrider: &CommandArgsOverrider) -> Vec<String> {
    match overrider.operator {
        CommandArgsOperator::Add => current.extend(overrider.value.iter().cloned()),
        CommandArgsOperator::Remove => current.retain(|entry| !overrider.value.contains(entry)),
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn overrider(
        name: &str,
        operator: CommandArgsOperator,
        value: &[&str],
    ) -> CommandArgsOverrider {
        CommandArgsOverrider {
            container_name: name.into(),
            operator,
            value: value.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn deployment(containers: &Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"containers": containers}}}})
    }

    #[test]
    fn command_and_args_operators() {
        use CommandArgsOperator::*;
        let containers = json!([
            {"name": "app", "command": ["run", "--v=1"], "args": ["a", "b", "a"]},
            {"name": "side"}
        ]);
        let cases = [
            (
                Target::Command,
                overrider("app", Add, &["--x"]),
                0,
                "command",
                json!(["run", "--v=1", "--x"]),
            ),
            (
                Target::Command,
                overrider("app", Remove, &["--v=1", "nope"]),
                0,
                "command",
                json!(["run"]),
            ),
            (
                Target::Args,
                overrider("app", Remove, &["a"]),
                0,
                "args",
                json!(["b"]),
            ),
            (
                Target::Args,
                overrider("app", Add, &["c", "d"]),
                0,
                "args",
                json!(["a", "b", "a", "c", "d"]),
            ),
            (
                Target::Args,
                overrider("side", Add, &["x"]),
                1,
                "args",
                json!(["x"]),
            ),
            (
                Target::Command,
                overrider("side", Remove, &["x"]),
                1,
                "command",
                json!([]),
            ),
        ];
        for (target, overrider, index, field, want) in cases {
            let mut manifest = deployment(&containers);
            apply_command_args_overrider(&mut manifest, target, &overrider).unwrap();
            let got = &manifest["spec"]["template"]["spec"]["containers"][index][field];
            assert_eq!(got, &want, "{overrider:?}");
        }
    }

    #[test]
    fn pods_use_their_own_spec_and_other_kinds_are_untouched() {
        let mut pod =
            json!({"kind": "Pod", "spec": {"containers": [{"name": "c", "args": ["x"]}]}});
        let add = overrider("c", CommandArgsOperator::Add, &["y"]);
        apply_command_args_overrider(&mut pod, Target::Args, &add).unwrap();
        assert_eq!(pod["spec"]["containers"][0]["args"], json!(["x", "y"]));

        let mut config = json!({"kind": "ConfigMap", "spec": {"containers": [{"name": "c"}]}});
        let before = config.clone();
        apply_command_args_overrider(&mut config, Target::Args, &add).unwrap();
        assert_eq!(config, before);
    }

    #[test]
    fn missing_or_unnamed_containers_are_no_ops() {
        let add = overrider("absent", CommandArgsOperator::Add, &["y"]);
        for manifest in [
            json!({"kind": "Job", "spec": {"template": {"spec": {}}}}),
            deployment(&json!([{"name": "c", "args": ["x"]}])),
        ] {
            let mut patched = manifest.clone();
            apply_command_args_overrider(&mut patched, Target::Args, &add).unwrap();
            assert_eq!(patched, manifest);
        }
    }

    #[test]
    fn malformed_lists_name_the_path() {
        let add = overrider("c", CommandArgsOperator::Add, &["y"]);
        let mut manifest = deployment(&json!([{"name": "c", "command": "run"}]));
        let err = apply_command_args_overrider(&mut manifest, Target::Command, &add).unwrap_err();
        assert!(
            err.to_string()
                .contains("/spec/template/spec/containers/0/command"),
            "{err}"
        );
        let mut manifest = deployment(&json!({"c": {}}));
        assert!(apply_command_args_overrider(&mut manifest, Target::Command, &add).is_err());
    }
}
