//! The loader: submits a plan's steps to an engine in order, many in flight at once,
//! resolving approvals and reversals to the log positions earlier steps were given.
//!
//! Order is kept because the engine's queue is first in, first out and each
//! submission is put on it (its future polled once) before the next is created; up to
//! [`LOAD_IN_FLIGHT_MAX`] answers are awaited later. A step that refers to an earlier
//! one waits until that answer is in. Command ids are `demo-<seed>-<index>`, so loading
//! the same plan again only gets `duplicate` answers with the original positions.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use chrono::NaiveDate;
use ledger_domain::{Command, Programme};
use ledger_engine::{Accepted, Engine, EngineError, Submission};
use ledger_store::Backend;

use crate::plan::{DemoAction, DemoPlan, DemoStep};

/// Most submissions awaiting their answer at once (below the engine's queue depth, so
/// putting one on the queue never waits).
pub const LOAD_IN_FLIGHT_MAX: usize = 1_024;
/// Progress is reported after every this many answers (and at the end).
pub const PROGRESS_INTERVAL_STEPS: usize = 1_000;

/// Why a plan could not be loaded. Every step of a plan is meant to be accepted, so
/// any refusal means the ledger was not empty (or not this plan's) or the domain
/// changed under the generator.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The engine refused a step.
    #[error("demo step {step} ({command_type}, dated {effective_date}) was refused: {source}")]
    Refused {
        step: usize,
        command_type: &'static str,
        effective_date: NaiveDate,
        #[source]
        source: EngineError,
    },
    /// A step was accepted with another number of events than the plan expects.
    #[error("demo step {step} ({command_type}) appended {actual} events where the plan expects {expected}; the plan no longer matches the domain rules")]
    Unexpected {
        step: usize,
        command_type: &'static str,
        expected: u32,
        actual: u32,
    },
}

impl LoadError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::Refused { .. } => "demo_step_refused",
            LoadError::Unexpected { .. } => "demo_step_unexpected",
        }
    }
}

/// Commands and events of one programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgrammeCounts {
    pub commands: u64,
    pub events: u64,
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Steps submitted (every step of the plan).
    pub commands: u64,
    /// Events the plan's steps account for in the log (new or from an earlier load).
    pub events: u64,
    /// Events appended by this load (0 when the plan was already loaded).
    pub events_appended: u64,
    /// Steps recognised as already recorded (`duplicate` answers).
    pub duplicates: u64,
    /// Commands and events by programme (steps without a fund are not counted here).
    pub by_programme: BTreeMap<Programme, ProgrammeCounts>,
    /// Payment requests the plan leaves waiting for a decision.
    pub pending_requests_left: u32,
    /// The log's next position after the load.
    pub head: u64,
}

/// Wakes the loading thread when an answer arrives.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

type Answer<'a> = Pin<Box<dyn Future<Output = Result<Accepted, EngineError>> + 'a>>;

/// Loads the plan into the engine's ledger; `progress(done, total)` is called as
/// answers come in. Must not be called from inside an async task (it blocks).
pub fn load<B: Backend>(
    engine: &Engine<B>,
    plan: &DemoPlan,
    mut progress: impl FnMut(u64, u64),
) -> Result<DemoSummary, LoadError> {
    let steps = plan.steps();
    let total = steps.len() as u64;
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut loader = Loader {
        steps,
        results: vec![None; steps.len()],
        in_flight: VecDeque::new(),
        done: 0,
        summary: DemoSummary {
            commands: 0,
            events: 0,
            events_appended: 0,
            duplicates: 0,
            by_programme: BTreeMap::new(),
            pending_requests_left: plan.pending_requests_left(),
            head: 0,
        },
    };
    for (index, step) in steps.iter().enumerate() {
        if let Some(target) = step.action.refers_to() {
            while loader.results[target].is_none() {
                loader.finish_front(&mut cx, &mut progress)?;
            }
        }
        let command = loader.command_of(step)?;
        let submission = Submission {
            command_id: plan.command_id(index),
            command,
            actor: step.actor.clone(),
            effective_date: step.effective_date,
            memo: step.memo.clone(),
        };
        let mut answer: Answer<'_> = Box::pin(engine.submit_async(submission));
        // The first poll puts the submission on the engine's queue.
        match answer.as_mut().poll(&mut cx) {
            Poll::Ready(result) => loader.record(index, result, &mut progress)?,
            Poll::Pending => loader.in_flight.push_back((index, answer)),
        }
        while loader.in_flight.len() >= LOAD_IN_FLIGHT_MAX {
            loader.finish_front(&mut cx, &mut progress)?;
        }
    }
    while !loader.in_flight.is_empty() {
        loader.finish_front(&mut cx, &mut progress)?;
    }
    progress(loader.done, total);
    let mut summary = loader.summary;
    summary.head = engine.head().next_position;
    Ok(summary)
}

