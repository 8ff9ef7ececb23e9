//! SQL syntax: `SELECT … FROM source [shape] [WHERE …] [GROUP BY …] [ORDER BY …] [LIMIT n]`.

use super::AggCtx;
use super::assemble::{RawQuery, assemble};
use super::cursor::{PResult, Parser};
use super::lexer::Punct;
use crate::error::ErrorKind;
use crate::plan::Query;

/// Keywords of SQL that BTQL does not have, with what to say about them.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("with", "WITH (common table expressions)"),
    ("having", "HAVING"),
    ("offset", "OFFSET (use a cursor)"),
    ("join", "JOIN"),
    ("union", "UNION"),
];

/// Fails if the next word is a SQL feature BTQL does not have.
fn reject_unsupported(p: &Parser<'_>) -> PResult<()> {
    for (keyword, what) in UNSUPPORTED {
        if p.at_keyword(keyword) {
            return Err(p.error_at(p.offset(), ErrorKind::Unsupported(what.to_string())));
        }
    }
    Ok(())
}

/// The optional clauses after `FROM`, in the order SQL requires.
const TAIL: [&str; 4] = ["WHERE", "GROUP BY", "ORDER BY", "LIMIT"];

/// Parses a whole SQL-syntax query.
pub(crate) fn parse(p: &mut Parser<'_>) -> PResult<Query> {
    reject_unsupported(p)?;
    let mut raw = RawQuery::new(p.here());
    p.expect_keyword("select")?;
    raw.select = Some(p.select_list()?);
    reject_unsupported(p)?;
    p.expect_keyword("from")?;
    raw.source = Some(p.source()?);
    // How many of the TAIL clauses can no longer come.
    let mut passed = 0;
    if p.eat_keyword("where") {
        raw.filter = Some(p.expr(AggCtx::Forbidden("in WHERE"))?);
        passed = 1;
    }
    if p.eat_keyword("group") {
        p.expect_keyword("by")?;
        raw.group_by = p.expr_list(AggCtx::Forbidden("in GROUP BY"))?;
        passed = 2;
    }
    reject_unsupported(p)?;
    if p.eat_keyword("order") {
        p.expect_keyword("by")?;
        raw.sort = p.sort_list()?;
        passed = 3;
    }
    if p.eat_keyword("limit") {
        raw.limit = Some(p.limit()?);
        passed = 4;
    }
    reject_unsupported(p)?;
    p.eat_punct(Punct::Semicolon);
    let mut expected: Vec<&str> = TAIL[passed..].to_vec();
    expected.push("the end of the query");
    p.expect_eof(&expected.join(", "))?;
    assemble(raw)
}
