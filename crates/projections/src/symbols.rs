//! Symbols: numbers a decoder gives the ids of the records it decodes, so that the
//! projections find each id's interned index by a plain array lookup instead of
//! hashing and comparing the id text in every projection.
//!
//! A [`SymbolTable`] numbers every distinct id text it sees (actor, fund, beneficiary
//! alike) and is never reused: each table has its own number from a process-wide
//! counter. [`SymbolTable::assign`] stamps a record with its table, and for its actor,
//! its fund and the beneficiary it names, the number and the address of the id's text
//! in that record. A projection asks [`EventRecord::symbol`] for the symbol of an id it
//! is about to intern: only the very id the stamp was taken from (the same text at the
//! same address) gets one; any other id (one the projection kept from an earlier
//! event, say) gets none and is interned by its text. The stamp and the id travel
//! together in the record, and a short id's text is held inline in it (decision 0037),
//! so an address matches only while the record stays where it was stamped and holds
//! the text it was stamped with; a record moved or cloned elsewhere is interned by
//! text. An interning table remembers the index of each
//! (table, number) it has met, so that a later record of the same table reaches it in
//! one array lookup. Symbols change no answer: a record without them (built by hand,
//! or by a decoder without a table) is interned by text.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use ledger_domain::UserId;

use crate::intern::FastMap;
use crate::{named_beneficiary, EventRecord};

/// The next table's number (0 is "no table").
static NEXT_TABLE: AtomicU64 = AtomicU64::new(1);

/// One id's number, and where its text was in the record stamped.
#[derive(Debug, Clone, Copy, Default)]
struct Stamp {
    /// The address of the id's text; 0 when the record has no such id.
    at: usize,
    number: u32,
}

impl Stamp {
    fn matches(self, text: &str) -> bool {
        self.at != 0 && self.at == text.as_ptr() as usize
    }
}

/// The symbols of one record (see the module's documentation). Not part of the
/// record's value: any two compare equal, and serde skips them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Symbols {
    table: u64,
    actor: Stamp,
    fund: Stamp,
    beneficiary: Stamp,
}

impl PartialEq for Symbols {
    fn eq(&self, _: &Symbols) -> bool {
        true
    }
}

impl Eq for Symbols {}

/// A symbol: the table and the id's number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Symbol {
    pub(crate) table: u64,
    pub(crate) number: u32,
}

impl EventRecord {
    /// The symbol of `id`, if it is the actor this record was stamped with (the same
    /// text at the same address).
    pub(crate) fn actor_symbol(&self, id: &str) -> Option<Symbol> {
        self.symbol_of(self.symbols.actor, id)
    }

    /// The symbol of `id`, if it is the fund this record was stamped with.
    pub(crate) fn fund_symbol(&self, id: &str) -> Option<Symbol> {
        self.symbol_of(self.symbols.fund, id)
    }

    /// The symbol of `id`, if it is the beneficiary this record was stamped with.
    pub(crate) fn beneficiary_symbol(&self, id: &str) -> Option<Symbol> {
        self.symbol_of(self.symbols.beneficiary, id)
    }

    /// Each id is checked against its own stamp only: a record moved elsewhere could
    /// otherwise have one id where another's text was stamped.
    fn symbol_of(&self, stamp: Stamp, id: &str) -> Option<Symbol> {
        stamp.matches(id).then_some(Symbol {
            table: self.symbols.table,
            number: stamp.number,
        })
    }
}

/// Numbers the ids of the records one decoder hands out (see the module's
/// documentation).
#[derive(Debug)]
pub struct SymbolTable {
    table: u64,
    /// Texts of up to [`SHORT_MAX`] bytes, held inline in the table: a lookup compares
    /// within the table instead of following a pointer to each candidate's text.
    short: ShortTable,
    long: FastMap<Box<str>, u32>,
    /// The last actor and its number: runs of events by one actor are the rule, and an
    /// actor's id compares equal faster than it is numbered. Compared by text, not by
    /// address: a short id is held inline in its record (decision 0037), and a page
    /// buffer refilled puts another record's actor at the same address.
    last_actor: Option<(UserId, u32)>,
}

