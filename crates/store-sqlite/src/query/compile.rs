//! Compiles a BTQL plan into SQLite SQL over this backend's tables. Every value from the
//! query is a bound parameter; only column names and operators chosen here are SQL text.

use crate::fields::IndexedFields;
use crate::text_index::{Candidates, HAYSTACK_SQL, TextIndex};
use rusqlite::types::Value;
use spanloom_model::timefmt;
use spanloom_query::plan::{BinaryOp, Expr, Function, IntervalUnit, Literal, UnaryOp};
use spanloom_store::StoreError;
use std::sync::Arc;

/// Payload fields and the table alias of their joined blob.
pub(crate) const PAYLOAD_JOINS: [(&str, &str); 4] = [
    ("input", "b_input"),
    ("output", "b_output"),
    ("expected", "b_expected"),
    ("otel", "b_otel"),
];

/// ` LEFT JOIN blobs <alias> ON ...` for each payload field `keep` accepts, over `spans s`.
pub(crate) fn payload_joins(keep: impl Fn(&str) -> bool) -> String {
    PAYLOAD_JOINS
        .iter()
        .filter(|(field, _)| keep(field))
        .map(|(field, alias)| format!(" LEFT JOIN blobs {alias} ON {alias}.id = s.{field}_blob"))
        .collect()
}

/// SQL text plus the parameters it refers to by number.
#[derive(Default)]
pub(crate) struct Sql {
    /// Parameters, `?1` first.
    pub(crate) params: Vec<Value>,
    /// The fields that have an index.
    pub(crate) indexed: IndexedFields,
    /// The full-text index, when the store keeps one.
    pub(crate) text_index: Option<Arc<TextIndex>>,
    /// Index lookups already made for this query, by field and needle.
    looked_up: Vec<Lookup>,
    /// Fields name trace summary columns (`traces t`) instead of span fields: the sort keys,
    /// dimensions and measures of the traces shape.
    pub(crate) trace_fields: bool,
}

/// Trace summary fields, as trace rows name them, and their columns.
const TRACE_FIELDS: [(&str, &str); 15] = [
    ("root_span_id", "t.root_span_id"),
    ("project_id", "t.project_id"),
    ("start", "t.start"),
    ("end", "t.\"end\""),
    ("duration", "t.duration"),
    ("span_count", "t.span_count"),
    ("error_count", "t.error_count"),
    ("prompt_tokens", "t.prompt_tokens"),
    ("completion_tokens", "t.completion_tokens"),
    ("tokens", "t.tokens"),
    ("estimated_cost", "t.cost"),
    ("root_id", "t.root_id"),
    ("root_name", "t.root_name"),
    ("root_type", "t.root_type"),
    ("xact_id", "CAST(t.xact_id AS TEXT)"),
];

/// One text-index lookup of a query: the field (`None`: all), the needle, what it found.
type Lookup = (Option<Vec<String>>, String, Option<Arc<Candidates>>);

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::InvalidQuery(message.into())
}

/// What a compiled expression is, for comparisons that need a conversion.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// The `created` column (ISO-8601 text).
    Created,
    /// A unix-seconds column (`metrics.start`, `metrics.end`).
    UnixTime,
    /// A constant time (`now() - interval 1 day`), in unix seconds.
    TimeConstant(f64),
    /// A string literal.
    StringLiteral,
    /// Anything else.
    Other,
}

impl Sql {
    /// A compiler for a query over stores with these field indexes and text index.
    pub(crate) fn new(indexed: IndexedFields, text_index: Option<Arc<TextIndex>>) -> Self {
        Self {
            indexed,
            text_index,
            ..Self::default()
        }
    }

    /// Binds a value; returns its placeholder.
    pub(crate) fn bind(&mut self, value: Value) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    /// Compiles a row-level expression (filters, dimensions, sort keys).
    pub(crate) fn expr(&mut self, expr: &Expr) -> Result<String, StoreError> {
        self.typed(expr).map(|(sql, _)| sql)
    }

