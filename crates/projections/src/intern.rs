//! Interning tables: each distinct id is stored once and records refer to it by a `u32` index.
//!
//! Projections keep millions of records that name a handful of actors and funds; a
//! 4-byte index instead of an id (a 16-byte pointer, and a separate allocation once the
//! state is deserialised) keeps them small. Only the list is serialised; the lookup map
//! is rebuilt on load.

use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::symbols::Symbol;

/// A hash map with foldhash, seeded per process: several times cheaper than the
/// standard map's SipHash on short ids. Never serialised as a map (its order is
/// arbitrary).
pub(crate) type FastMap<K, V> = foldhash::HashMap<K, V>;

/// A list of distinct values and the index of each.
#[derive(Debug, Clone)]
pub(crate) struct Interner<T: Eq + Hash + Clone> {
    values: Vec<T>,
    /// Rebuilt from `values` on load, so a hash map's unordered iteration never reaches
    /// the serialised form; hashing beats comparing ids along a tree path here.
    index: FastMap<T, u32>,
    /// The index of each symbol met (`crate::symbols`), per symbol table: not part of
    /// the value (neither compared nor serialised).
    by_symbol: SymbolIndexes,
}

/// Two interning tables are equal when they list the same values in the same order
/// (the lookup map follows from the list; the symbol indexes are a cache).
impl<T: Eq + Hash + Clone> PartialEq for Interner<T> {
    fn eq(&self, other: &Interner<T>) -> bool {
        self.values == other.values
    }
}

impl<T: Eq + Hash + Clone> Eq for Interner<T> {}

/// How many symbol tables an interning table remembers indexes for: a rebuild's
/// readers each have one (`ledger-engine` runs two), the projector thread one more.
const SYMBOL_TABLES_KEPT: usize = 4;

/// "No index known" in a symbol index.
const UNKNOWN: u32 = u32::MAX;

/// Per symbol table, the interned index of each symbol number met (`UNKNOWN` for
/// numbers not met yet), the table met most recently first.
#[derive(Debug, Clone, Default)]
struct SymbolIndexes(Vec<(u64, Vec<u32>)>);

impl SymbolIndexes {
    fn get(&self, symbol: Symbol) -> Option<u32> {
        let (_, indexes) = self.0.iter().find(|(table, _)| *table == symbol.table)?;
        let i = *indexes.get(symbol.number as usize)?;
        (i != UNKNOWN).then_some(i)
    }

    fn insert(&mut self, symbol: Symbol, index: u32) {
        let at = match self.0.iter().position(|(table, _)| *table == symbol.table) {
            Some(at) => at,
            None => {
                if self.0.len() == SYMBOL_TABLES_KEPT {
                    self.0.pop();
                }
                self.0.insert(0, (symbol.table, Vec::new()));
                0
            }
        };
        let indexes = &mut self.0[at].1;
        let number = symbol.number as usize;
        if indexes.len() <= number {
            indexes.resize(number + 1, UNKNOWN);
        }
        indexes[number] = index;
    }
}

impl<T: Eq + Hash + Clone + Serialize> Serialize for Interner<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.values.serialize(serializer)
    }
}

impl<'de, T: Eq + Hash + Clone + Deserialize<'de>> Deserialize<'de> for Interner<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Interner<T>, D::Error> {
        let values = Vec::<T>::deserialize(deserializer)?;
        let table = Interner::from(values);
        if table.index.len() != table.values.len() {
            return Err(serde::de::Error::custom(
                "an interning table lists a value twice",
            ));
        }
        Ok(table)
    }
}

impl<T: Eq + Hash + Clone> Default for Interner<T> {
    fn default() -> Interner<T> {
        Interner {
            values: Vec::new(),
            index: FastMap::default(),
            by_symbol: SymbolIndexes::default(),
        }
    }
}

impl<T: Eq + Hash + Clone> Interner<T> {
    /// The index of `value`, adding it if it is new.
    pub(crate) fn intern(&mut self, value: &T) -> u32 {
        if let Some(&i) = self.index.get(value) {
            return i;
        }
        let i = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct ids");
        self.values.push(value.clone());
        self.index.insert(value.clone(), i);
        i
    }

    /// The index met before for `symbol`, the symbol of `value`
    /// (`EventRecord::symbol` gives only such).
    fn known(&self, value: &T, symbol: Symbol) -> Option<u32> {
        let i = self.by_symbol.get(symbol)?;
        debug_assert!(
            self.values[i as usize] == *value,
            "a symbol of another value"
        );
        Some(i)
    }

