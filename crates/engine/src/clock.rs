//! The one source of "now" and the one home of day arithmetic.
//!
//! Code that works on time takes `now` (epoch seconds) as an argument, read
//! once per operation with [`now`]: a sync, a view or a report sees one
//! instant throughout, and tests pass any instant they like.
//!
//! Instants are epoch seconds unless a name says milliseconds; [`ms`] and
//! [`secs`] convert between the two, and [`MINUTE`], [`HOUR`] and [`DAY`]
//! are spans in seconds (epoch time has no leap seconds: every UTC day is
//! [`DAY`] long).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// A minute, in seconds.
pub const MINUTE: i64 = 60;
/// An hour, in seconds.
pub const HOUR: i64 = 60 * MINUTE;
/// A day, in seconds.
pub const DAY: i64 = 24 * HOUR;

/// Seconds as milliseconds: an epoch instant, or a span. Saturates at
/// `i64::MIN` and `i64::MAX` instead of overflowing (no real instant comes
/// near: `i64::MAX` ms is 292 million years).
pub const fn ms(secs: i64) -> i64 {
    secs.saturating_mul(1000)
}

/// Milliseconds as seconds, rounded down (floor: -1 ms is -1 s, the second
/// that instant falls in). For any instant since 1970 (`ms >= 0`) this is
/// `ms / 1000`; before it, `/` would round toward zero instead.
pub const fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    secs(now_ms())
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The instant `epoch_s` as a UTC date-time (the epoch itself when out of range).
pub fn utc(epoch_s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(epoch_s, 0).unwrap_or_default()
}

/// The UTC day `epoch_s` falls in.
pub fn day_of(epoch_s: i64) -> NaiveDate {
    utc(epoch_s).date_naive()
}

/// The instant the UTC day `day` begins (its midnight), epoch seconds:
/// `day_of(day_start(d)) == d`.
pub fn day_start(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp()
}

/// `YYYYmmdd-HHMMSS` in UTC, for file names.
pub fn file_stamp(epoch_s: i64) -> String {
    utc(epoch_s).format("%Y%m%d-%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_stamps_are_utc() {
        assert_eq!(day_of(0).to_string(), "1970-01-01");
        assert_eq!(day_of(86_399).to_string(), "1970-01-01");
        assert_eq!(day_of(86_400).to_string(), "1970-01-02");
        assert_eq!(file_stamp(1_700_000_000), "20231114-221320");
    }

    #[test]
    fn spans_are_seconds() {
        assert_eq!((MINUTE, HOUR, DAY), (60, 3_600, 86_400));
        assert_eq!(utc(DAY).to_rfc3339(), "1970-01-02T00:00:00+00:00");
    }

    #[test]
    fn seconds_to_milliseconds_saturates() {
        assert_eq!(ms(0), 0);
        assert_eq!(ms(1_700_000_000), 1_700_000_000_000);
        assert_eq!(ms(-1), -1000);
        assert_eq!(ms(i64::MAX / 1000), i64::MAX / 1000 * 1000);
        assert_eq!(ms(i64::MAX / 1000 + 1), i64::MAX);
        assert_eq!(ms(i64::MAX), i64::MAX);
        assert_eq!(ms(i64::MIN / 1000 - 1), i64::MIN);
        assert_eq!(ms(i64::MIN), i64::MIN);
    }

    #[test]
    fn milliseconds_to_seconds_floors() {
        assert_eq!(secs(0), 0);
        assert_eq!(secs(999), 0);
        assert_eq!(secs(1000), 1);
        assert_eq!(secs(1_700_000_000_999), 1_700_000_000);
        // Before 1970 an instant falls in the second that began before it.
        assert_eq!(secs(-1), -1);
        assert_eq!(secs(-1000), -1);
        assert_eq!(secs(-1001), -2);
        assert_eq!(secs(i64::MAX), i64::MAX / 1000);
        assert_eq!(secs(i64::MIN), i64::MIN / 1000 - 1);
        for s in [-86_401, -1, 0, 1, 1_700_000_000] {
            assert_eq!(secs(ms(s)), s);
            assert_eq!(secs(ms(s) + 999), s);
        }
    }

    #[test]
    fn a_day_starts_at_its_utc_midnight() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(day_start(d("1970-01-01")), 0);
        assert_eq!(day_start(d("1970-01-02")), DAY);
        assert_eq!(day_start(d("1969-12-31")), -DAY);
        assert_eq!(day_start(d("2023-11-14")), 1_699_920_000);
        for t in [-DAY - 1, -1, 0, 1, DAY - 1, 1_700_000_000] {
            let start = day_start(day_of(t));
            assert!(start <= t && t < start + DAY, "{t}");
            assert_eq!(start, t.div_euclid(DAY) * DAY);
        }
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        assert!(now() > 1_700_000_000);
        assert!((secs(now_ms()) - now()).abs() <= 1);
    }
}
