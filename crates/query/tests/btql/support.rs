//! Helpers: parse-or-panic (with a render/re-parse round trip) and expression builders.

use serde_json::Value;
use spanloom_query::plan::{BinaryOp, Expr, Literal, SelectItem};
use spanloom_query::{Query, parse_json, parse_text};

/// Parses text that must be valid, and checks the plan survives rendering and re-parsing.
pub fn text(query: &str) -> Query {
    let parsed = parse_text(query).unwrap_or_else(|e| panic!("{query}\n  failed: {e}"));
    round_trip(&parsed);
    parsed
}

/// Parses a JSON query that must be valid (with the same round trip).
pub fn json(value: Value) -> Query {
    let parsed = parse_json(&value).unwrap_or_else(|e| panic!("{value}\n  failed: {e}"));
    round_trip(&parsed);
    parsed
}

fn round_trip(query: &Query) {
    let rendered = query.to_string();
    let reparsed =
        parse_text(&rendered).unwrap_or_else(|e| panic!("rendered `{rendered}` fails: {e}"));
    assert_eq!(&reparsed, query, "round trip through `{rendered}`");
}

/// The error message of text that must not parse.
pub fn text_err(query: &str) -> String {
    match parse_text(query) {
        Ok(parsed) => panic!("{query}\n  unexpectedly parsed: {parsed:?}"),
        Err(e) => e.to_string(),
    }
}

/// The error message of JSON that must not parse.
pub fn json_err(value: Value) -> String {
    match parse_json(&value) {
        Ok(parsed) => panic!("{value}\n  unexpectedly parsed: {parsed:?}"),
        Err(e) => e.to_string(),
    }
}

/// The filter of `from: project_logs('p') | filter: <filter>`.
pub fn filter(filter: &str) -> Expr {
    text(&format!("from: project_logs('p') | filter: {filter}"))
        .filter
        .expect("has a filter")
}

/// A field from a dotted path.
pub fn f(path: &str) -> Expr {
    Expr::field(path.split('.'))
}

/// A string literal.
pub fn s(value: &str) -> Expr {
    Expr::string(value)
}

/// An integer literal.
pub fn i(value: i64) -> Expr {
    Expr::int(value)
}

/// A float literal.
pub fn fl(value: f64) -> Expr {
    Expr::Literal(Literal::Float(value))
}

/// A binary node.
pub fn bin(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::binary(op, left, right)
}

/// An unaliased item.
pub fn item(expr: Expr) -> SelectItem {
    SelectItem::new(expr, None)
}

/// An aliased item.
pub fn aliased(expr: Expr, alias: &str) -> SelectItem {
    SelectItem::new(expr, Some(alias.to_string()))
}
