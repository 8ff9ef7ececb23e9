//! Payload text: random English words mixed with Japanese, Chinese and German sentences.
//!
//! Long texts (system prompts, retrieved context, model answers, tool results) come from a
//! pool generated once, so the clients spend little CPU next to the server on the same
//! machine; every span still gets a unique question and a unique tail on its output. Pool
//! entries are stored JSON-escaped without quotes, so fragments can be joined inside one JSON
//! string literal.

use rand::Rng;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;

/// Distinct texts per pool.
const POOL_SIZE: usize = 512;

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "the", "model", "agent", "answer", "question", "context", "document", "summary", "user",
    "assistant", "system", "tool", "call", "result", "function", "search", "query", "index",
    "vector", "embedding", "retrieval", "chunk", "token", "prompt", "response", "latency",
    "request", "server", "client", "database", "table", "column", "row", "value", "number",
    "error", "warning", "retry", "timeout", "budget", "invoice", "customer", "order", "shipping",
    "refund", "policy", "account", "email", "address", "billing", "payment", "subscription",
    "plan", "upgrade", "report", "quarter", "revenue", "growth", "forecast", "metric",
    "dashboard", "chart", "trend", "analysis", "dataset", "sample", "label", "score",
    "evaluation", "experiment", "baseline", "variant", "accuracy", "feedback", "review",
    "ticket", "issue", "bug", "feature", "release", "deploy", "version", "branch", "build",
    "test", "pipeline", "cluster", "region", "network", "stream", "cache", "memory", "disk",
    "file", "upload", "image", "audio", "language", "translate", "weather", "temperature",
    "rain", "city", "country", "travel", "flight", "hotel", "booking", "restaurant", "recipe",
    "energy", "battery", "vehicle", "route", "distance", "minute", "hour", "week", "month",
    "please", "thanks", "could", "would", "should", "explain", "describe", "compare", "find",
    "check", "verify", "update", "create", "delete", "change", "fix", "improve", "estimate",
    "quickly", "carefully", "again", "also", "however", "because", "therefore", "although",
    "before", "after", "during", "between", "within", "without", "about", "into", "from",
    "with", "for", "and", "but", "not", "all", "some", "many", "each", "every", "other", "new",
    "large", "small", "fast", "slow", "good", "better", "best", "important", "simple", "clear",
];

/// Japanese sentences (none contains a planted rare word).
const JAPANESE: &[&str] = &[
    "このドキュメントの要点を三つにまとめてください。",
    "注文の配送状況を確認しています。",
    "明日の東京の天気は晴れのち曇りです。",
    "申し訳ありませんが、その情報は見つかりませんでした。",
    "次の四半期の売上予測を教えてください。",
    "ユーザーの質問に丁寧に回答してください。",
];

/// Chinese sentences (none contains a planted rare word).
const CHINESE: &[&str] = &[
    "请帮我总结这份报告的主要内容。",
    "这个订单的退款已经处理完毕。",
    "北京明天可能会下雨，请带伞。",
    "我们需要检查数据库的连接设置。",
    "用户希望了解最新的价格方案。",
    "这段代码在生产环境中出现了错误。",
];

/// German sentences.
const GERMAN: &[&str] = &[
    "Bitte fassen Sie das Dokument kurz zusammen.",
    "Die Bestellung wurde gestern versandt.",
    "Wie wird das Wetter morgen in Berlin?",
    "Der Kunde möchte sein Abonnement kündigen.",
    "Die Rechnung enthält einen Fehler bei der Mehrwertsteuer.",
    "Können Sie die Ergebnisse der Auswertung erklären?",
];

/// Appends one English sentence of random words (some numbers among them).
fn push_english(rng: &mut SmallRng, out: &mut String) {
    let words = rng.random_range(6..16);
    for i in 0..words {
        let word = WORDS.choose(rng).copied().unwrap_or("word");
        if i == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push(' ');
            if rng.random_range(0..15) == 0 {
                out.push_str(&rng.random_range(0..100_000u32).to_string());
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out.push_str(if rng.random_range(0..5) == 0 {
        "? "
    } else {
        ". "
    });
}

/// Appends text until `out` has grown by at least `bytes` bytes: mostly English, about one
/// sentence in six Japanese, Chinese or German.
pub fn push_mixed(rng: &mut SmallRng, out: &mut String, bytes: usize) {
    let target = out.len() + bytes;
    while out.len() < target {
        let other = match rng.random_range(0..18) {
            0 => JAPANESE,
            1 => CHINESE,
            2 => GERMAN,
            _ => &[],
        };
        match other.choose(rng) {
            Some(sentence) => {
                out.push_str(sentence);
                out.push(' ');
            }
            None => push_english(rng, out),
        }
    }
}

/// Mixed-language text of about `bytes` bytes.
pub fn mixed(rng: &mut SmallRng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 64);
    push_mixed(rng, &mut s, bytes);
    s.truncate(s.trim_end().len());
    s
}

/// English-only text of about `bytes` bytes (short per-span tails and arguments).
pub fn english(rng: &mut SmallRng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 64);
    while s.len() < bytes {
        push_english(rng, &mut s);
    }
    s.truncate(s.trim_end().len());
    s
}

/// `s` as a JSON string literal's content: escaped, without the quotes.
pub fn escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .map_or_else(String::new, str::to_owned)
}

/// Pre-generated texts, JSON-escaped (see the module docs).
#[derive(Debug)]
pub struct Pool {
    /// System prompts, ~500 B.
    pub system: Vec<String>,
    /// Retrieved context pasted into the user message, ~1.3 KB.
    pub context: Vec<String>,
    /// Model answers, ~450 B.
    pub answer: Vec<String>,
    /// Tool results, ~250 B.
    pub tool: Vec<String>,
    /// Retrieved documents, ~150 B.
    pub doc: Vec<String>,
}

impl Pool {
    /// Generates the pool (about 1.5 MB) deterministically from `rng`.
    pub fn generate(rng: &mut SmallRng) -> Self {
        let mut texts = |count: usize, bytes: usize| -> Vec<String> {
            (0..count).map(|_| escape(&mixed(rng, bytes))).collect()
        };
        Pool {
            system: texts(16, 500),
            context: texts(POOL_SIZE, 1300),
            answer: texts(POOL_SIZE, 420),
            tool: texts(POOL_SIZE, 250),
            doc: texts(POOL_SIZE, 150),
        }
    }
}

/// A random entry of a pool list (empty if the list is).
pub fn pick<'a>(rng: &mut SmallRng, list: &'a [String]) -> &'a str {
    list.choose(rng).map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn texts_mix_languages_and_escape_cleanly() -> anyhow::Result<()> {
        let mut rng = SmallRng::seed_from_u64(3);
        let text = mixed(&mut rng, 20_000);
        assert!(text.len() >= 19_900);
        assert!(text.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)));
        assert!(text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
        assert!(text.contains('ü') || text.contains('ö') || text.contains('ä'));
        let literal = format!("\"{}\"", escape("a \"q\" \\ b\n"));
        let back: String = serde_json::from_str(&literal)?;
        assert_eq!(back, "a \"q\" \\ b\n");
        Ok(())
    }
}
