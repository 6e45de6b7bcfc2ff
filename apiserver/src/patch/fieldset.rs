//! Sets of field paths, as owned by a field manager, and their `FieldsV1` JSON encoding.

// A path is a list of elements written as Kubernetes writes them in `fieldsV1`:
// `f:<field>` for an object field, `k:<json of key fields>` for an element of an associative
// list, `v:<json>` for an element of a set, `i:<index>` for a positional element. Element
// strings are canonical (key fields sorted, compact JSON), so paths compare as strings.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Error;

/// One path element in its canonical `fieldsV1` spelling.
pub type Element = String;

/// A set of field paths: a tree whose nodes may themselves be members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    children: BTreeMap<Element, Node>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    /// The path ending here is in the set (`.` in `fieldsV1` when the node has children).
    member: bool,
    set: FieldSet,
}

impl Node {
    fn is_empty(&self) -> bool {
        !self.member && self.set.is_empty()
    }
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Adds a path.
    pub fn insert(&mut self, path: &[Element]) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut set = self;
        for element in parents {
            set = &mut set.children.entry(element.clone()).or_default().set;
        }
        set.children.entry(last.clone()).or_default().member = true;
    }

    /// Whether the path itself is in the set.
    pub fn contains(&self, path: &[Element]) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// Whether the path or any path below it is in the set.
    pub fn covers(&self, path: &[Element]) -> bool {
        self.node(path).is_some()
    }

    fn node(&self, path: &[Element]) -> Option<&Node> {
        let (first, rest) = path.split_first()?;
        let node = self.children.get(first)?;
        if rest.is_empty() {
            Some(node)
        } else {
            node.set.node(rest)
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        for (element, theirs) in &other.children {
            let mine = out.children.entry(element.clone()).or_default();
            mine.member |= theirs.member;
            mine.set = mine.set.union(&theirs.set);
        }
        out
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for (element, mine) in &self.children {
            let node = match other.children.get(element) {
                None => mine.clone(),
                Some(theirs) => Node {
                    member: mine.member && !theirs.member,
                    set: mine.set.difference(&theirs.set),
                },
            };
            if !node.is_empty() {
                out.children.insert(element.clone(), node);
            }
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for (element, mine) in &self.children {
            let Some(theirs) = other.children.get(element) else {
                continue;
            };
            let node = Node {
                member: mine.member && theirs.member,
                set: mine.set.intersection(&theirs.set),
            };
            if !node.is_empty() {
                out.children.insert(element.clone(), node);
            }
        }
        out
    }

    /// Every member path, parents before children, in canonical order.
    pub fn paths(&self) -> Vec<Vec<Element>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<Element>, out: &mut Vec<Vec<Element>>) {
        for (element, node) in &self.children {
            prefix.push(element.clone());
            if node.member {
                out.push(prefix.clone());
            }
            node.set.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The `fieldsV1` JSON of this set.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        for (element, node) in &self.children {
            let mut inner = match node.set.to_fields_v1() {
                Value::Object(inner) => inner,
                _ => Map::new(),
            };
            if node.member && !inner.is_empty() {
                inner.insert(".".into(), Value::Object(Map::new()));
                inner.sort_keys();
            }
            map.insert(element.clone(), Value::Object(inner));
        }
        Value::Object(map)
    }

    /// Parses a `fieldsV1` JSON object.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, Error> {
        let Value::Object(map) = value else {
            return Err(Error::InvalidManagedFields(format!(
                "fieldsV1 must be a JSON object, not {value}"
            )));
        };
        let mut set = FieldSet::default();
        for (key, inner) in map {
            if key == "." {
                continue;
            }
            let element = canonical_element(key).map_err(Error::InvalidManagedFields)?;
            let child = FieldSet::from_fields_v1(inner)?;
            let member = child.is_empty() || inner.get(".").is_some();
            set.children.insert(element, Node { member, set: child });
        }
        Ok(set)
    }
}

/// The element naming an object field.
pub(crate) fn field(name: &str) -> Element {
    format!("f:{name}")
}

/// The element naming an associative-list element by its key fields.
pub(crate) fn key(fields: &BTreeMap<&str, Value>) -> Element {
    let map: Map<String, Value> = fields
        .iter()
        .map(|(name, value)| ((*name).to_string(), value.clone()))
        .collect();
    format!("k:{}", Value::Object(map))
}

