//! The one partitioner: how a kernel's output is cut into pieces for the worker pool.
//!
//! Every parallel loop of the stack goes through these functions, which decide how many
//! pieces to make from [`num_threads`] and a threshold of [`crate::cpu::thresholds`], and
//! run the pieces on [`crate::cpu::pool`] (the calling thread included). Below the
//! threshold, or with one thread, the body runs once on the whole range, on the calling
//! thread, with no synchronisation at all.
//!
//! - [`ranges`]: disjoint index ranges (a matrix product's output blocks);
//! - [`ranges_mut`]: the same ranges of several buffers (an optimizer's weights and
//!   state);
//! - [`chunks_mut`]: disjoint chunks of one output slice (element-wise kernels);
//! - [`rows_mut`]: disjoint blocks of whole rows of one output (softmax, row reductions);
//! - [`row_blocks`] and [`items`]: blocks of rows when a kernel writes several outputs
//!   at once (a loss and its per-row statistics; a norm's output and partial gradients).
//!
//! ```
//! use ferrograd_linalg::cpu::{partition, thresholds};
//!
//! let x: Vec<f32> = (0..300_000).map(|i| i as f32).collect();
//! let mut y = vec![0.0f32; x.len()];
//! partition::chunks_mut(&mut y, thresholds::ELEMENTWISE, |start, out| {
//!     for (o, &v) in out.iter_mut().zip(&x[start..]) {
//!         *o = 2.0 * v;
//!     }
//! });
//! assert_eq!(y[299_999], 599_998.0);
//! ```

use crate::cpu::pool;
use crate::cpu::threads::num_threads;
use std::ops::Range;

/// Blocks per thread for row kernels: a thread that starts late leaves little for the
/// others to wait on.
const BLOCKS_PER_THREAD: usize = 4;

/// Splits `0..len` into at most `parts` contiguous ranges of at least `min_len` elements
/// (the last may be shorter) and runs `body(range)` for each on the pool.
pub fn ranges(len: usize, parts: usize, min_len: usize, body: &(dyn Fn(Range<usize>) + Sync)) {
    let parts = parts.min(len / min_len.max(1)).max(1);
    let chunk = len.div_ceil(parts);
    // Rounding the chunk up can leave the last parts empty (len 1281 in 40 parts of 33);
    // run only the non-empty ones.
    let parts = len.div_ceil(chunk.max(1)).max(1);
    if parts == 1 {
        return body(0..len);
    }
    pool::run(parts, &|part| {
        let start = part * chunk;
        body(start.min(len)..(start + chunk).min(len));
    });
}

/// The length of each piece when `len` elements are split over the threads, or `None`
/// when they should stay on the calling thread (one thread allowed, or fewer than
/// `threshold` elements). Pieces hold at least `threshold / 8` elements.
pub fn piece_len(len: usize, threshold: usize) -> Option<usize> {
    let threads = num_threads();
    (threads > 1 && len >= threshold && len > 1)
        .then(|| len.div_ceil(threads).max(threshold / 8).max(1))
}

/// Runs `body(start, chunk)` over `out` cut into consecutive chunks: one chunk per thread
/// when `out` has at least `threshold` elements (see [`piece_len`]), else the whole slice
/// on the calling thread. `start` is the chunk's offset in `out`.
pub fn chunks_mut<T: Send>(out: &mut [T], threshold: usize, body: impl Fn(usize, &mut [T]) + Sync) {
    match piece_len(out.len(), threshold) {
        Some(piece) => chunks_of_mut(out, piece, body),
        None => body(0, out),
    }
}

