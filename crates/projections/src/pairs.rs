//! Serde helper: a hash map is written as a list of (key, value) pairs sorted by key.
//!
//! A hash map's iteration order is arbitrary, so writing it as it iterates would make
//! two equal states serialise differently; a list of pairs also keeps non-string keys
//! readable in JSON, like the domain's `State`.

pub(crate) mod sorted {

    use std::collections::HashMap;
    use std::hash::{BuildHasher, Hash};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<K, V, H, S>(
        map: &HashMap<K, V, H>,
        serializer: S,
    ) -> Result<S::Ok, S::Error>
    where
        K: Serialize + Ord,
        V: Serialize,
        S: Serializer,
    {
        let mut pairs: Vec<(&K, &V)> = map.iter().collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        serializer.collect_seq(pairs)
    }

    pub(crate) fn deserialize<'de, K, V, H, D>(
        deserializer: D,
    ) -> Result<HashMap<K, V, H>, D::Error>
    where
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
        H: BuildHasher + Default,
        D: Deserializer<'de>,
    {
        let list = Vec::<(K, V)>::deserialize(deserializer)?;
        Ok(list.into_iter().collect())
    }
}
