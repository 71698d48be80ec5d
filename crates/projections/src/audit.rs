//! The audit trail: every event with who, when recorded, when effective, why, its position and hash, found by beneficiary, fund, actor, command id or effective dates, with reversals linked both ways.
//!
//! Stored: one compact entry per event in position order (its position, effective date,
//! and the actor, fund and beneficiary its indexes file it under), the interned actors,
//! funds and beneficiaries, and who each loan and award is for. Derived,
//! never serialised, and built on the first query (or by `build_indexes`), then kept up
//! to date by `apply`: one list of positions per actor, fund, beneficiary and effective
//! date. A rebuild or a restore therefore pays nothing for them; a query slices a list,
//! so a page costs its own length, not its offset.
//!
//! Not stored: what the log holds and no index needs (each event's type, command id,
//! memo, time of recording and chain hash). A query reads the records of the page it
//! answers back through [`LogRecords`], and finds a command's events by the log's own
//! command index (decisions 0022 and 0023).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{NaiveDate, NaiveDateTime};
use ledger_domain::{AwardId, BeneficiaryId, Event, FundId, LoanId, Payment, UserId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chunked::Chunked;
use crate::intern::{FastMap, Interner};
use crate::log_records::{self, LogRecords};
use crate::query::{DateRange, Page, PageRequest, QueryError};
use crate::time::Day;
use crate::{advance, named_beneficiary, EventRecord, Projection};

/// Marks "no beneficiary" or "no fund" in an entry (interned indices stop below it).
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Entry {
    position: u64,
    actor: u32,
    fund: u32,
    beneficiary: u32,
    effective_date: Day,
}

/// What is stored: everything the indexes are derived from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct Stored {
    next_position: u64,
    /// In position order; packed in checkpoints (`crate::pack`).
    #[serde(with = "packed_entries")]
    entries: Chunked<Entry>,
    actors: Interner<UserId>,
    funds: Interner<FundId>,
    beneficiaries: Interner<BeneficiaryId>,
    /// Who a loan or an award is for, to attribute later events that name only the loan or award.
    #[serde(with = "crate::pairs::sorted")]
    loan_beneficiary: FastMap<LoanId, u32>,
    #[serde(with = "crate::pairs::sorted")]
    award_beneficiary: FastMap<AwardId, u32>,
    /// Reversal position → the position it reverses, and back (few: kept beside the
    /// entries rather than in each).
    reverses: BTreeMap<u64, u64>,
    reversed_by: BTreeMap<u64, u64>,
}

/// The entries as one packed byte string: a count, then per entry its position as a gap
/// from the previous entry's, its interned indices (plus one, 0 for none) and its day
/// as a gap.
mod packed_entries {
    use serde::{Deserializer, Serializer};

    use super::Entry;
    use crate::chunked::Chunked;
    use crate::pack::{Packer, Unpacker};
    use crate::time::Day;

    pub(super) fn serialize<S: Serializer>(
        entries: &Chunked<Entry>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut p = Packer {
            bytes: Vec::with_capacity(entries.len() * 6),
        };
        p.unsigned(entries.len() as u64);
        let mut last = Entry::default();
        for e in entries.iter() {
            pack_entry(&mut p, e, &last);
            last = e.clone();
        }
        crate::pack::serialize(p, serializer)
    }

    fn pack_entry(p: &mut Packer, e: &Entry, last: &Entry) {
        // Casts between u64 and i64 keep every bit; gaps wrap.
        p.gap(e.position as i64, last.position as i64);
        for index in [e.actor, e.fund, e.beneficiary] {
            p.unsigned(u64::from(index.wrapping_add(1)));
        }
        p.gap(
            i64::from(e.effective_date.number()),
            i64::from(last.effective_date.number()),
        );
    }