/// Runs `body(start, chunk)` for consecutive chunks of `out` of `piece` elements (the last
/// may be shorter) on the pool, whatever the size.
pub fn chunks_of_mut<T: Send>(out: &mut [T], piece: usize, body: impl Fn(usize, &mut [T]) + Sync) {
    /// The output's base pointer, shared by the tasks (each takes a disjoint chunk).
    struct Base<T>(*mut T);
    // SAFETY: tasks only form disjoint sub-slices from it (see below).
    unsafe impl<T: Send> Sync for Base<T> {}
    impl<T> Base<T> {
        fn get(&self) -> *mut T {
            self.0
        }
    }
    let len = out.len();
    let piece = piece.max(1);
    let tasks = len.div_ceil(piece);
    if tasks <= 1 {
        return body(0, out);
    }
    let base = Base(out.as_mut_ptr());
    pool::run(tasks, &|task| {
        let start = task * piece;
        let end = (start + piece).min(len);
        // SAFETY: `start..end` lies inside `out`, chunks of different tasks do not
        // overlap, and `out` stays mutably borrowed until `run` returns.
        let chunk = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
        body(start, chunk);
    });
}

/// Runs `body(range, slices)` over the same ranges of several mutable buffers of `len`
/// elements (an optimizer's weights and state): one range per thread when `len` is at
/// least `threshold` (see [`piece_len`]), else `0..len` on the calling thread. A buffer
/// may also be empty (a state the options do not use); its slices are then empty too.
///
/// ```
/// use ferrograd_linalg::cpu::partition;
/// let (mut w, mut m) = (vec![1.0f32; 1000], vec![0.0f32; 1000]);
/// let g = vec![0.5f32; 1000];
/// partition::ranges_mut(1000, [&mut w, &mut m], 1, |range, [w, m]| {
///     for ((w, m), &g) in w.iter_mut().zip(m.iter_mut()).zip(&g[range]) {
///         *m = 0.9 * *m + g;
///         *w -= *m;
///     }
/// });
/// assert_eq!((w[999], m[0]), (0.5, 0.5));
/// ```
///
/// # Panics
/// When a buffer's length is neither `len` nor 0 (a caller's bug, not a user's input).
pub fn ranges_mut<T: Send, const N: usize>(
    len: usize,
    buffers: [&mut [T]; N],
    threshold: usize,
    body: impl Fn(Range<usize>, [&mut [T]; N]) + Sync,
) {
    assert!(
        buffers.iter().all(|b| b.len() == len || b.is_empty()),
        "partition::ranges_mut: every buffer must hold {len} elements or none"
    );
    let Some(piece) = piece_len(len, threshold) else {
        return body(0..len, buffers);
    };
    /// Base pointers and lengths of the buffers, shared by the tasks (each forms
    /// disjoint sub-slices from them).
    struct Bases<T, const N: usize>([(*mut T, usize); N]);
    // SAFETY: tasks only form disjoint sub-slices from these pointers (see below).
    unsafe impl<T: Send, const N: usize> Sync for Bases<T, N> {}
    impl<T, const N: usize> Bases<T, N> {
        /// # Safety
        /// `range` must lie inside `0..len`, and no two live results may overlap.
        unsafe fn slices<'a>(&self, range: &Range<usize>) -> [&'a mut [T]; N] {
            self.0.map(|(ptr, n)| {
                if n == 0 {
                    &mut []
                } else {
                    // SAFETY: guaranteed by the caller; every non-empty buffer holds
                    // `len` elements (checked above).
                    unsafe { std::slice::from_raw_parts_mut(ptr.add(range.start), range.len()) }
                }
            })
        }
    }
    let bases = Bases(buffers.map(|b| (b.as_mut_ptr(), b.len())));
    ranges(len, num_threads(), piece, &|range| {
        // SAFETY: the ranges are disjoint and inside `0..len`, and the buffers stay
        // mutably borrowed until `ranges` returns.
        let slices = unsafe { bases.slices(&range) };
        body(range, slices);
    });
}

/// How many rows of `row_len` elements go in one block: all `rows` (one block, on the
/// calling thread) below `threshold` elements in total or with one thread, else about
/// four blocks per thread of at least `threshold / 8` elements each.
pub fn row_blocks(rows: usize, row_len: usize, threshold: usize) -> usize {
    let total = rows.saturating_mul(row_len);
    let threads = num_threads();
    if threads <= 1 || rows <= 1 || total < threshold {
        return rows.max(1);
    }
    let by_size = (total / (threshold / 8).max(1)).max(1);
    let blocks = (threads * BLOCKS_PER_THREAD).min(rows).min(by_size).max(1);
    rows.div_ceil(blocks).max(1)
}

