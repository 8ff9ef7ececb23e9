//! The three front ends (SQL syntax, clause syntax, JSON AST) and what they share.
//!
//! ```text
//! text ─▶ lexer ─▶ cursor ─┬─ sql    ─┐
//!                          └─ clause ─┼─▶ RawQuery ─▶ assemble (validation) ─▶ Query
//! JSON ─▶ json (+ json_expr) ─────────┘
//! ```
//!
//! Expression-level rules shared by all forms (function arity, `percentile`, `count(1)`) live
//! in `call`; query-level rules (grouping, where aggregates may appear) live in `assemble`.

mod assemble;
mod call;
mod clause;
mod cursor;
mod expr;
mod items;
mod json;
mod json_expr;
pub(crate) mod lexer;
mod sql;

use crate::error::{Location, ParseError};
use crate::plan::{Expr, Query};
use cursor::Parser;
use lexer::{Punct, Tok};

pub(crate) use json::parse_request as parse_json;

/// A value with the location it came from, kept until validation is done.
#[derive(Debug, Clone)]
pub(crate) struct Located<T> {
    /// Where the value starts.
    pub loc: Location,
    /// The value.
    pub value: T,
}

/// Whether an expression may call aggregates, and if not, how to say where it is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AggCtx {
    /// Select items, measures, sort keys.
    Allowed,
    /// Anywhere else; the phrase completes "aggregate `count` is not allowed …".
    Forbidden(&'static str),
}

/// The phrase for arguments of an aggregate.
pub(crate) const IN_AGGREGATE: AggCtx = AggCtx::Forbidden("inside another aggregate");

/// Parses BTQL text, choosing SQL syntax when it starts with `SELECT` or `WITH` (and not
/// `select:`), and clause syntax otherwise.
pub(crate) fn parse_text(text: &str) -> Result<Query, ParseError> {
    let mut parser = Parser::new(text)?;
    let starts_sql = matches!(&parser.peek().tok, Tok::Ident(word)
        if word.eq_ignore_ascii_case("select") || word.eq_ignore_ascii_case("with"));
    if starts_sql && !parser.nth_is_punct(1, Punct::Colon) {
        sql::parse(&mut parser)
    } else {
        clause::parse(&mut parser)
    }
}

/// Parses one standalone BTQL expression (the `{"btql": "…"}` snippets of JSON queries).
pub(crate) fn parse_expr_text(text: &str, ctx: AggCtx) -> Result<Expr, ParseError> {
    let mut parser = Parser::new(text)?;
    let expr = parser.expr(ctx)?;
    parser.expect_eof("the end of the expression")?;
    Ok(expr)
}
