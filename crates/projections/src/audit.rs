//! The audit trail: every event with who, when recorded, when effective, why, its position and hash, found by beneficiary, fund, actor, command id or effective dates, with reversals linked both ways.
//!
//! Stored: one compact entry per event in position order, its memo and command id in a
//! text arena, the interned actors, funds and beneficiaries, and who each loan and award
//! is for. Derived, never serialised, and built on the first query (or by
//! `build_indexes`), then kept up to date by `apply`: one list of positions per actor,
//! fund, beneficiary and effective date, and an index of command ids. A rebuild or a
//! restore therefore pays nothing for them; a query slices a list, so a page costs its
//! own length, not its offset.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use chrono::{NaiveDate, NaiveDateTime};
use ledger_domain::{AwardId, BeneficiaryId, Event, FundId, LoanId, Payment, UserId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chunked::Chunked;
use crate::intern::{FastMap, Interner};
use crate::query::{DateRange, Page, PageRequest};
use crate::text::{TextRef, Texts};
use crate::time::{Day, Stamp};
use crate::{advance, named_beneficiary, type_index, EventRecord, Projection};

/// Marks "no beneficiary" or "no fund" in an entry (interned indices stop below it).
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Entry {
    position: u64,
    command_id: TextRef,
    memo: TextRef,
    actor: u32,
    fund: u32,
    beneficiary: u32,
    effective_date: Day,
    recorded_at: Stamp,
    hash: [u8; 32],
    /// Index into `Event::TYPES`.
    event_type: u8,
}

/// What is stored: everything the indexes are derived from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct Stored {
    next_position: u64,
    /// In position order; packed in checkpoints (`crate::pack`).
    #[serde(with = "packed_entries")]
    entries: Chunked<Entry>,
    texts: Texts,
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
    /// The last command id and memo stored, which the next entry shares if equal.
    last_command_id: Option<TextRef>,
    last_memo: Option<TextRef>,
}

/// The entries as one packed byte string: a count, then per entry its position,
/// command id and memo starts as gaps from the previous entry's, lengths, interned
/// indices (plus one, 0 for none), day and seconds as gaps, nanoseconds, the 32-byte
/// hash and the event type byte.
mod packed_entries {
    use serde::{Deserializer, Serializer};

    use super::Entry;
    use crate::chunked::Chunked;
    use crate::pack::{Packer, Unpacker};
    use crate::text::TextRef;
    use crate::time::{Day, Stamp};

