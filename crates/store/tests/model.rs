//! Proves that the sled and memory backends behave exactly like a plain in-memory
//! model of the contract: proptest generates random sequences of appends (with
//! retries, wrong expected versions, reused command ids with other payloads, empty
//! batches and reopens) and every outcome, position, stream version and read must
//! match the model. A second test runs concurrent writers through the group
//! committer and checks the result against the model replayed in log order.

// Test data are small counts and indexes: truncating casts cannot happen here.
#![allow(clippy::cast_possible_truncation)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::*;
use ledger_store::{
    AppendBatch, AppendError, Backend, ExpectedVersion, GroupCommitter, Log, MemoryBackend,
    SledBackend,
};
use proptest::prelude::*;

/// The contract, written as plainly as possible.
#[derive(Default)]
struct Model {
    /// (stream, stream version, payload, command id) by position.
    events: Vec<(String, u64, Vec<u8>, String)>,
    versions: HashMap<String, u64>,
    commands: HashMap<String, (u64, AppendBatch)>,
}

#[derive(Debug, PartialEq, Eq, Clone)]
enum Outcome {
    Appended {
        first: u64,
        count: u32,
        duplicate: bool,
    },
    Rejected(&'static str),
}

impl Model {
    fn append(&mut self, b: &AppendBatch) -> Outcome {
        if b.events.is_empty() {
            return Outcome::Rejected("empty_batch");
        }
        if let Some((first, original)) = self.commands.get(b.command_id.as_str()) {
            let same = original.events.len() == b.events.len()
                && original.events.iter().zip(&b.events).all(|(x, y)| {
                    (
                        &x.stream,
                        &x.payload,
                        &x.event_type,
                        &x.actor,
                        &x.memo,
                        x.effective_date,
                        x.schema_version,
                    ) == (
                        &y.stream,
                        &y.payload,
                        &y.event_type,
                        &y.actor,
                        &y.memo,
                        y.effective_date,
                        y.schema_version,
                    )
                });
            return if same {
                Outcome::Appended {
                    first: *first,
                    count: b.events.len() as u32,
                    duplicate: true,
                }
            } else {
                Outcome::Rejected("command_id_conflict")
            };
        }
        let mut versions = self.versions.clone();
        for e in &b.events {
            let current = versions.get(e.stream.as_str()).copied();
            let ok = match e.expected {
                ExpectedVersion::Any => true,
                ExpectedVersion::NoStream => current.is_none(),
                ExpectedVersion::Exact(v) => current == Some(v),
            };
            if !ok {
                return Outcome::Rejected("wrong_expected_version");
            }
            versions.insert(e.stream.to_string(), current.map_or(0, |v| v + 1));
        }
        let first = self.events.len() as u64;
        let mut running = self.versions.clone();
        for e in &b.events {
            let v = running.get(e.stream.as_str()).map_or(0, |v| v + 1);
            running.insert(e.stream.to_string(), v);
            self.events.push((
                e.stream.to_string(),
                v,
                e.payload.clone(),
                b.command_id.to_string(),
            ));
        }
        self.versions = running;
        self.commands
            .insert(b.command_id.to_string(), (first, b.clone()));
        Outcome::Appended {
            first,
            count: b.events.len() as u32,
            duplicate: false,
        }
    }
}

fn outcome(r: Result<ledger_store::Appended, AppendError>) -> Outcome {
    match r {
        Ok(a) => Outcome::Appended {
            first: a.first_position,
            count: a.count,
            duplicate: a.duplicate,
        },
        Err(e) if e.is_rejection() => Outcome::Rejected(e.code()),
        Err(e) => panic!("operating error: {e}"),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        command: u8,
        events: Vec<(u8, u8, u8)>,
    },
    RetryEarlier(usize),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..24, prop::collection::vec((0u8..4, 0u8..6, 0u8..3), 0..4))
            .prop_map(|(command, events)| Op::Append { command, events }),
        2 => any::<usize>().prop_map(Op::RetryEarlier),
        1 => Just(Op::Reopen),
    ]
}

fn build(command: u8, events: &[(u8, u8, u8)], model: &Model) -> AppendBatch {
    let events = events
        .iter()
        .map(|&(s, expected, p)| {
            let name = format!("stream-{s}");
            let current = model.versions.get(&name).copied();
            let expected = match expected {
                0 | 1 => ExpectedVersion::Any,
                2 => ExpectedVersion::NoStream,
                3 => current.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact),
                4 => ExpectedVersion::Exact(current.map_or(0, |v| v + 1)),
                _ => ExpectedVersion::Exact(u64::from(s)),
            };
            event(&name, expected, &[p])
        })
        .collect();
    batch(&format!("cmd-{command}"), events)
}

struct Subject<B: Backend> {
    log: Option<Log<B>>,
    reopen: Box<dyn Fn() -> Log<B>>,
}

impl<B: Backend> Subject<B> {
    fn log(&self) -> &Log<B> {
        self.log.as_ref().unwrap()
    }
    fn reopen(&mut self) {
        self.log = None;
        self.log = Some((self.reopen)());
    }
}

