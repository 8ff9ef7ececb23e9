//! Latency percentiles.

use std::time::Duration;

/// Nearest-rank percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Maximum.
    pub max: Duration,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples` (all zero when empty).
    pub fn of(samples: &[Duration]) -> Self {
        let mut s = samples.to_vec();
        s.sort_unstable();
        let rank = |q: f64| -> Duration {
            if s.is_empty() {
                return Duration::ZERO;
            }
            let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
            s[i]
        };
        Percentiles {
            count: s.len(),
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: s.last().copied().unwrap_or_default(),
        }
    }
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let samples: Vec<Duration> = (1..=30).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(&samples);
        assert_eq!(p.count, 30);
        assert_eq!(p.p50, Duration::from_millis(15));
        assert_eq!(p.p95, Duration::from_millis(29));
        assert_eq!(p.max, Duration::from_millis(30));
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
    }
}
