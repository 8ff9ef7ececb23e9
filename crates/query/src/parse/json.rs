//! The JSON AST the SDKs post to `/btql`: the request body (`{"query": …, "fmt": …}`) or
//! the `query` object itself.
//!
//! Unknown keys are ignored (request options such as `use_columnstore`, and query hints such
//! as `preview_length`), except the BTQL features that change which rows come back and that
//! this server does not implement (`span_filter`, `pivot`, …): those fail loudly rather than
//! return wrong results.

use serde_json::{Map, Value};
use spanloom_model::ObjectKind;

use super::assemble::{RawQuery, RawSelect, assemble};
use super::json_expr::{
    JResult, MAX_JSON_NESTING, array, describe, expr, ident_path, index, json_err, key,
    nests_deeper_than, object, required,
};
use super::{AggCtx, Located};
use crate::error::{ErrorKind, Location};
use crate::plan::{Query, SelectItem, Shape, SortKey, Source};

/// Query keys of BTQL that would change the result and are not implemented.
const UNSUPPORTED_KEYS: [&str; 7] = [
    "pivot",
    "unpivot",
    "span_filter",
    "trace_filter",
    "final_filter",
    "sample",
    "infer",
];

/// The root of every JSON error path.
const ROOT: &str = "query";

/// Parses a `/btql` request body or a bare query object. A `query` given as a string is BTQL
/// text and goes to the text parser.
pub(crate) fn parse_request(value: &Value) -> JResult<Query> {
    if nests_deeper_than(value, MAX_JSON_NESTING) {
        let kind = ErrorKind::TooDeep {
            limit: MAX_JSON_NESTING,
        };
        return Err(json_err(ROOT, kind));
    }
    let map = object(value, ROOT, "an object")?;
    match map.get("query") {
        Some(Value::String(text)) => super::parse_text(text),
        Some(Value::Object(query)) => parse_query(query),
        Some(other) => {
            let kind = ErrorKind::expected("an object or a BTQL string", describe(other));
            Err(json_err(ROOT, kind))
        }
        None => parse_query(map),
    }
}

fn located<T>(path: &str, value: T) -> Located<T> {
    Located {
        loc: Location::Json {
            path: path.to_string(),
        },
        value,
    }
}

/// The value of `name`, treating `null` as absent.
fn get<'v>(obj: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    obj.get(name).filter(|v| !v.is_null())
}

fn parse_query(obj: &Map<String, Value>) -> JResult<Query> {
    for name in UNSUPPORTED_KEYS {
        if get(obj, name).is_some() {
            let what = format!("`{name}`");
            return Err(json_err(&key(ROOT, name), ErrorKind::Unsupported(what)));
        }
    }
    let mut raw = RawQuery::new(Location::Json {
        path: key(ROOT, "from"),
    });
    if let Some(from) = get(obj, "from") {
        raw.source = Some(source(from, &key(ROOT, "from"))?);
    }
    if let Some(select) = get(obj, "select") {
        raw.select = select_list(select, &key(ROOT, "select"))?;
    }
    if let Some(filter) = get(obj, "filter") {
        raw.filter = Some(expr(
            filter,
            &key(ROOT, "filter"),
            AggCtx::Forbidden("in filter"),
        )?);
    }
    if let Some(dimensions) = get(obj, "dimensions") {
        let ctx = AggCtx::Forbidden("in dimensions");
        raw.dimensions = item_list(dimensions, &key(ROOT, "dimensions"), ctx)?;
    }
    if let Some(measures) = get(obj, "measures") {
        raw.measures = item_list(measures, &key(ROOT, "measures"), AggCtx::Allowed)?;
    }
    if let Some(sort) = get(obj, "sort") {
        raw.sort = sort_list(sort, &key(ROOT, "sort"))?;
    }
    if let Some(limit) = get(obj, "limit") {
        let n = limit.as_u64().ok_or_else(|| {
            json_err(
                &key(ROOT, "limit"),
                ErrorKind::InvalidLimit(describe(limit)),
            )
        })?;
        raw.limit = Some(n);
    }
    if let Some(cursor) = get(obj, "cursor") {
        let text = cursor.as_str().ok_or_else(|| {
            json_err(
                &key(ROOT, "cursor"),
                ErrorKind::InvalidCursor(describe(cursor)),
            )
        })?;
        raw.cursor = Some(text.to_string());
    }
    assemble(raw)
}

