//! Errors: messages, line/column positions for text, JSON paths for JSON.

use serde_json::json;
use spanloom_query::{ErrorKind, Location, parse_json, parse_text};

use crate::support::{json_err, text_err};

const UNKNOWN_CLAUSE: &str = "unknown clause `filtr`; expected one of select, from, filter, dimensions, measures, sort, limit, cursor";

fn logs() -> serde_json::Value {
    json!({"op": "function", "name": {"op": "ident", "name": ["project_logs"]},
           "args": [{"op": "literal", "value": "p"}]})
}

fn ident(name: &str) -> serde_json::Value {
    json!({"op": "ident", "name": [name]})
}

#[test]
fn error_carries_structured_location_and_kind() {
    let e = parse_text("SELECT FROM project_logs('p')").expect_err("invalid");
    assert_eq!(e.location, Location::Text { line: 1, column: 8 });
    assert_eq!(e.kind, ErrorKind::expected("an expression", "`FROM`"));
    let e = parse_json(&json!({"select": []})).expect_err("invalid");
    assert_eq!(
        e.location,
        Location::Json {
            path: "query.from".into()
        }
    );
    assert_eq!(e.kind, ErrorKind::MissingSource);
}

#[test]
fn error_unknown_clause() {
    assert_eq!(
        text_err("select: id | limit: 5 | filtr: a = 1 | from: project_logs('p')"),
        format!("line 1, col 25: {UNKNOWN_CLAUSE}")
    );
    assert_eq!(
        text_err("filtr: a = 1"),
        format!("line 1, col 1: {UNKNOWN_CLAUSE}")
    );
}

#[test]
fn error_expected_expression() {
    assert_eq!(
        text_err("SELECT FROM project_logs('p')"),
        "line 1, col 8: expected an expression, found `FROM`"
    );
    assert_eq!(
        text_err("select: *\nfrom: project_logs('p')\nfilter: a = = 1"),
        "line 3, col 13: expected an expression, found `=`"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: a = 1 and"),
        "line 1, col 44: expected an expression, found end of input"
    );
}

#[test]
fn error_lexical() {
    assert_eq!(
        text_err("SELECT *\nFROM project_logs('p')\nWHERE a = 'abc"),
        "line 3, col 11: unterminated string"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: metadata.\"user id = 1"),
        "line 1, col 44: unterminated quoted identifier"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: a # 1"),
        "line 1, col 37: unexpected character `#`"
    );
    assert_eq!(
        text_err(""),
        "line 1, col 1: expected a clause such as `select:` or `from:`, found end of input"
    );
}

#[test]
fn error_missing_source() {
    let missing = "missing source; add `from: project_logs('<id>')` (or `FROM ...` in SQL syntax)";
    assert_eq!(
        text_err("select: * | filter: a = 1"),
        format!("line 1, col 26: {missing}")
    );
    assert_eq!(
        text_err("SELECT * WHERE a = 1"),
        "line 1, col 10: expected `FROM`, found `WHERE`"
    );
    assert_eq!(
        json_err(json!({"select": [{"op": "star"}]})),
        format!("query.from: {missing}")
    );
}

#[test]
fn error_bad_source() {
    assert_eq!(
        text_err("SELECT * FROM projects('p')"),
        "line 1, col 15: unknown source `projects`; expected project_logs, experiment or dataset"
    );
    assert_eq!(
        text_err("SELECT * FROM project_logs(42)"),
        "line 1, col 28: the source id must be a string literal, found `42`"
    );
    assert_eq!(
        text_err("SELECT * FROM project_logs(\"p\")"),
        "line 1, col 28: the source id must be a string literal, found `\"p\"`"
    );
    assert_eq!(
        text_err("SELECT * FROM project_logs('p') trace"),
        "line 1, col 33: unknown shape `trace`; expected spans or traces"
    );
    let mut from = logs();
    from["shape"] = json!("summary");
    assert_eq!(
        json_err(json!({"from": from})),
        "query.from.shape: unknown shape `summary`; expected spans or traces"
    );
    let from = json!({"op": "function", "name": {"op": "ident", "name": ["project_logs"]},
                      "args": [{"op": "literal", "value": 7}]});
    assert_eq!(
        json_err(json!({"from": from})),
        "query.from.args[0]: the source id must be a string literal, found `7`"
    );
    let from = json!({"op": "function", "name": {"op": "ident", "name": ["logs"]}, "args": []});
    assert_eq!(
        json_err(json!({"from": from})),
        "query.from.name: unknown source `logs`; expected project_logs, experiment or dataset"
    );
}

