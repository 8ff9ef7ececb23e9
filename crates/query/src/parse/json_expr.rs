//! Expressions of the JSON AST the SDKs post (`{"op": "eq", "left": …, "right": …}`), and
//! the JSON path helpers error messages use (`query.filter.children[1].op`).

use serde_json::{Map, Value};

use super::call::build_call;
use super::{AggCtx, IN_AGGREGATE, parse_expr_text};
use crate::error::{ErrorKind, Location, ParseError};
use crate::plan::{BinaryOp, Expr, Function, IntervalUnit, Literal, MAX_EXPR_DEPTH};

/// Result type of the JSON parsers.
pub(super) type JResult<T> = Result<T, ParseError>;

/// An error at a JSON path.
pub(super) fn json_err(path: &str, kind: ErrorKind) -> ParseError {
    ParseError::new(
        Location::Json {
            path: path.to_string(),
        },
        kind,
    )
}

/// `path.key`
pub(super) fn key(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

/// `path[i]`
pub(super) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// How a JSON value reads in an error message.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// `value` as an object, or an error naming what was expected.
pub(super) fn object<'v>(
    value: &'v Value,
    path: &str,
    what: &str,
) -> JResult<&'v Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| json_err(path, ErrorKind::expected(what, describe(value))))
}

/// `value` as an array, or an error.
pub(super) fn array<'v>(value: &'v Value, path: &str) -> JResult<&'v Vec<Value>> {
    value
        .as_array()
        .ok_or_else(|| json_err(path, ErrorKind::expected("an array", describe(value))))
}

/// A key that must be present and not null.
pub(super) fn required<'v>(
    obj: &'v Map<String, Value>,
    name: &str,
    path: &str,
) -> JResult<&'v Value> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(json_err(path, ErrorKind::MissingKey(name.to_string()))),
        Some(value) => Ok(value),
    }
}

/// A JSON scalar as a literal.
pub(super) fn literal(value: &Value, path: &str) -> JResult<Literal> {
    Ok(match value {
        Value::Null => Literal::Null,
        Value::Bool(b) => Literal::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Literal::Int(i),
            (None, Some(x)) => Literal::Float(x),
            (None, None) => return Err(json_err(path, ErrorKind::InvalidNumber(n.to_string()))),
        },
        Value::String(s) => Literal::String(s.clone()),
        Value::Array(_) | Value::Object(_) => {
            let what = "array and object literals (except on the right of `in`)";
            return Err(json_err(path, ErrorKind::Unsupported(what.to_string())));
        }
    })
}

/// The path segments of an `ident` node (numbers become their decimal text).
pub(super) fn ident_path(obj: &Map<String, Value>, path: &str) -> JResult<Vec<String>> {
    let name_path = key(path, "name");
    let pieces = array(required(obj, "name", path)?, &name_path)?;
    if pieces.is_empty() {
        let kind = ErrorKind::expected("at least one name segment", "an empty list");
        return Err(json_err(&name_path, kind));
    }
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| match piece {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) if n.is_u64() => Ok(n.to_string()),
            other => {
                let kind = ErrorKind::expected("a string or an index", describe(other));
                Err(json_err(&index(&name_path, i), kind))
            }
        })
        .collect()
}

/// How deeply JSON values may nest: bounds the parser's recursion, whatever the input.
pub(super) const MAX_JSON_NESTING: usize = 256;

