//! Finds the fields of an object that its schema does not know, for field validation and
//! pruning.
//!
//! Two kinds of schema are walked. Native schemas (reached through `$ref`) treat an object
//! without `properties` or `additionalProperties` as free-form (`RawExtension`, `FieldsV1`).
//! CRD schemas are structural: there such an object knows no fields unless it says
//! `x-kubernetes-preserve-unknown-fields: true`, as upstream pruning does.

use std::fmt;

use serde_json::{Map, Value};

use super::schemas::{OBJECT_META, REF_PREFIX};

/// One step into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

/// Where a field sits in an object; printed as kubectl shows it: `spec.containers[0].imagee`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FieldPath(Vec<Segment>);

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The fields of `object` that `schema` (a kind's root schema) does not know. `components`
/// resolves `$ref`s. `native` says whether `schema` itself is a native or a CRD schema.
pub(super) fn unknown_fields(
    schema: &Value,
    native: bool,
    components: &Map<String, Value>,
    object: &Value,
) -> Vec<FieldPath> {
    let mut walker = Walker {
        components,
        found: Vec::new(),
        path: Vec::new(),
    };
    walker.walk(Node { schema, native }, object, true);
    walker.found
}

/// Removes the fields at `paths` from `object`. Only object keys are removed, so array indices
/// in later paths stay valid.
pub(super) fn remove(object: &mut Value, paths: &[FieldPath]) {
    for FieldPath(segments) in paths {
        let Some((Segment::Key(last), parents)) = segments.split_last() else {
            continue;
        };
        let parent =
            parents
                .iter()
                .try_fold(&mut *object, |current, segment| match (segment, current) {
                    (Segment::Key(key), Value::Object(map)) => map.get_mut(key),
                    (Segment::Index(index), Value::Array(items)) => items.get_mut(*index),
                    _ => None,
                });
        if let Some(Value::Object(map)) = parent {
            map.remove(last);
        }
    }
}

/// A schema and which rules apply to it.
#[derive(Clone, Copy)]
struct Node<'a> {
    schema: &'a Value,
    native: bool,
}

/// What a schema (with its `$ref` and `allOf` parts merged) says about object and array values.
#[derive(Default)]
struct Facets<'a> {
    properties: Vec<(&'a Map<String, Value>, bool)>,
    additional: Option<Node<'a>>,
    additional_any: bool,
    items: Option<Node<'a>>,
    alternatives: Vec<Node<'a>>,
    preserve: bool,
    embedded: bool,
    typed_object: bool,
    native: bool,
}

impl<'a> Facets<'a> {
    fn knows_object_fields(&self) -> bool {
        !self.properties.is_empty() || self.additional.is_some() || self.additional_any
    }

    fn property(&self, key: &str) -> Option<Node<'a>> {
        self.properties.iter().find_map(|(properties, native)| {
            properties.get(key).map(|schema| Node {
                schema,
                native: *native,
            })
        })
    }
}

/// How deep `$ref`/`allOf` chains may go; real schemas need a handful.
const MAX_SCHEMA_DEPTH: usize = 32;

struct Walker<'a> {
    components: &'a Map<String, Value>,
    found: Vec<FieldPath>,
    path: Vec<Segment>,
}

