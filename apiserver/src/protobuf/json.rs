//! The `ToJson` conversion from decoded k8s-pb messages to Kubernetes JSON, and the `messages!` macro that writes it per message.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::{Error, wire};

/// Converts a decoded protobuf value into its Kubernetes JSON form.
///
/// Implementations for messages must account for every field: a field they do not map has to
/// make the conversion fail (see [`ensure_consumed`]) so that no request data is dropped.
pub(crate) trait ToJson: Sized {
    fn to_json(self) -> Result<Value, Error>;
}

/// How a struct field of a decoded message appears in the JSON object, if at all.
///
/// proto2 presence decides: `Some` and non-empty repeated/map fields are emitted, because
/// client-go writes every non-pointer Go field (even zero) and only set pointer fields.
pub(crate) trait Field {
    fn field_json(self) -> Result<Option<Value>, Error>;
}

impl<T: ToJson> Field for Option<T> {
    fn field_json(self) -> Result<Option<Value>, Error> {
        self.map(ToJson::to_json).transpose()
    }
}

impl<T: ToJson> Field for Vec<T> {
    fn field_json(self) -> Result<Option<Value>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        let items = self
            .into_iter()
            .map(ToJson::to_json)
            .collect::<Result<_, _>>()?;
        Ok(Some(Value::Array(items)))
    }
}

impl<T: ToJson> Field for BTreeMap<String, T> {
    fn field_json(self) -> Result<Option<Value>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        let entries = self
            .into_iter()
            .map(|(key, value)| Ok((key, value.to_json()?)))
            .collect::<Result<Map<_, _>, Error>>()?;
        Ok(Some(Value::Object(entries)))
    }
}

impl ToJson for String {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::String(self))
    }
}

impl ToJson for bool {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::Bool(self))
    }
}

impl ToJson for i32 {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::from(self))
    }
}

impl ToJson for i64 {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::from(self))
    }
}

impl ToJson for f64 {
    fn to_json(self) -> Result<Value, Error> {
        serde_json::Number::from_f64(self)
            .map(Value::Number)
            .ok_or_else(|| Error::Malformed(format!("{self} is not representable in JSON")))
    }
}

/// Go's `encoding/json` writes `[]byte` (Secret `data`, ConfigMap `binaryData`) as standard
/// base64, so the registry sees the same string a JSON client would send.
impl ToJson for Vec<u8> {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::String(
            base64::engine::general_purpose::STANDARD.encode(self),
        ))
    }
}

/// Inserts one mapped field under its JSON name when the field is present.
pub(crate) fn put(
    object: &mut Map<String, Value>,
    name: &str,
    field: impl Field,
) -> Result<(), Error> {
    if let Some(value) = field.field_json()? {
        object.insert(name.to_owned(), value);
    }
    Ok(())
}

/// Merges a Go embedded struct (`json:",inline"`, e.g. `LocalObjectReference` inside
/// `SecretKeySelector`) into its parent: protobuf nests it as a field, JSON flattens it.
pub(crate) fn inline<T: ToJson>(
    object: &mut Map<String, Value>,
    field: Option<T>,
) -> Result<(), Error> {
    match field.map(ToJson::to_json).transpose()? {
        None => Ok(()),
        Some(Value::Object(inner)) => {
            object.extend(inner);
            Ok(())
        }
        Some(other) => Err(Error::Malformed(format!(
            "an embedded struct decoded to {other}, not an object"
        ))),
    }
}

/// Fails when the message still holds data after every mapped field was taken out of it.
pub(crate) fn ensure_consumed(message: &str, rest: &impl prost::Message) -> Result<(), Error> {
    if rest.encoded_len() == 0 {
        return Ok(());
    }
    let numbers = wire::field_numbers(&rest.encode_to_vec());
    Err(Error::UnsupportedField {
        message: message.to_owned(),
        detail: format!("protobuf field number(s) {numbers:?} are not mapped to JSON"),
    })
}

/// The JSON name of a mapped field: the Rust name unless the table spells it out.
macro_rules! json_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $json:literal) => {
        $json
    };
}
pub(crate) use json_name;

/// Writes `ToJson` for k8s-pb messages of one protobuf package.
///
/// `Name[embedded, ...] { field, field: "jsonName", ... } => tidy` lists every field: bare when
/// the JSON name equals the Rust name, embedded Go structs in brackets, and an optional function
/// applied to the finished object. Each field is `take()`n from the message, so whatever is left
/// afterwards is a field the table forgot, and [`ensure_consumed`] rejects it.
macro_rules! messages {
    ($package:literal in $module:ident;
     $($name:ident $([$($embedded:ident),+])? {
         $($field:ident $(: $json:literal)?),* $(,)?
     } $(=> $tidy:path)?)*) => {
        $(impl $crate::protobuf::json::ToJson for $module::$name {
            fn to_json(mut self) -> Result<serde_json::Value, $crate::protobuf::Error> {
                let mut object = serde_json::Map::new();
                $($crate::protobuf::json::put(
                    &mut object,
                    $crate::protobuf::json::json_name!($field $(, $json)?),
                    std::mem::take(&mut self.$field),
                )?;)*
                $($($crate::protobuf::json::inline(&mut object, std::mem::take(&mut self.$embedded))?;)+)?
                $crate::protobuf::json::ensure_consumed(concat!($package, ".", stringify!($name)), &self)?;
                let value = serde_json::Value::Object(object);
                $(let value = $tidy(value);)?
                Ok(value)
            }
        })*
    };
}
pub(crate) use messages;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_empty_fields_are_not_emitted() {
        let mut object = Map::new();
        put(&mut object, "a", None::<String>).unwrap();
        put(&mut object, "b", Vec::<String>::new()).unwrap();
        put(&mut object, "c", BTreeMap::<String, String>::new()).unwrap();
        assert!(object.is_empty());
    }

    #[test]
    fn present_zero_values_are_kept() {
        let mut object = Map::new();
        put(&mut object, "replicas", Some(0_i32)).unwrap();
        put(&mut object, "generateName", Some(String::new())).unwrap();
        put(&mut object, "paused", Some(false)).unwrap();
        assert_eq!(
            Value::Object(object),
            serde_json::json!({"replicas": 0, "generateName": "", "paused": false})
        );
    }

    /// A message whose table forgets a field, standing in for a k8s-pb struct that grew one.
    mod widget {
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct Widget {
            #[prost(string, optional, tag = "1")]
            pub name: Option<String>,
            #[prost(int32, optional, tag = "7")]
            pub size: Option<i32>,
        }
    }

    messages! {
        "test.v1" in widget;

        Widget { name }
    }

    #[test]
    fn a_field_missing_from_the_table_fails_the_conversion() {
        let named = widget::Widget {
            name: Some("w".to_owned()),
            size: None,
        };
        assert_eq!(named.to_json().unwrap(), serde_json::json!({"name": "w"}));
        let sized = widget::Widget {
            name: Some("w".to_owned()),
            size: Some(3),
        };
        let err = sized.to_json().unwrap_err();
        assert!(
            matches!(&err, Error::UnsupportedField { message, detail } if message == "test.v1.Widget" && detail.contains("[7]")),
            "{err}"
        );
    }

    #[test]
    fn bytes_become_base64_and_maps_objects() {
        let data = BTreeMap::from([("k".to_owned(), b"hello".to_vec())]);
        assert_eq!(
            data.field_json().unwrap(),
            Some(serde_json::json!({"k": "aGVsbG8="}))
        );
    }
}