/// True if `value` nests deeper than `limit` (checked without recursion).
pub(super) fn nests_deeper_than(value: &Value, limit: usize) -> bool {
    let mut stack = vec![(value, 1)];
    while let Some((value, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    false
}

fn too_deep(path: &str) -> ParseError {
    json_err(
        path,
        ErrorKind::TooDeep {
            limit: MAX_EXPR_DEPTH,
        },
    )
}

/// Parses one expression, refusing trees deeper than [`MAX_EXPR_DEPTH`].
pub(super) fn expr(value: &Value, path: &str, ctx: AggCtx) -> JResult<Expr> {
    let parsed = node(value, path, ctx)?;
    if parsed.depth() > MAX_EXPR_DEPTH {
        return Err(too_deep(path));
    }
    Ok(parsed)
}

/// One expression object being parsed.
struct Node<'a> {
    obj: &'a Map<String, Value>,
    path: &'a str,
    ctx: AggCtx,
    op: &'a str,
}

impl Node<'_> {
    /// Parses the sub-expression under `name`.
    fn operand(&self, name: &str) -> JResult<Box<Expr>> {
        let value = required(self.obj, name, self.path)?;
        Ok(Box::new(node(value, &key(self.path, name), self.ctx)?))
    }
}

/// Builds the plan node for one op.
type Handler = fn(&Node<'_>) -> JResult<Expr>;

/// The handler of an op, or why there is none.
fn handler(op: &str) -> Result<Handler, ErrorKind> {
    Ok(match op {
        "literal" => literal_node,
        "interval" => interval,
        "ident" => |n| Ok(Expr::Field(ident_path(n.obj, n.path)?)),
        "star" => |n| Err(json_err(n.path, ErrorKind::StarNotAllowed)),
        "function" => function,
        "and" | "or" => logical,
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "add" | "sub" | "mul" | "div" | "mod" => binary,
        "like" | "ilike" => like,
        "in" => in_node,
        "is" => is_node,
        "isnull" | "isnotnull" => |n| {
            Ok(Expr::IsNull {
                expr: n.operand("expr")?,
                negated: n.op == "isnotnull",
            })
        },
        "not" => |n| Ok(Expr::logical_not(*n.operand("expr")?)),
        "neg" => |n| Ok(Expr::arith_neg(*n.operand("expr")?)),
        "match" => full_text,
        "btql" => snippet,
        "includes" | "if" | "singlespanfilter" => {
            return Err(ErrorKind::UnsupportedOp(op.to_string()));
        }
        _ => return Err(ErrorKind::UnknownOp(op.to_string())),
    })
}

/// Parses one expression node. All recursion passes through here with a small frame, so
/// deep (but allowed) inputs stay cheap on the stack.
fn node(value: &Value, path: &str, ctx: AggCtx) -> JResult<Expr> {
    let obj = object(value, path, "an expression object")?;
    let op = match obj.get("op") {
        Some(Value::String(op)) => op.as_str(),
        None | Some(Value::Null) if obj.contains_key("btql") => "btql",
        None | Some(Value::Null) => {
            return Err(json_err(path, ErrorKind::MissingKey("op".to_string())));
        }
        Some(other) => {
            let kind = ErrorKind::expected("a string", describe(other));
            return Err(json_err(&key(path, "op"), kind));
        }
    };
    let build = handler(op).map_err(|kind| json_err(&key(path, "op"), kind))?;
    build(&Node { obj, path, ctx, op })
}

/// `{"op": "literal", "value": …}`
fn literal_node(n: &Node<'_>) -> JResult<Expr> {
    match n.obj.get("value") {
        Some(value) => Ok(Expr::Literal(literal(value, &key(n.path, "value"))?)),
        None => Err(json_err(n.path, ErrorKind::MissingKey("value".to_string()))),
    }
}

/// Comparisons and arithmetic: `{"op": "eq", "left": …, "right": …}`.
fn binary(n: &Node<'_>) -> JResult<Expr> {
    let op = match n.op {
        "eq" => BinaryOp::Eq,
        "ne" => BinaryOp::Ne,
        "lt" => BinaryOp::Lt,
        "le" => BinaryOp::Le,
        "gt" => BinaryOp::Gt,
        "ge" => BinaryOp::Ge,
        "add" => BinaryOp::Add,
        "sub" => BinaryOp::Sub,
        "mul" => BinaryOp::Mul,
        "div" => BinaryOp::Div,
        _ => BinaryOp::Mod,
    };
    Ok(Expr::Binary {
        op,
        left: n.operand("left")?,
        right: n.operand("right")?,
    })
}

/// `like` / `ilike`.
fn like(n: &Node<'_>) -> JResult<Expr> {
    Ok(Expr::Like {
        expr: n.operand("left")?,
        pattern: n.operand("right")?,
        case_insensitive: n.op == "ilike",
        negated: false,
    })
}

/// `in` with a literal array on the right.
fn in_node(n: &Node<'_>) -> JResult<Expr> {
    let right = required(n.obj, "right", n.path)?;
    Ok(Expr::In {
        expr: n.operand("left")?,
        list: in_list(right, &key(n.path, "right"))?,
        negated: false,
    })
}

/// `is`, supported with `null` on the right.
fn is_node(n: &Node<'_>) -> JResult<Expr> {
    if *n.operand("right")? != Expr::Literal(Literal::Null) {
        let what = "`is` with anything but null on the right";
        let kind = ErrorKind::Unsupported(what.to_string());
        return Err(json_err(&key(n.path, "right"), kind));
    }
    Ok(Expr::IsNull {
        expr: n.operand("left")?,
        negated: false,
    })
}

/// `{"op": "interval", "value": 3, "unit": "hour"}`
fn interval(n: &Node<'_>) -> JResult<Expr> {
    let (obj, path) = (n.obj, n.path);
    let value = required(obj, "value", path)?;
    let amount = value
        .as_f64()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| {
            let kind = ErrorKind::expected("a non-negative number", describe(value));
            json_err(&key(path, "value"), kind)
        })?;
    let unit_path = key(path, "unit");
    let unit = required(obj, "unit", path)?;
    let name = unit.as_str().ok_or_else(|| {
        json_err(
            &unit_path,
            ErrorKind::expected("a unit name", describe(unit)),
        )
    })?;
    let unit = IntervalUnit::parse(name)
        .ok_or_else(|| json_err(&unit_path, ErrorKind::UnknownIntervalUnit(name.to_string())))?;
    Ok(Expr::Interval { amount, unit })
}