    /// [`Interner::intern`], through the index of `symbol` when it was met before.
    pub(crate) fn intern_symbol(&mut self, value: &T, symbol: Option<Symbol>) -> u32 {
        let Some(symbol) = symbol else {
            return self.intern(value);
        };
        self.known(value, symbol).unwrap_or_else(|| {
            let i = self.intern(value);
            self.by_symbol.insert(symbol, i);
            i
        })
    }

    /// [`Interner::find`], through the index of `symbol` when it was met before.
    pub(crate) fn find_symbol(&mut self, value: &T, symbol: Option<Symbol>) -> Option<u32> {
        let Some(symbol) = symbol else {
            return self.find(value);
        };
        self.known(value, symbol).or_else(|| {
            let i = self.find(value)?;
            self.by_symbol.insert(symbol, i);
            Some(i)
        })
    }

    /// The index of `value`, if it was interned.
    pub(crate) fn find<Q>(&self, value: &Q) -> Option<u32>
    where
        T: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.get(value).copied()
    }

    /// The value at an index handed out by `intern`.
    pub(crate) fn get(&self, i: u32) -> &T {
        &self.values[i as usize]
    }

    /// The number of distinct values.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }
}

impl<T: Eq + Hash + Clone> From<Vec<T>> for Interner<T> {
    fn from(values: Vec<T>) -> Interner<T> {
        let index = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    v.clone(),
                    u32::try_from(i).expect("fewer than 2^32 distinct ids"),
                )
            })
            .collect();
        Interner {
            values,
            index,
            by_symbol: SymbolIndexes::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_gives_each_value_one_index_and_survives_serde() {
        let mut table = Interner::default();
        assert_eq!(table.intern(&"b".to_owned()), 0);
        assert_eq!(table.intern(&"a".to_owned()), 1);
        assert_eq!(table.intern(&"b".to_owned()), 0);
        assert_eq!(table.find("a"), Some(1));
        assert_eq!(table.find("c"), None);
        assert_eq!(table.get(1), "a");
        let json = serde_json::to_string(&table).unwrap();
        assert_eq!(json, r#"["b","a"]"#);
        let back: Interner<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, table);
        assert_eq!(back.len(), 2);
    }
}

/// Values keyed by an interned id, in the order the ids first appeared: a hash lookup
/// where a `BTreeMap` would compare ids along a tree path on every event. Serialises
/// as the two lists, so the form is deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(bound(serialize = "K: Serialize + Eq + Hash + Clone, V: Serialize"))]
pub(crate) struct Keyed<K: Eq + Hash + Clone, V> {
    keys: Interner<K>,
    values: Vec<V>,
}

impl<'de, K, V> Deserialize<'de> for Keyed<K, V>
where
    K: Deserialize<'de> + Eq + Hash + Clone,
    V: Deserialize<'de>,
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Keyed<K, V>, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound(
            deserialize = "K: Deserialize<'de> + Eq + Hash + Clone, V: Deserialize<'de>"
        ))]
        struct Form<K: Eq + Hash + Clone, V> {
            keys: Interner<K>,
            values: Vec<V>,
        }
        let form = Form::<K, V>::deserialize(deserializer)?;
        if form.keys.values.len() != form.values.len() {
            return Err(serde::de::Error::custom(
                "a keyed table has as many values as keys",
            ));
        }
        Ok(Keyed {
            keys: form.keys,
            values: form.values,
        })
    }
}

impl<K: Eq + Hash + Clone, V> Default for Keyed<K, V> {
    fn default() -> Keyed<K, V> {
        Keyed {
            keys: Interner::default(),
            values: Vec::new(),
        }
    }
}

impl<K: Eq + Hash + Clone, V> Keyed<K, V> {
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.keys.find(key).map(|i| &self.values[i as usize])
    }

    /// The value of `key`, inserting `V::default()` first if the key is new.
    pub(crate) fn entry(&mut self, key: &K) -> &mut V
    where
        V: Default,
    {
        self.entry_symbol(key, None)
    }

    /// [`Keyed::entry`] through `key`'s symbol (`Interner::intern_symbol`).
    pub(crate) fn entry_symbol(&mut self, key: &K, symbol: Option<Symbol>) -> &mut V
    where
        V: Default,
    {
        let i = self.keys.intern_symbol(key, symbol) as usize;
        if i == self.values.len() {
            self.values.push(V::default());
        }
        &mut self.values[i]
    }

    /// Keys and values in the order the keys first appeared.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (self.keys.get(u32::try_from(i).expect("interned")), v))
    }
}
