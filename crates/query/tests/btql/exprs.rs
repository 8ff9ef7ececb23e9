//! Expressions: precedence, predicates, literals, paths, time, output names.

use spanloom_query::plan::{
    BinaryOp, Expr, Function, IntervalUnit, Literal, SelectItem, Selection, UnaryOp,
};

use crate::support::{bin, f, filter, fl, i, s, text};

fn not(expr: Expr) -> Expr {
    Expr::Unary {
        op: UnaryOp::Not,
        expr: Box::new(expr),
    }
}

#[test]
fn precedence_and_binds_tighter_than_or() {
    assert_eq!(
        filter("a or b and c"),
        bin(BinaryOp::Or, f("a"), bin(BinaryOp::And, f("b"), f("c")))
    );
    assert_eq!(
        filter("a and b or c"),
        bin(BinaryOp::Or, bin(BinaryOp::And, f("a"), f("b")), f("c"))
    );
}

#[test]
fn precedence_not_is_looser_than_comparison() {
    assert_eq!(filter("not a = 1"), not(bin(BinaryOp::Eq, f("a"), i(1))));
    assert_eq!(
        filter("not a = 1 and b"),
        bin(BinaryOp::And, not(bin(BinaryOp::Eq, f("a"), i(1))), f("b"))
    );
    assert_eq!(filter("NOT NOT a"), not(not(f("a"))));
}

#[test]
fn precedence_arithmetic() {
    assert_eq!(
        filter("1 + 2 * 3 = x"),
        bin(
            BinaryOp::Eq,
            bin(BinaryOp::Add, i(1), bin(BinaryOp::Mul, i(2), i(3))),
            f("x")
        )
    );
    assert_eq!(
        filter("x = 10 - 4 - 3"),
        bin(
            BinaryOp::Eq,
            f("x"),
            bin(BinaryOp::Sub, bin(BinaryOp::Sub, i(10), i(4)), i(3))
        )
    );
    assert_eq!(
        filter("x = a / b % c"),
        bin(
            BinaryOp::Eq,
            f("x"),
            bin(BinaryOp::Mod, bin(BinaryOp::Div, f("a"), f("b")), f("c"))
        )
    );
}

#[test]
fn parentheses_override_precedence() {
    assert_eq!(
        filter("(a or b) and c"),
        bin(BinaryOp::And, bin(BinaryOp::Or, f("a"), f("b")), f("c"))
    );
    assert_eq!(
        filter("(1 + 2) * 3 = x"),
        bin(
            BinaryOp::Eq,
            bin(BinaryOp::Mul, bin(BinaryOp::Add, i(1), i(2)), i(3)),
            f("x")
        )
    );
}

#[test]
fn unary_minus_folds_into_literals() {
    assert_eq!(filter("x > -5"), bin(BinaryOp::Gt, f("x"), i(-5)));
    assert_eq!(filter("x > -2.5"), bin(BinaryOp::Gt, f("x"), fl(-2.5)));
    assert_eq!(
        filter("-x * 2 < 0"),
        bin(
            BinaryOp::Lt,
            bin(
                BinaryOp::Mul,
                Expr::Unary {
                    op: UnaryOp::Neg,
                    expr: Box::new(f("x"))
                },
                i(2)
            ),
            i(0)
        )
    );
}

#[test]
fn comparison_operators() {
    for (text_op, op) in [
        ("=", BinaryOp::Eq),
        ("!=", BinaryOp::Ne),
        ("<>", BinaryOp::Ne),
        ("<", BinaryOp::Lt),
        ("<=", BinaryOp::Le),
        (">", BinaryOp::Gt),
        (">=", BinaryOp::Ge),
    ] {
        assert_eq!(
            filter(&format!("a {text_op} 1")),
            bin(op, f("a"), i(1)),
            "{text_op}"
        );
    }
}

#[test]
fn in_and_not_in() {
    assert_eq!(
        filter("x IN ('a', 'b')"),
        Expr::In {
            expr: Box::new(f("x")),
            list: vec![s("a"), s("b")],
            negated: false
        }
    );
    let negated = Expr::In {
        expr: Box::new(f("x")),
        list: vec![i(1)],
        negated: true,
    };
    assert_eq!(filter("x NOT IN (1)"), negated);
    // `NOT x IN (…)` means the same and gives the same node.
    assert_eq!(filter("NOT x IN (1)"), negated);
}

