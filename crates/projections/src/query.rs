//! Query arguments and errors shared by every projection: date ranges, pages and `QueryError`.

use chrono::{Datelike, Months, NaiveDate};
use ledger_domain::catalogue::{YEAR_MAX, YEAR_MIN};
use ledger_domain::{FundId, Programme, UnitCode};

/// The most items one page of a query may hold.
pub const PAGE_SIZE_MAX: u32 = 1_000;

/// Why a query cannot be answered. Each variant has a stable `code()` and an HTTP
/// status; docs/PROJECTIONS.md lists them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A page of zero items or more than `PAGE_SIZE_MAX`.
    #[error("a page holds 1 to {max} items; {limit} were asked for")]
    PageLimitInvalid { limit: u32, max: u32 },
    /// A date range that ends before it starts.
    #[error("the date range starts on {from} and ends on {to}; give the earlier date first")]
    DateRangeReversed { from: NaiveDate, to: NaiveDate },
    /// A date outside the years the ledger records.
    #[error("the date {date} is outside the years {YEAR_MIN} to {YEAR_MAX}")]
    DateOutOfRange { date: NaiveDate },
    /// The fund was never opened.
    #[error("unknown fund {fund}")]
    UnknownFund { fund: FundId },
    /// The unit was never registered.
    #[error("unknown unit {unit}")]
    UnknownUnit { unit: UnitCode },
    /// A loan report was asked for a fund that does not lend.
    #[error("fund {fund} is a {programme} fund and makes no loans; ask for a Happiness Project or revolving fund")]
    NotALendingFund { fund: FundId, programme: Programme },
    /// The log could not give back what a query reads from it (the records of an audit
    /// page or of a statement's lines, or a command's events).
    #[error("the log could not be read at position {position}: {cause}")]
    LogUnreadable { position: u64, cause: String },
}

impl QueryError {
    /// A stable machine code (snake_case).
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::PageLimitInvalid { .. } => "page_limit_invalid",
            QueryError::DateRangeReversed { .. } => "date_range_reversed",
            QueryError::DateOutOfRange { .. } => "date_out_of_range",
            QueryError::UnknownFund { .. } => "unknown_fund",
            QueryError::UnknownUnit { .. } => "unknown_unit",
            QueryError::NotALendingFund { .. } => "not_a_lending_fund",
            QueryError::LogUnreadable { .. } => "log_unreadable",
        }
    }

    /// The HTTP status a server answers with: 400 for bad arguments, 404 for unknown ids,
    /// 500 when the log could not be read.
    pub fn http_status(&self) -> u16 {
        match self {
            QueryError::PageLimitInvalid { .. }
            | QueryError::DateRangeReversed { .. }
            | QueryError::DateOutOfRange { .. }
            | QueryError::NotALendingFund { .. } => 400,
            QueryError::UnknownFund { .. } | QueryError::UnknownUnit { .. } => 404,
            QueryError::LogUnreadable { .. } => 500,
        }
    }
}

/// An inclusive range of effective dates, `from` ≤ `to`, both within the ledger's years
/// (so that the same range a year earlier always exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DateRange {
    from: NaiveDate,
    to: NaiveDate,
}

impl DateRange {
    /// Validates the range.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<DateRange, QueryError> {
        for date in [from, to] {
            // Within the ledger's years, so that `a_year_earlier` always exists.
            if !(YEAR_MIN..=YEAR_MAX).contains(&date.year()) {
                return Err(QueryError::DateOutOfRange { date });
            }
        }
        if to < from {
            return Err(QueryError::DateRangeReversed { from, to });
        }
        Ok(DateRange { from, to })
    }

    /// A calendar year, 1 January to 31 December.
    pub fn year(year: i32) -> Result<DateRange, QueryError> {
        let first = NaiveDate::from_ymd_opt(year, 1, 1);
        let last = NaiveDate::from_ymd_opt(year, 12, 31);
        match (first, last) {
            (Some(from), Some(to)) => DateRange::new(from, to),
            _ => Err(QueryError::DateOutOfRange {
                date: NaiveDate::MIN,
            }),
        }
    }

    /// The first day.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// The last day (included).
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// Whether the date lies in the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }

    /// The same period a year earlier (同比): both ends moved back twelve months, with
    /// 29 February becoming 28 February.
    pub fn a_year_earlier(&self) -> DateRange {
        let back = |date: NaiveDate| {
            date.checked_sub_months(Months::new(12))
                .expect("a validated date has a date a year earlier")
        };
        DateRange {
            from: back(self.from),
            to: back(self.to),
        }
    }
}

