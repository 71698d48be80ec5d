//! Compact dates for records kept per event: a day number instead of chrono's type, whose serde form is a string even in binary formats.
//!
//! chrono writes `NaiveDate` through `collect_str`, so every stored record would carry
//! 10 bytes of text and a formatting pass each time the engine checkpoints a
//! projection. [`Day`] stores the same value as an integer (lossless) and converts at
//! the edge, in queries.

use chrono::NaiveDate;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_convert_back_exactly_and_keep_their_order() {
        let early = NaiveDate::from_ymd_opt(1980, 2, 29).unwrap();
        let late = NaiveDate::from_ymd_opt(2200, 12, 31).unwrap();
        assert_eq!(Day::from(early).date(), early);
        assert_eq!(Day::from(late).date(), late);
        assert!(Day::from(early) < Day::from(late));
    }
}
