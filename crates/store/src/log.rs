//! The log itself: validation, idempotency, the hash chain, durable group appends,
//! reads bounded by what is durable, verification and subscriptions. Generic over
//! the [`Backend`] that stores the bytes.

use std::collections::VecDeque;
use std::hash::{Hash as _, Hasher as _};
use std::ops::ControlFlow;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

// The in-memory indexes hash stream names and command keys on every append: foldhash,
// seeded per process, instead of SipHash (docs/PERFORMANCE.md, "Maps hashed with
// foldhash, no transparent huge pages").
use foldhash::{HashMap, HashMapExt as _};

use crate::backend::{Backend, SnapshotBytes, SnapshotSource};
use crate::codec::{self, HeadMarker, Header, Placement, FORMAT_VERSION, FORMAT_VERSION_OLDEST};
use crate::error::{AppendError, StoreError};
use crate::hash::{HashAlgorithm, GENESIS_HASH};
use crate::limits::{
    BATCH_EVENTS_MAX, EVENT_BYTES_MAX, READ_PAGE_EVENTS_MAX, RECENT_RECORDS_BYTES_MAX,
};
use crate::types::{
    AppendBatch, Appended, CommandId, ExpectedVersion, Head, RawRecord, RecordView, RecordedEvent,
    StreamName,
};

/// Where the time recorded on events comes from. Injected so tests are deterministic.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that returns a value the test sets.
#[derive(Debug, Default)]
pub struct FixedClock(std::sync::atomic::AtomicI64);

impl FixedClock {
    pub fn new(ms: i64) -> Self {
        FixedClock(std::sync::atomic::AtomicI64::new(ms))
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Where a command's events sit in the log.
#[derive(Debug, Clone, Copy)]
struct CommandSpan {
    first_position: u64,
    count: u32,
}

/// In-memory indexes, rebuilt from the log on open (docs/decisions/0002): only the
/// records and one head marker per batch are written to disk; an index checkpoint
/// (decision 0010) lets an open decode only the records after it. Both indexes only
/// grow, a group at a time, which lets a checkpoint be copied out of them in pieces
/// (decision 0030).
#[derive(Debug, Default)]
struct Index {
    /// One past the last position indexed.
    next_position: u64,
    /// Positions of each stream's events, by stream version.
    streams: Streams,
    /// Command spans keyed by a 128-bit hash of the command id. A hit is confirmed
    /// by reading the stored records back, so a collision cannot merge two commands.
    /// Those of the index checkpoint this open started from are in `checkpointed`,
    /// sorted by key (loading them is a copy, not ten million hash inserts), shared with
    /// the next checkpoint's copy; those indexed since are here.
    commands: RecentCommands,
    checkpointed: Arc<SortedCommands>,
}

/// The command spans of an index checkpoint, sorted by key, and where each bucket of
/// keys sharing their top bits starts. The keys are hashes, spread evenly, so a bucket
/// holds about [`KEYS_PER_BUCKET`] of them: a lookup (every new command has one) reads
/// one start and searches a few neighbouring keys, where a binary search over ten
/// million keys probes 23 places across 320 MB (docs/PERFORMANCE.md, "The checkpointed
/// command keys in buckets").
#[derive(Debug)]
struct SortedCommands {
    spans: Vec<(u128, CommandSpan)>,
    /// `starts[b]`: the index of the first key in bucket `b` or a later one; one
    /// entry more than there are buckets, the last being `spans.len()`.
    starts: Vec<usize>,
    /// The key's top bits that pick its bucket (0: one bucket).
    bits: u32,
}

/// The top `bits` bits of a command key (at most 63; none when 0), which pick its shard
/// of [`RecentCommands`] and its bucket of [`SortedCommands`]: the keys are hashes, so
/// their top bits spread them evenly.
fn top_bits(key: u128, bits: u32) -> usize {
    key.checked_shr(128 - bits)
        .map_or(0, |top| usize::try_from(top).expect("at most 63 bits"))
}

/// About how many keys a bucket of [`SortedCommands`] holds (between this and twice it).
const KEYS_PER_BUCKET: usize = 8;

impl Default for SortedCommands {
    fn default() -> SortedCommands {
        SortedCommands::new(Vec::new())
    }
}

impl SortedCommands {
    /// `spans` must be sorted by key.
    fn new(spans: Vec<(u128, CommandSpan)>) -> SortedCommands {
        // The largest power of two of buckets that leaves each KEYS_PER_BUCKET keys or
        // more: the starts take at most a byte per key.
        let bits = (spans.len() / KEYS_PER_BUCKET).checked_ilog2().unwrap_or(0);
        let buckets = 1usize << bits;
        let mut starts = Vec::with_capacity(buckets + 1);
        let mut next = 0;
        for bucket in 0..buckets {
            while next < spans.len() && top_bits(spans[next].0, bits) < bucket {
                next += 1;
            }
            starts.push(next);
        }
        starts.push(spans.len());
        SortedCommands {
            spans,
            starts,
            bits,
        }
    }

    fn get(&self, key: u128) -> Option<CommandSpan> {
        let bucket = top_bits(key, self.bits);
        let run = &self.spans[self.starts[bucket]..self.starts[bucket + 1]];
        run.binary_search_by_key(&key, |(k, _)| *k)
            .ok()
            .map(|i| run[i].1)
    }

    /// Every span, by key.
    fn iter(&self) -> std::slice::Iter<'_, (u128, CommandSpan)> {
        self.spans.iter()
    }

    fn len(&self) -> usize {
        self.spans.len()
    }
}

/// The key's top bits that pick a shard of [`RecentCommands`] (1 to 64).
const COMMAND_SHARD_BITS: u32 = 10;
/// Shards of [`RecentCommands`].
const COMMAND_SHARDS: usize = 1 << COMMAND_SHARD_BITS;

/// The command spans indexed since open, in [`COMMAND_SHARDS`] hash maps picked by the
/// key's top bits (the keys are hashes already). A `HashMap` that outgrows its table
/// moves every entry it holds, and it does so under the index lock in the middle of a
/// group commit: one map held the flusher for 19 ms when it doubled at 229,376
/// commands and for 133 ms at 1.8 million (docs/PERFORMANCE.md, "The command index
/// grows in shards"). A shard holds a thousandth of the commands, so its growth moves a
/// thousandth of them, and the shards grow at different commits.
#[derive(Debug)]
struct RecentCommands {
    shards: Box<[HashMap<u128, CommandSpan>]>,
}

impl Default for RecentCommands {
    fn default() -> RecentCommands {
        RecentCommands {
            shards: (0..COMMAND_SHARDS).map(|_| HashMap::new()).collect(),
        }
    }
}

impl RecentCommands {
    fn shard(key: u128) -> usize {
        top_bits(key, COMMAND_SHARD_BITS)
    }

    fn get(&self, key: u128) -> Option<CommandSpan> {
        self.shards[Self::shard(key)].get(&key).copied()
    }

    fn insert(&mut self, key: u128, span: CommandSpan) {
        self.shards[Self::shard(key)].insert(key, span);
    }

    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = (u128, CommandSpan)> + '_ {
        self.shards
            .iter()
            .flat_map(|shard| shard.iter().map(|(key, span)| (*key, *span)))
    }
}

/// Shards of [`Streams`].
const STREAM_SHARDS: usize = 64;

/// Each stream's positions, in [`STREAM_SHARDS`] hash maps picked by a hash of the
/// stream's name: a checkpoint copies them a shard at a time, so that a commit waits
/// for one shard's copy at most, not for all ten million positions (decision 0030).
#[derive(Debug)]
struct Streams {
    shards: Box<[HashMap<StreamName, Vec<u64>>]>,
}

impl Default for Streams {
    fn default() -> Streams {
        Streams {
            shards: (0..STREAM_SHARDS).map(|_| HashMap::new()).collect(),
        }
    }
}

impl Streams {
    /// A fixed hash (not the maps' per-process seed): the shard is only where to look.
    fn shard(stream: &str) -> usize {
        use std::hash::BuildHasher as _;
        let hash = foldhash::fast::FixedState::default().hash_one(stream);
        usize::try_from(hash % STREAM_SHARDS as u64).expect("less than STREAM_SHARDS")
    }

    fn get(&self, stream: &str) -> Option<&Vec<u64>> {
        self.shards[Self::shard(stream)].get(stream)
    }

    fn get_mut(&mut self, stream: &str) -> Option<&mut Vec<u64>> {
        self.shards[Self::shard(stream)].get_mut(stream)
    }

    /// Adds `position` as the stream's next event (creating the stream); returns the
    /// number of events the stream held before, the new event's stream version.
    fn push(&mut self, stream: &str, position: u64) -> usize {
        let shard = &mut self.shards[Self::shard(stream)];
        // Look up before inserting: naming the stream only for a new stream keeps an
        // allocation per event off the publish path.
        let positions = match shard.get_mut(stream) {
            Some(positions) => positions,
            None => shard.entry(StreamName::from_checked(stream)).or_default(),
        };
        positions.push(position);
        positions.len() - 1
    }

    fn insert(&mut self, stream: StreamName, positions: Vec<u64>) {
        self.shards[Self::shard(stream.as_str())].insert(stream, positions);
    }
}

impl Index {
    fn command(&self, key: u128) -> Option<CommandSpan> {
        self.commands
            .get(key)
            .or_else(|| self.checkpointed.get(key))
    }

    fn stream_version(&self, stream: &str) -> Option<u64> {
        self.streams
            .get(stream)
            .map(|positions| u64::try_from(positions.len()).expect("len fits u64") - 1)
    }

    fn add(&mut self, event: &EventPlacement) {
        let version = self.streams.push(event.stream.as_str(), event.position);
        assert_eq!(
            u64::try_from(version).expect("len fits u64"),
            event.stream_version,
            "stream versions are contiguous"
        );
        assert_eq!(
            event.position, self.next_position,
            "positions are indexed in order"
        );
        self.next_position += 1;
        if event.command_event_index == 0 {
            self.commands.insert(
                event.command_key,
                CommandSpan {
                    first_position: event.position,
                    count: event.command_event_count,
                },
            );
        }
    }

    /// Adds what an open decoded after the index checkpoint this index holds (or from
    /// position 0, to an empty index). Each tail stream's first version must follow the
    /// checkpoint's last; if some do not, the error names the earliest such event, and
    /// the index is left part-joined (the open fails). A long tail's commands join the
    /// sorted ones in one sort and merge, in place ([`merge_commands_in_place`]): for a
    /// long tail that costs less than a hash insert per command, each a cache miss into
    /// a growing table (a full rebuild of the index of 11.75 million events took 16.6 s
    /// instead of 24.4; docs/PERFORMANCE.md, "Opening after a crash"). A short tail's go
    /// into the hash maps.
    fn join(&mut self, tail: Tail) -> Result<(), (u64, String)> {
        let mut misplaced = tail.misplaced;
        for (stream, joining) in tail.streams {
            let first = joining.positions[0];
            let joined = self.streams.get_mut(stream.as_str());
            let next = joined.as_ref().map_or(0, |positions| positions.len()) as u64;
            if joining.first_version != next {
                let why = version_error(joining.first_version, stream.as_str(), next);
                keep_earliest(&mut misplaced, (first, why));
                continue;
            }
            match joined {
                Some(positions) => positions.extend_from_slice(&joining.positions),
                None => self.streams.insert(stream, joining.positions),
            }
        }
        if let Some(misplaced) = misplaced {
            return Err(misplaced);
        }
        let long = long_tail(self.next_position, tail.next_position);
        self.next_position = tail.next_position;
        let runs = [tail.commands, tail.later_commands];
        if !long {
            for (key, span) in runs.into_iter().flatten() {
                self.commands.insert(key, span);
            }
            return Ok(());
        }
        let merged = match Arc::get_mut(&mut self.checkpointed) {
            Some(sorted) => merge_commands_in_place(std::mem::take(&mut sorted.spans), runs),
            None => merge_commands(&self.checkpointed, runs.concat()),
        };
        self.checkpointed = Arc::new(SortedCommands::new(merged));
        Ok(())
    }
}

/// Where an event of a group being committed sits: what the in-memory indexes keep of
/// it.
struct EventPlacement {
    position: u64,
    stream: StreamName,
    stream_version: u64,
    command_key: u128,
    command_event_index: u32,
    command_event_count: u32,
}

/// What [`Log::open`] reads before it holds the backend.
struct Opened {
    algorithm: HashAlgorithm,
    head: Head,
    index: Index,
    opened_from_checkpoint: Option<u64>,
}

