//! Experiment summaries as the SDK prints them at the end of an `Eval`: per score and per
//! metric the mean over the experiment's traces, and against a comparison experiment the
//! difference and how many matched traces improved or regressed. Pure functions over fetched
//! rows, so every backend summarizes the same way.
//!
//! Scores live on the scorer child spans of each trace (not on the root `eval` span), so they
//! are rolled up per trace (`root_span_id`) first. Traces of two experiments are matched by
//! their root span's `input`, as Braintrust does.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Differences smaller than this are neither improvements nor regressions.
const EPSILON: f64 = 1e-9;

/// One trace of an experiment, reduced to what summaries compare.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceOutcome {
    /// The trace id.
    pub root_span_id: String,
    /// The root row's id.
    pub root_id: Option<String>,
    /// The root span's `input` as canonical JSON text (the matching key).
    pub input_key: String,
    /// The root span's `input`, `output` and `expected`.
    pub input: Value,
    /// Output of the root span.
    pub output: Value,
    /// Expected output of the root span.
    pub expected: Value,
    /// Mean of each score over the trace's spans.
    pub scores: BTreeMap<String, f64>,
    /// Trace metrics: `duration`, `llm_duration`, `prompt_tokens`, `completion_tokens`,
    /// `total_tokens`, `estimated_cost`.
    pub metrics: BTreeMap<&'static str, f64>,
}

/// A score line of the summary; the SDK requires exactly these keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSummary {
    /// Score name.
    pub name: String,
    /// Mean over traces, 0..1.
    pub score: f64,
    /// This mean minus the comparison's, when there is a comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<f64>,
    /// Matched traces that scored higher than in the comparison.
    pub improvements: Option<u64>,
    /// Matched traces that scored lower.
    pub regressions: Option<u64>,
}

/// A metric line of the summary; the SDK requires exactly these keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSummary {
    /// Metric name.
    pub name: String,
    /// Mean over traces.
    pub metric: f64,
    /// Unit for display (`s`, `tok`, `$`).
    pub unit: &'static str,
    /// This mean minus the comparison's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<f64>,
    /// Matched traces that got better (for every metric here, lower is better).
    pub improvements: Option<u64>,
    /// Matched traces that got worse.
    pub regressions: Option<u64>,
}

/// Metrics summarized, with their units.
const METRICS: [(&str, &str); 6] = [
    ("duration", "s"),
    ("llm_duration", "s"),
    ("prompt_tokens", "tok"),
    ("completion_tokens", "tok"),
    ("total_tokens", "tok"),
    ("estimated_cost", "$"),
];

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|f| f.is_finite())
}

