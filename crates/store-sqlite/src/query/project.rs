//! Evaluates select items over a result row in Rust (projection happens after SQL has
//! filtered, sorted and limited, so nested values keep their JSON types).

use serde_json::{Map, Number, Value};
use spanloom_model::timefmt;
use spanloom_query::plan::{BinaryOp, Expr, Literal, SelectItem, UnaryOp};

/// Builds the output object of a row for a list of select items.
pub(crate) fn project(row: &Value, items: &[SelectItem]) -> Value {
    let mut out = Map::new();
    for item in items {
        out.insert(item.output_name(), eval(&item.expr, row));
    }
    Value::Object(out)
}

/// Evaluates an expression over a row (missing fields are null).
pub(crate) fn eval(expr: &Expr, row: &Value) -> Value {
    match expr {
        Expr::Field(path) => path
            .iter()
            .try_fold(row, |v, seg| match v {
                Value::Object(m) => m.get(seg),
                Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            })
            .cloned()
            .unwrap_or(Value::Null),
        Expr::Literal(lit) => match lit {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Int(i) => Value::from(*i),
            Literal::Float(f) => number(*f),
            Literal::String(s) => Value::String(s.clone()),
        },
        Expr::Now => number(timefmt::now_unix()),
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => eval(expr, row).as_f64().map_or(Value::Null, |v| number(-v)),
        Expr::Unary {
            op: UnaryOp::Not,
            expr,
        } => eval(expr, row)
            .as_bool()
            .map_or(Value::Null, |b| Value::Bool(!b)),
        Expr::Binary { op, left, right } => binary(*op, eval(left, row), eval(right, row)),
        Expr::IsNull { expr, negated } => Value::Bool(eval(expr, row).is_null() != *negated),
        _ => Value::Null,
    }
}

fn number(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn binary(op: BinaryOp, l: Value, r: Value) -> Value {
    if op.is_arithmetic() {
        let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else {
            return Value::Null;
        };
        let ints = l.is_i64() && r.is_i64();
        return match op {
            BinaryOp::Add if ints => Value::from(a as i64 + b as i64),
            BinaryOp::Sub if ints => Value::from(a as i64 - b as i64),
            BinaryOp::Mul if ints => Value::from(a as i64 * b as i64),
            BinaryOp::Add => number(a + b),
            BinaryOp::Sub => number(a - b),
            BinaryOp::Mul => number(a * b),
            BinaryOp::Div if b != 0.0 => number(a / b),
            BinaryOp::Mod if b != 0.0 => number(a % b),
            _ => Value::Null,
        };
    }
    match op {
        BinaryOp::And => Value::Bool(l.as_bool() == Some(true) && r.as_bool() == Some(true)),
        BinaryOp::Or => Value::Bool(l.as_bool() == Some(true) || r.as_bool() == Some(true)),
        BinaryOp::Eq => Value::Bool(l == r),
        BinaryOp::Ne => Value::Bool(l != r),
        _ => match (l.as_f64(), r.as_f64()) {
            (Some(a), Some(b)) => Value::Bool(match op {
                BinaryOp::Lt => a < b,
                BinaryOp::Le => a <= b,
                BinaryOp::Gt => a > b,
                _ => a >= b,
            }),
            _ => Value::Null,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projects_paths_and_arithmetic() {
        let row =
            json!({"metrics": {"start": 1.5, "end": 4.0}, "input": [{"role": "user"}], "id": "r"});
        let q = spanloom_query::parse_text("select: id, metrics.end - metrics.start as duration, input.0.role | from: project_logs('p')")
            .unwrap();
        let spanloom_query::plan::Selection::Items(items) = &q.select else {
            panic!()
        };
        assert_eq!(
            project(&row, items),
            json!({"id": "r", "duration": 2.5, "role": "user"})
        );
    }
}
