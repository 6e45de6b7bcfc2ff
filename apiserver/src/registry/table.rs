//! `meta.k8s.io/v1` Table answers for `kubectl get`: kubectl's column sets for native kinds,
//! `additionalPrinterColumns` for custom resources, and Name / Created At for the rest.
//!
//! Like kube-apiserver, the server always renders the wide cells; `kubectl` hides columns with
//! `priority > 0` unless asked for `-o wide`.

mod age;
mod autoscaling;
mod certificates;
mod cluster;
mod fields;
mod network;
mod pod;
mod volumes;
mod workloads;

use std::borrow::Cow;
use std::str::FromStr;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

pub use age::human_duration;

use super::catalog::{Origin, PrinterColumn, Resource};
use super::jsonpath::{self, JsonPath};

/// Why a Table request cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(r#"includeObject: Unsupported value: "{0}": supported values: "Metadata", "None", "Object""#)]
    IncludeObject(String),
}

/// One column definition of a Table (`columnDefinitions[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: Cow<'static, str>,
    /// An OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: Cow<'static, str>,
    /// An OpenAPI format hint; `name` marks the object-name column.
    pub format: Cow<'static, str>,
    pub description: Cow<'static, str>,
    /// 0 for default columns, higher for `-o wide` only.
    pub priority: i32,
}

impl Column {
    /// The column as it appears on the wire; Go writes every field, empty or not.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// What each row's `object` carries (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `null`.
    None,
    /// A `PartialObjectMetadata` with the object's full metadata (kubectl's default need:
    /// namespace for `-A`, labels for `-L`, sorting).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl FromStr for IncludeObject {
    type Err = Error;

    /// Parses the query parameter; an empty value means the default, `Metadata`.
    fn from_str(value: &str) -> Result<Self, Error> {
        match value {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(Error::IncludeObject(other.to_string())),
        }
    }
}

/// The column definitions of a resource: its native column set, a custom resource's printer
/// columns after Name, or Name and Created At.
pub fn columns(resource: &Resource) -> Vec<Column> {
    Convertor::of(resource).columns()
}

/// One row's cells for `object`, as many as [`columns`] returns; `now` dates the AGE cells.
pub fn cells(resource: &Resource, object: &Value, now: Timestamp) -> Vec<Value> {
    Convertor::of(resource).cells(object, now)
}

