//! Compact dates for records kept per event: a day number and a second count instead of chrono's types, whose serde form is a string even in binary formats.
//!
//! chrono writes `NaiveDate` and `NaiveDateTime` through `collect_str`, so every
//! stored record would carry 10 to 29 bytes of text and a formatting pass each time
//! the engine checkpoints a projection. These types store the same values as integers
//! (lossless) and convert at the edge, in queries.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// A date as its day number counted from 1 January of year 1 (chrono's `num_days_from_ce`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub(crate) struct Day(i32);

impl From<NaiveDate> for Day {
    fn from(date: NaiveDate) -> Day {
        use chrono::Datelike;
        Day(date.num_days_from_ce())
    }
}

impl Day {
    /// The day number, for packing.
    pub(crate) fn number(self) -> i32 {
        self.0
    }

    pub(crate) fn from_number(number: i32) -> Day {
        Day(number)
    }

    pub(crate) fn date(self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.0).expect("a stored day came from a date")
    }
}

/// A date-time as whole seconds and nanoseconds since 1970-01-01T00:00:00.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub(crate) struct Stamp {
    seconds: i64,
    nanos: u32,
}

impl From<NaiveDateTime> for Stamp {
    fn from(time: NaiveDateTime) -> Stamp {
        let utc = time.and_utc();
        Stamp {
            seconds: utc.timestamp(),
            nanos: utc.timestamp_subsec_nanos(),
        }
    }
}

impl Stamp {
    /// Seconds and nanoseconds, for packing.
    pub(crate) fn parts(self) -> (i64, u32) {
        (self.seconds, self.nanos)
    }

    pub(crate) fn from_parts(seconds: i64, nanos: u32) -> Stamp {
        Stamp { seconds, nanos }
    }

    pub(crate) fn date_time(self) -> NaiveDateTime {
        DateTime::from_timestamp(self.seconds, self.nanos)
            .expect("a stored stamp came from a date-time")
            .naive_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_stamps_convert_back_exactly_and_keep_their_order() {
        let early = NaiveDate::from_ymd_opt(1980, 2, 29).unwrap();
        let late = NaiveDate::from_ymd_opt(2200, 12, 31).unwrap();
        assert_eq!(Day::from(early).date(), early);
        assert_eq!(Day::from(late).date(), late);
        assert!(Day::from(early) < Day::from(late));
        let time = late.and_hms_nano_opt(23, 59, 59, 123_456_789).unwrap();
        assert_eq!(Stamp::from(time).date_time(), time);
        let old = early.and_hms_opt(0, 0, 1).unwrap();
        assert_eq!(Stamp::from(old).date_time(), old);
        assert!(Stamp::from(old) < Stamp::from(time));
    }
}