impl<'a> Walker<'a> {
    fn facets(&self, node: Node<'a>) -> Facets<'a> {
        let mut facets = Facets {
            native: node.native,
            ..Facets::default()
        };
        self.gather(node, &mut facets, 0);
        facets
    }

    fn gather(&self, node: Node<'a>, facets: &mut Facets<'a>, depth: usize) {
        let Value::Object(schema) = node.schema else {
            return;
        };
        if depth > MAX_SCHEMA_DEPTH {
            return;
        }
        if let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(REF_PREFIX))
            .and_then(|name| self.components.get(name))
        {
            // Everything behind a reference is a native schema.
            facets.native = true;
            self.gather(
                Node {
                    schema: target,
                    native: true,
                },
                facets,
                depth + 1,
            );
        }
        if let Some(Value::Array(parts)) = schema.get("allOf") {
            for schema in parts {
                let part = Node {
                    schema,
                    native: node.native,
                };
                self.gather(part, facets, depth + 1);
            }
        }
        if let Some(Value::Object(properties)) = schema.get("properties") {
            facets.properties.push((properties, node.native));
        }
        match schema.get("additionalProperties") {
            Some(Value::Bool(true)) => facets.additional_any = true,
            Some(additional @ Value::Object(_)) => {
                facets.additional = Some(Node {
                    schema: additional,
                    native: node.native,
                });
            }
            _ => {}
        }
        if let Some(items @ Value::Object(_)) = schema.get("items") {
            facets.items = Some(Node {
                schema: items,
                native: node.native,
            });
        }
        for keyword in ["oneOf", "anyOf"] {
            if let Some(Value::Array(alternatives)) = schema.get(keyword) {
                facets
                    .alternatives
                    .extend(alternatives.iter().map(|schema| Node {
                        schema,
                        native: node.native,
                    }));
            }
        }
        let flag = |name: &str| schema.get(name).and_then(Value::as_bool) == Some(true);
        facets.preserve |= flag("x-kubernetes-preserve-unknown-fields");
        facets.embedded |= flag("x-kubernetes-embedded-resource");
        facets.typed_object |= schema.get("type").and_then(Value::as_str) == Some("object");
    }

