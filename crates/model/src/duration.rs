//! Durations in the configuration's human syntax (behaviour.md §10.4), with serde helpers.
//!
//! Accepted: a number of seconds (integer or float, or a string holding one, e.g. `"300"`), or
//! `[N weeks|week|w][N days|day|d][N hours|hour|hr|h][N minutes|minute|mins|min|m]
//! [N seconds|second|secs|sec|s]` in this order, each part optional, with optional whitespace
//! (`2w`, `1h30m`, `10 minutes`). Serialised as float seconds (`300.0`), as the API shows them.
//!
//! Two deliberate departures from the original, which would accept them: an empty string and
//! negative durations are errors (neither means anything useful in a configuration).
//!
//! Use `#[serde(with = "rsp_model::duration::serde")]` on a `Duration` field and
//! `#[serde(with = "rsp_model::duration::option", default)]` on an `Option<Duration>`.

use std::time::Duration;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration: write a number of seconds or a form like 1w2d3h4m5s")]
    Empty,
    #[error("invalid duration {0:?}: write a number of seconds or a form like 1w2d3h4m5s (weeks, days, hours, minutes, seconds in this order)")]
    Syntax(String),
    #[error("invalid duration {0}: durations must be finite and not negative")]
    OutOfRange(String),
}

/// Units in the only order the syntax allows, each with its spellings, longest first so that
/// `mins` is not read as `m` followed by junk.
const UNITS: [(&[&str], u64); 5] = [
    (&["weeks", "week", "w"], 7 * 24 * 3600),
    (&["days", "day", "d"], 24 * 3600),
    (&["hours", "hour", "hr", "h"], 3600),
    (&["minutes", "minute", "mins", "min", "m"], 60),
    (&["seconds", "second", "secs", "sec", "s"], 1),
];

/// Parses a duration string: seconds as a number, or the unit form.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    if let Ok(seconds) = trimmed.parse::<f64>() {
        return from_seconds(seconds);
    }
    parse_units(trimmed).ok_or_else(|| DurationError::Syntax(text.to_string()))
}

fn parse_units(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total: u64 = 0;
    let mut unit_index = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        // The next unit must come later in the fixed order than the previous one.
        let (index, spelling) =
            UNITS[unit_index..]
                .iter()
                .enumerate()
                .find_map(|(i, (names, _))| {
                    names
                        .iter()
                        .find(|n| rest.starts_with(**n))
                        .map(|n| (unit_index + i, n.len()))
                })?;
        total = total.checked_add(value.checked_mul(UNITS[index].1)?)?;
        rest = rest[spelling..].trim_start();
        unit_index = index + 1;
    }
    Some(Duration::from_secs(total))
}

/// A number of seconds as a duration; refuses negative and non-finite values.
pub fn from_seconds(seconds: f64) -> Result<Duration, DurationError> {
    Duration::try_from_secs_f64(seconds).map_err(|_| DurationError::OutOfRange(seconds.to_string()))
}

/// Serde helper for `Duration` fields: reads the forms above, writes float seconds.
pub mod serde {
    use super::{from_seconds, parse};
    use serde::de::{self, Deserializer, Visitor};
    use serde::Serializer;
    use std::fmt;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }

    pub(super) struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration: a number of seconds or a string like \"1w2d3h4m5s\"")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v)
                .map(Duration::from_secs)
                .map_err(|_| E::custom(super::DurationError::OutOfRange(v.to_string())))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
            from_seconds(v).map_err(E::custom)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse(v).map_err(E::custom)
        }
    }
}

/// Serde helper for `Option<Duration>` fields (`null` or absent is `None`).
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_f64(d.as_secs_f64()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super::serde")] Duration);
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(d)| d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_forms_add_up() {
        assert_eq!(parse("2w"), Ok(Duration::from_secs(14 * 86400)));
        assert_eq!(
            parse("1w2d3h4m5s"),
            Ok(Duration::from_secs(
                7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5
            ))
        );
        assert_eq!(parse("10 minutes"), Ok(Duration::from_secs(600)));
        assert_eq!(parse(" 1 hour 30 mins "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1hr"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("5secs"), Ok(Duration::from_secs(5)));
    }

    #[test]
    fn numbers_are_seconds() {
        assert_eq!(parse("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1.5"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn wrong_order_empty_and_negative_are_refused() {
        assert!(matches!(parse("3h2d"), Err(DurationError::Syntax(_))));
        assert!(matches!(parse("2x"), Err(DurationError::Syntax(_))));
        assert!(matches!(parse("w"), Err(DurationError::Syntax(_))));
        assert_eq!(parse("  "), Err(DurationError::Empty));
        assert!(matches!(parse("-5"), Err(DurationError::OutOfRange(_))));
        assert!(matches!(parse("NaN"), Err(DurationError::OutOfRange(_))));
    }

    #[derive(::serde::Deserialize, ::serde::Serialize, Debug, PartialEq)]
    struct Config {
        #[serde(with = "crate::duration::serde")]
        every: Duration,
        #[serde(with = "crate::duration::option", default)]
        maybe: Option<Duration>,
    }

    #[test]
    fn serde_reads_numbers_and_strings_and_writes_float_seconds() {
        let c: Config = serde_json::from_str(r#"{"every": 300, "maybe": "1m"}"#).unwrap();
        assert_eq!(
            c,
            Config {
                every: Duration::from_secs(300),
                maybe: Some(Duration::from_secs(60))
            }
        );
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"every":300.0,"maybe":60.0}"#
        );
        let c: Config = serde_json::from_str(r#"{"every": "300"}"#).unwrap();
        assert_eq!(c.maybe, None);
        assert!(serde_json::from_str::<Config>(r#"{"every": -1}"#).is_err());
    }
}