#[test]
fn like_and_ilike() {
    let like = |case_insensitive, negated| Expr::Like {
        expr: Box::new(f("input")),
        pattern: Box::new(s("%hi%")),
        case_insensitive,
        negated,
    };
    assert_eq!(filter("input LIKE '%hi%'"), like(false, false));
    assert_eq!(filter("input ilike '%hi%'"), like(true, false));
    assert_eq!(filter("input NOT LIKE '%hi%'"), like(false, true));
    assert_eq!(filter("input NOT ILIKE '%hi%'"), like(true, true));
}

#[test]
fn is_null_and_is_not_null() {
    assert_eq!(
        filter("error IS NULL"),
        Expr::IsNull {
            expr: Box::new(f("error")),
            negated: false
        }
    );
    assert_eq!(
        filter("error is not null"),
        Expr::IsNull {
            expr: Box::new(f("error")),
            negated: true
        }
    );
    assert_eq!(filter("NOT error IS NULL"), filter("error IS NOT NULL"));
}

#[test]
fn full_text_match_forms() {
    assert_eq!(
        filter("MATCH 'timeout error'"),
        Expr::Match {
            field: None,
            text: "timeout error".into()
        }
    );
    assert_eq!(
        filter("input match 'hello'"),
        Expr::Match {
            field: Some(vec!["input".into()]),
            text: "hello".into()
        }
    );
    assert_eq!(
        filter("match 'a' and metadata.note MATCH 'b'"),
        bin(
            BinaryOp::And,
            Expr::Match {
                field: None,
                text: "a".into()
            },
            Expr::Match {
                field: Some(vec!["metadata".into(), "note".into()]),
                text: "b".into()
            }
        )
    );
}

#[test]
fn regex_operators() {
    let regex = |case_insensitive| Expr::Regex {
        expr: Box::new(f("output")),
        pattern: "^err(or)?[0-9]+$".into(),
        case_insensitive,
    };
    assert_eq!(filter("output ~ '^err(or)?[0-9]+$'"), regex(false));
    assert_eq!(filter("output ~* '^err(or)?[0-9]+$'"), regex(true));
    assert_eq!(filter("output !~ '^err(or)?[0-9]+$'"), not(regex(false)));
    assert_eq!(filter("output !~* '^err(or)?[0-9]+$'"), not(regex(true)));
}

#[test]
fn field_paths_with_quoted_segments() {
    assert_eq!(
        filter("metadata.user.id = 1"),
        bin(BinaryOp::Eq, f("metadata.user.id"), i(1))
    );
    assert_eq!(
        filter("scores.Factuality > 0.5"),
        bin(BinaryOp::Gt, f("scores.Factuality"), fl(0.5))
    );
    let quoted = Expr::field(["metadata", "user id", "x"]);
    assert_eq!(
        filter("metadata.\"user id\".x = 1"),
        bin(BinaryOp::Eq, quoted.clone(), i(1))
    );
    assert_eq!(
        filter("metadata.`user id`.x = 1"),
        bin(BinaryOp::Eq, quoted, i(1))
    );
    assert_eq!(filter("\"order\" = 1"), bin(BinaryOp::Eq, f("order"), i(1)));
    assert_eq!(
        filter("\"a.b\" = 1"),
        bin(BinaryOp::Eq, Expr::field(["a.b"]), i(1))
    );
    assert_eq!(
        filter("tags.0 = 'x'"),
        bin(BinaryOp::Eq, Expr::field(["tags", "0"]), s("x"))
    );
}

#[test]
fn literal_kinds() {
    assert_eq!(
        filter("a = true"),
        bin(BinaryOp::Eq, f("a"), Expr::Literal(Literal::Bool(true)))
    );
    assert_eq!(
        filter("a = FALSE"),
        bin(BinaryOp::Eq, f("a"), Expr::Literal(Literal::Bool(false)))
    );
    assert_eq!(
        filter("a = null"),
        bin(BinaryOp::Eq, f("a"), Expr::Literal(Literal::Null))
    );
    assert_eq!(filter("a = 1.5e3"), bin(BinaryOp::Eq, f("a"), fl(1500.0)));
    assert_eq!(filter("a = 'it''s'"), bin(BinaryOp::Eq, f("a"), s("it's")));
    assert_eq!(filter("a = ''"), bin(BinaryOp::Eq, f("a"), s("")));
}

