//! Checked strided matrix views and the matrix-product kernel shared by the whole stack.
//!
//! `ferrograd-tensor` multiplies tensors through [`gemm`] on views of its own storage. A
//! large product is split into one sequential faer product per thread by the stack's
//! partitioner ([`crate::cpu::partition`]): over its output's longer side, or, when the
//! inner dimension is much longer than the output ([`SPLIT_INNER_RATIO`]), over the inner
//! dimension with the partial products added at the end. The threshold is
//! [`crate::cpu::thresholds::gemm_threshold`]. Each sequential product whose right
//! operand faer would read across rows (a weight gradient `gᵀ·x`) runs in pieces of
//! [`INNER_PIECE`] along the inner dimension.
//!
//! A small `f32` product (at most [`SMALL_MAX_WORK`] multiply-adds, such as attention's
//! per-head blocks) runs on the stack's own register-blocked AVX-512 kernel instead
//! ([`uses_small_kernel`]): faer's set-up per call costs more than such a product's
//! arithmetic. It sums each element in order of the inner index with fused
//! multiply-adds, so it agrees with faer to rounding, not to the bit.

use crate::cpu::thresholds::{GEMM_MIN_BLOCK, gemm_parallel, gemm_threshold};
use crate::cpu::{partition, pool};
use crate::{LinalgError, Scalar, small_gemm};

pub use crate::small_gemm::{SMALL_MAX_INNER, SMALL_MAX_WORK};

pub use crate::cpu::threads::{THREADS_ENV, num_threads, set_num_threads};
pub use crate::cpu::thresholds::GEMM_MIN_OUTPUT as PARALLEL_MIN_OUTPUT;

/// Smallest product size `m * n * k` that [`gemm`] splits over threads:
/// [`crate::cpu::thresholds::gemm_threshold`], where the measurement is.
pub fn parallel_threshold<T: Scalar>() -> usize {
    gemm_threshold::<T>()
}

/// Whether a product of this size should run on several threads
/// ([`crate::cpu::thresholds::gemm_parallel`]).
pub fn use_parallel<T: Scalar>(m: usize, n: usize, k: usize) -> bool {
    gemm_parallel::<T>(m, n, k)
}

/// The three views of one product, shared by the blocks of a parallel product.
#[derive(Clone, Copy)]
struct SendViews<T> {
    d: RawMatMut<T>,
    l: RawMat<T>,
    r: RawMat<T>,
}

impl<T: Copy> SendViews<T> {
    /// A copy; a method, so closures capture the whole (`Sync`) struct, not its fields.
    fn get(&self) -> Self {
        *self
    }
}

// SAFETY: the blocks built from these views write disjoint parts of `d` and only read
// `l` and `r`; `gemm` keeps the borrows they come from alive until every block is done.
unsafe impl<T: Send + Sync> Sync for SendViews<T> {}
unsafe impl<T: Send> Send for SendViews<T> {}

/// The raw views handed to faer, at their former path.
#[doc(hidden)]
pub use crate::scalar::{RawMat, RawMatMut};

/// Checks that every element `offset + i*rs + j*cs` lies in `0..len`; returns the reason
/// otherwise.
fn check_bounds(
    len: usize,
    offset: usize,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
) -> Result<(), String> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let span = |extent: usize, stride: isize| -> Option<(isize, isize)> {
        let last = isize::try_from(extent - 1).ok()?.checked_mul(stride)?;
        Some(if stride < 0 { (last, 0) } else { (0, last) })
    };
    let (Some((r_lo, r_hi)), Some((c_lo, c_hi))) = (span(rows, rs), span(cols, cs)) else {
        return Err("strides overflow".into());
    };
    let base = isize::try_from(offset).map_err(|_| "offset overflows".to_string())?;
    // Checked: a wrapped sum could pass the bounds test below and let `gemm` read outside
    // the buffer.
    let (Some(lo), Some(hi)) = (
        base.checked_add(r_lo).and_then(|x| x.checked_add(c_lo)),
        base.checked_add(r_hi).and_then(|x| x.checked_add(c_hi)),
    ) else {
        return Err(format!(
            "{rows}x{cols} view at offset {offset} with strides ({rs}, {cs}): the addressed \
             elements overflow"
        ));
    };
    if lo < 0 || hi >= len as isize {
        return Err(format!(
            "{rows}x{cols} view at offset {offset} with strides ({rs}, {cs}) addresses \
             elements {lo}..={hi} of a buffer of {len}"
        ));
    }
    Ok(())
}

