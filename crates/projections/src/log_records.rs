//! What the projections read back from the log instead of keeping copies: an event's
//! record for the page a query answers (who recorded it, when, why, its command id and
//! chain hash), and where a command's events are (decisions 0022 and 0023). The
//! engine answers from its log; a slice of records in position order from 0 answers
//! too (a projection's tests, the projections' own benchmark).

use crate::query::QueryError;
use crate::EventRecord;

/// The log, as the queries of the audit trail and the fund statement read it.
pub trait LogRecords {
    /// The record of the event at `position`; `Ok(None)` if the log has no such event,
    /// `Err` if it could not be read.
    fn record(&self, position: u64) -> Result<Option<EventRecord>, String>;

    /// Where a command's events are: its first position and how many there are.
    fn command_events(&self, command_id: &str) -> Result<Option<(u64, u32)>, String>;
}

/// Records in position order from position 0, each at its own index.
impl LogRecords for [EventRecord] {
    fn record(&self, position: u64) -> Result<Option<EventRecord>, String> {
        Ok(usize::try_from(position)
            .ok()
            .and_then(|i| self.get(i))
            .filter(|r| r.recorded.position == position)
            .cloned())
    }

    fn command_events(&self, command_id: &str) -> Result<Option<(u64, u32)>, String> {
        let mut events = self.iter().filter(|r| r.recorded.command_id == command_id);
        Ok(events.next().map(|first| {
            let count = 1 + events.count();
            (
                first.recorded.position,
                u32::try_from(count).unwrap_or(u32::MAX),
            )
        }))
    }
}

/// The record at `position`, which a projection knows the log holds: a failed read, or
/// no event there, is [`QueryError::LogUnreadable`].
pub(crate) fn read<L: LogRecords + ?Sized>(
    log: &L,
    position: u64,
) -> Result<EventRecord, QueryError> {
    let unreadable = |cause: String| QueryError::LogUnreadable { position, cause };
    let record = log
        .record(position)
        .map_err(unreadable)?
        .ok_or_else(|| unreadable("the log has no event there".into()))?;
    if record.recorded.position != position {
        return Err(unreadable(format!(
            "the log answered with the event at position {}",
            record.recorded.position
        )));
    }
    Ok(record)
}
