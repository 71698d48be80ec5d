//! Fuzzes the JSON body of `POST /api/v1/commands`: `ledger_server::CommandRequest`,
//! the type the handler deserialises with serde_json (its `Command` carries every
//! domain command, with ids and amounts validated on the way in).
//!
//! Proves: no panic on any bytes; a body either parses or is a serde_json error (which
//! the server answers as a 400 problem); a parsed body serialises and parses back to an
//! equal value, so nothing is lost or reinterpreted between the API and the log.
#![no_main]

use ledger_server::CommandRequest;
use libfuzzer_sys::fuzz_target;

welfare_ledger_fuzz::bounded_allocator!();

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<CommandRequest>(data) else {
        return;
    };
    let json = serde_json::to_vec(&request).expect("a parsed body serialises");
    let back: CommandRequest = serde_json::from_slice(&json).expect("a serialised body parses");
    assert_eq!(back, request, "a command body survives a round trip");
});
