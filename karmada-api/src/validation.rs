//! Field errors of admission: what is wrong with one field of an object, in the shape
//! Kubernetes reports them (`Status.details.causes` of a 422 Invalid), so a user sees the
//! exact path to fix.

use std::fmt;

/// Why a field is wrong, as Kubernetes' `field.ErrorType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The value is wrong (`FieldValueInvalid`).
    Invalid,
    /// A value is missing (`FieldValueRequired`).
    Required,
    /// The field may not be set here (`FieldValueForbidden`).
    Forbidden,
    /// The value repeats one given earlier (`FieldValueDuplicate`).
    Duplicate,
    /// The value is not one of the allowed ones (`FieldValueNotSupported`).
    NotSupported,
}

impl Reason {
    /// The `reason` of a Status cause.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Invalid => "FieldValueInvalid",
            Reason::Required => "FieldValueRequired",
            Reason::Forbidden => "FieldValueForbidden",
            Reason::Duplicate => "FieldValueDuplicate",
            Reason::NotSupported => "FieldValueNotSupported",
        }
    }
}

/// One wrong field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path with indexes, e.g. `spec.placement.spreadConstraints[0].maxGroups`.
    pub field: String,
    pub reason: Reason,
    /// What is wrong and how to fix it, without the field path.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: Reason, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason,
            message: message.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError::new(field, Reason::Invalid, message)
    }

    pub fn required(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError::new(field, Reason::Required, message)
    }

    pub fn forbidden(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError::new(field, Reason::Forbidden, message)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Admission of one kind: defaults filled in, then every wrong field reported at once.
pub trait Admit {
    /// Fills in the defaults Karmada's mutating webhook applies.
    fn default_fields(&mut self) {}

    /// Every wrong field; `old` is the stored object on update (for immutable fields).
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError>;
}

/// Fails `case` unless `errors` name exactly the fields and reasons of `want`, in order.
#[cfg(test)]
pub(crate) fn assert_fields<S: AsRef<str>>(
    case: &str,
    errors: Vec<FieldError>,
    want: &[(S, Reason)],
) {
    let got: Vec<(String, Reason)> = errors.into_iter().map(|e| (e.field, e.reason)).collect();
    let want: Vec<(String, Reason)> = want
        .iter()
        .map(|(f, r)| (f.as_ref().to_owned(), *r))
        .collect();
    assert_eq!(got, want, "{case}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_path_then_message() {
        let e = FieldError::invalid("spec.placement.replicaScheduling", "weights must be >= 1");
        assert_eq!(
            e.to_string(),
            "spec.placement.replicaScheduling: weights must be >= 1"
        );
        assert_eq!(e.reason.as_str(), "FieldValueInvalid");
        assert_eq!(FieldError::required("a", "b").reason, Reason::Required);
        assert_eq!(
            FieldError::forbidden("a", "b").reason.as_str(),
            "FieldValueForbidden"
        );
    }
}
