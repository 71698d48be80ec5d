//! `/metrics` in the Prometheus (OpenMetrics) text format: events appended, group
//! commit sizes and latency (told by the engine through `GroupObserver`), queue depth,
//! whether writes are refused and how often the log was reopened after a failure,
//! commands by type and outcome, and requests by route and status.

use std::sync::Mutex;
use std::time::Duration;

use ledger_engine::{GroupCommitted, GroupObserver};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: String,
    outcome: String,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    events_appended: Counter,
    groups: Counter,
    group_commands: Histogram,
    commit_seconds: Histogram,
    queue_depth: Gauge,
    log_events: Gauge,
    writes_unavailable: Gauge,
    log_reopens: Counter,
    commands: Family<CommandLabels, Counter>,
    command_seconds: Histogram,
    requests: Family<RequestLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("welfare_ledger")),
            events_appended: Counter::default(),
            groups: Counter::default(),
            // 1, 2, 4, … 4,096 commands per group.
            group_commands: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
            // 50 µs to ~3.3 s.
            commit_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 17)),
            queue_depth: Gauge::default(),
            log_events: Gauge::default(),
            writes_unavailable: Gauge::default(),
            log_reopens: Counter::default(),
            commands: Family::default(),
            command_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 17)),
            requests: Family::default(),
        };
        {
            let mut r = m.registry.lock().expect("metrics registry");
            r.register(
                "events_appended",
                "Events appended to the log by this process",
                m.events_appended.clone(),
            );
            r.register(
                "group_commits",
                "Group commits made durable",
                m.groups.clone(),
            );
            r.register(
                "group_commit_commands",
                "Commands answered per group commit (batch size)",
                m.group_commands.clone(),
            );
            r.register(
                "group_commit_seconds",
                "Time to make one group durable (journal write and fdatasync)",
                m.commit_seconds.clone(),
            );
            r.register(
                "command_queue_depth",
                "Commands waiting for the writer",
                m.queue_depth.clone(),
            );
            r.register(
                "log_events",
                "Events in the log (its head position)",
                m.log_events.clone(),
            );
            r.register(
                "writes_unavailable",
                "1 while the ledger refuses writes after a failed write or flush (a full disk), else 0",
                m.writes_unavailable.clone(),
            );
            r.register(
                "log_reopens",
                "Times the engine reopened its log after a failed write or flush, without a restart",
                m.log_reopens.clone(),
            );
            r.register(
                "commands",
                "Commands submitted over HTTP, by type and outcome (accepted or the rejection code)",
                m.commands.clone(),
            );
            r.register(
                "command_seconds",
                "Time from submitting a command to its durable answer",
                m.command_seconds.clone(),
            );
            r.register(
                "http_requests",
                "HTTP requests by method, route and status",
                m.requests.clone(),
            );
        }
        m
    }

    pub(crate) fn observe_command(&self, command: &str, outcome: &str, took: Duration) {
        self.commands
            .get_or_create(&CommandLabels {
                command: command.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.command_seconds.observe(took.as_secs_f64());
    }

    pub(crate) fn count_request(&self, method: String, route: String, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, engine: EngineGauges) -> String {
        self.log_events
            .set(i64::try_from(engine.log_events).unwrap_or(i64::MAX));
        self.queue_depth
            .set(i64::try_from(engine.queue_depth).unwrap_or(i64::MAX));
        self.writes_unavailable
            .set(i64::from(engine.writes_unavailable));
        // The engine counts its reopens; the counter catches up with it.
        let counted = self.log_reopens.get();
        if engine.log_reopens > counted {
            self.log_reopens.inc_by(engine.log_reopens - counted);
        }
        let mut text = String::new();
        let registry = self.registry.lock().expect("metrics registry");
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }
}

/// What `/metrics` reads from the engine when it is scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineGauges {
    pub log_events: u64,
    pub queue_depth: usize,
    pub writes_unavailable: bool,
    pub log_reopens: u64,
}

impl GroupObserver for Metrics {
    fn group_committed(&self, group: GroupCommitted) {
        self.groups.inc();
        self.events_appended.inc_by(group.events as u64);
        self.group_commands.observe(group.commands as f64);
        self.commit_seconds.observe(group.commit.as_secs_f64());
    }
}
