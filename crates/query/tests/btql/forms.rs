//! The three input forms of the same query give equal plans.

use serde_json::json;

use crate::support::{json, text};

#[test]
fn three_forms_same_row_query() {
    let sql = text(
        "SELECT id, input, output FROM project_logs('p1') WHERE span_id = 'abc' AND metadata.\"user id\" IN ('u1', 'u2') ORDER BY created DESC LIMIT 10",
    );
    let clause = text(
        "select: id, input, output | from: project_logs('p1') spans | filter: span_id = 'abc' and metadata.`user id` in ('u1', 'u2') | sort: created desc | limit: 10",
    );
    let ast = json(json!({
        "select": [
            {"alias": "id", "expr": {"op": "ident", "name": ["id"]}},
            {"alias": "input", "expr": {"op": "ident", "name": ["input"]}},
            {"alias": "output", "expr": {"op": "ident", "name": ["output"]}}
        ],
        "from": {"op": "function", "name": {"op": "ident", "name": ["project_logs"]},
                 "args": [{"op": "literal", "value": "p1"}], "shape": "spans"},
        "filter": {"op": "and", "children": [
            {"op": "eq", "left": {"op": "ident", "name": ["span_id"]}, "right": {"op": "literal", "value": "abc"}},
            {"op": "in", "left": {"op": "ident", "name": ["metadata", "user id"]},
             "right": {"op": "literal", "value": ["u1", "u2"]}}
        ]},
        "sort": [{"expr": {"op": "ident", "name": ["created"]}, "dir": "desc"}],
        "limit": 10,
        "cursor": null
    }));
    assert_eq!(sql, clause);
    assert_eq!(sql, ast);
}

#[test]
fn three_forms_same_aggregate_query() {
    let sql = text(
        "SELECT model, count(*) AS n, percentile(metrics.end - metrics.start, 0.95) AS p95 FROM project_logs('p1') traces WHERE created > now() - interval 1 day GROUP BY metadata.model ORDER BY n DESC LIMIT 20",
    );
    let clause = text(
        "dimensions: metadata.model\nmeasures: count(1) as n, percentile(metrics.end - metrics.start, 0.95) as p95\nfrom: project_logs('p1') traces\nfilter: created > now() - interval 24 hours / 24\nsort: n desc\nlimit: 20",
    );
    // `interval 24 hours / 24` is not `interval 1 day`: make sure the comparison is real.
    assert_ne!(sql, clause);
    let clause = text(
        "dimensions: metadata.model\nmeasures: count(1) as n, percentile(metrics.end - metrics.start, 0.95) as p95\nfrom: project_logs('p1') traces\nfilter: created > now() - interval 1 days\nsort: n desc\nlimit: 20",
    );
    let ast = json(json!({
        "query": {
            "from": {"op": "function", "name": {"op": "ident", "name": ["project_logs"]},
                     "args": [{"op": "literal", "value": "p1"}], "shape": "traces"},
            "filter": {"op": "gt", "left": {"op": "ident", "name": ["created"]},
                       "right": {"op": "sub", "left": {"op": "function", "name": {"op": "ident", "name": ["now"]}, "args": []},
                                 "right": {"op": "interval", "value": 1, "unit": "day"}}},
            "dimensions": [{"alias": "model", "expr": {"op": "ident", "name": ["metadata", "model"]}}],
            "measures": [
                {"alias": "n", "expr": {"op": "function", "name": {"op": "ident", "name": ["count"]}, "args": [{"op": "star"}]}},
                {"alias": "p95", "expr": {"op": "function", "name": {"op": "ident", "name": ["percentile"]},
                    "args": [{"op": "sub", "left": {"op": "ident", "name": ["metrics", "end"]},
                              "right": {"op": "ident", "name": ["metrics", "start"]}},
                             {"op": "literal", "value": 0.95}]}}
            ],
            "sort": [{"expr": {"op": "ident", "name": ["n"]}, "dir": "desc"}],
            "limit": 20
        },
        "fmt": "json"
    }));
    assert_eq!(sql, clause);
    assert_eq!(sql, ast);
}

#[test]
fn sql_and_clause_same_for_every_source() {
    for source in ["project_logs('x')", "experiment('x')", "dataset('x')"] {
        let sql = text(&format!(
            "SELECT * FROM {source} WHERE tags IS NOT NULL LIMIT 1"
        ));
        let clause = text(&format!(
            "select: * | from: {source} | filter: tags IS NOT NULL | limit: 1"
        ));
        assert_eq!(sql, clause, "{source}");
    }
}
