//! Reading a token endpoint's answer (the distribution token specification): the token under
//! `token` or `access_token`, and `expires_in`, its lifetime in seconds.
//!
//! `expires_in` comes from outside and is read without trusting it: any JSON number is
//! accepted, an absent, zero, negative or non-numeric one means the specification's default of
//! 60 s, and a huge one is cut to a day (a token is fetched again at worst daily, which costs
//! nothing). The moment a cached token stops being reused is computed with saturating
//! arithmetic, so no answer can overflow the clock (issue 10: `expires_in:
//! 9223372036854775807` used to panic the refresh task).

use std::time::{Duration, Instant};

use serde::Deserialize;

/// Lifetime of a token whose answer has no usable `expires_in` (the specification's default).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// The longest a token is kept, whatever the answer says.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// A token answer as used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAnswer {
    pub token: String,
    pub lifetime: Duration,
}

#[derive(Deserialize)]
struct Wire {
    token: Option<String>,
    access_token: Option<String>,
    #[serde(default)]
    expires_in: serde_json::Value,
}

/// Reads a token answer; the error says what is wrong and never contains a token.
pub fn read_token_answer(body: &[u8]) -> Result<TokenAnswer, String> {
    let wire: Wire =
        serde_json::from_slice(body).map_err(|e| format!("not a token response: {e}"))?;
    let token = wire
        .token
        .filter(|t| !t.is_empty())
        .or(wire.access_token.filter(|t| !t.is_empty()))
        .ok_or("the token response has neither \"token\" nor \"access_token\"")?;
    Ok(TokenAnswer {
        token,
        lifetime: lifetime(&wire.expires_in),
    })
}

fn lifetime(expires_in: &serde_json::Value) -> Duration {
    let seconds = expires_in.as_u64().map(Duration::from_secs).or_else(|| {
        let seconds = expires_in.as_f64()?;
        Duration::try_from_secs_f64(seconds)
            .ok()
            .or_else(|| (seconds.is_finite() && seconds > 0.0).then_some(MAX_TOKEN_LIFETIME))
    });
    match seconds {
        Some(lifetime) if !lifetime.is_zero() => lifetime.min(MAX_TOKEN_LIFETIME),
        _ => DEFAULT_TOKEN_LIFETIME,
    }
}

/// Until when a token fetched at `now` with `lifetime` is reused: a tenth of the lifetime
/// (at most 10 s) before it expires, so that a request never carries a token that expires
/// on the way.
pub fn reuse_until(now: Instant, lifetime: Duration) -> Instant {
    let margin = (lifetime / 10).min(Duration::from_secs(10));
    let usable = lifetime.saturating_sub(margin);
    now.checked_add(usable)
        .or_else(|| now.checked_add(MAX_TOKEN_LIFETIME))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn answer(expires_in: &str) -> Duration {
        let body = format!(r#"{{"token": "t", "expires_in": {expires_in}}}"#);
        read_token_answer(body.as_bytes()).unwrap().lifetime
    }

    #[test]
    fn lifetimes_are_saturated_or_defaulted() {
        assert_eq!(answer("300"), Duration::from_secs(300));
        assert_eq!(answer("9223372036854775807"), MAX_TOKEN_LIFETIME);
        assert_eq!(answer("18446744073709551615"), MAX_TOKEN_LIFETIME);
        assert_eq!(answer("1e300"), MAX_TOKEN_LIFETIME);
        assert_eq!(answer("99999999999999999999999999"), MAX_TOKEN_LIFETIME);
        assert_eq!(answer("1.5"), Duration::from_millis(1500));
        for default in ["0", "-5", "\"300\"", "null", "[]"] {
            assert_eq!(answer(default), DEFAULT_TOKEN_LIFETIME, "{default}");
        }
        let without = read_token_answer(br#"{"access_token": "a"}"#).unwrap();
        assert_eq!(
            (without.token.as_str(), without.lifetime),
            ("a", DEFAULT_TOKEN_LIFETIME)
        );
    }

    #[test]
    fn errors_name_the_problem_not_the_token() {
        let error = read_token_answer(br#"{"token": "", "expires_in": 5}"#).unwrap_err();
        assert!(error.contains("neither"), "{error}");
        assert!(read_token_answer(b"<html>").is_err());
    }

    proptest! {
        /// Issue 10: arbitrary durations through token answers never panic, and the token
        /// is reused for at most a day.
        #[test]
        fn any_expires_in_is_safe(
            expires_in in prop_oneof![
                any::<u64>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_map(|n| format!("{n:e}")),
                "[0-9]{1,40}",
            ]
        ) {
            let body = format!(r#"{{"token": "t", "expires_in": {expires_in}}}"#);
            if let Ok(answer) = read_token_answer(body.as_bytes()) {
                prop_assert!(answer.lifetime <= MAX_TOKEN_LIFETIME);
                prop_assert!(!answer.lifetime.is_zero());
                let now = Instant::now();
                let until = reuse_until(now, answer.lifetime);
                prop_assert!(until >= now && until <= now + MAX_TOKEN_LIFETIME);
            }
        }
    }
}
