//! Cost of LLM spans from the model price table (`prices/model-prices.json`, kept as data in
//! the repo). Applied to every merged row at ingest, whichever path it came in by:
//!
//! * an LLM span with a model and token counts but no cost gets `metrics.estimated_cost`,
//!   and `metadata.pricing` records the price entry and table version that produced it;
//! * an emitter-supplied cost is kept as the span's cost; the table's figure is recorded
//!   beside it (`metadata.pricing.price_table_cost`) so the two can be compared;
//! * an unknown model is marked `{"source": "unpriced"}`, never priced at $0.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The price table shipped with this build.
pub const PRICE_TABLE_JSON: &str = include_str!("../prices/model-prices.json");

/// One dated price of a model, in USD per million tokens.
#[derive(Debug, Clone, Deserialize)]
pub struct PriceEntry {
    /// Entry id (`openai/gpt-4o`), recorded on every span it prices.
    pub id: String,
    /// Model names this entry prices (matched after normalizing the span's model name).
    pub aliases: Vec<String>,
    /// First day (UTC, `YYYY-MM-DD`) this price applies.
    pub since: String,
    /// Uncached input tokens.
    pub input: f64,
    /// Output tokens (reasoning included).
    pub output: f64,
    /// Cache-read input tokens; the input price when absent.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Cache-write input tokens; the input price when absent.
    #[serde(default)]
    pub cache_write: Option<f64>,
}

/// The versioned price table.
#[derive(Debug, Clone, Deserialize)]
pub struct PriceTable {
    /// Table version (a date), recorded on every span it prices.
    pub version: String,
    /// Entries.
    pub models: Vec<PriceEntry>,
    #[serde(skip)]
    by_alias: HashMap<String, Vec<usize>>,
}

/// Token counts of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TokenCounts {
    /// Input tokens, cached ones included.
    pub prompt: f64,
    /// Output tokens.
    pub completion: f64,
    /// Cache-read input tokens.
    pub cached: f64,
    /// Cache-write input tokens.
    pub cache_write: f64,
}

impl PriceTable {
    /// Parses a table.
    pub fn parse(json: &str) -> Result<PriceTable, serde_json::Error> {
        let mut table: PriceTable = serde_json::from_str(json)?;
        for (i, entry) in table.models.iter().enumerate() {
            for alias in &entry.aliases {
                table
                    .by_alias
                    .entry(alias.to_ascii_lowercase())
                    .or_default()
                    .push(i);
            }
        }
        Ok(table)
    }

    /// The built-in table.
    pub fn builtin() -> &'static PriceTable {
        static TABLE: OnceLock<PriceTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            // The file is part of the build and covered by tests; a broken edit fails them.
            PriceTable::parse(PRICE_TABLE_JSON).unwrap_or_else(|_| PriceTable {
                version: "invalid".into(),
                models: Vec::new(),
                by_alias: HashMap::new(),
            })
        })
    }

    /// The entry pricing `model` on `day` (`YYYY-MM-DD`): the newest `since` on or before it
    /// (the oldest entry for days before any `since`).
    pub fn lookup(&self, model: &str, day: &str) -> Option<&PriceEntry> {
        let candidates = model_name_candidates(model)
            .into_iter()
            .find_map(|name| self.by_alias.get(&name))?;
        let mut entries: Vec<&PriceEntry> = candidates.iter().map(|i| &self.models[*i]).collect();
        entries.sort_by(|a, b| a.since.cmp(&b.since));
        entries
            .iter()
            .rev()
            .find(|e| e.since.as_str() <= day)
            .or_else(|| entries.first())
            .copied()
    }
}

impl PriceEntry {
    /// The cost of a call in USD.
    pub fn cost(&self, t: TokenCounts) -> f64 {
        let uncached = (t.prompt - t.cached - t.cache_write).max(0.0);
        let per_token = 1e-6;
        (uncached * self.input
            + t.cached * self.cached_input.unwrap_or(self.input)
            + t.cache_write * self.cache_write.unwrap_or(self.input)
            + t.completion * self.output)
            * per_token
    }
}