/// `and` / `or` with `children` (or `left` and `right`), folded left like the text forms.
fn logical(n: &Node<'_>) -> JResult<Expr> {
    let (obj, path, ctx) = (n.obj, n.path, n.ctx);
    let op = if n.op == "and" {
        BinaryOp::And
    } else {
        BinaryOp::Or
    };
    let mut operands = Vec::new();
    match obj.get("children") {
        Some(children) if !children.is_null() => {
            let children_path = key(path, "children");
            for (i, child) in array(children, &children_path)?.iter().enumerate() {
                operands.push(node(child, &index(&children_path, i), ctx)?);
            }
        }
        _ => {
            for side in ["left", "right"] {
                operands.push(node(required(obj, side, path)?, &key(path, side), ctx)?);
            }
        }
    }
    // The fold adds one level per operand; refuse before building a too-deep tree.
    let deepest = operands.iter().map(Expr::depth).max().unwrap_or(0);
    if operands.len().saturating_sub(1) + deepest > MAX_EXPR_DEPTH {
        return Err(too_deep(path));
    }
    let identity = Expr::Literal(Literal::Bool(op == BinaryOp::And));
    Ok(operands
        .into_iter()
        .reduce(|left, right| Expr::binary(op, left, right))
        .unwrap_or(identity))
}

/// The right side of `in`: a literal array.
fn in_list(right: &Value, path: &str) -> JResult<Vec<Expr>> {
    let obj = object(right, path, "a literal array")?;
    let values = match (obj.get("op").and_then(Value::as_str), obj.get("value")) {
        (Some("literal"), Some(Value::Array(values))) => values,
        _ => {
            return Err(json_err(
                path,
                ErrorKind::expected("a literal array", describe(right)),
            ));
        }
    };
    if values.is_empty() {
        return Err(json_err(path, ErrorKind::EmptyInList));
    }
    let values_path = key(path, "value");
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Ok(Expr::Literal(literal(v, &index(&values_path, i))?)))
        .collect()
}