#[test]
fn intervals_now_and_timestamps() {
    let day = Expr::Interval {
        amount: 1.0,
        unit: IntervalUnit::Day,
    };
    assert_eq!(
        filter("created > now() - interval 1 day"),
        bin(
            BinaryOp::Gt,
            f("created"),
            bin(BinaryOp::Sub, Expr::Now, day.clone())
        )
    );
    assert_eq!(
        filter("created > NOW() - INTERVAL '1 day'"),
        filter("created > now() - interval 1 day")
    );
    for (unit_text, unit) in [
        ("second", IntervalUnit::Second),
        ("seconds", IntervalUnit::Second),
        ("minute", IntervalUnit::Minute),
        ("minutes", IntervalUnit::Minute),
        ("hour", IntervalUnit::Hour),
        ("hours", IntervalUnit::Hour),
        ("day", IntervalUnit::Day),
        ("days", IntervalUnit::Day),
        ("week", IntervalUnit::Week),
        ("weeks", IntervalUnit::Week),
    ] {
        assert_eq!(
            filter(&format!("created > now() - interval 3 {unit_text}")),
            bin(
                BinaryOp::Gt,
                f("created"),
                bin(
                    BinaryOp::Sub,
                    Expr::Now,
                    Expr::Interval { amount: 3.0, unit }
                )
            ),
            "{unit_text}"
        );
    }
    assert_eq!(
        filter("created >= '2026-11-01T00:00:00Z'"),
        bin(BinaryOp::Ge, f("created"), s("2026-11-01T00:00:00Z"))
    );
    assert_eq!(
        filter("metrics.end - metrics.start > interval 1.5 hours"),
        bin(
            BinaryOp::Gt,
            bin(BinaryOp::Sub, f("metrics.end"), f("metrics.start")),
            Expr::Interval {
                amount: 1.5,
                unit: IntervalUnit::Hour
            }
        )
    );
}

#[test]
fn injection_looking_strings_stay_literals() {
    assert_eq!(
        filter("input = 'x''; DROP TABLE spans; --'"),
        bin(BinaryOp::Eq, f("input"), s("x'; DROP TABLE spans; --"))
    );
    assert_eq!(
        filter("input LIKE '%'' OR 1=1 --%'"),
        Expr::Like {
            expr: Box::new(f("input")),
            pattern: Box::new(s("%' OR 1=1 --%")),
            case_insensitive: false,
            negated: false
        }
    );
    let q =
        text("SELECT * FROM project_logs('p''); DELETE FROM spans; --') WHERE \"a\"\"b\" = 'c'");
    assert_eq!(q.source.id, "p'); DELETE FROM spans; --");
    assert_eq!(
        q.filter,
        Some(bin(BinaryOp::Eq, Expr::field(["a\"b"]), s("c")))
    );
}

#[test]
fn count_of_a_constant_is_count_star() {
    let star = Expr::Call {
        name: Function::Count,
        args: vec![Expr::Star],
    };
    for call in ["count(*)", "count(1)", "COUNT('x')", "count(true)"] {
        let q = text(&format!("SELECT {call} FROM project_logs('p')"));
        assert_eq!(q.measures[0].expr, star, "{call}");
    }
    let q = text("SELECT count(null) FROM project_logs('p')");
    assert_ne!(q.measures[0].expr, star);
}

#[test]
fn percentile_fraction_becomes_float() {
    let q = text("SELECT percentile(x, 1) AS p FROM project_logs('p')");
    assert_eq!(
        q.measures[0].expr,
        Expr::Call {
            name: Function::Percentile,
            args: vec![f("x"), fl(1.0)]
        }
    );
}

#[test]
fn output_names() {
    let q = text(
        "SELECT metadata.model, input AS i, count(*) + 1 > 2 FROM project_logs('p') GROUP BY metadata.model, input",
    );
    let names: Vec<String> = q
        .dimensions
        .iter()
        .chain(&q.measures)
        .map(SelectItem::output_name)
        .collect();
    assert_eq!(names, ["model", "i", "count(*) + 1 > 2"]);
    let q = text("SELECT metadata.\"a b\" FROM project_logs('p')");
    let Selection::Items(items) = q.select else {
        panic!("items")
    };
    assert_eq!(items[0].output_name(), "a b");
}

#[test]
fn rendering_adds_only_needed_parentheses() {
    assert_eq!(
        filter("(a or b) and not (c = 1)").to_string(),
        "(a OR b) AND NOT c = 1"
    );
    assert_eq!(filter("x = (1 + 2) * -y").to_string(), "x = (1 + 2) * -y");
    assert_eq!(filter("x - (y - z) = 1").to_string(), "x - (y - z) = 1");
    assert_eq!(filter("(a = b) = c").to_string(), "(a = b) = c");
}
