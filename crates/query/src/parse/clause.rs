//! Clause syntax: `name: body` clauses in any order, separated by `|` or by starting the
//! next clause on a new line.
//!
//! ```text
//! select: * | from: project_logs('<id>') spans | filter: error IS NOT NULL
//! sort: created desc | limit: 50
//! ```

use super::AggCtx;
use super::assemble::{RawQuery, assemble};
use super::cursor::{PResult, Parser};
use super::lexer::{Punct, Tok};
use crate::error::ErrorKind;
use crate::plan::Query;

/// Every clause name, in the order error messages list them.
const CLAUSES: [&str; 8] = [
    "select",
    "from",
    "filter",
    "dimensions",
    "measures",
    "sort",
    "limit",
    "cursor",
];

/// Parses a whole clause-syntax query.
pub(crate) fn parse(p: &mut Parser<'_>) -> PResult<Query> {
    let mut raw = RawQuery::new(p.here());
    let mut seen: Vec<&str> = Vec::new();
    loop {
        let name_start = p.offset();
        let Tok::Ident(word) = p.peek().tok.clone() else {
            return Err(p.unexpected("a clause such as `select:` or `from:`"));
        };
        let lower = word.to_ascii_lowercase();
        let Some(&name) = CLAUSES.iter().find(|c| **c == lower) else {
            return Err(p.error_at(name_start, ErrorKind::UnknownClause(word)));
        };
        p.advance();
        p.expect_punct(Punct::Colon, &format!("`:` after `{name}`"))?;
        if seen.contains(&name) {
            return Err(p.error_at(name_start, ErrorKind::DuplicateClause(name.to_string())));
        }
        seen.push(name);
        match name {
            "select" => raw.select = Some(p.select_list()?),
            "from" => raw.source = Some(p.source()?),
            "filter" => raw.filter = Some(p.expr(AggCtx::Forbidden("in filter"))?),
            "dimensions" => raw.dimensions = p.item_list(AggCtx::Forbidden("in dimensions"))?,
            "measures" => raw.measures = p.item_list(AggCtx::Allowed)?,
            "sort" => raw.sort = p.sort_list()?,
            "limit" => raw.limit = Some(p.limit()?),
            _ => raw.cursor = Some(p.cursor_value()?),
        }
        if p.eat_punct(Punct::Pipe) {
            continue;
        }
        let next = p.peek();
        if next.tok == Tok::Eof {
            break;
        }
        if next.newline_before
            && matches!(next.tok, Tok::Ident(_))
            && p.nth_is_punct(1, Punct::Colon)
        {
            continue;
        }
        return Err(p.unexpected("`|`, a new clause on a new line, or the end of the query"));
    }
    raw.missing_source_at = p.here();
    assemble(raw)
}
