//! The JSON AST posted by the SDKs.

use serde_json::json;
use spanloom_model::ObjectKind;
use spanloom_query::plan::{
    BinaryOp, Expr, Function, IntervalUnit, Literal, Selection, Shape, SortKey,
};

use crate::support::{aliased, bin, f, fl, i, item, json, s, text};

fn ident(path: &[&str]) -> serde_json::Value {
    json!({"op": "ident", "name": path})
}

fn lit(value: serde_json::Value) -> serde_json::Value {
    json!({"op": "literal", "value": value})
}

fn logs(id: &str) -> serde_json::Value {
    json!({"op": "function", "name": ident(&["project_logs"]), "args": [lit(json!(id))]})
}

/// A query object whose filter is `filter`.
fn with_filter(filter: serde_json::Value) -> Expr {
    json(json!({"select": [{"op": "star"}], "from": logs("p"), "filter": filter}))
        .filter
        .expect("has a filter")
}

#[test]
fn json_sdk_scorer_trace_fetch() {
    let q = json(json!({
        "select": [{"op": "star"}],
        "from": {"op": "function", "name": {"op": "ident", "name": ["project_logs"]},
                 "args": [{"op": "literal", "value": "proj-1"}]},
        "filter": {"op": "and", "children": [
            {"op": "eq", "left": {"op": "ident", "name": ["root_span_id"]},
             "right": {"op": "literal", "value": "abc"}},
            {"op": "or", "children": [
                {"op": "isnull", "expr": {"op": "ident", "name": ["span_attributes", "purpose"]}},
                {"op": "ne", "left": {"op": "ident", "name": ["span_attributes", "purpose"]},
                 "right": {"op": "literal", "value": "scorer"}}
            ]}
        ]},
        "cursor": null,
        "limit": 1000
    }));
    assert_eq!(q.source.kind, ObjectKind::ProjectLogs);
    assert_eq!(q.source.id, "proj-1");
    assert_eq!(q.select, Selection::Star);
    assert_eq!(q.limit, Some(1000));
    assert_eq!(q.cursor, None);
    let purpose = f("span_attributes.purpose");
    let expected = bin(
        BinaryOp::And,
        bin(BinaryOp::Eq, f("root_span_id"), s("abc")),
        bin(
            BinaryOp::Or,
            Expr::IsNull {
                expr: Box::new(purpose.clone()),
                negated: false,
            },
            bin(BinaryOp::Ne, purpose, s("scorer")),
        ),
    );
    assert_eq!(q.filter, Some(expected));
    // The same query as text.
    let same = text(
        "select: * | from: project_logs('proj-1') | filter: root_span_id = 'abc' and (span_attributes.purpose IS NULL or span_attributes.purpose != 'scorer') | limit: 1000",
    );
    assert_eq!(q, same);
}

#[test]
fn json_request_body_options_are_ignored() {
    let bare = json(json!({"select": [{"op": "star"}], "from": logs("p"), "limit": 10}));
    let body = json(json!({
        "query": {"select": [{"op": "star"}], "from": logs("p"), "limit": 10,
                  "preview_length": 100, "custom_columns": null},
        "use_columnstore": false, "brainstore_realtime": true, "query_source": "sdk",
        "audit_log": false, "version": 3, "fmt": "json"
    }));
    assert_eq!(bare, body);
}

#[test]
fn json_query_string_is_parsed_as_text() {
    let q =
        json(json!({"query": "select: id | from: project_logs('p') | limit: 2", "fmt": "json"}));
    assert_eq!(q, text("SELECT id FROM project_logs('p') LIMIT 2"));
}

#[test]
fn json_select_items_with_aliases() {
    let q = json(json!({
        "select": [
            {"alias": "id", "expr": ident(&["id"])},
            {"alias": "model", "expr": ident(&["metadata", "model"])},
            {"alias": "m2", "expr": ident(&["metadata", "model"])},
            ident(&["input"])
        ],
        "from": logs("p")
    }));
    assert_eq!(
        q.select,
        Selection::Items(vec![
            item(f("id")),
            item(f("metadata.model")),
            aliased(f("metadata.model"), "m2"),
            item(f("input")),
        ])
    );
}

