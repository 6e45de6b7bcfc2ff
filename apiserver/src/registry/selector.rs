//! Label and field selectors, parsed, matched and printed the way Kubernetes does.

mod field;
mod parser;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_json::{Map, Value};

use super::validation::{label_value, qualified_name};

pub use field::FieldSelector;

/// A selector that does not parse; the message is the one Kubernetes gives.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

/// How a label requirement compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One condition on one label key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and deduplicated, as Kubernetes keeps them.
    values: Vec<String>,
}

impl Requirement {
    /// Checks the key, the values and the operator's arity.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, Error> {
        let mut errs = Vec::new();
        let key_errs = qualified_name(key);
        if !key_errs.is_empty() {
            errs.push(format!(
                "key: Invalid value: {key:?}: {}",
                key_errs.join("; ")
            ));
        }
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                errs.push("values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty".into());
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                errs.push(format!("values: Invalid value: {values:?}: exact-match compatibility requires one single value"));
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errs.push(format!("values: Invalid value: {values:?}: values set must be empty for exists and does not exist"));
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(format!("values: Invalid value: {values:?}: for 'Gt', 'Lt' operators, exactly one value is required"));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!(
                            "values[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let value_errs = label_value(v);
            if !value_errs.is_empty() {
                errs.push(format!(
                    "values[{i}][{key}]: Invalid value: {v:?}: {}",
                    value_errs.join("; ")
                ));
            }
        }
        match errs.as_slice() {
            [] => {
                let mut values = values;
                values.sort();
                values.dedup();
                Ok(Requirement {
                    key: key.to_owned(),
                    operator,
                    values,
                })
            }
            [one] => Err(Error(one.clone())),
            many => Err(Error(format!("[{}]", many.join(", ")))),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        let value = labels.label(&self.key);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => {
                value.is_some_and(|v| self.values.iter().any(|x| x == v))
            }
            Operator::NotEquals | Operator::NotIn => {
                value.is_none_or(|v| self.values.iter().all(|x| x != v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(have), Some(want)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        let one = self.values.first().map_or("", String::as_str);
        let set = self.values.join(",");
        match self.operator {
            Operator::Equals => write!(f, "{key}={one}"),
            Operator::DoubleEquals => write!(f, "{key}=={one}"),
            Operator::NotEquals => write!(f, "{key}!={one}"),
            Operator::In => write!(f, "{key} in ({set})"),
            Operator::NotIn => write!(f, "{key} notin ({set})"),
            Operator::Exists => write!(f, "{key}"),
            Operator::DoesNotExist => write!(f, "!{key}"),
            Operator::GreaterThan => write!(f, "{key}>{one}"),
            Operator::LessThan => write!(f, "{key}<{one}"),
        }
    }
}

/// Anything labels can be looked up in.
pub trait Labels {
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for Map<String, Value> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for HashMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// Requirements on labels, all of which must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// Sorted by key, as Kubernetes orders them.
    requirements: Vec<Requirement>,
    /// A null `metav1.LabelSelector` selects nothing, unlike an empty one.
    nothing: bool,
}

impl LabelSelector {
    /// Parses the query-string form: `a=b,c!=d,e in (x,y),f notin (z),g,!h,n>1`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut requirements = parser::parse(s)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Converts a `metav1.LabelSelector` object. `{}` selects everything; `null` nothing.
    pub fn from_label_selector(sel: &Value) -> Result<Self, Error> {
        let obj = match sel {
            Value::Null => {
                return Ok(LabelSelector {
                    requirements: Vec::new(),
                    nothing: true,
                });
            }
            Value::Object(obj) => obj,
            other => {
                return Err(Error(format!(
                    "a label selector must be an object, not {other}"
                )));
            }
        };
        let mut requirements = Vec::new();
        if let Some(labels) = obj.get("matchLabels").and_then(Value::as_object) {
            for (key, value) in labels {
                let Some(value) = value.as_str() else {
                    return Err(Error(format!(
                        "matchLabels[{key}]: label values must be strings, not {value}"
                    )));
                };
                requirements.push(Requirement::new(
                    key,
                    Operator::Equals,
                    vec![value.to_owned()],
                )?);
            }
        }
        let expressions = obj.get("matchExpressions").and_then(Value::as_array);
        for expr in expressions.into_iter().flatten() {
            let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
            let operator = match expr
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(Error(format!(
                        "{other:?} is not a valid label selector operator"
                    )));
                }
            };
            let values = expr.get("values").and_then(Value::as_array);
            let values = values
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            requirements.push(Requirement::new(key, operator, values)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Whether every requirement holds for these labels.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Matches against an object's `metadata.labels` (absent labels are no labels).
    pub fn matches_object(&self, object: &Value) -> bool {
        let empty = Map::new();
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        self.matches(labels.unwrap_or(&empty))
    }

    /// True when the selector selects everything.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for LabelSelector {
    /// The canonical string, as in `Scale.status.selector`: `app=web,tier in (a,b)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        LabelSelector::parse(s)
    }
}

fn err<T>(message: String) -> Result<T, Error> {
    Err(Error(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: &Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// Found by `fuzz/fuzz_targets/selectors.rs`: a form feed is not whitespace to the lexer,
    /// and once looped forever (and out of memory) on it.
    #[test]
    fn characters_outside_the_lexers_whitespace_end_in_an_error_not_a_loop() {
        for input in ["\x0cP", "a=\x0b", "\u{a0}x", "a in (\x0c)"] {
            let parsed = LabelSelector::parse(input);
            assert!(parsed.is_err(), "{input:?}: {parsed:?}");
        }
    }

    #[test]
    fn parses_and_prints_canonical_label_selectors() {
        let cases = [
            ("", ""),
            ("app=web", "app=web"),
            ("app==web", "app==web"),
            ("app!=web", "app!=web"),
            (" tier in ( b , a ) , app = web ", "app=web,tier in (a,b)"),
            ("x notin (a,a)", "x notin (a)"),
            ("app", "app"),
            ("!app", "!app"),
            ("n>1,m<10", "m<10,n>1"),
            ("example.com/role=db", "example.com/role=db"),
            ("a=", "a="),
            ("a in (x,)", "a in (,x)"),
            ("a in ()", "a in ()"),
            ("in=notin", "in=notin"),
            ("a in (in,notin)", "a in (in,notin)"),
        ];
        for (input, want) in cases {
            let sel = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(sel.to_string(), want, "{input}");
            assert_eq!(LabelSelector::parse(want).unwrap(), sel, "reparse {want}");
        }
    }

    #[test]
    fn rejects_malformed_label_selectors_like_kubernetes() {
        let cases = [
            ("a=b,", "found '', expected: identifier after ','"),
            (
                "a b",
                "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "=a",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            (
                "a in b",
                "unable to parse requirement: found 'b' expected: '('",
            ),
            (
                "a in (b c)",
                "unable to parse requirement: found 'c', expected: ',' or ')'",
            ),
            (
                "a (b)",
                "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt",
            ),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            (
                "! =b",
                "unable to parse requirement: found '=', expected: identifier",
            ),
            (
                "a>x",
                "for 'Gt', 'Lt' operators, the value must be an integer",
            ),
            (
                "a_=b",
                "unable to parse requirement: key: Invalid value: \"a_\": name part must consist of",
            ),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            (
                "a=b_",
                "values[0][a]: Invalid value: \"b_\": a valid label must be an empty string",
            ),
        ];
        for (input, want) in cases {
            let e = LabelSelector::parse(input).unwrap_err().to_string();
            assert!(e.contains(want), "{input}: got {e:?}, want {want:?}");
        }
    }

    #[test]
    fn matches_labels_per_operator() {
        let l = labels(&json!({"app": "web", "tier": "front", "n": "5"}));
        let cases = [
            ("", true),
            ("app=web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("tier in (front,back)", true),
            ("tier notin (front)", false),
            ("missing notin (x)", true),
            ("missing in (x)", false),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("n>4", true),
            ("n>5", false),
            ("n<6", true),
            ("app>1", false),
            ("missing=", false),
            ("app=web,tier=back", false),
        ];
        for (input, want) in cases {
            assert_eq!(
                LabelSelector::parse(input).unwrap().matches(&l),
                want,
                "{input}"
            );
        }
        let btree: BTreeMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
        assert!(LabelSelector::parse("app=web").unwrap().matches(&btree));
    }

    #[test]
    fn converts_metav1_label_selectors() {
        let sel = LabelSelector::from_label_selector(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert_eq!(sel.to_string(), "app=web,!canary,tier in (a,b)");
        assert!(sel.matches(&labels(&json!({"app": "web", "tier": "a"}))));
        assert!(!sel.matches(&labels(&json!({"app": "web", "tier": "a", "canary": "1"}))));

        let everything = LabelSelector::from_label_selector(&json!({})).unwrap();
        assert!(everything.is_empty() && everything.matches(&Map::new()));
        let nothing = LabelSelector::from_label_selector(&Value::Null).unwrap();
        assert!(!nothing.is_empty() && !nothing.matches(&Map::new()));

        let bad = LabelSelector::from_label_selector(&json!({
            "matchExpressions": [{"key": "a", "operator": "Foo"}]
        }));
        assert_eq!(
            bad.unwrap_err().to_string(),
            "\"Foo\" is not a valid label selector operator"
        );
        let empty_in = LabelSelector::from_label_selector(&json!({
            "matchExpressions": [{"key": "a", "operator": "In", "values": []}]
        }));
        assert!(
            empty_in
                .unwrap_err()
                .to_string()
                .contains("values set can't be empty")
        );
    }

    #[test]
    fn matches_object_reads_metadata_labels() {
        let sel = LabelSelector::parse("app=web").unwrap();
        assert!(sel.matches_object(&json!({"metadata": {"labels": {"app": "web"}}})));
        assert!(!sel.matches_object(&json!({"metadata": {}})));
        assert!(
            LabelSelector::parse("!app")
                .unwrap()
                .matches_object(&json!({}))
        );
    }
}
