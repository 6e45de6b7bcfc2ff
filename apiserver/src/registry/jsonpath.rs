//! The JSONPath subset that CRD printer columns use, parsed once and evaluated over JSON values.
//!
//! Kubernetes evaluates `additionalPrinterColumns[].jsonPath` with client-go's template-style
//! JSONPath (`{.spec.replicas}`) with missing keys allowed. Columns use a small part of it:
//! dotted fields, `['quoted.key']`, `[n]` (negative from the end), `[a:b]`, `[*]` / `.*`,
//! `..field` and filters such as `[?(@.type=="Ready")]`; that part is what this module accepts.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

/// Why an expression is not a JSONPath this module accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath {expression:?} at character {position}: {reason}")]
pub struct Error {
    pub expression: String,
    pub position: usize,
    pub reason: String,
}

/// A parsed JSONPath expression.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Wildcard,
    /// `..name`: `name` at any depth below the current value.
    Descend(String),
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    /// Path relative to `@`.
    left: Vec<Step>,
    /// `None` tests that `left` exists.
    compare: Option<(Op, Literal)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl JsonPath {
    /// Parses `.a.b[0]`, with or without the `{...}` template braces and a leading `$`.
    pub fn parse(expression: &str) -> Result<Self, Error> {
        let mut parser = Parser {
            src: expression.chars().collect(),
            pos: 0,
            expression,
        };
        parser.skip_spaces();
        let braced = parser.eat('{');
        parser.skip_spaces();
        parser.eat('$');
        let steps = parser.steps(false)?;
        parser.skip_spaces();
        if braced && !parser.eat('}') {
            return Err(parser.error("expected a closing '}'"));
        }
        parser.skip_spaces();
        if parser.pos < parser.src.len() {
            return Err(parser.error("unexpected character"));
        }
        Ok(JsonPath { steps })
    }

    /// Every value the path selects, in document order; missing keys select nothing.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        select(&self.steps, root)
    }
}

fn select<'a>(steps: &[Step], root: &'a Value) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in steps {
        current = current
            .into_iter()
            .flat_map(|value| apply(step, value))
            .collect();
    }
    current
}

fn apply<'a>(step: &Step, value: &'a Value) -> Vec<&'a Value> {
    match step {
        Step::Field(name) => value.get(name.as_str()).into_iter().collect(),
        Step::Wildcard => children(value),
        Step::Descend(name) => {
            let mut all = Vec::new();
            descendants(value, &mut all);
            all.into_iter()
                .filter_map(|v| v.get(name.as_str()))
                .collect()
        }
        Step::Index(index) => {
            let Some(items) = value.as_array() else {
                return Vec::new();
            };
            let resolved = if *index < 0 {
                items.len() as i64 + index
            } else {
                *index
            };
            usize::try_from(resolved)
                .ok()
                .and_then(|i| items.get(i))
                .into_iter()
                .collect()
        }
        Step::Slice(start, end) => {
            let Some(items) = value.as_array() else {
                return Vec::new();
            };
            let len = items.len() as i64;
            let clamp = |bound: i64| (if bound < 0 { len + bound } else { bound }).clamp(0, len);
            let from = clamp(start.unwrap_or(0)) as usize;
            let to = clamp(end.unwrap_or(len)) as usize;
            if from >= to {
                Vec::new()
            } else {
                items[from..to].iter().collect()
            }
        }
        Step::Filter(filter) => value
            .as_array()
            .map(|items| items.iter().filter(|item| filter.matches(item)).collect())
            .unwrap_or_default(),
    }
}

fn children(value: &Value) -> Vec<&Value> {
    match value {
        Value::Object(map) => map.values().collect(),
        Value::Array(items) => items.iter().collect(),
        _ => Vec::new(),
    }
}

fn descendants<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(value);
    for child in children(value) {
        descendants(child, out);
    }
}

impl Filter {
    fn matches(&self, item: &Value) -> bool {
        let lefts = select(&self.left, item);
        let Some((op, literal)) = &self.compare else {
            return !lefts.is_empty();
        };
        // Like client-go, a filter compares the first value its left side selects.
        let Some(left) = lefts.first() else {
            return false;
        };
        let ordering = match (left, literal) {
            (Value::String(l), Literal::Str(r)) => Some(l.as_str().cmp(r.as_str())),
            (Value::Number(l), Literal::Num(r)) => l.as_f64().and_then(|l| l.partial_cmp(r)),
            (Value::Bool(l), Literal::Bool(r)) => Some(l.cmp(r)),
            _ => None,
        };
        match (op, ordering) {
            (Op::Ne, None) => true,
            (_, None) => false,
            (Op::Eq, Some(o)) => o == Ordering::Equal,
            (Op::Ne, Some(o)) => o != Ordering::Equal,
            (Op::Lt, Some(o)) => o == Ordering::Less,
            (Op::Le, Some(o)) => o != Ordering::Greater,
            (Op::Gt, Some(o)) => o == Ordering::Greater,
            (Op::Ge, Some(o)) => o != Ordering::Less,
        }
    }
}

