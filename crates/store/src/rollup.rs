//! Dashboard rollups: per time bucket, per model, per root-or-not, the sums a monitoring chart
//! needs, kept current at ingest by adding each span's change (its new contribution minus its
//! old one), so a 30-day chart reads a few thousand small rows, never the spans.
//!
//! Latency percentiles come from a log-scale histogram with four buckets per doubling (about
//! 9% relative error), which adds and subtracts exactly like the sums do.

use serde::Serialize;

/// Histogram buckets: four per doubling of milliseconds, from 1 ms to about 12 days.
pub const LATENCY_BUCKETS: usize = 120;

/// Bucket widths the store keeps: one minute and one hour (days are summed from hours).
pub const LEVELS: [i64; 2] = [60, 3600];

/// What one span adds to the rollup of its bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// Start of the span, unix seconds.
    pub start: f64,
    /// The model, or empty.
    pub model: String,
    /// Whether the span is a trace root (a request).
    pub is_root: bool,
    /// Whether it failed.
    pub is_error: bool,
    /// `end - start` in seconds, when it has ended.
    pub duration: Option<f64>,
    /// Prompt tokens.
    pub prompt_tokens: f64,
    /// Completion tokens.
    pub completion_tokens: f64,
    /// Total tokens.
    pub tokens: f64,
    /// Estimated cost.
    pub cost: f64,
}

/// A rollup row's key within an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    /// Bucket width in seconds (one of [`LEVELS`]).
    pub level: i64,
    /// Bucket start, unix seconds.
    pub bucket: i64,
    /// Model or empty.
    pub model: String,
    /// Root spans or not.
    pub is_root: bool,
}

/// Additive rollup values (a delta or a stored row).
#[derive(Debug, Clone, PartialEq)]
pub struct RollupValues {
    /// Spans.
    pub spans: i64,
    /// Spans with an error.
    pub errors: i64,
    /// Spans with a duration.
    pub timed: i64,
    /// Sum of durations (seconds).
    pub duration_sum: f64,
    /// Sum of prompt tokens.
    pub prompt_tokens: f64,
    /// Sum of completion tokens.
    pub completion_tokens: f64,
    /// Sum of tokens.
    pub tokens: f64,
    /// Sum of estimated cost.
    pub cost: f64,
    /// Latency histogram counts.
    pub latency: Vec<i64>,
}

impl Default for RollupValues {
    fn default() -> Self {
        Self {
            spans: 0,
            errors: 0,
            timed: 0,
            duration_sum: 0.0,
            prompt_tokens: 0.0,
            completion_tokens: 0.0,
            tokens: 0.0,
            cost: 0.0,
            latency: vec![0; LATENCY_BUCKETS],
        }
    }
}

impl RollupValues {
    /// Adds (`sign` = 1) or removes (`sign` = -1) one span's contribution.
    pub fn add(&mut self, c: &Contribution, sign: i64) {
        let f = sign as f64;
        self.spans += sign;
        self.errors += sign * i64::from(c.is_error);
        if let Some(d) = c.duration {
            self.timed += sign;
            self.duration_sum += f * d;
            self.latency[latency_bucket(d)] += sign;
        }
        self.prompt_tokens += f * c.prompt_tokens;
        self.completion_tokens += f * c.completion_tokens;
        self.tokens += f * c.tokens;
        self.cost += f * c.cost;
    }

    /// Adds another set of values.
    pub fn merge(&mut self, other: &RollupValues) {
        self.spans += other.spans;
        self.errors += other.errors;
        self.timed += other.timed;
        self.duration_sum += other.duration_sum;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.tokens += other.tokens;
        self.cost += other.cost;
        for (a, b) in self.latency.iter_mut().zip(&other.latency) {
            *a += b;
        }
    }

    /// The latency at quantile `q` (seconds), from the histogram.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        let total: i64 = self.latency.iter().sum();
        if total <= 0 {
            return None;
        }
        let target = (q.clamp(0.0, 1.0) * total as f64).ceil().max(1.0) as i64;
        let mut seen = 0;
        for (i, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= target {
                return Some(bucket_value(i));
            }
        }
        Some(bucket_value(LATENCY_BUCKETS - 1))
    }

    /// The histogram as little-endian `i32`s, as stored.
    pub fn latency_bytes(&self) -> Vec<u8> {
        self.latency
            .iter()
            .flat_map(|c| (*c as i32).to_le_bytes())
            .collect()
    }

    /// Reads a stored histogram.
    pub fn latency_from_bytes(bytes: &[u8]) -> Vec<i64> {
        let mut out: Vec<i64> = bytes
            .chunks_exact(4)
            .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect();
        out.resize(LATENCY_BUCKETS, 0);
        out
    }
}

/// The histogram bucket of a duration in seconds.
pub fn latency_bucket(seconds: f64) -> usize {
    let ms = (seconds * 1000.0).max(1.0);
    ((ms.log2() * 4.0).floor() as usize).min(LATENCY_BUCKETS - 1)
}

