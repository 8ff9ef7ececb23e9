//! Rendering plans back to BTQL text (clause syntax), with minimal parentheses.
//!
//! The output re-parses to an equal plan, which the tests check for every query they parse.

use std::fmt::{self, Display, Formatter, Write};

use super::{BinaryOp, Expr, Literal, Query, SelectItem, Selection, Shape, SortKey, Source};
use crate::parse::lexer::is_reserved;

/// Binding strength of the node at the top of an expression (higher binds tighter).
fn precedence(expr: &Expr) -> u8 {
    match expr {
        Expr::Binary { op, .. } => match op {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 6,
        },
        Expr::Unary {
            op: super::UnaryOp::Not,
            ..
        } => 3,
        Expr::In { .. }
        | Expr::Like { .. }
        | Expr::IsNull { .. }
        | Expr::Match { .. }
        | Expr::Regex { .. } => 4,
        Expr::Unary {
            op: super::UnaryOp::Neg,
            ..
        } => 7,
        Expr::Literal(Literal::Int(i)) if *i < 0 => 7,
        Expr::Literal(Literal::Float(x)) if x.is_sign_negative() => 7,
        _ => 8,
    }
}

/// Writes `expr`, parenthesized if it binds looser than `min`.
fn child(f: &mut Formatter<'_>, expr: &Expr, min: u8) -> fmt::Result {
    if precedence(expr) < min {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}

/// Writes one identifier, double-quoted when it is not a plain word.
fn ident(f: &mut Formatter<'_>, name: &str) -> fmt::Result {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !is_reserved(name);
    if plain {
        f.write_str(name)
    } else {
        f.write_char('"')?;
        f.write_str(&name.replace('"', "\"\""))?;
        f.write_char('"')
    }
}

/// Writes a single-quoted string literal.
fn string(f: &mut Formatter<'_>, value: &str) -> fmt::Result {
    f.write_char('\'')?;
    f.write_str(&value.replace('\'', "''"))?;
    f.write_char('\'')
}

fn path(f: &mut Formatter<'_>, segments: &[String]) -> fmt::Result {
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            f.write_char('.')?;
        }
        ident(f, segment)?;
    }
    Ok(())
}

fn list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            // `{:?}` keeps a fraction or exponent (`1.0`, `1e100`), so it re-lexes as a float.
            Self::Float(x) => write!(f, "{x:?}"),
            Self::String(s) => string(f, s),
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let own = precedence(self);
        match self {
            Self::Field(segments) => path(f, segments),
            Self::Literal(literal) => write!(f, "{literal}"),
            Self::Interval { amount, unit } => {
                let plural = if *amount == 1.0 { "" } else { "s" };
                if amount.fract() == 0.0 && amount.abs() < 1e15 {
                    write!(f, "interval {amount:.0} {}{plural}", unit.as_str())
                } else {
                    write!(f, "interval {amount:?} {}{plural}", unit.as_str())
                }
            }
            Self::Now => f.write_str("now()"),
            Self::Unary { op, expr } => match op {
                super::UnaryOp::Not => {
                    f.write_str("NOT ")?;
                    child(f, expr, own)
                }
                // Only atoms follow a bare `-`, so `- -x` never renders as a `--` comment.
                super::UnaryOp::Neg => {
                    f.write_char('-')?;
                    child(f, expr, 8)
                }
            },
            Self::Binary { op, left, right } => {
                // Comparisons do not chain, so both sides must bind tighter.
                let left_min = if op.is_comparison() { own + 1 } else { own };
                child(f, left, left_min)?;
                write!(f, " {} ", op.symbol())?;
                child(f, right, own + 1)
            }
            Self::In {
                expr,
                list: items,
                negated,
            } => {
                child(f, expr, 5)?;
                f.write_str(if *negated { " NOT IN (" } else { " IN (" })?;
                list(f, items)?;
                f.write_char(')')
            }
            Self::Like {
                expr,
                pattern,
                case_insensitive,
                negated,
            } => {
                child(f, expr, 5)?;
                f.write_str(if *negated { " NOT " } else { " " })?;
                f.write_str(if *case_insensitive { "ILIKE " } else { "LIKE " })?;
                child(f, pattern, 5)
            }
            Self::IsNull { expr, negated } => {
                child(f, expr, 5)?;
                f.write_str(if *negated { " IS NOT NULL" } else { " IS NULL" })
            }
            Self::Match { field, text } => {
                if let Some(segments) = field {
                    path(f, segments)?;
                    f.write_char(' ')?;
                }
                f.write_str("MATCH ")?;
                string(f, text)
            }
            Self::Regex {
                expr,
                pattern,
                case_insensitive,
            } => {
                child(f, expr, 5)?;
                f.write_str(if *case_insensitive { " ~* " } else { " ~ " })?;
                string(f, pattern)
            }
            Self::Call { name, args } => {
                write!(f, "{}(", name.as_str())?;
                list(f, args)?;
                f.write_char(')')
            }
            Self::Star => f.write_char('*'),
        }
    }
}

impl Display for SelectItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        if let Some(alias) = &self.alias {
            f.write_str(" AS ")?;
            ident(f, alias)?;
        }
        Ok(())
    }
}

impl Display for SortKey {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        f.write_str(if self.descending { " DESC" } else { " ASC" })
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.kind)?;
        string(f, &self.id)?;
        f.write_char(')')
    }
}

impl Display for Shape {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Spans => "spans",
            Self::Traces => "traces",
        })
    }
}

/// Renders the query in clause syntax (`select: … | from: … | …`).
impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.is_aggregate() {
            f.write_str("select: ")?;
            match &self.select {
                Selection::Star => f.write_char('*')?,
                Selection::Items(items) => list(f, items)?,
            }
            f.write_str(" | ")?;
        }
        write!(f, "from: {} {}", self.source, self.shape)?;
        if let Some(filter) = &self.filter {
            write!(f, " | filter: {filter}")?;
        }
        if !self.dimensions.is_empty() {
            f.write_str(" | dimensions: ")?;
            list(f, &self.dimensions)?;
        }
        if !self.measures.is_empty() {
            f.write_str(" | measures: ")?;
            list(f, &self.measures)?;
        }
        if !self.sort.is_empty() {
            f.write_str(" | sort: ")?;
            list(f, &self.sort)?;
        }
        if let Some(limit) = self.limit {
            write!(f, " | limit: {limit}")?;
        }
        if let Some(cursor) = &self.cursor {
            f.write_str(" | cursor: ")?;
            string(f, cursor)?;
        }
        Ok(())
    }
}