    fn unpack_entry(u: &mut Unpacker<'_>, last: &Entry) -> Result<Entry, String> {
        let position = u.gap(last.position as i64)? as u64;
        let mut indices = [0u32; 3];
        for index in &mut indices {
            *index = u.u32()?.wrapping_sub(1);
        }
        let day = i32::try_from(u.gap(i64::from(last.effective_date.number()))?)
            .map_err(|_| "a day is out of range".to_string())?;
        Ok(Entry {
            position,
            actor: indices[0],
            fund: indices[1],
            beneficiary: indices[2],
            effective_date: Day::from_number(day),
        })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Chunked<Entry>, D::Error> {
        crate::pack::deserialize(deserializer, "audit entries", |bytes| {
            let mut u = Unpacker::new(bytes);
            let count = usize::try_from(u.unsigned()?).map_err(|e| e.to_string())?;
            // Every entry takes at least five bytes: a count beyond that is damage.
            if count > bytes.len() / 5 {
                return Err("the entry count exceeds the bytes".into());
            }
            let mut entries = Chunked::default();
            let mut last = Entry::default();
            for _ in 0..count {
                let entry = unpack_entry(&mut u, &last)?;
                last = entry.clone();
                entries.push(entry);
            }
            if !u.is_empty() {
                return Err("bytes after the last entry".into());
            }
            Ok(entries)
        })
    }
}

/// Derived from `Stored`; never serialised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Indexes {
    /// Positions per interned actor, fund and beneficiary index.
    by_actor: Vec<Vec<u64>>,
    by_fund: Vec<Vec<u64>>,
    by_beneficiary: Vec<Vec<u64>>,
    by_date: BTreeMap<NaiveDate, Vec<u64>>,
}

/// Every event, indexed for auditors (projection `audit_trail`).
#[derive(Debug, Clone, Default)]
pub struct AuditTrail {
    stored: Stored,
    /// Empty until the first query; then maintained by `apply`.
    indexes: OnceLock<Indexes>,
}

/// Two trails are equal when they hold the same events; the indexes follow from them.
impl PartialEq for AuditTrail {
    fn eq(&self, other: &AuditTrail) -> bool {
        self.stored == other.stored
    }
}

impl Eq for AuditTrail {}

impl Serialize for AuditTrail {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.stored.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AuditTrail {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AuditTrail, D::Error> {
        Ok(AuditTrail {
            stored: Stored::deserialize(deserializer)?,
            indexes: OnceLock::new(),
        })
    }
}

/// One event as an auditor sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// The log position.
    pub position: u64,
    /// The event type, e.g. `LoanRepaid`.
    pub event_type: &'static str,
    /// The command that produced it.
    pub command_id: String,
    /// Who: the member of staff who issued the command.
    pub actor: UserId,
    /// When it was recorded.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$", example = "2021-06-30T09:15:00"))]
    pub recorded_at: NaiveDateTime,
    /// When it took effect (the business date).
    pub effective_date: NaiveDate,
    /// Why: the memo given with the command.
    pub memo: String,
    /// The record's hash in the log's chain (lowercase hex in JSON).
    #[serde(serialize_with = "crate::hex_hash")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
    pub hash: [u8; 32],
    /// The fund it concerns, if any.
    pub fund: Option<FundId>,
    /// The beneficiary it concerns, if any (a repayment names its loan's borrower; an
    /// approval, rejection, expiry or reversal names the original's beneficiary).
    pub beneficiary: Option<BeneficiaryId>,
    /// For a reversal: the position of the event it reverses.
    pub reverses: Option<u64>,
    /// For a reversed event: the position of the reversal.
    pub reversed_by: Option<u64>,
}

fn push_at(lists: &mut Vec<Vec<u64>>, index: u32, position: u64) {
    let i = index as usize;
    if i == lists.len() {
        lists.push(Vec::new());
    }
    lists[i].push(position);
}

fn entry_index(entries: &Chunked<Entry>, position: u64) -> Option<usize> {
    // Every event has an entry, from position 0 on: the entry's index is its position.
    let at = usize::try_from(position).ok()?;
    if entries.get(at).is_some_and(|e| e.position == position) {
        return Some(at);
    }
    entries.binary_search_by_key(&position, |e| e.position).ok()
}

