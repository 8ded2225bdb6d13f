//! Whole numbers read from tags, of any size.
//!
//! The original reads version parts, cycles and builds with Python's `int`, which has no size
//! limit, so `r999999999999999999999_0_0` is a release there. Here a number is its value when
//! it fits in a `u64`, else its digits; the two never overlap (`Big` is only made for values
//! above `u64::MAX`), so comparing them is: small values numerically, any small value below
//! any big one, big ones by their number of digits and then digit by digit.
//!
//! Parsing keeps the fast path free of allocations and of extra bytes per tag: a parsed tag
//! stores each number as a machine integer whose largest value ([`LONG`] or [`LONG32`]) means
//! "too long; read the digits from the tag", and the digits are only looked at in that rare
//! case.

use serde::{Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// A whole number from a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Number<'a> {
    Small(u64),
    /// A value above `u64::MAX`: its decimal digits, without leading zeros.
    Big(&'a str),
}

/// The stored marker of a version part too long for a `u64`.
pub(crate) const LONG: u64 = u64::MAX;
/// The stored marker of a cycle or build number too long for a `u32`.
pub(crate) const LONG32: u32 = u32::MAX;

impl<'a> Number<'a> {
    /// The number that ASCII `digits` (at least one, leading zeros allowed) write.
    pub fn from_digits(digits: &'a str) -> Number<'a> {
        let significant = digits.trim_start_matches('0');
        match value(significant.as_bytes()) {
            Some(value) => Number::Small(value),
            None => Number::Big(significant),
        }
    }

    /// The number as stored after parsing: `stored` itself, or when it is the `long` marker,
    /// what its `digits` say (only then are they looked up).
    pub(crate) fn unpack(stored: u64, long: u64, digits: impl FnOnce() -> &'a str) -> Number<'a> {
        if stored == long {
            Number::from_digits(digits())
        } else {
            Number::Small(stored)
        }
    }

    /// An owned copy.
    pub fn to_owned_number(self) -> OwnedNumber {
        match self {
            Number::Small(value) => OwnedNumber::Small(value),
            Number::Big(digits) => OwnedNumber::Big(Arc::from(digits)),
        }
    }

    /// Whether this is below `cutoff` (no number from a tag is below a negative one).
    pub fn is_below(self, cutoff: i64) -> bool {
        u64::try_from(cutoff).is_ok_and(|cutoff| self < Number::Small(cutoff))
    }
}

/// The value of ASCII digits without leading zeros, if it fits in a `u64`.
fn value(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

/// What parsing stores for the digits `digits`: their value, or `long` when the value does
/// not fit below it.
pub(crate) fn pack(digits: &[u8], long: u64) -> u64 {
    match value(digits) {
        Some(value) if value < long => value,
        _ => long,
    }
}

/// What parsing stores for a cycle or build number's digits.
pub(crate) fn pack32(digits: &[u8]) -> u32 {
    u32::try_from(pack(digits, u64::from(LONG32))).unwrap_or(LONG32)
}

impl Ord for Number<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Number::Small(a), Number::Small(b)) => a.cmp(b),
            (Number::Small(_), Number::Big(_)) => Ordering::Less,
            (Number::Big(_), Number::Small(_)) => Ordering::Greater,
            (Number::Big(a), Number::Big(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        }
    }
}

impl PartialOrd for Number<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Small(value) => write!(f, "{value}"),
            Number::Big(digits) => f.write_str(digits),
        }
    }
}

/// A JSON integer however long, as Python's `json` writes one.
impl Serialize for Number<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Number::Small(value) => serializer.serialize_u64(*value),
            Number::Big(digits) => serde_json::value::RawValue::from_string((*digits).to_owned())
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

impl From<u32> for Number<'_> {
    fn from(value: u32) -> Self {
        Number::Small(value.into())
    }
}

/// A [`Number`] that owns its digits (an alias keeps its target's cycle).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OwnedNumber {
    Small(u64),
    Big(Arc<str>),
}

impl OwnedNumber {
    pub fn as_number(&self) -> Number<'_> {
        match self {
            OwnedNumber::Small(value) => Number::Small(*value),
            OwnedNumber::Big(digits) => Number::Big(digits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: &str = "999999999999999999999";

    #[test]
    fn numbers_beyond_64_bits_keep_their_digits_and_order() {
        assert_eq!(Number::from_digits("0042"), Number::Small(42));
        assert_eq!(Number::from_digits("000"), Number::Small(0));
        assert_eq!(
            Number::from_digits("18446744073709551615"),
            Number::Small(u64::MAX)
        );
        assert_eq!(
            Number::from_digits("018446744073709551616"),
            Number::Big("18446744073709551616")
        );
        let mut numbers = [
            Number::from_digits(BIG),
            Number::from_digits("100000000000000000000"),
            Number::Small(7),
            Number::from_digits("18446744073709551616"),
            Number::Small(u64::MAX),
            Number::from_digits("1000000000000000000000"),
        ];
        numbers.sort();
        let text: Vec<String> = numbers.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "7",
                "18446744073709551615",
                "18446744073709551616",
                "100000000000000000000",
                BIG,
                "1000000000000000000000"
            ]
        );
    }

    #[test]
    fn numbers_are_json_integers_of_any_length() {
        let json = serde_json::to_string(&[Number::Small(3), Number::from_digits(BIG)]).unwrap();
        assert_eq!(json, format!("[3,{BIG}]"));
    }

    #[test]
    fn packed_numbers_read_their_digits_only_when_long() {
        assert_eq!(pack(b"12", LONG), 12);
        assert_eq!(pack(BIG.as_bytes(), LONG), LONG);
        assert_eq!(pack(b"4294967295", u64::from(LONG32)), u64::from(LONG32));
        assert_eq!(
            Number::unpack(12, LONG, || unreachable!("digits of a small number")),
            Number::Small(12)
        );
        assert_eq!(Number::unpack(LONG, LONG, || BIG), Number::Big(BIG));
        assert_eq!(
            Number::unpack(u64::from(LONG32), u64::from(LONG32), || "4294967295"),
            Number::Small(4_294_967_295)
        );
        assert!(Number::Small(3).is_below(4));
        assert!(!Number::Small(3).is_below(-1));
        assert!(!Number::from_digits(BIG).is_below(i64::MAX));
    }
}