/// Runs `body(start, block)` over `out`, rows of `row_len` elements, in blocks of whole
/// rows chosen by [`row_blocks`]; `start` is the block's offset (in elements) in `out`.
pub fn rows_mut<T: Send>(
    out: &mut [T],
    row_len: usize,
    threshold: usize,
    body: impl Fn(usize, &mut [T]) + Sync,
) {
    let rows = out.len().checked_div(row_len).unwrap_or(0);
    let per = row_blocks(rows, row_len, threshold);
    if per >= rows {
        return body(0, out);
    }
    chunks_of_mut(out, per * row_len.max(1), body);
}

/// Runs `body` on every item on the pool, the calling thread included; for kernels that
/// write several outputs, whose per-block slices the caller zips into items (one block
/// of rows each, sized by [`row_blocks`]). One item runs on the calling thread directly.
pub fn items<I: Send>(items: Vec<I>, body: impl Fn(I) + Sync) {
    if items.len() <= 1 {
        return items.into_iter().for_each(body);
    }
    // Each task takes its own item out of its slot, exactly once.
    let slots: Vec<std::sync::Mutex<Option<I>>> = items
        .into_iter()
        .map(|item| std::sync::Mutex::new(Some(item)))
        .collect();
    pool::run(slots.len(), &|task| {
        let item = slots[task]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(item) = item {
            body(item);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::threads::set_num_threads;
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

    #[test]
    fn ranges_cover_the_input_once() {
        set_num_threads(2);
        let cases = [
            (10, 4, 1),
            (1000, 2, 300),
            (5, 8, 16),
            (0, 2, 1),
            (1281, 40, 32),
        ];
        for (len, parts, min_len) in cases {
            let hits: Vec<AtomicU32> = (0..len).map(|_| AtomicU32::new(0)).collect();
            ranges(len, parts, min_len, &|range| {
                assert!(!range.is_empty() || len == 0, "empty range for {len}");
                assert!(range.len() >= min_len.min(len) || range.end == len);
                for i in range {
                    hits[i].fetch_add(1, SeqCst);
                }
            });
            assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "{len} {parts}");
        }
    }

    #[test]
    fn chunks_and_rows_cover_the_output_once_in_whole_rows() {
        set_num_threads(2);
        for (len, row_len, threshold) in
            [(0, 3, 1), (10, 5, 1), (4096, 64, 256), (1000, 7, 1 << 20)]
        {
            let mut out = vec![0u32; len - len % row_len];
            rows_mut(&mut out, row_len, threshold, |start, block| {
                assert_eq!(start % row_len, 0);
                assert_eq!(block.len() % row_len, 0);
                block.iter_mut().for_each(|v| *v += 1);
            });
            assert!(out.iter().all(|&v| v == 1));
            let mut flat = vec![0u32; len];
            chunks_mut(&mut flat, threshold, |start, chunk| {
                for (i, v) in chunk.iter_mut().enumerate() {
                    *v += (start + i) as u32 + 1;
                }
            });
            assert!(flat.iter().enumerate().all(|(i, &v)| v == i as u32 + 1));
        }
    }

    #[test]
    fn one_thread_or_a_small_input_stays_in_one_piece() {
        set_num_threads(2);
        assert_eq!(piece_len(100, 1 << 17), None);
        assert_eq!(row_blocks(64, 100, 1 << 17), 64);
        assert!(row_blocks(64, 32_000, 1 << 17) < 64);
        let total = AtomicU32::new(0);
        items((0..5).collect(), |i: u32| {
            total.fetch_add(i, SeqCst);
        });
        assert_eq!(total.into_inner(), 10);
    }
}
