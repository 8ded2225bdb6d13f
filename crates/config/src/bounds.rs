//! Bounds on the durations and counts of the configuration.
//!
//! A number from a file is only worth what the code can do with it: a header timeout of
//! 10^19 seconds overflows an `Instant` inside hyper, a connection limit of 2^64 overflows a
//! semaphore, a refresh interval near `u64::MAX` seconds overflows the jitter. Every duration
//! and count the service uses is therefore read through [`duration`] or [`count`], which
//! refuse a value outside its range with an error naming the key (serde reports the path).
//!
//! A new key gets its bounds where it is declared:
//!
//! ```ignore
//! #[serde(default = "...", deserialize_with = "crate::bounds::duration::<_, SECOND, HOUR>")]
//! pub some_timeout: Duration,
//! #[serde(default = "...", deserialize_with = "crate::bounds::count::<_, usize, 1, 10_000>")]
//! pub some_limit: usize,
//! ```
//!
//! Durations are bounded in milliseconds (the constants below), counts in their own unit.
//! Defaults are checked against the same bounds by the tests.

use serde::de::{Deserialize, Deserializer, Error};
use std::time::Duration;

pub const MILLISECOND: u64 = 1;
pub const SECOND: u64 = 1000 * MILLISECOND;
pub const MINUTE: u64 = 60 * SECOND;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: u64 = 24 * HOUR;

/// Serde `deserialize_with` for a duration (any form of `rsp_model::duration`) between
/// `MIN_MS` and `MAX_MS` milliseconds, both included.
pub fn duration<'de, D, const MIN_MS: u64, const MAX_MS: u64>(
    deserializer: D,
) -> Result<Duration, D::Error>
where
    D: Deserializer<'de>,
{
    let value = rsp_model::duration::serde::deserialize(deserializer)?;
    let (min, max) = (Duration::from_millis(MIN_MS), Duration::from_millis(MAX_MS));
    if value < min || value > max {
        return Err(D::Error::custom(format!(
            "{} is out of range: write a duration from {} to {}",
            human(value),
            human(min),
            human(max)
        )));
    }
    Ok(value)
}

/// As [`duration`], for an optional key (with `#[serde(default)]`: absent is `None`).
pub fn optional_duration<'de, D, const MIN_MS: u64, const MAX_MS: u64>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error>
where
    D: Deserializer<'de>,
{
    duration::<D, MIN_MS, MAX_MS>(deserializer).map(Some)
}

/// Serde `deserialize_with` for a whole number between `MIN` and `MAX`, both included, as
/// the integer type `T` the code uses.
pub fn count<'de, D, T, const MIN: u64, const MAX: u64>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let out_of_range = |got: &dyn std::fmt::Display| {
        D::Error::custom(format!(
            "{got} is out of range: write a whole number from {MIN} to {MAX}"
        ))
    };
    let value = match Number::deserialize(deserializer)? {
        Number::Unsigned(value) => value,
        Number::Signed(value) => return Err(out_of_range(&value)),
    };
    if !(MIN..=MAX).contains(&value) {
        return Err(out_of_range(&value));
    }
    T::try_from(value).map_err(|_| out_of_range(&value))
}

/// An integer as YAML writes it; anything else is a type error from serde, which names the
/// key and the expected type.
#[derive(serde::Deserialize)]
#[serde(untagged, expecting = "a whole number")]
enum Number {
    Unsigned(u64),
    Signed(i64),
}

/// A duration the way the configuration writes them: `250ms`, `10s`, `5m`, `1h`, `30d`, or
/// seconds with a fraction when no unit divides it.
pub fn human(duration: Duration) -> String {
    let millis = duration.as_millis();
    let units: [(u128, &str); 5] = [
        (u128::from(DAY), "d"),
        (u128::from(HOUR), "h"),
        (u128::from(MINUTE), "m"),
        (u128::from(SECOND), "s"),
        (1, "ms"),
    ];
    if duration.subsec_nanos().is_multiple_of(1_000_000) && millis > 0 {
        if let Some((size, unit)) = units.iter().find(|(size, _)| millis.is_multiple_of(*size)) {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{}s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_use_the_largest_exact_unit() {
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_secs(90)), "90s");
        assert_eq!(human(Duration::from_millis(1500)), "1500ms");
        assert_eq!(human(Duration::from_secs(30 * 86400)), "30d");
        assert_eq!(human(Duration::ZERO), "0s");
        assert_eq!(human(Duration::from_nanos(1)), "0.000000001s");
        assert_eq!(human(Duration::MAX), "18446744073709552000s");
    }
}
