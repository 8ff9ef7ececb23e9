//! The text expression parser (recursive descent, one function per precedence level).
//!
//! From loosest to tightest:
//!
//! | level | forms |
//! |---|---|
//! | or | `a OR b` |
//! | and | `a AND b` |
//! | not | `NOT a` |
//! | predicate (non-chaining) | `= != <> < <= > >=`, `[NOT] IN (…)`, `[NOT] [I]LIKE`, `IS [NOT] NULL`, `MATCH`, `~ ~* !~ !~*` |
//! | additive | `+ -` |
//! | multiplicative | `* / %` |
//! | unary | `-a` |
//! | primary | literals, `interval 1 day`, `now()`, calls, field paths, `( … )`, `MATCH 'text'` |

use super::call::build_call;
use super::cursor::MAX_NESTING;
use super::cursor::{PResult, Parser};
use super::lexer::{Punct, Tok, is_reserved};
use super::{AggCtx, IN_AGGREGATE};
use crate::error::{ErrorKind, ParseError};
use crate::plan::{
    BinaryOp, Expr, Function, IntervalUnit, Literal, MAX_EXPR_DEPTH, MAX_REGEX_PATTERN_LEN,
};

/// What may follow a predicate's left operand.
enum PredicateOp {
    Compare(BinaryOp),
    In {
        negated: bool,
    },
    Like {
        case_insensitive: bool,
        negated: bool,
    },
    IsNull,
    Match,
    Regex {
        case_insensitive: bool,
        negated: bool,
    },
}