/// A whole Table for `objects` (one object for a get, the items of a list, or one watch event).
/// `list_meta` becomes the Table's `metadata` (`resourceVersion`, `continue`,
/// `remainingItemCount`; null and empty fields are dropped). `no_headers` leaves out the
/// column definitions, as watch events after the first do.
pub fn table(
    resource: &Resource,
    objects: &[Value],
    list_meta: Value,
    include: IncludeObject,
    no_headers: bool,
    now: Timestamp,
) -> Value {
    let convertor = Convertor::of(resource);
    let is_pod = resource.group.is_empty() && resource.kind == "Pod" && !resource.is_custom();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(convertor.cells(object, now)));
            if let Some(conditions) = is_pod.then(|| pod::conditions(object)).flatten() {
                row.insert("conditions".into(), conditions);
            }
            row.insert("object".into(), embedded(object, include));
            Value::Object(row)
        })
        .collect();
    // Go omits empty ListMeta fields; callers may hand over nulls (an object without a version).
    let metadata: Map<String, Value> = match list_meta {
        Value::Object(fields) => fields
            .into_iter()
            .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
            .collect(),
        _ => Map::new(),
    };
    let definitions = if no_headers {
        Vec::new()
    } else {
        convertor.columns().iter().map(Column::to_json).collect()
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

fn embedded(object: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => object.clone(),
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

/// A native kind's printer: its columns and the function that fills one row.
struct Printer {
    group: &'static str,
    kind: &'static str,
    columns: &'static [Column],
    cells: fn(&Value, Timestamp) -> Vec<Value>,
}

const fn column(
    name: &'static str,
    type_: &'static str,
    format: &'static str,
    priority: i32,
    description: &'static str,
) -> Column {
    Column {
        name: Cow::Borrowed(name),
        type_: Cow::Borrowed(type_),
        format: Cow::Borrowed(format),
        description: Cow::Borrowed(description),
        priority,
    }
}

const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    column(name, type_, "", 0, description)
}

/// A column shown only with `-o wide`.
const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    column(name, type_, "", 1, description)
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. It is required when creating resources, \
    although some resources may allow a client to request the generation of an appropriate name automatically.";
const CREATED_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object \
    was created.";

const NAME: Column = column("Name", "string", "name", 0, NAME_DESCRIPTION);
const AGE: Column = col("Age", "string", CREATED_DESCRIPTION);
const DEFAULT_COLUMNS: &[Column] = &[NAME, col("Created At", "date", CREATED_DESCRIPTION)];

const NATIVE: &[&[Printer]] = &[
    pod::PRINTERS,
    autoscaling::PRINTERS,
    certificates::PRINTERS,
    workloads::PRINTERS,
    network::PRINTERS,
    cluster::PRINTERS,
    volumes::PRINTERS,
];

/// How rows of one resource are rendered, prepared once per Table.
enum Convertor {
    Native(&'static Printer),
    /// A custom resource: its printer columns, each with its parsed path (`None` if invalid).
    Custom(Vec<(Column, Option<JsonPath>)>),
    Default,
}

impl Convertor {
    fn of(resource: &Resource) -> Self {
        match &resource.origin {
            Origin::Custom {
                printer_columns, ..
            } => Convertor::Custom(custom_columns(printer_columns)),
            Origin::Native => NATIVE
                .iter()
                .flat_map(|printers| printers.iter())
                .find(|p| p.group == resource.group && p.kind == resource.kind)
                .map_or(Convertor::Default, Convertor::Native),
        }
    }

    fn columns(&self) -> Vec<Column> {
        match self {
            Convertor::Native(printer) => printer.columns.to_vec(),
            Convertor::Custom(columns) => std::iter::once(NAME)
                .chain(columns.iter().map(|(column, _)| column.clone()))
                .collect(),
            Convertor::Default => DEFAULT_COLUMNS.to_vec(),
        }
    }

    fn cells(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        match self {
            Convertor::Native(printer) => (printer.cells)(object, now),
            Convertor::Custom(columns) => std::iter::once(fields::name(object).into())
                .chain(columns.iter().map(|(column, path)| {
                    // Like the CRD handler, a path selecting several values shows the first.
                    let first = path
                        .as_ref()
                        .and_then(|p| p.find(object).into_iter().next());
                    first.map_or(Value::Null, |value| custom_cell(&column.type_, value, now))
                }))
                .collect(),
            Convertor::Default => vec![fields::name(object).into(), created_at(object).into()],
        }
    }
}

/// A custom resource's columns after Name; a CRD version without printer columns gets Age.
fn custom_columns(printer_columns: &[PrinterColumn]) -> Vec<(Column, Option<JsonPath>)> {
    if printer_columns.is_empty() {
        return vec![(
            Column {
                type_: Cow::Borrowed("date"),
                ..AGE
            },
            JsonPath::parse(".metadata.creationTimestamp").ok(),
        )];
    }
    printer_columns
        .iter()
        .map(|pc| {
            let description = if pc.description.is_empty() {
                format!(
                    "Custom resource definition column (in JSONPath format): {}",
                    pc.json_path
                )
            } else {
                pc.description.clone()
            };
            let column = Column {
                name: pc.name.clone().into(),
                type_: pc.type_.clone().into(),
                format: pc.format.clone().into(),
                description: description.into(),
                priority: i32::try_from(pc.priority).unwrap_or(i32::MAX),
            };
            // CRD validation rejects bad paths; one stored before that shows empty cells.
            (column, JsonPath::parse(&pc.json_path).ok())
        })
        .collect()
}

/// A printer-column cell typed as the column says; values of another type become `null`.
fn custom_cell(type_: &str, value: &Value, now: Timestamp) -> Value {
    match (type_, value) {
        (_, Value::Null) => Value::Null,
        ("string", value) => jsonpath::to_text(value).map_or(Value::Null, Value::from),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, Value::from),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        // kubectl prints date columns as an age, like AGE.
        ("date", Value::String(s)) => age::since(Some(s), now).into(),
        _ => Value::Null,
    }
}

/// The default convertor's Created At cell: RFC 3339 in UTC, whole seconds; Go's zero time
/// when the object has none.
fn created_at(object: &Value) -> String {
    fields::non_empty(object, "/metadata/creationTimestamp")
        .and_then(age::parse)
        .map_or_else(
            || "0001-01-01T00:00:00Z".into(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::catalog::Catalog;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn native(group: &str, version: &str, plural: &str) -> Resource {
        Catalog::with_native()
            .get(group, version, plural)
            .map(|r| (*r).clone())
            .expect("native resource")
    }

    fn crd(printer_columns: Vec<PrinterColumn>) -> Resource {
        Resource {
            origin: Origin::Custom {
                crd_name: "widgets.example.com".into(),
                schema: None,
                printer_columns,
                preserve_unknown_fields: false,
            },
            group: "example.com".into(),
            kind: "Widget".into(),
            plural: "widgets".into(),
            singular: "widget".into(),
            ..native("apps", "v1", "deployments")
        }
    }

    fn printer_column(name: &str, type_: &str, json_path: &str, priority: i64) -> PrinterColumn {
        PrinterColumn {
            name: name.into(),
            type_: type_.into(),
            format: String::new(),
            description: String::new(),
            priority,
            json_path: json_path.into(),
        }
    }

    fn names(columns: &[Column]) -> Vec<(&str, i32)> {
        columns
            .iter()
            .map(|c| (c.name.as_ref(), c.priority))
            .collect()
    }

    #[test]
    fn native_column_sets_match_kubectl() {
        let deployments = columns(&native("apps", "v1", "deployments"));
        assert_eq!(
            names(&deployments),
            [
                ("Name", 0),
                ("Ready", 0),
                ("Up-to-date", 0),
                ("Available", 0),
                ("Age", 0),
                ("Containers", 1),
                ("Images", 1),
                ("Selector", 1)
            ]
        );
        assert_eq!(deployments[0].format, "name");
        let pods = columns(&native("", "v1", "pods"));
        assert_eq!(
            names(&pods),
            [
                ("Name", 0),
                ("Ready", 0),
                ("Status", 0),
                ("Restarts", 0),
                ("Age", 0),
                ("IP", 1),
                ("Node", 1),
                ("Nominated Node", 1),
                ("Readiness Gates", 1)
            ]
        );
        let services: Vec<_> = columns(&native("", "v1", "services"))
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            services,
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        for (group, version, plural) in [
            ("rbac.authorization.k8s.io", "v1", "roles"),
            ("", "v1", "limitranges"),
        ] {
            let cols = columns(&native(group, version, plural));
            assert_eq!(names(&cols), [("Name", 0), ("Created At", 0)], "{plural}");
            assert_eq!(cols[1].type_, "date");
        }
        let hpa_v1 = columns(&native("autoscaling", "v1", "horizontalpodautoscalers"));
        assert_eq!(hpa_v1[2].name, "Targets");
    }

    #[test]
    fn every_native_resource_fills_its_columns() {
        let object =
            json!({"metadata": {"name": "x", "creationTimestamp": "2024-05-01T11:00:00Z"}});
        for resource in Catalog::with_native().all() {
            assert_eq!(
                cells(&resource, &object, now()).len(),
                columns(&resource).len(),
                "{}",
                resource.kind
            );
        }
    }

    #[test]
    fn custom_resource_columns_use_json_paths() {
        let resource = crd(vec![
            printer_column("Replicas", "integer", ".spec.replicas", 0),
            printer_column(
                "Ready",
                "string",
                r#".status.conditions[?(@.type=="Ready")].status"#,
                0,
            ),
            printer_column("Ratio", "number", ".spec.ratio", 0),
            printer_column("Paused", "boolean", ".spec.paused", 1),
            printer_column("Age", "date", ".metadata.creationTimestamp", 0),
            printer_column("Owner", "string", ".spec.owner", 0),
            printer_column("Wrong", "integer", ".spec.owner", 0),
        ]);
        let cols = columns(&resource);
        assert_eq!(
            names(&cols),
            [
                ("Name", 0),
                ("Replicas", 0),
                ("Ready", 0),
                ("Ratio", 0),
                ("Paused", 1),
                ("Age", 0),
                ("Owner", 0),
                ("Wrong", 0)
            ]
        );
        assert_eq!(
            cols[1].description,
            "Custom resource definition column (in JSONPath format): .spec.replicas"
        );
        let widget = json!({
            "metadata": {"name": "w1", "creationTimestamp": "2024-05-01T09:58:00Z"},
            "spec": {"replicas": 3, "ratio": 0.5, "paused": false, "owner": {"team": "a", "id": 1}},
            "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]},
        });
        assert_eq!(
            cells(&resource, &widget, now()),
            vec![
                json!("w1"),
                json!(3),
                json!("True"),
                json!(0.5),
                json!(false),
                json!("122m"),
                json!(r#"{"id":1,"team":"a"}"#),
                Value::Null
            ]
        );
        let sparse = json!({"metadata": {"name": "w2"}});
        assert!(
            cells(&resource, &sparse, now())[1..]
                .iter()
                .all(Value::is_null)
        );

        let plain = crd(Vec::new());
        assert_eq!(names(&columns(&plain)), [("Name", 0), ("Age", 0)]);
        assert_eq!(
            cells(&plain, &widget, now()),
            vec![json!("w1"), json!("122m")]
        );
    }

    #[test]
    fn tables_carry_rows_metadata_and_requested_objects() {
        let resource = native("", "v1", "pods");
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "done", "namespace": "ns", "labels": {"a": "b"}, "creationTimestamp": "2024-05-01T11:59:00Z"},
            "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Succeeded"}});
        let meta = json!({"resourceVersion": "42", "continue": "next"});
        let t = table(
            &resource,
            std::slice::from_ref(&pod),
            meta,
            IncludeObject::default(),
            false,
            now(),
        );
        assert_eq!(
            (t["kind"].as_str(), t["apiVersion"].as_str()),
            (Some("Table"), Some("meta.k8s.io/v1"))
        );
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "42", "continue": "next"})
        );
        assert_eq!(
            t["columnDefinitions"][0],
            json!({"name": "Name", "type": "string", "format": "name",
            "description": NAME_DESCRIPTION, "priority": 0})
        );
        let row = &t["rows"][0];
        assert_eq!(
            row["cells"].as_array().expect("cells")[..3],
            [json!("done"), json!("0/1"), json!("Succeeded")]
        );
        assert_eq!(row["conditions"][0]["type"], "Completed");
        assert_eq!(
            row["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": pod["metadata"]})
        );

        let bare = table(
            &resource,
            std::slice::from_ref(&pod),
            json!({"resourceVersion": null, "continue": ""}),
            IncludeObject::None,
            true,
            now(),
        );
        assert_eq!(bare["columnDefinitions"], json!([]));
        assert_eq!(bare["metadata"], json!({}));
        assert_eq!(bare["rows"][0]["object"], Value::Null);
        let whole = table(
            &resource,
            std::slice::from_ref(&pod),
            json!({}),
            IncludeObject::Object,
            false,
            now(),
        );
        assert_eq!(whole["rows"][0]["object"], pod);
    }

    #[test]
    fn default_convertor_prints_created_at() {
        let role = json!({"metadata": {"name": "reader", "creationTimestamp": "2024-05-01T10:00:00.123Z"}});
        let resource = native("rbac.authorization.k8s.io", "v1", "roles");
        assert_eq!(
            cells(&resource, &role, now()),
            vec![json!("reader"), json!("2024-05-01T10:00:00Z")]
        );
        assert_eq!(
            cells(&resource, &json!({}), now())[1],
            "0001-01-01T00:00:00Z"
        );
    }

    #[test]
    fn include_object_parses_the_query_parameter() {
        assert_eq!("".parse(), Ok(IncludeObject::Metadata));
        assert_eq!("None".parse(), Ok(IncludeObject::None));
        assert_eq!("Object".parse(), Ok(IncludeObject::Object));
        let err = "everything".parse::<IncludeObject>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"includeObject: Unsupported value: "everything": supported values: "Metadata", "None", "Object""#
        );
    }
}