#[test]
fn json_shape_and_other_sources() {
    let mut from = logs("p");
    from["shape"] = json!("traces");
    assert_eq!(json(json!({"from": from})).shape, Shape::Traces);
    let q = json(
        json!({"from": {"op": "function", "name": ident(&["experiment"]), "args": [lit(json!("e"))], "shape": null}}),
    );
    assert_eq!(q.source.kind, ObjectKind::Experiment);
    assert_eq!(q.shape, Shape::Spans);
    assert_eq!(q.select, Selection::Star);
}

#[test]
fn json_dimensions_measures_and_sort() {
    let q = json(json!({
        "from": logs("p"),
        "dimensions": [{"alias": "model", "expr": ident(&["metadata", "model"])}],
        "measures": [
            {"alias": "n", "expr": {"op": "function", "name": ident(&["count"]), "args": [{"op": "star"}]}},
            {"alias": "p95", "expr": {"op": "function", "name": ident(&["percentile"]),
             "args": [{"op": "sub", "left": ident(&["metrics", "end"]), "right": ident(&["metrics", "start"])}, lit(json!(0.95))]}}
        ],
        "sort": [{"expr": ident(&["n"]), "dir": "desc"}, {"expr": ident(&["model"]), "dir": "asc"}]
    }));
    assert_eq!(q.dimensions, vec![item(f("metadata.model"))]);
    assert_eq!(
        q.measures[0],
        aliased(
            Expr::Call {
                name: Function::Count,
                args: vec![Expr::Star]
            },
            "n"
        )
    );
    assert_eq!(
        q.measures[1].expr,
        Expr::Call {
            name: Function::Percentile,
            args: vec![
                bin(BinaryOp::Sub, f("metrics.end"), f("metrics.start")),
                fl(0.95)
            ]
        }
    );
    assert_eq!(
        q.sort,
        vec![
            SortKey {
                expr: f("n"),
                descending: true
            },
            SortKey {
                expr: f("model"),
                descending: false
            }
        ]
    );
}

#[test]
fn json_comparison_and_arithmetic_ops() {
    let x = || ident(&["x"]);
    for (op, expected) in [
        ("eq", BinaryOp::Eq),
        ("ne", BinaryOp::Ne),
        ("lt", BinaryOp::Lt),
        ("le", BinaryOp::Le),
        ("gt", BinaryOp::Gt),
        ("ge", BinaryOp::Ge),
    ] {
        let got = with_filter(json!({"op": op, "left": x(), "right": lit(json!(1))}));
        assert_eq!(got, bin(expected, f("x"), i(1)), "{op}");
    }
    let arith = json!({"op": "gt", "left": {"op": "add", "left": x(),
        "right": {"op": "mul", "left": lit(json!(2)), "right": {"op": "div", "left": x(), "right": lit(json!(4))}}},
        "right": {"op": "sub", "left": {"op": "neg", "expr": lit(json!(1))}, "right": {"op": "neg", "expr": x()}}});
    assert_eq!(
        with_filter(arith),
        crate::support::filter("x + 2 * (x / 4) > -1 - -x")
    );
}

#[test]
fn json_predicates() {
    let x = || ident(&["x"]);
    assert_eq!(
        with_filter(json!({"op": "in", "left": x(), "right": lit(json!(["a", 1, null]))})),
        Expr::In {
            expr: Box::new(f("x")),
            list: vec![s("a"), i(1), Expr::Literal(Literal::Null)],
            negated: false
        }
    );
    assert_eq!(
        with_filter(
            json!({"op": "not", "expr": {"op": "in", "left": x(), "right": lit(json!(["a"]))}})
        ),
        crate::support::filter("x NOT IN ('a')")
    );
    assert_eq!(
        with_filter(json!({"op": "ilike", "left": x(), "right": lit(json!("%a%"))})),
        crate::support::filter("x ILIKE '%a%'")
    );
    assert_eq!(
        with_filter(json!({"op": "like", "left": x(), "right": lit(json!("a_"))})),
        crate::support::filter("x LIKE 'a_'")
    );
    assert_eq!(
        with_filter(json!({"op": "isnotnull", "expr": x()})),
        crate::support::filter("x IS NOT NULL")
    );
    assert_eq!(
        with_filter(json!({"op": "is", "left": x(), "right": lit(json!(null))})),
        crate::support::filter("x IS NULL")
    );
    assert_eq!(
        with_filter(
            json!({"op": "match", "left": ident(&["input"]), "right": lit(json!("hello world"))})
        ),
        Expr::Match {
            field: Some(vec!["input".to_string()]),
            text: "hello world".to_string()
        }
    );
    assert_eq!(
        with_filter(json!({"op": "match", "left": {"op": "star"}, "right": lit(json!("hi"))})),
        crate::support::filter("MATCH 'hi'")
    );
}

