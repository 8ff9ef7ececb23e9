//! Query-level validation shared by every front end: turns the clauses as written
//! ([`RawQuery`]) into a [`Query`], deciding between a plain and an aggregate query.
//!
//! SQL's `GROUP BY` and aggregate select items become `dimensions` and `measures`, so
//! `SELECT model, count(*) AS n … GROUP BY metadata.model` and
//! `dimensions: metadata.model | measures: count(*) as n` give the same plan.

use super::Located;
use crate::error::{ErrorKind, Location, ParseError};
use crate::plan::{Expr, Literal, Query, SelectItem, Selection, Shape, SortKey, Source};

/// A select list as written.
#[derive(Debug, Clone)]
pub(crate) enum RawSelect {
    /// `*`
    Star,
    /// Aliased expressions.
    Items(Vec<Located<SelectItem>>),
}

/// The clauses of a query as written, before validation.
#[derive(Debug)]
pub(crate) struct RawQuery {
    pub source: Option<(Source, Shape)>,
    pub select: Option<Located<RawSelect>>,
    pub filter: Option<Expr>,
    /// SQL `GROUP BY` expressions (clause syntax and JSON use `dimensions`).
    pub group_by: Vec<Located<Expr>>,
    pub dimensions: Vec<Located<SelectItem>>,
    pub measures: Vec<Located<SelectItem>>,
    pub sort: Vec<Located<SortKey>>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// Where to report a missing source.
    pub missing_source_at: Location,
}

impl RawQuery {
    /// An empty query; `missing_source_at` is where a missing source gets reported.
    pub fn new(missing_source_at: Location) -> Self {
        Self {
            source: None,
            select: None,
            filter: None,
            group_by: Vec::new(),
            dimensions: Vec::new(),
            measures: Vec::new(),
            sort: Vec::new(),
            limit: None,
            cursor: None,
            missing_source_at,
        }
    }
}

fn err(loc: &Location, kind: ErrorKind) -> ParseError {
    ParseError::new(loc.clone(), kind)
}

fn values<T>(items: Vec<Located<T>>) -> Vec<T> {
    items.into_iter().map(|l| l.value).collect()
}

/// Output columns with where each was written.
type Columns = Vec<Located<SelectItem>>;

/// Output columns as written: the plain select list, or dimensions and measures.
enum Outputs {
    Star,
    Items(Columns),
    Grouped(Columns, Columns),
}

/// Validates the clauses and builds the plan.
pub(crate) fn assemble(raw: RawQuery) -> Result<Query, ParseError> {
    let (source, shape) = raw
        .source
        .ok_or_else(|| err(&raw.missing_source_at, ErrorKind::MissingSource))?;
    let explicit_grouping = !raw.dimensions.is_empty() || !raw.measures.is_empty();
    let outputs = match (raw.select, explicit_grouping) {
        (Some(select), true) => return Err(err(&select.loc, ErrorKind::SelectWithGrouping)),
        (None, true) => {
            for measure in &raw.measures {
                if !measure.value.expr.contains_aggregate() {
                    let shown = measure.value.expr.to_string();
                    return Err(err(&measure.loc, ErrorKind::MeasureNotAggregate(shown)));
                }
            }
            check_measures(&raw.measures, &raw.dimensions)?;
            Outputs::Grouped(raw.dimensions, raw.measures)
        }
        (None, false) => Outputs::Star,
        (Some(select), false) => match select.value {
            RawSelect::Star if !raw.group_by.is_empty() => {
                return Err(err(&select.loc, ErrorKind::StarWithGroupBy));
            }
            RawSelect::Star => Outputs::Star,
            RawSelect::Items(items) => {
                let aggregate = !raw.group_by.is_empty()
                    || items.iter().any(|i| i.value.expr.contains_aggregate());
                if aggregate {
                    let (dimensions, measures) = group(items, raw.group_by)?;
                    Outputs::Grouped(dimensions, measures)
                } else {
                    Outputs::Items(items)
                }
            }
        },
    };
    let (select, dimensions, measures) = match outputs {
        Outputs::Star => (Selection::Star, Vec::new(), Vec::new()),
        Outputs::Items(items) => {
            check_unique_names(&items)?;
            (Selection::Items(values(items)), Vec::new(), Vec::new())
        }
        Outputs::Grouped(dimensions, measures) => {
            let mut all: Columns = dimensions.clone();
            all.extend(measures.iter().cloned());
            check_unique_names(&all)?;
            (
                Selection::Items(Vec::new()),
                values(dimensions),
                values(measures),
            )
        }
    };
    if dimensions.is_empty() && measures.is_empty() {
        for key in &raw.sort {
            if let Some(function) = key.value.expr.find_aggregate() {
                let kind = ErrorKind::AggregateNotAllowed {
                    function: function.as_str().to_string(),
                    place: "in the sort of a query without dimensions or measures".to_string(),
                };
                return Err(err(&key.loc, kind));
            }
        }
    }
    Ok(Query {
        source,
        shape,
        select,
        filter: raw.filter,
        dimensions,
        measures,
        sort: values(raw.sort),
        limit: raw.limit,
        cursor: raw.cursor,
    })
}