#[test]
fn error_invalid_limit() {
    assert_eq!(
        text_err("SELECT * FROM project_logs('p') LIMIT -1"),
        "line 1, col 39: limit must be a non-negative integer, found `-1`"
    );
    assert_eq!(
        text_err("SELECT * FROM project_logs('p') LIMIT 1.5"),
        "line 1, col 39: limit must be a non-negative integer, found `1.5`"
    );
    assert_eq!(
        text_err("from: project_logs('p') | limit: 'ten'"),
        "line 1, col 34: limit must be a non-negative integer, found `'ten'`"
    );
    assert_eq!(
        json_err(json!({"from": logs(), "limit": -5})),
        "query.limit: limit must be a non-negative integer, found `-5`"
    );
    assert_eq!(
        json_err(json!({"from": logs(), "limit": "10"})),
        "query.limit: limit must be a non-negative integer, found the string \"10\""
    );
}

#[test]
fn error_aggregates_where_rows_are_not_grouped() {
    assert_eq!(
        text_err("from: project_logs('p') | filter: count(*) > 1"),
        "line 1, col 35: aggregate `count` is not allowed in filter"
    );
    assert_eq!(
        text_err("SELECT * FROM project_logs('p') WHERE sum(x) > 1"),
        "line 1, col 39: aggregate `sum` is not allowed in WHERE"
    );
    assert_eq!(
        text_err("SELECT sum(count(*)) FROM project_logs('p')"),
        "line 1, col 12: aggregate `count` is not allowed inside another aggregate"
    );
    assert_eq!(
        text_err("dimensions: max(x) | from: project_logs('p')"),
        "line 1, col 13: aggregate `max` is not allowed in dimensions"
    );
    assert_eq!(
        text_err("SELECT id FROM project_logs('p') ORDER BY count(*)"),
        "line 1, col 43: aggregate `count` is not allowed in the sort of a query without dimensions or measures"
    );
    let count = json!({"op": "function", "name": ident("count"), "args": [{"op": "star"}]});
    assert_eq!(
        json_err(
            json!({"from": logs(), "filter": {"op": "gt", "left": count, "right": {"op": "literal", "value": 1}}})
        ),
        "query.filter.left: aggregate `count` is not allowed in filter"
    );
}

#[test]
fn error_grouping() {
    assert_eq!(
        text_err("SELECT id, count(*) FROM project_logs('p')"),
        "line 1, col 8: select item `id` is not an aggregate; with aggregates and no GROUP BY every item must be an aggregate"
    );
    assert_eq!(
        text_err("SELECT input, count(*) FROM project_logs('p') GROUP BY metadata.model"),
        "line 1, col 8: `input` must appear in GROUP BY (dimensions) or be used inside an aggregate"
    );
    assert_eq!(
        text_err("SELECT count(*) + x FROM project_logs('p') GROUP BY y"),
        "line 1, col 8: `x` must appear in GROUP BY (dimensions) or be used inside an aggregate"
    );
    assert_eq!(
        text_err("from: project_logs('p') | measures: x"),
        "line 1, col 37: measure `x` must contain an aggregate such as count(*)"
    );
    assert_eq!(
        text_err("select: id | dimensions: a | from: project_logs('p')"),
        "line 1, col 9: `select` cannot be combined with `dimensions`/`measures`"
    );
    assert_eq!(
        text_err("SELECT * FROM project_logs('p') GROUP BY a"),
        "line 1, col 8: SELECT * cannot be combined with GROUP BY"
    );
    assert_eq!(
        text_err("SELECT count(*) FROM project_logs('p') GROUP BY 2"),
        "line 1, col 49: GROUP BY position 2 is not in the select list"
    );
    assert_eq!(
        text_err("SELECT count(*) AS n FROM project_logs('p') GROUP BY n"),
        "line 1, col 54: cannot group by aggregate `n`"
    );
}

