//! Parse errors: what went wrong ([`ErrorKind`]) and where ([`Location`]).

use std::fmt;

/// Where an error was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// A position in BTQL text. Both numbers are 1-based; columns count characters.
    Text {
        /// The line.
        line: usize,
        /// The column.
        column: usize,
    },
    /// A path into a JSON query, such as `query.filter.children[1].op`.
    Json {
        /// The rendered path.
        path: String,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text { line, column } => write!(f, "line {line}, col {column}"),
            Self::Json { path } => f.write_str(path),
        }
    }
}

/// A query that could not be parsed, rendered as `<location>: <what>`, e.g.
/// ``line 1, col 8: expected an expression, found `FROM` `` or
/// `query.filter.children[1].op: unknown op "eqq"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {kind}")]
#[non_exhaustive]
pub struct ParseError {
    /// Where the problem is.
    pub location: Location,
    /// What the problem is.
    pub kind: ErrorKind,
}

impl ParseError {
    /// Builds an error.
    pub fn new(location: Location, kind: ErrorKind) -> Self {
        Self { location, kind }
    }
}

/// What went wrong. `found` strings are ready to print (`` `FROM` ``, `end of input`,
/// `a string`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A character that starts no token.
    #[error("unexpected character `{0}`")]
    UnexpectedChar(char),
    /// A `'` string without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// A `"` or `` ` `` quoted identifier without its closing quote.
    #[error("unterminated quoted identifier")]
    UnterminatedIdent,
    /// A number that does not parse or is not finite.
    #[error("invalid number `{0}`")]
    InvalidNumber(String),
    /// The generic syntax error.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What would have been valid here.
        expected: String,
        /// What was there instead.
        found: String,
    },
    /// A clause name that clause syntax does not know.
    #[error(
        "unknown clause `{0}`; expected one of select, from, filter, dimensions, measures, sort, limit, cursor"
    )]
    UnknownClause(String),
    /// The same clause twice.
    #[error("duplicate clause `{0}`")]
    DuplicateClause(String),
    /// Valid BTQL (or SQL) that this server does not implement.
    #[error("{0} is not supported")]
    Unsupported(String),
    /// No `FROM` / `from:` source.
    #[error("missing source; add `from: project_logs('<id>')` (or `FROM ...` in SQL syntax)")]
    MissingSource,
    /// A source function other than `project_logs`, `experiment`, `dataset`.
    #[error("unknown source `{0}`; expected project_logs, experiment or dataset")]
    UnknownSource(String),
    /// The source's argument is not one string literal.
    #[error("the source id must be a string literal, found {0}")]
    SourceIdNotString(String),
    /// A shape other than `spans` or `traces`.
    #[error("unknown shape `{0}`; expected spans or traces")]
    UnknownShape(String),
    /// A limit that is not a non-negative integer.
    #[error("limit must be a non-negative integer, found {0}")]
    InvalidLimit(String),
    /// A cursor that is not a string.
    #[error("cursor must be a string, found {0}")]
    InvalidCursor(String),
    /// A call to a function that does not exist.
    #[error("unknown function `{0}`; expected one of count, sum, avg, min, max, percentile, now")]
    UnknownFunction(String),
    /// A call with the wrong number of arguments.
    #[error("`{function}` takes {expected}, found {found}")]
    Arity {
        /// The function.
        function: String,
        /// The accepted count, in words.
        expected: String,
        /// How many were given.
        found: usize,
    },
    /// An aggregate where rows are not grouped yet (filter, dimensions, inside an aggregate).
    #[error("aggregate `{function}` is not allowed {place}")]
    AggregateNotAllowed {
        /// The aggregate function.
        function: String,
        /// Where it was, e.g. `in filter`.
        place: String,
    },
    /// A plain select item next to aggregates, with no `GROUP BY`.
    #[error(
        "select item `{0}` is not an aggregate; with aggregates and no GROUP BY every item must be an aggregate"
    )]
    MixedAggregate(String),
    /// A plain value in an aggregate query that is not one of the grouping keys.
    #[error("`{0}` must appear in GROUP BY (dimensions) or be used inside an aggregate")]
    NotGrouped(String),
    /// A measure without any aggregate call.
    #[error("measure `{0}` must contain an aggregate such as count(*)")]
    MeasureNotAggregate(String),
    /// Two output columns with the same name.
    #[error("two output columns are named `{0}`; rename one with AS")]
    DuplicateColumn(String),
    /// `select` together with `dimensions` or `measures`.
    #[error("`select` cannot be combined with `dimensions`/`measures`")]
    SelectWithGrouping,
    /// `SELECT *` with `GROUP BY`.
    #[error("SELECT * cannot be combined with GROUP BY")]
    StarWithGroupBy,
    /// `*` in a select list next to other items.
    #[error("`*` cannot be combined with other select items")]
    StarWithItems,
    /// `*` anywhere but the whole select list or `count(*)`.
    #[error("`*` is only allowed as the whole select list or in count(*)")]
    StarNotAllowed,
    /// `GROUP BY n` with `n` outside the select list.
    #[error("GROUP BY position {0} is not in the select list")]
    GroupByPosition(i64),
    /// `GROUP BY` naming an aggregate select item.
    #[error("cannot group by aggregate `{0}`")]
    GroupByAggregate(String),
    /// An interval unit other than second, minute, hour, day, week.
    #[error("unknown interval unit `{0}`; expected second, minute, hour, day or week")]
    UnknownIntervalUnit(String),
    /// `percentile`'s second argument is not a number in `[0, 1]`.
    #[error("percentile's second argument must be a number in [0, 1], found {0}")]
    InvalidPercentile(String),
    /// `MATCH`, `~` or a source id needing a string literal.
    #[error("{what} must be a string literal, found {found}")]
    NotAString {
        /// What needed the string (`the MATCH text`).
        what: String,
        /// What was there.
        found: String,
    },
    /// `x MATCH '…'` where `x` is not a field.
    #[error("the left side of MATCH must be a field, found `{0}`")]
    MatchNeedsField(String),
    /// A regex longer than [`crate::plan::MAX_REGEX_PATTERN_LEN`].
    #[error("regex pattern is {len} bytes; the limit is {max}")]
    RegexTooLong {
        /// The pattern's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `a = b = c` and friends.
    #[error("comparisons cannot be chained; add parentheses")]
    ChainedComparison,
    /// `IN ()`.
    #[error("IN needs at least one value")]
    EmptyInList,
    /// An expression nested deeper than the parser allows.
    #[error("expression is nested too deeply (the limit is {limit} levels)")]
    TooDeep {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A JSON node whose `op` is not a BTQL operator.
    #[error("unknown op \"{0}\"")]
    UnknownOp(String),
    /// A JSON node whose `op` is a BTQL operator this server does not implement.
    #[error("unsupported op \"{0}\"")]
    UnsupportedOp(String),
    /// A JSON object without a required key.
    #[error("missing key \"{0}\"")]
    MissingKey(String),
    /// A sort direction other than `asc` / `desc`.
    #[error("unknown sort direction \"{0}\"; expected \"asc\" or \"desc\"")]
    InvalidSortDirection(String),
    /// An error inside a `{"btql": "…"}` snippet of a JSON query.
    #[error("line {line}, col {column} of the btql snippet: {inner}")]
    InSnippet {
        /// Line within the snippet.
        line: usize,
        /// Column within the snippet.
        column: usize,
        /// The error.
        inner: Box<ErrorKind>,
    },
}

impl ErrorKind {
    /// Shorthand for [`ErrorKind::Expected`].
    pub fn expected(expected: impl Into<String>, found: impl Into<String>) -> Self {
        Self::Expected {
            expected: expected.into(),
            found: found.into(),
        }
    }
}