impl Indexes {
    fn build(stored: &Stored) -> Indexes {
        let mut indexes = Indexes::default();
        for e in stored.entries.iter() {
            indexes.add(e);
        }
        indexes
    }

    fn add(&mut self, e: &Entry) {
        push_at(&mut self.by_actor, e.actor, e.position);
        if e.fund != NONE {
            push_at(&mut self.by_fund, e.fund, e.position);
        }
        if e.beneficiary != NONE {
            push_at(&mut self.by_beneficiary, e.beneficiary, e.position);
        }
        self.by_date
            .entry(e.effective_date.date())
            .or_default()
            .push(e.position);
    }
}

impl Projection for AuditTrail {
    const NAME: &'static str = "audit_trail";
    /// 3: entries without the command id and the chain hash (decision 0022); 4: nor
    /// the event type, memo and time of recording (decision 0023).
    const LAYOUT_VERSION: u32 = 4;

    fn apply(&mut self, record: &EventRecord) {
        advance(&mut self.stored.next_position, record, Self::NAME);
        let r = &record.recorded;
        let position = r.position;
        let s = &mut self.stored;
        let actor = s
            .actors
            .intern_symbol(&r.actor, record.actor_symbol(r.actor.as_str()));
        let fund = r.event.fund().map_or(NONE, |f| {
            s.funds.intern_symbol(f, record.fund_symbol(f.as_str()))
        });
        let beneficiary = s.beneficiary_of(record).unwrap_or(NONE);
        if let Event::EventReversed {
            position: original, ..
        } = &r.event
        {
            if entry_index(&s.entries, *original).is_some() {
                s.reversed_by.insert(*original, position);
            }
            s.reverses.insert(position, *original);
        }
        let entry = Entry {
            position,
            actor,
            fund,
            beneficiary,
            effective_date: Day::from(r.effective_date),
        };
        if let Some(indexes) = self.indexes.get_mut() {
            indexes.add(&entry);
        }
        s.entries.push(entry);
    }

    fn next_position(&self) -> u64 {
        self.stored.next_position
    }
}

impl Stored {
    fn beneficiary_at(&self, position: u64) -> Option<u32> {
        let e = self.entries.get(entry_index(&self.entries, position)?)?;
        (e.beneficiary != NONE).then_some(e.beneficiary)
    }

    /// The beneficiary an event concerns, interning new ones and remembering who each
    /// loan and award is for.
    fn beneficiary_of(&mut self, record: &EventRecord) -> Option<u32> {
        let intern = |interner: &mut Interner<BeneficiaryId>, id: &BeneficiaryId| {
            interner.intern_symbol(id, record.beneficiary_symbol(id.as_str()))
        };
        let event = &record.recorded.event;
        match event {
            Event::LoanDisbursed(l) => {
                let i = intern(&mut self.beneficiaries, &l.beneficiary);
                self.loan_beneficiary.insert(l.loan.clone(), i);
                Some(i)
            }
            Event::HousingGrantAwarded {
                award, beneficiary, ..
            }
            | Event::BursaryAwarded {
                award,
                student: beneficiary,
                ..
            } => {
                let i = intern(&mut self.beneficiaries, beneficiary);
                self.award_beneficiary.insert(award.clone(), i);
                Some(i)
            }
            Event::LoanRepaid { loan, .. }
            | Event::LoanRescheduled { loan, .. }
            | Event::LoanWrittenOff { loan, .. } => self.loan_beneficiary.get(loan).copied(),
            Event::PaymentRequested {
                payment: Payment::HousingInstalment(h),
                ..
            } => self.award_beneficiary.get(&h.award).copied(),
            Event::PaymentRequested {
                payment: Payment::BursaryInstalment(b),
                ..
            } => self.award_beneficiary.get(&b.award).copied(),
            Event::PaymentApproved { request, .. }
            | Event::PaymentRejected { request, .. }
            | Event::PaymentRequestExpired { request, .. } => self.beneficiary_at(*request),
            Event::EventReversed { position, .. } => self.beneficiary_at(*position),
            // Every other event concerns the beneficiary it names, if any.
            _ => named_beneficiary(event).map(|b| intern(&mut self.beneficiaries, b)),
        }
    }
}