/// What an open decoded after the index checkpoint (or from position 0), gathered
/// apart from the index so that the checkpoint can be decoded meanwhile on another
/// thread ([`Log::open`]); [`Index::join`] then adds it. The records were checked as
/// they were read: positions, links to the stored hash before, whole commands, and
/// each stream's versions counting up from the first the tail holds (whether that one
/// follows the checkpoint's is for the join).
#[derive(Default)]
struct Tail {
    /// One past the last position decoded.
    next_position: u64,
    streams: HashMap<StreamName, TailStream>,
    /// The spans of the commands that start in the tail; a tail decoded in two
    /// pieces sorts each piece's by key on its own thread ([`Log::decode_tail_split`]).
    commands: Vec<(u128, CommandSpan)>,
    /// Those of a later piece ([`Tail::then`]): the two runs are each sorted and merged
    /// into the checkpoint's at once ([`Index::join`]), not first into one another.
    later_commands: Vec<(u128, CommandSpan)>,
    /// The earliest event of a later piece that did not follow this tail's version of
    /// its stream ([`Tail::then`]), with why.
    misplaced: Option<(u64, String)>,
}

/// What [`Log::decode_piece`] gathered: the tail, the fault it stopped at, if any, and,
/// where it stopped before the head to leave the rest to another piece, the position
/// that piece starts at and the stored hash of the record before it.
struct TailPiece {
    tail: Tail,
    fault: Option<StoreError>,
    stopped_at: Option<(u64, [u8; 32])>,
}

/// Tails of at least this many records are decoded in two pieces, on two threads
/// ([`Log::decode_tail`]).
const TAIL_PIECES_FROM: u64 = 65_536;

/// A stream's events in a [`Tail`].
struct TailStream {
    /// The version its first event in the tail claims.
    first_version: u64,
    positions: Vec<u64>,
}

impl TailStream {
    fn next_version(&self) -> u64 {
        self.first_version + self.positions.len() as u64
    }

    /// Whether `event` is this stream's next event by its version.
    fn continued_by(&self, event: &RecordView<'_>) -> Result<(), String> {
        let next = self.next_version();
        if event.stream_version == next {
            Ok(())
        } else {
            Err(version_error(event.stream_version, event.stream, next))
        }
    }
}

/// Keeps in `earliest` whichever of it and `candidate` names the earlier position.
fn keep_earliest(earliest: &mut Option<(u64, String)>, candidate: (u64, String)) {
    if earliest.as_ref().is_none_or(|(at, _)| candidate.0 < *at) {
        *earliest = Some(candidate);
    }
}

impl Tail {
    /// Whether the record at `event.position` continues its stream's versions within
    /// the tail, without adding it.
    fn follows(&self, event: &RecordView<'_>) -> Result<(), String> {
        self.streams
            .get(event.stream)
            .map_or(Ok(()), |stream| stream.continued_by(event))
    }

    /// Adds the record at `event.position`, which must continue its stream's versions
    /// within the tail.
    fn add(&mut self, event: &RecordView<'_>) -> Result<(), String> {
        match self.streams.get_mut(event.stream) {
            Some(stream) => {
                stream.continued_by(event)?;
                stream.positions.push(event.position);
            }
            None => {
                self.streams.insert(
                    StreamName::from_checked(event.stream),
                    TailStream {
                        first_version: event.stream_version,
                        positions: vec![event.position],
                    },
                );
            }
        }
        if event.command_event_index == 0 {
            self.commands.push((
                command_key_of(event.command_id),
                CommandSpan {
                    first_position: event.position,
                    count: event.command_event_count,
                },
            ));
        }
        self.next_position = event.position + 1;
        Ok(())
    }

    fn sort_commands(&mut self) {
        self.commands.sort_unstable_by_key(|(key, _)| *key);
    }

    /// Adds `later`, the tail decoded from where this one ends (one piece: it has no
    /// later commands of its own). Each of its streams that this tail holds must
    /// continue this tail's versions; the earliest event that does not is kept as
    /// [`Tail::misplaced`] (and its stream's later events are left out), as decoding
    /// the two in one piece would have stopped there.
    fn then(&mut self, later: Tail) {
        debug_assert!(self.later_commands.is_empty() && later.later_commands.is_empty());
        for (stream, joining) in later.streams {
            match self.streams.get_mut(stream.as_str()) {
                Some(held) => {
                    let first = joining.positions[0];
                    let next = held.next_version();
                    if joining.first_version == next {
                        held.positions.extend_from_slice(&joining.positions);
                    } else {
                        let why = version_error(joining.first_version, stream.as_str(), next);
                        keep_earliest(&mut self.misplaced, (first, why));
                    }
                }
                None => {
                    self.streams.insert(stream, joining);
                }
            }
        }
        self.later_commands = later.commands;
        self.next_position = later.next_position;
        if let Some(misplaced) = later.misplaced {
            keep_earliest(&mut self.misplaced, misplaced);
        }
    }
}

/// Why a record cannot be at its place in its stream.
fn version_error(claimed: u64, stream: &str, next: u64) -> String {
    format!("it claims version {claimed} of stream {stream}, which is at version {next} next")
}

/// An open whose tail after the index checkpoint holds more than the checkpoint's
/// events divided by this sorts the tail's command keys into the checkpoint's; a
/// shorter tail is inserted into the hash maps ([`Log::open`]).
const SORTED_TAIL_DIVISOR: u64 = 8;

/// Whether the records from `checkpoint` to `head` are a long tail, whose commands an
/// open sorts into the checkpoint's (see [`SORTED_TAIL_DIVISOR`]).
fn long_tail(checkpoint: u64, head: u64) -> bool {
    head.saturating_sub(checkpoint) > checkpoint / SORTED_TAIL_DIVISOR
}

/// The snapshot name under which the index checkpoint is stored.
pub const INDEX_CHECKPOINT: &str = "store-index";

/// The id whose command key an index checkpoint records, to detect a changed key function.
const COMMAND_KEY_PROBE: &str = "welfare-ledger-command-key-probe";

/// Pieces of the index a checkpoint copies under one hold of the index lock: one
/// shard of streams (about a sixty-fourth of the positions), or this many shards of
/// recent commands.
const COMMAND_SHARDS_PER_PIECE: usize = 16;

/// The checkpoint of the index in `lock` as it stood at the first moment of the copy,
/// copied out a piece at a time (decision 0030): commits, which hold the lock to add
/// their group, wait for one piece at most. The index only grows, a group at a time
/// (its streams' positions and its commands' first positions all come after what it
/// held before), so what the copy takes from a piece is exactly what has a position
/// before that first moment's `next_position`. `head_hash` gives the stored hash of
/// the record before a position. Sorting and merging the command keys, and encoding,
/// hold nothing.
fn checkpoint_in_pieces(
    lock: &RwLock<Index>,
    head_hash: impl FnOnce(u64) -> Result<[u8; 32], StoreError>,
) -> Result<codec::IndexCheckpoint, StoreError> {
    let read = || lock.read().expect("index lock poisoned");
    let (next_position, checkpointed) = {
        let index = read();
        (index.next_position, Arc::clone(&index.checkpointed))
    };
    let head_hash = head_hash(next_position)?;
    let mut recent = Vec::new();
    for first in (0..COMMAND_SHARDS).step_by(COMMAND_SHARDS_PER_PIECE) {
        let index = read();
        for shard in &index.commands.shards[first..first + COMMAND_SHARDS_PER_PIECE] {
            recent.extend(
                shard
                    .iter()
                    .filter(|(_, span)| span.first_position < next_position)
                    .map(|(key, span)| (*key, *span)),
            );
        }
    }
    let mut streams = Vec::new();
    for shard in 0..STREAM_SHARDS {
        let index = read();
        for (name, positions) in &index.streams.shards[shard] {
            let before = positions.partition_point(|&p| p < next_position);
            if before > 0 {
                streams.push((name.as_str().to_owned(), positions[..before].to_vec()));
            }
        }
    }
    Ok(codec::IndexCheckpoint {
        next_position,
        head_hash,
        command_key_probe: probe_key(),
        streams,
        commands: merge_commands(&checkpointed, recent)
            .into_iter()
            .map(|(key, span)| (key, span.first_position, span.count))
            .collect(),
    })
}

/// The checkpointed command spans and the recent ones (in any order), sorted by key; a
/// key in both (a collision, confirmed by reading the records anyway) keeps the
/// recent span, as a lookup would.
fn merge_commands(
    checkpointed: &SortedCommands,
    mut recent: Vec<(u128, CommandSpan)>,
) -> Vec<(u128, CommandSpan)> {
    recent.sort_unstable_by_key(|(key, _)| *key);
    let mut commands = Vec::with_capacity(checkpointed.len() + recent.len());
    let (mut old, mut new) = (checkpointed.iter().peekable(), recent.iter().peekable());
    loop {
        let next = match (old.peek(), new.peek()) {
            (Some(o), Some(n)) if o.0 < n.0 => old.next(),
            (Some(o), Some(n)) if o.0 == n.0 => {
                old.next();
                new.next()
            }
            (Some(_), Some(_)) | (None, Some(_)) => new.next(),
            (Some(_), None) => old.next(),
            (None, None) => break,
        };
        commands.push(*next.expect("peeked"));
    }
    commands
}

/// [`merge_commands`] into `spans` itself (sorted by key), from the back: when the
/// vector has room for the recent commands (an open reserves it: see
/// [`codec::decode_index_checkpoint_with_room`]), no key is copied to a second one,
/// except those a merge in halves moves aside. The recent commands come in two runs, a
/// tail's pieces ([`Tail::then`]), each sorted here (a piece's already is: the sort
/// then only checks it); a key in both keeps both spans, the earlier run's first.
///
/// A long tail's merge is split at the middle key of its longer run into two merges,
/// one per core: the keys below it end in `spans[..split]` and the rest after. The
/// lower merge writes over the old keys at `spans[lower_old..split]` (about half the
/// recent count), which belong to the upper one, so those are copied aside first.
fn merge_commands_in_place(
    spans: Vec<(u128, CommandSpan)>,
    runs: [Vec<(u128, CommandSpan)>; 2],
) -> Vec<(u128, CommandSpan)> {
    merge_commands_in_place_in_halves(spans, runs, MERGE_IN_HALVES_FROM)
}

/// The fewest recent commands a merge takes two threads for: below it a thread would
/// cost more than it saves.
const MERGE_IN_HALVES_FROM: usize = 1 << 16;

/// [`merge_commands_in_place`], on two threads once the runs hold `halves_from` keys.
fn merge_commands_in_place_in_halves(
    mut spans: Vec<(u128, CommandSpan)>,
    mut runs: [Vec<(u128, CommandSpan)>; 2],
    halves_from: usize,
) -> Vec<(u128, CommandSpan)> {
    for run in &mut runs {
        run.sort_unstable_by_key(|(key, _)| *key);
    }
    let [earlier, later] = &runs;
    let recent = earlier.len() + later.len();
    let old = spans.len();
    let empty = CommandSpan {
        first_position: 0,
        count: 0,
    };
    spans.resize(old + recent, (0, empty));
    if recent < halves_from.max(1) {
        let (start, in_both) = merge_back(&mut spans, &[], old, [earlier, later]);
        spans.drain(start..start + in_both);
        return spans;
    }
    let longer = if earlier.len() >= later.len() {
        earlier
    } else {
        later
    };
    let pivot = longer[longer.len() / 2].0;
    let below = |run: &[(u128, CommandSpan)]| run.partition_point(|(key, _)| *key < pivot);
    let (earlier_low, earlier_high) = earlier.split_at(below(earlier));
    let (later_low, later_high) = later.split_at(below(later));
    let lower_old = below(&spans[..old]);
    let split = lower_old + earlier_low.len() + later_low.len();
    let aside = spans[lower_old..split.min(old)].to_vec();
    let (lower, upper) = spans.split_at_mut(split);
    let upper_in_place = old.saturating_sub(split);
    let ((low_start, low_in_both), (high_start, high_in_both)) = std::thread::scope(|scope| {
        let high = std::thread::Builder::new()
            .name("command keys".into())
            .spawn_scoped(scope, || {
                merge_back(upper, &aside, upper_in_place, [earlier_high, later_high])
            });
        let low = merge_back(lower, &[], lower_old, [earlier_low, later_low]);
        let high = high
            .expect("cannot start a thread to merge command keys")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (low, high)
    });
    // Keys found in both (a collision of command keys) left free slots: the upper
    // half's first, so that the lower half's stay where they are.
    spans.drain(split + high_start..split + high_start + high_in_both);
    spans.drain(low_start..low_start + low_in_both);
    spans
}

