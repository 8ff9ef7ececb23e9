//! Transaction ids: one per write request, fixed-width decimal strings, monotonic.

use serde::{Serialize, Serializer};
use std::fmt;

/// The high 16 bits of every transaction id, as in the protocol (`0x0DE1`), so every id is a
/// 19-digit decimal and string order equals numeric order.
const XACT_PREFIX: u64 = 0x0DE1 << 48;
/// 2020-01-01T00:00:00Z in unix microseconds: the zero of the ids' clock.
const EPOCH_2020_MICROS: u64 = 1_577_836_800_000_000;

/// The low 48 bits hold the sequence.
const XACT_LOW_MASK: u64 = (1 << 48) - 1;

/// A transaction id. Displays as a 19-digit decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct XactId(u64);

impl XactId {
    /// The smallest valid id.
    pub const MIN: XactId = XactId(XACT_PREFIX);

    /// Wraps a raw value; `None` if it lacks the protocol prefix.
    pub fn from_u64(raw: u64) -> Option<Self> {
        (raw & !XACT_LOW_MASK == XACT_PREFIX).then_some(Self(raw))
    }

    /// Parses the decimal string form; `None` unless it is a valid id.
    pub fn parse(text: &str) -> Option<Self> {
        text.trim().parse::<u64>().ok().and_then(Self::from_u64)
    }

    /// The raw value (fits in an `i64`, so backends store it as a signed integer).
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// About when the transaction was assigned (unix seconds): ids follow the wall clock.
    pub fn approx_unix_seconds(self) -> f64 {
        ((self.0 & XACT_LOW_MASK) * 10 + EPOCH_2020_MICROS) as f64 / 1e6
    }

    /// The raw value as `i64` for SQL columns.
    pub fn as_i64(self) -> i64 {
        // Safe: the top bits are 0x0DE1, far below i64::MAX.
        self.0 as i64
    }

    /// The next id after `last` that is also not behind the clock `now_micros`: ids track
    /// wall-clock time (10 µs ticks since 2020, which lasts 89 years in 48 bits) so that they
    /// stay meaningful across restarts, but never go backwards even if the clock does.
    pub fn next_after(last: Option<XactId>, now_micros: u64) -> XactId {
        let clock = (now_micros.saturating_sub(EPOCH_2020_MICROS) / 10).min(XACT_LOW_MASK);
        let after_last = last.map(|l| (l.0 & XACT_LOW_MASK) + 1).unwrap_or(0);
        XactId(XACT_PREFIX | clock.max(after_last).min(XACT_LOW_MASK))
    }
}

impl fmt::Display for XactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for XactId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fixed_width_and_monotonic() {
        let a = XactId::next_after(None, 1_795_000_000_000_000);
        let b = XactId::next_after(Some(a), 1_000); // clock went backwards
        assert!(b > a);
        assert_eq!(a.to_string().len(), 19);
        assert_eq!(b.to_string().len(), 19);
        assert_eq!(XactId::parse(&b.to_string()), Some(b));
        assert_eq!(XactId::parse("12"), None);
        assert_eq!(XactId::MIN.to_string(), "1000080592252960768");
    }
}