struct Loader<'a, 'e> {
    steps: &'a [DemoStep],
    results: Vec<Option<Accepted>>,
    in_flight: VecDeque<(usize, Answer<'e>)>,
    done: u64,
    summary: DemoSummary,
}

impl Loader<'_, '_> {
    /// The step's command, with positions resolved from earlier answers.
    fn command_of(&self, step: &DemoStep) -> Result<Command, LoadError> {
        let accepted = |target: usize| {
            self.results[target].expect("the loader waits for the answers a step refers to")
        };
        let command = match &step.action {
            DemoAction::Command(command) => command.clone(),
            DemoAction::Reverse { of_step, reason } => {
                let target = accepted(*of_step);
                if target.count == 0 {
                    return Err(LoadError::Unexpected {
                        step: *of_step,
                        command_type: self.steps[*of_step].action.command_type(),
                        expected: self.steps[*of_step].expected_events,
                        actual: 0,
                    });
                }
                Command::ReverseEvent {
                    position: target.first_position + u64::from(target.count) - 1,
                    reason: reason.clone(),
                }
            }
            DemoAction::Approve { of_step } => Command::ApprovePayment {
                request: accepted(*of_step).first_position,
            },
            DemoAction::Reject { of_step, reason } => Command::RejectPayment {
                request: accepted(*of_step).first_position,
                reason: reason.clone(),
            },
        };
        Ok(command)
    }

    fn finish_front(
        &mut self,
        cx: &mut Context<'_>,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<(), LoadError> {
        let (index, mut answer) = self
            .in_flight
            .pop_front()
            .expect("finish_front is called with answers in flight");
        let result = loop {
            match answer.as_mut().poll(cx) {
                Poll::Ready(result) => break result,
                Poll::Pending => std::thread::park(),
            }
        };
        self.record(index, result, progress)
    }

    fn record(
        &mut self,
        index: usize,
        result: Result<Accepted, EngineError>,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<(), LoadError> {
        let step = &self.steps[index];
        let accepted = result.map_err(|source| LoadError::Refused {
            step: index,
            command_type: step.action.command_type(),
            effective_date: step.effective_date,
            source,
        })?;
        if accepted.count != step.expected_events {
            return Err(LoadError::Unexpected {
                step: index,
                command_type: step.action.command_type(),
                expected: step.expected_events,
                actual: accepted.count,
            });
        }
        self.results[index] = Some(accepted);
        let events = u64::from(accepted.count);
        let s = &mut self.summary;
        s.commands += 1;
        s.events += events;
        if accepted.duplicate {
            s.duplicates += 1;
        } else {
            s.events_appended += events;
        }
        if let Some(programme) = step.programme {
            let counts = s.by_programme.entry(programme).or_default();
            counts.commands += 1;
            counts.events += events;
        }
        self.done += 1;
        if self.done % PROGRESS_INTERVAL_STEPS as u64 == 0 {
            progress(self.done, self.steps.len() as u64);
        }
        Ok(())
    }
}