/// Merges the sorted old keys (`aside`, then `dest[..in_place]`) and the two sorted
/// runs of `recent` ones into `dest`, from the back; `dest` is as long as all of them.
/// A key among the old and the recent ones keeps the recent span and leaves one slot
/// free: the free slots are `dest[start..start + in_both]`, returned as
/// `(start, in_both)`.
fn merge_back(
    dest: &mut [(u128, CommandSpan)],
    aside: &[(u128, CommandSpan)],
    in_place: usize,
    [mut earlier, mut later]: [&[(u128, CommandSpan)]; 2],
) -> (usize, usize) {
    debug_assert_eq!(
        dest.len(),
        aside.len() + in_place + earlier.len() + later.len()
    );
    let before = aside.len();
    // The old key at `at`, counting `aside` first: moving from the back, an old key is
    // read before its slot is written (the free slots only ever lie ahead of `write`).
    let old_at = |dest: &[(u128, CommandSpan)], at: usize| {
        if at < before {
            aside[at]
        } else {
            dest[at - before]
        }
    };
    // The recent keys from the greatest down: on a tie the later run's first, so that
    // the earlier run's ends up before it.
    let mut next_recent = || {
        let run = match (earlier.last(), later.last()) {
            (Some(e), Some(l)) if e.0 > l.0 => &mut earlier,
            (_, Some(_)) => &mut later,
            (Some(_), None) => &mut earlier,
            (None, None) => return None,
        };
        let (&last, rest) = run.split_last()?;
        *run = rest;
        Some(last)
    };
    // `unmoved` old keys are not yet moved; `dest[write..]` is merged.
    let (mut unmoved, mut write, mut in_both) = (before + in_place, dest.len(), 0);
    while let Some((key, span)) = next_recent() {
        while unmoved > 0 && old_at(dest, unmoved - 1).0 > key {
            unmoved -= 1;
            write -= 1;
            dest[write] = old_at(dest, unmoved);
        }
        if unmoved > 0 && old_at(dest, unmoved - 1).0 == key {
            // The recent span replaces the old one, as a lookup would find it.
            unmoved -= 1;
            in_both += 1;
        }
        write -= 1;
        dest[write] = (key, span);
    }
    // The old keys below every recent one are in place, unless some are aside.
    if before > 0 {
        while unmoved > 0 {
            unmoved -= 1;
            write -= 1;
            dest[write] = old_at(dest, unmoved);
        }
    }
    debug_assert_eq!(write, unmoved + in_both);
    (unmoved, in_both)
}

impl Index {
    /// The index a checkpoint holds, if it is whole and was written with the same
    /// command keys (no check against the log yet: see `Log::proven_checkpoint`).
    fn from_checkpoint(checkpoint: codec::IndexCheckpoint) -> Option<Index> {
        if checkpoint.command_key_probe != probe_key() {
            return None;
        }
        let mut streams = Streams::default();
        let mut indexed = 0u64;
        for (name, positions) in checkpoint.streams {
            indexed += positions.len() as u64;
            streams.insert(StreamName::new(name).ok()?, positions);
        }
        let sorted = checkpoint.commands.windows(2).all(|w| w[0].0 < w[1].0);
        let checkpointed: Vec<(u128, CommandSpan)> = checkpoint
            .commands
            .into_iter()
            .map(|(key, first_position, count)| {
                (
                    key,
                    CommandSpan {
                        first_position,
                        count,
                    },
                )
            })
            .collect();
        // Every event is in exactly one stream; lookups need the keys in order.
        (sorted && indexed == checkpoint.next_position).then(|| Index {
            next_position: checkpoint.next_position,
            streams,
            commands: RecentCommands::default(),
            checkpointed: Arc::new(SortedCommands::new(checkpointed)),
        })
    }
}

fn probe_key() -> u128 {
    command_key(&CommandId::new(COMMAND_KEY_PROBE).expect("the probe is a valid command id"))
}

fn command_key(id: &CommandId) -> u128 {
    command_key_of(id.as_str())
}

/// [`command_key`] of a command id's text.
fn command_key_of(id: &str) -> u128 {
    // Two SipHash passes with fixed, different keys. The map lives only in memory, so
    // the hash need not be stable across Rust versions.
    let mut low = std::hash::DefaultHasher::new();
    0u8.hash(&mut low);
    id.hash(&mut low);
    let mut high = std::hash::DefaultHasher::new();
    1u8.hash(&mut high);
    id.hash(&mut high);
    (u128::from(high.finish()) << 64) | u128::from(low.finish())
}

struct WriterState {
    /// The head after every prepared group, durable or not.
    head: Head,
    next_sequence: u64,
    /// Groups prepared but not yet committed, oldest first.
    in_flight: VecDeque<Arc<Overlay>>,
    /// Set after a failed write or flush: from then on the log refuses writes.
    poisoned: Option<String>,
}

/// The stored values of the latest committed groups, in position order up to the
/// committed head, at most [`RECENT_RECORDS_BYTES_MAX`] bytes of them. A subscription
/// page that lies among them (a follower such as the engine's projector, close behind
/// the head) is answered from memory: faster, and still possible after a failed write
/// has made the backend refuse reads too (sled does, until it is reopened). Other
/// reads (exports, lookups) always read the backend, the bytes on disk.
/// Where a read takes records from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The backend: what an export, `verify` or a lookup must see, the bytes on disk.
    Storage,
    /// The latest committed records in memory if they cover the read, else the
    /// backend: for subscriptions, which follow close behind the head.
    RecentOrStorage,
}

/// A committed group's first position and stored values.
type RecentGroup = (u64, Arc<Vec<Vec<u8>>>);

#[derive(Default)]
struct RecentRecords {
    /// Each group's first position and stored values, oldest first, contiguous.
    groups: VecDeque<RecentGroup>,
    bytes: usize,
}

impl RecentRecords {
    fn push(&mut self, first_position: u64, records: Arc<Vec<Vec<u8>>>) {
        let end = self
            .groups
            .back()
            .map(|(first, records)| first + records.len() as u64);
        if end.is_some_and(|end| end != first_position) {
            // Not contiguous (cannot happen: groups commit in order): start afresh.
            self.groups.clear();
            self.bytes = 0;
        }
        self.bytes += records.iter().map(Vec::len).sum::<usize>();
        self.groups.push_back((first_position, records));
        while self.bytes > RECENT_RECORDS_BYTES_MAX && self.groups.len() > 1 {
            let (_, old) = self.groups.pop_front().expect("more than one group");
            self.bytes -= old.iter().map(Vec::len).sum::<usize>();
        }
    }

    /// The groups that hold positions `from..to`, if all of them are here. The groups
    /// are contiguous and in order, so the first is found by a binary search: a
    /// subscriber close behind the head asks for a page per group committed, and the
    /// queue holds hundreds of groups.
    fn covering(&self, from: u64, to: u64) -> Option<Vec<RecentGroup>> {
        let (first, _) = self.groups.front()?;
        let (last_first, last) = self.groups.back()?;
        if from < *first || to > last_first + last.len() as u64 {
            return None;
        }
        let start = self
            .groups
            .partition_point(|(first, records)| first + records.len() as u64 <= from);
        Some(
            self.groups
                .range(start..)
                .take_while(|(first, _)| *first < to)
                .cloned()
                .collect(),
        )
    }
}

struct Inner<B> {
    backend: B,
    recent: RwLock<RecentRecords>,
    algorithm: HashAlgorithm,
    clock: Arc<dyn Clock>,
    index: RwLock<Index>,
    writer: Mutex<WriterState>,
    /// Signalled when a group is committed, for the group whose turn is next.
    writer_turn: Condvar,
    /// The durable head that readers may see, with a condition variable for subscribers.
    committed: Mutex<Head>,
    committed_changed: Condvar,
    /// Set by [`Log::wake_subscribers`]: waiting subscriptions return at once.
    waking: std::sync::atomic::AtomicBool,
    /// Where open started decoding records: the index checkpoint's position, if one was used.
    opened_from_checkpoint: Option<u64>,
}

/// An append-only event log over a [`Backend`]. Cheap to clone; clones share the log.
pub struct Log<B: Backend> {
    inner: Arc<Inner<B>>,
}

impl<B: Backend> Clone for Log<B> {
    fn clone(&self) -> Self {
        Log {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<B: Backend> std::fmt::Debug for Log<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("algorithm", &self.inner.algorithm)
            .field("head", &self.head())
            .finish_non_exhaustive()
    }
}

/// The first record that failed verification, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub position: u64,
    pub problem: String,
}

/// The result of recomputing the chain from position 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub algorithm: HashAlgorithm,
    /// Records checked before the first break (all of them when intact).
    pub events_checked: u64,
    pub head: Head,
    pub first_break: Option<ChainBreak>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Called with each record's position and stored value; an `Err` names the problem.
type RecordVisitor<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// One planned outcome inside a group, before the group is durable.
enum Planned {
    /// New events, durable only if the group's write and flush succeed.
    New(Appended),
    /// A retry of a command already durable: the original positions.
    DuplicateOfDurable(Appended),
    /// A retry of a command in this group or in an earlier group that is not durable
    /// yet: it stands or falls with that group.
    DuplicatePending(Appended),
    Rejected(AppendError),
}

/// What a prepared group will change once durable: later groups plan against it
/// (stream versions, commands) until it is published to the index.
struct Overlay {
    sequence: u64,
    batches: Arc<[AppendBatch]>,
    /// Stream versions as they will be after this group.
    stream_versions: HashMap<StreamName, u64>,
    /// Commands this group appends: span and the index of the batch that holds them.
    commands: HashMap<u128, (CommandSpan, usize)>,
    placements: Vec<EventPlacement>,
    /// The head after this group.
    head: Head,
    first_position: u64,
    records: Vec<Vec<u8>>,
    /// The records once written, kept for the recent records when committed.
    written: Arc<Vec<Vec<u8>>>,
}

/// A group of appends whose records have been written but not yet made durable.
/// Pass it to [`Log::commit_prepared`]; groups must be committed in the order they
/// were prepared, and every prepared group must be committed.
#[must_use = "a prepared group must be committed, or later groups wait forever"]
pub struct PreparedGroup {
    sequence: u64,
    planned: Vec<Planned>,
    has_records: bool,
    /// The write failed: the group fails, and the log is poisoned.
    write_error: Option<StoreError>,
}