#[test]
fn error_functions() {
    assert_eq!(
        text_err("SELECT median(x) FROM project_logs('p')"),
        "line 1, col 8: unknown function `median`; expected one of count, sum, avg, min, max, percentile, now"
    );
    assert_eq!(
        text_err("SELECT percentile(x, 95) FROM project_logs('p')"),
        "line 1, col 22: percentile's second argument must be a number in [0, 1], found `95`"
    );
    assert_eq!(
        text_err("SELECT percentile(x, y) FROM project_logs('p')"),
        "line 1, col 22: percentile's second argument must be a number in [0, 1], found `y`"
    );
    assert_eq!(
        text_err("SELECT percentile(x) FROM project_logs('p')"),
        "line 1, col 8: `percentile` takes 2 arguments, found 1"
    );
    assert_eq!(
        text_err("SELECT sum(a, b) FROM project_logs('p')"),
        "line 1, col 8: `sum` takes 1 argument, found 2"
    );
    assert_eq!(
        text_err("SELECT sum(*) FROM project_logs('p')"),
        "line 1, col 12: `*` is only allowed as the whole select list or in count(*)"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: created > now(1)"),
        "line 1, col 49: expected `)` (now() takes no arguments), found `1`"
    );
    let pct = json!({"op": "function", "name": ident("percentile"),
                     "args": [ident("x"), {"op": "literal", "value": 1.5}]});
    assert_eq!(
        json_err(json!({"from": logs(), "measures": [{"alias": "p", "expr": pct}]})),
        "query.measures[0].expr.args[1]: percentile's second argument must be a number in [0, 1], found `1.5`"
    );
}

#[test]
fn error_intervals() {
    assert_eq!(
        text_err("from: project_logs('p')\nfilter: created > now() - interval 2 fortnights"),
        "line 2, col 38: unknown interval unit `fortnights`; expected second, minute, hour, day or week"
    );
    assert_eq!(
        text_err("from: project_logs('p')\nfilter: created > now() - interval '2 months'"),
        "line 2, col 36: unknown interval unit `months`; expected second, minute, hour, day or week"
    );
    assert_eq!(
        text_err("from: project_logs('p')\nfilter: created > now() - interval day"),
        "line 2, col 36: expected a number after INTERVAL, found `day`"
    );
    let filter = json!({"op": "gt", "left": ident("created"),
                        "right": {"op": "interval", "value": 1, "unit": "month"}});
    assert_eq!(
        json_err(json!({"from": logs(), "filter": filter})),
        "query.filter.right.unit: unknown interval unit `month`; expected second, minute, hour, day or week"
    );
}

#[test]
fn error_predicates() {
    assert_eq!(
        text_err("from: project_logs('p') | filter: a = b = c"),
        "line 1, col 41: comparisons cannot be chained; add parentheses"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: a IN ()"),
        "line 1, col 41: IN needs at least one value"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: a IS 1"),
        "line 1, col 40: expected `NULL`, found `1`"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: 1 + 2 MATCH 'x'"),
        "line 1, col 35: the left side of MATCH must be a field, found `1 + 2`"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: input MATCH text"),
        "line 1, col 47: the MATCH text must be a string literal, found `text`"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: a ~ b"),
        "line 1, col 39: a regex pattern must be a string literal, found `b`"
    );
    let long = "x".repeat(1025);
    assert_eq!(
        text_err(&format!("from: project_logs('p') | filter: a ~ '{long}'")),
        "line 1, col 39: regex pattern is 1025 bytes; the limit is 1024"
    );
    assert_eq!(
        text_err("from: project_logs('p') | filter: * = 1"),
        "line 1, col 35: `*` is only allowed as the whole select list or in count(*)"
    );
}

#[test]
fn error_clause_structure() {
    assert_eq!(
        text_err("from: project_logs('p') | limit: 1 | limit: 2"),
        "line 1, col 38: duplicate clause `limit`"
    );
    assert_eq!(
        text_err("from: project_logs('p') filter: a = 1"),
        "line 1, col 25: expected `|`, a new clause on a new line, or the end of the query, found `filter`"
    );
    assert_eq!(
        text_err("from project_logs('p')"),
        "line 1, col 6: expected `:` after `from`, found `project_logs`"
    );
    assert_eq!(
        text_err("from: project_logs('p') |"),
        "line 1, col 26: expected a clause such as `select:` or `from:`, found end of input"
    );
    assert_eq!(
        text_err("SELECT *, id FROM project_logs('p')"),
        "line 1, col 9: `*` cannot be combined with other select items"
    );
    assert_eq!(
        text_err("from: project_logs('p') | cursor: 42"),
        "line 1, col 35: cursor must be a string, found `42`"
    );
}

