//! How many threads ferrograd's kernels may use: one process-wide setting, read by the
//! worker pool, the partitioner and every parallel threshold.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Environment variable read once, on first use, for the default thread count.
pub const THREADS_ENV: &str = "FERROGRAD_NUM_THREADS";

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Number of threads ferrograd's kernels may use.
///
/// Defaults to `FERROGRAD_NUM_THREADS` when set to a positive integer, else to the number
/// of available cores. Change it with [`set_num_threads`].
///
/// ```
/// use ferrograd_linalg::cpu::{num_threads, set_num_threads};
/// set_num_threads(1);
/// assert_eq!(num_threads(), 1);
/// ```
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = std::env::var(THREADS_ENV)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(available_cores);
            THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Sets the number of threads ferrograd's kernels may use (at least 1), like
/// `torch.set_num_threads`.
pub fn set_num_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

/// The number of cores the operating system lets this process use (1 if unknown).
pub(crate) fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
