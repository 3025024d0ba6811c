//! The one source of "now" and the one home of day arithmetic.
//!
//! Code that works on time takes `now` (epoch seconds) as an argument, read
//! once per operation with [`now`]: a sync, a view or a report sees one
//! instant throughout, and tests pass any instant they like.

use chrono::{DateTime, NaiveDate, Utc};

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    now_ms().div_euclid(1000)
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
    fn now_is_after_this_code_was_written() {
        assert!(now() > 1_700_000_000);
        assert!((now_ms() / 1000 - now()).abs() <= 1);
    }
}
