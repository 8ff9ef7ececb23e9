//! How text becomes index terms, and how a search needle becomes term lookups.
//!
//! `MATCH` is a substring search, so the index must find every row that contains the needle
//! anywhere, also inside a word. Terms are the text's words (runs of letters and digits) and
//! its CJK bigrams; a needle is split the same way and each of its pieces is looked up by a
//! rule that keeps every true match: the first word may be the end of a longer word, the last
//! one the start of a longer word, a lone word any part of one. The index answers a superset;
//! the query still verifies the substring on each candidate row, so answers are exact.
//!
//! Very long runs (base64 images, hashes) would bloat the dictionary with one-off terms, so a
//! run longer than [`LONG_RUN`] characters is indexed as overlapping windows of that length,
//! [`WINDOW_STEP`] apart: any piece of at most `WINDOW_STEP` characters lies inside one window,
//! the first window starts the run and the last one ends it.

/// Runs longer than this (in characters) are indexed as windows.
pub(crate) const LONG_RUN: usize = 64;
/// Distance between window starts; also the longest needle piece looked up whole in windows.
pub(crate) const WINDOW_STEP: usize = 32;

/// How a needle piece is looked up in the dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// The term equals the piece.
    Exact,
    /// The term starts with the piece.
    Prefix,
    /// The term ends with the piece.
    Suffix,
    /// The term contains the piece.
    Contains,
}

/// One lookup: rows holding any term that matches `text` by `rule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) rule: Rule,
}

/// Chinese, Japanese and Korean characters: indexed as bigrams, because these scripts do not
/// separate words with spaces.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x3040..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F | 0x20000..=0x2FA1F)
}

/// A character of a word run.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// The run class of a character: `Some(true)` CJK, `Some(false)` a word character, `None`
/// a separator.
fn class_of(c: char) -> Option<bool> {
    if is_cjk(c) {
        Some(true)
    } else if is_word(c) {
        Some(false)
    } else {
        None
    }
}

/// A maximal run of word or CJK characters: byte range and character count.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    chars: usize,
    cjk: bool,
}

/// The runs of `text`, in order. ASCII (most of what is logged) is classified a byte at a
/// time, and a run of ASCII letters and digits is taken in one tight loop; other characters
/// are decoded and classified by Unicode rules.
fn runs(text: &str) -> Vec<Run> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut current: Option<Run> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (class, len) = if b < 0x80 {
            if b.is_ascii_alphanumeric() {
                // The whole ASCII stretch of the word at once.
                let mut end = i + 1;
                while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
                    end += 1;
                }
                (Some(false), end - i)
            } else {
                (None, 1)
            }
        } else {
            let c = text[i..]
                .chars()
                .next()
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            (class_of(c), c.len_utf8())
        };
        // Characters of this step: `len` for an ASCII word stretch, else one.
        let chars = if b < 0x80 { len } else { 1 };
        match (&mut current, class) {
            (Some(run), Some(cjk)) if run.cjk == cjk => {
                run.end = i + len;
                run.chars += chars;
            }
            (_, class) => {
                if let Some(run) = current.take() {
                    out.push(run);
                }
                current = class.map(|cjk| Run {
                    start: i,
                    end: i + len,
                    chars,
                    cjk,
                });
            }
        }
        i += len;
    }
    out.extend(current);
    out
}

/// Byte offsets of each character start of `s`, plus `s.len()`.
fn char_bounds(s: &str) -> Vec<usize> {
    s.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect()
}

/// Calls `emit` with every term of `text` (repeats included; callers deduplicate).
pub(crate) fn for_each_term(text: &str, mut emit: impl FnMut(&str)) {
    for run in runs(text) {
        let s = &text[run.start..run.end];
        if run.cjk {
            if run.chars == 1 {
                emit(s);
                continue;
            }
            let bounds = char_bounds(s);
            for w in bounds.windows(3) {
                emit(&s[w[0]..w[2]]);
            }
        } else if run.chars <= LONG_RUN {
            emit(s);
        } else {
            let bounds = char_bounds(s);
            let mut first = 0;
            loop {
                let last = first + LONG_RUN;
                if last >= run.chars {
                    emit(&s[bounds[run.chars - LONG_RUN]..]);
                    break;
                }
                emit(&s[bounds[first]..bounds[last]]);
                first += WINDOW_STEP;
            }
        }
    }
}