fn is_root(row: &Value) -> bool {
    match row.get("span_parents") {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// Groups an experiment's rows (as fetched) into traces.
pub fn trace_outcomes(rows: &[Value]) -> Vec<TraceOutcome> {
    let mut by_trace: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for row in rows {
        let trace = row
            .get("root_span_id")
            .and_then(Value::as_str)
            .or_else(|| row.get("id").and_then(Value::as_str))
            .unwrap_or_default();
        by_trace.entry(trace.to_owned()).or_default().push(row);
    }
    by_trace
        .into_iter()
        .map(|(trace_id, spans)| {
            let root = spans.iter().find(|r| is_root(r)).copied();
            let mut sums: BTreeMap<String, (f64, u32)> = BTreeMap::new();
            for span in &spans {
                if let Some(Value::Object(scores)) = span.get("scores") {
                    for (name, value) in scores {
                        if let Some(v) = num(Some(value)) {
                            let e = sums.entry(name.clone()).or_default();
                            e.0 += v;
                            e.1 += 1;
                        }
                    }
                }
            }
            let mut metrics = BTreeMap::new();
            if let Some(root) = root {
                let m = root.get("metrics");
                if let (Some(s), Some(e)) = (
                    num(m.and_then(|m| m.get("start"))),
                    num(m.and_then(|m| m.get("end"))),
                ) {
                    metrics.insert("duration", e - s);
                }
            }
            for span in spans.iter().filter(|s| {
                s.pointer("/span_attributes/type").and_then(Value::as_str) == Some("llm")
            }) {
                let m = span.get("metrics");
                let get = |k: &str| num(m.and_then(|m| m.get(k)));
                if let (Some(s), Some(e)) = (get("start"), get("end")) {
                    *metrics.entry("llm_duration").or_insert(0.0) += e - s;
                }
                for (ours, theirs) in [
                    ("prompt_tokens", "prompt_tokens"),
                    ("completion_tokens", "completion_tokens"),
                    ("total_tokens", "tokens"),
                    ("estimated_cost", "estimated_cost"),
                ] {
                    if let Some(v) = get(theirs) {
                        *metrics.entry(ours).or_insert(0.0) += v;
                    }
                }
            }
            let field = |k: &str| root.and_then(|r| r.get(k)).cloned().unwrap_or(Value::Null);
            TraceOutcome {
                root_span_id: trace_id,
                root_id: root
                    .and_then(|r| r.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                input: field("input"),
                output: field("output"),
                expected: field("expected"),
                input_key: root
                    .and_then(|r| r.get("input"))
                    .map(Value::to_string)
                    .unwrap_or_default(),
                scores: sums
                    .into_iter()
                    .map(|(k, (s, n))| (k, s / f64::from(n)))
                    .collect(),
                metrics,
            }
        })
        .collect()
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u64), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Counts matched traces where `better(this, base)` / `better(base, this)`.
fn compare(
    this: &[TraceOutcome],
    base: &[TraceOutcome],
    value: impl Fn(&TraceOutcome) -> Option<f64>,
    higher_is_better: bool,
) -> (u64, u64) {
    let mut base_by_input: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for t in base {
        if let Some(v) = value(t) {
            base_by_input.entry(&t.input_key).or_default().push(v);
        }
    }
    let (mut up, mut down) = (0, 0);
    for t in this {
        let (Some(v), Some(old)) = (
            value(t),
            base_by_input
                .get(t.input_key.as_str())
                .and_then(|vs| mean(vs.iter().copied())),
        ) else {
            continue;
        };
        let delta = if higher_is_better { v - old } else { old - v };
        if delta > EPSILON {
            up += 1;
        } else if delta < -EPSILON {
            down += 1;
        }
    }
    (up, down)
}

/// Summarizes an experiment, optionally against a comparison experiment.
pub fn summarize(
    this: &[TraceOutcome],
    base: Option<&[TraceOutcome]>,
) -> (
    BTreeMap<String, ScoreSummary>,
    BTreeMap<String, MetricSummary>,
) {
    let names: std::collections::BTreeSet<&String> =
        this.iter().flat_map(|t| t.scores.keys()).collect();
    let scores = names
        .into_iter()
        .filter_map(|name| {
            let get = |t: &TraceOutcome| t.scores.get(name).copied();
            let score = mean(this.iter().filter_map(get))?;
            let (diff, improvements, regressions) = match base {
                Some(base) => {
                    let (up, down) = compare(this, base, get, true);
                    (
                        mean(base.iter().filter_map(get)).map(|b| score - b),
                        Some(up),
                        Some(down),
                    )
                }
                None => (None, None, None),
            };
            Some((
                name.clone(),
                ScoreSummary {
                    name: name.clone(),
                    score,
                    diff,
                    improvements,
                    regressions,
                },
            ))
        })
        .collect();
    let metrics = METRICS
        .iter()
        .filter_map(|(name, unit)| {
            let get = |t: &TraceOutcome| t.metrics.get(name).copied();
            let metric = mean(this.iter().filter_map(get))?;
            let (diff, improvements, regressions) = match base {
                Some(base) => {
                    let (up, down) = compare(this, base, get, false);
                    (
                        mean(base.iter().filter_map(get)).map(|b| metric - b),
                        Some(up),
                        Some(down),
                    )
                }
                None => (None, None, None),
            };
            Some((
                (*name).to_owned(),
                MetricSummary {
                    name: (*name).to_owned(),
                    metric,
                    unit,
                    diff,
                    improvements,
                    regressions,
                },
            ))
        })
        .collect();
    (scores, metrics)
}

/// One row of a side-by-side comparison: a trace of this experiment and the comparison's
/// trace with the same input (if any).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedTrace {
    /// The shared input.
    pub input: Value,
    /// Expected output (this experiment's, else the comparison's).
    pub expected: Value,
    /// This experiment's trace id and root row.
    pub root_span_id: Option<String>,
    /// This experiment's root row id.
    pub root_id: Option<String>,
    /// This experiment's output.
    pub output: Value,
    /// The comparison's output.
    pub base_output: Value,
    /// The comparison's trace id.
    pub base_root_span_id: Option<String>,
    /// This experiment's scores.
    pub scores: BTreeMap<String, f64>,
    /// The comparison's scores.
    pub base_scores: BTreeMap<String, f64>,
}

/// Pairs the traces of two experiments by input, in this experiment's order; traces only in
/// the comparison come last.
pub fn compare_traces(this: &[TraceOutcome], base: &[TraceOutcome]) -> Vec<ComparedTrace> {
    let mut base_by_input: BTreeMap<&str, &TraceOutcome> = BTreeMap::new();
    for t in base {
        base_by_input.entry(t.input_key.as_str()).or_insert(t);
    }
    let mut used = std::collections::BTreeSet::new();
    let mut out: Vec<ComparedTrace> = this
        .iter()
        .map(|t| {
            let b = base_by_input.get(t.input_key.as_str()).copied();
            if b.is_some() {
                used.insert(t.input_key.as_str());
            }
            ComparedTrace {
                input: t.input.clone(),
                expected: if t.expected.is_null() {
                    b.map(|b| b.expected.clone()).unwrap_or(Value::Null)
                } else {
                    t.expected.clone()
                },
                root_span_id: Some(t.root_span_id.clone()),
                root_id: t.root_id.clone(),
                output: t.output.clone(),
                base_output: b.map(|b| b.output.clone()).unwrap_or(Value::Null),
                base_root_span_id: b.map(|b| b.root_span_id.clone()),
                scores: t.scores.clone(),
                base_scores: b.map(|b| b.scores.clone()).unwrap_or_default(),
            }
        })
        .collect();
    out.extend(
        base.iter()
            .filter(|b| !used.contains(b.input_key.as_str()))
            .map(|b| ComparedTrace {
                input: b.input.clone(),
                expected: b.expected.clone(),
                root_span_id: None,
                root_id: None,
                output: Value::Null,
                base_output: b.output.clone(),
                base_root_span_id: Some(b.root_span_id.clone()),
                scores: BTreeMap::new(),
                base_scores: b.scores.clone(),
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval_trace(trace: &str, input: &str, score: f64, duration: f64) -> Vec<Value> {
        vec![
            json!({"id": format!("{trace}-root"), "root_span_id": trace, "span_id": format!("{trace}r"), "span_parents": null,
                   "input": input, "span_attributes": {"type": "eval"}, "metrics": {"start": 10.0, "end": 10.0 + duration}}),
            json!({"id": format!("{trace}-task"), "root_span_id": trace, "span_parents": [format!("{trace}r")],
                   "span_attributes": {"type": "llm"}, "metrics": {"start": 10.0, "end": 10.5, "prompt_tokens": 10, "tokens": 12, "completion_tokens": 2}}),
            json!({"id": format!("{trace}-score"), "root_span_id": trace, "span_parents": [format!("{trace}r")],
                   "span_attributes": {"type": "score", "purpose": "scorer"}, "scores": {"Levenshtein": score}}),
        ]
    }

    #[test]
    fn scores_roll_up_per_trace_and_compare_by_input() {
        let base: Vec<Value> = [
            eval_trace("a", "q1", 0.5, 1.0),
            eval_trace("b", "q2", 1.0, 1.0),
            eval_trace("c", "q3", 0.2, 1.0),
        ]
        .concat();
        let this: Vec<Value> = [
            eval_trace("x", "q1", 0.9, 2.0),
            eval_trace("y", "q2", 0.4, 0.5),
            eval_trace("z", "q3", 0.2, 1.0),
        ]
        .concat();
        let (base, this) = (trace_outcomes(&base), trace_outcomes(&this));
        let (scores, metrics) = summarize(&this, Some(&base));
        let lev = &scores["Levenshtein"];
        assert!((lev.score - 0.5).abs() < 1e-9);
        assert!((lev.diff.unwrap_or(0.0) - (0.5 - 1.7 / 3.0)).abs() < 1e-9);
        assert_eq!((lev.improvements, lev.regressions), (Some(1), Some(1)));
        let duration = &metrics["duration"];
        assert_eq!(
            (duration.improvements, duration.regressions),
            (Some(1), Some(1))
        );
        assert_eq!(metrics["total_tokens"].metric, 12.0);
        assert_eq!(metrics["total_tokens"].unit, "tok");
        let rows = compare_traces(&this, &base);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].input, json!("q1"));
        assert_eq!(
            (
                rows[0].scores["Levenshtein"],
                rows[0].base_scores["Levenshtein"]
            ),
            (0.9, 0.5)
        );
        let (scores, _) = summarize(&this, None);
        assert_eq!(scores["Levenshtein"].improvements, None);
        let text = serde_json::to_value(&scores["Levenshtein"]).unwrap_or_default();
        assert_eq!(
            text,
            json!({"name": "Levenshtein", "score": 0.5, "improvements": null, "regressions": null})
        );
    }
}
