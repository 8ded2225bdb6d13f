//! Times for people: absolute UTC timestamps and short relative ages ("3m 12s ago").

use chrono::{DateTime, Utc};
use std::time::{Duration, SystemTime};

/// `2026-11-28 13:05:09 UTC`.
pub fn timestamp(time: SystemTime) -> String {
    DateTime::<Utc>::from(time)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// `3m 12s ago`, or `in 3m 12s` for a time after `now` (a back-off deadline).
pub fn relative(time: SystemTime, now: SystemTime) -> String {
    match now.duration_since(time) {
        Ok(past) => format!("{} ago", span(past)),
        Err(e) => format!("in {}", span(e.duration())),
    }
}

/// The two largest units of a duration: `45s`, `3m 12s`, `2h 5m`, `4d 1h`.
pub fn span(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds}s")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_keep_two_units() {
        assert_eq!(span(Duration::from_secs(5)), "5s");
        assert_eq!(span(Duration::from_secs(192)), "3m 12s");
        assert_eq!(span(Duration::from_secs(7_500)), "2h 5m");
        assert_eq!(span(Duration::from_secs(90_000)), "1d 1h");
    }

    #[test]
    fn relative_handles_past_and_future() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(relative(now - Duration::from_secs(30), now), "30s ago");
        assert_eq!(relative(now + Duration::from_secs(90), now), "in 1m 30s");
        assert_eq!(timestamp(now), "1970-01-01 00:16:40 UTC");
    }
}
