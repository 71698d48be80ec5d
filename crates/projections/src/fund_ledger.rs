//! The fund ledger: every money movement of every fund, balances now, as of an effective date or a log position, and the bank-statement view.
//!
//! Per fund it keeps each movement's position, effective date and changes, plus the
//! running figures now and the changes summed per effective date. "Now" is one lookup;
//! "as of a date" adds up the daily sums on or before it; a statement walks the
//! movements of its date range and reads who recorded each line of its page, when and
//! why back from the log (decision 0023).

use chrono::{NaiveDate, NaiveDateTime};
use ledger_domain::{Event, FundId, UserId};
use serde::{Deserialize, Serialize};

use crate::chunked::Chunked;
use crate::figures::{changes_of, Daily, Delta, FundFen, FundFigures};
use crate::intern::Keyed;
use crate::log_records::{self, LogRecords};
use crate::query::{DateRange, Page, PageRequest, QueryError};
use crate::time::Day;
use crate::{advance, EventRecord, Projection};

/// One movement as stored: its changes follow the previous movement's in the book's
/// `changes`, so where they start is found by walking the movements from the first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Movement {
    position: u64,
    day: Day,
    change_count: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct FundBook {
    now: FundFen,
    daily: Daily,
    /// In position order: appending is all a rebuild does; a statement sorts its range.
    /// Movements and changes are packed together in checkpoints (`crate::pack`).
    #[serde(with = "packed_movements")]
    movements: Chunked<Movement>,
    /// The movements' changes back to back (one allocation per book, not per movement).
    #[serde(with = "packed_changes")]
    changes: Chunked<Delta>,
}

/// Movements as one packed byte string: a count, then per movement its position and day
/// as gaps from the previous movement's, and its change count.
mod packed_movements {
    use serde::{Deserializer, Serializer};

    use super::Movement;
    use crate::chunked::Chunked;
    use crate::pack::{Packer, Unpacker};
    use crate::time::Day;

