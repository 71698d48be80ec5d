//! Welfare Ledger's pure domain core: no IO, no clock, no randomness.