/// Names to try for a model, most specific first: as sent, then without provider prefixes
/// (`openai/`, `models/`, Bedrock's `us.anthropic.`), version suffixes (`-v1:0`, `@20240620`)
/// and date suffixes (`-2024-08-06`, `-20241022`).
pub fn model_name_candidates(model: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut name = model.trim().to_ascii_lowercase();
    out.push(name.clone());
    if let Some((_, rest)) = name.rsplit_once('/') {
        name = rest.to_owned();
        out.push(name.clone());
    }
    for prefix in ["us.", "eu.", "apac.", "global."] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_owned();
        }
    }
    for vendor in [
        "anthropic.",
        "openai.",
        "meta.",
        "mistral.",
        "cohere.",
        "amazon.",
    ] {
        if let Some(rest) = name.strip_prefix(vendor) {
            name = rest.to_owned();
        }
    }
    if let Some((base, _)) = name.split_once('@') {
        name = base.to_owned();
    }
    // Bedrock's `-v1:0` version suffix.
    if let Some(pos) = name.rfind("-v")
        && pos + 2 < name.len()
        && name[pos + 2..]
            .chars()
            .all(|c| c.is_ascii_digit() || c == ':')
    {
        name.truncate(pos);
    }
    name = strip_date_suffix(&name);
    out.push(name);
    out.dedup();
    out
}

fn strip_date_suffix(name: &str) -> String {
    let bytes = name.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    // -YYYY-MM-DD
    if bytes.len() > 11 {
        let tail = &bytes[bytes.len() - 11..];
        if tail[0] == b'-'
            && digits(&tail[1..5])
            && tail[5] == b'-'
            && digits(&tail[6..8])
            && tail[8] == b'-'
            && digits(&tail[9..])
        {
            return name[..name.len() - 11].to_owned();
        }
    }
    // -YYYYMMDD
    if bytes.len() > 9 {
        let tail = &bytes[bytes.len() - 9..];
        if tail[0] == b'-' && digits(&tail[1..]) && (tail[1] == b'2') {
            return name[..name.len() - 9].to_owned();
        }
    }
    name.to_owned()
}

fn metric(row: &Map<String, Value>, name: &str) -> Option<f64> {
    row.get("metrics")?.get(name)?.as_f64()
}

/// Prices one merged row in place; returns whether it changed. Idempotent.
pub fn price_span(row: &mut Map<String, Value>) -> bool {
    price_span_with(PriceTable::builtin(), row)
}