    fn typed(&mut self, expr: &Expr) -> Result<(String, Kind), StoreError> {
        if let Some(t) = time_constant(expr) {
            return Ok((self.bind(Value::Real(t)), Kind::TimeConstant(t)));
        }
        Ok(match expr {
            Expr::Field(path) if self.trace_fields => trace_field(path)?,
            Expr::Field(path) => self.field(path),
            Expr::Literal(lit) => {
                let kind = if matches!(lit, Literal::String(_)) {
                    Kind::StringLiteral
                } else {
                    Kind::Other
                };
                (self.bind(literal(lit)), kind)
            }
            Expr::Interval { .. } => {
                return Err(invalid(
                    "an interval must be added to or subtracted from now() (e.g. now() - interval 1 day)",
                ));
            }
            Expr::Now => unreachable_now(),
            Expr::Unary {
                op: UnaryOp::Not,
                expr,
            } => (format!("(NOT {})", self.expr(expr)?), Kind::Other),
            Expr::Unary {
                op: UnaryOp::Neg,
                expr,
            } => (format!("(-{})", self.expr(expr)?), Kind::Other),
            Expr::Binary { op, left, right } if op.is_comparison() => {
                (self.comparison(*op, left, right)?, Kind::Other)
            }
            Expr::Binary { op, left, right } => {
                let (l, r) = (self.expr(left)?, self.expr(right)?);
                let sym = match op {
                    BinaryOp::And => "AND",
                    BinaryOp::Or => "OR",
                    other => other.symbol(),
                };
                (format!("({l} {sym} {r})"), Kind::Other)
            }
            Expr::In {
                expr,
                list,
                negated,
            } => {
                let subject = self.expr(expr)?;
                let items = list
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let not = if *negated { "NOT " } else { "" };
                (
                    format!("({subject} {not}IN ({}))", items.join(", ")),
                    Kind::Other,
                )
            }
            Expr::Like {
                expr,
                pattern,
                case_insensitive,
                negated,
            } => {
                let (subject, pattern) = (self.expr(expr)?, self.expr(pattern)?);
                let not = if *negated { "NOT " } else { "" };
                let sql = if *case_insensitive {
                    format!("(lower({subject}) {not}LIKE lower({pattern}))")
                } else {
                    format!("({subject} {not}LIKE {pattern})")
                };
                (sql, Kind::Other)
            }
            Expr::IsNull { expr, negated } => {
                let not = if *negated { "NOT " } else { "" };
                (format!("({} IS {not}NULL)", self.expr(expr)?), Kind::Other)
            }
            Expr::Match { field, text } => (self.full_text(field.as_deref(), text), Kind::Other),
            Expr::Regex {
                expr,
                pattern,
                case_insensitive,
            } => {
                let subject = self.expr(expr)?;
                let pattern = if *case_insensitive {
                    format!("(?i){pattern}")
                } else {
                    pattern.clone()
                };
                (
                    format!("({subject} REGEXP {})", self.bind(Value::Text(pattern))),
                    Kind::Other,
                )
            }
            Expr::Call { name, args } => (self.aggregate(*name, args)?, Kind::Other),
            Expr::Star => return Err(invalid("`*` is only allowed in count(*)")),
        })
    }

    /// A field path: indexed columns where the store keeps them, else a JSON path read.
    fn field(&mut self, path: &[String]) -> (String, Kind) {
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let column = match segments.as_slice() {
            ["id"] => "s.row_id",
            ["span_id"] => "s.span_id",
            ["root_span_id"] => "s.root_span_id",
            ["_xact_id"] => "CAST(s.xact_id AS TEXT)",
            ["created"] => return ("s.created".into(), Kind::Created),
            ["metrics", "start"] => return ("s.start".into(), Kind::UnixTime),
            ["metrics", "end"] => return ("s.\"end\"".into(), Kind::UnixTime),
            ["metrics", "prompt_tokens"] => "s.prompt_tokens",
            ["metrics", "completion_tokens"] => "s.completion_tokens",
            ["metrics", "tokens"] => "s.tokens",
            ["metrics", "estimated_cost"] => "s.cost",
            ["span_attributes", "name"] => "s.name",
            ["span_attributes", "type"] => "s.span_type",
            [first, rest @ ..] => {
                let source = match PAYLOAD_JOINS.iter().find(|(f, _)| f == first) {
                    Some((_, alias)) => format!("sl_json({alias}.data)"),
                    None => return (self.core_path(&segments), Kind::Other),
                };
                return (self.json_path(&source, rest), Kind::Other);
            }
            [] => "NULL",
        };
        (column.to_owned(), Kind::Other)
    }

    /// A path into the row's core JSON. Paths with an expression index are written exactly as
    /// the index is (a literal from the store's own configuration, never query text), so
    /// SQLite uses the index; any other path is a bound parameter.
    fn core_path(&mut self, segments: &[&str]) -> String {
        let path = json_path_text(segments);
        if let Some(expression) = self.indexed.expression("s.", &path) {
            return expression;
        }
        format!("(s.data ->> {})", self.bind(Value::Text(path)))
    }

    /// `source ->> '$.a.b'` with the path bound as a parameter.
    fn json_path(&mut self, source: &str, segments: &[&str]) -> String {
        let path = json_path_text(segments);
        format!("({source} ->> {})", self.bind(Value::Text(path)))
    }