    pub(super) fn serialize<S: Serializer>(
        movements: &Chunked<Movement>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut p = Packer {
            bytes: Vec::with_capacity(movements.len() * 4),
        };
        p.unsigned(movements.len() as u64);
        let mut last = Movement::default();
        for m in movements.iter() {
            // Casts between u64 and i64 keep every bit; gaps wrap.
            p.gap(m.position as i64, last.position as i64);
            p.gap(i64::from(m.day.number()), i64::from(last.day.number()));
            p.raw(&[m.change_count]);
            last = m.clone();
        }
        crate::pack::serialize(p, serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Chunked<Movement>, D::Error> {
        crate::pack::deserialize(deserializer, "movements", |bytes| {
            let mut u = Unpacker::new(bytes);
            let count = usize::try_from(u.unsigned()?).map_err(|e| e.to_string())?;
            // Every movement takes at least three bytes: a count beyond that is damage.
            if count > bytes.len() / 3 {
                return Err("the movement count exceeds the bytes".into());
            }
            let mut movements = Chunked::default();
            let mut last = Movement::default();
            for _ in 0..count {
                let position = u.gap(last.position as i64)? as u64;
                let day = i32::try_from(u.gap(i64::from(last.day.number()))?)
                    .map_err(|_| "a day is out of range".to_string())?;
                let [change_count] = u.array()?;
                let m = Movement {
                    position,
                    day: Day::from_number(day),
                    change_count,
                };
                last = m.clone();
                movements.push(m);
            }
            if !u.is_empty() {
                return Err("bytes after the last movement".into());
            }
            Ok(movements)
        })
    }
}

/// Changes as one packed byte string: a count, then per change its tier's and
/// component's indices and the fen as a signed integer.
mod packed_changes {
    use ledger_domain::FundingTier;
    use serde::{Deserializer, Serializer};

    use crate::chunked::Chunked;
    use crate::figures::{Component, Delta};
    use crate::pack::{Packer, Unpacker};

    pub(super) fn serialize<S: Serializer>(
        changes: &Chunked<Delta>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut p = Packer {
            bytes: Vec::with_capacity(changes.len() * 4),
        };
        p.unsigned(changes.len() as u64);
        for d in changes.iter() {
            let tier = u8::try_from(d.tier.index()).expect("few tiers");
            p.raw(&[tier, d.component.index()]);
            p.signed(d.fen);
        }
        crate::pack::serialize(p, serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Chunked<Delta>, D::Error> {
        crate::pack::deserialize(deserializer, "changes", |bytes| {
            let mut u = Unpacker::new(bytes);
            let count = usize::try_from(u.unsigned()?).map_err(|e| e.to_string())?;
            if count > bytes.len() / 3 {
                return Err("the change count exceeds the bytes".into());
            }
            let mut changes = Chunked::default();
            for _ in 0..count {
                let [tier, component] = u.array()?;
                let tier = *FundingTier::ALL
                    .get(usize::from(tier))
                    .ok_or("an unknown tier")?;
                let component = *Component::ALL
                    .get(usize::from(component))
                    .ok_or("an unknown component")?;
                changes.push(Delta {
                    tier,
                    component,
                    fen: u.signed()?,
                });
            }
            if !u.is_empty() {
                return Err("bytes after the last change".into());
            }
            Ok(changes)
        })
    }
}

impl FundBook {
    /// The movements in position order, each with where its changes start.
    fn movements(&self) -> impl Iterator<Item = (&Movement, usize)> + '_ {
        self.movements.iter().scan(0, |next, m| {
            let first = *next;
            *next += usize::from(m.change_count);
            Some((m, first))
        })
    }

    /// The changes of a movement whose changes start at `first`.
    fn changes(&self, m: &Movement, first: usize) -> impl Iterator<Item = &Delta> + '_ {
        self.changes.range(first, usize::from(m.change_count))
    }
}

/// Every fund's movements and balances (projection `fund_ledger`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FundLedger {
    next_position: u64,
    funds: Keyed<FundId, FundBook>,
}

/// One line of a fund statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementLine {
    /// The event's log position.
    pub position: u64,
    /// The business date.
    pub effective_date: NaiveDate,
    /// When it was recorded.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$", example = "2021-06-30T09:15:00"))]
    pub recorded_at: NaiveDateTime,
    /// The event type, e.g. `GrantPaid` or `EventReversed`.
    pub event_type: &'static str,
    /// Who recorded it.
    pub actor: UserId,
    /// Why: the command's memo.
    pub memo: String,
    /// What this movement changed (negative figures for money leaving a figure).
    pub change: FundFigures,
    /// The fund's figures after this line, in statement order.
    pub balance: FundFigures,
}

/// A fund statement for a range of effective dates: like a bank statement, ordered by
/// effective date then position, with the running balance after every line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statement {
    /// The fund.
    pub fund: FundId,
    /// The effective dates covered.
    pub range: DateRange,
    /// The figures before the range's first day.
    pub opening: FundFigures,
    /// The figures at the end of the range's last day.
    pub closing: FundFigures,
    /// The requested page of lines.
    pub lines: Page<StatementLine>,
}

impl Projection for FundLedger {
    const NAME: &'static str = "fund_ledger";
    /// 3: movements without the event type, actor, memo and time of recording, which a
    /// statement reads from the log (decision 0023).
    const LAYOUT_VERSION: u32 = 3;

    fn apply(&mut self, record: &EventRecord) {
        advance(&mut self.next_position, record, Self::NAME);
        let r = &record.recorded;
        if let Event::FundOpened { fund, .. } = &r.event {
            self.funds
                .entry_symbol(fund, record.fund_symbol(fund.as_str()));
            return;
        }
        let changes = changes_of(&r.event);
        if changes.is_empty() {
            return;
        }
        let fund = r
            .event
            .fund()
            .expect("an event that moves money names its fund");
        let book = self
            .funds
            .entry_symbol(fund, record.fund_symbol(fund.as_str()));
        book.now.add_all(changes.as_slice());
        book.daily.add(r.effective_date, changes.as_slice());
        for d in changes.as_slice() {
            book.changes.push(*d);
        }
        book.movements.push(Movement {
            position: r.position,
            day: Day::from(r.effective_date),
            change_count: u8::try_from(changes.as_slice().len())
                .expect("an event changes few figures"),
        });
    }

