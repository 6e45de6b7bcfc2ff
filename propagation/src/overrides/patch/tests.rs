//! Table tests for the plaintext and field overriders.

use super::*;
use karmada_api::policy::overrides::OverriderOperator;
use serde_json::json;

fn plaintext(path: &str, operator: OverriderOperator, value: Option<Value>) -> PlaintextOverrider {
    PlaintextOverrider {
        path: path.into(),
        operator,
        value,
    }
}

fn sub(path: &str, operator: OverriderOperator, value: Option<Value>) -> PatchOperation {
    PatchOperation {
        sub_path: path.into(),
        operator,
        value,
    }
}

#[test]
fn plaintext_operators() {
    use OverriderOperator::*;
    let manifest = json!({"metadata": {"name": "x"}, "spec": {"replicas": 2, "paused": true}});
    let cases = [
        (
            plaintext("/spec/replicas", Replace, Some(json!(5))),
            json!({"replicas": 5, "paused": true}),
        ),
        (
            plaintext("/spec/paused", Remove, None),
            json!({"replicas": 2}),
        ),
        (
            plaintext("/spec/strategy", Add, Some(json!({"type": "Recreate"}))),
            json!({"replicas": 2, "paused": true, "strategy": {"type": "Recreate"}}),
        ),
        (
            plaintext("/spec/extra", Add, None),
            json!({"replicas": 2, "paused": true, "extra": null}),
        ),
    ];
    for (overrider, want) in cases {
        let mut patched = manifest.clone();
        apply_plaintext(&mut patched, std::slice::from_ref(&overrider)).unwrap();
        assert_eq!(patched["spec"], want, "{overrider:?}");
    }
}

#[test]
fn plaintext_is_all_or_nothing_and_names_the_path() {
    use OverriderOperator::*;
    let manifest = json!({"spec": {"replicas": 2}});
    let mut patched = manifest.clone();
    let err = apply_plaintext(
        &mut patched,
        &[
            plaintext("/spec/replicas", Replace, Some(json!(3))),
            plaintext("/spec/missing", Replace, Some(json!(1))),
        ],
    )
    .unwrap_err();
    assert!(err.to_string().contains("/spec/missing"), "{err}");
    assert_eq!(patched, manifest);

    let err = apply_plaintext(&mut patched, &[plaintext("spec", Remove, None)]).unwrap_err();
    assert!(matches!(err, OverriderError::InvalidPatch { .. }), "{err}");
}

fn config_map(key: &str, text: &str) -> Value {
    json!({"kind": "ConfigMap", "data": {key: text}})
}

#[test]
fn field_overrider_patches_json_documents() {
    use OverriderOperator::*;
    let mut manifest = config_map("db.json", r#"{"db":{"host":"a","port":1},"debug":true}"#);
    let overrider = FieldOverrider {
        field_path: "/data/db.json".into(),
        json: vec![
            sub("/db/port", Replace, Some(json!(5432))),
            sub("/db/user", Add, Some(json!("admin"))),
            sub("/debug", Remove, None),
        ],
        yaml: vec![],
    };
    apply_field_overrider(&mut manifest, &overrider).unwrap();
    assert_eq!(
        manifest["data"]["db.json"],
        r#"{"db":{"host":"a","port":5432,"user":"admin"}}"#
    );
}

#[test]
fn field_overrider_patches_yaml_documents() {
    use OverriderOperator::*;
    let text = "server:\n  port: 80\n  name: web\nreplicas: 1\nfeatures:\n  - a\n";
    let mut manifest = config_map("app.yaml", text);
    let overrider = FieldOverrider {
        field_path: "/data/app.yaml".into(),
        json: vec![],
        yaml: vec![
            sub("/server/port", Replace, Some(json!(8080))),
            sub("/features/-", Add, Some(json!("b"))),
            sub("/replicas", Remove, None),
        ],
    };
    apply_field_overrider(&mut manifest, &overrider).unwrap();
    let written = manifest["data"]["app.yaml"].as_str().unwrap();
    let reread: Value = serde_saphyr::from_str(written).unwrap();
    assert_eq!(
        reread,
        json!({"features": ["a", "b"], "server": {"name": "web", "port": 8080}})
    );
    // Keys come out sorted, as Karmada's YAML encoder writes them.
    assert!(written.find("features").unwrap() < written.find("server").unwrap());
    assert!(written.find("name").unwrap() < written.find("port").unwrap());
}

#[test]
fn field_overrider_errors_name_the_field() {
    use OverriderOperator::*;
    let json_op = vec![sub("/a", Replace, Some(json!(1)))];
    let cases = [
        (config_map("k", "{}"), "/data/other", "no such field"),
        (json!({"data": {"k": 3}}), "/data/k", "not a string"),
        (config_map("k", "{not json"), "/data/k", "valid JSON"),
        (config_map("k", r#"{"b":1}"#), "/data/k", "/a"),
        (config_map("k", "{}"), "data/k", "must start with '/'"),
    ];
    for (mut manifest, path, fragment) in cases {
        let overrider = FieldOverrider {
            field_path: path.into(),
            json: json_op.clone(),
            yaml: vec![],
        };
        let err = apply_field_overrider(&mut manifest, &overrider).unwrap_err();
        assert!(err.to_string().contains(fragment), "{path}: {err}");
    }
    let mut manifest = config_map("k", "a: [unclosed");
    let overrider = FieldOverrider {
        field_path: "/data/k".into(),
        json: vec![],
        yaml: json_op,
    };
    let err = apply_field_overrider(&mut manifest, &overrider).unwrap_err();
    assert!(err.to_string().contains("valid YAML"), "{err}");
}
