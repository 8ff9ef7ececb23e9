//! SQL syntax.

use spanloom_model::ObjectKind;
use spanloom_query::plan::{BinaryOp, Expr, Function, Selection, Shape, SortKey, Source};

use crate::support::{aliased, bin, f, fl, i, item, s, text};

fn count_star() -> Expr {
    Expr::Call {
        name: Function::Count,
        args: vec![Expr::Star],
    }
}

#[test]
fn sql_select_fields_where_order_limit() {
    let q = text(
        "SELECT id, input, output FROM project_logs('p1') WHERE span_id = 'abc' ORDER BY created DESC LIMIT 10",
    );
    assert_eq!(
        q.source,
        Source {
            kind: ObjectKind::ProjectLogs,
            id: "p1".to_string()
        }
    );
    assert_eq!(q.shape, Shape::Spans);
    assert_eq!(
        q.select,
        Selection::Items(vec![item(f("id")), item(f("input")), item(f("output"))])
    );
    assert_eq!(q.filter, Some(bin(BinaryOp::Eq, f("span_id"), s("abc"))));
    assert_eq!(
        q.sort,
        vec![SortKey {
            expr: f("created"),
            descending: true
        }]
    );
    assert_eq!(q.limit, Some(10));
    assert_eq!(q.cursor, None);
    assert!(!q.is_aggregate());
}

#[test]
fn sql_select_star_defaults() {
    let q = text("SELECT * FROM project_logs('p1')");
    assert_eq!(q.select, Selection::Star);
    assert_eq!(q.shape, Shape::Spans);
    assert_eq!(q.filter, None);
    assert_eq!(q.limit, None);
    assert!(q.sort.is_empty() && q.dimensions.is_empty() && q.measures.is_empty());
}

#[test]
fn sql_keywords_are_case_insensitive() {
    let upper = text(
        "SELECT * FROM project_logs('p') WHERE a IS NOT NULL AND b IN (1) ORDER BY c ASC LIMIT 1",
    );
    let lower = text(
        "select * from PROJECT_LOGS('p') where a is not null and b in (1) order by c asc limit 1",
    );
    let mixed = text(
        "SeLeCt * FrOm project_logs('p') WhErE a Is NoT nUlL aNd b In (1) OrDeR bY c AsC lImIt 1",
    );
    assert_eq!(upper, lower);
    assert_eq!(upper, mixed);
}

#[test]
fn sql_sources_and_shapes() {
    let q = text("SELECT * FROM experiment('e1')");
    assert_eq!(q.source.kind, ObjectKind::Experiment);
    assert_eq!(q.source.id, "e1");
    let q = text("SELECT * FROM dataset('d1') spans");
    assert_eq!(q.source.kind, ObjectKind::Dataset);
    assert_eq!(q.shape, Shape::Spans);
    let q = text("SELECT * FROM project_logs('p1') traces WHERE error IS NOT NULL");
    assert_eq!(q.shape, Shape::Traces);
    assert!(q.filter.is_some());
    let q = text("SELECT * FROM project_logs('p1') TRACES");
    assert_eq!(q.shape, Shape::Traces);
}

#[test]
fn sql_aliases() {
    let q =
        text("SELECT metadata.model AS m, input AS \"the input\", id AS id FROM project_logs('p')");
    assert_eq!(
        q.select,
        Selection::Items(vec![
            aliased(f("metadata.model"), "m"),
            aliased(f("input"), "the input"),
            item(f("id")),
        ])
    );
}

#[test]
fn sql_group_by_resolves_select_names() {
    let q = text(
        "SELECT model, count(*) AS n FROM project_logs('p') GROUP BY metadata.model ORDER BY n DESC",
    );
    assert!(q.is_aggregate());
    assert_eq!(q.select, Selection::Items(vec![]));
    assert_eq!(q.dimensions, vec![item(f("metadata.model"))]);
    assert_eq!(q.measures, vec![aliased(count_star(), "n")]);
    assert_eq!(q.dimensions[0].output_name(), "model");
    assert_eq!(
        q.sort,
        vec![SortKey {
            expr: f("n"),
            descending: true
        }]
    );
}

