//! The typed query plan every BTQL input form parses into.
//!
//! The plan is deliberately small and closed: every node maps onto a SQL construct the
//! compiler can emit with bound parameters (literals are never spliced into SQL text).
//!
//! Invariants the parser guarantees:
//! - A query is an *aggregate query* iff `dimensions` or `measures` is non-empty; then
//!   `select` is `Selection::Items(vec![])` and the output columns are the dimensions followed
//!   by the measures.
//! - Aggregate calls only appear in `select` items, `measures` and `sort` (never in `filter` or
//!   `dimensions`), and never nested inside another aggregate.
//! - `Expr::Star` only appears as the argument of `count(*)`.
//! - `percentile` has exactly two arguments and the second is a `Literal::Float` in `[0, 1]`.
//! - No expression is deeper than [`MAX_EXPR_DEPTH`].
//! - Negations of `IN`, `LIKE` and `IS NULL` are folded into their `negated` flag, and a minus
//!   sign in front of a number literal is folded into the literal.

mod render;

use spanloom_model::ObjectKind;

/// The longest regex pattern (in bytes) the `~` operator accepts, to keep matching bounded.
pub const MAX_REGEX_PATTERN_LEN: usize = 1024;

/// The deepest expression tree the parser accepts (see [`Expr::depth`]). It keeps recursive
/// walks of the plan cheap and compiled SQL well under SQLite's own limit of 1000.
pub const MAX_EXPR_DEPTH: usize = 256;

/// One parsed BTQL query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The object whose rows are queried.
    pub source: Source,
    /// Whether rows are spans or whole traces.
    pub shape: Shape,
    /// The projection of a non-aggregate query (`Items(vec![])` for aggregate queries).
    pub select: Selection,
    /// The row filter (`WHERE` / `filter:`), without aggregates.
    pub filter: Option<Expr>,
    /// Grouping keys of an aggregate query (`GROUP BY` / `dimensions:`).
    pub dimensions: Vec<SelectItem>,
    /// Aggregated outputs of an aggregate query (aggregate select items / `measures:`).
    pub measures: Vec<SelectItem>,
    /// Sort keys, most significant first. Single-segment fields may name an output alias.
    pub sort: Vec<SortKey>,
    /// The maximum number of rows to return.
    pub limit: Option<u64>,
    /// An opaque pagination cursor returned by a previous page.
    pub cursor: Option<String>,
}

impl Query {
    /// True when the query groups or aggregates (it has dimensions or measures).
    pub fn is_aggregate(&self) -> bool {
        !self.dimensions.is_empty() || !self.measures.is_empty()
    }
}

/// The object a query reads: `project_logs('<id>')`, `experiment('<id>')` or `dataset('<id>')`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Which kind of object.
    pub kind: ObjectKind,
    /// The object's id, exactly as written.
    pub id: String,
}

/// What one result row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// One row per span (the default).
    #[default]
    Spans,
    /// One row per trace (spans grouped by `root_span_id`).
    Traces,
}

impl Shape {
    /// Parses `spans` or `traces` (case-insensitively).
    pub fn parse(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("spans") {
            Some(Self::Spans)
        } else if name.eq_ignore_ascii_case("traces") {
            Some(Self::Traces)
        } else {
            None
        }
    }
}

/// The projection of a non-aggregate query.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// `*`: every column.
    Star,
    /// An explicit list of output columns.
    Items(Vec<SelectItem>),
}

/// One output column: an expression and an optional alias.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectItem {
    /// The computed value.
    pub expr: Expr,
    /// The explicit output name, if it differs from the implied one.
    pub alias: Option<String>,
}

impl SelectItem {
    /// Builds an item, dropping an alias equal to the name the expression implies anyway
    /// (so `id AS id` and `id` are the same item).
    pub fn new(expr: Expr, alias: Option<String>) -> Self {
        let alias = alias.filter(|a| *a != expr.implied_name());
        Self { expr, alias }
    }