    /// Comparisons, converting time values so `created` and `metrics.start` compare with
    /// `now() - interval ...` and ISO-8601 strings alike.
    fn comparison(
        &mut self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
    ) -> Result<String, StoreError> {
        let (mut l, lk) = self.typed(left)?;
        let (mut r, rk) = self.typed(right)?;
        self.convert_time(&mut r, lk, rk, right);
        self.convert_time(&mut l, rk, lk, left);
        let sym = if op == BinaryOp::Ne {
            "!="
        } else {
            op.symbol()
        };
        Ok(format!("({l} {sym} {r})"))
    }

    fn convert_time(&mut self, sql: &mut String, other: Kind, this: Kind, expr: &Expr) {
        match (other, this) {
            (Kind::Created, Kind::TimeConstant(t)) => {
                *sql = self.bind(Value::Text(timefmt::iso_from_unix(t)))
            }
            (Kind::UnixTime, Kind::StringLiteral) => {
                if let Expr::Literal(Literal::String(text)) = expr
                    && let Some(t) = timefmt::parse_iso(text)
                {
                    *sql = self.bind(Value::Real(t));
                }
            }
            _ => {}
        }
    }

    /// The rows the full-text index says may match `text` in `field` (all fields when
    /// `None`); `None` when the index cannot narrow the search.
    pub(crate) fn text_candidates(
        &mut self,
        field: Option<&[String]>,
        text: &str,
    ) -> Option<Arc<Candidates>> {
        let needle = text.to_lowercase();
        let key = field.map(<[String]>::to_vec);
        if let Some((_, _, found)) = self
            .looked_up
            .iter()
            .find(|(f, n, _)| *f == key && *n == needle)
        {
            return found.clone();
        }
        // The index holds the text MATCH without a field checks: payload fields are parts of
        // it verbatim; metadata and error values are read unescaped, so their word
        // boundaries may differ from the indexed JSON text; other fields are not indexed.
        let exact_text = match field {
            None => Some(true),
            Some([name]) if PAYLOAD_JOINS.iter().any(|(f, _)| f == name && *f != "otel") => {
                Some(true)
            }
            Some([first, ..]) if first == "metadata" || first == "error" => Some(false),
            Some(_) => None,
        };
        let found = match (&self.text_index, exact_text) {
            (Some(index), Some(exact)) => index.candidates(&needle, exact).map(Arc::new),
            _ => None,
        };
        self.looked_up.push((key, needle, found.clone()));
        found
    }

    /// `json_each` over the candidates and the watermark, bound as parameters.
    pub(crate) fn bind_candidates(&mut self, candidates: &Candidates) -> (String, String) {
        let list = serde_json::to_string(&candidates.seqs).unwrap_or_else(|_| "[]".into());
        (
            self.bind(Value::Text(list)),
            self.bind(Value::Integer(candidates.watermark)),
        )
    }

    /// Substring search, case-insensitive for ASCII, any language (CJK included). With a text
    /// index, rows it rules out are skipped before their payloads are read.
    fn full_text(&mut self, field: Option<&[String]>, text: &str) -> String {
        let candidates = self.text_candidates(field, text);
        let needle = self.bind(Value::Text(text.to_lowercase()));
        let haystack = match field {
            Some(path) => {
                let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                let value = match segments.split_first() {
                    Some((first, [])) if PAYLOAD_JOINS.iter().any(|(f, _)| f == first) => {
                        let alias = PAYLOAD_JOINS
                            .iter()
                            .find(|(f, _)| f == first)
                            .map_or("b_input", |(_, a)| *a);
                        format!("sl_json({alias}.data)")
                    }
                    _ => self.field(path).0,
                };
                format!("lower({value})")
            }
            None => HAYSTACK_SQL.to_owned(),
        };
        let check = format!("(instr({haystack}, {needle}) > 0)");
        match candidates {
            Some(c) => {
                let (list, watermark) = self.bind_candidates(&c);
                format!(
                    "((s.seq IN (SELECT value FROM json_each({list})) OR s.xact_id > {watermark}) AND {check})"
                )
            }
            None => check,
        }
    }

    fn aggregate(&mut self, name: Function, args: &[Expr]) -> Result<String, StoreError> {
        let arg = |this: &mut Self, i: usize| -> Result<String, StoreError> {
            match args.get(i) {
                Some(Expr::Star) | None => Ok("*".into()),
                Some(e) => this.expr(e),
            }
        };
        Ok(match name {
            Function::Count => format!("count({})", arg(self, 0)?),
            Function::Sum => format!("total({})", arg(self, 0)?),
            Function::Avg => format!("avg({})", arg(self, 0)?),
            Function::Min => format!("min({})", arg(self, 0)?),
            Function::Max => format!("max({})", arg(self, 0)?),
            Function::Percentile => format!("sl_percentile({}, {})", arg(self, 0)?, arg(self, 1)?),
        })
    }
}

