//! The `welfare-ledger` binary: a thin shell over the store and the domain.
fn main() {}