    /// The output column name: the alias, else the last segment of a field
    /// (`metadata.model` → `model`), else the expression rendered as BTQL text.
    pub fn output_name(&self) -> String {
        match &self.alias {
            Some(alias) => alias.clone(),
            None => self.expr.implied_name(),
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// The value to sort by.
    pub expr: Expr,
    /// True for descending order.
    pub descending: bool,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string (also used for timestamps: the compiler decides how to compare them).
    String(String),
}

/// The unit of an `interval` literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalUnit {
    /// One second.
    Second,
    /// 60 seconds.
    Minute,
    /// 3600 seconds.
    Hour,
    /// 86 400 seconds.
    Day,
    /// 7 days.
    Week,
}

impl IntervalUnit {
    /// Parses a unit name, singular or plural, case-insensitively (`day`, `DAYS`).
    pub fn parse(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        let singular = lower.strip_suffix('s').unwrap_or(&lower);
        match singular {
            "second" => Some(Self::Second),
            "minute" => Some(Self::Minute),
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            _ => None,
        }
    }

    /// The unit's length in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 604_800,
        }
    }

    /// The singular name (`day`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
        }
    }
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// Logical `NOT`.
    Not,
    /// Arithmetic negation `-`.
    Neg,
}

/// An infix operator: arithmetic, comparison or logical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `AND`
    And,
    /// `OR`
    Or,
}

impl BinaryOp {
    /// True for `+ - * / %`.
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            Self::Add | Self::Sub | Self::Mul | Self::Div | Self::Mod
        )
    }

    /// True for `= != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Self::Eq | Self::Ne | Self::Lt | Self::Le | Self::Gt | Self::Ge
        )
    }

    /// True for `AND` and `OR`.
    pub fn is_logical(self) -> bool {
        matches!(self, Self::And | Self::Or)
    }

    /// The operator as BTQL text (`<=`, `AND`).
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::And => "AND",
            Self::Or => "OR",
        }
    }
}

/// A function that can be called with `name(args)`. Every one of them is currently an
/// aggregate; `now()` is its own node ([`Expr::Now`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `count(*)` or `count(expr)` (non-null values).
    Count,
    /// `sum(expr)`
    Sum,
    /// `avg(expr)`
    Avg,
    /// `min(expr)`
    Min,
    /// `max(expr)`
    Max,
    /// `percentile(expr, p)` with `p` in `[0, 1]`.
    Percentile,
}

