//! Field selectors: `f=v`, `f!=v` terms with backslash escapes, AND-ed.

use std::fmt;

use super::{Error, err};

/// One `field=value` or `field!=value` term.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FieldTerm {
    field: String,
    value: String,
    negated: bool,
}

/// Field requirements, all of which must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses `f=v`, `f==v`, `f!=v`, comma-separated; `\,` `\=` `\\` escape value characters.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut terms = Vec::new();
        for term in split_unescaped(s, ',') {
            if term.trim().is_empty() {
                continue;
            }
            let Some((field, op, value)) = split_term(term) else {
                return err(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                ));
            };
            terms.push(FieldTerm {
                field: field.trim().to_owned(),
                value: unescape(value.trim())?,
                negated: op == "!=",
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Whether every term holds; `get` returns a field's value, `None` reading as "".
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let equal = get(&t.field).unwrap_or_default() == t.value;
            equal != t.negated
        })
    }

    /// The fields the selector names, to check them against what the kind supports.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|t| t.field.as_str())
    }

    /// The value `field` must equal, when an equality term pins it (e.g. `metadata.name=x`).
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && !t.negated)
            .map(|t| t.value.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if t.negated { "!=" } else { "=" };
            let escaped = t
                .value
                .replace('\\', "\\\\")
                .replace(',', "\\,")
                .replace('=', "\\=");
            write!(f, "{}{op}{escaped}", t.field)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        FieldSelector::parse(s)
    }
}

/// Splits on `sep` where it is not preceded by an escaping backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Splits a term at its first unescaped operator.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    let mut escaped = false;
    for (i, c) in term.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        for op in ["!=", "==", "="] {
            if term[i..].starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

fn unescape(value: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => {
                    return err(format!(
                        "invalid field selector: invalid escape sequence: \\{e}"
                    ));
                }
                None => return err("invalid field selector: invalid escape sequence: \\".into()),
            },
            ',' | '=' => {
                return err(format!(
                    "invalid field selector: unescaped character in value: {c}"
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_field_selectors_with_escapes() {
        let sel = FieldSelector::parse(r"metadata.name=a\,b,spec.nodeName!=,status.phase==Running")
            .unwrap();
        assert_eq!(
            sel.fields().collect::<Vec<_>>(),
            ["metadata.name", "spec.nodeName", "status.phase"]
        );
        assert_eq!(sel.exact("metadata.name"), Some("a,b"));
        assert_eq!(sel.exact("spec.nodeName"), None);
        assert_eq!(
            sel.to_string(),
            r"metadata.name=a\,b,spec.nodeName!=,status.phase=Running"
        );
        let value = |f: &str| match f {
            "metadata.name" => Some("a,b".to_owned()),
            "spec.nodeName" => Some("node-1".to_owned()),
            "status.phase" => Some("Running".to_owned()),
            _ => None,
        };
        assert!(sel.matches(value));
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(
            FieldSelector::parse(r"a=x\=y\\")
                .unwrap()
                .matches(|_| Some(r"x=y\".to_owned()))
        );
        assert!(
            FieldSelector::parse("spec.nodeName=")
                .unwrap()
                .matches(|_| None)
        );
        assert!(
            !FieldSelector::parse("spec.nodeName!=")
                .unwrap()
                .matches(|_| None)
        );
        assert_eq!(FieldSelector::parse("a=b,").unwrap().fields().count(), 1);
    }

    #[test]
    fn rejects_malformed_field_selectors() {
        let cases = [
            (
                "metadata.name",
                "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: =",
            ),
            (
                r"a=b\x",
                r"invalid field selector: invalid escape sequence: \x",
            ),
            (
                r"a=b\",
                r"invalid field selector: invalid escape sequence: \",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                FieldSelector::parse(input).unwrap_err().to_string(),
                want,
                "{input}"
            );
        }
    }
}