/// The lookups that together find every row containing `needle`.
///
/// `exact_text` says the verified text is the very text that was indexed, so word boundaries
/// inside the needle are trusted. When the verified text is only derived from it (a JSON
/// value read unescaped), every piece is looked up by [`Rule::Contains`], which holds either
/// way. Empty when the needle has no letters or digits (the index cannot help).
pub(crate) fn needle_pieces(needle: &str, exact_text: bool) -> Vec<Piece> {
    let found = runs(needle);
    let count = found.len();
    let mut out = Vec::new();
    for (i, run) in found.iter().enumerate() {
        let s = &needle[run.start..run.end];
        if run.cjk {
            if run.chars == 1 {
                out.push(Piece {
                    text: s.to_owned(),
                    rule: Rule::Contains,
                });
            } else {
                let bounds = char_bounds(s);
                for w in bounds.windows(3) {
                    out.push(Piece {
                        text: s[w[0]..w[2]].to_owned(),
                        rule: Rule::Exact,
                    });
                }
            }
            continue;
        }
        // A word touching the needle's start or end may continue in the text.
        let open_before = i == 0 && run.start == 0;
        let open_after = i + 1 == count && run.end == needle.len();
        let rule = if !exact_text || run.chars > WINDOW_STEP {
            Rule::Contains
        } else {
            match (open_before, open_after) {
                (true, true) => Rule::Contains,
                (true, false) => Rule::Suffix,
                (false, true) => Rule::Prefix,
                (false, false) => Rule::Exact,
            }
        };
        // A long piece may sit in a windowed run: look up its first WINDOW_STEP characters,
        // which always lie inside one window.
        let text = if run.chars > WINDOW_STEP {
            let bounds = char_bounds(s);
            s[..bounds[WINDOW_STEP]].to_owned()
        } else {
            s.to_owned()
        };
        out.push(Piece { text, rule });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_term(text, |t| out.push(t.to_owned()));
        out
    }

    /// `runs` classifying every character by Unicode rules (what the ASCII fast path must
    /// agree with).
    fn runs_by_char(text: &str) -> Vec<(usize, usize, usize, bool)> {
        let mut out: Vec<(usize, usize, usize, bool)> = Vec::new();
        let mut current: Option<(usize, usize, usize, bool)> = None;
        for (i, c) in text.char_indices() {
            match (&mut current, class_of(c)) {
                (Some(run), Some(cjk)) if run.3 == cjk => {
                    run.1 = i + c.len_utf8();
                    run.2 += 1;
                }
                (_, class) => {
                    out.extend(current.take());
                    current = class.map(|cjk| (i, i + c.len_utf8(), 1, cjk));
                }
            }
        }
        out.extend(current);
        out
    }

    #[test]
    fn the_ascii_fast_path_finds_the_same_runs() {
        for text in [
            "",
            "hello, wörld_42!",
            "abc日本def ghi",
            "naïve café x² ß 42abc",
            "日本語のテキスト and English",
            "{\"role\":\"user\",\"content\":\"what is my refund status?\"}",
            "ẞig Ωmega 한국어 текст",
        ] {
            let fast: Vec<_> = runs(text)
                .iter()
                .map(|r| (r.start, r.end, r.chars, r.cjk))
                .collect();
            assert_eq!(fast, runs_by_char(text), "{text:?}");
        }
    }

    #[test]
    fn words_and_cjk_bigrams() {
        assert_eq!(terms("hello, wörld_42!"), ["hello", "wörld", "42"]);
        assert_eq!(terms("我在东京"), ["我在", "在东", "东京"]);
        assert_eq!(terms("猫 abc東"), ["猫", "abc", "東"]);
        assert_eq!(terms("\"a\\nb\""), ["a", "nb"]);
    }

    #[test]
    fn long_runs_become_overlapping_windows() {
        let run: String = (0..100)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let t = terms(&run);
        assert_eq!(t[0], run[..64]);
        assert_eq!(t.last().map(String::as_str), Some(&run[36..]));
        // Every 32-character piece lies inside one window.
        for start in 0..=68 {
            let piece = &run[start..start + 32];
            assert!(t.iter().any(|w| w.contains(piece)), "{start}");
        }
    }

    #[test]
    fn needle_rules_follow_its_edges() {
        let p = needle_pieces("rare", true);
        assert_eq!(
            p,
            [Piece {
                text: "rare".into(),
                rule: Rule::Contains
            }]
        );
        let p = needle_pieces("ab cd ef", true);
        let rules: Vec<Rule> = p.iter().map(|p| p.rule).collect();
        assert_eq!(rules, [Rule::Suffix, Rule::Exact, Rule::Prefix]);
        let p = needle_pieces(" ab cd ", true);
        assert!(p.iter().all(|p| p.rule == Rule::Exact));
        let p = needle_pieces("ab cd", false);
        assert!(p.iter().all(|p| p.rule == Rule::Contains));
        let p = needle_pieces("量子猫", true);
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|p| p.rule == Rule::Exact));
        assert_eq!(needle_pieces("猫", true)[0].rule, Rule::Contains);
        assert!(needle_pieces("  ...", true).is_empty());
    }
}