impl std::fmt::Debug for PreparedGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedGroup")
            .field("sequence", &self.sequence)
            .field("batches", &self.planned.len())
            .field("has_records", &self.has_records)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Log<B> {
    /// Creates a new, empty ledger in `backend`, with `algorithm` for its hash chain.
    pub fn create(
        backend: B,
        algorithm: HashAlgorithm,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        if backend.read_header()?.is_some() {
            return Err(StoreError::AlreadyExists {
                path: "this backend".into(),
            });
        }
        let header = Header {
            format_version: FORMAT_VERSION,
            hash_algorithm: algorithm,
            created_at_ms: clock.now_ms(),
        };
        backend.write_header(&codec::encode_header(&header))?;
        Self::open(backend, Some(algorithm), clock)
    }

    /// Opens an existing ledger. Checks the header, the head marker and the chain's
    /// tail, and rebuilds the in-memory indexes from the records. `algorithm`, when
    /// given, must match the one the ledger was created with.
    pub fn open(
        backend: B,
        algorithm: Option<HashAlgorithm>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let opened = Self::read_for_open(&backend, algorithm)?;
        Ok(Self::opened(backend, clock, opened))
    }

    /// [`Log::open`], while `alongside` runs on another thread with the backend: a
    /// caller that needs more than the log from it (the engine loads its projections'
    /// checkpoints; decision 0032) need not wait for the open, which is mostly one
    /// thread decoding the records after the index checkpoint.
    pub fn open_alongside<T: Send>(
        backend: B,
        algorithm: Option<HashAlgorithm>,
        clock: Arc<dyn Clock>,
        alongside: impl FnOnce(&B) -> T + Send,
    ) -> Result<(Self, T), StoreError> {
        let (opened, beside) = std::thread::scope(|scope| {
            let beside = scope.spawn(|| alongside(&backend));
            let opened = Self::read_for_open(&backend, algorithm);
            let beside = beside
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (opened, beside)
        });
        Ok((Self::opened(backend, clock, opened?), beside))
    }

    /// What an open reads: the header, the head and the indexes.
    fn read_for_open(backend: &B, algorithm: Option<HashAlgorithm>) -> Result<Opened, StoreError> {
        let header = Self::read_header(backend)?;
        if let Some(requested) = algorithm {
            if requested != header.hash_algorithm {
                return Err(StoreError::HashAlgorithmMismatch {
                    found: header.hash_algorithm,
                    requested,
                });
            }
        }
        let head = Self::check_head(backend, header.hash_algorithm)?;
        let (index, opened_from_checkpoint) =
            Self::open_index(backend, header.hash_algorithm, head)?;
        Ok(Opened {
            algorithm: header.hash_algorithm,
            head,
            index,
            opened_from_checkpoint,
        })
    }

    fn opened(backend: B, clock: Arc<dyn Clock>, opened: Opened) -> Self {
        let Opened {
            algorithm,
            head,
            index,
            opened_from_checkpoint,
        } = opened;
        Log {
            inner: Arc::new(Inner {
                backend,
                recent: RwLock::new(RecentRecords::default()),
                algorithm,
                clock,
                index: RwLock::new(index),
                writer: Mutex::new(WriterState {
                    head,
                    next_sequence: 0,
                    in_flight: VecDeque::new(),
                    poisoned: None,
                }),
                writer_turn: Condvar::new(),
                committed: Mutex::new(head),
                committed_changed: Condvar::new(),
                waking: std::sync::atomic::AtomicBool::new(false),
                opened_from_checkpoint,
            }),
        }
    }

    /// The stored header, refusing a missing, damaged, newer or unknown one.
    fn read_header(backend: &B) -> Result<Header, StoreError> {
        let bytes = backend
            .read_header()?
            .ok_or_else(|| StoreError::NotALedger {
                path: "this backend".into(),
            })?;
        let header = codec::decode_header(&bytes).map_err(|e| StoreError::Corruption {
            position: None,
            what: format!("header: {e}"),
        })?;
        Self::check_format_version(header.format_version)?;
        Ok(header)
    }

    /// The stored head marker, or the empty log's head if none has been written.
    fn read_head_marker(backend: &B) -> Result<Head, StoreError> {
        match backend.read_head()? {
            Some(bytes) => codec::decode_head(&bytes)
                .map(|marker| Head {
                    next_position: marker.next_position,
                    hash: marker.hash,
                })
                .map_err(|e| StoreError::Corruption {
                    position: None,
                    what: format!("head marker: {e}"),
                }),
            None => Ok(Head {
                next_position: 0,
                hash: GENESIS_HASH,
            }),
        }
    }

    /// Refuses a newer format (upgrade the program) and an unknown older one. A ledger of
    /// an older known format stays in it: it is read and written as that version.
    fn check_format_version(found: u16) -> Result<(), StoreError> {
        if found > FORMAT_VERSION {
            return Err(StoreError::NewerFormat {
                found,
                supported: FORMAT_VERSION,
            });
        }
        if found < FORMAT_VERSION_OLDEST {
            return Err(StoreError::Corruption {
                position: None,
                what: format!("unknown format version {found}"),
            });
        }
        Ok(())
    }

    /// Reads the head marker and checks it against the last stored record.
    fn check_head(backend: &B, algorithm: HashAlgorithm) -> Result<Head, StoreError> {
        let marker = Self::read_head_marker(backend)?;
        let last = backend.last_position()?;
        let expected_last = marker.next_position.checked_sub(1);
        if last != expected_last {
            return Err(StoreError::Corruption {
                position: last.or(expected_last),
                what: format!(
                    "the head marker says the log holds {} events, but the last stored record is at {}",
                    marker.next_position,
                    last.map_or_else(|| "no position (the log is empty)".into(), |p| p.to_string())
                ),
            });
        }
        if let Some(position) = expected_last {
            let value = backend
                .read(position)?
                .ok_or_else(|| StoreError::Corruption {
                    position: Some(position),
                    what: "the last record is missing".into(),
                })?;
            let corrupt = |what: String| StoreError::Corruption {
                position: Some(position),
                what,
            };
            let (record, stored_hash) = codec::split_stored(&value).map_err(|e| corrupt(e.0))?;
            let event = codec::decode_record(record, stored_hash).map_err(|e| corrupt(e.0))?;
            let computed = algorithm.chain(&event.prev_hash, record);
            if computed != stored_hash || computed != marker.hash {
                return Err(corrupt(
                    "the last record's hash does not match the head marker: the tail was altered"
                        .into(),
                ));
            }
        }
        Ok(Head {
            next_position: marker.next_position,
            hash: marker.hash,
        })
    }

    /// The in-memory indexes of the records before `head`, and the position of the index
    /// checkpoint they started from, if any. A checkpoint is used only where the log
    /// proves it ([`Self::proven_checkpoint`]); anything else (no checkpoint, a damaged or
    /// foreign one, one beyond the head or of another history) means decoding every
    /// record: a checkpoint only ever saves work. The checkpoint, hundreds of megabytes
    /// at ten million events, is decoded on a thread of its own while this one decodes
    /// the records after it (decision 0032).
    fn open_index(
        backend: &B,
        algorithm: HashAlgorithm,
        head: Head,
    ) -> Result<(Index, Option<u64>), StoreError> {
        if let Some((stored, position, hash)) = Self::proven_checkpoint(backend, head) {
            // Room for a long tail's commands, which are merged into the checkpoint's in
            // place ([`Index::join`]).
            let room = if long_tail(position, head.next_position) {
                usize::try_from(head.next_position - position).unwrap_or(0)
            } else {
                0
            };
            let decode = move || Self::decode_checkpoint(&stored, position, room);
            let (checkpointed, tail) = std::thread::scope(|scope| {
                let decoding = std::thread::Builder::new()
                    .name("index checkpoint".into())
                    .spawn_scoped(scope, decode);
                let tail = Self::decode_tail(backend, position, hash, head);
                let checkpointed = decoding
                    .expect("cannot start a thread to decode the index checkpoint")
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (checkpointed, tail)
            });
            if let Some(mut index) = checkpointed {
                Self::join_tail(backend, algorithm, &mut index, tail)?;
                return Ok((index, Some(position)));
            }
        }
        let mut index = Index::default();
        let tail = Self::decode_tail(backend, 0, GENESIS_HASH, head);
        Self::join_tail(backend, algorithm, &mut index, tail)?;
        Ok((index, None))
    }

    /// The stored index checkpoint, the position it covers and the stored hash of the
    /// record before that position, if the log proves them: the position is within the
    /// durable log and the record stored before it has that hash. Reads only the
    /// checkpoint's first bytes; the rest is [`Self::decode_checkpoint`]'s.
    fn proven_checkpoint(backend: &B, head: Head) -> Option<(SnapshotBytes, u64, [u8; 32])> {
        let stored = backend.load_snapshot(INDEX_CHECKPOINT).ok()??;
        let (position, hash) = codec::index_checkpoint_start(&stored).ok()?;
        if position > head.next_position {
            return None;
        }
        let proven = match position.checked_sub(1) {
            None => hash == GENESIS_HASH,
            Some(last) => {
                let value = backend.read(last).ok()??;
                codec::split_stored(&value).ok()?.1 == hash
            }
        };
        proven.then_some((stored, position, hash))
    }

    /// The index a proven checkpoint holds, if it is whole (its checksum and layout) and
    /// was written with the same command keys; its commands' vector with `room` for more.
    fn decode_checkpoint(stored: &[u8], position: u64, room: usize) -> Option<Index> {
        let (stored_at, bytes) = codec::decode_snapshot(stored).ok()?;
        let checkpoint = codec::decode_index_checkpoint_with_room(bytes, room).ok()?;
        if stored_at != position || checkpoint.next_position != position {
            return None;
        }
        Index::from_checkpoint(checkpoint)
    }

    /// Decodes the records from `from` (the stored hash of the record before it being
    /// `prev_hash`) to the head in place, checking them as they are read (without
    /// rehashing): positions, links, whole commands, and stream versions within the
    /// tail. Returns what it gathered and, if it stopped at a fault, the fault. A tail
    /// of [`TAIL_PIECES_FROM`] records or more is decoded in two pieces, the later on a
    /// thread of its own, and gives what one piece gives, fault included.
    fn decode_tail(
        backend: &B,
        from: u64,
        prev_hash: [u8; 32],
        head: Head,
    ) -> (Tail, Option<StoreError>) {
        let records = head.next_position - from;
        let split = (records >= TAIL_PIECES_FROM).then(|| from + records / 2);
        Self::decode_tail_split(backend, from, prev_hash, head, split)
    }

    /// [`Self::decode_tail`], split at the first command that starts at or after
    /// `split`, if any. The earlier piece decodes up to that command's first record
    /// and checks it, as the record after its own, without taking it; the later piece
    /// finds the same record on a thread of its own and decodes from there to the
    /// head. A fault in the earlier piece comes first in the log, so it is the one
    /// returned; else the later piece is added ([`Tail::then`]) with its own. Where
    /// the later piece did not start where the earlier one stopped (it could not read
    /// its start), the earlier piece's thread decodes the rest.
    fn decode_tail_split(
        backend: &B,
        from: u64,
        prev_hash: [u8; 32],
        head: Head,
        split: Option<u64>,
    ) -> (Tail, Option<StoreError>) {
        let Some(split) = split.filter(|split| (from + 1..head.next_position).contains(split))
        else {
            let piece = Self::decode_piece(backend, from, prev_hash, head, None);
            return (piece.tail, piece.fault);
        };
        let (earlier, later) = std::thread::scope(|scope| {
            let later = std::thread::Builder::new()
                .name("log tail".into())
                .spawn_scoped(scope, || {
                    let (start, hash) = Self::first_command_from(backend, split, head)?;
                    let mut piece = Self::decode_piece(backend, start, hash, head, None);
                    piece.tail.sort_commands();
                    Some((start, piece))
                });
            let mut earlier = Self::decode_piece(backend, from, prev_hash, head, Some(split));
            earlier.tail.sort_commands();
            let later = later
                .expect("cannot start a thread to decode the log's tail")
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (earlier, later)
        });
        let TailPiece {
            mut tail,
            fault,
            stopped_at,
        } = earlier;
        let Some((start, hash)) = stopped_at.filter(|_| fault.is_none()) else {
            return (tail, fault);
        };
        let later = match later {
            Some((at, piece)) if at == start => piece,
            _ => Self::decode_piece(backend, start, hash, head, None),
        };
        tail.then(later.tail);
        (tail, later.fault)
    }

    /// The position of the first record at or after `from` that starts a command, and
    /// the stored hash of the record before it; `None` if there is none before the
    /// head or a record on the way cannot be read or decoded (the piece before it then
    /// finds the fault, or decodes on).
    fn first_command_from(backend: &B, from: u64, head: Head) -> Option<(u64, [u8; 32])> {
        let before = backend.read(from.checked_sub(1)?).ok()??;
        let mut hash = codec::split_stored(&before).ok()?.1;
        let mut found = None;
        backend
            .scan(
                from,
                head.next_position,
                &mut |position, value| match codec::decode_stored_view(value) {
                    Ok(event) if event.command_event_index == 0 => {
                        found = Some((position, hash));
                        ControlFlow::Break(())
                    }
                    Ok(event) => {
                        hash = event.hash;
                        ControlFlow::Continue(())
                    }
                    Err(_) => ControlFlow::Break(()),
                },
            )
            .ok()?;
        found
    }

    /// Decodes the records from `from` in place, checking them as it goes (see
    /// [`Self::decode_tail`]), to the head, or, given `stop`, to the first record at
    /// or after `stop` that starts a command: that record is checked as this piece's
    /// next but not taken, and the piece stops before it.
    fn decode_piece(
        backend: &B,
        from: u64,
        prev_hash: [u8; 32],
        head: Head,
        stop: Option<u64>,
    ) -> TailPiece {
        let mut checker = SequenceChecker::after(from, prev_hash);
        let mut tail = Tail {
            next_position: from,
            ..Tail::default()
        };
        let mut stopped_at = None;
        // Each record decoded in place, its event type, actor and memo checked where
        // they differ from the record before's: only a new stream's name is allocated.
        let mut texts = codec::EnvelopeTexts::default();
        let mut fault = None;
        let scanned = backend.scan(from, head.next_position, &mut |position, value| {
            let checked = codec::decode_stored_view_after(value, &mut texts)
                .map_err(|e| (position, e.0))
                .and_then(|event| {
                    let next_piece =
                        event.command_event_index == 0 && stop.is_some_and(|stop| position >= stop);
                    if next_piece {
                        checker.check(position, &event, |event| tail.follows(event))?;
                        stopped_at = Some((position, event.prev_hash));
                        return Ok(ControlFlow::Break(()));
                    }
                    checker.check(position, &event, |event| tail.add(event))?;
                    Ok(ControlFlow::Continue(()))
                });
            checked.unwrap_or_else(|at| {
                fault = Some(at);
                ControlFlow::Break(())
            })
        });
        let corruption = |(position, what)| StoreError::Corruption {
            position: Some(position),
            what,
        };
        let fault = match (scanned, fault) {
            (Err(e), _) => Some(e),
            (Ok(()), Some(at)) => Some(corruption(at)),
            (Ok(()), None) if stopped_at.is_some() => None,
            (Ok(()), None) => checker.finish(head.next_position).err().map(corruption),
        };
        TailPiece {
            tail,
            fault,
            stopped_at,
        }
    }

    /// Joins a decoded tail to `index` ([`Index::join`]). A stream version that does not
    /// follow the index's comes first in the log, before any fault the tail's decoding
    /// stopped at, so it is the one reported.
    fn join_tail(
        backend: &B,
        algorithm: HashAlgorithm,
        index: &mut Index,
        (tail, fault): (Tail, Option<StoreError>),
    ) -> Result<(), StoreError> {
        index
            .join(tail)
            .map_err(|(position, what)| StoreError::Corruption {
                position: Some(position),
                what,
            })?;
        match fault {
            Some(mut err) => {
                Self::blame_altered_predecessor(backend, algorithm, &mut err);
                Err(err)
            }
            None => Ok(()),
        }
    }

    /// A broken link between records p-1 and p is ambiguous without hashing: either
    /// p's prev_hash or p-1's stored hash was changed. Rehash p-1 to tell which.
    fn blame_altered_predecessor(backend: &B, algorithm: HashAlgorithm, err: &mut StoreError) {
        let StoreError::Corruption {
            position: Some(position),
            what,
        } = err
        else {
            return;
        };
        if *position == 0 || !what.starts_with("its prev_hash") {
            return;
        }
        let previous = *position - 1;
        let Ok(Some(value)) = backend.read(previous) else {
            return;
        };
        let Ok((record, stored_hash)) = codec::split_stored(&value) else {
            return;
        };
        let Ok(event) = codec::decode_record(record, stored_hash) else {
            return;
        };
        if algorithm.chain(&event.prev_hash, record) != stored_hash {
            *position = previous;
            *what = "its bytes do not hash to the stored hash: the record was altered".into();
        }
    }

    pub fn algorithm(&self) -> HashAlgorithm {
        self.inner.algorithm
    }

    pub fn backend(&self) -> &B {
        &self.inner.backend
    }

    /// The durable end of the log.
    pub fn head(&self) -> Head {
        *self
            .inner
            .committed
            .lock()
            .expect("committed lock poisoned")
    }

    /// The version of the stream's last event, or `None` if the stream does not exist.
    pub fn stream_version(&self, stream: &StreamName) -> Option<u64> {
        self.read_index().stream_version(stream.as_str())
    }

    /// Where a durable command's events are: its first position and event count.
    pub fn command_span(&self, command_id: &CommandId) -> Option<(u64, u32)> {
        self.read_index()
            .command(command_key(command_id))
            .map(|span| (span.first_position, span.count))
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.inner.index.read().expect("index lock poisoned")
    }

    /// Appends one command's events durably.
    pub fn append(&self, batch: AppendBatch) -> Result<Appended, AppendError> {
        self.append_group(vec![batch])
            .pop()
            .expect("one result per batch")
    }

    /// Appends several commands in one durable commit (one write, one flush) and
    /// returns one result per batch, in order. Each batch is accepted or rejected on
    /// its own; a rejected batch does not disturb the others. If the write or flush
    /// fails, every batch that would have added events fails and the log refuses
    /// further writes until reopened.
    pub fn append_group(&self, batches: Vec<AppendBatch>) -> Vec<Result<Appended, AppendError>> {
        let prepared = self.prepare_group(batches);
        self.commit_prepared(prepared)
    }

    /// First half of [`Log::append_group`]: decides every batch against the durable
    /// index and the groups prepared before it, and writes the accepted records
    /// without making them durable. Readers do not see them yet. A pipeline (see
    /// [`crate::GroupCommitter`]) prepares the next group while the previous one is
    /// being flushed.
    pub fn prepare_group(&self, batches: Vec<AppendBatch>) -> PreparedGroup {
        let batches: Arc<[AppendBatch]> = batches.into();
        let mut writer = self.inner.writer.lock().expect("writer lock poisoned");
        let sequence = writer.next_sequence;
        writer.next_sequence += 1;
        let mut overlay = Overlay {
            sequence,
            batches: Arc::clone(&batches),
            stream_versions: HashMap::new(),
            commands: HashMap::new(),
            placements: Vec::new(),
            head: writer.head,
            first_position: writer.head.next_position,
            records: Vec::new(),
            written: Arc::default(),
        };
        let planned: Vec<Planned> = match &writer.poisoned {
            Some(cause) => batches
                .iter()
                .map(|_| {
                    Planned::Rejected(AppendError::Store(StoreError::Poisoned {
                        cause: cause.clone(),
                    }))
                })
                .collect(),
            None => {
                let recorded_at_ms = self.inner.clock.now_ms();
                let index = self.read_index();
                batches
                    .iter()
                    .enumerate()
                    .map(|(i, batch)| {
                        self.plan_batch(
                            &index,
                            &writer.in_flight,
                            &mut overlay,
                            i,
                            batch,
                            recorded_at_ms,
                        )
                    })
                    .collect()
            }
        };
        let has_records = !overlay.records.is_empty();
        let mut write_error = None;
        if has_records {
            let marker = HeadMarker {
                next_position: overlay.head.next_position,
                hash: overlay.head.hash,
            };
            let records = std::mem::take(&mut overlay.records);
            match self.inner.backend.write(
                overlay.first_position,
                &records,
                &codec::encode_head(&marker),
            ) {
                Ok(()) => {
                    writer.head = overlay.head;
                    overlay.written = Arc::new(records);
                }
                Err(e) => {
                    writer.poisoned = Some(e.to_string());
                    write_error = Some(e);
                }
            }
        }
        writer.in_flight.push_back(Arc::new(overlay));
        PreparedGroup {
            sequence,
            planned,
            has_records,
            write_error,
        }
    }

    /// Second half of [`Log::append_group`]: makes the prepared group durable with
    /// one flush, publishes it to readers and returns one result per batch. Waits
    /// until every group prepared before it has been committed.
    pub fn commit_prepared(&self, prepared: PreparedGroup) -> Vec<Result<Appended, AppendError>> {
        let (overlay, poisoned) = {
            let mut writer = self.inner.writer.lock().expect("writer lock poisoned");
            while writer.in_flight.front().map(|o| o.sequence) != Some(prepared.sequence) {
                writer = self
                    .inner
                    .writer_turn
                    .wait(writer)
                    .expect("writer lock poisoned");
            }
            let overlay = Arc::clone(writer.in_flight.front().expect("checked above"));
            (overlay, writer.poisoned.clone())
        };
        // The flush runs without the writer lock, so the next group can be prepared
        // meanwhile.
        let outcome: Result<(), StoreError> = match (prepared.write_error, poisoned) {
            (Some(e), _) => Err(e),
            (None, Some(cause)) => Err(StoreError::Poisoned { cause }),
            (None, None) if prepared.has_records => self.inner.backend.flush(),
            (None, None) => Ok(()),
        };
        {
            let mut writer = self.inner.writer.lock().expect("writer lock poisoned");
            if outcome.is_ok() && prepared.has_records {
                let mut index = self.inner.index.write().expect("index lock poisoned");
                for placement in &overlay.placements {
                    index.add(placement);
                }
                drop(index);
                self.inner
                    .recent
                    .write()
                    .expect("recent records lock poisoned")
                    .push(overlay.first_position, Arc::clone(&overlay.written));
                *self
                    .inner
                    .committed
                    .lock()
                    .expect("committed lock poisoned") = overlay.head;
                self.inner.committed_changed.notify_all();
            }
            if let Err(e) = &outcome {
                if writer.poisoned.is_none() {
                    writer.poisoned = Some(e.to_string());
                }
            }
            writer.in_flight.pop_front();
            self.inner.writer_turn.notify_all();
        }
        match outcome {
            Ok(()) => prepared
                .planned
                .into_iter()
                .map(|p| match p {
                    Planned::New(a)
                    | Planned::DuplicateOfDurable(a)
                    | Planned::DuplicatePending(a) => Ok(a),
                    Planned::Rejected(e) => Err(e),
                })
                .collect(),
            Err(error) => {
                let cause = error.to_string();
                let mut error = Some(error);
                prepared
                    .planned
                    .into_iter()
                    .map(|p| match p {
                        Planned::DuplicateOfDurable(a) => Ok(a),
                        Planned::Rejected(e) => Err(e),
                        // The first caller gets the original error, the rest its text.
                        Planned::New(_) | Planned::DuplicatePending(_) => {
                            Err(AppendError::Store(error.take().unwrap_or_else(|| {
                                StoreError::Poisoned {
                                    cause: cause.clone(),
                                }
                            })))
                        }
                    })
                    .collect()
            }
        }
    }

    /// The current version of a stream as planned: this group, then groups still in
    /// flight (newest first), then the durable index.
    fn planned_stream_version(
        index: &Index,
        in_flight: &VecDeque<Arc<Overlay>>,
        overlay: &Overlay,
        stream: &StreamName,
    ) -> Option<u64> {
        overlay
            .stream_versions
            .get(stream)
            .or_else(|| {
                in_flight
                    .iter()
                    .rev()
                    .find_map(|o| o.stream_versions.get(stream))
            })
            .copied()
            .or_else(|| index.stream_version(stream.as_str()))
    }

    /// Decides one batch against the durable index and the groups planned before it,
    /// and adds its records to the overlay only if the whole batch is accepted.
    fn plan_batch(
        &self,
        index: &Index,
        in_flight: &VecDeque<Arc<Overlay>>,
        overlay: &mut Overlay,
        batch_index: usize,
        batch: &AppendBatch,
        recorded_at_ms: i64,
    ) -> Planned {
        let command_id = &batch.command_id;
        if batch.events.is_empty() {
            return Planned::Rejected(AppendError::EmptyBatch {
                command_id: command_id.clone(),
            });
        }
        if batch.events.len() > BATCH_EVENTS_MAX {
            return Planned::Rejected(AppendError::BatchTooLarge {
                command_id: command_id.clone(),
                events: batch.events.len(),
                max: BATCH_EVENTS_MAX,
            });
        }
        let count = u32::try_from(batch.events.len()).expect("bounded by BATCH_EVENTS_MAX");
        let key = command_key(command_id);

        let pending = std::iter::once(&*overlay)
            .chain(in_flight.iter().rev().map(|o| &**o))
            .find_map(|o| o.commands.get(&key).map(|&(span, i)| (span, &o.batches[i])));
        if let Some((span, original)) = pending {
            let same = original.command_id == *command_id
                && original.events.len() == batch.events.len()
                && original
                    .events
                    .iter()
                    .zip(&batch.events)
                    .all(|(a, b)| a.same_content(b));
            return if same {
                Planned::DuplicatePending(Appended {
                    first_position: span.first_position,
                    count: span.count,
                    duplicate: true,
                })
            } else {
                Planned::Rejected(AppendError::CommandIdConflict {
                    command_id: command_id.clone(),
                    first_position: span.first_position,
                })
            };
        }
        if let Some(span) = index.command(key) {
            return match self.matches_durable(span, batch) {
                Ok(true) => Planned::DuplicateOfDurable(Appended {
                    first_position: span.first_position,
                    count: span.count,
                    duplicate: true,
                }),
                Ok(false) => Planned::Rejected(AppendError::CommandIdConflict {
                    command_id: command_id.clone(),
                    first_position: span.first_position,
                }),
                Err(e) => Planned::Rejected(AppendError::Store(e)),
            };
        }

        // Check expected versions against what is planned so far, event by event.
        let mut local_versions: HashMap<&StreamName, Option<u64>> = HashMap::new();
        let mut stream_versions = Vec::with_capacity(batch.events.len());
        for event in &batch.events {
            let current = *local_versions.entry(&event.stream).or_insert_with(|| {
                Self::planned_stream_version(index, in_flight, overlay, &event.stream)
            });
            let ok = match event.expected {
                ExpectedVersion::Any => true,
                ExpectedVersion::NoStream => current.is_none(),
                ExpectedVersion::Exact(v) => current == Some(v),
            };
            if !ok {
                return Planned::Rejected(AppendError::WrongExpectedVersion {
                    stream: event.stream.clone(),
                    expected: event.expected,
                    actual: current,
                });
            }
            let version = current.map_or(0, |v| v + 1);
            local_versions.insert(&event.stream, Some(version));
            stream_versions.push(version);
        }

        let first_position = overlay.head.next_position;
        let mut prev_hash = overlay.head.hash;
        let mut records = Vec::with_capacity(batch.events.len());
        for (i, (event, &stream_version)) in batch.events.iter().zip(&stream_versions).enumerate() {
            let position = first_position + i as u64;
            let mut bytes = codec::encode_record(
                event,
                Placement {
                    position,
                    prev_hash,
                    recorded_at_ms,
                    command_id,
                    command_event_index: u32::try_from(i).expect("bounded by BATCH_EVENTS_MAX"),
                    command_event_count: count,
                    stream_version,
                },
            );
            if bytes.len() + codec::HASH_BYTES > EVENT_BYTES_MAX {
                return Planned::Rejected(AppendError::EventTooLarge {
                    command_id: command_id.clone(),
                    index: i,
                    bytes: bytes.len() + codec::HASH_BYTES,
                    max: EVENT_BYTES_MAX,
                });
            }
            let hash = self.inner.algorithm.chain(&prev_hash, &bytes);
            bytes.extend_from_slice(&hash);
            records.push(bytes);
            prev_hash = hash;
        }

        let span = CommandSpan {
            first_position,
            count,
        };
        for (i, (event, &stream_version)) in batch.events.iter().zip(&stream_versions).enumerate() {
            overlay
                .stream_versions
                .insert(event.stream.clone(), stream_version);
            overlay.placements.push(EventPlacement {
                position: first_position + i as u64,
                stream: event.stream.clone(),
                stream_version,
                command_key: key,
                command_event_index: u32::try_from(i).expect("bounded by BATCH_EVENTS_MAX"),
                command_event_count: count,
            });
        }
        overlay.commands.insert(key, (span, batch_index));
        overlay.records.append(&mut records);
        overlay.head = Head {
            next_position: first_position + u64::from(count),
            hash: prev_hash,
        };
        Planned::New(Appended {
            first_position,
            count,
            duplicate: false,
        })
    }

    /// Whether `batch` carries the same events as the durable command at `span`.
    fn matches_durable(&self, span: CommandSpan, batch: &AppendBatch) -> Result<bool, StoreError> {
        let stored = self.read_all(span.first_position, span.count as usize)?;
        if stored.first().map(|e| &e.command_id) != Some(&batch.command_id) {
            // Either a 128-bit hash collision or a broken index: both are corruption.
            return Err(StoreError::Corruption {
                position: Some(span.first_position),
                what: format!(
                    "the command index points command {} at a record of another command",
                    batch.command_id
                ),
            });
        }
        Ok(stored.len() == batch.events.len()
            && stored
                .iter()
                .zip(&batch.events)
                .all(|(s, n)| s.same_content(n)))
    }

    /// Lets the backend do the work it deferred past the last flush (see
    /// [`Backend::store_durable`]). For a writer that has answered its callers:
    /// reads do it themselves when nobody has.
    pub fn store_durable(&self) -> Result<(), StoreError> {
        self.inner.backend.store_durable()
    }

    /// Reads up to `max` events (at most [`READ_PAGE_EVENTS_MAX`]) from `from`,
    /// only among durable events, from storage.
    pub fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_events(from, max, Source::Storage)
    }

    fn read_events(
        &self,
        from: u64,
        max: usize,
        source: Source,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut out = Vec::new();
        self.visit(from, max, source, &mut |position, value| {
            let event = codec::decode_stored(value).map_err(|e| e.0)?;
            if event.position != position {
                return Err(format!("record claims position {}", event.position));
            }
            out.push(event);
            Ok(())
        })?;
        Ok(out)
    }

    /// Reads up to `max` events (at most [`READ_PAGE_EVENTS_MAX`]) from `from`, only
    /// among durable events, from storage, like [`Log::read_all`], but hands each one to
    /// `each` as a [`RecordView`] borrowing the stored bytes instead of collecting owned
    /// events: a rebuild decodes millions of records and keeps none of them. Every
    /// record gets the checks of [`Log::read_all`] (the codec's, and its position); an
    /// error from `each` is corruption at that record's position. Returns how many
    /// records were visited.
    pub fn read_views(
        &self,
        from: u64,
        max: usize,
        each: &mut dyn FnMut(RecordView<'_>) -> Result<(), String>,
    ) -> Result<usize, StoreError> {
        self.visit_views(from, max, Source::Storage, each)
    }

    /// [`Log::read_views`] from `source`.
    fn visit_views(
        &self,
        from: u64,
        max: usize,
        source: Source,
        each: &mut dyn FnMut(RecordView<'_>) -> Result<(), String>,
    ) -> Result<usize, StoreError> {
        let mut count = 0;
        let mut texts = codec::EnvelopeTexts::default();
        self.visit(from, max, source, &mut |position, value| {
            let view = codec::decode_stored_view_after(value, &mut texts).map_err(|e| e.0)?;
            if view.position != position {
                return Err(format!("record claims position {}", view.position));
            }
            count += 1;
            each(view)
        })?;
        Ok(count)
    }

    /// Reads up to `max` records' exact bytes and stored hashes from `from`, from
    /// storage.
    pub fn read_raw(&self, from: u64, max: usize) -> Result<Vec<RawRecord>, StoreError> {
        let mut out = Vec::new();
        self.visit(from, max, Source::Storage, &mut |position, value| {
            let (record, hash) = codec::split_stored(value).map_err(|e| e.0)?;
            out.push(RawRecord {
                position,
                record: record.to_vec(),
                hash,
            });
            Ok(())
        })?;
        Ok(out)
    }

    /// Visits durable records from `from` in order, checking that none is missing.
    fn visit(
        &self,
        from: u64,
        max: usize,
        source: Source,
        each: &mut RecordVisitor<'_>,
    ) -> Result<(), StoreError> {
        let head = self.head().next_position;
        let wanted = u64::try_from(max.min(READ_PAGE_EVENTS_MAX)).expect("page fits u64");
        let to = head.min(from.saturating_add(wanted));
        if from >= to {
            return Ok(());
        }
        let mut expected = from;
        let mut failure = None;
        let recent = match source {
            Source::Storage => None,
            Source::RecentOrStorage => self
                .inner
                .recent
                .read()
                .expect("recent records lock poisoned")
                .covering(from, to),
        };
        if let Some(groups) = recent {
            'groups: for (first, records) in groups {
                for (position, value) in (first..).zip(records.iter()) {
                    if position < from {
                        continue;
                    }
                    if position >= to {
                        break 'groups;
                    }
                    if let Err(what) = each(position, value) {
                        failure = Some((position, what));
                        break 'groups;
                    }
                }
            }
            return match failure {
                Some((position, what)) => Err(StoreError::Corruption {
                    position: Some(position),
                    what,
                }),
                None => Ok(()),
            };
        }
        self.inner.backend.scan(from, to, &mut |position, value| {
            let result = if position != expected {
                Err((expected, "record is missing".to_string()))
            } else {
                each(position, value).map_err(|what| (position, what))
            };
            match result {
                Ok(()) => {
                    expected += 1;
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        if failure.is_none() && expected != to {
            failure = Some((expected, "record is missing".to_string()));
        }
        match failure {
            Some((position, what)) => Err(StoreError::Corruption {
                position: Some(position),
                what,
            }),
            None => Ok(()),
        }
    }

    /// Reads up to `max` events of one stream, from stream version `from_version`.
    pub fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let positions: Vec<u64> = {
            let index = self.read_index();
            let Some(all) = index.streams.get(stream.as_str()) else {
                return Ok(Vec::new());
            };
            let start = usize::try_from(from_version)
                .unwrap_or(usize::MAX)
                .min(all.len());
            let end = start
                .saturating_add(max.min(READ_PAGE_EVENTS_MAX))
                .min(all.len());
            all[start..end].to_vec()
        };
        positions
            .into_iter()
            .map(|position| {
                let corrupt = |what: String| StoreError::Corruption {
                    position: Some(position),
                    what,
                };
                let value = self
                    .inner
                    .backend
                    .read(position)?
                    .ok_or_else(|| corrupt("record is missing".into()))?;
                codec::decode_stored(&value).map_err(|e| corrupt(e.0))
            })
            .collect()
    }

    /// Recomputes the hash chain from position 0 over every durable record and names
    /// the first record that is missing, undecodable, out of place or altered.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        Self::verify_chain(&self.inner.backend, self.inner.algorithm, self.head())
    }

    /// Verifies a ledger's storage without opening it as a log, so that damage that
    /// stops [`Log::open`] is still reported with the first bad position. The hash
    /// algorithm and head come from the stored header and head marker.
    pub fn verify_storage(backend: &B) -> Result<VerifyReport, StoreError> {
        let header = Self::read_header(backend)?;
        let head = Self::read_head_marker(backend)?;
        let mut report = Self::verify_chain(backend, header.hash_algorithm, head)?;
        if report.first_break.is_none() {
            if let Some(last) = backend.last_position()? {
                if last >= head.next_position {
                    report.first_break = Some(ChainBreak {
                        position: head.next_position,
                        problem: format!(
                            "records are stored up to position {last}, beyond the head marker's end"
                        ),
                    });
                }
            }
        }
        Ok(report)
    }

    /// Recomputes the chain over positions `0..head.next_position` of `backend`.
    fn verify_chain(
        backend: &B,
        algorithm: HashAlgorithm,
        head: Head,
    ) -> Result<VerifyReport, StoreError> {
        let mut prev = GENESIS_HASH;
        let mut checker = SequenceChecker::after(0, GENESIS_HASH);
        let mut versions = StreamVersions::default();
        let mut first_break = None;
        backend.scan(0, head.next_position, &mut |position, value| {
            let result = (|| {
                let fail = |what: String| (position, what);
                let (record, stored_hash) = codec::split_stored(value).map_err(|e| fail(e.0))?;
                let event =
                    codec::decode_record_view(record, stored_hash).map_err(|e| fail(e.0))?;
                // Position, link to the previous stored hash, command completeness.
                checker.check(position, &event, |event| versions.count(event))?;
                let computed = algorithm.chain(&prev, record);
                if computed != stored_hash {
                    return Err(fail(
                        "its bytes do not hash to the stored hash: the record was altered"
                            .to_string(),
                    ));
                }
                prev = computed;
                Ok(())
            })();
            match result {
                Ok(()) => ControlFlow::Continue(()),
                Err((position, problem)) => {
                    first_break = Some(ChainBreak { position, problem });
                    ControlFlow::Break(())
                }
            }
        })?;
        if first_break.is_none() {
            if let Err((position, problem)) = checker.finish(head.next_position) {
                first_break = Some(ChainBreak { position, problem });
            }
        }
        if first_break.is_none() && prev != head.hash {
            first_break = Some(ChainBreak {
                position: head.next_position.saturating_sub(1),
                problem: "the chain does not end at the head marker's hash".into(),
            });
        }
        Ok(VerifyReport {
            algorithm,
            events_checked: checker.next_position,
            head,
            first_break,
        })
    }

    /// A subscription that delivers every durable event from `from`, then new ones
    /// as they become durable. Catch-up and live delivery are the same read, so there
    /// is no switch-over at which an event could be skipped or repeated.
    pub fn subscribe(&self, from: u64) -> Subscription<B> {
        Subscription {
            log: self.clone(),
            next: from,
        }
    }

    /// Makes every subscription waiting for new events return now (with what it has,
    /// possibly nothing), and every later wait return at once: for a process shutting
    /// down, so that its followers notice without waiting out their poll.
    pub fn wake_subscribers(&self) {
        let _committed = self
            .inner
            .committed
            .lock()
            .expect("committed lock poisoned");
        self.inner
            .waking
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.committed_changed.notify_all();
    }

    /// Waits until the durable head passes `position` or `timeout` elapses.
    fn wait_beyond(&self, position: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut committed = self
            .inner
            .committed
            .lock()
            .expect("committed lock poisoned");
        while committed.next_position <= position {
            let now = Instant::now();
            if now >= deadline || self.inner.waking.load(std::sync::atomic::Ordering::SeqCst) {
                return false;
            }
            committed = self
                .inner
                .committed_changed
                .wait_timeout(committed, deadline - now)
                .expect("committed lock poisoned")
                .0;
        }
        true
    }

    /// Durably stores a snapshot of state derived from the log up to `position`
    /// (exclusive), replacing the previous snapshot under `name`.
    pub fn save_snapshot<T: serde::Serialize>(
        &self,
        name: &str,
        position: u64,
        value: &T,
    ) -> Result<(), StoreError> {
        crate::types::check_snapshot_name(name)?;
        let stored =
            codec::encode_value_snapshot(position, value).map_err(|e| StoreError::Backend {
                op: "encoding a snapshot",
                message: e.0,
            })?;
        self.inner.backend.save_snapshot(name, &stored)
    }

    /// Removes the snapshot stored under `name`, if any.
    pub fn remove_snapshot(&self, name: &str) -> Result<(), StoreError> {
        crate::types::check_snapshot_name(name)?;
        self.inner.backend.remove_snapshot(name)
    }

    /// The snapshot stored under `name` and the position it was taken at. A damaged
    /// snapshot is an error; callers can fall back to replaying the log.
    pub fn load_snapshot<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<(u64, T)>, StoreError> {
        load_snapshot(&self.inner.backend, name)
    }

    /// The position of the index checkpoint this open started from (it decoded only
    /// the records after it), or `None` if it decoded every record.
    pub fn opened_from_index_checkpoint(&self) -> Option<u64> {
        self.inner.opened_from_checkpoint
    }

    /// Saves the store's in-memory indexes as an index checkpoint, so that the next
    /// open decodes only the records after it (decision 0010). Returns the position it
    /// covers. The checkpoint is copied out of the index a piece at a time, so that a
    /// commit waits for one piece at most (decision 0030); it is merged, encoded and
    /// written without holding the index.
    pub fn save_index_checkpoint(&self) -> Result<u64, StoreError> {
        let checkpoint = checkpoint_in_pieces(&self.inner.index, |next_position| {
            // The index only holds durable records, so the last one can be read back.
            let Some(last) = next_position.checked_sub(1) else {
                return Ok(GENESIS_HASH);
            };
            let value = self
                .inner
                .backend
                .read(last)?
                .ok_or_else(|| StoreError::Corruption {
                    position: Some(last),
                    what: "an indexed record is missing".into(),
                })?;
            Ok(codec::split_stored(&value)
                .map_err(|e| StoreError::Corruption {
                    position: Some(last),
                    what: e.0,
                })?
                .1)
        })?;
        let bytes = codec::encode_index_checkpoint(&checkpoint);
        self.inner.backend.save_snapshot(
            INDEX_CHECKPOINT,
            &codec::encode_snapshot(checkpoint.next_position, &bytes),
        )?;
        Ok(checkpoint.next_position)
    }

    /// Closes the log if this is its last handle: drops it with its backend (for sled,
    /// the database, whose file lock a reopen in the same process needs). Otherwise
    /// gives the handle back, so that the caller can wait for the other handles (a
    /// reader, a subscription) to be dropped and try again.
    pub fn close(self) -> Result<(), Self> {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => {
                drop(inner);
                Ok(())
            }
            Err(inner) => Err(Log { inner }),
        }
    }

    /// Whether the log refuses writes after a failed write or flush, and why.
    pub fn poisoned(&self) -> Option<String> {
        self.inner
            .writer
            .lock()
            .expect("writer lock poisoned")
            .poisoned
            .clone()
    }
}

/// The snapshot `name` in `source` and the position it was taken at
/// ([`Log::load_snapshot`]), also before the log is open ([`Log::open_alongside`]) or
/// its backend is ([`crate::SnapshotFiles`]).
pub fn load_snapshot<S: SnapshotSource + ?Sized, T: serde::de::DeserializeOwned>(
    source: &S,
    name: &str,
) -> Result<Option<(u64, T)>, StoreError> {
    crate::types::check_snapshot_name(name)?;
    let Some(stored) = source.load_snapshot(name)? else {
        return Ok(None);
    };
    let corrupt = |what: String| StoreError::Corruption {
        position: None,
        what: format!("snapshot {name}: {what}"),
    };
    let (position, bytes) = codec::decode_snapshot(&stored).map_err(|e| corrupt(e.0))?;
    let value = codec::decode_value(bytes).map_err(|e| corrupt(e.0))?;
    Ok(Some((position, value)))
}

/// Checks, record by record, what must hold between neighbours without hashing:
/// each record links to the stored hash of the one before, and every command's
/// events are all present and in order (no partial batch). Each stream's versions are
/// its caller's to count: [`Tail`] for an open, [`StreamVersions`] for `verify`.
struct SequenceChecker {
    next_position: u64,
    prev_stored_hash: [u8; 32],
    /// The command in progress: id, next index expected, count, first position.
    open: Option<(CommandId, u32, u32, u64)>,
}

impl SequenceChecker {
    /// Checks the records from `next_position` on, the one before having the stored
    /// hash `prev_stored_hash` (the genesis hash before position 0); an index
    /// checkpoint always ends between commands.
    fn after(next_position: u64, prev_stored_hash: [u8; 32]) -> Self {
        SequenceChecker {
            next_position,
            prev_stored_hash,
            open: None,
        }
    }

    /// Checks the record stored at `position`; an error names the position at fault.
    /// `count` counts the record in its stream, checking its version: it is called
    /// after the checks of position and link, before those of its command.
    fn check<'e>(
        &mut self,
        position: u64,
        event: &RecordView<'e>,
        count: impl FnOnce(&RecordView<'e>) -> Result<(), String>,
    ) -> Result<(), (u64, String)> {
        if position != self.next_position {
            return Err((self.next_position, "record is missing".into()));
        }
        let fail = |what: String| Err((position, what));
        if event.position != position {
            return fail(format!("record claims position {}", event.position));
        }
        if event.prev_hash != self.prev_stored_hash {
            return fail("its prev_hash is not the stored hash of the record before it".into());
        }
        count(event).map_err(|what| (position, what))?;
        match &mut self.open {
            Some((id, next, count, _)) => {
                if event.command_id != id.as_str()
                    || event.command_event_index != *next
                    || event.command_event_count != *count
                {
                    return fail(format!(
                        "command {id} is incomplete: expected its event {next} of {count} here"
                    ));
                }
                *next += 1;
            }
            None => {
                if event.command_event_index != 0 {
                    return fail(format!(
                        "event {} of command {} has no start",
                        event.command_event_index, event.command_id
                    ));
                }
                // A command of one event is complete at once: its id is not kept.
                if event.command_event_count != 1 {
                    self.open = Some((
                        CommandId::from_checked(event.command_id),
                        1,
                        event.command_event_count,
                        position,
                    ));
                }
            }
        }
        if let Some((_, next, count, _)) = &self.open {
            if next == count {
                self.open = None;
            }
        }
        self.prev_stored_hash = event.hash;
        self.next_position += 1;
        Ok(())
    }

    fn finish(&self, end: u64) -> Result<(), (u64, String)> {
        if self.next_position != end {
            return Err((self.next_position, "record is missing".into()));
        }
        match &self.open {
            Some((id, next, count, first)) => Err((
                *first,
                format!("command {id} ends after {next} of its {count} events at position {end}: a partial batch"),
            )),
            None => Ok(()),
        }
    }
}

/// The next version each stream's event must carry, counted from position 0.
#[derive(Default)]
struct StreamVersions(HashMap<StreamName, u64>);

impl StreamVersions {
    fn count(&mut self, event: &RecordView<'_>) -> Result<(), String> {
        match self.0.get_mut(event.stream) {
            Some(next) if *next == event.stream_version => *next += 1,
            Some(next) => return Err(version_error(event.stream_version, event.stream, *next)),
            None if event.stream_version == 0 => {
                self.0.insert(StreamName::from_checked(event.stream), 1);
            }
            None => return Err(version_error(event.stream_version, event.stream, 0)),
        }
        Ok(())
    }
}

/// Delivers durable events in order, from a position on. See [`Log::subscribe`].
pub struct Subscription<B: Backend> {
    log: Log<B>,
    next: u64,
}

impl<B: Backend> std::fmt::Debug for Subscription<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("next", &self.next)
            .finish()
    }
}