    pub(super) fn serialize<S: Serializer>(
        entries: &Chunked<Entry>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut p = Packer {
            bytes: Vec::with_capacity(entries.len() * 48),
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
        for (text, previous) in [(e.command_id, last.command_id), (e.memo, last.memo)] {
            let ((start, len), (previous, _)) = (text.parts(), previous.parts());
            p.gap(start as i64, previous as i64);
            p.unsigned(u64::from(len));
        }
        for index in [e.actor, e.fund, e.beneficiary] {
            p.unsigned(u64::from(index.wrapping_add(1)));
        }
        p.gap(
            i64::from(e.effective_date.number()),
            i64::from(last.effective_date.number()),
        );
        let ((seconds, nanos), (previous, _)) = (e.recorded_at.parts(), last.recorded_at.parts());
        p.gap(seconds, previous);
        p.unsigned(u64::from(nanos));
        p.raw(&e.hash);
        p.raw(&[e.event_type]);
    }

    fn unpack_entry(u: &mut Unpacker<'_>, last: &Entry) -> Result<Entry, String> {
        let position = u.gap(last.position as i64)? as u64;
        let mut texts = [TextRef::default(); 2];
        for (text, previous) in texts.iter_mut().zip([last.command_id, last.memo]) {
            let start = u.gap(previous.parts().0 as i64)? as u64;
            *text = TextRef::from_parts(start, u.u32()?)?;
        }
        let mut indices = [0u32; 3];
        for index in &mut indices {
            *index = u.u32()?.wrapping_sub(1);
        }
        let day = i32::try_from(u.gap(i64::from(last.effective_date.number()))?)
            .map_err(|_| "a day is out of range".to_string())?;
        let seconds = u.gap(last.recorded_at.parts().0)?;
        let nanos = u.u32()?;
        Ok(Entry {
            position,
            command_id: texts[0],
            memo: texts[1],
            actor: indices[0],
            fund: indices[1],
            beneficiary: indices[2],
            effective_date: Day::from_number(day),
            recorded_at: Stamp::from_parts(seconds, nanos),
            hash: u.array()?,
            event_type: u.array::<1>()?[0],
        })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Chunked<Entry>, D::Error> {
        crate::pack::deserialize(deserializer, "audit entries", |bytes| {
            let mut u = Unpacker::new(bytes);
            let count = usize::try_from(u.unsigned()?).map_err(|e| e.to_string())?;
            // Every entry takes at least its hash: a count beyond that is damage.
            if count > bytes.len() / 32 {
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

/// Command-id fingerprints are already hashes: the map only spreads them further.
#[derive(Debug, Default, Clone, Copy)]
struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        // Fibonacci hashing: the table picks buckets from the high and low bits alike.
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
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
    /// Fingerprint of a command id → the position of the command's first event. The
    /// writer appends a command's events together, so the rest follow it.
    by_command: HashMap<u64, u64, BuildHasherDefault<FingerprintHasher>>,
    /// Commands whose fingerprint another command already had (rare: 64-bit hashes).
    command_collisions: BTreeMap<Box<str>, u64>,
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

/// FNV-1a, 64 bits: a fixed and documented hash of a command id.
fn fingerprint(command_id: &str) -> u64 {
    command_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn entry_index(entries: &Chunked<Entry>, position: u64) -> Option<usize> {
    entries.binary_search_by_key(&position, |e| e.position).ok()
}

impl Indexes {
    fn build(stored: &Stored) -> Indexes {
        let mut indexes = Indexes::default();
        let mut previous = None;
        for e in stored.entries.iter() {
            indexes.add(stored, previous, e);
            previous = Some(e);
        }
        indexes
    }

    /// Indexes entry `e`, the one after `previous`; `stored` holds every entry before
    /// `e` (and, while the indexes are built at once, the ones after it too).
    fn add(&mut self, stored: &Stored, previous: Option<&Entry>, e: &Entry) {
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
        let command_id = stored.texts.get(e.command_id);
        // A later event of the command just indexed: the first one is already there.
        if previous.is_some_and(|p| stored.texts.get(p.command_id) == command_id) {
            return;
        }
        let key = fingerprint(command_id);
        match self.by_command.get(&key) {
            None => {
                self.by_command.insert(key, e.position);
            }
            Some(&first) => {
                let same = entry_index(&stored.entries, first)
                    .and_then(|i| stored.entries.get(i))
                    .is_some_and(|p| stored.texts.get(p.command_id) == command_id);
                if !same {
                    self.command_collisions
                        .entry(command_id.into())
                        .or_insert(e.position);
                }
            }
        }
    }
}

impl Projection for AuditTrail {
    const NAME: &'static str = "audit_trail";
    const LAYOUT_VERSION: u32 = 2;

    fn apply(&mut self, record: &EventRecord) {
        advance(&mut self.stored.next_position, record, Self::NAME);
        let r = &record.recorded;
        let position = r.position;
        let s = &mut self.stored;
        let actor = s
            .actors
            .intern_symbol(&r.actor, record.symbol(r.actor.as_str()));
        let fund = r.event.fund().map_or(NONE, |f| {
            s.funds.intern_symbol(f, record.symbol(f.as_str()))
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
            command_id: s.texts.push_repeated(&r.command_id, &mut s.last_command_id),
            memo: s.texts.push_repeated(&record.memo, &mut s.last_memo),
            actor,
            fund,
            beneficiary,
            effective_date: Day::from(r.effective_date),
            recorded_at: Stamp::from(r.recorded_at),
            hash: record.hash,
            event_type: type_index(&r.event),
        };
        if let Some(indexes) = self.indexes.get_mut() {
            indexes.add(s, s.entries.last(), &entry);
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
            interner.intern_symbol(id, record.symbol(id.as_str()))
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

    /// The index in `entries` of a command's first event.
    fn command_start(&self, command_id: &str) -> Option<usize> {
        let s = &self.stored;
        let indexes = self.indexes();
        if let Some(&first) = indexes.command_collisions.get(command_id) {
            return entry_index(&s.entries, first);
        }
        let first = *indexes.by_command.get(&fingerprint(command_id))?;
        let i = entry_index(&s.entries, first)?;
        (s.texts.get(s.entries.get(i)?.command_id) == command_id).then_some(i)
    }

    fn record(&self, e: &Entry) -> AuditRecord {
        let s = &self.stored;
        AuditRecord {
            position: e.position,
            event_type: Event::TYPES[usize::from(e.event_type)],
            command_id: s.texts.get(e.command_id).to_owned(),
            actor: s.actors.get(e.actor).clone(),
            recorded_at: e.recorded_at.date_time(),
            effective_date: e.effective_date.date(),
            memo: s.texts.get(e.memo).to_owned(),
            hash: e.hash,
            fund: (e.fund != NONE).then(|| s.funds.get(e.fund).clone()),
            beneficiary: (e.beneficiary != NONE)
                .then(|| s.beneficiaries.get(e.beneficiary).clone()),
            reverses: s.reverses.get(&e.position).copied(),
            reversed_by: s.reversed_by.get(&e.position).copied(),
        }
    }

    fn page_of(&self, positions: &[u64], page: PageRequest) -> Page<AuditRecord> {
        let items = positions[page.window(positions.len())]
            .iter()
            .map(|p| self.entry(*p).expect("indexed positions have entries"))
            .collect();
        Page::new(items, positions.len() as u64, page)
    }

    /// The event at a position.
    pub fn entry(&self, position: u64) -> Option<AuditRecord> {
        let entries = &self.stored.entries;
        Some(self.record(entries.get(entry_index(entries, position)?)?))
    }

    /// How many events the trail holds.
    pub fn len(&self) -> u64 {
        self.stored.entries.len() as u64
    }

    /// Whether the trail is empty.
    pub fn is_empty(&self) -> bool {
        self.stored.entries.is_empty()
    }

    /// Every event concerning a beneficiary, in position order.
    pub fn by_beneficiary(
        &self,
        beneficiary: &BeneficiaryId,
        page: PageRequest,
    ) -> Page<AuditRecord> {
        let list = self
            .stored
            .beneficiaries
            .find(beneficiary)
            .and_then(|i| self.indexes().by_beneficiary.get(i as usize))
            .map_or(&[][..], Vec::as_slice);
        self.page_of(list, page)
    }

    /// Every event of a fund, in position order.
    pub fn by_fund(&self, fund: &FundId, page: PageRequest) -> Page<AuditRecord> {
        let list = self
            .stored
            .funds
            .find(fund)
            .and_then(|i| self.indexes().by_fund.get(i as usize))
            .map_or(&[][..], Vec::as_slice);
        self.page_of(list, page)
    }

    /// Every event recorded by an actor, in position order.
    pub fn by_actor(&self, actor: &UserId, page: PageRequest) -> Page<AuditRecord> {
        let list = self
            .stored
            .actors
            .find(actor)
            .and_then(|i| self.indexes().by_actor.get(i as usize))
            .map_or(&[][..], Vec::as_slice);
        self.page_of(list, page)
    }

    /// Every event of a command, in position order (a command's events are contiguous
    /// in the log: the writer appends them together).
    pub fn by_command(&self, command_id: &str, page: PageRequest) -> Page<AuditRecord> {
        let s = &self.stored;
        let (start, len) = match self.command_start(command_id) {
            Some(start) => {
                let len = s
                    .entries
                    .iter_from(start)
                    .take_while(|e| s.texts.get(e.command_id) == command_id)
                    .count();
                (start, len)
            }
            None => (0, 0),
        };
        let window = page.window(len);
        let items = s
            .entries
            .range(start + window.start, window.len())
            .map(|e| self.record(e))
            .collect();
        Page::new(items, len as u64, page)
    }

    /// Every event with an effective date in the range, ordered by effective date then
    /// position. Cost: the days of the range plus the page.
    pub fn by_effective_dates(&self, range: DateRange, page: PageRequest) -> Page<AuditRecord> {
        let days = self.indexes().by_date.range(range.from()..=range.to());
        let total: u64 = days.clone().map(|(_, list)| list.len() as u64).sum();
        let mut items = Vec::new();
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
            for p in list.iter().skip(start) {
                if items.len() >= page.limit() as usize {
                    break;
                }
                items.push(self.entry(*p).expect("indexed positions have entries"));
            }
            if items.len() >= page.limit() as usize {
                break;
            }
        }
        Page::new(items, total, page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_fingerprint_is_fnv_1a() {
        // Reference values of FNV-1a 64.
        assert_eq!(fingerprint(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fingerprint("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fingerprint("cmd-1"), fingerprint("cmd-2"));
    }

    #[test]
    fn a_command_whose_fingerprint_is_taken_is_still_found() {
        let mut trail = AuditTrail::default();
        trail.stored.actors.intern(&UserId::new("clerk").unwrap());
        let add = |trail: &mut AuditTrail, position: u64, command: &str| {
            let s = &mut trail.stored;
            let date = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
            let e = Entry {
                position,
                command_id: s.texts.push(command),
                memo: s.texts.push(""),
                actor: 0,
                fund: NONE,
                beneficiary: NONE,
                effective_date: Day::from(date),
                recorded_at: Stamp::from(date.and_hms_opt(0, 0, 0).unwrap()),
                hash: [0; 32],
                event_type: 0,
            };
            if let Some(indexes) = trail.indexes.get_mut() {
                indexes.add(s, s.entries.last(), &e);
            }
            s.entries.push(e);
        };
        trail.build_indexes();
        add(&mut trail, 0, "first");
        // Pretend "second" collides with "first".
        let indexes = trail.indexes.get_mut().unwrap();
        indexes.by_command.insert(fingerprint("second"), 0);
        add(&mut trail, 1, "second");
        add(&mut trail, 2, "second");
        assert_eq!(trail.command_start("first"), Some(0));
        assert_eq!(trail.command_start("second"), Some(1));
        assert_eq!(trail.indexes().command_collisions.len(), 1);
        assert_eq!(trail.by_command("second", PageRequest::first()).total, 2);
        assert_eq!(trail.command_start("third"), None);
    }
}
