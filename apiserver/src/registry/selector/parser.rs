//! The label selector query-string grammar: a lexer and a recursive-descent parser.

use super::{Error, Operator, Requirement, err};
use crate::registry::validation::qualified_name;

/// Parses a query-string label selector into its requirements, in written order.
pub(super) fn parse(s: &str) -> Result<Vec<Requirement>, Error> {
    Parser {
        tokens: lex(s),
        pos: 0,
    }
    .parse()
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Identifier(String),
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    GreaterThan,
    LessThan,
    OpenParen,
    CloseParen,
    Comma,
    End,
}

impl Token {
    fn literal(&self) -> &str {
        match self {
            Token::Identifier(s) => s,
            Token::Bang => "!",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::NotEquals => "!=",
            Token::In => "in",
            Token::NotIn => "notin",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
            Token::OpenParen => "(",
            Token::CloseParen => ")",
            Token::Comma => ",",
            Token::End => "",
        }
    }
}

const SYMBOLS: &[(&str, Token)] = &[
    ("!=", Token::NotEquals),
    ("==", Token::DoubleEquals),
    ("!", Token::Bang),
    ("=", Token::Equals),
    (">", Token::GreaterThan),
    ("<", Token::LessThan),
    ("(", Token::OpenParen),
    (")", Token::CloseParen),
    (",", Token::Comma),
];

fn is_symbol(c: char) -> bool {
    "!=><(),".contains(c)
}

/// Whitespace between tokens, as Kubernetes' lexer has it (a form feed, say, is not: it is
/// part of a word, which then fails validation).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn lex(s: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(is_space);
        if rest.is_empty() {
            tokens.push(Token::End);
            return tokens;
        }
        if let Some((sym, tok)) = SYMBOLS.iter().find(|(sym, _)| rest.starts_with(sym)) {
            tokens.push(tok.clone());
            rest = &rest[sym.len()..];
            continue;
        }
        // Never empty: `rest` starts with neither a space nor a symbol, so every pass consumes.
        let end = rest
            .find(|c: char| is_space(c) || is_symbol(c))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        tokens.push(match word {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier(word.to_owned()),
        });
        rest = &rest[end..];
    }
}

/// Recursive descent over the token list. Where a value is expected, `in` and `notin` are
/// ordinary identifiers, so `peek(true)` reads them as such.
struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self, values: bool) -> Token {
        let tok = self.tokens.get(self.pos).cloned().unwrap_or(Token::End);
        match tok {
            Token::In if values => Token::Identifier("in".into()),
            Token::NotIn if values => Token::Identifier("notin".into()),
            other => other,
        }
    }

    fn next(&mut self, values: bool) -> Token {
        let tok = self.peek(values);
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        tok
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, Error> {
        let mut requirements = Vec::new();
        loop {
            match self.peek(true) {
                Token::Identifier(_) | Token::Bang => {
                    let r = self
                        .requirement()
                        .map_err(|e| Error(format!("unable to parse requirement: {e}")))?;
                    requirements.push(r);
                    match self.next(true) {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let after = self.peek(true);
                            if !matches!(after, Token::Identifier(_) | Token::Bang) {
                                return err(format!(
                                    "found '{}', expected: identifier after ','",
                                    after.literal()
                                ));
                            }
                        }
                        other => {
                            return err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                other.literal()
                            ));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                other => {
                    return err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        other.literal()
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, Error> {
        let mut negated = false;
        let mut tok = self.next(true);
        if tok == Token::Bang {
            negated = true;
            tok = self.next(true);
        }
        let Token::Identifier(key) = tok else {
            return err(format!("found '{}', expected: identifier", tok.literal()));
        };
        let key_errs = qualified_name(&key);
        if !key_errs.is_empty() {
            return err(format!(
                "key: Invalid value: {key:?}: {}",
                key_errs.join("; ")
            ));
        }
        if negated {
            return Requirement::new(&key, Operator::DoesNotExist, Vec::new());
        }
        if matches!(self.peek(true), Token::End | Token::Comma) {
            return Requirement::new(&key, Operator::Exists, Vec::new());
        }
        let operator = match self.next(false) {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            other => {
                return err(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    other.literal()
                ));
            }
        };
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, operator, values)
    }

    fn exact_value(&mut self) -> Result<Vec<String>, Error> {
        if matches!(self.peek(true), Token::End | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        match self.next(true) {
            Token::Identifier(v) => Ok(vec![v]),
            other => err(format!("found '{}', expected: identifier", other.literal())),
        }
    }

    /// `(a,b)`; empty members (`(a,)`, `()`) stand for the empty value.
    fn value_set(&mut self) -> Result<Vec<String>, Error> {
        let open = self.next(true);
        if open != Token::OpenParen {
            return err(format!("found '{}' expected: '('", open.literal()));
        }
        match self.peek(true) {
            Token::CloseParen => {
                self.next(true);
                return Ok(vec![String::new()]);
            }
            Token::Identifier(_) | Token::Comma => {}
            other => {
                return err(format!(
                    "found '{}', expected: ',', ')' or identifier",
                    other.literal()
                ));
            }
        }
        let mut values: Vec<String> = Vec::new();
        loop {
            match self.next(true) {
                Token::Identifier(v) => {
                    values.push(v);
                    match self.peek(true) {
                        Token::Comma => {}
                        Token::CloseParen => break,
                        other => {
                            return err(format!(
                                "found '{}', expected: ',' or ')'",
                                other.literal()
                            ));
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.peek(true) {
                        Token::CloseParen => {
                            values.push(String::new());
                            break;
                        }
                        Token::Comma => {
                            self.next(true);
                            values.push(String::new());
                        }
                        _ => {}
                    }
                }
                other => {
                    return err(format!(
                        "found '{}', expected: ',', or identifier",
                        other.literal()
                    ));
                }
            }
        }
        let close = self.next(true);
        if close != Token::CloseParen {
            return err(format!("found '{}', expected: ')'", close.literal()));
        }
        Ok(values)
    }
}