    fn next_position(&self) -> u64 {
        self.next_position
    }
}

impl FundLedger {
    fn book(&self, fund: &FundId) -> Result<&FundBook, QueryError> {
        self.funds
            .get(fund)
            .ok_or_else(|| QueryError::UnknownFund { fund: fund.clone() })
    }

    /// Every fund opened so far, in the order they were opened.
    pub fn funds(&self) -> impl Iterator<Item = &FundId> {
        self.funds.iter().map(|(id, _)| id)
    }

    /// The fund's figures now (every event applied so far).
    pub fn balance(&self, fund: &FundId) -> Result<FundFigures, QueryError> {
        Ok(self.book(fund)?.now.figures())
    }

    /// The fund's figures as of the end of `date`: the sum of the movements whose
    /// effective date is on or before it, whenever they were recorded.
    pub fn balance_as_of(&self, fund: &FundId, date: NaiveDate) -> Result<FundFigures, QueryError> {
        let book = self.book(fund)?;
        // Nothing is dated after `date`: the answer is the running figure.
        if book.daily.last_date().is_none_or(|last| last <= date) {
            return Ok(book.now.figures());
        }
        Ok(book.daily.through(date).figures())
    }

    /// The fund's figures after the events at positions up to and including `position`
    /// (what the ledger showed when that event was recorded). Walks the fund's movements.
    pub fn balance_at_position(
        &self,
        fund: &FundId,
        position: u64,
    ) -> Result<FundFigures, QueryError> {
        let book = self.book(fund)?;
        let mut sum = FundFen::default();
        for (m, first) in book.movements().take_while(|(m, _)| m.position <= position) {
            sum.add_all(book.changes(m, first));
        }
        Ok(sum.figures())
    }

    /// How many movements the fund has.
    pub fn movement_count(&self, fund: &FundId) -> Result<u64, QueryError> {
        Ok(self.book(fund)?.movements.len() as u64)
    }