impl Default for SymbolTable {
    fn default() -> SymbolTable {
        SymbolTable {
            table: NEXT_TABLE.fetch_add(1, Ordering::Relaxed),
            short: ShortTable::default(),
            long: FastMap::default(),
            last_actor: None,
        }
    }
}

impl SymbolTable {
    /// A new table, numbered apart from every other in the process.
    pub fn new() -> SymbolTable {
        SymbolTable::default()
    }

    fn number(&mut self, text: &str) -> Stamp {
        let next =
            u32::try_from(self.short.len + self.long.len()).expect("fewer than 2^32 distinct ids");
        let number = match short_key(text) {
            Some(key) => self.short.number(key, next),
            None => match self.long.get(text) {
                Some(&n) => n,
                None => {
                    self.long.insert(text.into(), next);
                    next
                }
            },
        };
        Stamp {
            at: text.as_ptr() as usize,
            number,
        }
    }

    /// Stamps `record` with this table's numbers for its actor, fund and beneficiary.
    pub fn assign(&mut self, record: &mut EventRecord) {
        let r = &record.recorded;
        let actor = match &self.last_actor {
            Some((actor, number)) if *actor == r.actor => Stamp {
                at: r.actor.as_str().as_ptr() as usize,
                number: *number,
            },
            _ => {
                let stamp = self.number(r.actor.as_str());
                self.last_actor = Some((r.actor.clone(), stamp.number));
                stamp
            }
        };
        let fund = r
            .event
            .fund()
            .map_or_else(Stamp::default, |f| self.number(f.as_str()));
        let beneficiary =
            named_beneficiary(&r.event).map_or_else(Stamp::default, |b| self.number(b.as_str()));
        record.symbols = Symbols {
            table: self.table,
            actor,
            fund,
            beneficiary,
        };
    }

    /// [`SymbolTable::assign`] for each record in turn, [`TOUCH_AHEAD`] at a time: first
    /// it reads the slot each short fund and beneficiary id of the batch starts at, then
    /// it numbers them. A table of tens of thousands of beneficiaries is larger than
    /// what the caches keep of it while a fold streams the log through them, so most
    /// beneficiaries' slots are read from memory. Read one record at a time, between
    /// two records' decoding, each read waits alone; read in a batch, the reads do not
    /// depend on each other and the processor has them under way together
    /// (docs/PERFORMANCE.md, "Fewer waits on memory in a fold").
    pub fn assign_all(&mut self, records: &mut [EventRecord]) {
        let mut homes = [0usize; 2 * TOUCH_AHEAD];
        for batch in records.chunks_mut(TOUCH_AHEAD) {
            // The slots first, then the reads in a loop of their own: a read per few
            // instructions, so that the processor sees them all before the first ends.
            let mut count = 0;
            for record in batch.iter() {
                let event = &record.recorded.event;
                let ids = [
                    event.fund().map(|f| f.as_str()),
                    named_beneficiary(event).map(|b| b.as_str()),
                ];
                for key in ids.into_iter().flatten().filter_map(short_key) {
                    if let Some(home) = self.short.home(&key) {
                        homes[count] = home;
                        count += 1;
                    }
                }
            }
            // What was read is used, so the reads are not optimised away.
            std::hint::black_box(self.short.touch(&homes[..count]));
            batch.iter_mut().for_each(|record| self.assign(record));
        }
    }
}

/// How many records [`SymbolTable::assign_all`] reads the slots of before numbering
/// them: two ids each, a few dozen reads under way at once, about as many as a core
/// keeps outstanding; the slots read stay in the first-level cache until numbered.
const TOUCH_AHEAD: usize = 16;

/// Short texts' numbers ([`short_key`]): an open-addressing table with linear probing,
/// at most half full, each slot holding its key inline. Unlike a general hash map it
/// tells where a key's probe starts ([`ShortTable::touch`]).
#[derive(Debug, Default)]
struct ShortTable {
    slots: Vec<Slot>,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

/// A slot of a [`ShortTable`]: a key and its number, or [`EMPTY`].
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: [u64; 3],
    number: u32,
}