/// `{"op": "match", "left": ident | star, "right": literal string}`
fn full_text(n: &Node<'_>) -> JResult<Expr> {
    let (obj, path) = (n.obj, n.path);
    let left_path = key(path, "left");
    let left = object(required(obj, "left", path)?, &left_path, "a field")?;
    let field = match left.get("op").and_then(Value::as_str) {
        Some("ident") => Some(ident_path(left, &left_path)?),
        Some("star") => None,
        other => {
            let shown = other.unwrap_or("an object without op").to_string();
            return Err(json_err(&left_path, ErrorKind::MatchNeedsField(shown)));
        }
    };
    let right_path = key(path, "right");
    let right = node(required(obj, "right", path)?, &right_path, IN_AGGREGATE)?;
    let Expr::Literal(Literal::String(text)) = right else {
        let kind = ErrorKind::NotAString {
            what: "the MATCH text".to_string(),
            found: format!("`{right}`"),
        };
        return Err(json_err(&right_path, kind));
    };
    Ok(Expr::Match { field, text })
}

/// `{"op": "function", "name": {"op": "ident", "name": ["count"]}, "args": […]}`
fn function(n: &Node<'_>) -> JResult<Expr> {
    let (obj, path, ctx) = (n.obj, n.path, n.ctx);
    let name_path = key(path, "name");
    let name_obj = object(required(obj, "name", path)?, &name_path, "an ident")?;
    let segments = ident_path(name_obj, &name_path)?;
    let name = segments.join(".");
    let args_path = key(path, "args");
    let args: &[Value] = match obj.get("args") {
        None | Some(Value::Null) => &[],
        Some(args) => array(args, &args_path)?,
    };
    if name.eq_ignore_ascii_case("now") {
        if !args.is_empty() {
            let kind = ErrorKind::Arity {
                function: "now".to_string(),
                expected: "no arguments".to_string(),
                found: args.len(),
            };
            return Err(json_err(&args_path, kind));
        }
        return Ok(Expr::Now);
    }
    let function = Function::parse(&name)
        .ok_or_else(|| json_err(&name_path, ErrorKind::UnknownFunction(name.clone())))?;
    if let AggCtx::Forbidden(place) = ctx
        && function.is_aggregate()
    {
        let kind = ErrorKind::AggregateNotAllowed {
            function: function.as_str().to_string(),
            place: place.to_string(),
        };
        return Err(json_err(path, kind));
    }
    let mut parsed = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let arg_path = index(&args_path, i);
        let is_star = arg.get("op").and_then(Value::as_str) == Some("star");
        // Arguments may be bare expressions or `{"alias", "expr"}` pairs.
        let parsed_arg = match arg.get("expr") {
            _ if is_star => Expr::Star,
            Some(inner) if arg.get("op").is_none() => {
                node(inner, &key(&arg_path, "expr"), IN_AGGREGATE)?
            }
            _ => node(arg, &arg_path, IN_AGGREGATE)?,
        };
        parsed.push(parsed_arg);
    }
    build_call(function, parsed).map_err(|e| match e.arg {
        Some(i) => json_err(&index(&args_path, i), e.kind),
        None => json_err(path, e.kind),
    })
}

/// `{"btql": "<expression text>"}`: parsed with the text parser.
fn snippet(n: &Node<'_>) -> JResult<Expr> {
    let (obj, path, ctx) = (n.obj, n.path, n.ctx);
    let snippet_path = key(path, "btql");
    let value = required(obj, "btql", path)?;
    let text = value.as_str().ok_or_else(|| {
        json_err(
            &snippet_path,
            ErrorKind::expected("a string", describe(value)),
        )
    })?;
    parse_expr_text(text, ctx).map_err(|e| {
        let kind = match e.location {
            Location::Text { line, column } => ErrorKind::InSnippet {
                line,
                column,
                inner: Box::new(e.kind),
            },
            Location::Json { .. } => e.kind,
        };
        json_err(&snippet_path, kind)
    })
}