#[test]
fn error_sql_structure() {
    assert_eq!(
        text_err("SELECT * FROM project_logs('p') WHER a = 1"),
        "line 1, col 33: expected WHERE, GROUP BY, ORDER BY, LIMIT, the end of the query, found `WHER`"
    );
    assert_eq!(
        text_err("SELECT * FROM project_logs('p') LIMIT 1 WHERE a = 1"),
        "line 1, col 41: expected the end of the query, found `WHERE`"
    );
    assert_eq!(
        text_err("SELECT * FROM project_logs('p') GROUP BY a HAVING count(*) > 1"),
        "line 1, col 44: HAVING is not supported"
    );
    assert_eq!(
        text_err("WITH t AS (SELECT 1) SELECT * FROM t"),
        "line 1, col 1: WITH (common table expressions) is not supported"
    );
    assert_eq!(
        text_err("SELECT * FROM project_logs('p') OFFSET 10"),
        "line 1, col 33: OFFSET (use a cursor) is not supported"
    );
}

#[test]
fn error_json_paths() {
    let filter = json!({"op": "and", "children": [
        {"op": "eq", "left": ident("a"), "right": {"op": "literal", "value": 1}},
        {"op": "eqq", "left": ident("b"), "right": {"op": "literal", "value": 2}}
    ]});
    assert_eq!(
        json_err(json!({"query": {"from": logs(), "filter": filter}})),
        "query.filter.children[1].op: unknown op \"eqq\""
    );
    assert_eq!(
        json_err(json!({"from": logs(), "filter": {"op": "eq", "left": ident("a")}})),
        "query.filter: missing key \"right\""
    );
    assert_eq!(
        json_err(json!({"from": logs(), "filter": {"left": ident("a")}})),
        "query.filter: missing key \"op\""
    );
    assert_eq!(
        json_err(
            json!({"from": logs(), "filter": {"op": "includes", "haystack": ident("a"), "needle": ident("b")}})
        ),
        "query.filter.op: unsupported op \"includes\""
    );
    assert_eq!(
        json_err(json!({"from": logs(), "select": {"op": "star"}})),
        "query.select: expected an array, found an object"
    );
    assert_eq!(
        json_err(
            json!({"from": logs(), "filter": {"op": "in", "left": ident("a"), "right": ident("b")}})
        ),
        "query.filter.right: expected a literal array, found an object"
    );
    assert_eq!(
        json_err(
            json!({"from": logs(), "filter": {"op": "eq", "left": {"op": "ident", "name": []}, "right": ident("b")}})
        ),
        "query.filter.left.name: expected at least one name segment, found an empty list"
    );
    assert_eq!(
        json_err(json!({"from": logs(), "sort": [{"expr": ident("a"), "dir": "up"}]})),
        "query.sort[0].dir: unknown sort direction \"up\"; expected \"asc\" or \"desc\""
    );
    assert_eq!(
        json_err(json!({"from": logs(), "span_filter": {"op": "literal", "value": true}})),
        "query.span_filter: `span_filter` is not supported"
    );
    assert_eq!(
        json_err(json!({"from": logs(), "filter": {"btql": "a = = 1"}})),
        "query.filter.btql: line 1, col 5 of the btql snippet: expected an expression, found `=`"
    );
    assert_eq!(
        json_err(json!([1])),
        "query: expected an object, found an array"
    );
    assert_eq!(
        json_err(json!({"query": 5})),
        "query: expected an object or a BTQL string, found `5`"
    );
    assert_eq!(
        json_err(json!({"query": "select: * | frm: x"})),
        format!(
            "line 1, col 13: unknown clause `frm`; expected one of select, from, filter, dimensions, measures, sort, limit, cursor"
        )
    );
}