impl Parser<'_> {
    /// Parses one full expression.
    pub fn expr(&mut self, ctx: AggCtx) -> PResult<Expr> {
        let start = self.offset();
        if self.nesting >= MAX_NESTING {
            return Err(self.too_deep(start, MAX_NESTING));
        }
        self.nesting += 1;
        let expr = self.or_expr(ctx)?;
        self.nesting -= 1;
        if expr.depth() > MAX_EXPR_DEPTH {
            return Err(self.too_deep(start, MAX_EXPR_DEPTH));
        }
        Ok(expr)
    }

    fn too_deep(&self, offset: usize, limit: usize) -> ParseError {
        self.error_at(offset, ErrorKind::TooDeep { limit })
    }

    /// Parses `operand (op operand)*` into a left-deep tree, refusing to grow it past
    /// [`MAX_EXPR_DEPTH`] (checked before each node is built, so no deep tree ever exists).
    fn left_assoc(
        &mut self,
        ctx: AggCtx,
        operand: fn(&mut Self, AggCtx) -> PResult<Expr>,
        operator: fn(&Self) -> Option<BinaryOp>,
    ) -> PResult<Expr> {
        let mut left = operand(self, ctx)?;
        let mut depth = left.depth();
        while let Some(op) = operator(self) {
            let op_start = self.offset();
            self.advance();
            let right = operand(self, ctx)?;
            depth = depth.max(right.depth()) + 1;
            if depth > MAX_EXPR_DEPTH {
                return Err(self.too_deep(op_start, MAX_EXPR_DEPTH));
            }
            left = Expr::binary(op, left, right);
        }
        Ok(left)
    }

    fn or_expr(&mut self, ctx: AggCtx) -> PResult<Expr> {
        self.left_assoc(ctx, Self::and_expr, |p| {
            p.at_keyword("or").then_some(BinaryOp::Or)
        })
    }

    fn and_expr(&mut self, ctx: AggCtx) -> PResult<Expr> {
        self.left_assoc(ctx, Self::not_expr, |p| {
            p.at_keyword("and").then_some(BinaryOp::And)
        })
    }

    fn not_expr(&mut self, ctx: AggCtx) -> PResult<Expr> {
        let start = self.offset();
        let mut nots = 0;
        while self.eat_keyword("not") {
            nots += 1;
            if nots > MAX_EXPR_DEPTH {
                return Err(self.too_deep(start, MAX_EXPR_DEPTH));
            }
        }
        let mut expr = self.predicate(ctx)?;
        for _ in 0..nots {
            expr = Expr::logical_not(expr);
        }
        Ok(expr)
    }

    /// Recognizes (without consuming) the operator of a predicate.
    fn peek_predicate_op(&self) -> Option<PredicateOp> {
        let op = match &self.peek().tok {
            Tok::Punct(p) => match p {
                Punct::Eq => PredicateOp::Compare(BinaryOp::Eq),
                Punct::Ne => PredicateOp::Compare(BinaryOp::Ne),
                Punct::Lt => PredicateOp::Compare(BinaryOp::Lt),
                Punct::Le => PredicateOp::Compare(BinaryOp::Le),
                Punct::Gt => PredicateOp::Compare(BinaryOp::Gt),
                Punct::Ge => PredicateOp::Compare(BinaryOp::Ge),
                Punct::Tilde | Punct::TildeStar | Punct::NotTilde | Punct::NotTildeStar => {
                    PredicateOp::Regex {
                        case_insensitive: matches!(p, Punct::TildeStar | Punct::NotTildeStar),
                        negated: matches!(p, Punct::NotTilde | Punct::NotTildeStar),
                    }
                }
                _ => return None,
            },
            Tok::Ident(word) => {
                let (negated, word) = if word.eq_ignore_ascii_case("not") {
                    match &self.nth(1).tok {
                        Tok::Ident(next) => (true, next.as_str()),
                        _ => return None,
                    }
                } else {
                    (false, word.as_str())
                };
                match word.to_ascii_lowercase().as_str() {
                    "in" => PredicateOp::In { negated },
                    "like" | "ilike" => PredicateOp::Like {
                        case_insensitive: word.eq_ignore_ascii_case("ilike"),
                        negated,
                    },
                    "is" if !negated => PredicateOp::IsNull,
                    "match" if !negated => PredicateOp::Match,
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(op)
    }

    fn predicate(&mut self, ctx: AggCtx) -> PResult<Expr> {
        let start = self.offset();
        let left = self.additive(ctx)?;
        let Some(op) = self.peek_predicate_op() else {
            return Ok(left);
        };
        let op_start = self.offset();
        self.advance();
        let expr = match op {
            PredicateOp::Compare(op) => Expr::binary(op, left, self.additive(ctx)?),
            PredicateOp::In { negated } => {
                if negated {
                    self.advance();
                }
                let list = self.in_list(ctx)?;
                Expr::In {
                    expr: Box::new(left),
                    list,
                    negated,
                }
            }
            PredicateOp::Like {
                case_insensitive,
                negated,
            } => {
                if negated {
                    self.advance();
                }
                Expr::Like {
                    expr: Box::new(left),
                    pattern: Box::new(self.additive(ctx)?),
                    case_insensitive,
                    negated,
                }
            }
            PredicateOp::IsNull => {
                let negated = self.eat_keyword("not");
                self.expect_keyword("null")?;
                Expr::IsNull {
                    expr: Box::new(left),
                    negated,
                }
            }
            PredicateOp::Match => {
                let Expr::Field(path) = left else {
                    let shown = self.slice(start, op_start).trim_end().to_string();
                    return Err(self.error_at(start, ErrorKind::MatchNeedsField(shown)));
                };
                Expr::Match {
                    field: Some(path),
                    text: self.string_operand("the MATCH text")?,
                }
            }
            PredicateOp::Regex {
                case_insensitive,
                negated,
            } => {
                let pattern_start = self.offset();
                let pattern = self.string_operand("a regex pattern")?;
                if pattern.len() > MAX_REGEX_PATTERN_LEN {
                    let kind = ErrorKind::RegexTooLong {
                        len: pattern.len(),
                        max: MAX_REGEX_PATTERN_LEN,
                    };
                    return Err(self.error_at(pattern_start, kind));
                }
                let regex = Expr::Regex {
                    expr: Box::new(left),
                    pattern,
                    case_insensitive,
                };
                if negated {
                    Expr::logical_not(regex)
                } else {
                    regex
                }
            }
        };
        if self.peek_predicate_op().is_some() {
            return Err(self.error_at(self.offset(), ErrorKind::ChainedComparison));
        }
        Ok(expr)
    }

    /// `( expr, … )` after `IN`.
    fn in_list(&mut self, ctx: AggCtx) -> PResult<Vec<Expr>> {
        self.expect_punct(Punct::LParen, "`(` after IN")?;
        if self.at_punct(Punct::RParen) {
            return Err(self.error_at(self.offset(), ErrorKind::EmptyInList));
        }
        let mut list = vec![self.expr(ctx)?];
        while self.eat_punct(Punct::Comma) {
            list.push(self.expr(ctx)?);
        }
        self.expect_punct(Punct::RParen, "`,` or `)` in the IN list")?;
        Ok(list)
    }

    /// A string literal operand (`MATCH 'text'`, `~ 'regex'`).
    fn string_operand(&mut self, what: &str) -> PResult<String> {
        if let Tok::Str(text) = &self.peek().tok {
            let text = text.clone();
            self.advance();
            return Ok(text);
        }
        let kind = ErrorKind::NotAString {
            what: what.to_string(),
            found: self.describe(self.peek()),
        };
        Err(self.error_at(self.offset(), kind))
    }

    fn additive(&mut self, ctx: AggCtx) -> PResult<Expr> {
        self.left_assoc(ctx, Self::multiplicative, |p| match p.peek().tok {
            Tok::Punct(Punct::Plus) => Some(BinaryOp::Add),
            Tok::Punct(Punct::Minus) => Some(BinaryOp::Sub),
            _ => None,
        })
    }

    fn multiplicative(&mut self, ctx: AggCtx) -> PResult<Expr> {
        self.left_assoc(ctx, Self::unary, |p| match p.peek().tok {
            Tok::Punct(Punct::Star) => Some(BinaryOp::Mul),
            Tok::Punct(Punct::Slash) => Some(BinaryOp::Div),
            Tok::Punct(Punct::Percent) => Some(BinaryOp::Mod),
            _ => None,
        })
    }

    /// Prefix signs, then a primary expression.
    fn unary(&mut self, ctx: AggCtx) -> PResult<Expr> {
        let start = self.offset();
        let mut minuses = 0;
        loop {
            if self.eat_punct(Punct::Minus) {
                minuses += 1;
            } else if !self.eat_punct(Punct::Plus) {
                break;
            }
            if minuses > MAX_EXPR_DEPTH {
                return Err(self.too_deep(start, MAX_EXPR_DEPTH));
            }
        }
        let mut expr = self.primary(ctx)?;
        for _ in 0..minuses {
            expr = Expr::arith_neg(expr);
        }
        Ok(expr)
    }

    fn primary(&mut self, ctx: AggCtx) -> PResult<Expr> {
        let start = self.offset();
        let expr = match self.peek().tok.clone() {
            Tok::Str(text) => {
                self.advance();
                Expr::string(text)
            }
            Tok::Int(i) => {
                self.advance();
                Expr::int(i)
            }
            Tok::Float(x) => {
                self.advance();
                Expr::Literal(Literal::Float(x))
            }
            Tok::Punct(Punct::LParen) => {
                self.advance();
                let inner = self.expr(ctx)?;
                self.expect_punct(Punct::RParen, "`)`")?;
                inner
            }
            Tok::Punct(Punct::Star) => {
                return Err(self.error_at(start, ErrorKind::StarNotAllowed));
            }
            Tok::QuotedIdent(name) => {
                self.advance();
                self.field_path(name)?
            }
            Tok::Ident(word) => self.word(word, ctx)?,
            _ => return Err(self.unexpected("an expression")),
        };
        Ok(expr)
    }

    /// A primary expression starting with a bare word.
    fn word(&mut self, word: String, ctx: AggCtx) -> PResult<Expr> {
        let lower = word.to_ascii_lowercase();
        let literal = match lower.as_str() {
            "true" => Some(Literal::Bool(true)),
            "false" => Some(Literal::Bool(false)),
            "null" => Some(Literal::Null),
            _ => None,
        };
        if let Some(literal) = literal {
            self.advance();
            return Ok(Expr::Literal(literal));
        }
        if lower == "interval" {
            self.advance();
            return self.interval();
        }
        if lower == "match" && matches!(self.nth(1).tok, Tok::Str(_)) {
            self.advance();
            let text = self.string_operand("the MATCH text")?;
            return Ok(Expr::Match { field: None, text });
        }
        if self.nth_is_punct(1, Punct::LParen) {
            return self.call(word, ctx);
        }
        if is_reserved(&word) {
            return Err(self.unexpected("an expression"));
        }
        self.advance();
        self.field_path(word)
    }

    /// The rest of a field path after its first segment.
    fn field_path(&mut self, first: String) -> PResult<Expr> {
        let mut path = vec![first];
        while self.eat_punct(Punct::Dot) {
            let segment = match &self.peek().tok {
                Tok::Ident(s) | Tok::QuotedIdent(s) => s.clone(),
                Tok::Int(i) if *i >= 0 => i.to_string(),
                _ => return Err(self.unexpected("a field name after `.`")),
            };
            self.advance();
            path.push(segment);
        }
        Ok(Expr::Field(path))
    }

    /// After `interval`: `1 day`, `3 hours`, `1.5 hour` or `'3 hours'`.
    fn interval(&mut self) -> PResult<Expr> {
        let start = self.offset();
        let amount = match self.peek().tok {
            Tok::Int(i) => i as f64,
            Tok::Float(x) => x,
            Tok::Str(ref text) => {
                let text = text.clone();
                self.advance();
                return interval_from_text(&text).map_err(|kind| self.error_at(start, kind));
            }
            _ => return Err(self.unexpected("a number after INTERVAL")),
        };
        self.advance();
        let unit_start = self.offset();
        let Tok::Ident(name) = self.peek().tok.clone() else {
            return Err(self.unexpected("an interval unit (second, minute, hour, day, week)"));
        };
        self.advance();
        let unit = IntervalUnit::parse(&name)
            .ok_or_else(|| self.error_at(unit_start, ErrorKind::UnknownIntervalUnit(name)))?;
        Ok(Expr::Interval { amount, unit })
    }

    /// `name( args )`, including `now()` and `count(*)`.
    fn call(&mut self, name: String, ctx: AggCtx) -> PResult<Expr> {
        let name_start = self.offset();
        self.advance();
        self.advance(); // `(`
        if name.eq_ignore_ascii_case("now") {
            self.expect_punct(Punct::RParen, "`)` (now() takes no arguments)")?;
            return Ok(Expr::Now);
        }
        let function = Function::parse(&name)
            .ok_or_else(|| self.error_at(name_start, ErrorKind::UnknownFunction(name.clone())))?;
        if let AggCtx::Forbidden(place) = ctx
            && function.is_aggregate()
        {
            let kind = ErrorKind::AggregateNotAllowed {
                function: function.as_str().to_string(),
                place: place.to_string(),
            };
            return Err(self.error_at(name_start, kind));
        }
        let mut args = Vec::new();
        let mut starts = Vec::new();
        if !self.at_punct(Punct::RParen) {
            loop {
                starts.push(self.offset());
                if function == Function::Count && self.at_punct(Punct::Star) {
                    self.advance();
                    args.push(Expr::Star);
                } else {
                    args.push(self.expr(IN_AGGREGATE)?);
                }
                if !self.eat_punct(Punct::Comma) {
                    break;
                }
            }
        }
        self.expect_punct(Punct::RParen, "`,` or `)` after a function argument")?;
        build_call(function, args).map_err(|e| {
            let at = e
                .arg
                .and_then(|i| starts.get(i).copied())
                .unwrap_or(name_start);
            self.error_at(at, e.kind)
        })
    }
}

/// Parses the `'3 hours'` form of an interval.
fn interval_from_text(text: &str) -> Result<Expr, ErrorKind> {
    let bad = || ErrorKind::expected("an interval like '3 hours'", format!("'{text}'"));
    let mut parts = text.split_whitespace();
    let (Some(amount), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let amount: f64 = match amount.parse() {
        Ok(x) if f64::is_finite(x) && x >= 0.0 => x,
        _ => return Err(bad()),
    };
    let unit = IntervalUnit::parse(unit)
        .ok_or_else(|| ErrorKind::UnknownIntervalUnit(unit.to_string()))?;
    Ok(Expr::Interval { amount, unit })
}
