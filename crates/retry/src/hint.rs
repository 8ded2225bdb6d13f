//! Reading the delays servers ask clients to wait before retrying.
//!
//! - `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Registries send the
//!   seconds form; the date form is turned into a delay against the caller's clock.
//! - Google's `google.rpc.RetryInfo.retryDelay`, a `google.protobuf.Duration` in its JSON form:
//!   decimal seconds with up to nine fractional digits and an `s` suffix (`"30s"`,
//!   `"1.500s"`), as the protobuf JSON mapping specifies.
//!
//! Both come from outside and are saturated: a number of seconds beyond what a [`Duration`]
//! holds is the longest duration (the retry policy caps it anyway), and a negative or past
//! delay is zero (the backoff's floor then applies). Text that is not of either form is
//! ignored, as if nothing was asked.

use std::time::{Duration, SystemTime};

/// The delay a `Retry-After` value asks for, `now` being the time the answer arrived.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(whole_seconds(value));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The delay of a `google.protobuf.Duration` in JSON form (`"30s"`, `"0.250s"`, `"-1s"`).
pub fn protobuf_duration(value: &str) -> Option<Duration> {
    let number = value.trim().strip_suffix('s')?;
    let (negative, number) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (seconds, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |text: &str| text.bytes().all(|b| b.is_ascii_digit());
    if seconds.is_empty() || !digits(seconds) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    if negative {
        return Some(Duration::ZERO);
    }
    let nanos: u32 = format!("{fraction:0<9}").parse().unwrap_or(0);
    Some(whole_seconds(seconds).saturating_add(Duration::from_nanos(u64::from(nanos))))
}

/// A string of ASCII digits as seconds, saturating.
fn whole_seconds(digits: &str) -> Duration {
    digits
        .parse::<u64>()
        .map_or(Duration::MAX, Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("99999999999999999999999999", now),
            Some(Duration::MAX)
        );
        // 2015-10-21T07:28:00Z is `now`; one minute later is 60 s away.
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("-5", now), None);
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("", now), None);
    }

    #[test]
    fn protobuf_durations() {
        assert_eq!(protobuf_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(protobuf_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(
            protobuf_duration("0.000000001s"),
            Some(Duration::from_nanos(1))
        );
        assert_eq!(protobuf_duration("-3s"), Some(Duration::ZERO));
        assert_eq!(
            protobuf_duration("99999999999999999999999s"),
            Some(Duration::MAX)
        );
        assert_eq!(
            protobuf_duration("18446744073709551615.999999999s"),
            Some(Duration::MAX)
        );
        for bad in ["30", "s", ".5s", "1.0000000001s", "1e3s", "+1s", "1.s5"] {
            assert_eq!(protobuf_duration(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_panicking(text in ".{0,40}", seconds in any::<u64>()) {
            let now = SystemTime::now();
            let _ = retry_after(&text, now);
            let _ = protobuf_duration(&text);
            prop_assert_eq!(
                retry_after(&seconds.to_string(), now),
                Some(Duration::from_secs(seconds))
            );
            prop_assert_eq!(
                protobuf_duration(&format!("{seconds}s")),
                Some(Duration::from_secs(seconds))
            );
        }
    }
}