/// `{"op": "function", "name": {"op": "ident", "name": ["project_logs"]}, "args": [literal], "shape": …}`
fn source(value: &Value, path: &str) -> JResult<(Source, Shape)> {
    let obj = object(
        value,
        path,
        "a source function such as project_logs('<id>')",
    )?;
    match obj.get("op").and_then(Value::as_str) {
        Some("function") => {}
        Some("ident") => {
            let what =
                "a source given as an identifier (use a function call like project_logs('<id>'))";
            return Err(json_err(path, ErrorKind::Unsupported(what.to_string())));
        }
        _ => {
            let kind = ErrorKind::expected("a function node", describe(value));
            return Err(json_err(&key(path, "op"), kind));
        }
    }
    let name_path = key(path, "name");
    let name = ident_path(
        object(required(obj, "name", path)?, &name_path, "an ident")?,
        &name_path,
    )?
    .join(".");
    let kind = ObjectKind::parse(&name.to_ascii_lowercase())
        .ok_or_else(|| json_err(&name_path, ErrorKind::UnknownSource(name.clone())))?;
    let args_path = key(path, "args");
    let args = array(required(obj, "args", path)?, &args_path)?;
    let id = match args.as_slice() {
        [arg] => match (arg.get("op").and_then(Value::as_str), arg.get("value")) {
            (Some("literal"), Some(Value::String(id))) => id.clone(),
            _ => {
                let found = describe(arg.get("value").unwrap_or(arg));
                let kind = ErrorKind::SourceIdNotString(found);
                return Err(json_err(&index(&args_path, 0), kind));
            }
        },
        _ => {
            let kind = ErrorKind::SourceIdNotString(format!("{} arguments", args.len()));
            return Err(json_err(&args_path, kind));
        }
    };
    let shape = match get(obj, "shape") {
        None => Shape::Spans,
        Some(shape) => {
            let shape_path = key(path, "shape");
            let name = shape.as_str().ok_or_else(|| {
                json_err(
                    &shape_path,
                    ErrorKind::expected("a shape name", describe(shape)),
                )
            })?;
            Shape::parse(name)
                .ok_or_else(|| json_err(&shape_path, ErrorKind::UnknownShape(name.to_string())))?
        }
    };
    Ok((Source { kind, id }, shape))
}

/// True for `{"op": "star"}`.
fn is_star(value: &Value) -> bool {
    value.get("op").and_then(Value::as_str) == Some("star")
}

/// `select`: `[{"op": "star"}]` or aliased expressions. An empty list counts as absent.
fn select_list(value: &Value, path: &str) -> JResult<Option<Located<RawSelect>>> {
    let entries = array(value, path)?;
    if entries.is_empty() {
        return Ok(None);
    }
    if let Some(i) = entries.iter().position(is_star) {
        if entries.len() > 1 {
            return Err(json_err(&index(path, i), ErrorKind::StarWithItems));
        }
        return Ok(Some(located(path, RawSelect::Star)));
    }
    let items = item_list(value, path, AggCtx::Allowed)?;
    Ok(Some(located(path, RawSelect::Items(items))))
}

/// A list of `{"alias": "x", "expr": …}` (bare expressions are accepted too).
fn item_list(value: &Value, path: &str, ctx: AggCtx) -> JResult<Vec<Located<SelectItem>>> {
    let mut items = Vec::new();
    for (i, entry) in array(value, path)?.iter().enumerate() {
        let entry_path = index(path, i);
        let obj = object(entry, &entry_path, "an {\"alias\", \"expr\"} object")?;
        let item = if obj.contains_key("op") {
            SelectItem::new(expr(entry, &entry_path, ctx)?, None)
        } else {
            let parsed = expr(
                required(obj, "expr", &entry_path)?,
                &key(&entry_path, "expr"),
                ctx,
            )?;
            let alias = match get(obj, "alias") {
                None => None,
                Some(Value::String(alias)) => Some(alias.clone()),
                Some(other) => {
                    let kind = ErrorKind::expected("a string", describe(other));
                    return Err(json_err(&key(&entry_path, "alias"), kind));
                }
            };
            SelectItem::new(parsed, alias)
        };
        items.push(located(&entry_path, item));
    }
    Ok(items)
}

/// `sort`: `[{"expr": …, "dir": "asc" | "desc"}]` (`dir` defaults to ascending).
fn sort_list(value: &Value, path: &str) -> JResult<Vec<Located<SortKey>>> {
    let mut keys = Vec::new();
    for (i, entry) in array(value, path)?.iter().enumerate() {
        let entry_path = index(path, i);
        let obj = object(entry, &entry_path, "an {\"expr\", \"dir\"} object")?;
        let parsed = expr(
            required(obj, "expr", &entry_path)?,
            &key(&entry_path, "expr"),
            AggCtx::Allowed,
        )?;
        let descending = match get(obj, "dir") {
            None => false,
            Some(Value::String(dir)) if dir.eq_ignore_ascii_case("asc") => false,
            Some(Value::String(dir)) if dir.eq_ignore_ascii_case("desc") => true,
            Some(other) => {
                let shown = other
                    .as_str()
                    .map_or_else(|| describe(other), str::to_string);
                let kind = ErrorKind::InvalidSortDirection(shown);
                return Err(json_err(&key(&entry_path, "dir"), kind));
            }
        };
        keys.push(located(
            &entry_path,
            SortKey {
                expr: parsed,
                descending,
            },
        ));
    }
    Ok(keys)
}