fn check_reads<B: Backend>(log: &Log<B>, model: &Model) {
    let all = log.read_all(0, usize::MAX).unwrap();
    let seen: Vec<_> = all
        .iter()
        .map(|e| {
            (
                e.stream.to_string(),
                e.stream_version,
                e.payload.clone(),
                e.command_id.to_string(),
            )
        })
        .collect();
    assert_eq!(seen, model.events);
    assert_eq!(log.head().next_position, model.events.len() as u64);
    for s in 0..4 {
        let name = format!("stream-{s}");
        let expected: Vec<_> = model
            .events
            .iter()
            .filter(|e| e.0 == name)
            .map(|e| e.2.clone())
            .collect();
        let got: Vec<_> = log
            .read_stream(&stream(&name), 0, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect();
        assert_eq!(got, expected, "stream {name}");
        assert_eq!(
            log.stream_version(&stream(&name)),
            model.versions.get(&name).copied()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sled_and_memory_match_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let memory = MemoryBackend::new();
        let dir = tempfile::tempdir().unwrap();
        let mut mem = Subject {
            log: Some(create(memory.clone())),
            reopen: Box::new(move || Log::open(memory.clone(), None, clock()).unwrap()),
        };
        let path = dir.path().to_path_buf();
        let mut sled = Subject {
            log: Some(create(SledBackend::open(&path).unwrap())),
            reopen: Box::new(move || {
                let backend = SledBackend::open(&path).unwrap_or_else(|e| panic!("reopening the sled backend failed: {e:?}"));
                Log::open(backend, None, clock()).unwrap_or_else(|e| panic!("reopening the log failed: {e:?}"))
            }),
        };
        let mut model = Model::default();
        let mut sent: Vec<AppendBatch> = Vec::new();
        for op in ops {
            let b = match op {
                Op::Append { command, events } => build(command, &events, &model),
                Op::RetryEarlier(i) if !sent.is_empty() => sent[i % sent.len()].clone(),
                Op::RetryEarlier(_) => continue,
                Op::Reopen => {
                    mem.reopen();
                    sled.reopen();
                    continue;
                }
            };
            let expected = model.append(&b);
            prop_assert_eq!(outcome(mem.log().append(b.clone())), expected.clone());
            prop_assert_eq!(outcome(sled.log().append(b.clone())), expected);
            sent.push(b);
        }
        check_reads(mem.log(), &model);
        check_reads(sled.log(), &model);
        prop_assert!(sled.log().verify().unwrap().is_intact());
        prop_assert_eq!(mem.log().head(), sled.log().head());
    }
}

#[test]
fn concurrent_writers_through_the_group_committer_match_the_model_in_log_order() {
    let dir = tempfile::tempdir().unwrap();
    let committer = Arc::new(GroupCommitter::start(create(
        SledBackend::open(dir.path()).unwrap(),
    )));
    let results: Vec<(AppendBatch, Result<ledger_store::Appended, AppendError>)> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let committer = Arc::clone(&committer);
                    scope.spawn(move || {
                        let mut out: Vec<(
                            AppendBatch,
                            Result<ledger_store::Appended, AppendError>,
                        )> = Vec::new();
                        let own = format!("own-{t}");
                        let mut own_version: Option<u64> = None;
                        let expect_own = |v: Option<u64>| {
                            v.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact)
                        };
                        for i in 0..60u32 {
                            // Own stream with exact versions, a contended hot stream with a
                            // version read just before (some lose the race), and retries.
                            let b = match i % 3 {
                                0 => batch(
                                    &format!("t{t}-{i}"),
                                    vec![event(&own, expect_own(own_version), &[t as u8])],
                                ),
                                1 => {
                                    let v = committer.log().stream_version(&stream("hot"));
                                    batch(
                                        &format!("t{t}-{i}"),
                                        vec![
                                            event("hot", expect_own(v), &[t as u8, 1]),
                                            event(&own, expect_own(own_version), &[2]),
                                        ],
                                    )
                                }
                                _ => out[out.len() - 2].0.clone(),
                            };
                            let r = committer.append(b.clone());
                            if i % 3 == 2 {
                                let original = out[out.len() - 2].1.as_ref().ok().copied();
                                let retry = r.as_ref().ok().copied();
                                assert_eq!(
                                    retry.map(|a| (a.positions(), a.duplicate)),
                                    original.map(|a| (a.positions(), true)),
                                    "a retry returns the original positions"
                                );
                            } else if r.is_ok() {
                                own_version = Some(own_version.map_or(0, |v| v + 1));
                            }
                            out.push((b, r));
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
    let log = committer.log();
    let all = log.read_all(0, usize::MAX).unwrap();
    // Replay the accepted batches through the model in log order; it must accept each
    // one at the same positions.
    let mut by_first: Vec<_> = results
        .iter()
        .filter_map(|(b, r)| match r {
            Ok(a) if !a.duplicate => Some((a.first_position, b)),
            _ => None,
        })
        .collect();
    by_first.sort_by_key(|(p, _)| *p);
    let mut model = Model::default();
    for (first, b) in &by_first {
        assert_eq!(
            model.append(b),
            Outcome::Appended {
                first: *first,
                count: b.events.len() as u32,
                duplicate: false
            }
        );
    }
    check_reads(log, &model);
    // Each retry got the original positions; every rejection was a lost race on "hot".
    for (b, r) in &results {
        match r {
            Ok(a) if a.duplicate => {
                assert_eq!(all[a.first_position as usize].command_id, b.command_id)
            }
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.code(), "wrong_expected_version", "{e}");
                assert_eq!(
                    b.events[0].stream.as_str(),
                    "hot",
                    "only the hot stream is contended"
                );
            }
        }
    }
    let first_tries: Vec<_> = results
        .iter()
        .filter(|(b, r)| b.events[0].stream.as_str() == "hot" && !matches!(r, Ok(a) if a.duplicate))
        .collect();
    let lost = first_tries.iter().filter(|(_, r)| r.is_err()).count();
    let won = model.versions.get("hot").map_or(0, |v| v + 1);
    assert_eq!(
        won + lost as u64,
        8 * 20,
        "every first try on the hot stream either won or lost"
    );
    assert!(log.verify().unwrap().is_intact());
    assert!(
        committer
            .stats()
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}