impl<B: Backend> Subscription<B> {
    /// The position of the next event this subscription will deliver.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Up to `max` next events; waits up to `timeout` when none is durable yet and
    /// then returns an empty page.
    pub fn next_page(
        &mut self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if !self.log.wait_beyond(self.next, timeout) {
            return Ok(Vec::new());
        }
        let page = self
            .log
            .read_events(self.next, max, Source::RecentOrStorage)?;
        self.next += page.len() as u64;
        Ok(page)
    }

    /// Up to `max` next events, each handed to `each` as a [`RecordView`] borrowing the
    /// stored bytes (as [`Log::read_views`] does, with its checks), instead of
    /// collected as owned events; waits up to `timeout` when none is durable yet and
    /// then visits none. Returns how many were visited: the subscription moves past
    /// them only if `each` accepted all of them.
    pub fn next_views(
        &mut self,
        max: usize,
        timeout: Duration,
        each: &mut dyn FnMut(RecordView<'_>) -> Result<(), String>,
    ) -> Result<usize, StoreError> {
        if !self.log.wait_beyond(self.next, timeout) {
            return Ok(0);
        }
        let count = self
            .log
            .visit_views(self.next, max, Source::RecentOrStorage, each)?;
        self.next += count as u64;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::{
        checkpoint_in_pieces, command_key_of, merge_commands, merge_commands_in_place_in_halves,
        CommandSpan, EventPlacement, Index, RecentCommands, RecentRecords, RecordView,
        SortedCommands, StreamName, Tail, COMMAND_SHARDS, KEYS_PER_BUCKET,
    };

    proptest! {
        /// The recent groups covering a range are the groups that hold some position of
        /// it, in order, whenever every position of it is held; none otherwise.
        #[test]
        fn recent_groups_cover_exactly_the_range_asked_for(
            start in 0u64..1_000,
            sizes in proptest::collection::vec(1usize..6, 0..40),
            from in 0u64..1_200,
            len in 0u64..60,
        ) {
            let mut recent = RecentRecords::default();
            let mut next = start;
            for size in &sizes {
                let records = (0..*size).map(|i| vec![u8::try_from(i).unwrap()]).collect();
                recent.push(next, std::sync::Arc::new(records));
                next += *size as u64;
            }
            let to = from + len;
            let covered = recent.covering(from, to);
            if sizes.is_empty() || from < start || to > next {
                prop_assert!(covered.is_none());
            } else {
                let groups = covered.unwrap();
                let expected: Vec<u64> = recent
                    .groups
                    .iter()
                    .filter(|(first, records)| first + records.len() as u64 > from && *first < to)
                    .map(|(first, _)| *first)
                    .collect();
                let firsts: Vec<u64> = groups.iter().map(|(first, _)| *first).collect();
                prop_assert_eq!(firsts, expected);
            }
        }
    }

    #[test]
    fn recent_commands_find_what_they_hold_in_every_shard() {
        let mut recent = RecentCommands::default();
        // Keys spread over the top bits, as hashes are, and both ends of the range (the
        // first is 0).
        let keys: Vec<u128> = (0..4 * COMMAND_SHARDS as u128)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
            .chain([u128::MAX])
            .collect();
        for (i, key) in keys.iter().enumerate() {
            let span = CommandSpan {
                first_position: i as u64,
                count: 1,
            };
            recent.insert(*key, span);
        }
        let used = recent.shards.iter().filter(|s| !s.is_empty()).count();
        assert!(
            used > COMMAND_SHARDS / 2,
            "keys spread over the shards: {used}"
        );
        assert_eq!(RecentCommands::shard(0), 0);
        assert_eq!(RecentCommands::shard(u128::MAX), COMMAND_SHARDS - 1);
        for (i, key) in keys.iter().enumerate() {
            let span = recent.get(*key).expect("an indexed key is found");
            assert_eq!(span.first_position, i as u64);
        }
        assert!(recent.get(12345).is_none());
        let mut listed: Vec<u128> = recent.iter().map(|(key, _)| key).collect();
        listed.sort_unstable();
        let mut expected = keys.clone();
        expected.sort_unstable();
        assert_eq!(listed, expected);
    }

    /// Builds the sorted index of `keys` (span i for the i-th distinct key) and checks
    /// that it finds each key with its span, and none of `absent` that is not a key.
    fn check_sorted_commands(keys: &[u128], absent: &[u128]) {
        let expected: BTreeMap<u128, CommandSpan> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let span = CommandSpan {
                    first_position: i as u64,
                    count: [1, 2, 3][i % 3],
                };
                (*key, span)
            })
            .collect();
        let sorted = SortedCommands::new(expected.iter().map(|(k, s)| (*k, *s)).collect());
        assert_eq!(sorted.len(), expected.len());
        assert_eq!(sorted.starts.len(), (1 << sorted.bits) + 1);
        assert!(sorted.starts.windows(2).all(|w| w[0] <= w[1]));
        if expected.len() >= 2 * KEYS_PER_BUCKET {
            assert!(sorted.bits > 0, "{} keys in one bucket", expected.len());
        }
        for (key, span) in &expected {
            let found = sorted.get(*key).expect("an indexed key is found");
            assert_eq!(
                (found.first_position, found.count),
                (span.first_position, span.count)
            );
        }
        for key in absent.iter().filter(|k| !expected.contains_key(k)) {
            assert!(sorted.get(*key).is_none(), "{key:#x} is not indexed");
        }
        let listed: Vec<u128> = sorted.iter().map(|(key, _)| *key).collect();
        assert_eq!(listed, expected.keys().copied().collect::<Vec<_>>());
    }