/// The number of an empty slot (numbers are counted from 0 and stay below it).
const EMPTY: u32 = u32::MAX;

/// A new table's slots.
const SHORT_SLOTS_MIN: usize = 64;

impl ShortTable {
    /// Where `key`'s probe starts, if the table has slots.
    fn home(&self, key: &[u64; 3]) -> Option<usize> {
        // The hash's low bits pick the slot: the table's length is a power of two.
        let mask = self.slots.len().checked_sub(1)?;
        // Only the low bits are kept, so a narrower `usize` loses nothing needed.
        #[allow(clippy::cast_possible_truncation)]
        let hash = self.hasher.hash_one(key) as usize;
        Some(hash & mask)
    }

    /// Reads the slots at `homes` (for [`SymbolTable::assign_all`]): their numbers
    /// folded into one.
    fn touch(&self, homes: &[usize]) -> u32 {
        homes
            .iter()
            .fold(0, |touched, &home| touched ^ self.slots[home].number)
    }

    /// The slot holding `key`, else the empty slot where it would go; the table has
    /// slots, not all of them full.
    fn probe(&self, key: &[u64; 3]) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key).expect("the table has slots");
        while self.slots[i].number != EMPTY && self.slots[i].key != *key {
            i = (i + 1) & mask;
        }
        i
    }

    /// `key`'s number, or `next` for a key not in the table, which it then holds.
    fn number(&mut self, key: [u64; 3], next: u32) -> u32 {
        assert!(next != EMPTY, "fewer than 2^32 - 1 distinct short ids");
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let i = self.probe(&key);
        let slot = &mut self.slots[i];
        if slot.number == EMPTY {
            *slot = Slot { key, number: next };
            self.len += 1;
        }
        slot.number
    }

    /// Doubles the slots and places every key again.
    fn grow(&mut self) {
        let empty = Slot {
            key: [0; 3],
            number: EMPTY,
        };
        let size = (self.slots.len() * 2).max(SHORT_SLOTS_MIN);
        let old = std::mem::replace(&mut self.slots, vec![empty; size]);
        for slot in old.into_iter().filter(|slot| slot.number != EMPTY) {
            // The keys are distinct: each probe ends at an empty slot.
            let i = self.probe(&slot.key);
            self.slots[i] = slot;
        }
    }
}

/// The longest text a [`SymbolTable`] keys inline.
const SHORT_MAX: usize = 23;