/// A representative duration (seconds) for a bucket: its geometric middle.
fn bucket_value(i: usize) -> f64 {
    2f64.powf((i as f64 + 0.5) / 4.0) / 1000.0
}

/// The rollup rows a contribution goes to, one per level.
pub fn keys_of(c: &Contribution) -> Vec<RollupKey> {
    LEVELS
        .iter()
        .map(|level| RollupKey {
            level: *level,
            bucket: (c.start.floor() as i64).div_euclid(*level) * level,
            model: c.model.clone(),
            is_root: c.is_root,
        })
        .collect()
}

/// Bucket width of a dashboard query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketWidth {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day (summed from hours).
    Day,
}

impl BucketWidth {
    /// Parses `minute`, `hour` or `day`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "minute" => Some(Self::Minute),
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            _ => None,
        }
    }

    /// Width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Minute => 60,
            Self::Hour => 3600,
            Self::Day => 86_400,
        }
    }

    /// The stored level the bucket is read from.
    pub fn level(self) -> i64 {
        match self {
            Self::Minute => 60,
            _ => 3600,
        }
    }
}

/// A dashboard query.
#[derive(Debug, Clone)]
pub struct RollupQuery {
    /// From this unix time (inclusive).
    pub from: f64,
    /// To this unix time (exclusive).
    pub to: f64,
    /// Bucket width.
    pub bucket: BucketWidth,
    /// Split series by model.
    pub by_model: bool,
}

/// One point of a dashboard series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollupPoint {
    /// Bucket start, unix seconds.
    pub bucket: i64,
    /// The model (with `by_model`), else null.
    pub model: Option<String>,
    /// Requests: root spans started in the bucket.
    pub requests: i64,
    /// Root spans with an error.
    pub request_errors: i64,
    /// All spans.
    pub spans: i64,
    /// All spans with an error.
    pub errors: i64,
    /// Request latency p50 (seconds; root spans).
    pub latency_p50: Option<f64>,
    /// Request latency p95 (seconds; root spans).
    pub latency_p95: Option<f64>,
    /// Span latency p95 (seconds; all spans of the series, e.g. one model's calls).
    pub span_latency_p95: Option<f64>,
    /// Prompt tokens.
    pub prompt_tokens: f64,
    /// Completion tokens.
    pub completion_tokens: f64,
    /// Total tokens.
    pub tokens: f64,
    /// Estimated cost.
    pub estimated_cost: f64,
}

/// Folds stored rows (key, values) into dashboard points.
pub fn points(rows: Vec<(RollupKey, RollupValues)>, query: &RollupQuery) -> Vec<RollupPoint> {
    use std::collections::BTreeMap;
    let width = query.bucket.seconds();
    let mut acc: BTreeMap<(i64, Option<String>), (RollupValues, RollupValues)> = BTreeMap::new();
    for (key, values) in rows {
        let bucket = key.bucket.div_euclid(width) * width;
        let model = query.by_model.then(|| key.model.clone());
        let (roots, all) = acc.entry((bucket, model)).or_default();
        if key.is_root {
            roots.merge(&values);
        }
        all.merge(&values);
    }
    acc.into_iter()
        .map(|((bucket, model), (roots, all))| RollupPoint {
            bucket,
            model,
            requests: roots.spans,
            request_errors: roots.errors,
            spans: all.spans,
            errors: all.errors,
            latency_p50: roots.latency_quantile(0.5),
            latency_p95: roots.latency_quantile(0.95),
            span_latency_p95: all.latency_quantile(0.95),
            prompt_tokens: all.prompt_tokens,
            completion_tokens: all.completion_tokens,
            tokens: all.tokens,
            estimated_cost: all.cost,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_close_and_deltas_cancel() {
        let mut v = RollupValues::default();
        let c = |d: f64| Contribution {
            start: 0.0,
            model: String::new(),
            is_root: true,
            is_error: false,
            duration: Some(d),
            prompt_tokens: 1.0,
            completion_tokens: 0.0,
            tokens: 1.0,
            cost: 0.0,
        };
        for i in 1..=100 {
            v.add(&c(f64::from(i) / 100.0), 1);
        }
        let p95 = v.latency_quantile(0.95).unwrap();
        assert!((p95 - 0.95).abs() / 0.95 < 0.1, "{p95}");
        for i in 1..=100 {
            v.add(&c(f64::from(i) / 100.0), -1);
        }
        // Counts cancel exactly; float sums up to rounding.
        assert_eq!(
            (v.spans, v.timed, &v.latency),
            (0, 0, &vec![0; LATENCY_BUCKETS])
        );
        assert!(v.duration_sum.abs() < 1e-9);
        let bytes = RollupValues::default().latency_bytes();
        assert_eq!(
            RollupValues::latency_from_bytes(&bytes).len(),
            LATENCY_BUCKETS
        );
    }
}