#[test]
fn sql_group_by_takes_select_aliases() {
    let q =
        text("SELECT metadata.model AS m, count(*) FROM project_logs('p') GROUP BY metadata.model");
    assert_eq!(q.dimensions, vec![aliased(f("metadata.model"), "m")]);
    assert_eq!(q.measures, vec![item(count_star())]);
}

#[test]
fn sql_group_by_alias_and_position() {
    let by_alias =
        text("SELECT metadata.model AS m, count(*) AS n FROM project_logs('p') GROUP BY m");
    let by_position =
        text("SELECT metadata.model AS m, count(*) AS n FROM project_logs('p') GROUP BY 1");
    assert_eq!(by_alias, by_position);
    assert_eq!(by_alias.dimensions, vec![aliased(f("metadata.model"), "m")]);
}

#[test]
fn sql_group_by_keys_not_selected_are_still_dimensions() {
    let q = text(
        "SELECT count(*) AS n FROM project_logs('p') GROUP BY metadata.model, span_attributes.type",
    );
    assert_eq!(
        q.dimensions,
        vec![item(f("metadata.model")), item(f("span_attributes.type"))]
    );
    assert_eq!(q.measures, vec![aliased(count_star(), "n")]);
}

#[test]
fn sql_aggregates_without_group_by_are_measures() {
    let q = text(
        "SELECT count(*), sum(metrics.tokens) AS tokens, avg(scores.Factuality), min(created), max(created) FROM experiment('e')",
    );
    assert!(q.dimensions.is_empty());
    let names: Vec<String> = q.measures.iter().map(|m| m.output_name()).collect();
    assert_eq!(
        names,
        [
            "count(*)",
            "tokens",
            "avg(scores.Factuality)",
            "min(created)",
            "max(created)"
        ]
    );
}

#[test]
fn sql_percentile_and_arithmetic_in_aggregates() {
    let q = text(
        "SELECT percentile(metrics.end - metrics.start, 0.95) AS p95, sum(metrics.prompt_tokens) / count(*) AS avg_tokens FROM project_logs('p')",
    );
    assert_eq!(
        q.measures[0],
        aliased(
            Expr::Call {
                name: Function::Percentile,
                args: vec![
                    bin(BinaryOp::Sub, f("metrics.end"), f("metrics.start")),
                    fl(0.95)
                ],
            },
            "p95"
        )
    );
    assert_eq!(q.measures[1].output_name(), "avg_tokens");
}

#[test]
fn sql_count_expression_keeps_its_argument() {
    let q = text("SELECT count(error) FROM project_logs('p')");
    assert_eq!(
        q.measures,
        vec![item(Expr::Call {
            name: Function::Count,
            args: vec![f("error")]
        })]
    );
}

#[test]
fn sql_order_by_multiple_keys_default_ascending() {
    let q = text("SELECT * FROM project_logs('p') ORDER BY created DESC, id, span_id ASC");
    assert_eq!(
        q.sort,
        vec![
            SortKey {
                expr: f("created"),
                descending: true
            },
            SortKey {
                expr: f("id"),
                descending: false
            },
            SortKey {
                expr: f("span_id"),
                descending: false
            },
        ]
    );
}

#[test]
fn sql_comments_newlines_and_semicolon() {
    let q = text(
        "-- recent errors\nSELECT id -- the row id\n  FROM project_logs('p')\n  WHERE error IS NOT NULL -- only failures\n  LIMIT 5;",
    );
    assert_eq!(q.select, Selection::Items(vec![item(f("id"))]));
    assert_eq!(q.limit, Some(5));
}

#[test]
fn sql_limit_zero() {
    assert_eq!(
        text("SELECT * FROM project_logs('p') LIMIT 0").limit,
        Some(0)
    );
}

#[test]
fn sql_source_id_keeps_quotes_and_case() {
    let q = text("SELECT * FROM project_logs('A''b-C')");
    assert_eq!(q.source.id, "A'b-C");
    let q = text("SELECT * FROM project_logs('x') WHERE i = 1");
    assert_eq!(q.filter, Some(bin(BinaryOp::Eq, f("i"), i(1))));
}
