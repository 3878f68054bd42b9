//! A global allocator that counts the allocations of the threads that ask
//! for it, and [`allocations`], which counts those of a request loop. Shared
//! by the allocation tests and the instruction bench: `mod counting_alloc;`
//! installs it.
#![allow(dead_code)] // each user takes what it needs

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;

/// Requests before counting: lazy statics and buffers allocate once.
pub const WARM_UP: u64 = 100;
/// Requests counted.
pub const REQUESTS: u64 = 1000;

struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Counts one allocation if this thread is counting. Must not allocate:
/// the thread-locals are const-initialised and have no destructor.
fn count_allocation() {
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Heap allocations on this thread over [`REQUESTS`] runs of `request`,
/// after [`WARM_UP`] runs. Everything runs on the calling thread: the
/// futures are awaited on the test's current-thread runtime.
pub async fn allocations<F, Fut>(mut request: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..WARM_UP {
        request().await;
    }
    allocations_in(async {
        for _ in 0..REQUESTS {
            request().await;
        }
    })
    .await
}

/// Heap allocations on this thread while `f` runs.
pub async fn allocations_in<F: Future<Output = ()>>(f: F) -> u64 {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|counting| counting.set(true));
    f.await;
    COUNTING.with(|counting| counting.set(false));
    ALLOCATIONS.with(Cell::get)
}
