//! The allocator of Welfare Ledger's programs (`welfare-ledger`, `ledger-bench`):
//! mimalloc (decision 0016), told to give freed memory back to the system lazily
//! (decision 0020), in a process without transparent huge pages (decision 0025). The
//! library crates choose no allocator; a program embedding them chooses its own.
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
/// system can still take it back whenever it is short (decision 0020). And turns
/// transparent huge pages off for the process: a first touch then has the kernel zero
/// 4 KiB, not the 2 MiB around it, which a rebuild's scattered growth mostly leaves
/// unused (decision 0025). Call it first thing in `main`; calling it again changes
/// nothing. `MIMALLOC_PURGE_DECOMMITS` and `MIMALLOC_ALLOW_THP` in the environment,
/// which mimalloc reads itself, take precedence.
pub fn configure() {
    if std::env::var_os(PURGE_DECOMMITS_VARIABLE).is_none() {
        // SAFETY: `mi_option_set` stores an integer in mimalloc's option table (an
        // atomic store); any thread may call it at any time, and mimalloc reads the
        // option at each purge.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DECOMMITS, 0) }
    }
    if std::env::var_os(ALLOW_THP_VARIABLE).is_none() {
        // The flag belongs to the process and the kernel reads it at each page fault,
        // so it also covers what mimalloc mapped and advised before `main`. A kernel
        // that refuses it (built without transparent huge pages) has none to give:
        // nothing to do then.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}

/// Whether the process is barred from transparent huge pages (`PR_GET_THP_DISABLE`);
/// false where the kernel cannot say.
pub fn transparent_huge_pages_disabled() -> bool {
    rustix::thread::transparent_huge_pages_are_disabled().unwrap_or(false)
}

/// The environment variable through which mimalloc reads whether it may use
/// transparent huge pages (0 makes mimalloc itself turn them off for the process).
pub const ALLOW_THP_VARIABLE: &str = "MIMALLOC_ALLOW_THP";

/// The environment variable through which mimalloc reads `PURGE_DECOMMITS`.
pub const PURGE_DECOMMITS_VARIABLE: &str = "MIMALLOC_PURGE_DECOMMITS";

/// The value mimalloc now uses for `PURGE_DECOMMITS` (1: decommit, 0: reset).
pub fn purge_decommits() -> std::ffi::c_long {
    // SAFETY: `mi_option_get` reads an integer from mimalloc's option table; any
    // thread may call it at any time.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DECOMMITS) }
}