    /// The first `oneOf`/`anyOf` alternative that describes values shaped like `value`; used
    /// for k8s-openapi's "schema or bool/array" unions.
    fn alternative(&self, facets: &Facets<'a>, value: &Value) -> Option<Facets<'a>> {
        facets.alternatives.iter().find_map(|alternative| {
            let candidate = self.facets(*alternative);
            let fits = match value {
                Value::Object(_) => candidate.knows_object_fields() || candidate.typed_object,
                Value::Array(_) => candidate.items.is_some(),
                _ => false,
            };
            fits.then_some(candidate)
        })
    }

    fn walk(&mut self, node: Node<'a>, value: &Value, root: bool) {
        let facets = self.facets(node);
        self.walk_facets(&facets, value, root);
    }

    fn walk_facets(&mut self, facets: &Facets<'a>, value: &Value, root: bool) {
        match value {
            Value::Object(object) => {
                if !facets.knows_object_fields()
                    && let Some(alternative) = self.alternative(facets, value)
                {
                    return self.walk_facets(&alternative, value, root);
                }
                self.walk_object(facets, object, root || facets.embedded);
            }
            Value::Array(items) => {
                let items_node = match (facets.items, self.alternative(facets, value)) {
                    (Some(items), _) => Some(items),
                    (None, Some(alternative)) => alternative.items,
                    (None, None) => None,
                };
                if let Some(items_node) = items_node {
                    for (index, item) in items.iter().enumerate() {
                        self.path.push(Segment::Index(index));
                        self.walk(items_node, item, false);
                        self.path.pop();
                    }
                }
            }
            _ => {}
        }
    }

    /// `typed_meta`: the object is a kind (the root or an embedded resource), so `apiVersion`,
    /// `kind` and `metadata` are known whatever its schema lists.
    fn walk_object(&mut self, facets: &Facets<'a>, object: &Map<String, Value>, typed_meta: bool) {
        let free_form = !facets.knows_object_fields()
            && (facets.native || facets.preserve || !facets.typed_object);
        if free_form && !typed_meta {
            return;
        }
        for (key, child) in object {
            self.path.push(Segment::Key(key.clone()));
            let schema = if typed_meta && key == "metadata" {
                // The server owns metadata's schema; a CRD cannot narrow or widen it.
                self.components.get(OBJECT_META).map(|schema| Node {
                    schema,
                    native: true,
                })
            } else {
                facets.property(key).or(facets.additional)
            };
            let known = schema.is_some()
                || facets.additional_any
                || facets.preserve
                || free_form
                || (typed_meta && (key == "apiVersion" || key == "kind"));
            match schema {
                Some(_) if child.is_null() => {}
                Some(schema) => self.walk(schema, child, false),
                None if known => {}
                None => self.found.push(FieldPath(self.path.clone())),
            }
            self.path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn components() -> Map<String, Value> {
        let components = json!({
            OBJECT_META: {
                "type": "object",
                "properties": {"name": {"type": "string"}, "labels": {
                    "type": "object", "additionalProperties": {"type": "string"}}},
            },
            "Raw": {"type": "object", "description": "free-form, like RawExtension"},
            "Port": {"type": "object", "properties": {"port": {"type": "integer"}}},
            "PortOrBool": {"oneOf": [{"$ref": "#/components/schemas/Port"}, {"type": "boolean"}]},
        });
        match components {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        }
    }

    fn native_kind() -> Value {
        json!({
            "type": "object",
            "properties": {
                "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]},
                "spec": {"type": "object", "properties": {
                    "ports": {"type": "array", "items": {"$ref": "#/components/schemas/Port"}},
                    "byName": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Port"}},
                    "raw": {"$ref": "#/components/schemas/Raw"},
                    "either": {"$ref": "#/components/schemas/PortOrBool"},
                }},
            },
        })
    }

    fn crd_kind() -> Value {
        json!({
            "type": "object",
            "properties": {
                "metadata": {"type": "object"},
                "spec": {"type": "object", "properties": {
                    "cron": {"type": "string"},
                    "empty": {"type": "object"},
                    "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                             "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                    "untyped": {"x-kubernetes-int-or-string": true},
                    "embedded": {"type": "object", "x-kubernetes-embedded-resource": true,
                                 "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                }},
            },
        })
    }

    fn unknown(schema: &Value, native: bool, object: &Value) -> Vec<String> {
        unknown_fields(schema, native, &components(), object)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn native_schemas_report_unknown_fields_with_kubectl_paths() {
        let cases: &[(Value, &[&str])] = &[
            (
                json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "labels": {"x": "y"}}}),
                &[],
            ),
            (
                json!({"metadata": {"nmae": "a"}, "status": {}}),
                &["metadata.nmae", "status"],
            ),
            (
                json!({"spec": {"ports": [{"port": 1}, {"prot": 2}]}}),
                &["spec.ports[1].prot"],
            ),
            (
                json!({"spec": {"byName": {"http": {"port": 80, "x": 1}}}}),
                &["spec.byName.http.x"],
            ),
            (json!({"spec": {"raw": {"anything": {"goes": true}}}}), &[]),
            (
                json!({"spec": {"either": {"port": 1, "bad": 2}}}),
                &["spec.either.bad"],
            ),
            (
                json!({"spec": {"either": true, "ports": null, "bogus": null}}),
                &["spec.bogus"],
            ),
        ];
        for (object, want) in cases {
            assert_eq!(
                unknown(&native_kind(), true, object),
                *want,
                "object {object}"
            );
        }
    }

    #[test]
    fn crd_schemas_are_structural() {
        let cases: &[(Value, &[&str])] = &[
            (
                json!({"metadata": {"name": "a"}, "spec": {"cron": "* * * * *"}}),
                &[],
            ),
            (json!({"metadata": {"bad": 1}}), &["metadata.bad"]),
            (json!({"spec": {"empty": {"x": 1}}}), &["spec.empty.x"]),
            (
                json!({"spec": {"open": {"x": {"y": 1}, "known": {"a": "b", "c": 1}}}}),
                &["spec.open.known.c"],
            ),
            (
                json!({"spec": {"untyped": "50%", "cronn": "x"}}),
                &["spec.cronn"],
            ),
            (
                json!({"spec": {"embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                         "spec": {"x": 1}, "extra": 1}}}),
                &["spec.embedded.extra"],
            ),
        ];
        for (object, want) in cases {
            assert_eq!(
                unknown(&crd_kind(), false, object),
                *want,
                "object {object}"
            );
        }
    }

    #[test]
    fn remove_prunes_only_the_given_fields() {
        let mut object = json!({"metadata": {"nmae": "a", "name": "b"},
                                "spec": {"ports": [{"port": 1, "prot": 2}, {"port": 3}]}});
        let paths = unknown_fields(&native_kind(), true, &components(), &object);
        remove(&mut object, &paths);
        assert_eq!(
            object,
            json!({"metadata": {"name": "b"}, "spec": {"ports": [{"port": 1}, {"port": 3}]}})
        );
        remove(
            &mut object,
            &[FieldPath(vec![
                Segment::Key("gone".into()),
                Segment::Key("x".into()),
            ])],
        );
        assert_eq!(object["metadata"]["name"], "b");
    }
}