impl Function {
    /// Parses a function name case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        let f = match name.to_ascii_lowercase().as_str() {
            "count" => Self::Count,
            "sum" => Self::Sum,
            "avg" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "percentile" => Self::Percentile,
            _ => return None,
        };
        Some(f)
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Sum => "sum",
            Self::Avg => "avg",
            Self::Min => "min",
            Self::Max => "max",
            Self::Percentile => "percentile",
        }
    }

    /// True for functions that aggregate many rows into one value.
    pub fn is_aggregate(self) -> bool {
        true
    }
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A field path such as `metadata.user.id` (one string per segment, case preserved).
    Field(Vec<String>),
    /// A literal value.
    Literal(Literal),
    /// A duration such as `interval 3 hours`.
    Interval {
        /// How many units (never negative).
        amount: f64,
        /// The unit.
        unit: IntervalUnit,
    },
    /// `now()`: the query's evaluation time.
    Now,
    /// A prefix operator.
    Unary {
        /// Which operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// An infix operator.
    Binary {
        /// Which operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `expr [NOT] IN (list)`.
    In {
        /// The tested value.
        expr: Box<Expr>,
        /// The candidates (never empty).
        list: Vec<Expr>,
        /// True for `NOT IN`.
        negated: bool,
    },
    /// `expr [NOT] LIKE pattern` or `ILIKE`.
    Like {
        /// The tested value.
        expr: Box<Expr>,
        /// The SQL `LIKE` pattern (`%` and `_` wildcards).
        pattern: Box<Expr>,
        /// True for `ILIKE`.
        case_insensitive: bool,
        /// True for `NOT LIKE` / `NOT ILIKE`.
        negated: bool,
    },
    /// `expr IS [NOT] NULL`.
    IsNull {
        /// The tested value.
        expr: Box<Expr>,
        /// True for `IS NOT NULL`.
        negated: bool,
    },
    /// Full-text match: `MATCH 'text'` (any text field) or `field MATCH 'text'`.
    Match {
        /// The searched field, or `None` for "any text field".
        field: Option<Vec<String>>,
        /// The searched text.
        text: String,
    },
    /// `expr ~ 'regex'` (or `~*` for case-insensitive matching).
    Regex {
        /// The tested value.
        expr: Box<Expr>,
        /// The pattern, at most [`MAX_REGEX_PATTERN_LEN`] bytes.
        pattern: String,
        /// True for `~*`.
        case_insensitive: bool,
    },
    /// A function call such as `count(*)` or `percentile(x, 0.95)`.
    Call {
        /// The function.
        name: Function,
        /// The arguments (already checked for arity).
        args: Vec<Expr>,
    },
    /// `*`, only as the argument of `count(*)`.
    Star,
}

impl Expr {
    /// A field from its path segments.
    pub fn field<S: Into<String>>(path: impl IntoIterator<Item = S>) -> Self {
        Self::Field(path.into_iter().map(Into::into).collect())
    }

    /// A string literal.
    pub fn string(value: impl Into<String>) -> Self {
        Self::Literal(Literal::String(value.into()))
    }

    /// An integer literal.
    pub fn int(value: i64) -> Self {
        Self::Literal(Literal::Int(value))
    }

    /// A binary node.
    pub fn binary(op: BinaryOp, left: Expr, right: Expr) -> Self {
        Self::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        }
    }

    /// `NOT expr`, folding the negation into `IN`, `LIKE` and `IS NULL` nodes.
    pub fn logical_not(expr: Expr) -> Self {
        match expr {
            Self::In {
                expr,
                list,
                negated,
            } => Self::In {
                expr,
                list,
                negated: !negated,
            },
            Self::Like {
                expr,
                pattern,
                case_insensitive,
                negated,
            } => Self::Like {
                expr,
                pattern,
                case_insensitive,
                negated: !negated,
            },
            Self::IsNull { expr, negated } => Self::IsNull {
                expr,
                negated: !negated,
            },
            other => Self::Unary {
                op: UnaryOp::Not,
                expr: Box::new(other),
            },
        }
    }

    /// `-expr`, folding the sign into number literals.
    pub fn arith_neg(expr: Expr) -> Self {
        match expr {
            Self::Literal(Literal::Int(i)) if i != i64::MIN => Self::int(-i),
            Self::Literal(Literal::Float(f)) => Self::Literal(Literal::Float(-f)),
            other => Self::Unary {
                op: UnaryOp::Neg,
                expr: Box::new(other),
            },
        }
    }

    /// The direct sub-expressions, left to right.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Self::Field(_)
            | Self::Literal(_)
            | Self::Interval { .. }
            | Self::Now
            | Self::Match { .. }
            | Self::Star => Vec::new(),
            Self::Unary { expr, .. } | Self::IsNull { expr, .. } | Self::Regex { expr, .. } => {
                vec![expr]
            }
            Self::Binary { left, right, .. } => vec![left, right],
            Self::In { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            Self::Like { expr, pattern, .. } => vec![expr, pattern],
            Self::Call { args, .. } => args.iter().collect(),
        }
    }

    /// The number of nodes on the longest path from this node down to a leaf (a leaf is 1).
    pub fn depth(&self) -> usize {
        1 + self
            .children()
            .into_iter()
            .map(Expr::depth)
            .max()
            .unwrap_or(0)
    }

    /// The first aggregate function called anywhere in this expression (pre-order).
    pub fn find_aggregate(&self) -> Option<Function> {
        match self {
            Self::Call { name, .. } if name.is_aggregate() => Some(*name),
            other => other.children().into_iter().find_map(Expr::find_aggregate),
        }
    }

    /// True if an aggregate function is called anywhere in this expression.
    pub fn contains_aggregate(&self) -> bool {
        self.find_aggregate().is_some()
    }

    /// The name an unaliased output column gets: the last segment of a field, else the
    /// expression rendered as BTQL text.
    pub fn implied_name(&self) -> String {
        if let Self::Field(path) = self
            && let Some(last) = path.last()
        {
            return last.clone();
        }
        self.to_string()
    }
}
