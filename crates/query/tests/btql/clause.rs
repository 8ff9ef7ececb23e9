//! Clause syntax.

use spanloom_model::ObjectKind;
use spanloom_query::plan::{BinaryOp, Expr, Function, Selection, Shape, SortKey};

use crate::support::{aliased, bin, f, fl, i, item, s, text};

#[test]
fn clause_full_example() {
    let q = text(
        "select: * | from: project_logs('p1') spans | filter: metadata.user_id = 'u1' and error IS NOT NULL | sort: created desc | limit: 50 | cursor: 'opaque=='",
    );
    assert_eq!(q.source.kind, ObjectKind::ProjectLogs);
    assert_eq!(q.source.id, "p1");
    assert_eq!(q.shape, Shape::Spans);
    assert_eq!(q.select, Selection::Star);
    assert_eq!(
        q.filter,
        Some(bin(
            BinaryOp::And,
            bin(BinaryOp::Eq, f("metadata.user_id"), s("u1")),
            Expr::IsNull {
                expr: Box::new(f("error")),
                negated: true
            }
        ))
    );
    assert_eq!(
        q.sort,
        vec![SortKey {
            expr: f("created"),
            descending: true
        }]
    );
    assert_eq!(q.limit, Some(50));
    assert_eq!(q.cursor.as_deref(), Some("opaque=="));
}

#[test]
fn clause_order_does_not_matter() {
    let a = text("select: id | from: experiment('e') | filter: x > 1 | limit: 3");
    let b = text("limit: 3 | filter: x > 1 | from: experiment('e') | select: id");
    assert_eq!(a, b);
}

#[test]
fn clause_newlines_separate_clauses() {
    let piped = text(
        "select: id, input | from: project_logs('p') traces | filter: a = 1 | sort: created desc | limit: 5",
    );
    let lines = text(
        "select: id, input\nfrom: project_logs('p') traces\n-- comment line\nfilter: a = 1\n  sort: created desc\nlimit: 5\n",
    );
    assert_eq!(piped, lines);
    // Mixed, and a body that continues on the next line.
    let mixed = text(
        "select: id,\n  input | from: project_logs('p') traces\nfilter: a\n  = 1 | sort: created desc\nlimit: 5",
    );
    assert_eq!(piped, mixed);
}

#[test]
fn clause_dimensions_and_measures() {
    let q = text(
        "from: project_logs('p') | dimensions: metadata.model, span_attributes.type as type | measures: count(1) as n, percentile(metrics.end - metrics.start, 0.95) as p95 | sort: n desc",
    );
    assert!(q.is_aggregate());
    assert_eq!(q.select, Selection::Items(vec![]));
    assert_eq!(
        q.dimensions,
        vec![item(f("metadata.model")), item(f("span_attributes.type"))]
    );
    assert_eq!(q.dimensions[1].output_name(), "type");
    assert_eq!(
        q.measures,
        vec![
            aliased(
                Expr::Call {
                    name: Function::Count,
                    args: vec![Expr::Star]
                },
                "n"
            ),
            aliased(
                Expr::Call {
                    name: Function::Percentile,
                    args: vec![
                        bin(BinaryOp::Sub, f("metrics.end"), f("metrics.start")),
                        fl(0.95)
                    ],
                },
                "p95"
            ),
        ]
    );
    assert_eq!(
        q.sort,
        vec![SortKey {
            expr: f("n"),
            descending: true
        }]
    );
}

#[test]
fn clause_measures_alone() {
    let q = text("from: dataset('d') | measures: count(*) as rows");
    assert!(q.dimensions.is_empty());
    assert_eq!(q.measures[0].output_name(), "rows");
}

#[test]
fn clause_select_defaults_to_star() {
    let q = text("from: project_logs('p')");
    assert_eq!(q.select, Selection::Star);
    assert_eq!(q.shape, Shape::Spans);
}

#[test]
fn clause_names_are_case_insensitive() {
    let a = text("SELECT: id | FROM: project_logs('p') | FILTER: x = 1 | LIMIT: 1");
    let b = text("select: id | from: project_logs('p') | filter: x = 1 | limit: 1");
    assert_eq!(a, b);
}

#[test]
fn clause_select_with_aggregates_becomes_measures() {
    let q = text("select: count(*) as n | from: project_logs('p')");
    let r = text("measures: count(*) as n | from: project_logs('p')");
    assert_eq!(q, r);
}

#[test]
fn clause_keyword_like_segments_inside_paths() {
    let q =
        text("from: project_logs('p') | filter: metadata.limit = 1 and metadata.select.from = 2");
    assert_eq!(
        q.filter,
        Some(bin(
            BinaryOp::And,
            bin(BinaryOp::Eq, f("metadata.limit"), i(1)),
            bin(BinaryOp::Eq, f("metadata.select.from"), i(2))
        ))
    );
}