    #[test]
    fn sorted_commands_find_what_they_hold_at_any_size() {
        let spread = |n: u128| -> Vec<u128> {
            (0..n)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
                .collect()
        };
        let probes = [
            0,
            1,
            12345,
            u128::MAX,
            u128::MAX - 1,
            1 << 127,
            (1 << 127) - 1,
        ];
        for n in [0, 1, 2, 7, 8, 15, 16, 17, 100, 4096, 100_003] {
            check_sorted_commands(&spread(n), &probes);
            // Both ends of the range.
            let mut ends = spread(n);
            ends.extend([0, u128::MAX]);
            check_sorted_commands(&ends, &probes);
        }
        let empty = SortedCommands::default();
        assert!(empty.get(0).is_none() && empty.get(u128::MAX).is_none());
        // Keys that are not hashes crowd into the first bucket: still found.
        let small: Vec<u128> = (0..10_000).map(|i| i * 3).collect();
        let near: Vec<u128> = (0..30_000).collect();
        check_sorted_commands(&small, &near);
    }

    proptest! {
        #[test]
        fn sorted_commands_find_exactly_the_keys_they_hold(
            keys in proptest::collection::vec(any::<u128>(), 0..3_000),
            absent in proptest::collection::vec(any::<u128>(), 0..200),
        ) {
            check_sorted_commands(&keys, &absent);
        }
    }

