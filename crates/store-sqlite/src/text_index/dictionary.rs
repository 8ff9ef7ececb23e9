//! The in-memory term dictionary: every term once, its id its position.
//!
//! Terms sit back to back in one buffer (newline-separated, which no term contains), so a
//! substring lookup is one SIMD scan of the buffer instead of a walk over millions of small
//! strings, and a term costs its bytes plus about 9 bytes of bookkeeping. The hash table holds
//! only ids; it hashes and compares through the buffer.

use super::tokens::Rule;
use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_64;

/// All terms, in id order.
#[derive(Default)]
pub(crate) struct Dictionary {
    /// Terms, each followed by `\n`.
    bytes: Vec<u8>,
    /// Where each term ends (exclusive, before its `\n`).
    ends: Vec<u32>,
    /// Term ids by the hash of their bytes.
    table: HashTable<u32>,
}

impl Dictionary {
    /// Terms held.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn term(&self, id: u32) -> &[u8] {
        View {
            bytes: &self.bytes,
            ends: &self.ends,
        }
        .term(id)
    }

    /// The id of a term, if known.
    pub(crate) fn get(&self, term: &str) -> Option<u32> {
        let bytes = term.as_bytes();
        self.table
            .find(xxh3_64(bytes), |&id| self.term(id) == bytes)
            .copied()
    }

    /// Adds a term that is not in the dictionary yet; returns its id.
    pub(crate) fn push(&mut self, term: &str) -> u32 {
        let id = self.ends.len() as u32;
        self.bytes.extend_from_slice(term.as_bytes());
        self.ends.push(self.bytes.len() as u32);
        self.bytes.push(b'\n');
        let Self {
            bytes, ends, table, ..
        } = self;
        let view = View { bytes, ends };
        table.insert_unique(xxh3_64(term.as_bytes()), id, |&i| xxh3_64(view.term(i)));
        id
    }

    /// Ids of the terms matching `piece` by `rule`, in id order; `None` if there are more
    /// than `limit` (the piece is too common to narrow a search).
    pub(crate) fn matching(&self, piece: &str, rule: Rule, limit: usize) -> Option<Vec<u32>> {
        if rule == Rule::Exact {
            return Some(self.get(piece).into_iter().collect());
        }
        let needle = piece.as_bytes();
        let mut out: Vec<u32> = Vec::new();
        let mut from = 0;
        let finder = memchr::memmem::Finder::new(needle);
        while let Some(found) = finder.find(&self.bytes[from..]) {
            let at = from + found;
            let end = at + needle.len();
            // The term holding the match: the first one ending at or after the match's end.
            let id = self.ends.partition_point(|&e| (e as usize) < end);
            let Some(&term_end) = self.ends.get(id) else {
                break;
            };
            let term_start = term_end as usize - self.term(id as u32).len();
            let keep = match rule {
                Rule::Prefix => at == term_start,
                Rule::Suffix => end == term_end as usize,
                Rule::Contains | Rule::Exact => true,
            };
            if keep {
                out.push(id as u32);
                if out.len() > limit {
                    return None;
                }
                // One id per term: go on after this term.
                from = term_end as usize + 1;
            } else if rule == Rule::Suffix {
                // Another occurrence may still end this term.
                from = at + 1;
            } else {
                from = term_end as usize + 1;
            }
        }
        Some(out)
    }
}

/// A borrowed view for hashing while the table is borrowed mutably.
struct View<'a> {
    bytes: &'a [u8],
    ends: &'a [u32],
}

impl<'a> View<'a> {
    fn term(&self, id: u32) -> &'a [u8] {
        let i = id as usize;
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1] as usize + 1
        };
        &self.bytes[start..self.ends[i] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_terms_by_rule() {
        let mut d = Dictionary::default();
        for t in ["rare", "nrare", "rarely", "bare", "ararar"] {
            assert_eq!(d.get(t), None);
            d.push(t);
        }
        assert_eq!(d.get("rarely"), Some(2));
        assert_eq!(d.len(), 5);
        assert_eq!(d.matching("rare", Rule::Exact, 10), Some(vec![0]));
        assert_eq!(d.matching("rare", Rule::Contains, 10), Some(vec![0, 1, 2]));
        assert_eq!(d.matching("rare", Rule::Prefix, 10), Some(vec![0, 2]));
        assert_eq!(d.matching("rare", Rule::Suffix, 10), Some(vec![0, 1]));
        assert_eq!(d.matching("ar", Rule::Suffix, 10), Some(vec![4]));
        assert_eq!(d.matching("ar", Rule::Contains, 2), None);
        assert_eq!(d.matching("zzz", Rule::Contains, 2), Some(vec![]));
    }
}