/// The element naming a set element by its value.
pub(crate) fn value(value: &Value) -> Element {
    format!("v:{value}")
}

/// A parsed path element, for walking a JSON value along a path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    Field(String),
    Key(Map<String, Value>),
    Value(Value),
    Index(usize),
}

pub(crate) fn parse(element: &str) -> Result<Parsed, String> {
    let bad = || format!("invalid field path element {element:?}");
    let (prefix, rest) = element.split_once(':').ok_or_else(bad)?;
    match prefix {
        "f" => Ok(Parsed::Field(rest.to_string())),
        "k" => match serde_json::from_str(rest) {
            Ok(Value::Object(mut keys)) => {
                keys.sort_keys();
                Ok(Parsed::Key(keys))
            }
            _ => Err(bad()),
        },
        "v" => serde_json::from_str(rest)
            .map(Parsed::Value)
            .map_err(|_| bad()),
        "i" => rest.parse().map(Parsed::Index).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn canonical_element(element: &str) -> Result<Element, String> {
    Ok(match parse(element)? {
        Parsed::Field(name) => field(&name),
        Parsed::Key(keys) => format!("k:{}", Value::Object(keys)),
        Parsed::Value(v) => value(&v),
        Parsed::Index(i) => format!("i:{i}"),
    })
}

/// Kubernetes' human spelling of a path, as used in conflict messages:
/// `.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"]`.
pub(crate) fn display(path: &[Element]) -> String {
    let mut out = String::new();
    for element in path {
        match parse(element) {
            Ok(Parsed::Field(name)) => {
                out.push('.');
                out.push_str(&name);
            }
            Ok(Parsed::Key(keys)) => {
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("[{}]", parts.join(",")));
            }
            Ok(Parsed::Value(v)) => out.push_str(&format!("[={v}]")),
            Ok(Parsed::Index(i)) => out.push_str(&format!("[{i}]")),
            Err(_) => out.push_str(element),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(elements: &[&str]) -> Vec<Element> {
        elements.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn fields_v1_round_trips_in_kubernetes_format() {
        let v1 = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}},
                       "f:replicas": {}}
        });
        let set = FieldSet::from_fields_v1(&v1).unwrap();
        assert!(set.contains(&path(&["f:metadata", "f:labels"])));
        assert!(!set.contains(&path(&["f:metadata"])));
        assert!(set.covers(&path(&["f:metadata"])));
        assert!(set.contains(&path(&[
            "f:spec",
            "f:containers",
            "k:{\"name\":\"nginx\"}",
            "f:image"
        ])));
        assert_eq!(set.to_fields_v1(), v1);
    }

    #[test]
    fn parsing_canonicalizes_key_order_and_rejects_garbage() {
        let v1 = json!({"f:ports": {"k:{\"protocol\":\"TCP\",\"containerPort\":80}": {}}});
        let set = FieldSet::from_fields_v1(&v1).unwrap();
        assert!(set.contains(&path(&[
            "f:ports",
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"
        ])));
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"k:notjson": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::default();
        a.insert(&path(&["f:spec", "f:replicas"]));
        a.insert(&path(&["f:spec", "f:paused"]));
        let mut b = FieldSet::default();
        b.insert(&path(&["f:spec", "f:replicas"]));
        b.insert(&path(&["f:metadata", "f:labels", "f:x"]));

        assert_eq!(
            a.intersection(&b).paths(),
            vec![path(&["f:spec", "f:replicas"])]
        );
        assert_eq!(
            a.difference(&b).paths(),
            vec![path(&["f:spec", "f:paused"])]
        );
        assert_eq!(a.union(&b).paths().len(), 3);
        assert!(a.difference(&a).is_empty());
    }

    #[test]
    fn display_uses_kubernetes_path_notation() {
        let p = path(&[
            "f:spec",
            "f:containers",
            "k:{\"name\":\"nginx\"}",
            "f:ports",
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}",
            "f:hostPort",
        ]);
        assert_eq!(
            display(&p),
            ".spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].hostPort"
        );
        assert_eq!(
            display(&path(&["f:metadata", "f:finalizers", "v:\"a\""])),
            ".metadata.finalizers[=\"a\"]"
        );
    }
}