/// [`price_span`] with a given table.
pub fn price_span_with(table: &PriceTable, row: &mut Map<String, Value>) -> bool {
    let is_llm = row
        .get("span_attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        == Some("llm");
    let model = row
        .get("metadata")
        .and_then(|m| m.get("model"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (prompt, completion) = (
        metric(row, "prompt_tokens"),
        metric(row, "completion_tokens"),
    );
    let (Some(model), true, true) = (model, is_llm, prompt.is_some() || completion.is_some())
    else {
        return false;
    };
    let tokens = TokenCounts {
        prompt: prompt.unwrap_or(0.0),
        completion: completion.unwrap_or(0.0),
        cached: metric(row, "prompt_cached_tokens").unwrap_or(0.0),
        cache_write: metric(row, "prompt_cache_creation_tokens").unwrap_or(0.0),
    };
    let day = metric(row, "start")
        .map(crate::timefmt_day)
        .unwrap_or_else(|| "9999-12-31".into());
    let marker = row.get("metadata").and_then(|m| m.get("pricing")).cloned();
    let current_cost = metric(row, "estimated_cost");
    let ours = marker
        .as_ref()
        .and_then(|m| m.get("source"))
        .and_then(Value::as_str)
        == Some("price_table")
        && marker
            .as_ref()
            .and_then(|m| m.get("cost"))
            .and_then(Value::as_f64)
            == current_cost;
    let entry = table.lookup(&model, &day);
    let computed = entry.map(|e| e.cost(tokens));

    let (new_marker, new_cost) = match (current_cost, ours) {
        // The emitter's cost stands; the table's figure is recorded beside it.
        (Some(_), false) => {
            let mut m = match &marker {
                Some(Value::Object(m))
                    if m.get("source").and_then(Value::as_str) == Some("emitter") =>
                {
                    m.clone()
                }
                _ => {
                    let mut m = Map::new();
                    m.insert("source".into(), json!("emitter"));
                    m
                }
            };
            match (entry, computed) {
                (Some(e), Some(c)) => {
                    m.insert("price_table_cost".into(), json!(c));
                    m.insert("entry".into(), json!(e.id));
                    m.insert("table".into(), json!(table.version));
                }
                _ => {
                    m.remove("price_table_cost");
                    m.remove("entry");
                    m.remove("table");
                }
            }
            (Value::Object(m), current_cost)
        }
        _ => match (entry, computed) {
            (Some(e), Some(c)) => (
                json!({"source": "price_table", "entry": e.id, "since": e.since, "table": table.version, "cost": c}),
                Some(c),
            ),
            _ => (
                json!({"source": "unpriced", "model": model, "table": table.version}),
                None,
            ),
        },
    };
    let mut changed = false;
    if marker.as_ref() != Some(&new_marker) {
        let metadata = row
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = metadata {
            m.insert("pricing".into(), new_marker);
            changed = true;
        }
    }
    if new_cost != current_cost {
        let metrics = row
            .entry("metrics")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = metrics {
            match new_cost {
                Some(c) => m.insert("estimated_cost".into(), json!(c)),
                None => m.remove("estimated_cost"),
            };
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llm(model: &str, metrics: Value) -> Map<String, Value> {
        json!({"span_attributes": {"type": "llm"}, "metadata": {"model": model}, "metrics": metrics})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn the_builtin_table_parses() {
        let t = PriceTable::parse(PRICE_TABLE_JSON).expect("model-prices.json parses");
        assert!(t.models.len() > 30);
        for e in &t.models {
            assert!(e.input >= 0.0 && e.output >= 0.0, "{}", e.id);
            assert_eq!(e.since.len(), 10, "{}", e.id);
        }
    }

    #[test]
    fn names_are_normalized() {
        let t = PriceTable::builtin();
        let id = |m: &str| t.lookup(m, "2026-01-01").map(|e| e.id.clone());
        assert_eq!(
            id("gpt-4o-mini-2024-07-18").as_deref(),
            Some("openai/gpt-4o-mini")
        );
        assert_eq!(id("openai/gpt-4o").as_deref(), Some("openai/gpt-4o"));
        assert_eq!(
            id("claude-3-5-sonnet-20241022").as_deref(),
            Some("anthropic/claude-3-5-sonnet")
        );
        assert_eq!(
            id("us.anthropic.claude-3-5-haiku-20241022-v1:0").as_deref(),
            Some("anthropic/claude-3-5-haiku")
        );
        assert_eq!(
            id("claude-3-5-sonnet@20240620").as_deref(),
            Some("anthropic/claude-3-5-sonnet")
        );
        assert_eq!(
            id("models/gemini-2.0-flash").as_deref(),
            Some("google/gemini-2.0-flash")
        );
        assert_eq!(id("my-finetune"), None);
    }

    #[test]
    fn dated_prices() {
        let t = PriceTable::builtin();
        assert_eq!(t.lookup("gpt-4o", "2024-06-01").map(|e| e.input), Some(5.0));
        assert_eq!(t.lookup("gpt-4o", "2025-06-01").map(|e| e.input), Some(2.5));
    }

    #[test]
    fn prices_cache_aware() {
        let mut row = llm(
            "gpt-4o",
            json!({"prompt_tokens": 1_000_000, "completion_tokens": 100_000, "prompt_cached_tokens": 400_000, "start": 1.75e9}),
        );
        assert!(price_span(&mut row));
        let cost = row["metrics"]["estimated_cost"].as_f64().unwrap_or(0.0);
        // 600k * 2.5 + 400k * 1.25 + 100k * 10 per million.
        assert!((cost - (1.5 + 0.5 + 1.0)).abs() < 1e-9, "{cost}");
        assert_eq!(row["metadata"]["pricing"]["entry"], "openai/gpt-4o");
        assert_eq!(
            row["metadata"]["pricing"]["table"],
            PriceTable::builtin().version
        );
        // Idempotent; a later merge with more tokens is re-priced.
        assert!(!price_span(&mut row));
        row["metrics"]["completion_tokens"] = json!(200_000);
        assert!(price_span(&mut row));
        assert!((row["metrics"]["estimated_cost"].as_f64().unwrap_or(0.0) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_models_are_unpriced_not_free() {
        let mut row = llm(
            "my-finetune",
            json!({"prompt_tokens": 10, "completion_tokens": 5}),
        );
        assert!(price_span(&mut row));
        assert!(row["metrics"].get("estimated_cost").is_none());
        assert_eq!(row["metadata"]["pricing"]["source"], "unpriced");
    }

    #[test]
    fn emitter_costs_are_kept() {
        let mut row = llm(
            "gpt-4o-mini",
            json!({"prompt_tokens": 1000, "completion_tokens": 1000, "estimated_cost": 0.5}),
        );
        assert!(price_span(&mut row));
        assert_eq!(row["metrics"]["estimated_cost"], 0.5);
        assert_eq!(row["metadata"]["pricing"]["source"], "emitter");
        assert!(
            row["metadata"]["pricing"]["price_table_cost"]
                .as_f64()
                .is_some()
        );
        assert!(!price_span(&mut row));
    }

    #[test]
    fn non_llm_spans_are_left_alone() {
        let mut row = json!({"span_attributes": {"type": "task"}, "metadata": {"model": "gpt-4o"}, "metrics": {"prompt_tokens": 5}})
            .as_object().cloned().unwrap_or_default();
        assert!(!price_span(&mut row));
    }
}