/// Output columns must have distinct names (results are JSON objects keyed by them).
fn check_unique_names(items: &[Located<SelectItem>]) -> Result<(), ParseError> {
    let mut seen = std::collections::HashSet::new();
    for item in items {
        let name = item.value.output_name();
        if !seen.insert(name.clone()) {
            return Err(err(&item.loc, ErrorKind::DuplicateColumn(name)));
        }
    }
    Ok(())
}

/// True if `expr` is the dimension `dim`: the same expression, or a bare name equal to the
/// dimension's output name (`model` for `metadata.model`).
fn names_dimension(expr: &Expr, dim: &SelectItem) -> bool {
    match expr {
        Expr::Field(path) if path.len() == 1 => dim.expr == *expr || dim.output_name() == path[0],
        _ => dim.expr == *expr,
    }
}

/// Splits an SQL select list plus `GROUP BY` into dimensions (located at their `GROUP BY`
/// key) and measures.
fn group(items: Columns, group_by: Vec<Located<Expr>>) -> Result<(Columns, Columns), ParseError> {
    let has_group_by = !group_by.is_empty();
    let mut dimensions: Vec<Located<SelectItem>> = Vec::new();
    for key in group_by {
        // `GROUP BY 1` and `GROUP BY <alias>` name a select item.
        let named = match &key.value {
            Expr::Literal(Literal::Int(n)) => {
                let item = usize::try_from(*n)
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| items.get(i))
                    .ok_or_else(|| err(&key.loc, ErrorKind::GroupByPosition(*n)))?;
                Some(item)
            }
            Expr::Field(path) if path.len() == 1 => items
                .iter()
                .find(|i| i.value.alias.as_deref() == Some(path[0].as_str())),
            _ => None,
        };
        let dimension = match named {
            Some(item) if item.value.expr.contains_aggregate() => {
                let shown = item.value.output_name();
                return Err(err(&key.loc, ErrorKind::GroupByAggregate(shown)));
            }
            Some(item) => item.value.clone(),
            None => SelectItem::new(key.value, None),
        };
        if !dimensions.iter().any(|d| d.value == dimension) {
            dimensions.push(Located {
                loc: key.loc,
                value: dimension,
            });
        }
    }
    let mut measures = Vec::new();
    for item in items {
        if item.value.expr.contains_aggregate() {
            measures.push(item);
            continue;
        }
        let Some(dim) = dimensions
            .iter_mut()
            .find(|d| names_dimension(&item.value.expr, &d.value))
        else {
            let shown = item.value.expr.to_string();
            let kind = if has_group_by {
                ErrorKind::NotGrouped(shown)
            } else {
                ErrorKind::MixedAggregate(shown)
            };
            return Err(err(&item.loc, kind));
        };
        // The select list may name the dimension's output column.
        if dim.value.alias.is_none() && item.value.alias.is_some() {
            dim.value = SelectItem::new(dim.value.expr.clone(), item.value.alias);
        }
    }
    check_measures(&measures, &dimensions)?;
    Ok((dimensions, measures))
}

/// Every field a measure reads outside its aggregates must be a dimension.
fn check_measures(
    measures: &[Located<SelectItem>],
    dims: &[Located<SelectItem>],
) -> Result<(), ParseError> {
    fn ungrouped<'e>(expr: &'e Expr, dims: &[Located<SelectItem>]) -> Option<&'e Expr> {
        match expr {
            Expr::Call { name, .. } if name.is_aggregate() => None,
            e if dims.iter().any(|d| names_dimension(e, &d.value)) => None,
            Expr::Field(_) => Some(expr),
            other => other
                .children()
                .into_iter()
                .find_map(|c| ungrouped(c, dims)),
        }
    }
    for measure in measures {
        if let Some(field) = ungrouped(&measure.value.expr, dims) {
            return Err(err(&measure.loc, ErrorKind::NotGrouped(field.to_string())));
        }
    }
    Ok(())
}
