//! Welfare Ledger's append-only event log.
