//! A global allocator that puts a cap on what a fuzz target may ask for.
//!
//! A loader that trusts a length field from its input (`Vec::with_capacity(header.len)`)
//! does not panic: it asks the allocator for terabytes, and the process dies in the
//! allocator. Fuzzing must find those inputs too, so every allocation made while a target
//! runs ("armed") is checked against two caps:
//!
//! - the size of a single request (default 64 MiB: no loader here needs more for a
//!   fuzz input of at most a few kilobytes, so a larger request means a size taken from
//!   the input unchecked);
//! - the bytes live in the whole process (default 1 GiB: many moderate requests).
//!
//! Neither panicking nor returning null from a [`GlobalAlloc`] is a way out (unwinding
//! out of the allocator is undefined behaviour; a null makes the standard library abort
//! with "memory allocation failed", without saying which input). So a request over a cap
//! *trips*: the allocator disarms itself, calls the hook set with [`set_trip_hook`]
//! (which writes a record for the supervising process: which execution, which cap), prints
//! a one-line explanation, and aborts. The fuzzer's supervisor sees the worker die, reads
//! the record, regenerates that execution's input (inputs are a pure function of the seed
//! and the execution number), saves it as a regression and starts a new worker after it.
//!
//! Outside armed runs the allocator only counts; its cost is two relaxed atomic
//! operations per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// The allocator installed by this crate (`#[global_allocator]` in `lib.rs`): the system
/// allocator plus counting and the caps described in the [module docs](self).
#[derive(Debug)]
pub struct CapAllocator;

/// Number of target runs in progress (tests may replay on several threads at once).
static ARMED: AtomicUsize = AtomicUsize::new(0);
static REQUEST_CAP: AtomicUsize = AtomicUsize::new(64 << 20);
static LIVE_CAP: AtomicUsize = AtomicUsize::new(1 << 30);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static PEAK_LIVE: AtomicUsize = AtomicUsize::new(0);
static TRIPPED: AtomicBool = AtomicBool::new(false);
static HOOK: Mutex<Option<fn(&Trip)>> = Mutex::new(None);

/// A request that went over a cap.
#[derive(Debug, Clone, Copy)]
pub struct Trip {
    /// `"request"` (one allocation over the per-request cap) or `"live"` (the process's
    /// live bytes over the total cap).
    pub cap_kind: &'static str,
    /// Bytes asked for.
    pub size: usize,
    /// Bytes live before the request.
    pub live: usize,
    /// The cap that was exceeded, in bytes.
    pub cap: usize,
}

impl std::fmt::Display for Trip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cap_kind {
            "request" => write!(
                f,
                "allocation of {} bytes exceeds the per-request cap of {} bytes",
                self.size, self.cap
            ),
            _ => write!(
                f,
                "allocation of {} bytes with {} bytes live exceeds the live-memory cap of {} bytes",
                self.size, self.live, self.cap
            ),
        }
    }
}

/// Sets both caps, in bytes.
pub fn set_caps(request: usize, live: usize) {
    REQUEST_CAP.store(request, Relaxed);
    LIVE_CAP.store(live, Relaxed);
}

/// The per-request and live caps, in bytes.
pub fn caps() -> (usize, usize) {
    (REQUEST_CAP.load(Relaxed), LIVE_CAP.load(Relaxed))
}

/// Sets the function called (once, from inside the allocator, on the allocating thread)
/// when a cap is exceeded, before the process aborts. It may allocate and write files.
pub fn set_trip_hook(hook: fn(&Trip)) {
    *HOOK.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
}

/// Checks the allocations of the current scope against the caps until the guard drops.
#[derive(Debug)]
pub struct Armed(());

impl Armed {
    /// Arms the caps.
    pub fn new() -> Self {
        ARMED.fetch_add(1, Relaxed);
        Self(())
    }
}

impl Default for Armed {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED.fetch_sub(1, Relaxed);
    }
}

/// Bytes currently allocated through this allocator.
pub fn live() -> usize {
    LIVE.load(Relaxed)
}

/// The largest single request and the peak of live bytes seen while armed, since the
/// last call (which resets both).
pub fn take_high_water() -> (usize, usize) {
    (LARGEST.swap(0, Relaxed), PEAK_LIVE.swap(0, Relaxed))
}

#[inline]
fn check(size: usize) {
    if ARMED.load(Relaxed) == 0 {
        return;
    }
    LARGEST.fetch_max(size, Relaxed);
    let live = LIVE.load(Relaxed);
    let request_cap = REQUEST_CAP.load(Relaxed);
    let live_cap = LIVE_CAP.load(Relaxed);
    if size > request_cap {
        trip(Trip {
            cap_kind: "request",
            size,
            live,
            cap: request_cap,
        });
    }
    let total = live.saturating_add(size);
    if total > live_cap {
        trip(Trip {
            cap_kind: "live",
            size,
            live,
            cap: live_cap,
        });
    }
    PEAK_LIVE.fetch_max(total, Relaxed);
}

#[cold]
#[inline(never)]
fn trip(trip: Trip) -> ! {
    if TRIPPED.swap(true, Relaxed) {
        // The hook itself went over a cap: nothing sensible is left to do.
        std::process::abort();
    }
    // Disarm for good: the hook's own allocations (paths, the record) must pass.
    ARMED.store(0, Relaxed);
    let hook = *HOOK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(hook) = hook {
        hook(&trip);
    }
    eprintln!("ferrograd-fuzz: {trip}; aborting (the supervisor saves the input)");
    std::process::abort();
}

// SAFETY: every method forwards to `System` with the caller's layout and pointer; the
// bookkeeping around it never touches the memory handed out.
unsafe impl GlobalAlloc for CapAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through us) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        // SAFETY: as for `alloc`; `ptr` came from `System` with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            LIVE.fetch_add(new_size, Relaxed);
        }
        p
    }
}
