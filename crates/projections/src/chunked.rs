//! A list that grows in chunks: what the projections append one per event.
//!
//! A `Vec` that doubles copies everything it holds into fresh memory each time, so a
//! list of n items has touched about 2n items' worth of new pages by the time it is
//! full, and a rebuild spends much of its time in the kernel zeroing them (a tenth of
//! a 10-million-event rebuild went to the fund ledger's growth alone;
//! docs/PERFORMANCE.md). Here the first chunk grows like a `Vec` up to [`CHUNK`] items
//! (small lists stay small) and every later chunk is allocated at that size once:
//! nothing stored moves, and memory is touched once.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Items per chunk.
const CHUNK: usize = 4096;

/// A list in chunks of [`CHUNK`] items (see the module's documentation). Two lists
/// are equal when they hold equal items in the same order; serde sees a sequence,
/// exactly like a `Vec`'s.
#[derive(Debug, Clone)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Chunked<T> {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(item),
            _ => {
                // The first chunk starts small; the others are full-sized at once.
                let capacity = if self.chunks.is_empty() { 0 } else { CHUNK };
                let mut chunk = Vec::with_capacity(capacity);
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    /// The `count` items from index `start` on (which may span two chunks).
    pub(crate) fn range(&self, start: usize, count: usize) -> impl Iterator<Item = &T> + '_ {
        (start..start + count).map(|i| self.get(i).expect("a range within the list"))
    }

    /// Like `slice::binary_search_by_key`, over items sorted by `key`.
    pub(crate) fn binary_search_by_key<K: Ord>(
        &self,
        wanted: &K,
        key: impl Fn(&T) -> K,
    ) -> Result<usize, usize> {
        // The first chunk whose last item is not below `wanted` holds it, if any does.
        let chunk = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|last| key(last) < *wanted));
        let Some(items) = self.chunks.get(chunk) else {
            return Err(self.len);
        };
        items
            .binary_search_by_key(wanted, key)
            .map(|i| chunk * CHUNK + i)
            .map_err(|i| chunk * CHUNK + i)
    }
}

impl<T: PartialEq> PartialEq for Chunked<T> {
    fn eq(&self, other: &Chunked<T>) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for Chunked<T> {}

impl<T: Serialize> Serialize for Chunked<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        // With its length first, as a `Vec` is (bincode needs it).
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for item in self.iter() {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

/// Reads the items straight into chunks: through a `Vec`, a checkpoint's long list was
/// copied into fresh memory at each doubling (serde believes a length only up to a
/// megabyte), then once more into chunks (docs/PERFORMANCE.md, "The open folds the
/// tail once").
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Chunked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Chunked<T>, D::Error> {
        struct Items<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Items<T> {
            type Value = Chunked<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut items: A,
            ) -> Result<Chunked<T>, A::Error> {
                let mut list = Chunked::default();
                while let Some(item) = items.next_element()? {
                    list.push(item);
                }
                Ok(list)
            }
        }
        deserializer.deserialize_seq(Items(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A chunked list reads, searches and serialises exactly like a `Vec` of the
        /// same items (across chunk boundaries too).
        #[test]
        fn a_chunked_list_behaves_like_a_vec(
            gaps in proptest::collection::vec(1u64..4, 0..(3 * CHUNK)),
            probes in proptest::collection::vec(0u64..(4 * 3 * CHUNK as u64), 1..40),
        ) {
            let items: Vec<u64> = gaps
                .iter()
                .scan(0, |sum, gap| { *sum += gap; Some(*sum) })
                .collect();
            let mut list = Chunked::default();
            items.iter().for_each(|&item| list.push(item));
            prop_assert_eq!(list.len(), items.len());
            prop_assert!(list.iter().eq(items.iter()));
            for (i, item) in items.iter().enumerate().step_by(97) {
                prop_assert_eq!(list.get(i), Some(item));
            }
            prop_assert_eq!(list.get(items.len()), None);
            let start = items.len() / 3;
            let count = (items.len() - start).min(CHUNK + 5);
            prop_assert!(list.range(start, count).eq(items[start..start + count].iter()));
            prop_assert_eq!(list.is_empty(), items.is_empty());
            for probe in probes {
                prop_assert_eq!(
                    list.binary_search_by_key(&probe, |x| *x),
                    items.binary_search_by_key(&probe, |x| *x)
                );
            }
            let bytes = bincode::serde::encode_to_vec(&list, bincode::config::legacy()).unwrap();
            let as_vec = bincode::serde::encode_to_vec(&items, bincode::config::legacy()).unwrap();
            prop_assert_eq!(&bytes, &as_vec);
            let (back, _): (Chunked<u64>, usize) =
                bincode::serde::decode_from_slice(&bytes, bincode::config::legacy()).unwrap();
            prop_assert_eq!(back, list);
        }
    }
}