impl AuditTrail {
    fn indexes(&self) -> &Indexes {
        self.indexes.get_or_init(|| Indexes::build(&self.stored))
    }

    /// Builds the query indexes now rather than on the first query (a few hundred
    /// milliseconds per million events), e.g. right after the engine opens the ledger.
    pub fn build_indexes(&mut self) {
        let _ = self.indexes();
    }

    fn record<L: LogRecords + ?Sized>(
        &self,
        e: &Entry,
        log: &L,
    ) -> Result<AuditRecord, QueryError> {
        let EventRecord {
            recorded,
            memo,
            hash,
            ..
        } = log_records::read(log, e.position)?;
        let s = &self.stored;
        Ok(AuditRecord {
            position: e.position,
            event_type: recorded.event.event_type(),
            command_id: recorded.command_id.to_string(),
            actor: recorded.actor,
            recorded_at: recorded.recorded_at,
            effective_date: recorded.effective_date,
            memo: memo.as_ref().to_owned(),
            hash,
            fund: (e.fund != NONE).then(|| s.funds.get(e.fund).clone()),
            beneficiary: (e.beneficiary != NONE)
                .then(|| s.beneficiaries.get(e.beneficiary).clone()),
            reverses: s.reverses.get(&e.position).copied(),
            reversed_by: s.reversed_by.get(&e.position).copied(),
        })
    }

