//! The allocator of Welfare Ledger's programs (`welfare-ledger`, `ledger-bench`):
//! mimalloc (decision 0016), told to give freed memory back to the system lazily
//! (decision 0020). The library crates choose no allocator; a program embedding them
//! chooses its own.
//!
//! ```no_run
//! #[global_allocator]
//! static GLOBAL: ledger_alloc::Allocator = ledger_alloc::Allocator;
//!
//! fn main() {
//!     ledger_alloc::configure();
//! }
//! ```
// One foreign call (`mi_option_set`), in `configure`.
#![allow(unsafe_code)]

/// The global allocator to install.
pub use mimalloc::MiMalloc as Allocator;

use libmimalloc_sys::mi_option_t;

/// mimalloc 3's `mi_option_purge_decommits` (the sixth entry of `mi_option_e` in
/// `include/mimalloc.h`): whether a purge decommits memory (`MADV_DONTNEED`: the next
/// use faults in fresh zeroed pages) or resets it (`MADV_FREE`: the kernel takes the
/// pages back only when it needs them). `libmimalloc-sys` names only mimalloc 2's
/// options.
pub const PURGE_DECOMMITS: mi_option_t = 5;

/// Makes mimalloc purge freed memory with `MADV_FREE` instead of `MADV_DONTNEED`:
/// memory freed and allocated again within a rebuild, or by the next rebuild, is then
/// reused in place instead of faulted in and zeroed by the kernel once more, while the
/// system can still take it back whenever it is short (decision 0020). Call it first
/// thing in `main`; calling it again changes nothing. `MIMALLOC_PURGE_DECOMMITS` in
/// the environment, which mimalloc reads itself, takes precedence.
pub fn configure() {
    if std::env::var_os(PURGE_DECOMMITS_VARIABLE).is_some() {
        return;
    }
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table (an atomic
    // store); any thread may call it at any time, and mimalloc reads the option at
    // each purge.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DECOMMITS, 0) }
}

/// The environment variable through which mimalloc reads `PURGE_DECOMMITS`.
pub const PURGE_DECOMMITS_VARIABLE: &str = "MIMALLOC_PURGE_DECOMMITS";

/// The value mimalloc now uses for `PURGE_DECOMMITS` (1: decommit, 0: reset).
pub fn purge_decommits() -> std::ffi::c_long {
    // SAFETY: `mi_option_get` reads an integer from mimalloc's option table; any
    // thread may call it at any time.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DECOMMITS) }
}
