//! Reading requests: query parameters, body decoding by content type, and output negotiation.

use http::HeaderMap;
use serde_json::Value;

use crate::registry::error::{Error, Result};
use crate::registry::list::{Filter, ReadAt};
use crate::registry::selector::{FieldSelector, LabelSelector};
use crate::registry::store::{DeleteOptions, Propagation, WriteOptions};

/// Largest request body accepted (kube-apiserver allows about 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Query parameters of a request.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        Query { pairs }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | ""))
    }

    pub fn dry_run(&self) -> Result<bool> {
        let mut dry = false;
        for value in self.all("dryRun") {
            match value {
                "All" => dry = true,
                "" => {}
                other => {
                    return Err(Error::BadRequest(format!(
                        "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
                    )));
                }
            }
        }
        Ok(dry)
    }

    pub fn write_options(&self, headers: &HeaderMap) -> Result<WriteOptions> {
        let manager = match self.get("fieldManager") {
            Some(m) if m.len() > 128 => {
                return Err(Error::BadRequest(format!(
                    "fieldManager: Too long: may not be more than 128 bytes (got {})",
                    m.len()
                )));
            }
            Some(m) if !m.is_empty() => Some(m.to_string()),
            _ => user_agent_manager(headers),
        };
        Ok(WriteOptions {
            dry_run: self.dry_run()?,
            field_manager: manager,
            applied: false,
        })
    }

    pub fn field_validation(&self) -> Result<FieldValidation> {
        match self.get("fieldValidation") {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(Error::BadRequest(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }

    /// Selectors and namespace of a list or watch.
    pub fn filter(&self, namespace: Option<&str>) -> Result<Filter> {
        let labels = match self.get("labelSelector").filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(LabelSelector::parse(s).map_err(|e| Error::BadRequest(e.to_string()))?),
            None => None,
        };
        let fields = match self.get("fieldSelector").filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(FieldSelector::parse(s).map_err(|e| Error::BadRequest(e.to_string()))?),
            None => None,
        };
        Ok(Filter {
            namespace: namespace.map(str::to_string),
            labels,
            fields,
        })
    }

    /// `resourceVersion` + `resourceVersionMatch` of a list.
    pub fn read_at(&self) -> Result<ReadAt> {
        let rv = self.get("resourceVersion").filter(|s| !s.is_empty());
        let matching = self.get("resourceVersionMatch").filter(|s| !s.is_empty());
        if matching.is_some() && self.get("continue").is_some_and(|c| !c.is_empty()) {
            return Err(Error::BadRequest(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided".into(),
            ));
        }
        match (rv, matching) {
            (None, Some(_)) => Err(Error::BadRequest(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
                    .into(),
            )),
            (None, None) => Ok(ReadAt::Latest),
            (Some("0"), None | Some("NotOlderThan")) => Ok(ReadAt::Any),
            (Some("0"), Some("Exact")) => Err(Error::BadRequest(
                "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""
                    .into(),
            )),
            (Some(v), m) => {
                let revision = parse_resource_version(v)?;
                match m {
                    None | Some("NotOlderThan") => Ok(ReadAt::NotOlderThan(revision)),
                    Some("Exact") => Ok(ReadAt::Exact(revision)),
                    Some(other) => Err(Error::BadRequest(format!(
                        "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
                    ))),
                }
            }
        }
    }

    pub fn limit(&self) -> Result<usize> {
        match self.get("limit").filter(|s| !s.is_empty()) {
            None => Ok(0),
            Some(v) => v.parse::<i64>().map(|n| n.max(0) as usize).map_err(|_| {
                Error::BadRequest(format!("limit: Invalid value: \"{v}\": must be an integer"))
            }),
        }
    }
}

/// Parses a resource version string.
pub fn parse_resource_version(v: &str) -> Result<i64> {
    v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        Error::BadRequest(format!(
            "Invalid value: \"{v}\": resourceVersion must be a non-negative integer"
        ))
    })
}

/// Kubernetes' default field manager: the User-Agent up to its first `/`.
fn user_agent_manager(headers: &HeaderMap) -> Option<String> {
    let agent = headers.get(http::header::USER_AGENT)?.to_str().ok()?;
    let manager: String = agent.split('/').next()?.chars().take(128).collect();
    (!manager.is_empty()).then_some(manager)
}

/// How unknown fields in a body are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

/// The base media type of a `Content-Type` header (no parameters), `application/json` if absent.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/json".into())
}

/// Decodes an object body in JSON, YAML or Kubernetes protobuf.
pub fn decode_object(headers: &HeaderMap, body: &[u8]) -> Result<Value> {
    let media = content_type(headers);
    let value = match media.as_str() {
        "application/json" | "*/*" => serde_json::from_slice::<Value>(body).map_err(|e| {
            Error::BadRequest(format!(
                "the body of the request could not be decoded as JSON: {e}"
            ))
        })?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => decode_yaml(body)?,
        crate::protobuf::CONTENT_TYPE => crate::protobuf::decode(body).map_err(|e| match e {
            crate::protobuf::Error::UnsupportedKind { .. }
            | crate::protobuf::Error::UnsupportedField { .. } => Error::UnsupportedMediaType(
                format!("{e}; send this object as application/json instead"),
            ),
            other => Error::BadRequest(format!("the protobuf body could not be decoded: {other}")),
        })?,
        other => {
            return Err(Error::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format ({other}) - accepted media types include: \
                 application/json, application/yaml, application/vnd.kubernetes.protobuf"
            )));
        }
    };
    if !value.is_object() {
        return Err(Error::BadRequest(
            "the body of the request must be a JSON object".into(),
        ));
    }
    Ok(value)
}