    /// The records at `positions`, each of which has an entry.
    fn records<'a, L: LogRecords + ?Sized>(
        &self,
        positions: impl IntoIterator<Item = &'a u64>,
        log: &L,
    ) -> Result<Vec<AuditRecord>, QueryError> {
        positions
            .into_iter()
            .map(|p| {
                let e = self.stored.entries.get(
                    entry_index(&self.stored.entries, *p).expect("indexed positions have entries"),
                );
                self.record(e.expect("an index within the entries"), log)
            })
            .collect()
    }

    /// A page of the events at `positions` (in order), keeping only those with an
    /// effective date in `dates` if given: the dates are the trail's own, so only the
    /// page's events are read from the log.
    fn page_of<L: LogRecords + ?Sized>(
        &self,
        positions: &[u64],
        dates: Option<DateRange>,
        page: PageRequest,
        log: &L,
    ) -> Result<Page<AuditRecord>, QueryError> {
        let within;
        let positions = match dates {
            None => positions,
            Some(range) => {
                let (from, to) = (Day::from(range.from()), Day::from(range.to()));
                let entries = &self.stored.entries;
                within = positions
                    .iter()
                    .copied()
                    .filter(|&p| {
                        entry_index(entries, p)
                            .and_then(|i| entries.get(i))
                            .is_some_and(|e| from <= e.effective_date && e.effective_date <= to)
                    })
                    .collect::<Vec<u64>>();
                &within
            }
        };
        let items = self.records(&positions[page.window(positions.len())], log)?;
        Ok(Page::new(items, positions.len() as u64, page))
    }

    /// The event at a position, if the trail has it; its record is read from `log`.
    pub fn entry<L: LogRecords + ?Sized>(
        &self,
        position: u64,
        log: &L,
    ) -> Result<Option<AuditRecord>, QueryError> {
        let entries = &self.stored.entries;
        match entry_index(entries, position).and_then(|i| entries.get(i)) {
            Some(e) => self.record(e, log).map(Some),
            None => Ok(None),
        }
    }

    /// How many events the trail holds.
    pub fn len(&self) -> u64 {
        self.stored.entries.len() as u64
    }

    /// Whether the trail is empty.
    pub fn is_empty(&self) -> bool {
        self.stored.entries.is_empty()
    }

    /// Every event concerning a beneficiary, in position order; with `dates`, only
    /// those with an effective date in the range.
    pub fn by_beneficiary<L: LogRecords + ?Sized>(
        &self,
        beneficiary: &BeneficiaryId,
        dates: Option<DateRange>,
        page: PageRequest,
        log: &L,
    ) -> Result<Page<AuditRecord>, QueryError> {
        let list = self
            .stored
            .beneficiaries
            .find(beneficiary)
            .and_then(|i| self.indexes().by_beneficiary.get(i as usize))
            .map_or(&[][..], Vec::as_slice);
        self.page_of(list, dates, page, log)
    }

    /// Every event of a fund, in position order; with `dates`, only those with an
    /// effective date in the range.
    pub fn by_fund<L: LogRecords + ?Sized>(
        &self,
        fund: &FundId,
        dates: Option<DateRange>,
        page: PageRequest,
        log: &L,
    ) -> Result<Page<AuditRecord>, QueryError> {
        let list = self
            .stored
            .funds
            .find(fund)
            .and_then(|i| self.indexes().by_fund.get(i as usize))
            .map_or(&[][..], Vec::as_slice);
        self.page_of(list, dates, page, log)
    }

    /// Every event recorded by an actor, in position order; with `dates`, only those
    /// with an effective date in the range.
    pub fn by_actor<L: LogRecords + ?Sized>(
        &self,
        actor: &UserId,
        dates: Option<DateRange>,
        page: PageRequest,
        log: &L,
    ) -> Result<Page<AuditRecord>, QueryError> {
        let list = self
            .stored
            .actors
            .find(actor)
            .and_then(|i| self.indexes().by_actor.get(i as usize))
            .map_or(&[][..], Vec::as_slice);
        self.page_of(list, dates, page, log)
    }

    /// Every event of a command, in position order: where the log's command index puts
    /// them (a command's events are contiguous: the writer appends them together), as
    /// far as this trail has got; with `dates`, only those with an effective date in the
    /// range.
    pub fn by_command<L: LogRecords + ?Sized>(
        &self,
        command_id: &str,
        dates: Option<DateRange>,
        page: PageRequest,
        log: &L,
    ) -> Result<Page<AuditRecord>, QueryError> {
        let span = log
            .command_events(command_id)
            .map_err(|cause| QueryError::LogUnreadable { position: 0, cause })?;
        let positions: Vec<u64> = span.map_or_else(Vec::new, |(first, count)| {
            (first..first.saturating_add(u64::from(count)))
                .take_while(|&p| p < self.stored.next_position)
                .collect()
        });
        self.page_of(&positions, dates, page, log)
    }

    /// Every event with an effective date in the range, ordered by effective date then
    /// position. Cost: the days of the range plus the page.
    pub fn by_effective_dates<L: LogRecords + ?Sized>(
        &self,
        range: DateRange,
        page: PageRequest,
        log: &L,
    ) -> Result<Page<AuditRecord>, QueryError> {
        let days = self.indexes().by_date.range(range.from()..=range.to());
        let total: u64 = days.clone().map(|(_, list)| list.len() as u64).sum();
        let mut positions = Vec::new();
        let mut skipped = 0u64;
        for (_, list) in days {
            let len = list.len() as u64;
            if skipped + len <= page.offset() {
                skipped += len;
                continue;
            }
            let start =
                usize::try_from(page.offset().saturating_sub(skipped)).unwrap_or(usize::MAX);
            skipped += len;
            let room = page.limit() as usize - positions.len();
            positions.extend(list.iter().skip(start).take(room));
            if positions.len() >= page.limit() as usize {
                break;
            }
        }
        Ok(Page::new(self.records(&positions, log)?, total, page))
    }
}
