//! What the fuzz targets share: an allocator that refuses absurd allocations.
//!
//! Every target takes inputs of at most a few hundred KiB, and every parser and decoder
//! under test must allocate in proportion to its input (bincode's limits, serde's
//! cautious size hints). libFuzzer's own `-malloc_limit_mb` needs a sanitizer's malloc
//! hooks, which the smoke run (`-s none`) does not have; this allocator enforces the
//! bound in every build. An allocation above [`ALLOCATION_BYTES_MAX`] fails, so the
//! process aborts with "memory allocation of N bytes failed" and libFuzzer saves the
//! input as a crash.

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation a fuzz target may make.
pub const ALLOCATION_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The system allocator, refusing any allocation above [`ALLOCATION_BYTES_MAX`].
#[derive(Debug)]
pub struct BoundedAllocator;

// SAFETY: every call is forwarded unchanged to the system allocator, except that a
// request above the bound returns null, which `GlobalAlloc` allows for any request.
unsafe impl GlobalAlloc for BoundedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOCATION_BYTES_MAX {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOCATION_BYTES_MAX {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOCATION_BYTES_MAX {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Installs [`BoundedAllocator`] as the global allocator of a fuzz target:
/// `welfare_ledger_fuzz::bounded_allocator!();` at the top of the target.
#[macro_export]
macro_rules! bounded_allocator {
    () => {
        #[global_allocator]
        static ALLOCATOR: $crate::BoundedAllocator = $crate::BoundedAllocator;
    };
}
