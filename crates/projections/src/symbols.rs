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
//! same address, which an `Arc<str>` never changes while the record holds it) gets
//! one; any other id (one the projection kept from an earlier event, say) gets none
//! and is interned by its text. An interning table remembers the index of each
//! (table, number) it has met, so that a later record of the same table reaches it in
//! one array lookup. Symbols change no answer: a record without them (built by hand,
//! or by a decoder without a table) is interned by text.

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
    /// The symbol of `id`, if it is the actor, fund or beneficiary this record was
    /// stamped with (the same text at the same address).
    pub(crate) fn symbol(&self, id: &str) -> Option<Symbol> {
        let s = &self.symbols;
        [s.actor, s.fund, s.beneficiary]
            .into_iter()
            .find(|stamp| stamp.matches(id))
            .map(|stamp| Symbol {
                table: s.table,
                number: stamp.number,
            })
    }
}

/// Numbers the ids of the records one decoder hands out (see the module's
/// documentation).
#[derive(Debug)]
pub struct SymbolTable {
    table: u64,
    /// Texts of up to [`SHORT_MAX`] bytes, held inline in the map: a lookup compares
    /// within the table instead of following a pointer to each candidate's text.
    short: FastMap<[u64; 3], u32>,
    long: FastMap<Box<str>, u32>,
    /// The last actor and its stamp: runs of one actor's events share the actor's
    /// `Arc` (the engine's decoder shares it), so its address repeats. Held here, so
    /// that the address cannot be freed and reused for another text while it is
    /// compared against.
    last_actor: Option<(UserId, Stamp)>,
}

impl Default for SymbolTable {
    fn default() -> SymbolTable {
        SymbolTable {
            table: NEXT_TABLE.fetch_add(1, Ordering::Relaxed),
            short: FastMap::default(),
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
        let next = u32::try_from(self.short.len() + self.long.len())
            .expect("fewer than 2^32 distinct ids");
        let number = match short_key(text) {
            Some(key) => *self.short.entry(key).or_insert(next),
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
            Some((_, stamp)) if stamp.matches(r.actor.as_str()) => *stamp,
            _ => {
                let stamp = self.number(r.actor.as_str());
                self.last_actor = Some((r.actor.clone(), stamp));
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
                command_id: format!("c{position}"),
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
            a.symbol(fa.as_str()).unwrap(),
            b.symbol(fb.as_str()).unwrap()
        );
        assert_eq!(a.symbol(clerk.as_str()), b.symbol(clerk.as_str()));
        let (Event::GrantPaid(ga), Event::GrantPaid(gb)) = (&a.recorded.event, &b.recorded.event)
        else {
            unreachable!()
        };
        assert_ne!(
            a.symbol(ga.beneficiary.as_str()),
            b.symbol(gb.beneficiary.as_str())
        );
        // The same text in another allocation has no symbol: it is interned by text.
        let copy = FundId::new("HP-1").unwrap();
        assert_eq!(a.symbol(copy.as_str()), None);
        // Neither has a record built by hand, nor a clone's symbols in another table.
        let plain = grant(2, "HP-1", "M1", &clerk);
        assert_eq!(plain.symbol(fund_of(&plain).as_str()), None);
        let mut other = SymbolTable::new();
        let mut c = a.clone();
        other.assign(&mut c);
        assert_ne!(c.symbol(fund_of(&c).as_str()), a.symbol(fa.as_str()));
        // Symbols are not part of the record's value.
        assert_eq!(a, grant(0, "HP-1", "M1", &clerk));
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
            let i = by_symbol.intern_symbol(fund, record.symbol(fund.as_str()));
            assert_eq!(i, by_text.intern(fund), "record {n}");
            assert_eq!(
                by_symbol.find_symbol(fund, record.symbol(fund.as_str())),
                Some(i)
            );
        }
        assert_eq!(by_symbol, by_text);
        // A value never interned is not found through a symbol either.
        let mut record = grant(600, "HP-99", "M1", &clerk);
        tables[0].assign(&mut record);
        let fund = fund_of(&record);
        assert_eq!(
            by_symbol.find_symbol(fund, record.symbol(fund.as_str())),
            None
        );
    }
}
