//! Writes JSON values as YAML text for gnostic's `Any.yaml` fields (vendor extensions,
//! defaults, enums).
//!
//! Go clients parse these with go-yaml v2 (YAML 1.1) and skip or reject what does not parse;
//! JSON-style flow YAML with every string double-quoted and every character outside printable
//! ASCII escaped cannot be misread (`no`, `on`, `1e3` stay strings) nor trip its character
//! checks.

use std::fmt::Write;

use serde_json::Value;

/// `value` as a YAML flow document.
pub(super) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// A double-quoted YAML scalar.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_become_unambiguous_flow_yaml() {
        let cases = [
            (json!(null), "null"),
            (json!(true), "true"),
            (json!(-3), "-3"),
            (json!(1.5), "1.5"),
            (json!("no"), r#""no""#),
            (json!("say \"hi\"\\\n\tnow"), r#""say \"hi\"\\\n\tnow""#),
            (json!("é\u{7f}😀"), r#""\u00E9\u007F\U0001F600""#),
            (json!([]), "[]"),
            (json!({}), "{}"),
            (
                json!({"group": "", "kind": "Deployment", "version": "v1"}),
                r#"{"group": "", "kind": "Deployment", "version": "v1"}"#,
            ),
            (
                json!([{"group": "apps", "kind": "Scale"}, "x"]),
                r#"[{"group": "apps", "kind": "Scale"}, "x"]"#,
            ),
        ];
        for (value, yaml) in cases {
            assert_eq!(to_yaml(&value), yaml, "{value}");
        }
    }
}