/// A read-only strided matrix view over a slice, checked to stay inside it.
#[derive(Debug, Clone, Copy)]
pub struct MatView<'a, T> {
    data: &'a [T],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a, T: Scalar> MatView<'a, T> {
    /// A view of `rows x cols` elements where element `(i, j)` is
    /// `data[offset + i*row_stride + j*col_stride]`.
    ///
    /// # Errors
    /// [`LinalgError::InvalidView`] when any element falls outside `data`.
    pub fn new(
        data: &'a [T],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, LinalgError> {
        check_bounds(data.len(), offset, rows, cols, row_stride, col_stride).map_err(|reason| {
            LinalgError::InvalidView {
                op: "MatView::new",
                reason,
            }
        })?;
        Ok(Self {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A dense row-major view.
    ///
    /// # Errors
    /// [`LinalgError::DataLength`] when `data.len() != rows * cols`.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Result<Self, LinalgError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(LinalgError::DataLength {
                op: "MatView::row_major",
                shape: [rows, cols].into(),
                len: data.len(),
            });
        }
        Ok(Self {
            data,
            offset: 0,
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The transposed view (free: strides swap).
    pub fn transpose(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Element `(i, j)`, or `None` out of range.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        (i < self.rows && j < self.cols).then(|| {
            let idx =
                self.offset as isize + i as isize * self.row_stride + j as isize * self.col_stride;
            self.data[idx as usize]
        })
    }

    fn raw(&self) -> RawMat<T> {
        // An empty view may sit at offset == len; faer never reads through it.
        let ptr = if self.offset <= self.data.len() {
            self.data.as_ptr().wrapping_add(self.offset)
        } else {
            self.data.as_ptr()
        };
        RawMat {
            ptr,
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }
}

/// A mutable strided matrix view, checked to stay inside its slice and never alias itself.
#[derive(Debug)]
pub struct MatViewMut<'a, T> {
    data: &'a mut [T],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a, T: Scalar> MatViewMut<'a, T> {
    /// A mutable view; see [`MatView::new`]. Strides must be positive and distinct
    /// elements must not share memory.
    ///
    /// # Errors
    /// [`LinalgError::InvalidView`] when the view leaves `data` or aliases itself.
    pub fn new(
        data: &'a mut [T],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, LinalgError> {
        let invalid = |reason: String| LinalgError::InvalidView {
            op: "MatViewMut::new",
            reason,
        };
        check_bounds(data.len(), offset, rows, cols, row_stride, col_stride).map_err(invalid)?;
        if rows == 0 || cols == 0 {
            // An empty view has no elements to overlap: any strides will do (a contiguous
            // empty tensor of shape [2, 0] has strides [0, 1]).
        } else if rows > 1 && cols > 1 {
            let (small, small_extent, big) = if row_stride.abs() <= col_stride.abs() {
                (row_stride.abs(), rows, col_stride.abs())
            } else {
                (col_stride.abs(), cols, row_stride.abs())
            };
            if small == 0 || (big as usize) < small as usize * small_extent {
                return Err(invalid(format!(
                    "strides ({row_stride}, {col_stride}) make elements of a {rows}x{cols} \
                     output overlap"
                )));
            }
        } else if (rows > 1 && row_stride == 0) || (cols > 1 && col_stride == 0) {
            return Err(invalid(
                "a zero stride makes output elements overlap".into(),
            ));
        }
        Ok(Self {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A dense row-major mutable view.
    ///
    /// # Errors
    /// [`LinalgError::DataLength`] when `data.len() != rows * cols`.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self, LinalgError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(LinalgError::DataLength {
                op: "MatViewMut::row_major",
                shape: [rows, cols].into(),
                len: data.len(),
            });
        }
        Ok(Self {
            data,
            offset: 0,
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    fn raw(&mut self) -> RawMatMut<T> {
        let ptr = if self.offset <= self.data.len() {
            self.data.as_mut_ptr().wrapping_add(self.offset)
        } else {
            self.data.as_mut_ptr()
        };
        RawMatMut {
            ptr,
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }
}

/// `dst = alpha * lhs * rhs`, or `dst += alpha * lhs * rhs` when `accumulate`, on faer's
/// kernels, or on the stack's own for a small `f32` product on an AVX-512 CPU
/// ([`uses_small_kernel`]). Sequential or parallel by [`use_parallel`]; a parallel
/// product sums in a different order than the sequential one when it is split over the inner dimension
/// (see the module documentation), so the two then agree to rounding, not to the bit.
///
/// ```
/// use ferrograd_linalg::kernel::{gemm, MatView, MatViewMut};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let mut c = [0.0f32; 4];
/// let av = MatView::row_major(&a, 2, 2)?;
/// gemm(MatViewMut::row_major(&mut c, 2, 2)?, av, av.transpose(), 1.0, false)?;
/// assert_eq!(c, [5.0, 11.0, 11.0, 25.0]); // A·Aᵀ
/// # Ok::<(), ferrograd_linalg::LinalgError>(())
/// ```
///
/// # Errors
/// [`LinalgError::ShapeMismatch`] when the shapes do not chain.
pub fn gemm<T: Scalar>(
    mut dst: MatViewMut<'_, T>,
    lhs: MatView<'_, T>,
    rhs: MatView<'_, T>,
    alpha: T,
    accumulate: bool,
) -> Result<(), LinalgError> {
    if lhs.cols != rhs.rows {
        return Err(LinalgError::ShapeMismatch {
            op: "matmul",
            lhs: [lhs.rows, lhs.cols].into(),
            rhs: [rhs.rows, rhs.cols].into(),
        });
    }
    if dst.rows != lhs.rows || dst.cols != rhs.cols {
        return Err(LinalgError::ShapeMismatch {
            op: "matmul (output)",
            lhs: [dst.rows, dst.cols].into(),
            rhs: [lhs.rows, rhs.cols].into(),
        });
    }
    if dst.rows == 0 || dst.cols == 0 {
        return Ok(());
    }
    let (d, l, r) = (dst.raw(), lhs.raw(), rhs.raw());
    if small_gemm::applies::<T>(d.rows, d.cols, lhs.cols, d.col_stride) {
        // SAFETY: as for faer below; `applies` holds.
        unsafe { small_gemm::gemm(d, l, r, alpha, accumulate) };
        return Ok(());
    }
    if !use_parallel::<T>(lhs.rows, rhs.cols, lhs.cols) {
        // SAFETY: all three views were bounds-checked at construction; `dst` is a unique
        // borrow, so it cannot overlap the shared borrows `lhs` and `rhs`, and
        // `MatViewMut::new` rejected self-aliasing strides.
        unsafe { sequential_product(d, l, r, alpha, accumulate) };
        return Ok(());
    }
    let views = SendViews { d, l, r };
    if splits_inner::<T>(d.rows, d.cols, lhs.cols) {
        split_inner(views, alpha, accumulate);
        return Ok(());
    }
    // Parallel: split the output along its longer side into one block per thread, each
    // a sequential product, on the spinning pool (see `crate::cpu::pool` for why not
    // rayon).
    let split_rows = d.rows >= d.cols;
    let len = if split_rows { d.rows } else { d.cols };
    partition::ranges(len, num_threads(), GEMM_MIN_BLOCK, &|range| {
        let SendViews {
            mut d,
            mut l,
            mut r,
        } = views.get();
        let start = range.start as isize;
        if split_rows {
            d.ptr = d.ptr.wrapping_offset(start * d.row_stride);
            d.rows = range.len();
            l.ptr = l.ptr.wrapping_offset(start * l.row_stride);
            l.rows = range.len();
        } else {
            d.ptr = d.ptr.wrapping_offset(start * d.col_stride);
            d.cols = range.len();
            r.ptr = r.ptr.wrapping_offset(start * r.col_stride);
            r.cols = range.len();
        }
        // SAFETY: as above for the whole views; each block is a sub-view of them
        // (`range` lies inside `0..len`), and the blocks of `dst` are disjoint.
        unsafe { sequential_product(d, l, r, alpha, accumulate) };
    });
    Ok(())
}

/// The inner-dimension length above which [`gemm`] runs a product whose right operand
/// faer would read across its rows (a weight gradient `gᵀ·x` into a row-major output) as
/// several faer calls, and the length of each piece along the inner dimension.
pub const INNER_PIECE: usize = 256;

/// The smallest output side [`sequential_product`] splits: a narrower product (a
/// matrix-vector one) gains nothing and would pay one call per piece.
const INNER_PIECE_MIN_SIDE: usize = 16;

/// Whether faer reads the right operand of its column-major form across rows: it makes the
/// output column-major (swapping and transposing the operands when the output's rows are
/// contiguous) and reads that form's right operand unpacked, four columns at a time. When
/// those columns are not contiguous, each step along the inner dimension reads another
/// row, `k` lines per pass, and with `k` past a few hundred they no longer fit in L1 with
/// the packed left operand. A weight gradient `dW = gᵀ·x` (a transposed `g` on the left of
/// a row-major output) is such a product.
fn reads_right_across_rows<T>(d: &RawMatMut<T>, l: &RawMat<T>, r: &RawMat<T>) -> bool {
    let right_row_stride = if d.row_stride.unsigned_abs() > d.col_stride.unsigned_abs() {
        l.col_stride
    } else {
        r.row_stride
    };
    right_row_stride.unsigned_abs() != 1
}

/// The operands of `l·r` narrowed to the inner range `start..start + len`: columns of
/// `l`, rows of `r`. Their product is that range's share of the whole product.
///
/// Pointer arithmetic only (`wrapping_offset`); the caller keeps `start + len` within
/// the inner dimension before the views are read.
fn inner_range<T>(l: RawMat<T>, r: RawMat<T>, start: usize, len: usize) -> (RawMat<T>, RawMat<T>) {
    let left = RawMat {
        ptr: l.ptr.wrapping_offset(start as isize * l.col_stride),
        cols: len,
        ..l
    };
    let right = RawMat {
        ptr: r.ptr.wrapping_offset(start as isize * r.row_stride),
        rows: len,
        ..r
    };
    (left, right)
}

/// One sequential faer product, in pieces of [`INNER_PIECE`] along the inner dimension
/// when faer would read its right operand across rows ([`reads_right_across_rows`]) and
/// both output sides are at least 16: each piece's rows stay in L1 (faer's own pieces are
/// 512 long). Measured on an AVX2 Zen 3 at one thread, on the `dW = gᵀ·x` shapes of the
/// training steps (k = 512–4,096): 5–25% less time than one call; `lm_step` 4.5% less.
///
/// # Safety
/// As [`Scalar::gemm_unchecked`].
unsafe fn sequential_product<T: Scalar>(
    d: RawMatMut<T>,
    l: RawMat<T>,
    r: RawMat<T>,
    alpha: T,
    accumulate: bool,
) {
    let k = l.cols;
    if k <= INNER_PIECE
        || d.rows.min(d.cols) < INNER_PIECE_MIN_SIDE
        || !reads_right_across_rows(&d, &l, &r)
    {
        // SAFETY: forwarded.
        unsafe { T::gemm_unchecked(d, l, r, alpha, accumulate, false) };
        return;
    }
    let mut start = 0;
    while start < k {
        let len = INNER_PIECE.min(k - start);
        let (lp, rp) = inner_range(l, r, start, len);
        // SAFETY: sub-views of the checked operands (`start + len <= k`); the first piece
        // writes or adds as asked, the later ones add to it.
        unsafe { T::gemm_unchecked(d, lp, rp, alpha, accumulate || start > 0, false) };
        start += len;
    }
}

/// Whether [`gemm`] runs an `m×k · k×n` product writing an output whose rows are
/// contiguous on its small-product kernel: `f32`, at most [`SMALL_MAX_WORK`]
/// multiply-adds, at least 16 output columns, an inner dimension from 1 to
/// [`SMALL_MAX_INNER`], and a CPU with AVX-512 (see the [module documentation](self)).
///
/// ```
/// use ferrograd_linalg::kernel::uses_small_kernel;
/// use ferrograd_linalg::simd::{self, Level};
/// // One head's attention scores for a block of 32 queries.
/// assert_eq!(uses_small_kernel::<f32>(32, 128, 16), simd::level() == Level::Avx512);
/// assert!(!uses_small_kernel::<f32>(1024, 1024, 1024));
/// assert!(!uses_small_kernel::<f64>(32, 128, 16));
/// ```
pub fn uses_small_kernel<T: Scalar>(m: usize, n: usize, k: usize) -> bool {
    small_gemm::applies::<T>(m, n, k, 1)
}

/// A parallel product whose inner dimension is at least this many times its output's
/// longer side is split over the inner dimension instead of the output.
///
/// A weight gradient `dW = gᵀ·x` of a layer over `B·T` rows is such a product (`[384, 128]`
/// out of 1,024 rows in `lm_step`): split over its output, each thread reads every row of
/// `g` and `x`, half of them written by the other thread's previous kernel, and works on
/// a 64-row sliver; split over the rows, each thread reads the half it wrote and forms a
/// whole partial product, and the partials are added once (`m·n` elements, against
/// `(m + n)·k / 2` read across threads the other way).
pub const SPLIT_INNER_RATIO: usize = 2;

/// The largest output (`m·n` elements) split over the inner dimension: each thread but
/// the first needs a partial output of this size (4 MB in f32), so a larger one, whose
/// output blocks are large enough to share the work anyway, is split over the output.
pub const SPLIT_INNER_MAX_OUTPUT: usize = 1 << 20;

/// The most scratch (bytes) the inner-dimension split keeps per calling thread for its
/// partial outputs: the parts are capped so that `(parts − 1)·m·n` elements fit.
const SPLIT_INNER_SCRATCH: usize = 16 << 20;

/// Whether [`gemm`] splits an `m×k · k×n` product over its inner dimension: a parallel
/// product ([`use_parallel`]) whose `k` is at least [`SPLIT_INNER_RATIO`] times the
/// output's longer side, with an output of at most [`SPLIT_INNER_MAX_OUTPUT`] elements.
pub fn splits_inner<T: Scalar>(m: usize, n: usize, k: usize) -> bool {
    use_parallel::<T>(m, n, k)
        && k >= SPLIT_INNER_RATIO.saturating_mul(m.max(n))
        && m.saturating_mul(n) <= SPLIT_INNER_MAX_OUTPUT
}

/// `dst (+)= alpha · lhs · rhs` as one partial product per inner-dimension block: the first
/// (usually on the calling thread, which takes tasks from the front) into `dst` itself,
/// the others into scratch, added to `dst` afterwards, by row blocks on the same threads.
fn split_inner<T: Scalar>(views: SendViews<T>, alpha: T, accumulate: bool) {
    let SendViews { d, l, .. } = views;
    let (rows, cols, inner) = (d.rows, d.cols, l.cols);
    let size = rows * cols;
    // One part per thread that can really run (not per requested thread: a part is a
    // whole extra output to form and add), and no more partials than the scratch cap.
    let by_scratch = 1 + SPLIT_INNER_SCRATCH / (size * size_of::<T>()).max(1);
    let parts = pool::capacity()
        .min(by_scratch)
        .min(inner / GEMM_MIN_BLOCK)
        .max(1);
    let chunk = inner.div_ceil(parts);
    let parts = inner.div_ceil(chunk);
    PARTIALS.with(|cell| {
        // Taken out of the cell, so a nested call (none today) would get its own.
        let mut words = cell.take();
        // Words of 8 bytes hold any `Scalar` (f32, f64) at its alignment; the product
        // writes every element before the sum below reads it, so no zeroing is needed.
        let need = ((parts - 1) * size * size_of::<T>()).div_ceil(8);
        if words.len() < need {
            words.resize(need, 0);
        }
        let base = words.as_mut_ptr().cast::<T>();
        let scratch = SendViews {
            d: RawMatMut {
                ptr: base,
                rows,
                cols,
                row_stride: cols as isize,
                col_stride: 1,
            },
            l: views.l,
            r: views.r,
        };
        pool::run(parts, &|part| {
            let SendViews { mut d, l, r } = views.get();
            let start = part * chunk;
            let len = chunk.min(inner - start);
            let (l, r) = inner_range(l, r, start, len);
            let accumulate = if part == 0 {
                accumulate
            } else {
                d = scratch.get().d;
                d.ptr = d.ptr.wrapping_add((part - 1) * size);
                false
            };
            // SAFETY: `l` and `r` are sub-views of the checked operands (`start + len
            // <= inner`); `d` is either the checked, unique `dst` (part 0 only) or this
            // part's own block of the scratch, which holds `size` elements per part.
            unsafe { sequential_product(d, l, r, alpha, accumulate) };
        });
        if parts > 1 {
            partition::ranges(rows, num_threads(), 1, &|range| {
                let (d, partials) = (views.get().d, scratch.get().d.ptr);
                for part in 0..parts - 1 {
                    for i in range.clone() {
                        // SAFETY: row `i` of part `part` lies in the scratch, written
                        // in full by that part's product above.
                        let from = unsafe {
                            std::slice::from_raw_parts(
                                partials.add(part * size + i * cols).cast_const(),
                                cols,
                            )
                        };
                        let row = d.ptr.wrapping_offset(i as isize * d.row_stride);
                        if d.col_stride == 1 {
                            // SAFETY: row `i` of the checked `dst`, contiguous; the row
                            // blocks are disjoint and nothing else touches `dst` now.
                            let to = unsafe { std::slice::from_raw_parts_mut(row, cols) };
                            for (t, &f) in to.iter_mut().zip(from) {
                                *t += f;
                            }
                        } else {
                            for (j, &f) in from.iter().enumerate() {
                                // SAFETY: as above, element `(i, j)` of `dst`.
                                unsafe { *row.wrapping_offset(j as isize * d.col_stride) += f };
                            }
                        }
                    }
                }
            });
        }
        cell.set(words);
    });
}

thread_local! {
    /// The scratch of [`split_inner`]'s partial products, kept between calls (a fresh
    /// allocation of this size costs page faults on every product).
    static PARTIALS: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_outside_the_buffer_are_rejected() {
        let data = [0.0f64; 6];
        assert!(MatView::new(&data, 0, 2, 3, 3, 1).is_ok());
        assert!(MatView::new(&data, 1, 2, 3, 3, 1).is_err());
        assert!(MatView::new(&data, 5, 2, 3, -3, -1).is_ok());
        assert!(MatView::new(&data, 4, 2, 3, -3, -1).is_err());
        let mut out = [0.0f64; 6];
        assert!(
            MatViewMut::new(&mut out, 0, 2, 3, 1, 1).is_err(),
            "overlapping output"
        );
        assert!(MatViewMut::new(&mut out, 0, 2, 3, 1, 2).is_ok());
        assert!(
            MatViewMut::new(&mut out, 0, 2, 0, 0, 1).is_ok(),
            "empty views never alias"
        );
        assert!(MatViewMut::new(&mut out, 0, 2, 1, 0, 1).is_err());
        // Strides whose products fit but whose sum wraps: refused, never read past.
        assert!(MatView::new(&data, 0, 2, 2, isize::MAX, isize::MAX).is_err());
        assert!(MatView::new(&data, 5, 2, 2, isize::MIN / 2, isize::MIN / 2).is_err());
        assert!(MatView::new(&data, usize::MAX / 2, 2, 2, isize::MAX, 1).is_err());
    }

    #[test]
    fn gemm_strided_and_accumulating() {
        // A is 2x3 stored column-major; B is 3x2 row-major; C = A·B accumulated twice.
        let a_col_major = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0]; // [[1,2,3],[4,5,6]]
        let b = [7.0f64, 8.0, 9.0, 10.0, 11.0, 12.0];
        let a = MatView::new(&a_col_major, 0, 2, 3, 1, 2).unwrap();
        let bv = MatView::row_major(&b, 3, 2).unwrap();
        let mut c = [0.0f64; 4];
        gemm(
            MatViewMut::row_major(&mut c, 2, 2).unwrap(),
            a,
            bv,
            1.0,
            false,
        )
        .unwrap();
        gemm(
            MatViewMut::row_major(&mut c, 2, 2).unwrap(),
            a,
            bv,
            0.5,
            true,
        )
        .unwrap();
        assert_eq!(c, [58.0 * 1.5, 64.0 * 1.5, 139.0 * 1.5, 154.0 * 1.5]);
    }

    #[test]
    fn gemm_rejects_mismatch() {
        let a = [0.0f32; 6];
        let mut c = [0.0f32; 4];
        let av = MatView::row_major(&a, 3, 2).unwrap();
        let err = gemm(
            MatViewMut::row_major(&mut c, 2, 2).unwrap(),
            av,
            av,
            1.0,
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "matmul: shape mismatch between [3, 2] and [3, 2]"
        );
    }
}