    /// The statement of the fund's movements with effective dates in `range`, ordered
    /// by effective date then position, each line with the figures after it. Who
    /// recorded each line of the page, when and why is read from `log`.
    /// Cost: one pass over the fund's movements, a sort of those in the range, the days
    /// before the range, and a read of the log per line of the page.
    pub fn statement<L: LogRecords + ?Sized>(
        &self,
        fund: &FundId,
        range: DateRange,
        page: PageRequest,
        log: &L,
    ) -> Result<Statement, QueryError> {
        let book = self.book(fund)?;
        let mut running = FundFen::default();
        let before = range
            .from()
            .pred_opt()
            .expect("a validated range starts after chrono's first day");
        running.add_fund(&book.daily.through(before));
        let opening = running.figures();
        // The movements of the range in statement order: (effective date, position).
        let (from, to) = (Day::from(range.from()), Day::from(range.to()));
        let mut in_range: Vec<(&Movement, usize)> = book
            .movements()
            .filter(|(m, _)| from <= m.day && m.day <= to)
            .collect();
        in_range.sort_unstable_by_key(|(m, _)| (m.day, m.position));
        let shown = page.window(in_range.len());
        // The running balance needs every line before the page, not only the page.
        for &(m, first) in &in_range[..shown.start] {
            running.add_all(book.changes(m, first));
        }
        let lines = in_range[shown]
            .iter()
            .map(|&(m, first)| {
                let record = log_records::read(log, m.position)?;
                running.add_all(book.changes(m, first));
                let mut change = FundFen::default();
                change.add_all(book.changes(m, first));
                let EventRecord { recorded, memo, .. } = record;
                Ok(StatementLine {
                    position: m.position,
                    effective_date: m.day.date(),
                    recorded_at: recorded.recorded_at,
                    event_type: recorded.event.event_type(),
                    actor: recorded.actor,
                    memo: memo.as_ref().to_owned(),
                    change: change.figures(),
                    balance: running.figures(),
                })
            })
            .collect::<Result<_, QueryError>>()?;
        let total = in_range.len() as u64;
        Ok(Statement {
            fund: fund.clone(),
            range,
            opening,
            closing: book.daily.through(range.to()).figures(),
            lines: Page::new(lines, total, page),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::PageRequest;
    use ledger_domain::{
        Amount, FundingTier, GrantModality, GrantPayment, Money, Programme, Recorded, TierSplit,
        UnitCode,
    };

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, m, d).unwrap()
    }

    fn yuan(y: i64) -> Amount {
        Amount::from_yuan(y).unwrap()
    }

    fn fund() -> FundId {
        FundId::new("SM-HP").unwrap()
    }

    /// A small log: a fund that receives ¥1,000 on 1 March, pays a ¥300 grant on 10
    /// March, and (recorded last) a ¥100 receipt backdated to 5 March.
    fn backdated_receipt_log() -> Vec<EventRecord> {
        let events = [
            (
                day(3, 1),
                Event::FundOpened {
                    fund: fund(),
                    unit: UnitCode::new("FJ-SM").unwrap(),
                    programme: Programme::HappinessProject,
                    name: "HP".into(),
                    fiscal_year: None,
                    approval_threshold: None,
                    insurance_model: None,
                },
            ),
            (
                day(3, 1),
                Event::AppropriationCommitted {
                    fund: fund(),
                    tier: FundingTier::City,
                    amount: yuan(1_100),
                    reference: None,
                },
            ),
            (
                day(3, 1),
                Event::AppropriationReceived {
                    fund: fund(),
                    tier: FundingTier::City,
                    amount: yuan(1_000),
                    reference: None,
                },
            ),
            (
                day(3, 10),
                Event::GrantPaid(GrantPayment {
                    fund: fund(),
                    beneficiary: ledger_domain::BeneficiaryId::new("B1").unwrap(),
                    modality: GrantModality::Relief,
                    batch: None,
                    amount: yuan(300),
                    shares: TierSplit::single(FundingTier::City, yuan(300)).unwrap(),
                }),
            ),
            (
                day(3, 5),
                Event::AppropriationReceived {
                    fund: fund(),
                    tier: FundingTier::City,
                    amount: yuan(100),
                    reference: Some("late slip".into()),
                },
            ),
        ];
        events
            .into_iter()
            .enumerate()
            .map(|(i, (date, event))| EventRecord {
                recorded: Recorded {
                    position: i as u64,
                    command_id: format!("c{i}").into(),
                    actor: UserId::new(if i == 3 { "clerk-2" } else { "clerk-1" }).unwrap(),
                    effective_date: date,
                    recorded_at: day(3, 12)
                        .and_hms_opt(9, u32::try_from(i).unwrap(), 0)
                        .unwrap(),
                    event,
                },
                memo: format!("memo {i}").into(),
                hash: [u8::try_from(i).unwrap(); 32],
                symbols: Default::default(),
            })
            .collect()
    }

    /// The fund ledger of [`backdated_receipt_log`].
    fn given_a_fund_with_a_backdated_receipt() -> FundLedger {
        let mut ledger = FundLedger::default();
        for record in &backdated_receipt_log() {
            ledger.apply(record);
        }
        ledger
    }

    fn yuan_m(y: i64) -> Money {
        Money::from_fen(y * 100)
    }

    #[test]
    fn the_balance_now_counts_every_movement() {
        let ledger = given_a_fund_with_a_backdated_receipt();
        let now = ledger.balance(&fund()).unwrap();
        assert_eq!(now.committed, yuan_m(1_100));
        assert_eq!(now.received, yuan_m(1_100));
        assert_eq!(now.disbursed, yuan_m(300));
        assert_eq!(now.available, yuan_m(800));
        assert_eq!(now.budget_execution_rate().unwrap().to_string(), "27.27%");
        assert_eq!(
            now.tier(FundingTier::City)
                .arrival_rate()
                .unwrap()
                .to_string(),
            "100.00%"
        );
        assert_eq!(ledger.movement_count(&fund()).unwrap(), 4);
    }

    #[test]
    fn as_of_a_date_includes_corrections_dated_before_it() {
        let ledger = given_a_fund_with_a_backdated_receipt();
        assert_eq!(
            ledger.balance_as_of(&fund(), day(3, 4)).unwrap().available,
            yuan_m(1_000)
        );
        assert_eq!(
            ledger.balance_as_of(&fund(), day(3, 5)).unwrap().available,
            yuan_m(1_100)
        );
        assert_eq!(
            ledger.balance_as_of(&fund(), day(3, 9)).unwrap().received,
            yuan_m(1_100)
        );
        assert_eq!(
            ledger.balance_as_of(&fund(), day(3, 10)).unwrap().available,
            yuan_m(800)
        );
        assert_eq!(
            ledger.balance_as_of(&fund(), day(2, 28)).unwrap().by_tier,
            vec![]
        );
    }

    #[test]
    fn as_of_a_position_shows_what_the_ledger_showed_then() {
        let ledger = given_a_fund_with_a_backdated_receipt();
        // Position 3 is the grant: the backdated receipt (position 4) was not yet recorded.
        assert_eq!(
            ledger.balance_at_position(&fund(), 3).unwrap().available,
            yuan_m(700)
        );
        assert_eq!(
            ledger.balance_at_position(&fund(), 4).unwrap().available,
            yuan_m(800)
        );
    }

    #[test]
    fn the_statement_orders_lines_by_effective_date_with_a_running_balance() {
        let ledger = given_a_fund_with_a_backdated_receipt();
        let range = DateRange::new(day(3, 2), day(3, 31)).unwrap();
        let s = ledger
            .statement(
                &fund(),
                range,
                PageRequest::first(),
                &backdated_receipt_log()[..],
            )
            .unwrap();
        assert_eq!(s.opening.available, yuan_m(1_000));
        assert_eq!(s.closing.available, yuan_m(800));
        let lines = &s.lines.items;
        assert_eq!(s.lines.total, 2);
        assert_eq!(lines[0].position, 4);
        assert_eq!(lines[0].event_type, "AppropriationReceived");
        assert_eq!(lines[0].memo, "memo 4");
        assert_eq!(lines[0].change.available, yuan_m(100));
        assert_eq!(lines[0].balance.available, yuan_m(1_100));
        assert_eq!(lines[1].position, 3);
        assert_eq!(lines[1].actor.as_str(), "clerk-2");
        assert_eq!(lines[1].change.available, yuan_m(-300));
        assert_eq!(lines[1].change.disbursed, yuan_m(300));
        assert_eq!(lines[1].balance.available, yuan_m(800));
    }

    #[test]
    fn a_statement_page_keeps_the_running_balance_of_the_lines_it_skipped() {
        let ledger = given_a_fund_with_a_backdated_receipt();
        let range = DateRange::new(day(1, 1), day(12, 31)).unwrap();
        let page = ledger
            .statement(
                &fund(),
                range,
                PageRequest::new(2, 1).unwrap(),
                &backdated_receipt_log()[..],
            )
            .unwrap();
        assert_eq!(page.lines.total, 4);
        assert_eq!(page.lines.items.len(), 1);
        assert_eq!(page.lines.items[0].position, 4);
        assert_eq!(page.lines.items[0].balance.available, yuan_m(1_100));
        assert_eq!(page.lines.next_offset, Some(3));
    }

    #[test]
    fn an_unknown_fund_is_an_error() {
        let ledger = given_a_fund_with_a_backdated_receipt();
        let error = ledger.balance(&FundId::new("NOPE").unwrap()).unwrap_err();
        assert_eq!(error.code(), "unknown_fund");
        assert_eq!(error.http_status(), 404);
    }

    #[test]
    #[should_panic(expected = "events must arrive once, in order")]
    fn an_event_applied_twice_is_a_programmer_error() {
        let mut ledger = given_a_fund_with_a_backdated_receipt();
        let date = day(3, 1);
        ledger.apply(&EventRecord {
            recorded: Recorded {
                position: 4,
                command_id: "again".into(),
                actor: UserId::new("clerk-1").unwrap(),
                effective_date: date,
                recorded_at: date.and_hms_opt(9, 0, 0).unwrap(),
                event: Event::PeriodClosed {
                    unit: UnitCode::new("FJ").unwrap(),
                    period: ledger_domain::Period::Year { year: 2020 },
                },
            },
            memo: "".into(),
            hash: [0; 32],
            symbols: Default::default(),
        });
    }
}
