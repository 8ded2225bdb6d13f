//! Exponential backoff with equal jitter, and the spread of periodic work.
//!
//! Equal jitter (half the step fixed, half random) rather than full jitter (anything from zero
//! to the step): full jitter spreads clients best but may retry at once, so a struggling
//! server gets a second request immediately and the n-th wait has no floor. With the lower
//! half fixed, the wait after n failures is at least half the n-th step, which is what
//! "never retry faster than the backoff" means for delays a server asks for too.

use std::time::Duration;

use crate::random_unit;

/// Exponential backoff: the wait after the n-th consecutive failure is drawn from
/// `[step/2, step]` with `step = min(max, initial · 2ⁿ⁻¹)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The step after the first failure.
    pub initial: Duration,
    /// The largest step, however many failures.
    pub max: Duration,
}

impl Backoff {
    pub const fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max }
    }

    /// `min(max, initial · 2^(failures-1))`; `failures` 0 counts as 1.
    pub fn step(&self, failures: u32) -> Duration {
        // 2^31 times any step of a nanosecond or more already saturates at `max` in practice;
        // the bound only keeps the shift defined.
        let exponent = failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << exponent).min(self.max)
    }

    /// The wait after `failures` consecutive failures, with fresh jitter.
    pub fn delay(&self, failures: u32) -> Duration {
        self.delay_at(failures, random_unit())
    }

    /// The wait after `failures` consecutive failures for a jitter `unit` in `[0, 1]`:
    /// `step/2 + unit · step/2`. A `unit` outside `[0, 1]` (or NaN) is clamped.
    pub fn delay_at(&self, failures: u32, unit: f64) -> Duration {
        let step = self.step(failures);
        let half = step / 2;
        half.saturating_add(scale(step - half, unit))
    }

    /// The least wait after `failures` consecutive failures, whatever the jitter.
    pub fn floor(&self, failures: u32) -> Duration {
        self.step(failures) / 2
    }
}

/// `period` ± 10 %, with fresh jitter: when periodic work runs next.
pub fn spread(period: Duration) -> Duration {
    spread_at(period, random_unit())
}

/// `period · (0.9 + 0.2 · unit)`, saturating; `unit` is clamped to `[0, 1]`.
pub fn spread_at(period: Duration, unit: f64) -> Duration {
    let tenth = period / 10;
    period
        .saturating_sub(tenth)
        .saturating_add(scale(tenth.saturating_mul(2), unit))
}

/// `duration · unit` for `unit` clamped to `[0, 1]`; never panics.
fn scale(duration: Duration, unit: f64) -> Duration {
    let unit = if unit.is_nan() {
        0.0
    } else {
        unit.clamp(0.0, 1.0)
    };
    // `mul_f64` panics when the product does not fit; with `unit ≤ 1` it always fits, but
    // rounding of huge durations through f64 may step past `Duration::MAX`.
    Duration::try_from_secs_f64(duration.as_secs_f64() * unit)
        .unwrap_or(duration)
        .min(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn steps_double_up_to_the_cap() {
        let backoff = Backoff::new(SECOND, 10 * SECOND);
        let steps: Vec<u64> = (0..7).map(|n| backoff.step(n).as_secs()).collect();
        assert_eq!(steps, [1, 1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff.step(u32::MAX), 10 * SECOND);
    }

    #[test]
    fn delays_are_drawn_from_the_upper_half_of_the_step() {
        let backoff = Backoff::new(2 * SECOND, 10 * SECOND);
        assert_eq!(backoff.delay_at(1, 0.0), SECOND);
        assert_eq!(backoff.delay_at(1, 1.0), 2 * SECOND);
        assert_eq!(backoff.delay_at(3, 0.5), 6 * SECOND);
        assert_eq!(backoff.delay_at(9, 1.0), 10 * SECOND);
        assert_eq!(backoff.floor(9), 5 * SECOND);
        assert_eq!(backoff.delay_at(1, f64::NAN), SECOND);
        assert_eq!(backoff.delay_at(1, 7.0), 2 * SECOND);
    }

    #[test]
    fn spread_is_ten_percent_either_way() {
        let period = 300 * SECOND;
        assert_eq!(spread_at(period, 0.0), 270 * SECOND);
        assert_eq!(spread_at(period, 0.5), period);
        assert_eq!(spread_at(period, 1.0), 330 * SECOND);
        // A period near the largest duration saturates instead of panicking.
        assert!(spread_at(Duration::MAX, 1.0) <= Duration::MAX);
    }

    proptest! {
        #[test]
        fn no_input_panics_and_bounds_hold(
            initial_ns in any::<u64>(),
            max_ns in any::<u64>(),
            max_secs in prop_oneof![Just(u64::MAX), any::<u64>()],
            failures in any::<u32>(),
            unit in prop_oneof![any::<f64>(), 0.0..=1.0f64],
        ) {
            let max = Duration::new(max_secs, (max_ns % 1_000_000_000) as u32);
            let backoff = Backoff::new(Duration::from_nanos(initial_ns), max);
            let delay = backoff.delay_at(failures, unit);
            prop_assert!(delay <= backoff.max);
            prop_assert!(delay >= backoff.floor(failures));
            prop_assert!(delay <= backoff.step(failures));
            let spread = spread_at(max, unit);
            prop_assert!(spread >= max - max / 10);
        }
    }
}