#[test]
fn json_and_or_forms() {
    let a = json!({"op": "eq", "left": ident(&["a"]), "right": lit(json!(1))});
    let b = json!({"op": "eq", "left": ident(&["b"]), "right": lit(json!(2))});
    let c = json!({"op": "eq", "left": ident(&["c"]), "right": lit(json!(3))});
    assert_eq!(
        with_filter(json!({"op": "and", "children": [a, b, c]})),
        crate::support::filter("a = 1 and b = 2 and c = 3")
    );
    assert_eq!(
        with_filter(json!({"op": "or", "left": a, "right": b})),
        crate::support::filter("a = 1 or b = 2")
    );
    assert_eq!(
        with_filter(json!({"op": "and", "children": [a]})),
        crate::support::filter("a = 1")
    );
    assert_eq!(
        with_filter(json!({"op": "and", "children": []})),
        Expr::Literal(Literal::Bool(true))
    );
    assert_eq!(
        with_filter(json!({"op": "or", "children": []})),
        Expr::Literal(Literal::Bool(false))
    );
}

#[test]
fn json_time_literals() {
    let filter = json!({"op": "gt", "left": ident(&["created"]),
        "right": {"op": "sub", "left": {"op": "function", "name": ident(&["now"]), "args": []},
                  "right": {"op": "interval", "value": 1, "unit": "day"}}});
    assert_eq!(
        with_filter(filter),
        bin(
            BinaryOp::Gt,
            f("created"),
            bin(
                BinaryOp::Sub,
                Expr::Now,
                Expr::Interval {
                    amount: 1.0,
                    unit: IntervalUnit::Day
                }
            )
        )
    );
    let ts = json!({"op": "ge", "left": ident(&["created"]), "right": lit(json!("2026-11-01T00:00:00Z"))});
    assert_eq!(
        with_filter(ts),
        bin(BinaryOp::Ge, f("created"), s("2026-11-01T00:00:00Z"))
    );
}

#[test]
fn json_literal_kinds_and_numeric_ident_segments() {
    let filter = json!({"op": "and", "children": [
        {"op": "eq", "left": ident(&["a"]), "right": lit(json!(true))},
        {"op": "eq", "left": ident(&["b"]), "right": lit(json!(2.5))},
        {"op": "eq", "left": {"op": "ident", "name": ["tags", 0]}, "right": lit(json!("x"))}
    ]});
    assert_eq!(
        with_filter(filter),
        crate::support::filter("a = true and b = 2.5 and tags.0 = 'x'")
    );
}

#[test]
fn json_btql_snippet_filter() {
    let q = json(
        json!({"from": logs("p"), "filter": {"btql": "metadata.user_id = 'u1' and error IS NULL"}}),
    );
    assert_eq!(
        q.filter,
        Some(crate::support::filter(
            "metadata.user_id = 'u1' and error IS NULL"
        ))
    );
}

#[test]
fn json_count_one_and_function_arg_aliases() {
    let q = json(json!({"from": logs("p"), "measures": [
        {"alias": "n", "expr": {"op": "function", "name": ident(&["count"]), "args": [lit(json!(1))]}},
        {"alias": "t", "expr": {"op": "function", "name": ident(&["sum"]),
            "args": [{"alias": "x", "expr": ident(&["metrics", "tokens"])}]}}
    ]}));
    assert_eq!(
        q,
        text("from: project_logs('p') | measures: count(*) as n, sum(metrics.tokens) as t")
    );
}