/// Renders one selected value the way `kubectl`'s JSONPath printer does: strings bare,
/// numbers and booleans as text, objects and arrays as compact JSON with sorted keys;
/// `null` renders as nothing.
pub fn to_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(_) | Value::Array(_) => Some(sorted(value).to_string()),
    }
}

/// Go's JSON encoder writes map keys in sorted order; this crate's serde_json keeps insertion
/// order, so objects are rebuilt through a `BTreeMap` first.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let ordered: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

struct Parser<'s> {
    src: Vec<char>,
    pos: usize,
    expression: &'s str,
}

impl Parser<'_> {
    fn error(&self, reason: &str) -> Error {
        Error {
            expression: self.expression.to_string(),
            position: self.pos,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let matched = self.peek() == Some(c);
        if matched {
            self.pos += 1;
        }
        matched
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Steps until the end, a `}`, or (inside a filter) the end of the relative path.
    fn steps(&mut self, in_filter: bool) -> Result<Vec<Step>, Error> {
        let mut steps = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' => {
                    self.pos += 1;
                    if self.eat('.') {
                        steps.push(Step::Descend(self.identifier()?));
                    } else if self.eat('*') {
                        steps.push(Step::Wildcard);
                    } else if self
                        .peek()
                        .is_some_and(|c| is_identifier_char(c, in_filter))
                    {
                        steps.push(Step::Field(self.identifier()?));
                    }
                    // A bare trailing `.` (the root, as in `{.}`) selects the current value.
                }
                '[' => steps.push(self.bracket()?),
                _ => break,
            }
        }
        Ok(steps)
    }

    fn identifier(&mut self) -> Result<String, Error> {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' && self.src.get(self.pos + 1).is_some() {
                name.push(self.src[self.pos + 1]);
                self.pos += 2;
            } else if is_identifier_char(c, true) {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        if name.is_empty() {
            Err(self.error("expected a field name"))
        } else {
            Ok(name)
        }
    }

    fn bracket(&mut self) -> Result<Step, Error> {
        self.pos += 1; // '['
        self.skip_spaces();
        let step = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Step::Wildcard
            }
            Some('\'' | '"') => Step::Field(self.quoted()?),
            Some('?') => {
                self.pos += 1;
                Step::Filter(self.filter()?)
            }
            _ => self.index_or_slice()?,
        };
        self.skip_spaces();
        if !self.eat(']') {
            return Err(self.error("expected ']'"));
        }
        Ok(step)
    }

    fn quoted(&mut self) -> Result<String, Error> {
        let quote = self.peek().unwrap_or('"');
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated quoted string")),
                Some('\\') if self.src.get(self.pos + 1).is_some() => {
                    text.push(self.src[self.pos + 1]);
                    self.pos += 2;
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn integer(&mut self) -> Result<Option<i64>, Error> {
        self.skip_spaces();
        let start = self.pos;
        self.eat('-');
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Ok(None);
        }
        let text: String = self.src[start..self.pos].iter().collect();
        text.parse()
            .map(Some)
            .map_err(|_| self.error("expected an array index"))
    }

    fn index_or_slice(&mut self) -> Result<Step, Error> {
        let start = self.integer()?;
        self.skip_spaces();
        if self.eat(':') {
            let end = self.integer()?;
            return Ok(Step::Slice(start, end));
        }
        start
            .map(Step::Index)
            .ok_or_else(|| self.error("expected an index, '*', a quoted key or a filter"))
    }

    fn filter(&mut self) -> Result<Filter, Error> {
        if !self.eat('(') {
            return Err(self.error("expected '(' after '?'"));
        }
        self.skip_spaces();
        if !self.eat('@') {
            return Err(self.error("a filter must start with '@'"));
        }
        let left = self.steps(true)?;
        self.skip_spaces();
        let compare = if self.eat(')') {
            None
        } else {
            let op = self.operator()?;
            self.skip_spaces();
            let literal = self.literal()?;
            self.skip_spaces();
            if !self.eat(')') {
                return Err(self.error("expected ')' to close the filter"));
            }
            Some((op, literal))
        };
        Ok(Filter { left, compare })
    }

    fn operator(&mut self) -> Result<Op, Error> {
        let two: String = self.src.iter().skip(self.pos).take(2).collect();
        let (op, width) = match two.as_str() {
            "==" => (Op::Eq, 2),
            "!=" => (Op::Ne, 2),
            "<=" => (Op::Le, 2),
            ">=" => (Op::Ge, 2),
            _ if two.starts_with('<') => (Op::Lt, 1),
            _ if two.starts_with('>') => (Op::Gt, 1),
            _ => return Err(self.error("expected a comparison (==, !=, <, <=, >, >=) or ')'")),
        };
        self.pos += width;
        Ok(op)
    }

    fn literal(&mut self) -> Result<Literal, Error> {
        if matches!(self.peek(), Some('\'' | '"')) {
            return self.quoted().map(Literal::Str);
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
        {
            self.pos += 1;
        }
        let word: String = self.src[start..self.pos].iter().collect();
        match word.as_str() {
            "true" => Ok(Literal::Bool(true)),
            "false" => Ok(Literal::Bool(false)),
            _ => word.parse().map(Literal::Num).map_err(|_| {
                self.pos = start;
                self.error("expected a quoted string, a number, true or false")
            }),
        }
    }
}

/// Characters a dotted field name may hold; inside a filter the name also ends at an operator.
fn is_identifier_char(c: char, in_filter: bool) -> bool {
    let stop = matches!(
        c,
        '.' | '[' | ']' | '{' | '}' | '(' | ')' | '\\' | '\'' | '"' | '*'
    ) || c.is_whitespace()
        || (in_filter && matches!(c, '=' | '!' | '<' | '>'));
    !stop
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"replicas": 3, "ratio": 0.5, "paused": false, "tags": ["a", "b", "c"]},
            "status": {"conditions": [
                {"type": "Progressing", "status": "True", "observed": 1},
                {"type": "Ready", "status": "False", "reason": "Waiting", "observed": 4},
            ]},
        })
    }

    #[test]
    fn selects_what_crd_columns_use() {
        let doc = doc();
        let cases: &[(&str, &[Value])] = &[
            (".spec.replicas", &[json!(3)]),
            ("{.spec.replicas}", &[json!(3)]),
            ("$.spec.paused", &[json!(false)]),
            (".spec.tags[1]", &[json!("b")]),
            (".spec.tags[-1]", &[json!("c")]),
            (".spec.tags[0:2]", &[json!("a"), json!("b")]),
            (".spec.tags[*]", &[json!("a"), json!("b"), json!("c")]),
            (".spec.tags[7]", &[]),
            (".spec.missing.deeper", &[]),
            (
                r#".status.conditions[?(@.type=="Ready")].status"#,
                &[json!("False")],
            ),
            (
                ".status.conditions[?(@.type=='Ready')].reason",
                &[json!("Waiting")],
            ),
            (
                r#".status.conditions[?(@.type != "Ready")].type"#,
                &[json!("Progressing")],
            ),
            (
                ".status.conditions[?(@.observed > 2)].type",
                &[json!("Ready")],
            ),
            (".status.conditions[?(@.reason)].type", &[json!("Ready")]),
            (
                ".metadata.labels['app.kubernetes.io/name']",
                &[json!("web")],
            ),
            (
                r".metadata.labels.app\.kubernetes\.io/name",
                &[json!("web")],
            ),
            ("..observed", &[json!(1), json!(4)]),
        ];
        for (expression, want) in cases {
            let path = JsonPath::parse(expression).unwrap_or_else(|e| panic!("{e}"));
            let got: Vec<Value> = path.find(&doc).into_iter().cloned().collect();
            assert_eq!(&got, want, "{expression}");
        }
    }

    #[test]
    fn rejects_malformed_expressions_with_the_position() {
        for bad in [
            ".spec[",
            ".spec[?(@.a==)]",
            "{.spec",
            ".spec[abc]",
            ".a[?(x)]",
            ".spec]",
        ] {
            let err = JsonPath::parse(bad).expect_err(bad);
            assert_eq!(err.expression, bad);
            assert!(err.to_string().starts_with("invalid JSONPath"), "{err}");
        }
    }

    #[test]
    fn renders_values_like_the_kubectl_printer() {
        assert_eq!(to_text(&json!("Running")).as_deref(), Some("Running"));
        assert_eq!(to_text(&json!(3)).as_deref(), Some("3"));
        assert_eq!(to_text(&json!(1.5)).as_deref(), Some("1.5"));
        assert_eq!(to_text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(
            to_text(&json!({"b": 1, "a": [2]})).as_deref(),
            Some(r#"{"a":[2],"b":1}"#)
        );
        assert_eq!(to_text(&Value::Null), None);
    }
}
