//! BTQL parsing: every input form of Braintrust's query language, parsed into one typed
//! [`Query`] plan.
//!
//! ```text
//! api (/btql) ──▶ query::parse ──▶ plan (Query) ──▶ (later) compile to SQL ──▶ store
//! ```
//!
//! Three input forms are accepted and all produce the same plan for the same query:
//!
//! - **SQL syntax**: `SELECT id, input FROM project_logs('<id>') WHERE span_id = 'x'
//!   ORDER BY created DESC LIMIT 10`, with `GROUP BY` and the aggregates `count`, `sum`,
//!   `avg`, `min`, `max`, `percentile`.
//! - **Clause syntax**: `select: * | from: project_logs('<id>') traces | filter: … | sort: …`
//!   with `dimensions:` / `measures:` for aggregation; clauses come in any order, separated by
//!   `|` or by starting the next clause on a new line.
//! - **JSON AST**: the `query` object the SDKs post to `/btql`
//!   (`{"op": "eq", "left": {"op": "ident", …}, …}`).
//!
//! [`parse_text`] handles both text forms, [`parse_json`] the JSON one. Errors carry a
//! position: line and column for text, a JSON path for JSON (see [`ParseError`]).
//!
//! This crate does no I/O and builds no SQL: string values stay [`plan::Literal`]s, which the
//! compiler binds as parameters, so quoting tricks in user input cannot reach SQL text.
//!
//! ```
//! use spanloom_query::{parse_text, plan::{Expr, Shape}};
//!
//! let query = parse_text(
//!     "SELECT * FROM project_logs('p1') traces WHERE metadata.user_id = 'u1' LIMIT 5",
//! )?;
//! assert_eq!(query.source.id, "p1");
//! assert_eq!(query.shape, Shape::Traces);
//! assert_eq!(query.limit, Some(5));
//!
//! let same = parse_text(
//!     "from: project_logs('p1') traces | filter: metadata.user_id = 'u1' | limit: 5",
//! )?;
//! assert_eq!(query, same);
//! # Ok::<(), spanloom_query::ParseError>(())
//! ```

pub mod error;
mod parse;
pub mod plan;

pub use error::{ErrorKind, Location, ParseError};
pub use plan::{Expr, Query};

/// Parses BTQL text. Text starting with `SELECT` or `WITH` (any case, not followed by `:`)
/// is SQL syntax; anything else is clause syntax. `--` starts a comment in both.
pub fn parse_text(text: &str) -> Result<Query, ParseError> {
    parse::parse_text(text)
}

/// Parses the JSON AST: either a whole `/btql` request body (`{"query": {…}, "fmt": …}`,
/// where a string `query` is parsed as text) or the `query` object itself. Error paths start
/// at `query`.
pub fn parse_json(value: &serde_json::Value) -> Result<Query, ParseError> {
    parse::parse_json(value)
}