/// Decodes YAML (or JSON, which is YAML) into a JSON value.
pub fn decode_yaml(body: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::BadRequest("the YAML body is not valid UTF-8".into()))?;
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        Error::BadRequest(format!(
            "the body of the request could not be decoded as YAML: {e}"
        ))
    })
}

/// `DeleteOptions` from the body (JSON or protobuf, with or without apiVersion/kind) and query.
pub fn delete_options(query: &Query, headers: &HeaderMap, body: &[u8]) -> Result<DeleteOptions> {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        decode_object(headers, body)?
    };
    let mut options = DeleteOptions {
        dry_run: query.dry_run()?,
        ..Default::default()
    };
    if body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "All"))
    {
        options.dry_run = true;
    }
    let policy = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or(query.get("propagationPolicy"));
    options.propagation = match policy {
        None | Some("") => match body
            .get("orphanDependents")
            .and_then(Value::as_bool)
            .or_else(|| query.get("orphanDependents").map(|v| v == "true"))
        {
            Some(true) => Some(Propagation::Orphan),
            _ => None,
        },
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Background\", \"Foreground\", \"Orphan\""
            )));
        }
    };
    options.grace_period_seconds = body
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| query.get("gracePeriodSeconds").and_then(|v| v.parse().ok()));
    if let Some(pre) = body.get("preconditions") {
        options.precondition_uid = pre.get("uid").and_then(Value::as_str).map(str::to_string);
        options.precondition_resource_version = pre
            .get("resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    Ok(options)
}

/// What representation the client wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Object,
    Table {
        include: crate::registry::table::IncludeObject,
    },
    PartialMetadata,
}

/// Negotiates the response representation from `Accept` and `includeObject`.
pub fn output(headers: &HeaderMap, query: &Query) -> Result<Output> {
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let mut acceptable_json = false;
    for part in accept.split(',') {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        let media = params.first().copied().unwrap_or_default();
        let as_ = params.iter().find_map(|p| p.strip_prefix("as="));
        let group_ok = params.contains(&"g=meta.k8s.io");
        match (media, as_) {
            ("application/json", Some("Table")) if group_ok => {
                let include = query
                    .get("includeObject")
                    .unwrap_or_default()
                    .parse::<crate::registry::table::IncludeObject>()
                    .map_err(|e| Error::BadRequest(e.to_string()))?;
                return Ok(Output::Table { include });
            }
            ("application/json", Some("PartialObjectMetadata" | "PartialObjectMetadataList"))
                if group_ok =>
            {
                return Ok(Output::PartialMetadata);
            }
            ("application/json" | "application/*" | "*/*" | "application/yaml", None) => {
                acceptable_json = true;
            }
            _ => {}
        }
    }
    if acceptable_json || accept.trim().is_empty() {
        Ok(Output::Object)
    } else {
        Err(Error::NotAcceptable(format!(
            "only the following media types are accepted: application/json, application/yaml, \
             application/json;as=Table;v=v1;g=meta.k8s.io (asked for {accept})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_version_match_rules() {
        assert_eq!(Query::parse(None).read_at().expect("ok"), ReadAt::Latest);
        assert_eq!(
            Query::parse(Some("resourceVersion=0"))
                .read_at()
                .expect("ok"),
            ReadAt::Any
        );
        assert_eq!(
            Query::parse(Some("resourceVersion=7&resourceVersionMatch=Exact"))
                .read_at()
                .expect("ok"),
            ReadAt::Exact(7)
        );
        assert!(
            Query::parse(Some("resourceVersionMatch=Exact"))
                .read_at()
                .is_err()
        );
        assert!(Query::parse(Some("resourceVersion=abc")).read_at().is_err());
    }

    #[test]
    fn kubectl_get_asks_for_tables() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
                .parse()
                .expect("header"),
        );
        assert!(matches!(
            output(&headers, &Query::default()),
            Ok(Output::Table { .. })
        ));
        headers.insert(
            http::header::ACCEPT,
            "application/vnd.kubernetes.protobuf,application/json"
                .parse()
                .expect("h"),
        );
        assert_eq!(
            output(&headers, &Query::default()).expect("json"),
            Output::Object
        );
        headers.insert(
            http::header::ACCEPT,
            "application/vnd.kubernetes.protobuf".parse().expect("h"),
        );
        assert!(output(&headers, &Query::default()).is_err());
    }

    #[test]
    fn delete_options_from_kubectl_body() {
        let opts = delete_options(
            &Query::default(),
            &HeaderMap::new(),
            br#"{"propagationPolicy":"Foreground"}"#,
        )
        .expect("valid");
        assert_eq!(opts.propagation, Some(Propagation::Foreground));
        let empty = delete_options(&Query::parse(Some("dryRun=All")), &HeaderMap::new(), b"")
            .expect("valid");
        assert!(empty.dry_run && empty.propagation.is_none());
    }
}