    proptest! {
        /// The merge an open makes in place, of a tail's two runs, gives what the
        /// checkpoint's copying merge gives, keys found in both included (the recent
        /// span wins).
        #[test]
        fn merging_in_place_equals_merging_by_copy(
            old in proptest::collection::btree_set(0u128..2_000, 0..300),
            earlier in proptest::collection::btree_set(0u128..2_000, 0..300),
            later in proptest::collection::btree_set(0u128..2_000, 0..300),
            room in 0usize..400,
            halves_from in 0usize..40,
        ) {
            let span = |first_position, count| CommandSpan { first_position, count };
            let old: Vec<_> = old.into_iter().map(|k| (k, span(u64::try_from(k).unwrap(), 1))).collect();
            // In any order, as a tail gathers them; a command is in one piece only.
            let earlier: Vec<_> = earlier.iter().rev().map(|&k| (k, span(7, 2))).collect();
            let later: Vec<_> = later
                .into_iter()
                .filter(|k| !earlier.iter().any(|e| e.0 == *k))
                .map(|k| (k, span(9, 1)))
                .collect();
            let copied = merge_commands(
                &SortedCommands::new(old.clone()),
                [earlier.clone(), later.clone()].concat(),
            );
            let mut spans = Vec::with_capacity(old.len() + room);
            spans.extend_from_slice(&old);
            // In halves (on two threads) from `halves_from` recent keys, as a long
            // tail's are.
            let merged = merge_commands_in_place_in_halves(spans, [earlier, later], halves_from);
            let pairs = |v: &[(u128, CommandSpan)]| -> Vec<(u128, u64, u32)> {
                v.iter().map(|(k, s)| (*k, s.first_position, s.count)).collect()
            };
            prop_assert_eq!(pairs(&merged), pairs(&copied));
        }
    }

