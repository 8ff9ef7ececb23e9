//! Timestamps in the protocol's format: ISO-8601 with microseconds and `+00:00`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats a unix time (seconds) the way the SDK does, e.g. `2026-11-21T23:39:20.912548+00:00`.
pub fn iso_from_unix(seconds: f64) -> String {
    let nanos = (seconds * 1e9) as i128;
    let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The current time in the protocol's format.
pub fn now_iso() -> String {
    iso_from_unix(now_unix())
}

/// The current unix time in seconds.
pub fn now_unix() -> f64 {
    OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9
}

/// The current unix time in microseconds.
pub fn now_micros() -> u64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as u64
}

/// Parses an RFC 3339 / ISO-8601 timestamp into unix seconds.
pub fn parse_iso(text: &str) -> Option<f64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = iso_from_unix(1_795_304_360.912_548);
        assert_eq!(s, "2026-11-21T23:39:20.912548+00:00");
        let back = parse_iso(&s).unwrap();
        assert!((back - 1_795_304_360.912_548).abs() < 1e-5);
    }
}
