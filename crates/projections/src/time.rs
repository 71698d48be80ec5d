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

/// A date-time as whole seconds and nanoseconds since 1970-01-01T00:00:00, in 12
/// bytes aligned to 4 instead of 16 aligned to 8 (one is kept per event and per money
/// movement). Its serde form is the (seconds, nanoseconds) struct it always had
/// ([`StampParts`]), so checkpoints are unchanged.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(from = "StampParts", into = "StampParts")]
pub(crate) struct Stamp {
    /// The seconds' high and low halves: an `i64` split so that the whole is aligned
    /// to 4. High first, so that the derived order is the time's order.
    seconds_high: i32,
    seconds_low: u32,
    nanos: u32,
}

/// A [`Stamp`]'s serde form.
#[derive(Serialize, Deserialize)]
struct StampParts {
    seconds: i64,
    nanos: u32,
}

impl From<StampParts> for Stamp {
    fn from(parts: StampParts) -> Stamp {
        Stamp::from_parts(parts.seconds, parts.nanos)
    }
}

impl From<Stamp> for StampParts {
    fn from(stamp: Stamp) -> StampParts {
        let (seconds, nanos) = stamp.parts();
        StampParts { seconds, nanos }
    }
}

impl From<NaiveDateTime> for Stamp {
    fn from(time: NaiveDateTime) -> Stamp {
        let utc = time.and_utc();
        Stamp::from_parts(utc.timestamp(), utc.timestamp_subsec_nanos())
    }
}

impl Stamp {
    /// Seconds and nanoseconds, for packing.
    pub(crate) fn parts(self) -> (i64, u32) {
        let seconds = i64::from(self.seconds_high) << 32 | i64::from(self.seconds_low);
        (seconds, self.nanos)
    }

    pub(crate) fn from_parts(seconds: i64, nanos: u32) -> Stamp {
        Stamp {
            seconds_high: i32::try_from(seconds >> 32).expect("the high half of an i64"),
            // The low 32 bits, as they are.
            seconds_low: (seconds & 0xFFFF_FFFF) as u32,
            nanos,
        }
    }

    pub(crate) fn date_time(self) -> NaiveDateTime {
        let (seconds, nanos) = self.parts();
        DateTime::from_timestamp(seconds, nanos)
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

    #[test]
    fn a_stamp_is_twelve_bytes_keeps_its_order_and_its_serde_form() {
        assert_eq!(std::mem::size_of::<Stamp>(), 12);
        let config = bincode::config::standard();
        let mut stamps = Vec::new();
        for seconds in [
            i64::MIN,
            -1 << 32,
            -86_400,
            -1,
            0,
            1,
            1 << 31,
            1 << 32,
            i64::MAX,
        ] {
            for nanos in [0, 999_999_999] {
                let stamp = Stamp::from_parts(seconds, nanos);
                assert_eq!(stamp.parts(), (seconds, nanos));
                let pair =
                    bincode::serde::encode_to_vec(StampParts { seconds, nanos }, config).unwrap();
                assert_eq!(bincode::serde::encode_to_vec(stamp, config).unwrap(), pair);
                let (back, _): (Stamp, usize) =
                    bincode::serde::decode_from_slice(&pair, config).unwrap();
                assert_eq!(back, stamp);
                stamps.push(stamp);
            }
        }
        // Built in increasing order of time: the derived order agrees.
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    }
}