#[test]
fn error_expressions_nested_too_deeply() {
    let parens = format!(
        "from: project_logs('p') | filter: {}a{}",
        "(".repeat(100),
        ")".repeat(100)
    );
    assert_eq!(
        text_err(&parens),
        "line 1, col 67: expression is nested too deeply (the limit is 32 levels)"
    );
    crate::support::filter(&format!("{}a{}", "(".repeat(31), ")".repeat(31)));
    let ok_chain = vec!["a = 1"; 200].join(" or ");
    crate::support::filter(&ok_chain);
    let long_chain = vec!["a = 1"; 300].join(" or ");
    assert!(
        text_err(&format!("from: project_logs('p') | filter: {long_chain}"))
            .ends_with("expression is nested too deeply (the limit is 256 levels)")
    );
    let nots = format!("from: project_logs('p') | filter: {}a", "not ".repeat(300));
    assert_eq!(
        text_err(&nots),
        "line 1, col 35: expression is nested too deeply (the limit is 256 levels)"
    );

    let eq = json!({"op": "eq", "left": ident("a"), "right": {"op": "literal", "value": 1}});
    let wide_and = json!({"op": "and", "children": vec![eq.clone(); 300]});
    assert_eq!(
        json_err(json!({"from": logs(), "filter": wide_and})),
        "query.filter: expression is nested too deeply (the limit is 256 levels)"
    );
    let mut deep = eq;
    for _ in 0..300 {
        deep = json!({"op": "not", "expr": deep});
    }
    assert_eq!(
        json_err(json!({"from": logs(), "filter": deep})),
        "query: expression is nested too deeply (the limit is 256 levels)"
    );
}

#[test]
fn hostile_inputs_fail_cleanly_on_a_small_stack() {
    let inputs = [
        format!("from: project_logs('p') | filter: {}", "(".repeat(100_000)),
        format!(
            "from: project_logs('p') | filter: {}a",
            "not ".repeat(100_000)
        ),
        format!(
            "from: project_logs('p') | filter: {}1 = 1",
            "- ".repeat(100_000)
        ),
        format!(
            "from: project_logs('p') | filter: {}",
            vec!["a"; 100_000].join(" + ")
        ),
        format!(
            "from: project_logs('p') | filter: x IN ({})",
            vec!["1"; 100_000].join(", ")
        ),
    ];
    // Built by hand: `json!` would serialize the nested value again, recursively.
    let mut deep = json!({"op": "ident", "name": ["a"]});
    for _ in 0..100_000 {
        let mut not = serde_json::Map::new();
        not.insert("op".to_string(), json!("not"));
        not.insert("expr".to_string(), deep);
        deep = serde_json::Value::Object(not);
    }
    let mut request = serde_json::Map::new();
    request.insert("from".to_string(), logs());
    request.insert("filter".to_string(), deep);
    let deep_json = serde_json::Value::Object(request);
    // 1 MiB: half a tokio worker's stack, and debug builds use far bigger frames than release.
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let mut refused: Vec<bool> = inputs.iter().map(|q| parse_text(q).is_err()).collect();
            refused.push(parse_json(&deep_json).is_err());
            // Dropping a 100 000-level `Value` recurses too; leak it, it is not ours to fix.
            std::mem::forget(deep_json);
            refused
        })
        .expect("spawns");
    // Everything but the (wide, shallow) IN list is refused; nothing overflows the stack.
    assert_eq!(
        handle.join().expect("no stack overflow"),
        [true, true, true, true, false, true]
    );
}

#[test]
fn error_duplicate_output_columns() {
    assert_eq!(
        text_err("SELECT metadata.id, id FROM project_logs('p')"),
        "line 1, col 21: two output columns are named `id`; rename one with AS"
    );
    assert_eq!(
        text_err("SELECT count(*) AS model FROM project_logs('p') GROUP BY metadata.model"),
        "line 1, col 8: two output columns are named `model`; rename one with AS"
    );
    assert_eq!(
        text_err("from: project_logs('p') | dimensions: a.x | measures: count(*) as x"),
        "line 1, col 55: two output columns are named `x`; rename one with AS"
    );
    crate::support::text("SELECT metadata.id AS mid, id FROM project_logs('p')");
}
