//! What a demo dataset is generated from: a seed, a volume scale and the years it covers.

use chrono::NaiveDate;

/// The largest volume scale accepted, in percent of the default volume (100×: a few
/// million events, still generated in memory).
pub const SCALE_PERCENT_MAX: u32 = 10_000;
/// The earliest first year a demo may start in.
pub const DEMO_YEAR_MIN: i32 = 2000;
/// The latest last year a demo may end in.
pub const DEMO_YEAR_MAX: i32 = 2100;
/// The most years a demo may cover.
pub const DEMO_YEARS_MAX: i32 = 10;

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A scale of 0% or above the maximum.
    #[error(
        "scale {0}% is out of range; use 1 to {SCALE_PERCENT_MAX} percent of the default volume"
    )]
    Scale(u32),
    /// Years out of order, outside the range, or too many.
    #[error("years {first}–{last} are not usable; give 2 to {DEMO_YEARS_MAX} consecutive years between {DEMO_YEAR_MIN} and {DEMO_YEAR_MAX}")]
    Years { first: i32, last: i32 },
}

impl ConfigError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Scale(_) => "demo_scale_invalid",
            ConfigError::Years { .. } => "demo_years_invalid",
        }
    }
}

/// The volume of a demo dataset in percent of the default (100 ≈ 46,000 events).
///
/// Volumes (loans, students, claims, households…) scale with it; the geography
/// (9 cities, 36 counties, 108 townships, 432 villages), the funds and the special
/// cases (reversals, pending approvals, write-offs, closed periods) do not, so even
/// a tiny dataset shows every feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scale(u32);

impl Scale {
    /// The default volume: tens of thousands of events.
    pub const DEFAULT: Scale = Scale(100);

    /// A scale in percent of the default volume, 1 to [`SCALE_PERCENT_MAX`].
    pub fn percent(percent: u32) -> Result<Scale, ConfigError> {
        if (1..=SCALE_PERCENT_MAX).contains(&percent) {
            Ok(Scale(percent))
        } else {
            Err(ConfigError::Scale(percent))
        }
    }

    /// The scale in percent.
    pub fn as_percent(self) -> u32 {
        self.0
    }

    /// `base` scaled, rounded half up, at least 1.
    pub(crate) fn of(self, base: u32) -> u32 {
        let scaled = (u64::from(base) * u64::from(self.0) + 50) / 100;
        u32::try_from(scaled.max(1)).unwrap_or(u32::MAX)
    }

    /// A random count whose mean is `base_hundredths` ÷ 100 scaled: uniform between
    /// none and twice the mean, so that volumes below one a month still happen now and then.
    pub(crate) fn draw(self, rng: &mut rand::rngs::StdRng, base_hundredths: u32) -> u32 {
        use rand::Rng;
        let mean = u64::from(base_hundredths) * u64::from(self.0) / 100;
        let hundredths = mean * rng.gen_range(0..=200) / 100;
        let whole = hundredths / 100;
        let extra = u64::from(rng.gen_range(0..100) < hundredths % 100);
        u32::try_from(whole + extra).unwrap_or(u32::MAX)
    }

    /// An amount in fen scaled, rounded to whole yuan, at least ¥1,000.00.
    pub(crate) fn fen(self, base_fen: i64) -> i64 {
        let scaled = i128::from(base_fen) * i128::from(self.0) / 100;
        let yuan = i64::try_from(scaled / 100).unwrap_or(i64::MAX / 100);
        yuan.max(1_000) * 100
    }
}

impl Default for Scale {
    fn default() -> Self {
        Scale::DEFAULT
    }
}

/// The calendar years a demo covers, first to last inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct YearSpan {
    first: i32,
    last: i32,
}

impl YearSpan {
    /// The default years, 2021 to 2025.
    pub const DEFAULT: YearSpan = YearSpan {
        first: 2021,
        last: 2025,
    };

    /// Two to [`DEMO_YEARS_MAX`] years between [`DEMO_YEAR_MIN`] and [`DEMO_YEAR_MAX`].
    pub fn new(first: i32, last: i32) -> Result<YearSpan, ConfigError> {
        let count = last - first + 1;
        if first < DEMO_YEAR_MIN || last > DEMO_YEAR_MAX || !(2..=DEMO_YEARS_MAX).contains(&count) {
            return Err(ConfigError::Years { first, last });
        }
        Ok(YearSpan { first, last })
    }

    /// The first year.
    pub fn first(self) -> i32 {
        self.first
    }

    /// The last year.
    pub fn last(self) -> i32 {
        self.last
    }

    /// Every year, in order.
    pub fn years(self) -> std::ops::RangeInclusive<i32> {
        self.first..=self.last
    }

    /// The last day of the last year: no step is dated after it.
    pub fn end(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.last, 12, 31).expect("validated year")
    }
}

impl Default for YearSpan {
    fn default() -> Self {
        YearSpan::DEFAULT
    }
}

/// Everything a demo dataset is a function of.
///
/// The ledger that loads the plan must record it on or after [`YearSpan::end`]: the
/// domain refuses effective dates after the recording date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DemoConfig {
    /// Seeds the pseudo-random generator; the same seed gives the same plan.
    pub seed: u64,
    /// The volume.
    pub scale: Scale,
    /// The years covered.
    pub years: YearSpan,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_years_out_of_range_are_refused() {
        assert_eq!(Scale::percent(0), Err(ConfigError::Scale(0)));
        assert!(Scale::percent(SCALE_PERCENT_MAX + 1).is_err());
        assert_eq!(Scale::percent(100), Ok(Scale::DEFAULT));
        assert!(
            YearSpan::new(2021, 2021).is_err(),
            "one year has no year-on-year"
        );
        assert!(YearSpan::new(2025, 2021).is_err());
        assert!(YearSpan::new(1999, 2001).is_err());
        assert!(YearSpan::new(2000, 2010).is_err(), "eleven years");
        assert_eq!(YearSpan::new(2021, 2025), Ok(YearSpan::DEFAULT));
        assert_eq!(YearSpan::DEFAULT.end().to_string(), "2025-12-31");
    }

    #[test]
    fn scaled_counts_round_half_up_and_never_reach_zero() {
        let five = Scale::percent(5).unwrap();
        assert_eq!(five.of(8), 1);
        assert_eq!(five.of(30), 2);
        assert_eq!(Scale::percent(250).unwrap().of(4), 10);
        // In fen: 5% of ¥100,000.00 is ¥5,000.00; 5% of ¥1,000.00 is raised to ¥1,000.00.
        assert_eq!(five.fen(10_000_000), 500_000);
        assert_eq!(five.fen(100_000), 100_000, "at least ¥1,000.00");
    }
}