    /// A key in both runs of a tail (a collision of command keys) keeps both spans,
    /// the earlier run's first, and replaces the checkpoint's, in halves or not.
    #[test]
    fn a_key_in_both_runs_keeps_both_spans() {
        let span = |first_position| CommandSpan {
            first_position,
            count: 1,
        };
        for halves_from in [1, 100] {
            let old = vec![(1, span(1)), (5, span(5)), (9, span(9))];
            let merged = merge_commands_in_place_in_halves(
                old,
                [
                    vec![(5, span(50)), (2, span(20))],
                    vec![(5, span(51)), (7, span(70))],
                ],
                halves_from,
            );
            let firsts: Vec<(u128, u64)> =
                merged.iter().map(|(k, s)| (*k, s.first_position)).collect();
            assert_eq!(
                firsts,
                [(1, 1), (2, 20), (5, 50), (5, 51), (7, 70), (9, 9)],
                "in halves from {halves_from}"
            );
        }
    }

    /// A log of `commands` (each the streams of its events) on a memory backend.
    fn log_of(commands: &[Vec<u8>]) -> (crate::MemoryBackend, crate::Head) {
        let backend = crate::MemoryBackend::new();
        let clock = std::sync::Arc::new(super::FixedClock::new(1_600_000_000_000));
        let log = super::Log::create(backend.clone(), crate::HashAlgorithm::Sha256, clock).unwrap();
        for (n, streams) in commands.iter().enumerate() {
            let events = streams
                .iter()
                .map(|s| crate::NewEvent {
                    stream: StreamName::new(format!("s{s}")).unwrap(),
                    expected: crate::ExpectedVersion::Any,
                    event_type: crate::EventType::new("Paid").unwrap(),
                    schema_version: 1,
                    payload: vec![u8::try_from(n % 251).unwrap(); 3],
                    actor: crate::Actor::new("clerk").unwrap(),
                    effective_date: chrono::NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
                    memo: crate::Memo::new("m").unwrap(),
                })
                .collect();
            log.append(crate::AppendBatch {
                command_id: crate::CommandId::new(format!("c{n}")).unwrap(),
                events,
            })
            .unwrap();
        }
        let head = log.head();
        (backend, head)
    }

    /// Changes the record at `position` one of nine ways (keeping its stored hash
    /// unless the change is to that hash), as damage or an insider could.
    fn damage(backend: &crate::MemoryBackend, position: u64, how: u8) {
        use crate::Backend as _;
        let value = backend.read(position).unwrap().unwrap();
        let (record, mut hash) = crate::codec::split_stored(&value).unwrap();
        let mut event = crate::codec::decode_record(record, hash).unwrap();
        match how {
            0 => event.stream_version += 1,
            1 => event.stream_version = event.stream_version.saturating_sub(1),
            2 => event.command_event_index += 1,
            3 => event.command_event_count += 1,
            4 => event.stream = StreamName::new("s0").unwrap(),
            5 => event.prev_hash[0] ^= 1,
            6 => event.position += 1,
            7 => hash[0] ^= 1,
            _ => {
                backend.overwrite_record(position, vec![7; 40]);
                return;
            }
        }
        let mut stored = crate::codec::encode_recorded(&event);
        stored.extend_from_slice(&hash);
        backend.overwrite_record(position, stored);
    }

    /// The index an open builds from the records `from..head` joined to `index`, or
    /// the error it fails with, decoding in one piece or split at `split`.
    fn opened_index(
        backend: &crate::MemoryBackend,
        mut index: Index,
        head: crate::Head,
        split: Option<u64>,
    ) -> Result<crate::codec::IndexCheckpoint, String> {
        use crate::Backend as _;
        type Log = super::Log<crate::MemoryBackend>;
        let from = index.next_position;
        let prev_hash = match from.checked_sub(1) {
            None => crate::GENESIS_HASH,
            Some(last) => {
                let value = backend.read(last).unwrap().unwrap();
                crate::codec::split_stored(&value).unwrap().1
            }
        };
        let tail = Log::decode_tail_split(backend, from, prev_hash, head, split);
        Log::join_tail(backend, crate::HashAlgorithm::Sha256, &mut index, tail)
            .map_err(|e| e.to_string())?;
        let mut checkpoint = quiet_checkpoint(index);
        checkpoint.streams.sort();
        Ok(checkpoint)
    }

    proptest! {
        /// A tail decoded in two pieces, on two threads, gives what one piece gives:
        /// the same index, or the same error naming the same record, whatever the
        /// damage and wherever the split falls (mid-command, at a command's start,
        /// after a fault), from position 0 or after a checkpoint.
        #[test]
        fn a_tail_decoded_in_two_pieces_equals_one_piece(
            commands in proptest::collection::vec(
                proptest::collection::vec(0u8..5, 1..4), 2..30),
            damaged in proptest::option::of((any::<proptest::sample::Index>(), 0u8..9)),
            split in any::<proptest::sample::Index>(),
            checkpoint in any::<proptest::sample::Index>(),
        ) {
            let (backend, head) = log_of(&commands);
            // A checkpoint ends between commands; the first event of a random one.
            let starts: Vec<u64> = commands
                .iter()
                .scan(0u64, |next, events| {
                    let start = *next;
                    *next += events.len() as u64;
                    Some(start)
                })
                .collect();
            let checkpointed_at = *checkpoint.get(&starts);
            let before = crate::Head { next_position: checkpointed_at, hash: [0; 32] };
            let base = opened_index(&backend, Index::default(), before, None).unwrap();
            prop_assert_eq!(base.next_position, checkpointed_at);
            let index = || Index::from_checkpoint(base.clone()).unwrap();
            if let Some((at, how)) = damaged {
                let after = usize::try_from(head.next_position - checkpointed_at).unwrap();
                damage(&backend, checkpointed_at + at.index(after) as u64, how);
            }
            let whole = opened_index(&backend, index(), head, None);
            let split_at = split.index(usize::try_from(head.next_position).unwrap()) as u64;
            let pieces = opened_index(&backend, index(), head, Some(split_at));
            prop_assert_eq!(pieces, whole);
        }
    }

    /// An open decodes the checkpoint with room for a long tail's commands, and the
    /// index keeps that room, so that the merge needs no second vector.
    #[test]
    fn a_checkpoint_decoded_with_room_keeps_it_for_the_merge() {
        let mut index = Index::default();
        add_commands(&mut index, 0, 50, u64::MAX);
        let bytes = crate::codec::encode_index_checkpoint(&quiet_checkpoint(index));
        let checkpoint = crate::codec::decode_index_checkpoint_with_room(&bytes, 1_000).unwrap();
        let loaded = Index::from_checkpoint(checkpoint).unwrap();
        assert_eq!(loaded.checkpointed.len(), 50);
        assert!(loaded.checkpointed.spans.capacity() >= 1_050);
    }

    /// A tail joins an index only where each of its streams' first version follows the
    /// index's last; else the error names the earliest event that does not.
    #[test]
    fn a_tail_whose_versions_do_not_follow_the_checkpoint_is_refused() {
        let checkpointed = || {
            let mut index = Index::default();
            add_commands(&mut index, 0, 20, u64::MAX);
            Index::from_checkpoint(quiet_checkpoint(index)).unwrap()
        };
        let index = checkpointed();
        let at = index.next_position;
        let next_s1 = index.stream_version("s1").unwrap() + 1;
        let tail = |s1_version: u64, s2_version: u64| {
            let mut tail = Tail {
                next_position: at,
                ..Tail::default()
            };
            for (i, (stream, version)) in [("new", 0), ("s2", s2_version), ("s1", s1_version)]
                .into_iter()
                .enumerate()
            {
                let id = format!("tail-{i}");
                let position = at + i as u64;
                let view = RecordView {
                    position,
                    prev_hash: [0; 32],
                    hash: [0; 32],
                    recorded_at_ms: 0,
                    command_id: &id,
                    command_event_index: 0,
                    command_event_count: 1,
                    stream,
                    stream_version: version,
                    event_type: "t",
                    schema_version: 1,
                    actor: "a",
                    effective_date: chrono::NaiveDate::MIN,
                    memo: "",
                    payload: &[],
                };
                tail.add(&view).unwrap();
            }
            tail
        };
        let next_s2 = index.stream_version("s2").unwrap() + 1;
        // s2 (at + 1) and s1 (at + 2) both misplaced: the earlier is named.
        let mut refused = checkpointed();
        let err = refused.join(tail(next_s1 + 1, next_s2 + 5)).unwrap_err();
        assert_eq!(err.0, at + 1, "{err:?}");
        assert!(
            err.1
                .contains(&format!("version {} of stream s2", next_s2 + 5)),
            "{err:?}"
        );
        let mut joined = checkpointed();
        joined.join(tail(next_s1, next_s2)).unwrap();
        assert_eq!(joined.next_position, at + 3);
        assert_eq!(joined.stream_version("s1"), Some(next_s1));
        assert_eq!(joined.stream_version("new"), Some(0));
        assert_eq!(
            joined
                .command(command_key_of("tail-2"))
                .unwrap()
                .first_position,
            at + 2
        );
    }

    /// Adds commands `from..to` to `index`: command `n` has 1 + n % 3 events on
    /// streams `s{n % 7}` and, from `late_from` on, also on a stream of its own.
    fn add_commands(index: &mut Index, from: u64, to: u64, late_from: u64) {
        for n in from..to {
            let mut streams = vec![format!("s{}", n % 7); usize::try_from(1 + n % 3).unwrap()];
            if n >= late_from {
                streams.push(format!("late-{n}"));
            }
            let count = u32::try_from(streams.len()).unwrap();
            let key = u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
            for (i, name) in streams.iter().enumerate() {
                let stream = StreamName::new(name.as_str()).unwrap();
                let version = index.streams.get(stream.as_str()).map_or(0, Vec::len) as u64;
                index.add(&EventPlacement {
                    position: index.next_position,
                    stream,
                    stream_version: version,
                    command_key: key,
                    command_event_index: u32::try_from(i).unwrap(),
                    command_event_count: count,
                });
            }
        }
    }

    /// A checkpoint's streams by name and its commands, to compare.
    type Copied = (BTreeMap<String, Vec<u64>>, Vec<(u128, u64, u32)>);

    fn copied(checkpoint: &crate::codec::IndexCheckpoint) -> Copied {
        (
            checkpoint.streams.iter().cloned().collect(),
            checkpoint.commands.clone(),
        )
    }

    /// The checkpoint of an index that nothing changes while it is copied.
    fn quiet_checkpoint(index: Index) -> crate::codec::IndexCheckpoint {
        checkpoint_in_pieces(&std::sync::RwLock::new(index), |_| Ok([0; 32])).unwrap()
    }

    /// Commits that land while a checkpoint is copied (here, between its first hold of
    /// the index and its pieces) are left out of it: it holds exactly the index as it
    /// stood at its position, also when the index started from a checkpoint.
    #[test]
    fn a_checkpoint_copied_in_pieces_holds_the_index_at_its_position() {
        for checkpointed in [false, true] {
            let mut index = Index::default();
            add_commands(&mut index, 0, 40, u64::MAX);
            if checkpointed {
                index = Index::from_checkpoint(quiet_checkpoint(index)).unwrap();
            }
            add_commands(&mut index, 40, 60, 50);
            let position = index.next_position;
            let lock = std::sync::RwLock::new(index);
            let checkpoint = checkpoint_in_pieces(&lock, |next_position| {
                assert_eq!(next_position, position);
                // Commits landing in the middle of the copy: new commands on old
                // streams and on new ones.
                add_commands(&mut lock.write().unwrap(), 60, 90, 70);
                Ok([7; 32])
            })
            .unwrap();
            assert_eq!(checkpoint.next_position, position);
            assert_eq!(checkpoint.head_hash, [7; 32]);
            let mut alone = Index::default();
            add_commands(&mut alone, 0, 60, 50);
            assert_eq!(alone.next_position, position);
            assert_eq!(copied(&checkpoint), copied(&quiet_checkpoint(alone)));
            // 60 commands, keys sorted, positions all before the checkpoint's.
            assert_eq!(checkpoint.commands.len(), 60);
            assert!(checkpoint.commands.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(checkpoint.commands.iter().all(|c| c.1 < position));
            // It loads as a whole index of its position.
            let loaded = Index::from_checkpoint(checkpoint).expect("a whole checkpoint");
            assert_eq!(loaded.next_position, position);
            let later = lock.into_inner().unwrap();
            assert!(later.next_position > position);
            assert!(later.streams.get("late-80").is_some());
            assert!(loaded.streams.get("late-80").is_none());
            assert!(loaded.streams.get("late-55").is_some());
        }
    }
}