/// A text of up to [`SHORT_MAX`] bytes as three words: its bytes, zero-padded, and its
/// length in the last byte (so that no two texts share a key).
fn short_key(text: &str) -> Option<[u64; 3]> {
    let len = u8::try_from(text.len())
        .ok()
        .filter(|&n| usize::from(n) <= SHORT_MAX)?;
    let mut bytes = [0u8; 24];
    bytes[..text.len()].copy_from_slice(text.as_bytes());
    bytes[SHORT_MAX] = len;
    let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    Some([word(0), word(1), word(2)])
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use ledger_domain::{
        Amount, BeneficiaryId, Event, FundId, FundingTier, GrantModality, GrantPayment, Recorded,
        TierSplit, UserId,
    };

    use super::*;
    use crate::intern::Interner;

    fn grant(position: u64, fund: &str, beneficiary: &str, actor: &UserId) -> EventRecord {
        let amount = Amount::parse("10.00").unwrap();
        let date = NaiveDate::from_ymd_opt(2021, 6, 30).unwrap();
        EventRecord {
            recorded: Recorded {
                position,
                command_id: format!("c{position}").into(),
                actor: actor.clone(),
                effective_date: date,
                recorded_at: date.and_hms_opt(9, 0, 0).unwrap(),
                event: Event::GrantPaid(GrantPayment {
                    fund: FundId::new(fund).unwrap(),
                    beneficiary: BeneficiaryId::new(beneficiary).unwrap(),
                    modality: GrantModality::Relief,
                    batch: None,
                    amount,
                    shares: TierSplit::single(FundingTier::City, amount).unwrap(),
                }),
            },
            memo: "m".into(),
            hash: [0; 32],
            symbols: Symbols::default(),
        }
    }

    fn fund_of(record: &EventRecord) -> &FundId {
        record.recorded.event.fund().unwrap()
    }

    #[test]
    fn a_record_has_symbols_only_for_its_own_ids() {
        let clerk = UserId::new("clerk-1").unwrap();
        let mut table = SymbolTable::new();
        let mut a = grant(0, "HP-1", "M1", &clerk);
        let mut b = grant(1, "HP-1", "M2", &clerk);
        table.assign(&mut a);
        table.assign(&mut b);
        let (fa, fb) = (fund_of(&a), fund_of(&b));
        // Equal texts get one number; the stamp is the record's own.
        assert_eq!(
            a.fund_symbol(fa.as_str()).unwrap(),
            b.fund_symbol(fb.as_str()).unwrap()
        );
        assert_eq!(
            a.actor_symbol(a.recorded.actor.as_str()).unwrap(),
            b.actor_symbol(b.recorded.actor.as_str()).unwrap()
        );
        let (Event::GrantPaid(ga), Event::GrantPaid(gb)) = (&a.recorded.event, &b.recorded.event)
        else {
            unreachable!()
        };
        assert_ne!(
            a.beneficiary_symbol(ga.beneficiary.as_str()),
            b.beneficiary_symbol(gb.beneficiary.as_str())
        );
        // An id has a symbol only as the kind of id it was stamped as.
        assert_eq!(a.beneficiary_symbol(fa.as_str()), None);
        // The same text elsewhere has no symbol: it is interned by text.
        let copy = FundId::new("HP-1").unwrap();
        assert_eq!(a.fund_symbol(copy.as_str()), None);
        assert_eq!(a.actor_symbol(clerk.as_str()), None);
        // Nor has a copy of the record anywhere but where the record was stamped.
        let moved = [a.clone()];
        assert_eq!(moved[0].fund_symbol(fund_of(&moved[0]).as_str()), None);
        // Neither has a record built by hand, nor a clone's symbols in another table.
        let plain = grant(2, "HP-1", "M1", &clerk);
        assert_eq!(plain.fund_symbol(fund_of(&plain).as_str()), None);
        let mut other = SymbolTable::new();
        let mut c = a.clone();
        other.assign(&mut c);
        assert_ne!(
            c.fund_symbol(fund_of(&c).as_str()),
            a.fund_symbol(fa.as_str())
        );
        // Symbols are not part of the record's value.
        assert_eq!(a, grant(0, "HP-1", "M1", &clerk));
    }

    #[test]
    fn a_refilled_page_gets_the_numbers_of_its_own_actors() {
        // A short actor is held inline, so a page buffer refilled puts another actor's
        // text where the last one was stamped: it must still get its own number.
        let (one, two) = (
            UserId::new("clerk-1").unwrap(),
            UserId::new("clerk-2").unwrap(),
        );
        let number = |page: &[EventRecord]| {
            page[0]
                .actor_symbol(page[0].recorded.actor.as_str())
                .expect("stamped in place")
                .number
        };
        let mut table = SymbolTable::new();
        let mut page = vec![grant(0, "HP-1", "M1", &one)];
        table.assign_all(&mut page);
        let first = number(&page);
        page.clear();
        page.push(grant(1, "HP-1", "M1", &two));
        table.assign_all(&mut page);
        assert_ne!(number(&page), first);
    }

    #[test]
    fn short_and_long_texts_are_numbered_apart_and_once() {
        let mut table = SymbolTable::new();
        let long = "F".repeat(SHORT_MAX + 1);
        let texts = ["", "a", "a\0", &"F".repeat(SHORT_MAX), &long, "b"];
        let numbers: Vec<u32> = texts.iter().map(|t| table.number(t).number).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 5]);
        let again: Vec<u32> = texts
            .iter()
            .map(|t| {
                // The same text in another allocation.
                let copy = String::from(*t);
                table.number(copy.as_str()).number
            })
            .collect();
        assert_eq!(again, numbers);
    }

    #[test]
    fn a_batch_gets_the_symbols_one_record_at_a_time_gets() {
        let clerks = [
            UserId::new("clerk-1").unwrap(),
            UserId::new("clerk-2").unwrap(),
        ];
        let long = "F".repeat(SHORT_MAX + 1);
        // More beneficiaries than a new table has slots, so that it grows within a
        // batch; long and short funds; runs shorter and longer than a batch.
        let records: Vec<EventRecord> = (0..1_000u64)
            .map(|n| {
                let fund = if n % 3 == 0 {
                    long.clone()
                } else {
                    format!("HP-{}", n % 7)
                };
                let beneficiary = format!("M{}", (n * 7_919) % 401);
                grant(n, &fund, &beneficiary, &clerks[usize::from(n % 50 < 20)])
            })
            .collect();
        let mut one_by_one = records.clone();
        let mut table = SymbolTable::new();
        one_by_one.iter_mut().for_each(|r| table.assign(r));
        for split in [0, 1, TOUCH_AHEAD, 333, records.len()] {
            let mut batched = records.clone();
            let mut table = SymbolTable::new();
            let (first, rest) = batched.split_at_mut(split);
            table.assign_all(first);
            table.assign_all(rest);
            let numbers = |records: &[EventRecord]| -> Vec<[Option<u32>; 3]> {
                records
                    .iter()
                    .map(|r| {
                        let Event::GrantPaid(g) = &r.recorded.event else {
                            unreachable!()
                        };
                        [
                            r.actor_symbol(r.recorded.actor.as_str()),
                            r.fund_symbol(g.fund.as_str()),
                            r.beneficiary_symbol(g.beneficiary.as_str()),
                        ]
                        .map(|symbol| symbol.map(|s| s.number))
                    })
                    .collect()
            };
            let batched_numbers = numbers(&batched);
            assert!(batched_numbers.iter().flatten().all(Option::is_some));
            assert_eq!(batched_numbers, numbers(&one_by_one), "split at {split}");
        }
    }

    #[test]
    fn a_short_table_keeps_its_numbers_as_it_grows() {
        let mut table = ShortTable::default();
        let key = |n: u32| short_key(&format!("B-{n}")).unwrap();
        for n in 0..10_000 {
            assert_eq!(table.number(key(n), n), n);
        }
        assert!(table.slots.len() >= 2 * 10_000 && table.slots.len().is_power_of_two());
        for n in 0..10_000 {
            // Known keys keep their number whatever is offered as the next one.
            assert_eq!(table.number(key(n), 99_999), n);
        }
        assert_eq!(table.len, 10_000);
        // The empty text is a key like any other, not an empty slot.
        assert_eq!(table.number(short_key("").unwrap(), 10_000), 10_000);
        assert_eq!(table.number(short_key("").unwrap(), 7), 10_000);
    }

    #[test]
    fn interning_by_symbol_gives_the_indexes_interning_by_text_gives() {
        let clerk = UserId::new("clerk-1").unwrap();
        // Six tables in turn: more than an interning table keeps indexes for.
        let mut tables: Vec<SymbolTable> = (0..6).map(|_| SymbolTable::new()).collect();
        let mut by_symbol = Interner::<FundId>::default();
        let mut by_text = Interner::<FundId>::default();
        for n in 0..600u64 {
            let mut record = grant(n, &format!("HP-{}", (n * 7) % 23), "M1", &clerk);
            tables[usize::try_from(n % 6).unwrap()].assign(&mut record);
            let fund = fund_of(&record);
            let i = by_symbol.intern_symbol(fund, record.fund_symbol(fund.as_str()));
            assert_eq!(i, by_text.intern(fund), "record {n}");
            assert_eq!(
                by_symbol.find_symbol(fund, record.fund_symbol(fund.as_str())),
                Some(i)
            );
        }
        assert_eq!(by_symbol, by_text);
        // A value never interned is not found through a symbol either.
        let mut record = grant(600, "HP-99", "M1", &clerk);
        tables[0].assign(&mut record);
        let fund = fund_of(&record);
        assert_eq!(
            by_symbol.find_symbol(fund, record.fund_symbol(fund.as_str())),
            None
        );
    }
}