/// A trace summary field's column; the error lists the fields there are.
fn trace_field(path: &[String]) -> Result<(String, Kind), StoreError> {
    let name = path.join(".");
    let column = TRACE_FIELDS
        .iter()
        .find(|(field, _)| *field == name)
        .map(|(_, column)| *column)
        .ok_or_else(|| {
            let known: Vec<&str> = TRACE_FIELDS.iter().map(|(f, _)| *f).collect();
            invalid(format!(
                "unknown trace field `{name}`: sorts and aggregations of the traces shape use {}",
                known.join(", ")
            ))
        })?;
    let kind = if matches!(name.as_str(), "start" | "end") {
        Kind::UnixTime
    } else {
        Kind::Other
    };
    Ok((column.to_owned(), kind))
}

/// The JSON path text of field segments: `$."metadata"."user_id"`, `$."input"[0]`.
pub(crate) fn json_path_text(segments: &[&str]) -> String {
    let mut path = String::from("$");
    for segment in segments {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push_str(&format!(".\"{}\"", segment.replace('"', "\\\"")));
        }
    }
    path
}

/// True when a filter has a top-level equality on an indexed path, so matching spans are
/// best found through that index rather than by walking traces.
pub(crate) fn uses_index(expr: &Expr, indexed: &IndexedFields) -> bool {
    match expr {
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => uses_index(left, indexed) || uses_index(right, indexed),
        Expr::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } => [left, right].iter().any(|e| indexed_field(e, indexed)),
        Expr::In {
            expr,
            negated: false,
            ..
        } => indexed_field(expr, indexed),
        _ => false,
    }
}

fn indexed_field(expr: &Expr, indexed: &IndexedFields) -> bool {
    match expr {
        Expr::Field(path) => {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            matches!(segments.as_slice(), ["id"] | ["span_id"] | ["root_span_id"])
                || (!PAYLOAD_JOINS
                    .iter()
                    .any(|(f, _)| Some(f) == segments.first())
                    && indexed.contains(&json_path_text(&segments)))
        }
        _ => false,
    }
}

/// `now()`, `now() ± interval`, `interval + now()`: folded to unix seconds at compile time.
pub(crate) fn time_constant(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Now => Some(timefmt::now_unix()),
        Expr::Binary {
            op: BinaryOp::Sub,
            left,
            right,
        } => Some(time_constant(left)? - interval(right)?),
        Expr::Binary {
            op: BinaryOp::Add,
            left,
            right,
        } => match (time_constant(left), time_constant(right)) {
            (Some(t), None) => Some(t + interval(right)?),
            (None, Some(t)) => Some(interval(left)? + t),
            _ => None,
        },
        _ => None,
    }
}

fn interval(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Interval { amount, unit } => Some(amount * unit_seconds(*unit)),
        _ => None,
    }
}

fn unit_seconds(unit: IntervalUnit) -> f64 {
    unit.seconds() as f64
}

fn unreachable_now() -> (String, Kind) {
    // `time_constant` handles `now()` before this match.
    ("NULL".into(), Kind::Other)
}

/// A literal as an SQL value.
pub(crate) fn literal(lit: &Literal) -> Value {
    match lit {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Integer(i64::from(*b)),
        Literal::Int(i) => Value::Integer(*i),
        Literal::Float(f) => Value::Real(*f),
        Literal::String(s) => Value::Text(s.clone()),
    }
}

/// True when the expression bounds time (`created` or `metrics.start` compared to something).
pub(crate) fn bounds_time(expr: &Expr) -> bool {
    match expr {
        Expr::Binary { op, left, right } if op.is_comparison() => [left, right]
            .iter()
            .any(|e| matches!(e.as_ref(), Expr::Field(p) if is_time_field(p))),
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => bounds_time(left) || bounds_time(right),
        Expr::Binary {
            op: BinaryOp::Or,
            left,
            right,
        } => bounds_time(left) && bounds_time(right),
        _ => false,
    }
}

fn is_time_field(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    matches!(
        p.as_slice(),
        ["created"] | ["metrics", "start"] | ["metrics", "end"]
    )
}

/// True when the expression uses a regex anywhere.
pub(crate) fn has_regex(expr: &Expr) -> bool {
    match expr {
        Expr::Regex { .. } => true,
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => has_regex(expr),
        Expr::Binary { left, right, .. } => has_regex(left) || has_regex(right),
        Expr::In { expr, list, .. } => has_regex(expr) || list.iter().any(has_regex),
        Expr::Like { expr, pattern, .. } => has_regex(expr) || has_regex(pattern),
        _ => false,
    }
}