/// Which part of an ordered result to return: skip `offset` items, then at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    offset: u64,
    limit: u32,
}

impl PageRequest {
    /// Validates the page size (1 to `PAGE_SIZE_MAX`).
    pub fn new(offset: u64, limit: u32) -> Result<PageRequest, QueryError> {
        if limit == 0 || limit > PAGE_SIZE_MAX {
            return Err(QueryError::PageLimitInvalid {
                limit,
                max: PAGE_SIZE_MAX,
            });
        }
        Ok(PageRequest { offset, limit })
    }

    /// The first page of the largest size.
    pub fn first() -> PageRequest {
        PageRequest {
            offset: 0,
            limit: PAGE_SIZE_MAX,
        }
    }

    /// Items skipped.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Most items returned.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The range of indices this page covers within `total` items.
    pub(crate) fn window(&self, total: usize) -> std::ops::Range<usize> {
        let start = usize::try_from(self.offset).map_or(total, |o| o.min(total));
        let end = start.saturating_add(self.limit as usize).min(total);
        start..end
    }
}

/// One page of an ordered result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items, in the result's order.
    pub items: Vec<T>,
    /// How many items the whole result has.
    pub total: u64,
    /// The offset this page started at.
    pub offset: u64,
    /// The offset of the next page, if there are more items.
    pub next_offset: Option<u64>,
}

impl<T> Page<T> {
    pub(crate) fn new(items: Vec<T>, total: u64, request: PageRequest) -> Page<T> {
        let end = request.offset.saturating_add(items.len() as u64);
        Page {
            items,
            total,
            offset: request.offset,
            next_offset: (end < total).then_some(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_range_must_not_end_before_it_starts() {
        let error = DateRange::new(day(2021, 2, 1), day(2021, 1, 31)).unwrap_err();
        assert_eq!(error.code(), "date_range_reversed");
        assert_eq!(error.http_status(), 400);
        assert!(DateRange::new(day(2021, 1, 1), day(2021, 1, 1)).is_ok());
    }

    #[test]
    fn a_range_outside_the_ledgers_years_is_refused() {
        let error = DateRange::new(day(1979, 12, 31), day(2021, 1, 1)).unwrap_err();
        assert_eq!(error.code(), "date_out_of_range");
    }

    #[test]
    fn a_year_earlier_moves_both_ends_and_clamps_leap_days() {
        let range = DateRange::new(day(2024, 2, 29), day(2024, 12, 31)).unwrap();
        let earlier = range.a_year_earlier();
        assert_eq!(earlier.from(), day(2023, 2, 28));
        assert_eq!(earlier.to(), day(2023, 12, 31));
        assert_eq!(
            DateRange::year(2021).unwrap().a_year_earlier(),
            DateRange::year(2020).unwrap()
        );
    }

    #[test]
    fn pages_hold_one_to_the_maximum_items() {
        assert_eq!(
            PageRequest::new(0, 0).unwrap_err().code(),
            "page_limit_invalid"
        );
        assert!(PageRequest::new(0, PAGE_SIZE_MAX + 1).is_err());
        let page = PageRequest::new(5, 3).unwrap();
        assert_eq!(page.window(7), 5..7);
        assert_eq!(page.window(4), 4..4);
        let p = Page::new(vec![1, 2], 7, page);
        assert_eq!(p.next_offset, None);
        let p = Page::new(vec![1, 2, 3], 9, page);
        assert_eq!(p.next_offset, Some(8));
    }
}
