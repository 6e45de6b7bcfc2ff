//! The parameters of the operations in a group-version document.
//!
//! kubectl only sends `fieldValidation` on writes when the PATCH operation of the object's kind
//! lists it as a query parameter, so the write sets here must keep it.

use serde_json::{Value, json};

/// A query parameter: name, JSON type and description.
type Query = (&'static str, &'static str, &'static str);

const DRY_RUN: Query = (
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. Valid values: All.",
);

#[rustfmt::skip]
const WRITE: &[Query] = &[
    DRY_RUN,
    ("fieldManager", "string", "A name associated with the actor or entity that is making these changes."),
    ("fieldValidation", "string", "How the server handles unknown fields in the request body: Ignore, Warn or Strict (the default)."),
];

const FORCE: Query = (
    "force",
    "boolean",
    "Force an apply request to take ownership of conflicting fields.",
);

#[rustfmt::skip]
const LIST: &[Query] = &[
    ("allowWatchBookmarks", "boolean", "Requests watch events with type \"BOOKMARK\"."),
    ("continue", "string", "The continue token of a previous chunked list response."),
    ("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields."),
    ("labelSelector", "string", "A selector to restrict the list of returned objects by their labels."),
    ("limit", "integer", "The maximum number of responses to return for a list call."),
    ("resourceVersion", "string", "Which resource version a list or watch starts from."),
    ("resourceVersionMatch", "string", "How resourceVersion is applied to list calls: Exact or NotOlderThan."),
    ("sendInitialEvents", "boolean", "Whether a watch begins with synthetic events for the current state."),
    ("timeoutSeconds", "integer", "Timeout for the list/watch call."),
    ("watch", "boolean", "Watch for changes to the described resources and return them as a stream."),
];

#[rustfmt::skip]
const DELETE: &[Query] = &[
    DRY_RUN,
    ("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted."),
    ("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    ("propagationPolicy", "string", "Whether and how garbage collection is performed: Orphan, Background or Foreground."),
];

fn query<'a>(params: impl IntoIterator<Item = &'a Query>) -> Vec<Value> {
    params
        .into_iter()
        .map(|(name, type_, description)| {
            json!({"name": name, "in": "query", "description": description, "schema": {"type": type_}})
        })
        .collect()
}

/// Parameters of list (and watch) operations.
pub(super) fn list() -> Vec<Value> {
    query(LIST)
}

/// Parameters of create and replace operations.
pub(super) fn write() -> Vec<Value> {
    query(WRITE)
}

/// Parameters of patch operations: those of writes plus `force` for server-side apply.
pub(super) fn patch() -> Vec<Value> {
    query(WRITE.iter().chain([&FORCE]))
}

/// Parameters of the delete operation of one object.
pub(super) fn delete() -> Vec<Value> {
    query(DELETE)
}

/// Parameters of deletecollection: those of delete plus the list selectors.
pub(super) fn delete_collection() -> Vec<Value> {
    let selectors = LIST
        .iter()
        .filter(|(name, ..)| !matches!(*name, "watch" | "allowWatchBookmarks"));
    query(DELETE.iter().chain(selectors))
}

/// A required path parameter (`name`, `namespace`).
pub(super) fn path(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "description": description, "required": true, "schema": {"type": "string"}})
}

/// `pretty`, accepted by every path.
pub(super) fn pretty() -> Value {
    json!({"name": "pretty", "in": "query", "description": "If 'true', then the output is pretty printed.", "schema": {"type": "string"}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(params: &[Value]) -> Vec<&str> {
        params.iter().filter_map(|p| p["name"].as_str()).collect()
    }

    #[test]
    fn writes_declare_field_validation_as_a_query_parameter() {
        for params in [write(), patch()] {
            let validation = params.iter().find(|p| p["name"] == "fieldValidation");
            assert_eq!(validation.map(|p| &p["in"]), Some(&json!("query")));
        }
        assert_eq!(
            names(&patch()),
            ["dryRun", "fieldManager", "fieldValidation", "force"]
        );
        let collection = delete_collection();
        let collection = names(&collection);
        assert!(collection.contains(&"labelSelector") && !collection.contains(&"watch"));
    }
}
